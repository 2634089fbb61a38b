"""grades.csv: one row per (student, assignment), sorted, quoted by the csv module.

Columns (the first five are contract): student, assignment, score, max_score, status,
percent, tests_passed, tests_total, reason, execution_time, submitted_at, unsafe, raw_score,
late_penalty (the last two only with a late policy, see grader.late: score = raw_score - late_penalty).
Text a student controls never starts a spreadsheet formula: a leading ``= + - @``
(or tab / carriage return) gets an apostrophe in front.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from grader.reports.common import clean, first_line, fmt, is_graded, latest, num, percent
from grader.results import SubmissionResult

COLUMNS = (
    "student",
    "assignment",
    "score",
    "max_score",
    "status",
    "percent",
    "tests_passed",
    "tests_total",
    "reason",
    "execution_time",
    "submitted_at",
    "unsafe",
    "raw_score",
    "late_penalty",
)

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(text: str) -> str:
    """Printable text that never starts a spreadsheet formula (OWASP's advice: a leading
    apostrophe)."""
    text = clean(text)
    return "'" + text if text.startswith(_FORMULA_START) else text


def reason(result: SubmissionResult) -> str:
    """Why a submission is not (fully) graded, in one line; "" when all is well."""
    if not is_graded(result):
        return first_line(result.output) or result.status
    broken = sum(t.grader_error for t in result.tests)
    if broken:
        return f"grader error in {broken} test" + ("" if broken == 1 else "s")
    return ""


def row(result: SubmissionResult) -> dict[str, str]:
    pct = percent(result.score, result.max_score)
    return {
        "student": csv_safe(result.student),
        "assignment": csv_safe(result.assignment),
        "score": fmt(result.score),
        "max_score": fmt(result.max_score),
        "status": csv_safe(result.status),
        "percent": "" if pct is None else f"{pct:g}",
        "tests_passed": str(sum(t.status == "passed" for t in result.tests)),
        "tests_total": str(len(result.tests)),
        "reason": csv_safe(reason(result)),
        "execution_time": f"{num(result.execution_time):.2f}",
        "submitted_at": csv_safe(result.submitted_at),
        "unsafe": "yes" if result.unsafe else "no",
        **_late_columns(result),
    }


def _late_columns(result: SubmissionResult) -> dict[str, str]:
    """raw_score (before the late deduction) and late_penalty; blank without a late policy."""
    info = result.extra.get("late") if isinstance(result.extra, dict) else None
    if not isinstance(info, dict):
        return {"raw_score": "", "late_penalty": ""}
    return {"raw_score": fmt(info.get("raw_score", result.score)), "late_penalty": fmt(info.get("penalty", 0.0))}


def grades_csv(results: Iterable[SubmissionResult]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, quoting=csv.QUOTE_MINIMAL)
    writer.writeheader()
    for result in latest(results):
        writer.writerow(row(result))
    return buf.getvalue()
