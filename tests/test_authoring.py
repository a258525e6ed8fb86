"""Exercises are generated from solutions: the transformation, its errors, and the shipped notebooks."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from dcgan_course import cli
from dcgan_course.classroom import authoring, colab, grading

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
FIXTURE_NAME = "01_arithmetic.ipynb"
SHIPPED = [path.name for path in sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))]


def solution_with(*sources: str) -> nbformat.NotebookNode:
    """A small solution notebook: a title cell with a badge, then one code cell per source."""
    title = nbformat.v4.new_markdown_cell(f"# 07 · Demo\n\n{colab.badge_markdown('solutions/07_demo.ipynb')}",
                                          id="title")
    cells = [nbformat.v4.new_code_cell(source, id=f"code-{number}") for number, source in enumerate(sources)]
    return nbformat.v4.new_notebook(cells=[title, *cells])


def write_solutions(folder: Path, **notebooks: nbformat.NotebookNode) -> Path:
    """Write notebooks named ``NN_name.ipynb`` (keyword ``_NN_name``) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, notebook in notebooks.items():
        nbformat.write(notebook, folder / f"{name.lstrip('_')}.ipynb")
    return folder


def test_solution_region_becomes_stub_at_its_indentation():
    source = ("def slerp(z0, z1, t):\n    \"\"\"Spherical interpolation.\"\"\"\n"
              "    ### BEGIN SOLUTION\n    omega = 1.0\n    return omega\n    ### END SOLUTION\n")
    assert authoring.strip_solutions(source) == (
        "def slerp(z0, z1, t):\n    \"\"\"Spherical interpolation.\"\"\"\n"
        "    # YOUR CODE HERE\n    raise NotImplementedError\n")


def test_several_regions_at_different_depths_keep_the_code_around_them():
    source = ("import torch\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION\nclass A:\n    def f(self):\n"
              "        if True:\n            ### BEGIN SOLUTION\n            return 2\n"
              "            ### END SOLUTION\n        return 3")
    assert authoring.strip_solutions(source) == (
        "import torch\n# YOUR CODE HERE\nraise NotImplementedError\nclass A:\n    def f(self):\n"
        "        if True:\n            # YOUR CODE HERE\n            raise NotImplementedError\n"
        "        return 3")


def test_region_on_the_last_line_keeps_the_cell_without_final_newline():
    source = "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION"
    stub = "def f():\n    # YOUR CODE HERE\n    raise NotImplementedError"
    assert authoring.strip_solutions(source) == stub


