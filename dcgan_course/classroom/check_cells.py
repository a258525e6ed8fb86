"""Check cells: the ``check``-tagged cells that grade an exercise, and how they are put back.

A learner can edit or delete a check cell; the grader restores every check from a reference
copy (by cell id, else by order, else by inserting it where it was) before the notebook runs,
so only the reference's checks count.

A check cell also tagged ``prediction`` records a committed prediction, not correctness: the
grader reads the committed value and the learner's reason from the line it prints
(``checks.commit_prediction``) and never counts it towards the score.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Sequence

import nbformat

CHECK_TAG = "check"
PREDICTION_TAG = "prediction"
COMMITMENT = re.compile(r'^🔶 prediction committed: (?P<name>\w+) = (?P<value>"(?:[^"\\]|\\.)*"); '
                        r'your reason: (?P<reason>"(?:[^"\\]|\\.)*")$', re.MULTILINE)
PREDICTION_NAME = re.compile(r"\bprediction_\w+")


def is_check(cell: nbformat.NotebookNode) -> bool:
    """True for a code cell tagged ``check``."""
    tags = cell.get("metadata", {}).get("tags", [])
    return cell.get("cell_type") == "code" and isinstance(tags, list) and CHECK_TAG in tags


def is_prediction(cell: nbformat.NotebookNode) -> bool:
    """True for a check cell that records a prediction (tagged ``check`` and ``prediction``)."""
    return is_check(cell) and PREDICTION_TAG in cell.metadata.get("tags", [])


def read_commitment(output: str) -> tuple[str, str, str] | None:
    """(variable, committed value, reason) from a prediction check's printed line; None without one."""
    match = COMMITMENT.search(output)
    if match is None:
        return None
    return match["name"], str(json.loads(match["value"])), json.loads(match["reason"])


def prediction_name(label: str) -> str:
    """The prediction variable a check cell's label names (``prediction_...``), else the label itself."""
    match = PREDICTION_NAME.search(label)
    return match.group(0) if match else label


def check_label(cell: nbformat.NotebookNode) -> str:
    """A readable name for a check: the first line of its source."""
    first_line = next((line for line in cell.source.splitlines() if line.strip()), "(empty check)")
    return first_line.strip()[:80]


def clean_copy(cell: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of a cell without outputs or execution count, ready to run."""
    cell = copy.deepcopy(cell)
    if cell.cell_type == "code":
        cell.outputs, cell.execution_count = [], None
    return cell


def restore_checks(submission: nbformat.NotebookNode,
                   reference: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The submission with every reference check cell put back: by id, else by order, else inserted.

    A check the student edited is overwritten; one they deleted is inserted after the cell that
    precedes it in the reference (or after the previous check, or at the end). Only restored cells
    keep the ``check`` tag, so a student cannot add checks of their own.
    """
    graded = copy.deepcopy(submission)
    graded.cells = [clean_copy(cell) for cell in graded.cells]
    checks = [cell for cell in reference.cells if is_check(cell)]
    reference_ids = {cell.get("id") for cell in checks}
    unmatched = [cell for cell in graded.cells if is_check(cell) and cell.get("id") not in reference_ids]
    restored_cells: list[nbformat.NotebookNode] = []
    for check in checks:
        restored = clean_copy(check)
        target = next((cell for cell in graded.cells if cell.get("id") == check.get("id")), None)
        if target is None and unmatched:
            target = unmatched.pop(0)
        if target is not None:
            graded.cells[index_of(graded.cells, target)] = restored
        else:
            previous = restored_cells[-1] if restored_cells else None
            graded.cells.insert(insertion_index(graded.cells, reference.cells, check, previous), restored)
        restored_cells.append(restored)
    for cell in graded.cells:
        if is_check(cell) and not any(cell is kept for kept in restored_cells):
            cell.metadata["tags"] = [tag for tag in cell.metadata["tags"] if tag != CHECK_TAG]
    return graded


def index_of(cells: Sequence[nbformat.NotebookNode], cell: nbformat.NotebookNode) -> int:
    """The position of this very cell object in a list (cells compare equal by content)."""
    return next(index for index, candidate in enumerate(cells) if candidate is cell)


def insertion_index(cells: Sequence[nbformat.NotebookNode], reference_cells: Sequence[nbformat.NotebookNode],
                    check: nbformat.NotebookNode, previous_check: nbformat.NotebookNode | None) -> int:
    """Where a deleted check goes back: after its reference predecessor, or the previous check."""
    position = index_of(reference_cells, check)
    anchor_id = reference_cells[position - 1].get("id") if position > 0 else None
    anchor = next((cell for cell in cells if anchor_id and cell.get("id") == anchor_id), previous_check)
    return index_of(cells, anchor) + 1 if anchor is not None else len(cells)


def check_positions(notebook: nbformat.NotebookNode) -> dict[int, str]:
    """The check cells by their nbval number (the index among code cells), with their labels."""
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    return {number: check_label(cell) for number, cell in enumerate(code_cells) if is_check(cell)}


def prediction_positions(notebook: nbformat.NotebookNode) -> set[int]:
    """The nbval numbers of the check cells that record predictions."""
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    return {number for number, cell in enumerate(code_cells) if is_prediction(cell)}
