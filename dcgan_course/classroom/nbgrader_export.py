"""nbgrader's source notebooks, generated from ``solutions/`` rather than kept by hand.

The solution markup is already nbgrader's (``### BEGIN SOLUTION`` ... ``### END SOLUTION``); what
nbgrader also needs is cell metadata: every cell with a solution region is a *solution cell*,
every ``check``-tagged cell a locked *autograder test*, worth one point when it checks correctness
and zero when it records a prediction (tagged ``prediction`` too): a prediction is never graded, so
it can neither earn nor cost points (``docs/for_instructors.md``, "How predictions count"). Writing
the metadata here, from the single source, keeps it right while the exercises change.

``nbgrader_config.py`` sets nbgrader's stub to the two lines ``make-exercises`` writes, so
nbgrader's student version is the same as ``exercises/`` cell for cell.

    python -m dcgan_course.classroom.nbgrader_export COURSE_DIR [--solutions solutions] [--assignment dcgan]

writes ``COURSE_DIR/source/ASSIGNMENT/NN_name.ipynb`` and ``COURSE_DIR/nbgrader_config.py``.
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import nbformat

from .authoring import STUB_LINES, has_solution, make_exercise, notebook_text, solution_notebooks
from .check_cells import is_check, is_prediction

SCHEMA_VERSION = 3
POINTS_PER_CHECK = 1
POINTS_PER_PREDICTION = 0  # shown in nbgrader's feedback, never in the score
ASSIGNMENT = "dcgan"
CONFIG = f'''"""nbgrader settings for the dcgan-course assignment (classroom.nbgrader_export)."""
c = get_config()  # noqa: F821 (nbgrader provides it)
c.CourseDirectory.root = "."
c.ClearSolutions.code_stub = {{"python": {chr(10).join(STUB_LINES)!r}}}
'''


def nbgrader_metadata(cell: nbformat.NotebookNode) -> dict | None:
    """nbgrader's metadata for one cell: a solution cell, a locked test (a prediction's worth 0), or none."""
    base = {"schema_version": SCHEMA_VERSION, "grade_id": cell.get("id"), "task": False}
    if is_check(cell):
        points = POINTS_PER_PREDICTION if is_prediction(cell) else POINTS_PER_CHECK
        return {**base, "grade": True, "solution": False, "locked": True, "points": points}
    if cell.cell_type == "code" and has_solution(cell.source):
        return {**base, "grade": False, "solution": True, "locked": False}
    return None


def nbgrader_source(solution: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """One solution as nbgrader's source: the exercise's title and badge, solutions kept, metadata added."""
    source = copy.deepcopy(solution)
    source.metadata.pop("widgets", None)
    title = make_exercise(solution, name).cells[0]
    for cell in source.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        metadata = nbgrader_metadata(cell)
        if metadata is not None:
            cell.metadata["nbgrader"] = metadata
    if source.cells and title.cell_type == "markdown":
        source.cells[0].source = title.source
    return source


def write_course(solutions: Path, course: Path, assignment: str = ASSIGNMENT) -> list[Path]:
    """Write every solution's nbgrader source and the config into an nbgrader course folder."""
    folder = course / "source" / assignment
    folder.mkdir(parents=True, exist_ok=True)
    (course / "nbgrader_config.py").write_text(CONFIG, encoding="utf-8")
    written = []
    for path in solution_notebooks(solutions):
        target = folder / path.name
        target.write_text(notebook_text(nbgrader_source(nbformat.read(path, as_version=4), path.name)),
                          encoding="utf-8")
        written.append(target)
    return written


def main() -> None:
    """Command line: write the nbgrader course folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("course", type=Path, help="the nbgrader course folder to write into")
    parser.add_argument("--solutions", type=Path, default=Path("solutions"))
    parser.add_argument("--assignment", default=ASSIGNMENT)
    args = parser.parse_args()
    for path in write_course(args.solutions, args.course, args.assignment):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
