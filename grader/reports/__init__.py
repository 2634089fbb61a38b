"""Reports: per-student results.json (Gradescope) + feedback.html; class grades.csv + report.html.

Layout under ``out`` (contract)::

    out/grades.csv
    out/report.html
    out/<assignment>/<student>/results.json
    out/<assignment>/<student>/feedback.html

Folder names are the assignment slug and student id when those are plain
(letters, digits, ``._@+-``); anything else gets a sanitised, hashed name
(see :func:`result_dir`). Every file is written atomically. Importing this package
is cheap: matplotlib is imported only by :func:`write_class_reports` when plotting.
"""

from __future__ import annotations

from pathlib import Path

from grader.reports.atomic import atomic_write_bytes, atomic_write_files, atomic_write_text, encode
from grader.reports.classreport import class_report_html
from grader.reports.common import result_dir, safe_name
from grader.reports.feedback import feedback_html, summary_text
from grader.reports.gradescope import dumps, from_results_json, load_results, results_json
from grader.reports.gradescsv import COLUMNS, csv_safe, grades_csv
from grader.results import SubmissionResult

__all__ = [
    "COLUMNS",
    "atomic_write_bytes",
    "atomic_write_files",
    "atomic_write_text",
    "class_report_html",
    "csv_safe",
    "feedback_html",
    "from_results_json",
    "grades_csv",
    "load_results",
    "result_dir",
    "results_json",
    "safe_name",
    "summary_text",
    "write_class_reports",
    "write_student_reports",
]


def write_student_reports(result: SubmissionResult, out: Path | str) -> Path:
    """Write ``<assignment>/<student>/feedback.html`` then ``results.json``; return the folder.

    Both are staged before either is renamed (a full disk leaves the old pair intact), and
    results.json is renamed last: its presence means "this submission is done" to a resumed
    batch. The folder is not synced after the renames (per student, that fsync was a third
    of the time spent here): a power cut may undo the last renames, and a resumed batch then
    grades those submissions again; the files' contents are synced before, never torn.
    """
    folder = result_dir(Path(out), result.assignment, result.student)
    atomic_write_files(
        [
            (folder / "feedback.html", encode(feedback_html(result))),
            (folder / "results.json", encode(dumps(result))),
        ],
        sync_dirs=False,
    )
    return folder


def write_class_reports(
    results: list[SubmissionResult], out: Path | str, *, plots: bool = True
) -> None:
    """Write ``grades.csv`` and ``report.html`` (with matplotlib plots unless ``plots=False``)."""
    out, results = Path(out), list(results)
    atomic_write_files(
        [
            (out / "grades.csv", encode(grades_csv(results))),
            (out / "report.html", encode(class_report_html(results, plots=plots))),
        ]
    )
