"""Grading throughput: the old grader (cold kernels, every notebook trains its own pretrained GAN)
against the new one (kernels forked from a warm template, the pretrained GAN trained once).

Grades the shipped material as two students (the solutions, which score full marks, and the
blank exercises, which score zero) twice in the same run, back to back: old, then new. Prints
the wall time of each notebook, the median per notebook, the whole run and the ratios, and
checks that both runs give the same grades.

    python benchmarks/grading.py [--jobs 2] [--notebooks 01 02 ...]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from dcgan_course.classroom import grading

ROOT = Path(__file__).resolve().parent.parent


def build_class(folder: Path, prefixes: list[str]) -> None:
    """Two students: ``solved`` hands in the solutions, ``blank`` the unsolved exercises."""
    for student, source in (("solved", "solutions"), ("blank", "exercises")):
        (folder / student).mkdir(parents=True)
        for path in sorted((ROOT / source).glob("[0-9][0-9]_*.ipynb")):
            if not prefixes or path.name[:2] in prefixes:
                shutil.copy(path, folder / student / path.name)


def timed_grade(submissions: Path, warm: bool, jobs: int) -> tuple[float, dict[tuple[str, str], float], list]:
    """Grade once (old or new way); returns the run's seconds, each notebook's seconds, the grades."""
    seconds: dict[tuple[str, str], float] = {}
    grade_notebook = grading.grade_notebook

    def timed(submission: grading.Submission, *args: object) -> grading.NotebookGrade:
        started = time.perf_counter()
        result = grade_notebook(submission, *args)
        if submission.path is not None:
            seconds[submission.student, submission.notebook] = time.perf_counter() - started
        return result

    grading.grade_notebook = timed
    try:
        started = time.perf_counter()
        options = grading.GradingOptions(warm_kernels=warm, prebuilt_runs=warm)
        grades = grading.grade(submissions, ROOT / "solutions", options, jobs=jobs)
        return time.perf_counter() - started, seconds, grades
    finally:
        grading.grade_notebook = grade_notebook


def main() -> None:
    """Run cold then warm on the same class and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--notebooks", nargs="*", default=[], help="two-digit prefixes (default: all)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dcgan-grading-bench-") as folder:
        build_class(Path(folder), args.notebooks)
        cold_total, cold, cold_grades = timed_grade(Path(folder), warm=False, jobs=args.jobs)
        warm_total, warm, warm_grades = timed_grade(Path(folder), warm=True, jobs=args.jobs)
    scores = [[(row.student, row.notebook, row.checks_passed, row.status) for row in grades]
              for grades in (cold_grades, warm_grades)]
    print("| notebook | student | cold s | warm s |\n|---|---|---:|---:|")
    for student, notebook in sorted(cold, key=lambda key: (key[1], key[0])):
        print(f"| {notebook} | {student} | {cold[student, notebook]:.1f} | {warm[student, notebook]:.1f} |")
    cold_median, warm_median = statistics.median(cold.values()), statistics.median(warm.values())
    print(f"\nmedian per notebook: cold {cold_median:.1f} s, warm {warm_median:.1f} s "
          f"(warm/cold {warm_median / cold_median:.2f})")
    print(f"whole run ({len(cold)} notebooks, --jobs {args.jobs}): cold {cold_total:.0f} s, warm "
          f"{warm_total:.0f} s (warm/cold {warm_total / cold_total:.2f})")
    print("same grades in both runs" if scores[0] == scores[1] else f"GRADES DIFFER: {scores}")


if __name__ == "__main__":
    main()
