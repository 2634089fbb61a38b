"""Typed grading results: what a runner produces and every report consumes.

Everything here is plain data (str, float, bool, lists of these), so it travels as JSON
between processes and machines; nothing is ever pickled.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Visibility = Literal["hidden", "after_due_date", "after_published", "visible"]
TestStatus = Literal["passed", "failed"]

#: Submission statuses. ``graded`` means the graders ran, whatever the score.
GRADED = "graded"
STATUSES = (GRADED, "timeout", "crashed", "unreadable", "missing", "tampered", "error")


@dataclass
class TestResult:
    """One hidden (or public) test, in Gradescope's vocabulary."""

    __test__ = False  # not a pytest test class

    name: str
    score: float
    max_score: float
    status: TestStatus
    output: str = ""
    visibility: Visibility = "visible"
    #: The grader (not the student) broke while running this test.
    grader_error: bool = False


@dataclass
class SubmissionResult:
    """One student's submission of one assignment."""

    student: str
    assignment: str
    status: str
    score: float = 0.0
    max_score: float = 0.0
    tests: list[TestResult] = field(default_factory=list)
    #: Why the status is not ``graded``, or notes worth showing (cells that failed, ...).
    output: str = ""
    execution_time: float = 0.0
    source: str = ""
    #: True when graded with --unsafe-no-sandbox: every report must say so.
    unsafe: bool = False
    #: Submission time (ISO 8601) when known (nbgrader timestamp.txt, LMS), else "".
    submitted_at: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SubmissionResult:
        data = dict(data)
        data["tests"] = [TestResult(**t) for t in data.get("tests", [])]
        return cls(**data)

    @property
    def grader_broke(self) -> bool:
        return self.status == "error" or any(t.grader_error for t in self.tests)
