"""The student edition: the course without its solutions, ready to hand out as a folder or a zip.

It holds the lectures (``notebooks/``), the exercises (``exercises/``, generated afresh from
``solutions/`` so they cannot be stale), the ``dcgan_course`` package and what installs it. It
leaves out ``solutions/``, the tests (they plant and name bugs next to the right code) and the
classroom machinery (``dcgan_course/classroom/``: grading, authoring, this module). No notebook
in it holds a solution region.

The package itself still contains reference implementations: the lectures' networks and training
loop (``models``, ``train``, ...) and the checks, which compute the right answer to compare with
the learner's. A determined learner can read them; see ``docs/for_instructors.md`` for what an
instructor can do about that.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .authoring import BEGIN_MARK, make_exercises

INCLUDED = ("notebooks", "dcgan_course", "docs", "pyproject.toml", "README.md", "Makefile", "environment.yml",
            "LICENSE")  # docs/: the README's pictures and the pages a stuck learner is sent to
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "runs", "*.egg-info")
CLASSROOM = Path(__file__).resolve().parent.name
NOTICE = """# Student edition

This is the dcgan-course without its solutions. Start with `make lab` (or open a notebook's
Colab badge). Work through each lecture in `notebooks/`, then its exercise in `exercises/`:
fill in every `# YOUR CODE HERE` and run the check cell below it until it prints a ✅ line.
"""


class ReleaseError(ValueError):
    """The release cannot be written (missing course files, or an output folder in the way)."""


def without_classroom(folder: str, names: list[str]) -> set[str]:
    """``copytree``'s ignore: build clutter everywhere, and the package's ``classroom/`` folder."""
    ignored = set(IGNORED(folder, names))
    return ignored | ({CLASSROOM} if Path(folder).name == "dcgan_course" else set())


def write_release(root: Path, out: Path) -> list[Path]:
    """Write the student edition of the course checkout at ``root`` into the new folder ``out``."""
    if not (root / "solutions").is_dir() or not (root / "notebooks").is_dir():
        raise ReleaseError(f"{root} is not a course checkout (no solutions/ and notebooks/ folders)")
    if out.exists() and any(out.iterdir()):
        raise ReleaseError(f"{out} exists and is not empty; choose a new folder")
    if out.resolve().is_relative_to(root.resolve()):
        raise ReleaseError(f"{out} is inside the course checkout; write the release outside it")
    out.mkdir(parents=True, exist_ok=True)
    for name in INCLUDED:
        source = root / name
        if source.is_dir():
            shutil.copytree(source, out / name, ignore=without_classroom)
        elif source.is_file():
            shutil.copy2(source, out / name)
    make_exercises(root / "solutions", out / "exercises")
    (out / "STUDENT_EDITION.md").write_text(NOTICE, encoding="utf-8")
    leaks = [path for path in out.rglob("*.ipynb") if BEGIN_MARK in path.read_text(encoding="utf-8")]
    if leaks:
        raise ReleaseError(f"a solution region is left in {leaks[0]}: the release would reveal it")
    return sorted(path for path in out.rglob("*") if path.is_file())
