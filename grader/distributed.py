"""Grade on a Dask distributed cluster: ``dl101 grade --scheduler tcp://HOST:PORT``.

    with DaskPool(["convolution"], scheduler="tcp://10.0.0.5:8786", unsafe=False, timeout=60,
                  log_path=Path("grades/grader.log")) as pool:
        for result in pool.grade(jobs): ...

Only the grading moves: the submitting process discovers, plans and writes every report
(``grade.run_plan``) exactly as in local mode. Each submission is one Dask task, ``grade_task``,
whose input is the Job as JSON text and whose output is the SubmissionResult as JSON text. On
the worker the task grades on a long-lived local :class:`grader.pool.RunnerPool` (a warm runner
and sandbox slot per worker thread), the very machinery of local mode.

Safety. Results travel as plain data and the Client only accepts plain data: see
``PLAIN_DATA``. The worker checks that it has the submitting machine's course (hidden tests,
``cnn_ref``, dl101 version) and a working sandbox before it grades anything.

Faults. A task is pure (its key is a hash of its inputs; the same submission gives the same
result) and idempotent (it writes nothing; only the submitting process writes), so running it
twice is harmless. A worker lost mid-task: the scheduler runs the task again elsewhere (up to
``distributed.scheduler.allowed-failures`` times; past that the submission is ``crashed``, like
a runner that keeps dying in local mode). A task that raises (a worker without the course or
without bubblewrap) is retried ``RETRIES`` times, then the batch stops with a GraderError.
Either way every result already received is written, so re-running the command resumes.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import importlib.util
import itertools
import json
import os
import socket
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import grader
from grader import assignments
from grader.errors import GraderError
from grader.results import SubmissionResult
from grader.runner import Job

if TYPE_CHECKING:
    from distributed import Future

    from grader.pool import RunnerPool

# Nothing a student's code produced is ever unpickled, here or anywhere.
#
# The student's code runs in the sandbox, under its own uid, with no network: it cannot reach
# the scheduler, a Dask worker's memory or its connections. Its only way out is the sandbox
# protocol, decoded by the header-checked reader in the trusted runner, which sends the
# result to the Dask worker as a JSON line; the task returns that result as JSON text.
#
# The Client below deserializes task results with msgpack only (``deserializers``, which it
# also sends to the scheduler, so workers serialize results for it with msgpack): a str
# arrives as a str, and anything that is not plain data (a numpy array, any object a
# compromised worker might send) is refused with a TypeError instead of being unpickled.
#
# What Dask still unpickles on the Client is metadata pickled by the trusted worker and
# scheduler processes themselves: the result's type (``str``), and the exception of a task
# that raised. ``grade_task`` raises only RuntimeErrors whose messages it wrote itself
# (``from None``: no chained exception travels). Unpickling bytes that a trusted
# ``pickle.dumps`` made from such objects cannot run code; the danger is pickle bytes an
# attacker wrote, and no pickle on this path holds bytes a student wrote.
#: The only serialization families the Client uses for data: msgpack (plain data only).
PLAIN_DATA = ("msgpack",)

#: Times a task that raised (a broken worker, not a student) is run again.
RETRIES = 2
#: Tasks submitted ahead per worker thread (and at least MIN_IN_FLIGHT): bounds what the
#: scheduler holds for a class of tens of thousands while keeping every worker busy.
IN_FLIGHT_PER_THREAD = 4
MIN_IN_FLIGHT = 32
#: Seconds to reach the scheduler, and to wait for its first worker.
CONNECT_TIMEOUT = 10.0
WORKERS_TIMEOUT = 60.0
#: Runner log on each worker machine.
WORKER_LOG = Path(tempfile.gettempdir()) / "dl101-dask-runners.log"


class DaskPool:
    """Same interface as :class:`grader.pool.RunnerPool`, grading on a Dask cluster."""

    def __init__(self, slugs: list[str], *, scheduler: str, unsafe: bool, timeout: float,
                 log_path: Path) -> None:
        from distributed import Client

        self.slugs, self.unsafe, self.timeout = sorted(slugs), unsafe, timeout
        self.scheduler = scheduler
        #: Total points per assignment, as the workers' runners collected them.
        self.max_scores: dict[str, float] = {}
        self.digest = course_digest(self.slugs)
        self.log = open(log_path, "a", encoding="utf-8")  # noqa: SIM115 (closed in close())
        try:
            self.client = Client(scheduler, serializers=list(PLAIN_DATA), deserializers=list(PLAIN_DATA),
                                 timeout=CONNECT_TIMEOUT, set_as_default=False)
        except Exception as exc:  # OSError, TimeoutError, ValueError for a malformed address
            self.log.close()
            raise GraderError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        try:
            self.client.wait_for_workers(1, timeout=WORKERS_TIMEOUT)
        except TimeoutError:
            self.close()
            raise GraderError(f"no Dask worker joined the scheduler at {scheduler} within "
                              f"{WORKERS_TIMEOUT:g} s: start `dask worker {scheduler}` on the grading machines") from None
        self._threads, self._threads_at = 0, 0.0
        self._log(f"grading on {scheduler}: {self._worker_threads()} worker threads")

    def __enter__(self) -> DaskPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            client.close()
        self.log.close()

    def grade(self, jobs: Iterable[Job]) -> Iterator[SubmissionResult]:
        """Results in completion order; a bounded number of tasks in flight."""
        from distributed import as_completed

        pending = deque(jobs)
        waiting: dict[str, list[Job]] = {}  # task key -> its jobs (identical jobs share a task)
        running = as_completed(loop=self.client.loop)
        futures: list[Future] = []

        def submit_more() -> None:
            while pending and running.count() < self._in_flight():
                job = pending.popleft()
                future = self._submit(job)
                if future.key not in waiting:
                    running.add(future)
                    futures.append(future)
                waiting.setdefault(future.key, []).append(job)

        try:
            submit_more()
            for future in running:
                jobs_done = waiting.pop(future.key)
                results = [self._collect(future, job) for job in jobs_done]
                future.release()
                submit_more()
                yield from results
        finally:
            self.client.cancel([f for f in futures if not f.done()])

    def _submit(self, job: Job) -> Future:
        job_text = json.dumps(asdict(job), sort_keys=True)
        args = (job_text, self.slugs, self.unsafe, float(self.timeout), self.digest)
        token = hashlib.sha256(json.dumps(args).encode()).hexdigest()[:32]
        # The key is a hash of the inputs: the task is pure, so equal keys mean equal results.
        return self.client.submit(grade_task, *args, key=f"dl101-grade-{job.assignment}-{token}",
                                  retries=RETRIES)

    def _collect(self, future: Future, job: Job) -> SubmissionResult:
        from distributed import KilledWorker

        who = f"{job.student}'s {job.assignment}"
        if future.status == "error":
            exc = future.exception()
            if isinstance(exc, KilledWorker):
                self._log(f"{who}: {exc}")
                return SubmissionResult(
                    student=job.student, assignment=job.assignment, status="crashed", unsafe=self.unsafe,
                    output="Not graded: the machines grading this submission stopped unexpectedly, repeatedly.",
                    source=job.meta.get("source", ""), submitted_at=job.meta.get("submitted_at", ""))
            self._log(f"{who}: {exc}")
            raise GraderError(f"a Dask worker could not grade {who}: {exc}")
        try:
            text = future.result()
            data = json.loads(text)
            result = SubmissionResult.from_dict(data["result"])
            max_scores = {str(k): float(v) for k, v in data["max_scores"].items()}
        except Exception as exc:  # cancelled (scheduler lost), refused or malformed
            self._log(f"{who}: {type(exc).__name__}: {exc}")
            raise GraderError(f"no usable result for {who} from {self.scheduler}: "
                              f"{type(exc).__name__}: {exc}") from None
        if (result.student, result.assignment) != (job.student, job.assignment):
            raise GraderError(f"the cluster answered for {result.student}'s {result.assignment}, not {who}")
        self.max_scores.update(max_scores)
        return result

    def _in_flight(self) -> int:
        return max(MIN_IN_FLIGHT, IN_FLIGHT_PER_THREAD * self._worker_threads())

    def _worker_threads(self) -> int:
        """Threads of the cluster's workers (asked at most every few seconds: workers come and go)."""
        if time.monotonic() - self._threads_at > 5:
            self._threads, self._threads_at = sum(self.client.nthreads().values()), time.monotonic()
        return self._threads

    def _log(self, line: str) -> None:
        self.log.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} dask: {line}\n")
        self.log.flush()


