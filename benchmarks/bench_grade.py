"""`dl101 grade -j 2` on a class of 200 `convolution` notebooks vs the floor of nbgrader's design.

The class (generated into a temporary directory; seeded, so every run grades the same notebooks):
- 70% the solution notebook as a student hands it in: solution markers stripped, release
  metadata ``dl101.assignment = "convolution"`` (so no ``-a`` is needed);
- 20% partly wrong: the solution with one bug (flipped kernel, bias ignored, SAME padding
  split the wrong way, floor instead of ceil, a zero_pad that pads only the height, a
  conv_single_step that drops the bias, a syntax error in one function's cell, a conv2d that
  never raises);
- 10% the released stub (every function raises NotImplementedError).

dl101: ``grade_paths`` (what ``dl101 grade`` runs) with 2 jobs, a fresh output directory each
round (no resume), in the sandbox when this machine has one. Its wall time includes
discovery, runner start-up, grading, every per-student report and the class reports.

Baseline, the floor of nbgrader's design: each notebook plus one test cell (the hidden
graders' cases written as plain asserts against ``cnn_ref``) executed by nbclient in a fresh
kernel, one notebook after the other, like ``nbgrader autograde``. That costs ~1 s per
notebook, so a sample of the class is timed (stratified over the mix), not all 200.

Rounds alternate the two (a dl101 batch, then part of the baseline sample), so both see the
same machine load; the ratio is the median of the rounds' ratios. The load average is printed
with every round: this machine is shared, and a busy neighbour moves every figure.

Printed, never asserted: per-notebook wall time of both and their ratio (target: dl101 at
least 25x less time per notebook); CPU time per notebook of both (dl101's counts the main
process, the runners, their sandboxes and the students' processes; the baseline's, nbclient
and the kernels); a breakdown of the median dl101 batch: start-up (planning, runner imports,
pytest collection, sandbox warm-up), steady state (wall per submission with both slots
busy, grading time in one slot, a slot's gap between two submissions, per-student reports
written by the main process meanwhile) and the class reports at the end.

    .venv/bin/python benchmarks/bench_grade.py [--submissions 200] [--jobs 2] [--rounds 3]
                                               [--baseline 21] [--no-baseline]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import logging
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SLUG = "convolution"
TARGET = 25.0

#: One bug each, by exact substitution in the solution notebook's code (checked to apply).
BUGS: dict[str, tuple[str, str]] = {
    "flipped_kernel": ("    w = np.asarray(w, dtype=float)\n", "    w = np.asarray(w, dtype=float)[::-1, ::-1]\n"),
    "bias_ignored": ("out = out + np.asarray(b, dtype=float)", "out = out"),
    "same_split_before": ("pads.append((total // 2, total - total // 2))",
                          "pads.append((total - total // 2, total // 2))"),
    "same_floor": ("out_size = -(-size // s)", "out_size = size // s"),
    "pad_height_only": ("((0, 0), (top, bottom), (left, right), (0, 0))", "((0, 0), (top, bottom), (0, 0), (0, 0))"),
    "single_step_no_bias": ("return float(np.sum(patch * kernel) + bias)", "return float(np.sum(patch * kernel))"),
    "syntax_error": ("def zero_pad(x, pad):", "def zero_pad(x, pad)"),
    "never_raises": ("        raise ValueError(f\"a {kh}x{kw} kernel", "        print(f\"a {kh}x{kw} kernel"),
}

#: The baseline's test cell: the hidden graders' cases as plain asserts (nbgrader style).
#: ``{root}`` is replaced by the repository root (cnn_ref lives there).
TEST_CELL = '''
import copy as _copy, sys as _sys
_sys.path.insert(0, {root!r})
import numpy as _np
import cnn_ref as _ref

_rng = _np.random.default_rng(0)
_score = _total = 0.0

def _check(points, name, *args, **kwargs):
    global _score, _total
    _total += points
    try:
        got = globals()[name](*_copy.deepcopy(args), **_copy.deepcopy(kwargs))
        expected = getattr(_ref, name)(*args, **kwargs)
        got = _np.asarray(got, dtype=float)
        assert got.shape == _np.shape(expected), f"{{name}}: shape {{got.shape}}"
        _np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
        _score += points
    except Exception as exc:
        print(f"FAILED {{name}}: {{type(exc).__name__}}: {{str(exc)[:200]}}")

def _raises(points, *args, **kwargs):
    global _score, _total
    _total += points
    try:
        conv2d(*args, **kwargs)
    except ValueError:
        _score += points
        return
    except Exception as exc:
        print(f"FAILED conv2d should raise ValueError: {{type(exc).__name__}}")
        return
    print("FAILED conv2d should raise ValueError")

_n = _rng.normal
_patch = _np.array([[0.6, 0.2, 0.6], [0.1, -0.2, -0.3], [-0.5, -0.1, -0.3]])
_edge = _np.array([[1.0, 1, 1], [0, 0, 0], [-1, -1, -1]])
_check(0.5, "conv_single_step", _patch, _edge)
_check(0.5, "conv_single_step", -_patch, _edge)
_check(1, "conv_single_step", _n(size=(3, 3, 4)), _n(size=(3, 3, 4)))
_check(1, "conv_single_step", _n(size=(2, 2, 3)), _n(size=(2, 2, 3)), 2.5)
_check(1, "conv_single_step", _rng.integers(-5, 6, size=(2, 5)), _rng.integers(-3, 4, size=(2, 5)), 1.0)
_check(1, "zero_pad", _n(size=(2, 3, 4, 3)), 2)
_check(1, "zero_pad", _n(size=(1, 4, 2, 2)), ((1, 2), (3, 0)))
_check(1, "zero_pad", _rng.integers(0, 256, size=(3, 2, 3, 1)), ((0, 1), (1, 0)))
_cases = [
    (1.5, (1, 5, 5, 1), (3, 3, 1, 1), {{}}),
    (1.5, (2, 6, 6, 3), (3, 3, 3, 4), {{}}),
    (1.5, (1, 7, 5, 2), (2, 3, 2, 3), {{}}),
    (1.5, (1, 7, 7, 2), (2, 2, 2, 2), {{"stride": 2}}),
    (1, (2, 8, 10, 1), (3, 3, 1, 2), {{"stride": 3}}),
    (1.5, (1, 7, 6, 2), (3, 2, 2, 2), {{"stride": (2, 1)}}),
    (1, (1, 5, 6, 2), (3, 3, 2, 2), {{"padding": "same"}}),
    (1.5, (1, 5, 6, 1), (2, 4, 1, 2), {{"padding": "same"}}),
    (1.5, (1, 5, 5, 2), (4, 4, 2, 1), {{"stride": 2, "padding": "same"}}),
    (1.5, (2, 7, 8, 2), (2, 3, 2, 1), {{"stride": 3, "padding": "same"}}),
    (0.5, (1, 2, 3, 1), (5, 4, 1, 1), {{"padding": "same"}}),
    (1.5, (1, 6, 6, 2), (3, 3, 2, 2), {{"stride": 2, "padding": 1}}),
    (1.5, (1, 4, 4, 1), (3, 3, 1, 2), {{"padding": ((2, 0), (1, 3))}}),
    (0.5, (1, 5, 5, 1), (2, 2, 1, 1), {{"padding": "SAME"}}),
    (1, (3, 5, 5, 2), (3, 3, 2, 2), {{"padding": "same"}}),
]
for _points, _xs, _ws, _kw in _cases:
    _check(_points, "conv2d", _n(size=_xs), _n(size=_ws), **_kw)
_check(1.5, "conv2d", _n(size=(2, 4, 4, 2)), _n(size=(2, 2, 2, 3)), _n(size=3))
_check(1, "conv2d", _rng.integers(0, 256, size=(1, 5, 6, 1)).astype(_np.uint8), _np.full((3, 3, 1, 1), 1 / 9))
_check(0.5, "conv2d", _n(size=(2, 5, 4, 2)), _n(size=(3, 2, 2, 2)), _n(size=2), stride=2, padding="same")
_raises(1, _np.ones((1, 3, 3, 1)), _np.ones((4, 4, 1, 1)))
print(f"score: {{_score:g}} / {{_total:g}}")
'''


# ---------------------------------------------------------------------------- the class


def submission_notebook(solution: nbformat.NotebookNode, bug: str | None) -> nbformat.NotebookNode:
    """The solution as a student hands it in (markers stripped, slug recorded), with ``bug``."""
    nb = copy.deepcopy(solution)
    nb.metadata["dl101"] = {"assignment": SLUG}
    applied = bug is None
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        lines = [ln for ln in cell.source.splitlines() if ln.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")]
        cell.source = "\n".join(lines) + "\n"
        if bug is not None and BUGS[bug][0] in cell.source:
            old, new = BUGS[bug]
            cell.source = cell.source.replace(old, new, 1)
            applied = True
    if not applied:
        raise SystemExit(f"bug {bug!r} does not apply to the solution notebook any more")
    return nb


def make_class(directory: Path, n: int, seed: int = 101) -> dict[str, str]:
    """Write ``n`` notebooks into ``directory``; returns student -> kind."""
    solution = nbformat.read(ROOT / "solutions" / SLUG / f"{SLUG}.ipynb", as_version=4)
    stub = nbformat.read(ROOT / "assignments" / SLUG / f"{SLUG}.ipynb", as_version=4)
    notebooks = {"solution": submission_notebook(solution, None), "stub": stub}
    for bug in BUGS:
        notebooks[bug] = submission_notebook(solution, bug)
    n_stub, n_wrong = round(0.1 * n), round(0.2 * n)
    kinds = ["stub"] * n_stub + [list(BUGS)[i % len(BUGS)] for i in range(n_wrong)]
    kinds += ["solution"] * (n - len(kinds))
    random.Random(seed).shuffle(kinds)
    directory.mkdir(parents=True)
    students = {}
    for i, kind in enumerate(kinds):
        student = f"s{i:03d}"
        nbformat.write(notebooks[kind], directory / f"{student}.ipynb")
        students[student] = kind
    return students


def baseline_sample(students: dict[str, str], size: int, seed: int = 7) -> list[str]:
    """``size`` students, the class's mix kept (solution / wrong / stub), in a shuffled order."""
    groups: dict[str, list[str]] = {}
    for student, kind in students.items():
        groups.setdefault(kind if kind in ("solution", "stub") else "wrong", []).append(student)
    total = len(students)
    picked: list[str] = []
    for members in groups.values():
        picked += members[: max(1, round(size * len(members) / total))]
    picked = picked[:size]
    random.Random(seed).shuffle(picked)
    return picked


