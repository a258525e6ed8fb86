"""The ``dcgan-course`` command line: one sub-command per course task.

Each sub-command is registered by an ``add_*_command(subparsers)`` function listed in
``COMMANDS``; it sets ``run=<function(args) -> int>``. User mistakes raise ``CommandError`` (or
``ValueError`` / ``FileNotFoundError``) and are printed as one line, never as a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path


class CommandError(Exception):
    """A mistake in the command line or its inputs, reported as one line."""


USER_ERRORS: tuple[type[BaseException], ...] = (CommandError, ValueError, FileNotFoundError, OSError)

COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = []


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every registered sub-command."""
    parser = argparse.ArgumentParser(prog="dcgan-course", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_command in COMMANDS:
        add_command(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the sub-command, and turn user errors into a one-line message."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except USER_ERRORS as error:
        print(f"dcgan-course {args.command}: error: {error}", file=sys.stderr)
        return 2


def run_make_exercises(args: argparse.Namespace) -> int:
    """Write exercises/ from solutions/, or with --check exit 1 when it is out of date."""
    from dcgan_course import authoring

    statuses = authoring.make_exercises(args.solutions, args.exercises, check=args.check)
    changes = [status for status in statuses if status.state != "current"]
    for status in changes:
        print(f"{status.state}: {status.path}")
    if args.check and changes:
        print(f"{args.exercises} is out of date: run `dcgan-course make-exercises` and commit the result",
              file=sys.stderr)
        return 1
    print(f"{args.exercises}: {len(statuses) - len(changes)} current, {len(changes)} changed")
    return 0


def add_make_exercises_command(subparsers: argparse._SubParsersAction) -> None:
    """``make-exercises``: build the learner's notebooks from the solution notebooks."""
    parser = subparsers.add_parser("make-exercises", help="generate exercises/ from solutions/")
    parser.add_argument("--solutions", type=Path, default=Path("solutions"), help="default: solutions/")
    parser.add_argument("--exercises", type=Path, default=Path("exercises"), help="default: exercises/")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if exercises/ is stale")
    parser.set_defaults(run=run_make_exercises)


def run_grade(args: argparse.Namespace) -> int:
    """Grade every submission and write the reports; 0 even when students fail, 1 if a run broke."""
    from dcgan_course import grading

    options = grading.GradingOptions(cell_timeout=args.timeout, fast=not args.full)
    try:
        grades = grading.grade(args.submissions, args.reference, options, jobs=args.jobs,
                               on_graded=lambda row: print(f"{row.student or '-':<20} {row.notebook:<34} "
                                                           f"{row.checks_passed}/{row.checks_total}  "
                                                           f"{row.status}", flush=True))
    except grading.GradingError as error:
        raise CommandError(str(error)) from None
    summary = grading.write_reports(grades, args.out, grading.describe_run(args.reference, options))
    print(f"wrote {args.out} and {summary}")
    broken = [row for row in grades if row.status == grading.RUN_ERROR]
    if broken:
        print(f"grading could not run {len(broken)} notebook(s) (status {grading.RUN_ERROR}): "
              f"{broken[0].detail}", file=sys.stderr)
    return 1 if broken else 0


def add_grade_command(subparsers: argparse._SubParsersAction) -> None:
    """``grade``: run each student's exercise notebooks under nbval with the reference checks."""
    parser = subparsers.add_parser("grade", help="grade a class's exercise notebooks (nbval)")
    parser.add_argument("submissions", type=Path,
                        help="one folder per student (holding exercises/NN_name.ipynb) "
                             "or files named STUDENT__NN_name.ipynb")
    parser.add_argument("--reference", type=Path, default=Path("solutions"), help="default: solutions/")
    parser.add_argument("--out", type=Path, default=Path("grades.csv"),
                        help="CSV path; the Markdown summary goes next to it (default: grades.csv)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per cell (default: 120)")
    parser.add_argument("--jobs", type=int, default=1, help="notebooks graded at once (default: 1)")
    parser.add_argument("--full", action="store_true", help="run without DCGAN_COURSE_FAST=1 (slow)")
    parser.set_defaults(run=run_grade)


def run_set_repo(args: argparse.Namespace) -> int:
    """Point colab.REPOSITORY and every notebook's badge and install guard at OWNER/NAME."""
    from dcgan_course import colab

    for path in colab.set_repo(args.repository, args.root):
        print(f"rewrote {path}")
    print(f"Colab badges and install guards now point at github.com/{args.repository}")
    return 0


def add_set_repo_command(subparsers: argparse._SubParsersAction) -> None:
    """``set-repo``: make a fork of the course open in Colab from its own repository."""
    parser = subparsers.add_parser("set-repo", help="rewrite every Colab badge and install guard")
    parser.add_argument("repository", help="the GitHub repository as OWNER/NAME")
    parser.add_argument("--root", type=Path, default=Path("."),
                        help="the course checkout holding notebooks/, solutions/, exercises/")
    parser.set_defaults(run=run_set_repo)


COMMANDS.extend([add_make_exercises_command, add_grade_command, add_set_repo_command])


if __name__ == "__main__":
    sys.exit(main())
