"""Grading a class: restored checks, time-outs, bad files, untouched submissions, readable reports."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import time
from pathlib import Path

import nbformat
import pytest

from dcgan_course import cli
from dcgan_course.classroom import check_cells, grading, reports

FIXTURES = Path(__file__).resolve().parent / "fixtures"
NAME = "01_arithmetic.ipynb"
REFERENCE = FIXTURES / "solutions"
CELL_TIMEOUT = "4"


def fixture(kind: str) -> nbformat.NotebookNode:
    """The fixture notebook from ``solutions`` or ``exercises``."""
    return nbformat.read(FIXTURES / kind / NAME, as_version=4)


def cell(notebook: nbformat.NotebookNode, cell_id: str) -> nbformat.NotebookNode:
    """The cell with this id."""
    return next(candidate for candidate in notebook.cells if candidate.get("id") == cell_id)


def save(notebook: nbformat.NotebookNode, path: Path) -> None:
    """Write a notebook, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)


def digests(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under a folder, by relative path."""
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def build_class(folder: Path, probe: Path) -> None:
    """One submission per behaviour under test (see the tests below for what each should score)."""
    alice = fixture("solutions")
    alice.cells.append(nbformat.v4.new_code_cell(
        f"import json, os\nopen({str(probe)!r}, 'w').write(json.dumps({{'pid': os.getpid(), "
        "'cwd': os.getcwd(), 'check_seed': os.environ.get('DCGAN_COURSE_CHECK_SEED')}))", id="probe"))
    save(alice, folder / "alice" / "exercises" / NAME)

    save(fixture("exercises"), folder / "bob" / "exercises" / NAME)

    carol = fixture("exercises")
    cell(carol, "hypotenuse").source = cell(fixture("solutions"), "hypotenuse").source
    cell(carol, "check-add").source = 'print("✅ add works")'
    carol.cells.remove(cell(carol, "check-hypotenuse"))
    save(carol, folder / "carol" / NAME)

    erin = fixture("exercises")
    cell(erin, "add").source = cell(fixture("solutions"), "add").source
    cell(erin, "hypotenuse").source = "def hypotenuse(a, b):\n    while True:\n        pass"
    save(erin, folder / "erin" / "exercises" / NAME)

    (folder / f"frank__{NAME}").write_text('{"cells": [', encoding="utf-8")

    newer = json.loads((FIXTURES / "exercises" / NAME).read_text(encoding="utf-8")) | {"nbformat": 5}
    save_text(folder / "grace" / "exercises" / NAME, json.dumps(newer))

    save(fixture("solutions"), folder / "heidi" / "exercises" / "01_arithmetic-Copy1.ipynb")

    ivan = json.loads((FIXTURES / "exercises" / NAME).read_text(encoding="utf-8"))
    ivan["nbformat_minor"] = 2
    for raw in ivan["cells"]:
        raw.pop("id")
        if raw["metadata"].get("tags") == ["check"]:
            raw["source"] = 'print("✅ looks fine")'
    solved = [raw for raw in ivan["cells"] if "".join(raw["source"]).startswith("def hypotenuse")][0]
    solved["source"] = cell(fixture("solutions"), "hypotenuse").source
    save_text(folder / "ivan" / "exercises" / NAME, json.dumps(ivan))

    save_text(folder / "notes.ipynb", "{}")


def save_text(path: Path, text: str) -> None:
    """Write a text file, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """Grade the whole class once through the CLI: exit code, rows by student, summary, hashes."""
    root = tmp_path_factory.mktemp("class")
    submissions, probe = root / "submissions", root / "probe.json"
    build_class(submissions, probe)
    before = digests(submissions)
    started = time.perf_counter()
    exit_code = cli.main(["grade", str(submissions), "--reference", str(REFERENCE), "--out",
                          str(root / "grades.csv"), "--timeout", CELL_TIMEOUT, "--jobs", "2"])
    seconds = time.perf_counter() - started
    with open(root / "grades.csv", encoding="utf-8", newline="") as table:
        rows = list(csv.DictReader(table))
    return {"exit_code": exit_code, "rows": {(row["student"], row["notebook"]): row for row in rows},
            "csv_rows": rows, "summary": (root / "grades.md").read_text(encoding="utf-8"),
            "before": before, "after": digests(submissions), "probe": probe,
            "submissions": submissions, "seconds": seconds}


def score(graded_class, student: str, notebook: str = NAME) -> tuple[str, str, str]:
    """(checks passed, checks total, status) of one row."""
    row = graded_class["rows"][student, notebook]
    return row["checks_passed"], row["checks_total"], row["status"]


@pytest.mark.notebooks
def test_grading_exits_zero_even_when_students_fail(graded_class):
    assert graded_class["exit_code"] == 0
    assert list(graded_class["csv_rows"][0]) == list(reports.CSV_COLUMNS)


@pytest.mark.notebooks
def test_correct_submission_scores_full_marks(graded_class):
    assert score(graded_class, "alice") == ("2", "2", "graded")
    assert graded_class["rows"]["alice", NAME]["score"] == "100.0"


@pytest.mark.notebooks
def test_unsolved_exercise_scores_zero_and_says_why(graded_class):
    assert score(graded_class, "bob") == ("0", "2", "graded")
    assert graded_class["rows"]["bob", NAME]["first_error"].endswith("NotImplementedError")


@pytest.mark.notebooks
def test_edited_and_deleted_checks_are_restored_from_the_reference(graded_class):
    assert score(graded_class, "carol") == ("1", "2", "graded")
    assert graded_class["rows"]["carol", NAME]["first_error"].startswith("assert add(2, 3) == 5")


@pytest.mark.notebooks
def test_checks_are_restored_by_order_when_cell_ids_are_missing(graded_class):
    assert score(graded_class, "ivan") == ("1", "2", "graded")


@pytest.mark.notebooks
def test_infinite_loop_is_stopped_and_later_notebooks_are_still_graded(graded_class):
    assert score(graded_class, "erin") == ("1", "2", grading.CELL_TIMEOUT)
    assert "Timeout of 4 seconds" in graded_class["rows"]["erin", NAME]["first_error"]
    assert score(graded_class, "ivan")[2] == "graded"
    assert graded_class["seconds"] < 120


@pytest.mark.notebooks
@pytest.mark.parametrize(("student", "notebook", "status", "message"), [
    ("frank", NAME, grading.INVALID_JSON, "is not valid JSON"),
    ("grace", NAME, grading.NEWER_NBFORMAT, "is nbformat 5"),
    ("heidi", NAME, grading.MISSING, "was not handed in"),
    ("heidi", "01_arithmetic-Copy1.ipynb", grading.UNKNOWN, "is not a course exercise"),
    ("", "notes.ipynb", grading.BAD_NAME, "name it STUDENT__NN_name.ipynb"),
])
def test_bad_files_get_a_row_with_a_clear_status(graded_class, student, notebook, status, message):
    row = graded_class["rows"][student, notebook]
    assert (row["status"], row["checks_passed"]) == (status, "0")
    assert message in row["first_error"]


@pytest.mark.notebooks
def test_submissions_are_never_modified(graded_class):
    assert graded_class["after"] == graded_class["before"]


@pytest.mark.notebooks
def test_student_code_runs_in_its_own_kernel_process_in_a_scratch_folder(graded_class):
    probe = json.loads(graded_class["probe"].read_text(encoding="utf-8"))
    assert probe["pid"] != os.getpid()
    assert Path(graded_class["submissions"]) not in Path(probe["cwd"]).parents
    assert not Path(probe["cwd"]).exists()


@pytest.mark.notebooks
def test_checks_draw_from_a_fresh_seed_each_run_that_the_summary_names(graded_class):
    seed = json.loads(graded_class["probe"].read_text(encoding="utf-8"))["check_seed"]
    assert seed is not None and seed.isdigit()
    summary = graded_class["summary"]
    assert f"check inputs drawn with seed {seed} (regrade with `--check-seed {seed}`" in summary
    assert grading.grading_environment(grading.GradingOptions(check_seed=7))["DCGAN_COURSE_CHECK_SEED"] == "7"


@pytest.mark.notebooks
def test_summary_has_per_student_and_per_exercise_tables(graded_class):
    summary = graded_class["summary"]
    assert "## Per student" in summary and "## Per exercise" in summary
    assert "| alice | 2/2 | 2/2 (100.0 %) |" in summary
    assert f"| {NAME} | 8 | " in summary
    assert "| erin | 1/2 (cell-timeout) |" in summary


@pytest.mark.notebooks
@pytest.mark.parametrize("warm", [False, True], ids=["cold-kernel", "warm-kernel"])
def test_overall_time_out_stops_a_run_and_its_kernel(tmp_path, warm):
    pid_file = tmp_path / "kernel.pid"
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))"),
        nbformat.v4.new_code_cell("time.sleep(600)")])
    save(notebook, tmp_path / "run" / NAME)
    options = grading.GradingOptions(cell_timeout=600, warm_kernels=warm)
    with grading.kernel_environment(options) as environment, pytest.raises(TimeoutError, match="than 15 s"):
        grading.run_nbval(tmp_path / "run" / NAME, options, 15, environment)
    kernel = int(pid_file.read_text(encoding="utf-8"))
    deadline = time.monotonic() + 10
    while process_alive(kernel) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not process_alive(kernel)