# ---------------------------------------------------------------------------- dl101


@dataclass
class Dl101Run:
    n: int = 0
    wall: float = 0.0
    load: float = 0.0
    cpu: float = 0.0  # CPU seconds: this process, the runners, their sandboxes and students
    main_cpu: float = 0.0  # CPU seconds of this (the main) process
    marks: dict[str, float] = field(default_factory=dict)  # seconds from the start
    spans: Counter = field(default_factory=Counter)  # seconds spent in instrumented calls
    arrivals: list[float] = field(default_factory=list)  # seconds from the start, per result
    spawned: dict[int, float] = field(default_factory=dict)  # slot -> time.monotonic() at spawn
    ready: list[dict[str, Any]] = field(default_factory=list)  # READY messages (+ slot, arrival)
    first_job: dict[int, float] = field(default_factory=dict)  # slot -> its first execution_time
    by_slot: dict[int, list[tuple[float, float]]] = field(default_factory=dict)  # (arrival, execution_time)
    execution: list[float] = field(default_factory=list)  # per submission, inside the runner
    statuses: Counter = field(default_factory=Counter)
    scores: dict[str, float] = field(default_factory=dict)

    @property
    def per_notebook(self) -> float:
        return self.wall / self.n

    @property
    def idle(self) -> float:
        """Median seconds a runner spends between two submissions outside its grading clock
        (reading the next job, sending the result, waiting for the main process)."""
        gaps = [(b[0] - a[0]) - b[1] for results in self.by_slot.values()
                for a, b in zip(results, results[1:], strict=False)]
        return statistics.median(gaps) if gaps else float("nan")

    @property
    def steady(self) -> float:
        """Wall seconds per submission between the first and the last result (all slots)."""
        a = self.arrivals
        return (a[-1] - a[0]) / (len(a) - 1) if len(a) > 1 else float("nan")


