"""Instructor grading with nbval: restore the checks, run each submission, count passed checks.

Each submitted notebook is copied to a scratch folder, every ``check``-tagged cell is restored
from the reference solution (by cell id, then by order), and the notebook runs under
``pytest --nbval-lax`` in a subprocess with its own kernel, a per-cell time-out and an overall
time-out as a backstop. The submissions themselves are never written to.

This module is also the small pytest plugin (``-p dcgan_course.grading``) that records, for
every notebook cell nbval runs, whether it passed and the first line of its error.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import importlib.util
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat

if TYPE_CHECKING:
    import pytest

CHECK_TAG = "check"
DEFAULT_CELL_TIMEOUT = 120.0
STARTUP_ALLOWANCE = 120.0
FLAT_SEPARATOR = "__"
REPORT_OPTION = "--grading-report"
MARKDOWN_TEXT_LIMIT = 140
CSV_COLUMNS = ("student", "notebook", "checks_passed", "checks_total", "score", "status", "first_error")

GRADED = "graded"  # the notebook ran; its checks were counted
CELL_TIMEOUT = "cell-timeout"  # graded, but a cell ran past the per-cell time-out
TIMEOUT = "timeout"  # the whole run passed the overall time-out and was stopped
MISSING = "missing"
UNKNOWN = "unknown-notebook"
BAD_NAME = "bad-file-name"
UNREADABLE = "unreadable"
INVALID_JSON = "invalid-json"
NEWER_NBFORMAT = "newer-nbformat"
INVALID_NOTEBOOK = "invalid-notebook"
RUN_ERROR = "run-error"


class GradingError(RuntimeError):
    """Grading itself cannot run (no reference, no submissions, nbval missing)."""


@dataclass(frozen=True)
class CheckResult:
    """One check cell's outcome in one submission."""

    label: str
    passed: bool
    error: str = ""


@dataclass(frozen=True)
class NotebookGrade:
    """One row of the grade table: a student's notebook and how its checks went."""

    student: str
    notebook: str
    status: str
    checks_total: int
    checks: tuple[CheckResult, ...] = ()
    detail: str = ""

    @property
    def checks_passed(self) -> int:
        """How many checks passed."""
        return sum(check.passed for check in self.checks)

    @property
    def score(self) -> float:
        """Passed checks as a percentage of the reference's checks."""
        return round(100.0 * self.checks_passed / self.checks_total, 1) if self.checks_total else 0.0

    @property
    def first_error(self) -> str:
        """Why the notebook lost marks: the status detail, else the first failed check's error."""
        failed = [f"{check.label}: {check.error}" for check in self.checks if not check.passed]
        return self.detail or (failed[0] if failed else "")


@dataclass(frozen=True)
class Submission:
    """A student's notebook to grade (``path`` is None when it was not handed in)."""

    student: str
    notebook: str
    path: Path | None
    problem: str = ""  # set when the file cannot be attributed to a student


@dataclass(frozen=True)
class GradingOptions:
    """How a run is graded."""

    cell_timeout: float = DEFAULT_CELL_TIMEOUT
    fast: bool = True


# -- finding submissions --------------------------------------------------------------------------

def reference_notebooks(reference: Path) -> dict[str, Path]:
    """The reference solutions by file name (``NN_name.ipynb``)."""
    if not reference.is_dir():
        raise GradingError(f"no reference folder at {reference}; pass --reference solutions/")
    notebooks = {path.name: path for path in sorted(reference.glob("[0-9][0-9]_*.ipynb"))}
    if not notebooks:
        raise GradingError(f"no NN_name.ipynb notebooks in the reference folder {reference}")
    return notebooks


def student_notebooks(folder: Path) -> list[Path]:
    """A student folder's notebooks: those in its ``exercises/`` if it has one, else its own."""
    home = folder / "exercises" if (folder / "exercises").is_dir() else folder
    return sorted(path for path in home.glob("*.ipynb") if path.is_file())


def find_submissions(submissions: Path, expected: Iterable[str]) -> list[Submission]:
    """Every (student, notebook) pair to grade, from sub-folders or ``student__NN_name.ipynb`` files.

    Each student gets one entry per expected notebook (``path=None`` when missing) plus one per
    notebook that is not expected.
    """
    if not submissions.is_dir():
        raise GradingError(f"no submissions folder at {submissions}")
    handed_in: dict[str, dict[str, Path]] = {}
    strays = []
    for entry in sorted(submissions.iterdir()):
        student, separator, notebook = entry.name.partition(FLAT_SEPARATOR)
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            handed_in.setdefault(entry.name, {}).update(
                {path.name: path for path in student_notebooks(entry)})
        elif entry.suffix == ".ipynb" and separator and student and notebook:
            handed_in.setdefault(student, {})[notebook] = entry
        elif entry.suffix == ".ipynb":
            strays.append(Submission("", entry.name, entry, f"{entry.name}: name it STUDENT__NN_name.ipynb "
                                     "or put it in a folder named after the student"))
    if not handed_in and not strays:
        raise GradingError(f"no submissions in {submissions}: expected one folder per student holding "
                           "exercises/NN_name.ipynb, or files named STUDENT__NN_name.ipynb")
    expected = sorted(expected)
    return [Submission(student, notebook, notebooks.get(notebook))
            for student, notebooks in sorted(handed_in.items())
            for notebook in expected + sorted(set(notebooks) - set(expected))] + strays


