"""Grading the CNN lab: wall time per submission and the share of it spent importing TensorFlow.

Default run: five copies of the solution notebook (the heaviest honest case: every one trains
in its own cells, then in the grader's harness) graded in ONE batch through ``grade_paths``,
the code path of ``dl101 grade -a cnn_lab``, with ``--jobs`` runners (default: one per core).
Before the batch, one sandboxed TensorFlow zygote is started and closed alone: its start-up time
is what importing TensorFlow costs each runner of the batch, once.

Printed: each submission's ``execution_time`` (the first one on each runner includes that
runner's zygote start, i.e. the import; the others fork the warm zygote), the batch's wall time
per submission, and the import's share of the batch. Target: at most 60 s per submission on a
2-core machine, training included, and the import paid once per runner. The load average is
printed too: other work on the machine inflates every wall time. Nothing is asserted.

``--calibrate``: the solution notebook's model trained by the grading harness on several seeds
(split and training) with a sandboxed worker: accuracy, lowest per-class recall, the most
frequent confusions, CPU seconds of training. The accuracy tiers and the recall floor in
solutions/cnn_lab/tests/test_hidden.py are set from these figures.

    .venv/bin/python benchmarks/bench_lab.py [--submissions 5] [--jobs 2] [--unsafe]
    .venv/bin/python benchmarks/bench_lab.py --calibrate [--seeds 0 1 2 3 4]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader import assignments  # noqa: E402
from grader.runner import PRELOAD  # noqa: E402

SLUG = "cnn_lab"
TARGET_SECONDS = 60.0


def hidden_module() -> ModuleType:
    path = assignments.hidden_tests(SLUG)
    spec = importlib.util.spec_from_file_location("cnn_lab_hidden", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def solution_path() -> Path:
    return assignments.solution_dir(SLUG) / f"{SLUG}.ipynb"


def sandbox_available() -> bool:
    from grader.sandbox import sandbox_problem

    return sandbox_problem() is None


def zygote_start_seconds(*, unsafe: bool) -> float:
    """Start (and close) one TensorFlow zygote as a runner does: the import it pays once."""
    from grader.sandbox import Limits, Worker

    start = time.perf_counter()
    with Worker(slot=0, unsafe=unsafe, preload=PRELOAD[SLUG], limits=Limits()):
        elapsed = time.perf_counter() - start
    return elapsed


def bench(submissions: int, jobs: int, *, unsafe: bool) -> None:
    from grader.grade import grade_paths

    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    import_seconds = zygote_start_seconds(unsafe=unsafe)
    print(f"TensorFlow zygote start (import of {', '.join(PRELOAD[SLUG])}): {import_seconds:.1f} s")
    with tempfile.TemporaryDirectory(prefix="bench-lab-") as tmp:
        folder = Path(tmp) / "submissions"
        folder.mkdir()
        for i in range(submissions):
            shutil.copyfile(solution_path(), folder / f"student{i + 1}.ipynb")
        start = time.perf_counter()
        results = grade_paths([folder], assignment=SLUG, out=Path(tmp) / "grades", jobs=jobs, unsafe=unsafe,
                              force=True)
        wall = time.perf_counter() - start
    print(f"\n{submissions} submissions, {jobs} runner(s){' (UNSAFE: no sandbox)' if unsafe else ''}:")
    print(f"{'student':<10} {'status':<8} {'score':>7} {'execution_time':>15}")
    for r in sorted(results, key=lambda r: r.execution_time, reverse=True):
        print(f"{r.student:<10} {r.status:<8} {r.score:>3g}/{r.max_score:<3g} {r.execution_time:>13.1f} s")
    times = sorted(r.execution_time for r in results)
    firsts, warm = times[len(times) - jobs:], times[: max(1, len(times) - jobs)]
    # The first job of each runner also started its zygote, i.e. imported TensorFlow.
    in_batch = max(0.0, statistics.mean(firsts) - statistics.median(warm)) if len(times) > jobs else import_seconds
    per_submission = wall * jobs / submissions
    print(f"\nbatch wall time:                        {wall:.1f} s")
    print(f"wall time per submission (batch):       {per_submission:.1f} s   (wall x runners / submissions)")
    print(f"execution_time, warm zygote (median):   {statistics.median(warm):.1f} s")
    print(f"execution_time, max:                    {times[-1]:.1f} s   (target <= {TARGET_SECONDS:g} s)")
    print(f"TensorFlow import, measured alone:      {import_seconds:.1f} s")
    print(f"TensorFlow import, paid in the batch:   {in_batch:.1f} s per runner, once "
          f"(first job on each runner minus the warm median) = {100 * in_batch / wall:.0f}% of the batch's "
          "wall time")
    verdict = "OK" if max(per_submission, times[-1]) <= TARGET_SECONDS else "OVER"
    print(f"target (<= {TARGET_SECONDS:g} s per submission, training included): {verdict}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def calibrate(seeds: list[int], *, unsafe: bool) -> None:
    from grader.loading import load_cells
    from grader.sandbox import Limits, Worker

    hidden = hidden_module()
    cells = load_cells(solution_path().read_bytes(), name=solution_path().name).cells
    accuracies, floors = [], []
    print(f"solution of {SLUG}: {hidden.EPOCHS} epochs, batch size {hidden.BATCH_SIZE}, seeds {seeds}")
    with Worker(slot=0, unsafe=unsafe, preload=PRELOAD[SLUG], limits=Limits(session_wall=600)) as worker:
        for seed in seeds:
            data = hidden.lab_data(seed)
            with worker.session(cells) as session:
                failed = [c.error for c in session.cells if not c.ok]
                raw = session.run_harness(
                    SLUG, "train_and_predict", data.x_train, data.y_train, data.x_test,
                    hidden.reference_preprocess(data.x_train), hidden.reference_preprocess(data.x_test),
                    seed=seed, epochs=hidden.EPOCHS, batch_size=hidden.BATCH_SIZE, max_params=hidden.MAX_PARAMS,
                    cpu_budget=hidden.TRAIN_BUDGET, timeout=600)
            report = hidden.parse_report(raw, len(data.y_test))
            if report.predictions is None:
                print(f"seed {seed}: no predictions: {hidden.no_model_reason(report)}")
                continue
            acc = hidden.cnn_ref.accuracy(data.y_test, report.predictions)
            recalls = hidden.per_class_recall(data.y_test, report.predictions)
            cm = hidden.cnn_ref.confusion_matrix(data.y_test, report.predictions, labels=list(range(10)))
            np = hidden.np
            off = cm - np.diag(np.diag(cm))
            top = [np.unravel_index(i, cm.shape) for i in np.argsort(off, axis=None)[::-1][:3]]
            confusions = ", ".join(f"{t}->{p} x{off[t, p]}" for t, p in top if off[t, p])
            accuracies.append(acc)
            floors.append(recalls.min())
            print(f"seed {seed}: accuracy {acc:.3f}, lowest recall {recalls.min():.3f} (digit {recalls.argmin()}), "
                  f"training {report.train_cpu_seconds:.1f} CPU s / {report.train_seconds:.1f} s wall, "
                  f"{report.params} parameters; confusions {confusions}"
                  + (f"; failed cells: {failed}" if failed else ""))
    print(f"\naccuracy min {min(accuracies):.3f}, mean {statistics.mean(accuracies):.3f}; "
          f"lowest per-class recall min {min(floors):.3f}")
    print(f"tiers {hidden.TIERS}: the solution passes all on every seed: {min(accuracies) >= max(hidden.TIERS)}; "
          f"recall floor {hidden.RECALL_FLOOR}: {min(floors) >= hidden.RECALL_FLOOR}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=max(1, len(os.sched_getaffinity(0))))
    parser.add_argument("--unsafe", action="store_true", help="no sandbox (machines without bubblewrap)")
    parser.add_argument("--calibrate", action="store_true", help="accuracy of the solution on several seeds")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    args = parser.parse_args(argv)
    unsafe = args.unsafe or not sandbox_available()
    if unsafe and not args.unsafe:
        print("no sandbox on this machine: running UNSAFE (subprocess + rlimits only)", file=sys.stderr)
    if args.calibrate:
        calibrate(args.seeds, unsafe=unsafe)
    else:
        bench(args.submissions, args.jobs, unsafe=unsafe)
    return 0


if __name__ == "__main__":
    sys.exit(main())