@contextlib.contextmanager
def patched(obj: Any, name: str, wrapper: Callable[[Callable], Callable]) -> Iterator[None]:
    original = getattr(obj, name)
    setattr(obj, name, wrapper(original))
    try:
        yield
    finally:
        setattr(obj, name, original)


def cpu_seconds() -> float:
    """User + system CPU of this process and of the children it waited for (the runners; the
    baseline's kernels)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def tree_cpu(pid: int) -> float:
    """CPU seconds of the processes under ``pid`` (not ``pid`` itself), and of their reaped
    children. A runner's sandbox is killed, never waited for, when the pool closes: read it
    from /proc just before."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    try:
        kids = [int(k) for k in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return 0.0
    for kid in kids:
        try:
            fields = Path(f"/proc/{kid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(x) for x in fields[11:15]) / tick + tree_cpu(kid)  # utime stime cutime cstime
    return total


def run_dl101(subs: Path, out: Path, *, jobs: int, timeout: float | None, unsafe: bool) -> Dl101Run:
    """One ``grade_paths`` batch, timed from outside (wrappers around the stages it calls)."""
    import grader.grade
    import grader.gradebook
    import grader.loading
    import grader.pool
    import grader.reports
    from grader.runner import READY

    run = Dl101Run(load=os.getloadavg()[0])
    cpu, main_cpu = cpu_seconds(), time.process_time()
    start = time.perf_counter()

    def span(label: str) -> Callable[[Callable], Callable]:
        def wrap(fn: Callable) -> Callable:
            def timed(*args: Any, **kwargs: Any) -> Any:
                t = time.perf_counter()
                try:
                    return fn(*args, **kwargs)
                finally:
                    run.spans[label] += time.perf_counter() - t
                    run.marks[f"{label} done"] = time.perf_counter() - start
            return timed
        return wrap

    def on_spawn(fn: Callable) -> Callable:
        def init(runner: Any, slot: int, *args: Any, **kwargs: Any) -> None:
            run.spawned[slot] = time.monotonic()
            fn(runner, slot, *args, **kwargs)
        return init

    def on_handle(fn: Callable) -> Callable:
        def handle(pool: Any, runner: Any, message: dict) -> Any:
            if message.get("event") == READY:
                run.ready.append({**message, "slot": runner.slot, "at": time.monotonic()})
            else:
                seconds = float(message.get("execution_time") or 0.0)
                run.first_job.setdefault(runner.slot, seconds)
                run.by_slot.setdefault(runner.slot, []).append((time.monotonic(), seconds))
            return fn(pool, runner, message)
        return handle

    def on_close(fn: Callable) -> Callable:
        def close(pool: Any) -> None:
            run.cpu += sum(tree_cpu(r.proc.pid) for r in pool.runners)
            fn(pool)
        return close

    def progress(result: Any, done: int, total: int) -> None:
        run.arrivals.append(time.perf_counter() - start)

    with contextlib.ExitStack() as stack:
        stack.enter_context(patched(grader.loading, "discover", span("discover")))
        stack.enter_context(patched(grader.grade, "make_plan", span("plan")))
        stack.enter_context(patched(grader.pool.Runner, "__init__", on_spawn))
        stack.enter_context(patched(grader.pool.RunnerPool, "_handle", on_handle))
        stack.enter_context(patched(grader.pool.RunnerPool, "close", on_close))
        stack.enter_context(patched(grader.reports, "write_student_reports", span("student reports")))
        stack.enter_context(patched(grader.reports, "load_results", span("load results")))
        stack.enter_context(patched(grader.reports, "write_class_reports", span("class reports")))
        stack.enter_context(patched(grader.gradebook, "write_course_feedback", span("course feedback")))
        results = grader.grade.grade_paths([subs], out=out, jobs=jobs, timeout=timeout, unsafe=unsafe,
                                           progress=progress)
    run.wall = time.perf_counter() - start
    run.cpu += cpu_seconds() - cpu
    run.main_cpu = time.process_time() - main_cpu
    run.n = len(results)
    run.execution = [r.execution_time for r in results if r.execution_time]
    run.statuses = Counter(r.status for r in results)
    run.scores = {r.student: r.score for r in results}
    return run


# ---------------------------------------------------------------------------- baseline


@dataclass
class BaselineRun:
    student: str
    wall: float
    cpu: float
    score: str  # the test cell's "score: x / y" line


def run_baseline(path: Path, workdir: Path, student: str) -> BaselineRun:
    """Execute one notebook plus the test cell in a fresh kernel, as nbgrader's autograde does."""
    from nbclient import NotebookClient

    cpu = cpu_seconds()
    start = time.perf_counter()
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(TEST_CELL.format(root=str(ROOT))))
    client = NotebookClient(nb, timeout=60, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(workdir)}})
    client.execute()
    wall = time.perf_counter() - start
    outputs = nb.cells[-1].get("outputs", [])
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    score = next((ln for ln in text.splitlines() if ln.startswith("score:")), "no score line")
    return BaselineRun(student, wall, cpu_seconds() - cpu, score)