# -- preparing the notebook that runs -------------------------------------------------------------

def is_check(cell: nbformat.NotebookNode) -> bool:
    """True for a code cell tagged ``check``."""
    tags = cell.get("metadata", {}).get("tags", [])
    return cell.get("cell_type") == "code" and isinstance(tags, list) and CHECK_TAG in tags


def check_label(cell: nbformat.NotebookNode) -> str:
    """A readable name for a check: the first line of its source."""
    first_line = next((line for line in cell.source.splitlines() if line.strip()), "(empty check)")
    return first_line.strip()[:80]


def read_submission(path: Path) -> tuple[nbformat.NotebookNode | None, str, str]:
    """Read a submitted notebook as ``(notebook, status, detail)``; notebook is None if unreadable."""
    try:
        data = path.read_bytes()
    except OSError as error:
        return None, UNREADABLE, f"{path.name} cannot be read ({error.strerror or error})"
    try:
        raw = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return None, INVALID_JSON, f"{path.name} is not valid JSON ({error})"
    version = raw.get("nbformat") if isinstance(raw, dict) else None
    if isinstance(version, int) and version > nbformat.current_nbformat:
        return None, NEWER_NBFORMAT, (f"{path.name} is nbformat {version}; this grader reads nbformat "
                                      f"{nbformat.current_nbformat}: save it as a v4 notebook")
    try:
        notebook = nbformat.reads(json.dumps(raw), as_version=4)
        nbformat.validate(notebook)
    except Exception as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return None, INVALID_NOTEBOOK, f"{path.name} is not a valid notebook ({reason})"
    return notebook, GRADED, ""


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


# -- running it under nbval -----------------------------------------------------------------------

def grading_environment(options: GradingOptions) -> dict[str, str]:
    """The kernel's environment: fast mode unless ``--full``, the shared data folder, runs kept in the
    scratch folder (nothing a student's run writes outlives it), and no inherited pytest flags."""
    from dcgan_course import settings  # imported here: the pytest-plugin side stays free of torch

    environment = {key: value for key, value in os.environ.items() if key != "PYTEST_ADDOPTS"}
    environment[settings.FAST_ENV] = "1" if options.fast else "0"
    environment[settings.DATA_ENV] = str(settings.data_root().resolve())
    environment[settings.RUNS_ENV] = "runs"
    return environment


def nbval_command(notebook: Path, report: Path, options: GradingOptions) -> list[str]:
    """The pytest command that runs one notebook under nbval and records every cell."""
    return [sys.executable, "-m", "pytest", str(notebook), "--nbval-lax", "--nbval-current-env",
            f"--nbval-cell-timeout={options.cell_timeout:g}", "-p", "dcgan_course.grading",
            f"{REPORT_OPTION}={report}", "-p", "no:cacheprovider", "-q", "--no-header", "--tb=line",
            "-c", str(notebook.parent / "pytest.ini"), "--rootdir", str(notebook.parent)]


