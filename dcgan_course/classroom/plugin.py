"""The pytest plugin the grader loads into each nbval run (``-p dcgan_course.classroom.plugin``).

For every notebook cell nbval runs it appends one JSON line to the file named by
``--grading-report``: the cell's number, whether it passed, the first line of its error and
whether it timed out; for a ``check``-tagged cell also what it printed (a prediction check prints
the committed value and reason there). It imports neither torch nor the course, so it costs the run
nothing.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pytest

REPORT_OPTION = "--grading-report"
CHECK_TAG = "check"  # classroom.check_cells.CHECK_TAG; repeated so this plugin imports nothing
STDOUT_LIMIT = 2000  # characters of a check cell's output kept in the record


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
    if CHECK_TAG in getattr(item, "cell", {}).get("metadata", {}).get("tags", []):
        record["stdout"] = cell_stdout(item)
    with open(path, "a", encoding="utf-8") as report:
        report.write(json.dumps(record) + "\n")


def cell_stdout(item: pytest.Item) -> str:
    """What a cell printed to stdout (its first ``STDOUT_LIMIT`` characters)."""
    outputs = getattr(item, "test_outputs", None) or []
    text = "".join(str(output.get("text", "")) for output in outputs
                   if output.get("output_type") == "stream" and output.get("name") == "stdout")
    return text[:STDOUT_LIMIT]


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
