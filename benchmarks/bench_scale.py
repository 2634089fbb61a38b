"""Grading throughput: a 2-worker Dask LocalCluster vs local ``-j 2``, on the same class.

The class is 200 submissions of the real ``convolution`` assignment (the solution, the
released stub, and the solution with one bug; in a 3:1:1 mix), or of a toy ``add``
assignment when this checkout has no ``solutions/convolution``. Both modes run the same
code path as ``dl101 grade`` (``grade_paths``), in the sandbox when this machine has one.

The modes alternate for ``--rounds`` rounds (the machine may be shared: the load average
before each run is printed with it). Printed side by side, never asserted:
- end to end: wall time and submissions/s, runner start-up included (the first cluster run
  starts the workers' runners; later ones find them warm, as a long-lived cluster does);
- steady state: submissions/s between the first and the last result;
- grading time per submission measured inside the runners, and the rest of each slot's
  time per submission (overhead); the difference between the two modes' overheads is
  what Dask adds per submission (scheduling, serialization, the extra hops);
- the bare Dask round trip of a task carrying a submission-sized payload.

    .venv/bin/python benchmarks/bench_scale.py [--submissions 200] [--rounds 2] [--timeout 60]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
SLUG = "convolution"
WORKERS = 2
#: One plausible bug (a flipped kernel), applied by source substitution when found.
BUG = ("    w = np.asarray(w, dtype=float)\n", "    w = np.asarray(w, dtype=float)[::-1, ::-1]\n")
TOY_TESTS = '''
import pytest
from grader.expect import expect_close

@pytest.mark.points(2)
def test_add_numbers(student):
    """add: two numbers"""
    expect_close(student.add(1, 2), 3, what="add(1, 2)")

@pytest.mark.points(3)
def test_add_arrays(student, rng):
    """add: arrays"""
    x = rng.normal(size=(16, 16))
    expect_close(student.add(x, x), 2 * x, what="add on a 16x16 array")
'''


@dataclass
class Run:
    label: str
    load: float  # 1-minute load average when the run started
    wall: float
    first: float  # seconds from start to the first result
    last: float
    grading: list[float]  # execution_time of each graded submission (inside the runner)
    scores: dict[str, float]

    @property
    def n(self) -> int:
        return len(self.scores)

    @property
    def steady(self) -> float:
        return (self.n - 1) / (self.last - self.first) if self.last > self.first else float("nan")

    @property
    def slot_time(self) -> float:
        """Seconds each of the WORKERS slots spent per submission, in the steady state."""
        return WORKERS * (self.last - self.first) / max(1, self.n - 1)

    @property
    def overhead(self) -> float:
        return self.slot_time - statistics.mean(self.grading)


def make_class(directory: Path, n: int) -> str:
    """``n`` notebooks in ``directory``; returns the assignment slug they are for."""
    solution_path = ROOT / "solutions" / SLUG / f"{SLUG}.ipynb"
    if solution_path.is_file():
        slug = SLUG
        os.environ["DL101_ROOT"] = str(ROOT)  # the cluster's workers inherit it
        solution = nbformat.read(solution_path, as_version=4)
        stub = nbformat.read(ROOT / "assignments" / SLUG / f"{SLUG}.ipynb", as_version=4)
        buggy = nbformat.from_dict(solution)
        for cell in buggy.cells:
            if cell.cell_type == "code" and BUG[0] in cell.source:
                cell.source = cell.source.replace(BUG[0], BUG[1])
    else:  # a toy course in a temporary DL101_ROOT
        slug = "toy"
        course = directory.parent / "course"
        (course / "solutions" / slug / "tests").mkdir(parents=True)
        (course / "solutions" / slug / "tests" / "test_hidden.py").write_text(TOY_TESTS)
        os.environ["DL101_ROOT"] = str(course)
        solution, stub, buggy = (_toy(body) for body in ("a + b", "None", "a - b"))
    mix = [solution, solution, solution, stub, buggy]
    directory.mkdir(parents=True)
    for i in range(n):
        nbformat.write(mix[i % len(mix)], directory / f"s{i:04d}.ipynb")
    return slug


def _toy(body: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"import numpy as np\ndef add(a, b):\n    return {body}")]
    return nb


def timed(label: str, subs: Path, out: Path, slug: str, *, unsafe: bool, timeout: float,
          scheduler: str | None = None) -> Run:
    from grader.grade import grade_paths

    arrivals: list[float] = []
    load = os.getloadavg()[0]
    start = time.perf_counter()
    results = grade_paths([subs], assignment=slug, out=out, jobs=WORKERS, timeout=timeout, force=True,
                          unsafe=unsafe, scheduler=scheduler,
                          progress=lambda *_: arrivals.append(time.perf_counter() - start))
    wall = time.perf_counter() - start
    grading = [r.execution_time for r in results if r.execution_time]
    return Run(label, load, wall, arrivals[0], arrivals[-1], grading or [0.0],
               {r.student: r.score for r in results})


def round_trip(scheduler: str, payload: str, n: int) -> float:
    """Seconds per task for ``n`` tasks that only return their payload (the Client as DaskPool's)."""
    from distributed import Client, as_completed

    from grader.distributed import PLAIN_DATA

    with Client(scheduler, serializers=list(PLAIN_DATA), deserializers=list(PLAIN_DATA),
                set_as_default=False) as client:
        start = time.perf_counter()
        futures = [client.submit(_echo, payload, i, pure=False) for i in range(n)]
        for future in as_completed(futures, loop=client.loop):
            future.result()
        return (time.perf_counter() - start) / n


def _echo(payload: str, i: int) -> str:
    return json.dumps({"i": i, "n": len(payload)})


def table(runs: list[Run]) -> None:
    rows = [
        ("load average at start", lambda r: f"{r.load:.1f}"),
        ("submissions", lambda r: f"{r.n}"),
        ("wall, s", lambda r: f"{r.wall:.1f}"),
        ("end to end, subs/s", lambda r: f"{r.n / r.wall:.2f}"),
        ("steady state, subs/s", lambda r: f"{r.steady:.2f}"),
        ("slot time per sub, ms", lambda r: f"{1000 * r.slot_time:.0f}"),
        ("grading in runner, ms", lambda r: f"{1000 * statistics.mean(r.grading):.0f}"),
        ("overhead per sub, ms", lambda r: f"{1000 * r.overhead:.0f}"),
    ]
    width = max(len(r.label) for r in runs) + 2
    print(f"{'':<24}" + "".join(f"{r.label:>{width}}" for r in runs))
    for name, cell in rows:
        print(f"{name:<24}" + "".join(f"{cell(r):>{width}}" for r in runs))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from distributed import LocalCluster

    from grader.sandbox import sandbox_problem

    unsafe = sandbox_problem() is not None
    with tempfile.TemporaryDirectory(prefix="dl101-bench-scale-") as tmp:
        subs = Path(tmp) / "subs"
        slug = make_class(subs, args.submissions)
        print(f"{args.submissions} submissions of {slug!r}, {WORKERS} slots each way, "
              f"{'UNSAFE (no sandbox here)' if unsafe else 'sandboxed'}; "
              f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs", flush=True)
        local: list[Run] = []
        dask: list[Run] = []
        with LocalCluster(n_workers=WORKERS, threads_per_worker=1, processes=True, dashboard_address=None,
                          silence_logs=logging.ERROR) as cluster:
            address = cluster.scheduler_address
            for i in range(1, args.rounds + 1):
                order = ("local", "dask") if i % 2 else ("dask", "local")
                for mode in order:
                    if mode == "local":
                        local.append(timed(f"local #{i}", subs, Path(tmp) / f"local{i}", slug, unsafe=unsafe,
                                           timeout=args.timeout))
                    else:
                        dask.append(timed(f"dask #{i}", subs, Path(tmp) / f"dask{i}", slug, unsafe=unsafe,
                                          timeout=args.timeout, scheduler=address))
            payload = (subs / "s0000.ipynb").read_text()
            echo = round_trip(address, payload, args.submissions)
        runs = [run for pair in zip(local, dask, strict=True) for run in pair]
        table(runs)
        print(f"\nsame scores in every run: {all(r.scores == runs[0].scores for r in runs)}")
        best_local, best_dask = (max(r.n / r.wall for r in rs) for rs in (local, dask))
        best_steady = [max(r.steady for r in rs) for rs in (local, dask)]
        print(f"best end to end: local -j {WORKERS} {best_local:.2f} subs/s, dask {WORKERS} workers "
              f"{best_dask:.2f} subs/s (steady state {best_steady[0]:.2f} vs {best_steady[1]:.2f})")
        extra = statistics.median(r.overhead for r in dask) - statistics.median(r.overhead for r in local)
        print(f"Dask overhead per submission (median steady-state overhead, dask - local): {1000 * extra:+.1f} ms")
        print(f"bare Dask round trip, {len(payload) // 1024} KiB payload, {WORKERS} workers: "
              f"{1000 * echo:.1f} ms per task")
    return 0


if __name__ == "__main__":
    sys.exit(main())
