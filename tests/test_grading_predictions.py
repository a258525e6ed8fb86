"""Predictions are reported apart from correctness: committed or not, with the reason, never in the score."""

from __future__ import annotations

import csv
from pathlib import Path

import nbformat
import pytest

from dcgan_course import checks, cli
from dcgan_course.classroom import check_cells, grading, nbgrader_export, reports

NAME = "01_guess.ipynb"
PREDICT = 'checks.check_prediction("prediction_sum", prediction_sum, ("3", "4"), "4", "2 + 2.", reason_sum)'


def guess_notebook(value: str | None, reason: str = "") -> nbformat.NotebookNode:
    """A one-prediction, one-check notebook; ``value`` is what the learner committed."""
    committed = f"prediction_sum = {value!r}\nreason_sum = {reason!r}"
    cells = [
        nbformat.v4.new_code_cell("from dcgan_course import checks", id="setup"),
        nbformat.v4.new_code_cell("prediction_sum = None\nreason_sum = ''\n### BEGIN SOLUTION\n"
                                  f"{committed}\n### END SOLUTION", id="predict"),
        nbformat.v4.new_code_cell(PREDICT, id="check-predict", metadata={"tags": ["check", "prediction"]}),
        nbformat.v4.new_code_cell("def add(a, b):\n    return a + b", id="add"),
        nbformat.v4.new_code_cell('assert add(2, 2) == 4\nprint("✅ add works")', id="check-add",
                                  metadata={"tags": ["check"]}),
    ]
    return nbformat.v4.new_notebook(cells=cells)


def save(notebook: nbformat.NotebookNode, path: Path) -> None:
    """Write a notebook, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)


def result(stdout: str, passed: bool = True) -> grading.CheckResult:
    """A prediction check's result from what nbval recorded."""
    record = {"cell": 2, "passed": passed, "error": "" if passed else "AssertionError: still None",
              "timed_out": False, "stdout": stdout}
    return grading.check_result(PREDICT, record, prediction=True)


def test_the_grader_reads_the_line_a_prediction_check_prints(capsys):
    checks.check_prediction("prediction_sum", "3", ("3", "4"), "4", "Because.", 'carry "the one"')
    committed = result(capsys.readouterr().out)
    assert (committed.passed, committed.committed, committed.reason) == (True, "3", 'carry "the one"')
    assert check_cells.read_commitment("✅ prediction committed: prediction_sum = 3") is None
    assert result("printed nothing").error == "printed no committed prediction"
    assert not result("", passed=False).passed


def test_a_prediction_never_counts_towards_the_score_and_has_its_own_column(capsys):
    checks.check_prediction("prediction_sum", "3", ("3", "4"), "4", "Because.", "carry")
    wrong = result(capsys.readouterr().out)
    correct = grading.CheckResult("assert add(2, 2) == 4", True)
    blank = result("", passed=False)
    for prediction in (wrong, blank):
        row = grading.NotebookGrade("ada", NAME, grading.GRADED, 1, (prediction, correct))
        assert (row.checks_passed, row.checks_total, row.score, row.first_error) == (1, 1, 100.0, "")
    row = grading.NotebookGrade("ada", NAME, grading.GRADED, 1, (wrong, correct))
    table = list(csv.DictReader(reports.grades_csv([row]).splitlines()))
    assert table[0]["predictions"] == 'prediction_sum = "3" (reason: "carry")'
    summary = reports.markdown_summary([row, grading.NotebookGrade("bo", NAME, grading.GRADED, 1,
                                                                   (blank, correct))])
    assert "| ada | 01_guess.ipynb | `prediction_sum` | 3 | carry |" in summary
    assert "| bo | 01_guess.ipynb | `prediction_sum` | not committed |  |" in summary
    assert "check_prediction" not in summary.split("## Per check")[1].split("##")[0]


def test_nbgrader_gives_a_prediction_zero_points():
    marked = {cell.id: nbgrader_export.nbgrader_metadata(cell) for cell in guess_notebook("4").cells}
    assert (marked["check-predict"]["points"], marked["check-add"]["points"]) == (0, 1)


@pytest.mark.notebooks
def test_a_graded_class_reports_predictions_apart_from_the_score(tmp_path):
    reference = tmp_path / "reference"
    save(guess_notebook("4", "two and two"), reference / NAME)
    save(guess_notebook("3", "off by one"), tmp_path / "class" / "wrong" / NAME)
    save(guess_notebook(None), tmp_path / "class" / "blank" / NAME)
    assert cli.main(["grade", str(tmp_path / "class"), "--reference", str(reference), "--out",
                     str(tmp_path / "grades.csv"), "--timeout", "60", "--jobs", "2"]) == 0
    with open(tmp_path / "grades.csv", encoding="utf-8", newline="") as table:
        rows = {row["student"]: row for row in csv.DictReader(table)}
    assert [rows["wrong"][key] for key in ("checks_passed", "checks_total", "score")] == ["1", "1", "100.0"]
    assert rows["wrong"]["predictions"] == 'prediction_sum = "3" (reason: "off by one")'
    assert [rows["blank"][key] for key in ("checks_passed", "checks_total", "first_error")] == ["1", "1", ""]
    assert rows["blank"]["predictions"] == "prediction_sum: not committed"
