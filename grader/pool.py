"""A pool of trusted runner processes (grader.runner), fed jobs over pipes as JSON lines.

Each runner owns one sandbox slot. A runner that dies or overruns its hard deadline is
killed (its sandbox dies with it), the submission it held gets a clear status, and a
fresh runner takes its place: one bad submission never stops the batch.

Runners outlive a ``grade()`` call: a long-lived pool grades job after job on warm
runners (``grade_one``, what each Dask worker does in :mod:`grader.distributed`).
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import IO

from grader.errors import GraderError
from grader.results import SubmissionResult
from grader.runner import READY, Job

#: Seconds a runner may take to collect the graders and warm its sandbox.
START_TIMEOUT = 180.0
#: Bytes of one result line a runner may send (results carry capped student output).
MAX_LINE = 16 << 20
#: A runner gets its next job while it grades one (it waits in the runner's stdin pipe, so
#: the runner never waits for this process between submissions), if the job's line is at
#: most this long: a write into a pipe nobody reads yet must not block.
PREFETCH_BYTES = 32 << 10


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class Runner:
    def __init__(self, slot: int, slugs: list[str], *, unsafe: bool, timeout: float, log: IO[bytes],
                 die_with_parent: bool = False) -> None:
        # -P: the working directory is not put on sys.path. It may be a folder of submissions,
        # and a student's cnn_ref/, pytest.py or grader/ there would be imported by the runner.
        cmd = [sys.executable, "-P", "-m", "grader.runner", "--slot", str(slot), "--timeout", str(timeout)]
        cmd += ["--unsafe"] * unsafe + slugs
        setpriv = shutil.which("setpriv") if die_with_parent else None
        if setpriv:  # SIGKILL when our thread dies; the runner's sandbox dies with the runner
            cmd = [setpriv, "--pdeathsig", "KILL", "--", *cmd]
        self.slot = slot
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                     env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
        self.buffer = b""
        #: Jobs sent and not answered yet: the one being graded first, then at most one more.
        self.queue: deque[Job] = deque()
        self.deadline = time.monotonic() + START_TIMEOUT
        self.ready = False

    @property
    def job(self) -> Job | None:
        """The job being graded (None when idle)."""
        return self.queue[0] if self.queue else None

    def send(self, job: Job, line: bytes, hard_timeout: float) -> bool:
        """False if the runner has gone: the end of its output tells the pool what happened."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(line)
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError):  # ValueError: already closed
            return False
        if not self.queue:  # the deadline of a queued job starts when its turn comes
            self.deadline = time.monotonic() + hard_timeout
        self.queue.append(job)
        return True

    def lines(self) -> Iterator[dict]:
        """Complete messages read so far; raises EOFError when the runner has gone."""
        assert self.proc.stdout is not None
        chunk = os.read(self.proc.stdout.fileno(), 1 << 20)
        if not chunk:
            raise EOFError
        self.buffer += chunk
        if len(self.buffer) > MAX_LINE:
            raise EOFError
        *complete, self.buffer = self.buffer.split(b"\n")
        for line in complete:
            yield json.loads(line)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream:
                try:
                    stream.close()
                except OSError:  # a job line left unflushed by a runner that had gone
                    pass


