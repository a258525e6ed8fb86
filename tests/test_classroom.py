"""The GitHub Classroom workflow template: its grading step, run here as the runner would run it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / "docs" / "classroom" / "grade.yml"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
NAME = "01_arithmetic.ipynb"


def steps() -> dict[str, dict]:
    """The workflow's steps by name."""
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    return {step.get("name", step.get("uses", "")): step for step in workflow["jobs"]["grade"]["steps"]}


def cell(notebook: nbformat.NotebookNode, cell_id: str) -> nbformat.NotebookNode:
    """The cell with this id."""
    return next(candidate for candidate in notebook.cells if candidate.get("id") == cell_id)


def test_checks_and_package_come_from_the_pinned_reference_copy_never_from_solutions():
    workflow = steps()
    reference = workflow["Check out the reference copy (read-only to students)"]["with"]
    assert reference["path"] == "reference" and reference["ref"] == "${{ env.REFERENCE_REF }}"
    pinned = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))["env"]["REFERENCE_REF"]
    assert re.fullmatch(r"[0-9a-f]{40}", pinned), "pin the reference to a commit, not a branch"
    assert '"./reference[test]"' in workflow["Install the course package from the reference copy"]["run"]
    assert "--reference reference/exercises" in workflow["Grade"]["run"]
    assert "solutions" not in workflow["Grade"]["run"]


@pytest.mark.notebooks
def test_the_grading_step_scores_a_student_who_edited_a_check(tmp_path):
    reference = tmp_path / "reference" / "exercises"
    reference.mkdir(parents=True)
    (reference / NAME).write_bytes((FIXTURES / "exercises" / NAME).read_bytes())
    student = nbformat.read(FIXTURES / "exercises" / NAME, as_version=4)
    solution = nbformat.read(FIXTURES / "solutions" / NAME, as_version=4)
    cell(student, "add").source = cell(solution, "add").source
    cell(student, "check-hypotenuse").source = 'print("✅ hypotenuse works")'  # unsolved, check faked
    (tmp_path / "submission" / "exercises").mkdir(parents=True)
    nbformat.write(student, tmp_path / "submission" / "exercises" / NAME)
    summary = tmp_path / "summary.md"
    environment = {**os.environ, "GITHUB_ACTOR": "ada", "GITHUB_STEP_SUMMARY": str(summary),
                   "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])}
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", steps()["Grade"]["run"]], cwd=tmp_path,
                            env=environment, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Points 1 / 2" in result.stdout
    assert "| ada | 1/2 | 1/2 (50.0 %) |" in summary.read_text(encoding="utf-8")
    assert not list(tmp_path.rglob("solutions"))