def run_nbval(notebook: Path, options: GradingOptions, overall_timeout: float) -> tuple[dict[int, dict], str]:
    """Run one notebook under nbval in a subprocess; returns the cell records and pytest's output.

    The records go to a folder of their own, away from the kernel's working folder, and only the
    first record of a cell counts. Raises ``TimeoutError`` when the whole run outlives
    ``overall_timeout`` (its process group is killed; the kernel exits when its parent does).
    """
    (notebook.parent / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="dcgan-grade-report-") as private:
        report = Path(private) / "cells.jsonl"
        process = subprocess.Popen(nbval_command(notebook, report, options), cwd=notebook.parent,
                                   env=grading_environment(options), stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            output, _ = process.communicate(timeout=overall_timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):  # it may have finished meanwhile
                os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise TimeoutError(f"the run took longer than {overall_timeout:g} s and was stopped") from None
        lines = report.read_text(encoding="utf-8").splitlines() if report.exists() else []
    records: dict[int, dict] = {}
    for line in lines:
        record = json.loads(line)
        records.setdefault(record["cell"], record)
    return records, output


def grade_notebook(submission: Submission, reference: Path | None, options: GradingOptions) -> NotebookGrade:
    """Grade one submitted notebook against its reference solution in a scratch folder."""
    def row(status: str, detail: str = "", total: int = 0,
            checks: Sequence[CheckResult] = ()) -> NotebookGrade:
        return NotebookGrade(submission.student, submission.notebook, status, total, tuple(checks), detail)

    if submission.problem:
        return row(BAD_NAME, submission.problem)
    if reference is None:
        return row(UNKNOWN, f"{submission.notebook} is not a course exercise")
    reference_notebook = nbformat.read(reference, as_version=4)
    positions = check_positions(reference_notebook)
    if submission.path is None:
        return row(MISSING, f"{submission.notebook} was not handed in", len(positions))
    student_notebook, status, detail = read_submission(submission.path)
    if student_notebook is None:
        return row(status, detail, len(positions))
    graded = restore_checks(student_notebook, reference_notebook)
    positions = check_positions(graded)
    code_cells = sum(cell.cell_type == "code" for cell in graded.cells)
    if code_cells == 0:
        return row(GRADED, "", 0)
    with tempfile.TemporaryDirectory(prefix="dcgan-grade-") as scratch:
        notebook_path = Path(scratch) / submission.notebook
        nbformat.write(graded, notebook_path)
        try:
            records, output = run_nbval(notebook_path, options,
                                        options.cell_timeout * (code_cells + 1) + STARTUP_ALLOWANCE)
        except TimeoutError as error:
            return row(TIMEOUT, str(error), len(positions), [CheckResult(label, False, str(error))
                                                            for label in positions.values()])
    if not records:
        return row(RUN_ERROR, run_error(output), len(positions))
    checks = [check_result(label, records.get(number)) for number, label in positions.items()]
    timed_out = any(record["timed_out"] for record in records.values())
    return row(CELL_TIMEOUT if timed_out else GRADED, "", len(positions), checks)


def check_result(label: str, record: dict | None) -> CheckResult:
    """Turn nbval's record of a check cell (None if it never ran) into a result."""
    if record is None:
        return CheckResult(label, False, "did not run (the kernel stopped before this cell)")
    return CheckResult(label, record["passed"], record["error"])


def run_error(output: str) -> str:
    """Why pytest ran no cell: its first ``E`` (error) line, else its last line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line.removeprefix("E").strip() for line in lines if line.startswith("E ")]
    if errors:
        return errors[0]
    return lines[-1] if lines else "pytest produced no output"


def grade(submissions: Path, reference: Path, options: GradingOptions = GradingOptions(), jobs: int = 1,
          on_graded: Callable[[NotebookGrade], None] | None = None) -> list[NotebookGrade]:
    """Grade every submission against the reference solutions, ``jobs`` notebooks at a time."""
    if jobs < 1:
        raise ValueError(f"--jobs must be at least 1, got {jobs}")
    if options.cell_timeout <= 0:
        raise ValueError(f"--timeout must be a positive number of seconds, got {options.cell_timeout:g}")
    if importlib.util.find_spec("nbval") is None:
        raise GradingError("nbval is not installed: pip install 'dcgan-course[test]'")
    references = reference_notebooks(reference)
    work = find_submissions(submissions, references)

    def grade_one(submission: Submission) -> NotebookGrade:
        result = grade_notebook(submission, references.get(submission.notebook), options)
        if on_graded is not None:
            on_graded(result)
        return result

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(grade_one, work))


# -- reports --------------------------------------------------------------------------------------

def grades_csv(grades: Sequence[NotebookGrade]) -> str:
    """The grade table as CSV: one row per student and notebook."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in grades:
        writer.writerow([row.student, row.notebook, row.checks_passed, row.checks_total,
                         f"{row.score:.1f}", row.status, row.first_error])
    return buffer.getvalue()


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    """A Markdown table as lines."""
    def line(cells: Sequence[object]) -> str:
        return "| " + " | ".join(str(cell).replace("|", "\\|").replace("\n", " ") for cell in cells) + " |"

    return [line(header), line(["---"] * len(header)), *(line(row) for row in rows)]


def markdown_summary(grades: Sequence[NotebookGrade], note: str = "") -> str:
    """Per-student and per-exercise tables, per-check pass rates and every problem, in Markdown."""
    course = sorted({row.notebook for row in grades if row.status not in (UNKNOWN, BAD_NAME)})
    problems = [[row.student, row.notebook, row.status, shorten(row.first_error)]
                for row in grades if row.status != GRADED or row.first_error]
    problem_table = markdown_table(["student", "notebook", "status", "first error"], problems)
    sections = [
        ("Per student", per_student_table(grades, course)),
        ("Per exercise", per_exercise_table(grades, course)),
        ("Per check", per_check_table(grades)),
        ("Problems and failed checks", problem_table if problems else ["None: every check passed."]),
    ]
    lines = ["# Grades", "", *([note, ""] if note else [])]
    for title, table in sections:
        lines += [f"## {title}", "", *table, ""]
    return "\n".join(lines)


def per_student_table(grades: Sequence[NotebookGrade], course: Sequence[str]) -> list[str]:
    """One row per student: passed/total for each exercise, then overall."""
    by_key = {(row.student, row.notebook): row for row in grades}
    rows = []
    for student in sorted({row.student for row in grades if row.student}):
        own = [by_key[student, notebook] for notebook in course if (student, notebook) in by_key]
        passed, total = sum(row.checks_passed for row in own), sum(row.checks_total for row in own)
        overall = f"{passed}/{total} ({100.0 * passed / total if total else 0.0:.1f} %)"
        rows.append([student, *(score_text(by_key.get((student, notebook))) for notebook in course), overall])
    return markdown_table(["student", *course, "total"], rows)


def per_exercise_table(grades: Sequence[NotebookGrade], course: Sequence[str]) -> list[str]:
    """One row per exercise: how many students, mean score, full marks, the most common first error."""
    rows = []
    for notebook in course:
        own = [row for row in grades if row.notebook == notebook]
        errors = Counter(row.first_error for row in own if row.first_error)
        rows.append([notebook, len(own), f"{sum(row.score for row in own) / len(own):.1f}",
                     sum(row.score == 100.0 for row in own),
                     shorten(errors.most_common(1)[0][0]) if errors else ""])
    return markdown_table(["notebook", "students", "mean score", "full marks", "most common first error"],
                          rows)


def per_check_table(grades: Sequence[NotebookGrade]) -> list[str]:
    """One row per check: how many of the students who ran it passed."""
    results: dict[tuple[str, str], list[bool]] = {}
    for row in grades:
        for check in row.checks:
            results.setdefault((row.notebook, check.label), []).append(check.passed)
    return markdown_table(["notebook", "check", "passed"],
                          [[notebook, f"`{label}`", f"{sum(passed)}/{len(passed)}"]
                           for (notebook, label), passed in results.items()])


def shorten(text: str, limit: int = MARKDOWN_TEXT_LIMIT) -> str:
    """Cut long text for a table cell (the CSV keeps it whole)."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def score_text(row: NotebookGrade | None) -> str:
    """One table cell: passed/total, with the status when the notebook was not simply graded."""
    if row is None:
        return ""
    text = f"{row.checks_passed}/{row.checks_total}"
    return text if row.status == GRADED else f"{text} ({row.status})"


def describe_run(reference: Path, options: GradingOptions) -> str:
    """One sentence saying how a run was graded, for the top of the summary."""
    mode = "fast mode (DCGAN_COURSE_FAST=1)" if options.fast else "full mode"
    return (f"Checks restored from `{reference}`; run under nbval in {mode}, "
            f"{options.cell_timeout:g} s per cell.")


def write_reports(grades: Sequence[NotebookGrade], csv_path: Path, note: str = "") -> Path:
    """Write the CSV and, next to it, the Markdown summary; returns the summary's path."""
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    csv_path.write_text(grades_csv(grades), encoding="utf-8")
    summary_path = csv_path.with_suffix(".md")
    summary_path.write_text(markdown_summary(grades, note), encoding="utf-8")
    return summary_path


# -- the pytest plugin side (loaded in the nbval subprocess with -p dcgan_course.grading) ----------

def pytest_addoption(parser: pytest.Parser) -> None:
    """Add the option naming the file that receives one JSON line per notebook cell."""
    parser.addoption(REPORT_OPTION, default=None, help="write nbval cell outcomes to this JSON-lines file")


def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> None:
    """Record an nbval cell's outcome and the first line of its error (the report itself is left alone)."""
    path = item.config.getoption(REPORT_OPTION)
    if path is None or call.when != "call" or not hasattr(item, "cell_num"):
        return
    error = "" if call.excinfo is None else cell_error(item, call.excinfo.value)
    record = {"cell": item.cell_num, "passed": call.excinfo is None, "error": error,
              "timed_out": error.startswith("Timeout")}
    with open(path, "a", encoding="utf-8") as report:
        report.write(json.dumps(record) + "\n")


def cell_error(item: pytest.Item, exception: BaseException) -> str:
    """The first line of a failed cell's error: a time-out, else the kernel's ``Name: message``."""
    message = str(exception).strip().splitlines()[0] if str(exception).strip() else type(exception).__name__
    if message.startswith("Timeout"):
        return message
    outputs = getattr(item, "test_outputs", None) or []
    error = next((output for output in outputs if output.get("output_type") == "error"), None)
    if error is None:
        return message
    value = str(error.get("evalue", "")).strip().splitlines()
    return f"{error['ename']}: {value[0]}" if value else error["ename"]
