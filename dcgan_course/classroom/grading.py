"""Instructor grading with nbval: restore the checks, run each submission, count passed checks.

Each submitted notebook is copied to a scratch folder, every ``check``-tagged cell is restored
from the reference solution (by cell id, then by order), and the notebook runs under
``pytest --nbval-lax`` in a subprocess with its own kernel, a per-cell time-out and an overall
time-out as a backstop. The submissions themselves are never written to.

Hidden cells (``classroom.integrity``) fingerprint the kernel before any learner code and compare
before every check: a notebook whose cells rebound what the checks rely on is graded ``tampered``.
The nbval subprocess loads ``classroom.plugin`` to record each cell's outcome; the CSV and
Markdown reports are written by ``grading_reports``. Prediction checks (tagged ``prediction``) are
recorded apart: committed or not, with the learner's reason, and never in the score.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .check_cells import check_positions, prediction_positions, read_commitment, restore_checks
from .integrity import add_integrity_cells, integrity_positions, tampering
from .kernels import KERNEL_NAME, TEMPLATE_ENV, imported_modules, warm_kernels
from .plugin import REPORT_OPTION
from .runs import PREBUILT_CALL, copy_runs, prebuilt_runs
from .similarity import package_matches

DEFAULT_CELL_TIMEOUT = 120.0
STARTUP_ALLOWANCE = 120.0
WARM_KERNELS_WORK = sys.platform == "linux"  # macOS: fork after importing torch is unsafe; Windows: no fork
FLAT_SEPARATOR = "__"

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
PARSING = threading.Lock()  # CPython 3.11's ast.parse in parallel threads: "recursion depth mismatch"
TAMPERED = "tampered"  # a learner cell rebound what the checks rely on: no check counts


class GradingError(RuntimeError):
    """Grading itself cannot run (no reference, no submissions, nbval missing)."""


@dataclass(frozen=True)
class CheckResult:
    """One check cell's outcome in one submission; a prediction's carries what was committed, and why."""

    label: str
    passed: bool
    error: str = ""
    prediction: bool = False
    committed: str = ""  # the committed value ("" when not committed)
    reason: str = ""


@dataclass(frozen=True)
class NotebookGrade:
    """One row of the grade table: a student's notebook and how its checks went."""

    student: str
    notebook: str
    status: str
    checks_total: int
    checks: tuple[CheckResult, ...] = ()
    detail: str = ""
    matches: tuple[str, ...] = ()  # solution regions shaped like a package function, for the instructor

    @property
    def checks_passed(self) -> int:
        """How many correctness checks passed (predictions never count)."""
        return sum(check.passed for check in self.checks if not check.prediction)

    @property
    def predictions(self) -> tuple[CheckResult, ...]:
        """The prediction checks, committed or not."""
        return tuple(check for check in self.checks if check.prediction)

    @property
    def score(self) -> float:
        """Passed checks as a percentage of the reference's checks."""
        return round(100.0 * self.checks_passed / self.checks_total, 1) if self.checks_total else 0.0

    @property
    def first_error(self) -> str:
        """Why the notebook lost marks: the status detail, else the first failed check's error."""
        failed = [f"{check.label}: {check.error}" for check in self.checks if not check.passed
                  and not check.prediction]
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
    warm_kernels: bool = WARM_KERNELS_WORK  # fork each kernel from a template that imported torch & co.
    prebuilt_runs: bool = True  # train the pretrained GAN once, copy it to every notebook's runs/
    check_seed: int = 0  # the seed check inputs are drawn from (the CLI draws a fresh one per run)


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
                           "NN_name.ipynb (or exercises/NN_name.ipynb), or files named "
                           "STUDENT__NN_name.ipynb")
    expected = sorted(expected)
    return [Submission(student, notebook, notebooks.get(notebook))
            for student, notebooks in sorted(handed_in.items())
            for notebook in expected + sorted(set(notebooks) - set(expected))] + strays


# -- reading a submission ------------------------------------------------------------------------

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


# -- running it under nbval -----------------------------------------------------------------------

def grading_environment(options: GradingOptions) -> dict[str, str]:
    """The kernel's environment: fast mode unless ``--full``, the shared data folder, runs kept in the
    scratch folder (nothing a student's run writes outlives it), and no inherited pytest flags."""
    from dcgan_course import settings  # imported here: the pytest-plugin side stays free of torch

    environment = {key: value for key, value in os.environ.items() if key != "PYTEST_ADDOPTS"}
    environment[settings.FAST_ENV] = "1" if options.fast else "0"
    environment[settings.DATA_ENV] = str(settings.data_root().resolve())
    environment[settings.RUNS_ENV] = "runs"
    environment[settings.CHECK_SEED_ENV] = str(options.check_seed)
    return environment


def nbval_command(notebook: Path, report: Path, options: GradingOptions, warm: bool) -> list[str]:
    """The pytest command that runs one notebook under nbval (in a warm kernel) and records every cell."""
    kernel = f"--nbval-kernel-name={KERNEL_NAME}" if warm else "--nbval-current-env"
    return [sys.executable, "-m", "pytest", str(notebook), "--nbval-lax", kernel,
            f"--nbval-cell-timeout={options.cell_timeout:g}", "-p", "dcgan_course.classroom.plugin",
            f"{REPORT_OPTION}={report}", "-p", "no:cacheprovider", "-q", "--no-header", "--tb=line",
            "-c", str(notebook.parent / "pytest.ini"), "--rootdir", str(notebook.parent)]


