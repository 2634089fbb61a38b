"""A trusted grading process: one pytest session that grades a stream of submissions.

Collection happens once; then, for every job read from stdin (one JSON line: student,
assignment, cells), the student's cells run in a sandbox session and the assignment's
collected hidden tests run against it. One JSON line per result goes to the protocol
stream (the original stdout; pytest's own chatter is sent to stderr).

    python -m grader.runner --slot 0 [--unsafe] SLUG...
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import pytest

from grader import assignments
from grader.errors import StudentCrash, StudentTimeout
from grader.plugin import PYTEST_ARGS, GraderPlugin, points_of
from grader.results import GRADED, SubmissionResult, TestResult

READY = "ready"
#: time.monotonic() once this module's imports (pytest, numpy) are done: start-up diagnostics.
IMPORTED = time.monotonic()
#: A submission whose calls keep hanging or crashing gets this many fresh sessions, no more.
MAX_RESTARTS = 3
#: Assignments whose sandbox needs more than numpy preloaded.
PRELOAD = {"cnn_lab": ("numpy", "tensorflow")}
#: Also imported by every sandbox before it forks: the self-check cell of every released
#: notebook (``from grader.check import check``) would otherwise import it again in each
#: submission's process (~9 ms each).
WARM = ("grader.check",)


@dataclass
class Job:
    student: str
    assignment: str
    cells: list[str]
    meta: dict[str, Any] = field(default_factory=dict)
    #: Seconds this submission may run in the sandbox (None: the runner's default).
    timeout: float | None = None


class RestartingStudent:
    """The ``student`` proxy: a sandbox session that is replaced after a hang or a crash.

    A call that times out or kills the student's process fails that test only; the next
    call gets a fresh session (the notebook's cells run again), up to MAX_RESTARTS, while
    the submission's time ``budget`` (seconds) is not spent. Not when the notebook's own
    cells died: they would die again, each time after the whole budget (an infinite loop
    in a cell cost four budgets, past the pool's hard limit with the default 60 s).
    """

    def __init__(self, open_session: Callable[[], Any], budget: float | None = None) -> None:
        self._open = open_session
        self._budget = budget
        self._started = time.monotonic()
        self._session = open_session()
        self.first = self._session
        self.restarts = 0
        #: Why the notebook's own cells could not finish ("" when they did).
        self.cells_death = "" if self._session.alive else self._session.reason

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **kwargs: self.call(name, *args, **kwargs)

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self._guarded(lambda s: s.call(name, *args, **kwargs))

    def defined(self, name: str) -> bool:
        return self._guarded(lambda s: s.defined(name))

    def harness(self, module: str, function: str, *args: Any, **kwargs: Any) -> Any:
        return self._guarded(lambda s: s.run_harness(module, function, *args, **kwargs))

    def _may_restart(self) -> bool:
        if self.restarts >= MAX_RESTARTS or self.cells_death:
            return False
        return self._budget is None or time.monotonic() - self._started < self._budget

    def _guarded(self, action: Callable[[Any], Any]) -> Any:
        if not self._session.alive and self._may_restart():
            self.restarts += 1
            self._session.close()
            self._session = self._open()
        try:
            return action(self._session)
        except (StudentTimeout, StudentCrash):
            self._session.close()
            raise

    def close(self) -> None:
        self._session.close()
        self.first.close()


class StreamLoop:
    """pytest plugin whose run loop grades jobs until the stream ends."""

    def __init__(self, jobs: Iterable[Job], emit: Callable[[dict[str, Any]], None], *,
                 slot: int, unsafe: bool, timeout: float) -> None:
        self.jobs, self.emit = jobs, emit
        self.slot, self.unsafe, self.timeout = slot, unsafe, timeout
        self.student: RestartingStudent | None = None
        self.plugin = GraderPlugin(lambda: self.student)
        self.workers: dict[tuple[tuple[str, ...], float], Any] = {}

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool:
        if session.testsfailed:
            raise session.Failed("the hidden tests could not be collected")
        by_slug: dict[str, list[pytest.Item]] = {}
        for item in session.items:
            by_slug.setdefault(item.path.parent.parent.name, []).append(item)
        max_scores = {slug: sum(points_of(i).value for i in items) for slug, items in by_slug.items()}
        clock = {"imported": IMPORTED, "collected": time.monotonic()}  # system-wide monotonic clock
        self.emit({"event": READY, "max_scores": max_scores, "clock": clock})
        try:
            for job in self.jobs:
                self.emit(self.grade(job, by_slug.get(job.assignment, [])).to_dict())
        finally:
            for worker in self.workers.values():
                worker.close()
        return True

    def worker(self, job: Job) -> Any:
        """A warm sandbox for this job's preloads and time budget, started on first use."""
        from grader.sandbox import Limits, Worker

        key = (PRELOAD.get(job.assignment, ("numpy",)) + WARM, job.timeout or self.timeout)
        if key not in self.workers:
            worker = Worker(slot=self.slot, unsafe=self.unsafe, preload=key[0], limits=Limits(session_wall=key[1]))
            worker.start()
            self.workers[key] = worker
        return self.workers[key]

    def grade(self, job: Job, items: list[pytest.Item]) -> SubmissionResult:
        start = time.perf_counter()
        worker = self.worker(job)
        self.student = RestartingStudent(lambda: worker.session(job.cells), worker.limits.session_wall)
        try:
            # nextitem: fixtures above function scope stay set up until this submission's
            # last test (None there: everything is torn down before the next student).
            for item, nextitem in zip(items, [*items[1:], None], strict=True):
                item.ihook.pytest_runtest_protocol(item=item, nextitem=nextitem)
            tests = self.plugin.take_results()
            for error in self.plugin.grader_errors:  # "your instructor has been told": here
                print(f"grader error grading {job.student} ({job.assignment}): {error}", file=sys.stderr)
            self.plugin.grader_errors.clear()
        finally:
            self.student.close()
        result = summarize(job, self.student, tests)
        result.unsafe = self.unsafe
        result.execution_time = round(time.perf_counter() - start, 4)
        return result


def summarize(job: Job, student: RestartingStudent, tests: list[TestResult]) -> SubmissionResult:
    first = student.first
    notes = [job.meta["note"]] if job.meta.get("note") else []
    notes += [f"Cell {c.index + 1} failed: {c.error}" for c in first.cells if not c.ok]
    status = GRADED
    death = student.cells_death
    if death:
        status = "timeout" if "time" in death else "crashed"
        notes.insert(0, f"Your notebook stopped while its cells ran: {death}.")
    if any(t.grader_error for t in tests):
        status = "error"
        notes.append("The grader failed on some tests; your instructor has been told.")
    return SubmissionResult(
        student=job.student,
        assignment=job.assignment,
        status=status,
        score=round(sum(t.score for t in tests), 6),
        max_score=round(sum(t.max_score for t in tests), 6),
        tests=tests,
        output="\n".join(notes),
        submitted_at=job.meta.get("submitted_at", ""),
        source=job.meta.get("source", ""),
    )


def read_jobs(stream: IO[str]) -> Iterator[Job]:
    for line in stream:
        if line.strip():
            yield Job(**json.loads(line))


def pytest_args(slugs: list[str]) -> list[str]:
    paths = [str(assignments.hidden_tests(slug)) for slug in slugs]
    root = str(assignments.repo_root())
    # No log or output capture: graders' prints go to the runner's stderr (grader.log), and
    # capturing costs ~1 ms per submission for nothing (student output never reaches here).
    return [*paths, *PYTEST_ARGS, "--rootdir", root, "-c", os.devnull, "-p", "no:terminal",
            "-p", "no:logging", "--capture=no"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.runner")
    parser.add_argument("--slot", type=int, default=0)
    parser.add_argument("--unsafe", action="store_true")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per submission")
    parser.add_argument("slugs", nargs="+")
    args = parser.parse_args(argv)
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    jobs_in = os.fdopen(os.dup(0), "r")  # pytest's fd capture points fd 0 at /dev/null
    os.dup2(2, 1)  # pytest and anything else that prints: stderr, never the protocol

    def emit(message: dict[str, Any]) -> None:
        proto.write(json.dumps(message) + "\n")

    loop = StreamLoop(read_jobs(jobs_in), emit, slot=args.slot, unsafe=args.unsafe, timeout=args.timeout)
    code = pytest.main(pytest_args(args.slugs), plugins=[loop.plugin, loop])
    return 0 if code in (0, 1, 5) else int(code)


if __name__ == "__main__":
    sys.exit(main())