class RunnerPool:
    """``with RunnerPool(slugs, jobs=2) as pool: for result in pool.grade(jobs): ...``"""

    def __init__(self, slugs: list[str], *, jobs: int, unsafe: bool, timeout: float, log_path: Path,
                 first_slot: int = 0, die_with_parent: bool = False) -> None:
        self.slugs, self.size, self.unsafe, self.timeout = slugs, max(1, jobs), unsafe, timeout
        #: Runners use sandbox slots ``first_slot .. first_slot + jobs - 1``.
        self.first_slot, self.die_with_parent = first_slot, die_with_parent
        self.log = open(log_path, "ab")  # noqa: SIM115 (closed in close())
        self.selector = selectors.DefaultSelector()
        self.runners: list[Runner] = []
        #: Jobs of the current ``grade()`` call not sent to a runner yet.
        self.pending: deque[Job] = deque()
        #: Total points per assignment, as the runners collected them.
        self.max_scores: dict[str, float] = {}

    def __enter__(self) -> RunnerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for runner in self.runners:
            self._drop(runner)
        self.log.close()

    def _spawn(self, slot: int) -> Runner:
        runner = Runner(slot, self.slugs, unsafe=self.unsafe, timeout=self.timeout, log=self.log,
                        die_with_parent=self.die_with_parent)
        self.runners.append(runner)
        self.selector.register(runner.proc.stdout, selectors.EVENT_READ, runner)  # type: ignore[arg-type]
        return runner

    def _drop(self, runner: Runner) -> None:
        if runner in self.runners:
            self.runners.remove(runner)
            self.selector.unregister(runner.proc.stdout)  # type: ignore[arg-type]
        runner.kill()

    def hard_timeout(self, job: Job) -> float:
        """Past this a submission's runner is killed: the sandbox's own limits have failed."""
        return 2 * (job.timeout or self.timeout) + 30

    def grade(self, jobs: Iterable[Job]) -> Iterator[SubmissionResult]:
        self.pending = pending = deque(jobs)
        for runner in [r for r in self.runners if r.proc.poll() is not None]:
            self._drop(runner)  # died while idle since the last call: replaced below
        taken = {r.slot for r in self.runners}
        free = [s for s in range(self.first_slot, self.first_slot + self.size) if s not in taken]
        for slot in free[: max(0, min(self.size, len(pending)) - len(self.runners))]:
            self._spawn(slot)
        while pending or any(r.job for r in self.runners):
            self._dispatch(pending)
            for result in self._wait():
                # Refill the runner that just finished before the caller handles its result
                # (writes reports, ...): runners never wait for the batch's bookkeeping.
                self._dispatch(pending)
                yield result

    def _dispatch(self, pending: deque[Job]) -> None:
        for runner in self.runners:
            while runner.ready and pending:
                # A second job only while there is more work than runners: near the end of
                # the batch a job must not wait behind another one while a runner is idle.
                if len(runner.queue) >= (2 if len(pending) > len(self.runners) else 1):
                    break
                line = (json.dumps(asdict(pending[0])) + "\n").encode()
                if runner.queue and len(line) > PREFETCH_BYTES:
                    break
                if not runner.send(pending[0], line, self.hard_timeout(pending[0])):
                    break
                pending.popleft()

    def grade_one(self, job: Job) -> SubmissionResult:
        """Grade one job on a warm runner (started on first use, kept for the next call)."""
        (result,) = self.grade([job])
        return result

    def _wait(self) -> Iterator[SubmissionResult]:
        now = time.monotonic()
        wait = max(0.0, min(r.deadline for r in self.runners) - now)
        for key, _ in self.selector.select(timeout=min(wait, 1.0)):
            runner: Runner = key.data
            try:
                for message in runner.lines():
                    yield from self._handle(runner, message)
            except (EOFError, ValueError):
                yield from self._replace(runner, "crashed", "the grading process stopped unexpectedly")
        for runner in list(self.runners):
            if time.monotonic() > runner.deadline:
                yield from self._replace(runner, "timeout", "grading took longer than the hard time limit")

    def _handle(self, runner: Runner, message: dict) -> Iterator[SubmissionResult]:
        if message.get("event") == READY:
            runner.ready, runner.deadline = True, float("inf")
            self.max_scores.update(message.get("max_scores", {}))
            return
        runner.queue.popleft()
        nxt = runner.job
        runner.deadline = time.monotonic() + self.hard_timeout(nxt) if nxt else float("inf")
        yield SubmissionResult.from_dict(message)

    def _replace(self, runner: Runner, status: str, reason: str) -> Iterator[SubmissionResult]:
        job, was_ready = runner.job, runner.ready
        self.pending.extendleft(reversed(list(runner.queue)[1:]))  # queued, never started: regraded
        self._drop(runner)
        if not was_ready:
            raise GraderError(f"a grading process failed to start ({reason}); the end of {self.log.name}:\n"
                              + log_tail(Path(self.log.name)))
        if job is not None:
            yield SubmissionResult(student=job.student, assignment=job.assignment, status=status,
                                   output=f"Not graded: {reason}.", unsafe=self.unsafe,
                                   source=job.meta.get("source", ""),
                                   submitted_at=job.meta.get("submitted_at", ""))
        self._spawn(runner.slot)