def process_alive(pid: int) -> bool:
    """True while a process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


SPY = """import builtins, json, os, random, sys
forked = "--serve" in open(f"/proc/{os.getppid()}/cmdline").read()
shared = [sys.modules[name] for name in ("json", "builtins", "ipykernel")]
planted = [module.__name__ for module in shared if hasattr(module, "planted_by_a_student")]
seen = {"pid": os.getpid(), "forked": forked, "draw": random.random(), "tampered": planted}
for module in shared:
    module.planted_by_a_student = True
open(OBSERVATIONS, "a").write(json.dumps(seen) + "\\n")"""


@pytest.mark.notebooks
def test_warm_kernels_keep_every_notebook_in_a_fresh_process_of_its_own(tmp_path):
    observations = tmp_path / "seen.jsonl"
    for student in ("first", "second", "third"):
        notebook = fixture("solutions")
        notebook.cells.append(nbformat.v4.new_code_cell(SPY.replace("OBSERVATIONS", repr(str(observations))),
                                                        id="spy"))
        save(notebook, tmp_path / "class" / student / NAME)
    options = grading.GradingOptions(cell_timeout=60, warm_kernels=True)
    grades = grading.grade(tmp_path / "class", REFERENCE, options, jobs=1)
    seen = [json.loads(line) for line in observations.read_text(encoding="utf-8").splitlines()]
    assert [row.checks_passed for row in grades] == [2, 2, 2]
    assert all(kernel["forked"] for kernel in seen)  # they ran in warm kernels, forked from the template
    assert [kernel["tampered"] for kernel in seen] == [[], [], []]  # nobody saw an earlier student's changes
    pids = {kernel["pid"] for kernel in seen}
    assert len(pids) == 3 and os.getpid() not in pids
    assert len({kernel["draw"] for kernel in seen}) == 3  # each reseeded, as a fresh interpreter is


def test_grading_without_a_reference_folder_exits_non_zero(tmp_path, capsys):
    (tmp_path / "submissions" / "alice").mkdir(parents=True)
    assert cli.main(["grade", str(tmp_path / "submissions"), "--reference", str(tmp_path / "nope")]) == 2
    assert "no reference folder" in capsys.readouterr().err


def test_grading_an_empty_folder_exits_non_zero(tmp_path, capsys):
    (tmp_path / "submissions").mkdir()
    assert cli.main(["grade", str(tmp_path / "submissions"), "--reference", str(REFERENCE)]) == 2
    assert "no submissions" in capsys.readouterr().err


def test_submissions_are_found_in_folders_and_flat_files(tmp_path):
    save_text(tmp_path / "ann" / "exercises" / NAME, "{}")
    save_text(tmp_path / "ben" / "02_more.ipynb", "{}")
    save_text(tmp_path / f"cy__{NAME}", "{}")
    found = grading.find_submissions(tmp_path, [NAME, "02_more.ipynb"])
    assert [(item.student, item.notebook, item.path is not None) for item in found] == [
        ("ann", NAME, True), ("ann", "02_more.ipynb", False), ("ben", NAME, False),
        ("ben", "02_more.ipynb", True), ("cy", NAME, True), ("cy", "02_more.ipynb", False)]


def test_restored_check_replaces_an_edit_and_a_deleted_one_returns_after_its_cell():
    reference, student = fixture("solutions"), fixture("exercises")
    cell(student, "check-add").source = "pass"
    cell(student, "check-add").outputs = [nbformat.v4.new_output("stream", text="old")]
    student.cells.remove(cell(student, "check-hypotenuse"))
    student.cells.append(nbformat.v4.new_code_cell("print('my own cell')", id="mine"))
    graded = check_cells.restore_checks(student, reference)
    assert [item.id for item in graded.cells] == [*(item.id for item in reference.cells), "mine"]
    assert cell(graded, "check-add").source == cell(reference, "check-add").source
    assert cell(graded, "check-add").outputs == []
    assert cell(graded, "add").source == cell(student, "add").source


def test_checks_without_ids_are_restored_by_order():
    reference, student = fixture("solutions"), fixture("exercises")
    for item in student.cells:
        item.id = f"new-{item.id}"
        if check_cells.is_check(item):
            item.source = "pass"
    graded = check_cells.restore_checks(student, reference)
    checks = [item for item in graded.cells if check_cells.is_check(item)]
    expected = [item.source for item in reference.cells if check_cells.is_check(item)]
    assert [item.source for item in checks] == expected
    assert len(graded.cells) == len(student.cells)


@pytest.mark.notebooks
def test_a_kernel_that_cannot_start_gives_a_run_error_row_and_exits_non_zero(tmp_path, monkeypatch, capsys):
    save(fixture("solutions"), tmp_path / "submissions" / "alice" / NAME)
    save_text(tmp_path / "broken" / "ipykernel_launcher.py", "raise SystemExit('no kernel today')")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "broken"))
    out = tmp_path / "grades.csv"
    assert cli.main(["grade", str(tmp_path / "submissions"), "--reference", str(REFERENCE),
                     "--out", str(out)]) == 1
    [row] = csv.DictReader(out.read_text(encoding="utf-8").splitlines())
    assert (row["status"], row["first_error"]) == (grading.RUN_ERROR, "RuntimeError: Kernel died before "
                                                                       "replying to kernel_info")
    assert "grading could not run 1 notebook(s)" in capsys.readouterr().err


@pytest.mark.parametrize(("option", "message"), [("--jobs=0", "--jobs must be at least 1"),
                                                 ("--timeout=0", "--timeout must be a positive")])
def test_nonsense_options_are_refused_in_one_line(tmp_path, capsys, option, message):
    save(fixture("solutions"), tmp_path / "submissions" / "alice" / NAME)
    assert cli.main(["grade", str(tmp_path / "submissions"), "--reference", str(REFERENCE), option]) == 2
    assert message in capsys.readouterr().err


def test_cells_a_student_tags_as_checks_do_not_count():
    student = fixture("exercises")
    cell(student, "add").metadata["tags"] = ["check"]
    duplicate = nbformat.v4.new_code_cell("print('✅')", id="check-add")
    duplicate.metadata["tags"] = ["check"]
    student.cells.append(duplicate)
    graded = check_cells.restore_checks(student, fixture("solutions"))
    assert list(check_cells.check_positions(graded)) == [2, 4]


def test_a_malformed_notebook_is_invalid_not_a_grading_failure(tmp_path):
    raw = json.loads((FIXTURES / "exercises" / NAME).read_text(encoding="utf-8"))
    del raw["cells"][3]["source"]
    save_text(tmp_path / NAME, json.dumps(raw))
    notebook, status, detail = grading.read_submission(tmp_path / NAME)
    assert (notebook, status) == (None, grading.INVALID_NOTEBOOK)
    assert detail.startswith(f"{NAME} is not a valid notebook (")
