"""The pytest plugin every grader runs under.

- ``@pytest.mark.points(value, *, visibility="visible", hide_output=False)``: exactly one per
  test, parsed through a real signature at collection, so a bad marker fails loudly.
- ``student`` fixture: the proxy to the code being graded (sandboxed or local).
- ``rng`` fixture: ``np.random.default_rng`` seeded from the test's id, so the same inputs
  are drawn on every run.
- Results: one TestResult per test (a passing test may add feedback with pytest's
  ``record_property("feedback", text)``). An AssertionError or a StudentError is the student's
  failure (its message is the feedback); any other exception is the grader's own failure,
  reported apart and never blamed on the student.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, get_args

import numpy as np
import pytest

from grader.errors import StudentError
from grader.results import TestResult, Visibility

VISIBILITIES = get_args(Visibility)
GRADER_BROKE = "The grader itself failed on this test; your instructor has been told. It is not your fault."
#: Options every grader session runs with: plain asserts (no test source in messages),
#: no conftest (nothing dropped next to the tests runs), no cache writes, and importlib
#: imports (every assignment's graders are called test_hidden.py).
PYTEST_ARGS = ("-p", "no:cacheprovider", "--assert=plain", "--noconftest", "--strict-markers",
               "--import-mode=importlib")


#: How a call into an unfinished stub reads (grader.student / grader.sandbox.worker.describe).
_STUB_RAISED = "NotImplementedError (in "


@dataclass(frozen=True)
class Points:
    value: float
    visibility: Visibility = "visible"
    hide_output: bool = False


def _points(value: float, /, *, visibility: str = "visible", hide_output: bool = False) -> Points:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise TypeError(f"points must be a non-negative number, got {value!r}")
    if visibility not in VISIBILITIES:
        raise ValueError(f"visibility must be one of {', '.join(VISIBILITIES)}, got {visibility!r}")
    return Points(float(value), visibility, bool(hide_output))  # type: ignore[arg-type]


def points_of(item: pytest.Item) -> Points:
    marks = list(item.iter_markers("points"))
    if len(marks) != 1:
        raise pytest.UsageError(f"{item.nodeid}: needs exactly one @pytest.mark.points, has {len(marks)}")
    try:
        return _points(*marks[0].args, **marks[0].kwargs)
    except (TypeError, ValueError) as exc:
        raise pytest.UsageError(f"{item.nodeid}: bad points marker: {exc}") from None


def test_title(item: pytest.Item) -> str:
    """The first docstring line if there is one, else the test's name made readable."""
    doc = (getattr(getattr(item, "obj", None), "__doc__", None) or "").strip()
    if doc:
        return doc.splitlines()[0]
    return item.name.removeprefix("test_").replace("_", " ")


def passing_feedback(item: pytest.Item) -> str:
    """What a passing test chose to tell the student: ``record_property("feedback", text)``."""
    return "\n".join(str(value) for key, value in item.user_properties if key == "feedback")


def failure_message(exc: BaseException) -> tuple[str, bool]:
    """(feedback, grader_error) for an exception raised in a test."""
    if isinstance(exc, StudentError | AssertionError):
        message = str(exc) or "check failed"
        return message.replace(_STUB_RAISED, "not implemented yet (NotImplementedError in "), False
    return GRADER_BROKE, True


class GraderPlugin:
    """Register with ``pytest.main(plugins=[GraderPlugin(get_student)])``.

    ``get_student`` returns the proxy for the submission being graded right now.
    Results accumulate in ``results`` (keyed by node id) until ``take_results``.
    """

    def __init__(self, get_student: Callable[[], Any]) -> None:
        self._get_student = get_student
        self.results: dict[str, TestResult] = {}
        self.grader_errors: list[str] = []
        self._nodeid = ""  # of the test being set up or run

    def pytest_configure(self, config: pytest.Config) -> None:
        config.addinivalue_line(
            "markers", "points(value, *, visibility='visible', hide_output=False): points of a graded test"
        )
        if not hasattr(config.option, "tbstyle"):
            # No terminal (-p no:terminal, hence no --tb): nobody reads the tracebacks of
            # pytest's own reports, and their default "long" style parses the source of every
            # frame of every failed test (~10 ms each). Feedback comes from _record.
            config.option.tbstyle = "no"

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            points_of(item)  # raises UsageError at collection for a bad or missing marker

    @pytest.fixture
    def student(self) -> Any:
        return self._get_student()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self._nodeid = item.nodeid

    @pytest.fixture
    def rng(self) -> np.random.Generator:
        # The test's id from the hook above, not from the ``request`` fixture: pytest builds
        # that one anew for every test that uses it (~1 ms per graded submission).
        digest = hashlib.sha256(self._nodeid.encode()).digest()
        return np.random.default_rng(int.from_bytes(digest[:8], "little"))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]):
        report = yield
        if call.when == "call" or (call.excinfo is not None and item.nodeid not in self.results):
            self._record(item, call)
        return report

    def _record(self, item: pytest.Item, call: pytest.CallInfo[None]) -> None:
        points = points_of(item)
        passed = call.excinfo is None
        output, grader_error = (passing_feedback(item), False) if passed else failure_message(call.excinfo.value)
        if grader_error:
            self.grader_errors.append(f"{item.nodeid}: {call.excinfo.exconly()}")
        self.results[item.nodeid] = TestResult(
            name=test_title(item),
            score=points.value if passed else 0.0,
            max_score=points.value,
            status="passed" if passed else "failed",
            output="" if points.hide_output else output,
            visibility=points.visibility,
            grader_error=grader_error,
        )

    def take_results(self) -> list[TestResult]:
        results, self.results = list(self.results.values()), {}
        return results