def run_nbval(notebook: Path, options: GradingOptions, overall_timeout: float,
              environment: dict[str, str] | None = None) -> tuple[dict[int, dict], str]:
    """Run one notebook under nbval in a subprocess; returns the cell records and pytest's output.

    ``environment`` from ``kernel_environment`` selects warm kernels; without it each kernel starts cold.

    The records go to a folder of their own, away from the kernel's working folder, and only the
    first record of a cell counts. Raises ``TimeoutError`` when the whole run outlives
    ``overall_timeout`` (its process group is killed; the kernel exits when its parent does).
    """
    (notebook.parent / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="dcgan-grade-report-") as private:
        report = Path(private) / "cells.jsonl"
        environment = environment or grading_environment(options)
        command = nbval_command(notebook, report, options, warm=TEMPLATE_ENV in environment)
        process = subprocess.Popen(command, cwd=notebook.parent, env=environment, stdout=subprocess.PIPE,
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


def kernel_environment(options: GradingOptions,
                       preload: Sequence[str] = ()) -> contextlib.AbstractContextManager[dict[str, str]]:
    """The environment nbval runs under: with a warm-kernel template that imported ``preload``, or plain."""
    environment = grading_environment(options)
    return warm_kernels(environment, preload) if options.warm_kernels else contextlib.nullcontext(environment)


def grade_notebook(submission: Submission, reference: Path | None, options: GradingOptions,
                   environment: dict[str, str] | None = None, runs: Path | None = None) -> NotebookGrade:
    """Grade one submitted notebook against its reference solution in a scratch folder."""
    def row(status: str, detail: str = "", total: int = 0,
            checks: Sequence[CheckResult] = ()) -> NotebookGrade:
        return NotebookGrade(submission.student, submission.notebook, status, total, tuple(checks), detail)

    if submission.problem:
        return row(BAD_NAME, submission.problem)
    if reference is None:
        return row(UNKNOWN, f"{submission.notebook} is not a course exercise")
    reference_notebook = nbformat.read(reference, as_version=4)
    total = len(check_positions(reference_notebook)) - len(prediction_positions(reference_notebook))
    if submission.path is None:
        return row(MISSING, f"{submission.notebook} was not handed in", total)
    student_notebook, status, detail = read_submission(submission.path)
    if student_notebook is None:
        return row(status, detail, total)
    code = [cell.source for cell in reference_notebook.cells if cell.cell_type == "code"]
    with PARSING:
        restored = restore_checks(student_notebook, reference_notebook)
        graded = add_integrity_cells(restored, imported_modules(code))
    positions, guards = check_positions(graded), integrity_positions(graded)
    predictions = prediction_positions(graded)
    code_cells = sum(cell.cell_type == "code" for cell in graded.cells)
    if code_cells == len(guards):
        return row(GRADED, "", 0)
    with tempfile.TemporaryDirectory(prefix="dcgan-grade-") as scratch:
        notebook_path = Path(scratch) / submission.notebook
        nbformat.write(graded, notebook_path)
        copy_runs(runs, notebook_path.parent)
        try:
            backstop = options.cell_timeout * (code_cells + 1) + STARTUP_ALLOWANCE
            records, output = run_nbval(notebook_path, options, backstop, environment)
        except TimeoutError as error:
            return row(TIMEOUT, str(error), total, [CheckResult(label, False, str(error), n in predictions)
                                                   for n, label in positions.items()])
    if not records:
        return row(RUN_ERROR, run_error(output), total)
    if tampered := tampering(records, guards):
        return row(TAMPERED, tampered, total, [CheckResult(label, False, tampered, number in predictions)
                                               for number, label in positions.items()])
    checks = [check_result(label, records.get(number), number in predictions)
              for number, label in positions.items()]
    timed_out = any(record["timed_out"] for record in records.values())
    return row(CELL_TIMEOUT if timed_out else GRADED, "", total, checks)


def check_result(label: str, record: dict | None, prediction: bool = False) -> CheckResult:
    """nbval's record of a check cell (None: never ran) as a result; a prediction's with its commitment."""
    if record is None:
        return CheckResult(label, False, "did not run (the kernel stopped before this cell)", prediction)
    if not prediction or not record["passed"]:
        return CheckResult(label, record["passed"], record["error"], prediction)
    commitment = read_commitment(record.get("stdout", ""))
    if commitment is None:
        return CheckResult(label, False, "printed no committed prediction", prediction)
    return CheckResult(label, True, "", prediction, commitment[1], commitment[2])


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

    code = [cell.source for path in references.values()
            for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"]
    with kernel_environment(options, imported_modules(code)) as environment, contextlib.ExitStack() as stack:
        uses_gan = any(PREBUILT_CALL in source for source in code)
        runs = stack.enter_context(prebuilt_runs(environment)) if options.prebuilt_runs and uses_gan else None

        def grade_one(submission: Submission) -> NotebookGrade:
            reference = references.get(submission.notebook)
            result = grade_notebook(submission, reference, options, environment, runs)
            with PARSING:
                result = dataclasses.replace(result, matches=package_matches(submission.path, reference))
            if on_graded is not None:
                on_graded(result)
            return result

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            return list(pool.map(grade_one, work))
