"""Self-checks for students: the public tests, on the student's own machine, no sandbox.

From a terminal:   dl101 check convolution.ipynb
From a notebook:   from grader.check import check
                   check("convolution", globals())

The namespace is passed explicitly; nothing reads the caller's stack frame. Inside the
grading sandbox (DL101_GRADING=1) and while `dl101 check` runs the notebook, ``check``
does nothing.
"""

from __future__ import annotations

import os
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from grader import assignments
from grader.errors import GraderError
from grader.results import TestResult

_running = False  # True while `dl101 check` executes a notebook: its own check() cells are no-ops


@dataclass
class CheckReport:
    slug: str
    tests: list[TestResult] = field(default_factory=list)
    cell_errors: list[str] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(t.status == "passed" for t in self.tests)

    @property
    def ok(self) -> bool:
        return self.passed == len(self.tests) and not self.cell_errors


def check(slug: str, namespace: dict[str, Any], *, stream: TextIO | None = None) -> CheckReport | None:
    """Run the public checks of ``slug`` against the functions in ``namespace`` and print them."""
    if _running or os.environ.get("DL101_GRADING"):
        return None
    report = CheckReport(slug, run_public_tests(slug, namespace))
    print_report(report, stream or sys.stdout)
    return report


def check_notebook(path: Path, *, assignment: str | None = None, stream: TextIO | None = None) -> CheckReport:
    """Run a notebook's code cells in order (a failing cell is reported, later cells still run),
    then its assignment's public checks."""
    from grader.loading import UnreadableSubmission, load_cells

    try:
        notebook = load_cells(path.read_bytes(), name=path.name)
    except (OSError, UnreadableSubmission) as exc:
        raise GraderError(f"cannot read {path}: {exc}") from None
    slug = assignment or notebook.assignment
    if not slug:
        raise GraderError(f"{path} does not say which assignment it is: pass -a SLUG")
    namespace, errors = run_cells(notebook.cells)
    report = CheckReport(slug, run_public_tests(slug, namespace, near=path.parent), errors)
    print_report(report, stream or sys.stdout)
    return report


def run_cells(cells: list[str]) -> tuple[dict[str, Any], list[str]]:
    global _running
    namespace: dict[str, Any] = {"__name__": "__main__"}
    errors = []
    _running = True
    try:
        for index, source in enumerate(cells, start=1):
            try:
                exec(compile(source, f"<cell {index}>", "exec"), namespace)  # noqa: S102 (the student's own code, on their machine)
            except Exception as exc:  # a failing cell is reported; later cells still run
                line = next((f.lineno for f in reversed(traceback.extract_tb(exc.__traceback__))
                             if f.filename == f"<cell {index}>"), "?")
                errors.append(f"cell {index}, line {line}: {type(exc).__name__}: {exc}")
    finally:
        _running = False
    return namespace, errors


def public_tests(slug: str, *, near: Path | None = None) -> Path:
    """tests/test_public.py beside the notebook, else in the course's assignments/<slug>/."""
    candidates = [near / assignments.PUBLIC_TESTS] if near else []
    candidates.append(assignments.assignment_dir(slug) / assignments.PUBLIC_TESTS)
    for path in candidates:
        if path.is_file():
            return path
    raise GraderError(f"no public checks found for {slug!r} (looked for {candidates[-1]})")


def run_public_tests(slug: str, namespace: dict[str, Any], *, near: Path | None = None) -> list[TestResult]:
    import pytest

    from grader.plugin import PYTEST_ARGS, GraderPlugin
    from grader.student import LocalStudent

    path = public_tests(slug, near=near)
    student = LocalStudent(namespace)
    plugin = GraderPlugin(lambda: student)
    args = [str(path), *PYTEST_ARGS, "--rootdir", str(path.parent), "-c", os.devnull, "-p", "no:terminal"]
    code = pytest.main(args, plugins=[plugin])
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        raise GraderError(f"the public checks in {path} could not run (pytest exit code {int(code)})")
    return plugin.take_results()


def print_report(report: CheckReport, stream: TextIO) -> None:
    for error in report.cell_errors:
        print(f"  ! {error}", file=stream)
    for test in report.tests:
        mark = "PASS" if test.status == "passed" else "FAIL"
        print(f"  {mark}  {test.name}", file=stream)
        if test.output:
            print(f"        hint: {test.output}", file=stream)
    total = len(report.tests)
    print(f"{report.slug}: {report.passed}/{total} public checks passed.", file=stream)
    if report.ok:
        print("Hidden tests check more cases when your notebook is graded: test edge cases too.", file=stream)