@contextlib.contextmanager
def baseline_environment() -> Iterator[None]:
    """As in dl101's sandbox, the notebooks' check() cells do nothing (DL101_GRADING=1); the
    kernels find the course (cnn_ref, grader) on PYTHONPATH; their start-up chatter is muted."""
    saved = {k: os.environ.get(k) for k in ("DL101_GRADING", "PYTHONPATH")}
    os.environ.update(DL101_GRADING="1", PYTHONPATH=str(ROOT))
    logging.getLogger("traitlets").setLevel(logging.ERROR)
    stderr = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)  # the kernels inherit fd 2 ("Kernel is running over TCP ..." warnings)
    try:
        yield
    finally:
        os.dup2(stderr, 2)
        os.close(stderr)
        os.close(devnull)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def agrees(score_line: str, dl101_score: float | None, full: float) -> bool:
    """Full marks on one side iff full marks on the other (the two graders weigh cases alike)."""
    try:
        got, total = (float(x) for x in score_line.removeprefix("score:").split("/"))
    except ValueError:
        return False
    return (got == total) == (dl101_score == full)


# ---------------------------------------------------------------------------- report


def ms(seconds: float) -> str:
    return f"{1000 * seconds:.1f} ms"


def breakdown(run: Dl101Run, jobs: int) -> list[tuple[str, str]]:
    """The stages of one dl101 batch: timed from outside, and from the runners' READY clocks."""
    n = max(run.n, 1)
    rows = [("start-up", "")]
    rows.append(("  discover + read + plan (main process)", ms(run.spans["discover"] + run.spans["plan"])))
    imports, collect = [], []
    for ready in run.ready:
        clock, spawned = ready.get("clock"), run.spawned.get(ready["slot"])
        if isinstance(clock, dict) and spawned is not None:
            imports.append(clock["imported"] - spawned)
            collect.append(clock["collected"] - clock["imported"])
    if imports:
        rows.append((f"  runner: python + imports ({len(imports)} in parallel)", ms(statistics.median(imports))))
        rows.append(("  runner: pytest collection of the graders", ms(statistics.median(collect))))
    if run.first_job and run.execution:
        typical = statistics.median(run.execution)
        warm = [max(0.0, t - typical) for t in run.first_job.values()]
        rows.append(("  runner: sandbox warm-up (1st job - median)", ms(statistics.median(warm))))
    if run.arrivals:
        rows.append(("  first result, from the start", ms(run.arrivals[0])))
    rows.append(("steady state", ""))
    rows.append((f"  wall per submission ({jobs} slots)", ms(run.steady)))
    if run.execution:
        rows.append(("  grading in one slot (runner's clock)", f"{ms(statistics.median(run.execution))} median"))
        rows.append(("  a slot's time between two submissions", f"{ms(run.idle)} median"))
    rows.append(("  per-student reports (main process)", f"{ms(run.spans['student reports'] / n)} each, "
                                                         f"{run.spans['student reports']:.2f} s in all"))
    last = run.arrivals[-1] if run.arrivals else 0.0
    rows.append(("reports at the end", ms(run.wall - last)))
    rows.append(("  class reports (grades.csv, report.html)", ms(run.spans["class reports"])))
    rows.append(("  re-reading every results.json for them", ms(run.spans["load results"])))
    rows.append(("end to end", f"{run.wall:.2f} s wall, {run.cpu:.1f} s CPU for {run.n} submissions "
                               f"({run.main_cpu:.1f} s in the main process)"))
    return rows


