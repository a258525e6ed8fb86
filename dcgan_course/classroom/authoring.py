"""Exercises from solutions: every marked solution region becomes a stub for the learner.

``solutions/NN_name.ipynb`` is the single source. Inside its code cells the learner's part sits
between ``### BEGIN SOLUTION`` and ``### END SOLUTION``; the exercise replaces each region by
``# YOUR CODE HERE`` and ``raise NotImplementedError`` at the region's indentation, keeps every
cell (ids, tags, check cells), strips outputs, and points the Colab badge at ``exercises/``.
The result is deterministic, so ``--check`` can tell whether ``exercises/`` is up to date.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from . import colab

BEGIN_MARK = "### BEGIN SOLUTION"
END_MARK = "### END SOLUTION"
STUB_LINES = ("# YOUR CODE HERE", "raise NotImplementedError")
EXERCISE_MARK = "(exercise)"
SOLUTION_MARK = "(solution)"
EXERCISES_FOLDER = "exercises"
NOTEBOOK_NAME = re.compile(r"\d\d_\w+\.ipynb")
OUTPUT_METADATA = ("execution", "collapsed", "scrolled")


class MarkupError(ValueError):
    """Solution markers that cannot be turned into an exercise (unbalanced, malformed, misplaced)."""


@dataclass(frozen=True)
class ExerciseStatus:
    """What ``make_exercises`` found for one exercise file."""

    path: Path
    state: str  # "current", "written", "stale", "missing", "orphan" or "removed"


def strip_solutions(source: str) -> str:
    """Replace each solution region of a code cell by the two stub lines at its indentation."""
    kept: list[str] = []
    opened_on, indent = 0, ""
    for number, line in enumerate(source.splitlines(keepends=True), start=1):
        marker = line.strip()
        if marker not in (BEGIN_MARK, END_MARK) and ("BEGIN SOLUTION" in line or "END SOLUTION" in line):
            raise MarkupError(f"line {number}: a marker must stand alone on its line, exactly "
                              f"{BEGIN_MARK!r} or {END_MARK!r}; found {line.strip()!r}")
        if marker == BEGIN_MARK:
            if opened_on:
                raise MarkupError(f"line {number}: {BEGIN_MARK!r} inside the region opened on line "
                                  f"{opened_on}; close that one with {END_MARK!r} first")
            opened_on, indent = number, line[: len(line) - len(line.lstrip())]
        elif marker == END_MARK:
            if not opened_on:
                raise MarkupError(f"line {number}: {END_MARK!r} without a {BEGIN_MARK!r} before it")
            kept.extend(f"{indent}{stub}\n" for stub in STUB_LINES)
            opened_on = 0
        elif not opened_on:
            kept.append(line)
    if opened_on:
        raise MarkupError(f"line {opened_on}: {BEGIN_MARK!r} is never closed with {END_MARK!r}")
    stripped = "".join(kept)
    return stripped if source.endswith("\n") else stripped.removesuffix("\n")


def has_solution(source: str) -> bool:
    """True when a cell's source holds a solution marker."""
    return "BEGIN SOLUTION" in source or "END SOLUTION" in source


def mark_title(source: str) -> str:
    """Mark the notebook's ``# Title`` line as the exercise version."""
    title, newline, rest = source.partition("\n")
    if not title.startswith("# ") or EXERCISE_MARK in title:
        return source
    if SOLUTION_MARK in title:
        title = title.replace(SOLUTION_MARK, EXERCISE_MARK)
    else:
        title = f"{title.rstrip()} {EXERCISE_MARK}"
    return title + newline + rest


def exercise_cell(cell: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The exercise version of one cell: solutions stubbed, outputs and run metadata stripped."""
    cell = copy.deepcopy(cell)
    if cell.cell_type == "code":
        cell.source = strip_solutions(cell.source)
        cell.outputs = []
        cell.execution_count = None
    elif has_solution(cell.source):
        raise MarkupError(f"solution markers are only allowed in code cells, not in a {cell.cell_type} cell")
    for key in OUTPUT_METADATA:
        cell.metadata.pop(key, None)
    return cell


def make_exercise(solution: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """The exercise notebook ``exercises/<name>`` built from its solution notebook."""
    exercise = copy.deepcopy(solution)
    exercise.metadata.pop("widgets", None)
    cells = []
    for number, cell in enumerate(solution.cells, start=1):
        if "id" not in cell:
            raise MarkupError(f"{name}, cell {number}: has no cell id; save the solution as nbformat 4.5 "
                              "(JupyterLab does) so that exercises keep stable ids")
        try:
            cells.append(exercise_cell(cell))
        except MarkupError as error:
            raise MarkupError(f"{name}, cell {number} (id {cell.id}): {error}") from None
    if not any(has_solution(cell.source) for cell in solution.cells):
        raise MarkupError(f"{name}: no {BEGIN_MARK!r} region, so the exercise would show the solution")
    if cells and cells[0].cell_type == "markdown":
        badge = colab.badge_markdown(f"{EXERCISES_FOLDER}/{name}")
        cells[0].source = mark_title(colab.ANY_BADGE.sub(lambda _: badge, cells[0].source))
    exercise.cells = cells
    return exercise


def notebook_text(notebook: nbformat.NotebookNode) -> str:
    """A notebook as the exact text written to disk (sorted keys, one-space indent, final newline)."""
    return nbformat.writes(notebook, version=4) + "\n"


def exercise_text(solution_path: Path) -> str:
    """The exercise file's full text for one solution notebook, naming the file in any error."""
    try:
        solution = nbformat.read(solution_path, as_version=4)
    except Exception as error:
        raise MarkupError(f"{solution_path}: cannot be read as a notebook ({error})") from None
    try:
        return notebook_text(make_exercise(solution, solution_path.name))
    except MarkupError as error:
        raise MarkupError(f"{solution_path.parent.name}/{error}") from None


def solution_notebooks(solutions: Path) -> list[Path]:
    """The ``NN_name.ipynb`` notebooks of a solutions folder, in course order."""
    if not solutions.is_dir():
        raise FileNotFoundError(f"no solutions folder at {solutions}")
    return sorted(path for path in solutions.glob("*.ipynb") if NOTEBOOK_NAME.fullmatch(path.name))


def make_exercises(solutions: Path, exercises: Path, check: bool = False) -> list[ExerciseStatus]:
    """Generate ``exercises/`` from ``solutions/`` (or, with ``check``, only say what is out of date).

    Every solution is transformed before anything is written, so a markup error leaves
    ``exercises/`` untouched. Exercise files without a solution are removed (they are generated).
    """
    texts = {exercises / path.name: exercise_text(path) for path in solution_notebooks(solutions)}
    statuses = []
    for path, text in texts.items():
        if path.exists() and path.read_text(encoding="utf-8") == text:
            statuses.append(ExerciseStatus(path, "current"))
        elif check:
            statuses.append(ExerciseStatus(path, "stale" if path.exists() else "missing"))
        else:
            exercises.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8", newline="\n")
            statuses.append(ExerciseStatus(path, "written"))
    orphans = sorted(path for path in exercises.glob("*.ipynb")
                     if NOTEBOOK_NAME.fullmatch(path.name) and path not in texts)
    for path in orphans:
        if not check:
            path.unlink()
        statuses.append(ExerciseStatus(path, "orphan" if check else "removed"))
    return statuses