def course_digest(slugs: list[str]) -> str:
    """What the graders' verdicts depend on: dl101's version, the hidden tests, ``cnn_ref``."""
    digest = hashlib.sha256(grader.__version__.encode())
    trees = [assignments.hidden_tests(slug).parent for slug in sorted(slugs)]
    spec = importlib.util.find_spec("cnn_ref")
    if spec and spec.submodule_search_locations:
        trees.append(Path(next(iter(spec.submodule_search_locations))))
    for tree in trees:
        for path in sorted(p for p in tree.rglob("*.py") if "__pycache__" not in p.parts):
            digest.update(f"\0{path.relative_to(tree)}\0".encode() + path.read_bytes())
    return digest.hexdigest()[:16]


# ----------------------------------------------------------------------------- worker side


def grade_task(job_text: str, slugs: list[str], unsafe: bool, timeout: float, digest: str) -> str:
    """The Dask task: grade one submission on this worker; ``{"result", "max_scores"}`` as JSON text.

    Pure and idempotent: it writes nothing outside its sandbox, and the same inputs give the
    same result. Raises (so Dask retries it) only when this worker cannot grade at all.
    """
    config = (tuple(slugs), bool(unsafe), float(timeout), digest)
    problem = _worker_problem(config)
    if problem:
        raise RuntimeError(f"{_where()}: {problem}")
    try:
        job = Job(**json.loads(job_text))
        with _local_pool(config) as pool:
            result = pool.grade_one(job)
            max_scores = dict(pool.max_scores)
    except Exception as exc:  # e.g. the runner could not start: this worker's problem, never a student's
        raise RuntimeError(f"{_where()}: {type(exc).__name__}: {exc}") from None
    return json.dumps({"result": result.to_dict(), "max_scores": max_scores})