@pytest.mark.parametrize(("source", "message"), [
    ("def f():\n    ### BEGIN SOLUTION\n    return 1\n", "line 2: '### BEGIN SOLUTION' is never closed"),
    ("def f():\n    return 1\n    ### END SOLUTION\n", "line 3: '### END SOLUTION' without"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n", "line 2: '### BEGIN SOLUTION' inside"),
    ("### BEGIN SOLUTIONS\nx = 1\n### END SOLUTION\n", "line 1: a marker must stand alone"),
    ("x = 1  ### END SOLUTION\n", "line 1: a marker must stand alone"),
])
def test_unbalanced_or_malformed_markers_are_named_by_line(source, message):
    with pytest.raises(authoring.MarkupError, match=message.replace("(", r"\(")):
        authoring.strip_solutions(source)


def test_markup_error_names_the_notebook_and_the_cell(tmp_path):
    bad = solution_with("def f():\n    ### BEGIN SOLUTION\n    return 1\n",
                        "def g():\n    ### BEGIN SOLUTION\n    return 2\n")
    solutions = write_solutions(tmp_path / "solutions", _07_demo=bad)
    with pytest.raises(authoring.MarkupError) as error:
        authoring.make_exercises(solutions, tmp_path / "exercises")
    assert str(error.value).startswith("solutions/07_demo.ipynb, cell 2 (id code-0): line 2:")
    assert not (tmp_path / "exercises").exists()


def test_solution_markers_outside_code_cells_are_rejected():
    notebook = solution_with("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n")
    notebook.cells.append(nbformat.v4.new_markdown_cell("### BEGIN SOLUTION\nthe answer\n### END SOLUTION",
                                                        id="answer"))
    with pytest.raises(authoring.MarkupError, match="cell 3 .*only allowed in code cells"):
        authoring.make_exercise(notebook, "07_demo.ipynb")


def test_solution_without_any_region_is_rejected():
    with pytest.raises(authoring.MarkupError, match="no '### BEGIN SOLUTION' region"):
        authoring.make_exercise(solution_with("x = 1"), "07_demo.ipynb")


def test_exercise_keeps_cells_ids_and_tags_and_strips_outputs():
    solution = nbformat.read(FIXTURES / "solutions" / FIXTURE_NAME, as_version=4)
    for cell in solution.cells:
        if cell.cell_type == "code":
            cell.execution_count = 3
            cell.outputs = [nbformat.v4.new_output("stream", text="✅ old output\n")]
            cell.metadata["execution"] = {"iopub.execute_input": "2026-01-01T00:00:00Z"}
    exercise = authoring.make_exercise(solution, FIXTURE_NAME)
    assert [cell.id for cell in exercise.cells] == [cell.id for cell in solution.cells]
    assert [cell.cell_type for cell in exercise.cells] == [cell.cell_type for cell in solution.cells]
    assert [cell.metadata.get("tags") for cell in exercise.cells] == \
        [cell.metadata.get("tags") for cell in solution.cells]
    for cell in exercise.cells:
        if cell.cell_type == "code":
            assert (cell.outputs, cell.execution_count, "execution" in cell.metadata) == ([], None, False)
    changed = [cell.id for cell, before in zip(exercise.cells, solution.cells, strict=True)
               if cell.source != before.source]
    assert changed == ["title", "add", "hypotenuse"]
    assert "return a + b" not in exercise.cells[3].source


def test_exercise_badge_points_to_exercises_and_title_is_marked():
    solution = nbformat.read(FIXTURES / "solutions" / FIXTURE_NAME, as_version=4)
    title = authoring.make_exercise(solution, FIXTURE_NAME).cells[0].source
    assert title.startswith("# 01 · Arithmetic (exercise)\n")
    assert colab.badge_markdown(f"exercises/{FIXTURE_NAME}") in title
    assert "solutions/" not in title


@pytest.mark.parametrize(("title", "marked"), [
    ("# 03 · Training", "# 03 · Training (exercise)"),
    ("# 03 · Training (solution)\nmore", "# 03 · Training (exercise)\nmore"),
    ("# 03 · Training (exercise)", "# 03 · Training (exercise)"),
    ("Not a title", "Not a title"),
])
def test_title_gets_one_exercise_mark(title, marked):
    assert authoring.mark_title(title) == marked


def test_regenerating_exercises_is_byte_identical(tmp_path):
    solutions = shutil.copytree(FIXTURES / "solutions", tmp_path / "solutions")
    first = [status.state for status in authoring.make_exercises(solutions, tmp_path / "exercises")]
    written = (tmp_path / "exercises" / FIXTURE_NAME).read_bytes()
    second = [status.state for status in authoring.make_exercises(solutions, tmp_path / "exercises")]
    assert (first, second) == (["written"], ["current"])
    assert (tmp_path / "exercises" / FIXTURE_NAME).read_bytes() == written


def test_check_mode_reports_stale_missing_and_orphan_files_and_writes_nothing(tmp_path):
    solution = nbformat.read(FIXTURES / "solutions" / FIXTURE_NAME, as_version=4)
    solutions = write_solutions(tmp_path / "solutions", _01_arithmetic=solution, _02_more=solution)
    exercises = tmp_path / "exercises"
    exercises.mkdir()
    (exercises / FIXTURE_NAME).write_text("{}", encoding="utf-8")
    (exercises / "09_gone.ipynb").write_text("{}", encoding="utf-8")
    states = {status.path.name: status.state
              for status in authoring.make_exercises(solutions, exercises, check=True)}
    assert states == {FIXTURE_NAME: "stale", "02_more.ipynb": "missing", "09_gone.ipynb": "orphan"}
    assert sorted(path.name for path in exercises.iterdir()) == [FIXTURE_NAME, "09_gone.ipynb"]
    authoring.make_exercises(solutions, exercises)
    assert sorted(path.name for path in exercises.iterdir()) == [FIXTURE_NAME, "02_more.ipynb"]


def test_cli_check_exits_non_zero_until_exercises_are_generated(tmp_path, capsys):
    solutions = shutil.copytree(FIXTURES / "solutions", tmp_path / "solutions")
    arguments = ["make-exercises", "--solutions", str(solutions), "--exercises", str(tmp_path / "exercises")]
    assert cli.main([*arguments, "--check"]) == 1
    assert "out of date" in capsys.readouterr().err
    assert cli.main(arguments) == 0
    assert cli.main([*arguments, "--check"]) == 0


def test_cli_reports_a_markup_error_in_one_line(tmp_path, capsys):
    solutions = write_solutions(tmp_path / "solutions", _07_demo=solution_with("### END SOLUTION"))
    exercises = tmp_path / "exercises"
    assert cli.main(["make-exercises", "--solutions", str(solutions), "--exercises", str(exercises)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.endswith("'### END SOLUTION' without a '### BEGIN SOLUTION' before it")
    assert "\n" not in error


def test_fixture_exercises_are_current():
    statuses = authoring.make_exercises(FIXTURES / "solutions", FIXTURES / "exercises", check=True)
    assert [status.state for status in statuses] == ["current"]


def test_shipped_exercises_are_what_make_exercises_produces():
    statuses = authoring.make_exercises(ROOT / "solutions", ROOT / "exercises", check=True)
    stale = [f"{status.path.name} ({status.state})" for status in statuses if status.state != "current"]
    assert not stale, f"exercises/ is out of date, run `dcgan-course make-exercises`: {', '.join(stale)}"


def grade_pair(solutions: Path, exercises: Path, name: str) -> tuple[grading.NotebookGrade, ...]:
    """Run the exercise and its solution (one kernel each, side by side) with the solution's checks."""
    assert (exercises / name).exists(), f"exercises/{name} is missing: run `dcgan-course make-exercises`"
    options = grading.GradingOptions(cell_timeout=120.0, fast=True)
    runs = [grading.Submission("exercise", name, exercises / name), grading.Submission("solution", name,
                                                                                        solutions / name)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        return tuple(pool.map(lambda run: grading.grade_notebook(run, solutions / name, options), runs))


def assert_checks_have_teeth(exercise: grading.NotebookGrade, solution: grading.NotebookGrade) -> None:
    """Every check fails on the unsolved exercise and passes on the solution."""
    assert exercise.checks_total > 0, f"{exercise.notebook} has no check-tagged cell"
    assert exercise.status == grading.GRADED, exercise.first_error
    passing = [check.label for check in exercise.checks if check.passed]
    assert not passing, f"these checks pass on the unsolved exercise (no teeth): {passing}"
    assert solution.status == grading.GRADED, solution.first_error
    assert solution.checks_passed == solution.checks_total, solution.first_error


@pytest.mark.notebooks
def test_fixture_exercise_fails_every_check_and_solution_passes():
    assert_checks_have_teeth(*grade_pair(FIXTURES / "solutions", FIXTURES / "exercises", FIXTURE_NAME))


@pytest.mark.notebooks
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_exercise_fails_every_check_and_solution_passes(name):
    assert_checks_have_teeth(*grade_pair(ROOT / "solutions", ROOT / "exercises", name))