def median_run(runs: list[Dl101Run]) -> Dl101Run:
    return sorted(runs, key=lambda r: r.wall)[(len(runs) - 1) // 2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="dl101 batches; the baseline sample is split over them")
    parser.add_argument("--baseline", type=int, default=21, help="notebooks timed with nbclient, in all")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--timeout", type=float, default=None, help="dl101 --timeout (default: the assignment's)")
    args = parser.parse_args()
    os.environ.setdefault("DL101_ROOT", str(ROOT))
    from grader.sandbox import sandbox_problem

    unsafe = sandbox_problem() is not None
    with tempfile.TemporaryDirectory(prefix="dl101-bench-grade-") as tmp:
        subs = Path(tmp) / "submissions"
        students = make_class(subs, args.submissions)
        mix = Counter("wrong" if k not in ("solution", "stub") else k for k in students.values())
        print(f"{args.submissions} submissions of {SLUG!r} ({mix['solution']} solution, {mix['wrong']} partly wrong, "
              f"{mix['stub']} stub); dl101 -j {args.jobs}, {'UNSAFE (no sandbox here)' if unsafe else 'sandboxed'}; "
              f"baseline: nbclient, a fresh kernel per notebook, serial; {os.cpu_count()} CPUs", flush=True)
        sample = [] if args.no_baseline else baseline_sample(students, args.baseline)
        per_round = -(-len(sample) // args.rounds) if sample else 0
        workdir = Path(tmp) / "kernel"
        workdir.mkdir()
        runs: list[Dl101Run] = []
        base: list[BaselineRun] = []
        ratios: list[float] = []
        loads: list[float] = []
        for k in range(args.rounds):
            run = run_dl101(subs, Path(tmp) / f"out{k}", jobs=args.jobs, timeout=args.timeout, unsafe=unsafe)
            runs.append(run)
            loads.append(run.load)
            line = (f"round {k + 1}: dl101 {ms(run.per_notebook)} per notebook ({run.wall:.2f} s, load {run.load:.2f})")
            chunk = sample[k * per_round:(k + 1) * per_round]
            if chunk:
                loads.append(os.getloadavg()[0])
                with baseline_environment():
                    done = [run_baseline(subs / f"{s}.ipynb", workdir, s) for s in chunk]
                base += done
                per = statistics.median(b.wall for b in done)
                ratios.append(per / run.per_notebook)
                line += f"; baseline {ms(per)} per notebook ({len(done)}, load {loads[-1]:.2f}); ratio {ratios[-1]:.1f}x"
            print(line, flush=True)

        mid = median_run(runs)
        print(f"\ndl101 breakdown (the median round, {mid.wall:.2f} s; statuses {dict(mid.statuses)}):")
        for label, value in breakdown(mid, args.jobs):
            print(f"  {label:<46} {value}")
        dl101 = statistics.median(r.per_notebook for r in runs)
        dl101_cpu = statistics.median(r.cpu / r.n for r in runs)
        same = all(r.scores == runs[0].scores for r in runs)
        print(f"\ndl101 -j {args.jobs}, end to end:    {ms(dl101)} per notebook, {ms(dl101_cpu)} CPU "
              f"(median of {len(runs)} rounds; same scores every round: {same})")
        if base:
            baseline = statistics.median(b.wall for b in base)
            baseline_cpu = statistics.median(b.cpu for b in base)
            print(f"nbclient, fresh kernel, serial: {ms(baseline)} per notebook, {ms(baseline_cpu)} CPU "
                  f"(median of {len(base)}; {ms(min(b.wall for b in base))} .. {ms(max(b.wall for b in base))})")
            full = max(runs[0].scores.values())
            disagree = [b.student for b in base if not agrees(b.score, runs[0].scores.get(b.student), full)]
            if disagree:
                print(f"  (the baseline's test cell and dl101 disagree about full marks for {disagree})")
            paired = statistics.median(ratios)
            print(f"ratio, wall time per notebook: {paired:.1f}x (median of the rounds, each dl101 batch vs "
                  f"the baseline notebooks run right after it; {baseline / dl101:.1f}x from the medians above); "
                  f"target {TARGET:g}x: {'met' if paired >= TARGET else 'NOT met'}")
            print(f"ratio, CPU time per notebook: {baseline_cpu / dl101_cpu:.1f}x (what the wall ratio tends to "
                  f"when other work keeps every core busy)")
        print(f"load average (1 min) during the run: {' '.join(f'{x:.2f}' for x in loads)} "
              f"(median {statistics.median(loads):.2f}) on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