#: What a worker's warm runners were started for: (slugs, unsafe, timeout, course digest).
Config = tuple[tuple[str, ...], bool, float, str]


def _worker_problem(config: Config) -> str | None:
    slugs, unsafe, _, digest = config
    try:
        mine = course_digest(list(slugs))  # ~1 ms; a checkout updated in place gets fresh runners
    except GraderError as exc:
        return f"{exc} (set DL101_ROOT to the course checkout before starting `dask worker`)"
    if mine != digest:
        return ("its course (hidden tests, cnn_ref or dl101 version) differs from the submitting "
                "machine's: deploy the same checkout on every worker")
    if not unsafe:
        from grader.sandbox import sandbox_problem

        problem = sandbox_problem()
        if problem:
            return f"cannot sandbox student code here: {problem}"
    return None


def _where() -> str:
    try:
        from distributed import get_worker

        return f"worker {get_worker().address} ({socket.gethostname()})"
    except ValueError:  # not inside a Dask worker (called directly)
        return f"host {socket.gethostname()}"


# One RunnerPool (one warm runner) per worker thread that grades, kept between tasks.
_lock = threading.Lock()
_idle: dict[Config, list[RunnerPool]] = {}
_pools_started = itertools.count()
#: Dask workers' sandbox slots start here: clear of local mode's 0..jobs-1.
SLOT_BASE = 100


@contextlib.contextmanager
def _local_pool(config: Config) -> Iterator[RunnerPool]:
    from grader.pool import RunnerPool

    with _lock:
        for other in [c for c in _idle if c != config]:  # a new batch's set-up: stop the old runners
            for pool in _idle.pop(other):
                pool.close()
        idle = _idle.setdefault(config, [])
        pool = idle.pop() if idle else None
    if pool is None:
        slugs, unsafe, timeout, _ = config
        pool = RunnerPool(list(slugs), jobs=1, unsafe=unsafe, timeout=timeout, log_path=WORKER_LOG,
                          first_slot=_new_slot(), die_with_parent=True)
    try:
        yield pool
    except BaseException:
        pool.close()
        raise
    with _lock:
        _idle.setdefault(config, []).append(pool)


def _new_slot() -> int:
    """A slot spread by process id: the workers of one machine rarely share one, and when they
    do the sandbox still gives each its own uid (it locks one of several per slot)."""
    from grader.sandbox.host import MAX_SLOT

    base = min(SLOT_BASE, MAX_SLOT // 2)
    return base + (os.getpid() * 7 + next(_pools_started)) % (MAX_SLOT - base)


@atexit.register
def _close_idle_pools() -> None:
    with _lock:
        for pools in _idle.values():
            for pool in pools:
                pool.close()
        _idle.clear()
