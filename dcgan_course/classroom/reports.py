"""Grade reports: one CSV row per student and notebook, and a Markdown summary for people.

The summary has a table per student, per exercise and per check, then every problem (a crash,
a time-out, a failed check) with the first line of its error, then the predictions: committed or
not, with the learner's reason. Predictions have their own column and table and never count in
the score; whether the run agreed is shown to the learner only (the value can be edited after it).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from .check_cells import prediction_name
from .grading import BAD_NAME, GRADED, UNKNOWN, CheckResult, GradingOptions, NotebookGrade

MARKDOWN_TEXT_LIMIT = 140
CSV_COLUMNS = ("student", "notebook", "checks_passed", "checks_total", "score", "status", "first_error",
               "predictions", "matches")
NOT_COMMITTED = "not committed"


def grades_csv(grades: Sequence[NotebookGrade]) -> str:
    """The grade table as CSV: one row per student and notebook."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in grades:
        writer.writerow([row.student, row.notebook, row.checks_passed, row.checks_total,
                         f"{row.score:.1f}", row.status, row.first_error, predictions_text(row),
                         "; ".join(row.matches)])
    return buffer.getvalue()


def commitment_text(check: CheckResult) -> str:
    """One prediction as the grader sees it: the committed value with the reason, or "not committed"."""
    if not check.committed:
        return f"{prediction_name(check.label)}: {NOT_COMMITTED}"
    return f'{prediction_name(check.label)} = "{check.committed}" (reason: "{check.reason}")'


def predictions_text(row: NotebookGrade) -> str:
    """The predictions column: every prediction of the notebook, committed or not, with its reason."""
    return "; ".join(commitment_text(check) for check in row.predictions)


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
        ("Predictions (not graded)", predictions_table(grades)),
        ("Solutions shaped like the package's code (judge them yourself)", matches_table(grades)),
    ]
    lines = ["# Grades", "", *([note, ""] if note else [])]
    for title, table in sections:
        lines += [f"## {title}", "", *table, ""]
    return "\n".join(lines)


def matches_table(grades: Sequence[NotebookGrade]) -> list[str]:
    """Solution regions whose syntax tree is a package function's: copied, or the obvious one-liner."""
    rows = [[row.student, row.notebook, match] for row in grades for match in row.matches]
    return markdown_table(["student", "notebook", "match"], rows) if rows else ["None."]


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
            if not check.prediction:
                results.setdefault((row.notebook, check.label), []).append(check.passed)
    return markdown_table(["notebook", "check", "passed"],
                          [[notebook, f"`{label}`", f"{sum(passed)}/{len(passed)}"]
                           for (notebook, label), passed in results.items()])


def predictions_table(grades: Sequence[NotebookGrade]) -> list[str]:
    """One row per student and prediction: what was committed (or not) and the learner's one-line reason."""
    rows = [[row.student, row.notebook, f"`{prediction_name(check.label)}`", check.committed or NOT_COMMITTED,
             shorten(check.reason)] for row in grades for check in row.predictions]
    return (markdown_table(["student", "notebook", "prediction", "committed", "reason"], rows) if rows
            else ["No prediction was graded."])


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
            f"{options.cell_timeout:g} s per cell; check inputs drawn with seed {options.check_seed} "
            f"(regrade with `--check-seed {options.check_seed}` to reproduce).")


def write_reports(grades: Sequence[NotebookGrade], csv_path: Path, note: str = "") -> Path:
    """Write the CSV and, next to it, the Markdown summary; returns the summary's path."""
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    csv_path.write_text(grades_csv(grades), encoding="utf-8")
    summary_path = csv_path.with_suffix(".md")
    summary_path.write_text(markdown_summary(grades, note), encoding="utf-8")
    return summary_path


