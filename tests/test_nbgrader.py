"""nbgrader on the course: metadata generated from solutions/, and the full round trip.

The round trip (``generate_assignment``, then ``autograde`` of a solved and a blank class) needs
nbgrader, which lives in its own environment: ``make nbgrader`` creates ``.venv-nbgrader`` and
runs this file with ``DCGAN_COURSE_NBGRADER`` naming that environment's ``bin`` folder. Without
it the round-trip tests are skipped and say so. The notebooks run in warm kernels of the course's
environment (``classroom.kernels``), since nbgrader's environment has no torch.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

from dcgan_course.classroom import authoring, check_cells, nbgrader_export
from dcgan_course.classroom.grading import GradingOptions, grading_environment
from dcgan_course.classroom.kernels import KERNEL_NAME, imported_modules, warm_kernels
from dcgan_course.classroom.runs import copy_runs, prebuilt_runs

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
NBGRADER_BIN = os.environ.get("DCGAN_COURSE_NBGRADER")
ASSIGNMENT = nbgrader_export.ASSIGNMENT
CELL_TIMEOUT_S = 300
SCORES = '''
import json, sys
from nbgrader.api import Gradebook
with Gradebook("sqlite:///gradebook.db") as gradebook:
    print(json.dumps({f"{notebook.student.id}/{notebook.name}": [notebook.score, notebook.max_score]
                      for submission in gradebook.assignment_submissions(sys.argv[1])
                      for notebook in submission.notebooks}))
'''


def test_solution_and_check_cells_get_nbgrader_metadata():
    solution = nbformat.read(ROOT / "tests" / "fixtures" / "solutions" / "01_arithmetic.ipynb", as_version=4)
    source = nbgrader_export.nbgrader_source(solution, "01_arithmetic.ipynb")
    marked = {cell.id: cell.metadata.get("nbgrader") for cell in source.cells}
    assert marked["add"] == {"schema_version": 3, "grade_id": "add", "task": False, "grade": False,
                             "solution": True, "locked": False}
    assert marked["check-add"] == {"schema_version": 3, "grade_id": "check-add", "task": False,
                                   "grade": True, "solution": False, "locked": True, "points": 1}
    untouched = [cell for cell in source.cells if not check_cells.is_check(cell)
                 and not authoring.has_solution(cell.source)]
    assert untouched and all(marked[cell.id] is None for cell in untouched)
    assert [cell.source for cell in source.cells][1:] == [cell.source for cell in solution.cells][1:]


def test_prediction_checks_are_zero_point_tests():
    solution = nbformat.read(SOLUTIONS / "03_adversarial_training.ipynb", as_version=4)
    source = nbgrader_export.nbgrader_source(solution, "03_adversarial_training.ipynb")
    points = {cell.id: cell.metadata["nbgrader"]["points"] for cell in source.cells
              if check_cells.is_check(cell)}
    assert points.pop("sol03-check-confident") == 0
    assert points and set(points.values()) == {1}


def test_the_config_gives_nbgrader_the_stub_make_exercises_writes(tmp_path):
    nbgrader_export.write_course(SOLUTIONS, tmp_path)
    config = (tmp_path / "nbgrader_config.py").read_text(encoding="utf-8")
    assert repr("\n".join(authoring.STUB_LINES)) in config
    assert sorted(path.name for path in (tmp_path / "source" / ASSIGNMENT).iterdir()) == sorted(
        path.name for path in authoring.solution_notebooks(SOLUTIONS))


def nbgrader(course: Path, environment: dict[str, str], *args: str) -> None:
    """Run an nbgrader command in the course folder; fail the test with its log if it fails."""
    result = subprocess.run([str(Path(NBGRADER_BIN) / "nbgrader"), *args], cwd=course, env=environment,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]


def solved_copy(released: nbformat.NotebookNode, solution: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A student who filled in every solution cell of the released notebook with the reference answer."""
    answers = {cell.id: cell.source for cell in solution.cells}
    for cell in released.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = answers[cell.id]
    return released


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory):
    """generate_assignment once, then autograde a solved and a blank student side by side."""
    if not NBGRADER_BIN:
        pytest.skip("nbgrader lives in its own environment: run `make nbgrader` for the round trip")
    solutions = tmp_path_factory.mktemp("solutions")  # a snapshot: the tests compare against what ran
    for path in authoring.solution_notebooks(SOLUTIONS):
        shutil.copy(path, solutions / path.name)
    course = tmp_path_factory.mktemp("nbgrader")
    nbgrader_export.write_course(solutions, course)
    environment = grading_environment(GradingOptions())
    environment["PATH"] = os.pathsep.join([NBGRADER_BIN, environment["PATH"]])
    nbgrader(course, environment, "generate_assignment", ASSIGNMENT)
    released = course / "release" / ASSIGNMENT
    students = {}
    for student in ("solved", "blank"):
        students[student] = folder = tmp_path_factory.mktemp(student)
        shutil.copytree(course, folder, dirs_exist_ok=True)
        submitted = folder / "submitted" / student / ASSIGNMENT
        submitted.mkdir(parents=True)
        for path in sorted(released.glob("*.ipynb")):
            notebook = nbformat.read(path, as_version=4)
            if student == "solved":
                notebook = solved_copy(notebook, nbformat.read(solutions / path.name, as_version=4))
            nbformat.write(notebook, submitted / path.name)
    code = [cell.source for path in authoring.solution_notebooks(solutions)
            for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"]
    warm = warm_kernels(environment, imported_modules(code))
    with warm as environment, prebuilt_runs(environment) as cache:
        runs = []  # the grader's speed-ups: warm kernels, and the pretrained GAN trained once
        for folder in students.values():
            copy_runs(cache, folder)
            student_environment = {**environment, "DCGAN_COURSE_RUNS": str(folder / "runs")}
            runs.append(subprocess.Popen([str(Path(NBGRADER_BIN) / "nbgrader"), "autograde", ASSIGNMENT,
                                          f"--ExecutePreprocessor.kernel_name={KERNEL_NAME}",
                                          f"--ExecutePreprocessor.timeout={CELL_TIMEOUT_S}"],
                                         cwd=folder, env=student_environment, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.PIPE, text=True))
        logs = [run.communicate()[1] for run in runs]
    assert all(run.returncode == 0 for run in runs), logs
    scores = {}
    for folder in students.values():
        printed = subprocess.run([str(Path(NBGRADER_BIN) / "python"), "-c", SCORES, ASSIGNMENT], cwd=folder,
                                 capture_output=True, text=True, check=True).stdout
        scores |= json.loads(printed)
    return {"released": released, "scores": scores, "solutions": solutions, "students": students}


def errors(folder: Path, student: str, name: str) -> list[str]:
    """The errors in one autograded notebook, to say why a check failed."""
    notebook = nbformat.read(folder / "autograded" / student / ASSIGNMENT / f"{name}.ipynb", as_version=4)
    return [f"{cell.id}: {output.ename}: {output.evalue[:300]}" for cell in notebook.cells
            if cell.cell_type == "code" for output in cell.outputs if output.output_type == "error"]


def test_nbgraders_student_version_is_what_make_exercises_writes(round_trip):
    for solution in authoring.solution_notebooks(round_trip["solutions"]):
        expected = authoring.make_exercise(nbformat.read(solution, as_version=4), solution.name)
        released = nbformat.read(round_trip["released"] / solution.name, as_version=4)
        assert [(cell.id, cell.cell_type, cell.source) for cell in released.cells] == [
            (cell.id, cell.cell_type, cell.source) for cell in expected.cells], solution.name


def test_autograde_gives_the_solutions_full_marks_and_the_blanks_zero(round_trip):
    scores = round_trip["scores"]
    names = [path.stem for path in authoring.solution_notebooks(round_trip["solutions"])]
    assert len(scores) == 2 * len(names)
    for name in names:
        solution = nbformat.read(round_trip["solutions"] / f"{name}.ipynb", as_version=4)
        checks = sum(check_cells.is_check(cell) and not check_cells.is_prediction(cell)  # 0-point predictions
                     for cell in solution.cells)
        why = errors(round_trip["students"]["solved"], "solved", name)
        assert scores[f"solved/{name}"] == [checks, checks], why
        assert scores[f"blank/{name}"] == [0, checks], name
