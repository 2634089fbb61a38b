"""Fast cnn_ref.conv2d vs tf.nn.conv2d on CPU, and the naive loop version vs the fast one.

Prints tables of medians and ratios; never asserts timings (the target, ref/tf <= 1.5 on
every shape, is read off the ``ref/tf`` column). cnn_ref and TensorFlow are measured in one
process on the same float32 arrays: rounds alternate a block of TensorFlow calls and a block
of cnn_ref calls (the order flips every round), each call timed alone, medians over all calls.

Two tables:
- default threading: TensorFlow's thread pools and OpenBLAS's threads as installed (what a
  user gets). On a machine whose cores are busy with other work, OpenBLAS's statically split
  multi-threaded GEMM stalls waiting for a descheduled thread, while TensorFlow's work-stealing
  pool degrades gracefully; the load average is printed for that reason.
- one thread each (``--threads 1``, run in a child process because both libraries fix their
  thread counts at start-up): like-for-like single-core efficiency, robust to other load.

The naive loop version is far too slow for the full batch: it runs on ONE image for a few
repeats and its median is scaled by the batch size (its cost is linear in N).

    .venv/bin/python benchmarks/bench_conv.py [--rounds 15] [--block 5] [--naive-repeats 2]
    .venv/bin/python benchmarks/bench_conv.py --threads 1     # only the one-thread table
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

# (x shape NHWC, w shape (KH, KW, C_in, C_out), stride, padding)
SHAPES = [
    ((32, 28, 28, 1), (3, 3, 1, 32), 1, "valid"),
    ((32, 14, 14, 32), (3, 3, 32, 64), 1, "same"),
    ((8, 64, 64, 3), (5, 5, 3, 16), 2, "same"),
]
# float32 sums of up to 800 products: agreement to single precision
RTOL = 1e-4
ATOL = 1e-4


def _libraries(threads: int | None) -> tuple[Any, Any, Any]:
    """numpy, tensorflow, cnn_ref; with ``threads`` set, both libraries use that many threads.

    Imported here, after the arguments are parsed: OpenBLAS reads its thread count from the
    environment when numpy is first imported.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if threads is not None:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(threads)
    sys.path.insert(0, str(ROOT))
    import numpy as np
    import tensorflow as tf

    import cnn_ref

    if threads is not None:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    return np, tf, cnn_ref


def _blas_threads() -> str:
    """Thread count of numpy's BLAS (TensorFlow's imports load other copies too)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return os.environ.get("OPENBLAS_NUM_THREADS", "default")
    blas = [i for i in threadpool_info() if i["user_api"] == "blas"]
    mine = [i for i in blas if "numpy" in i["filepath"]] or blas
    return str(mine[0]["num_threads"]) if mine else "?"


def _time_calls(fn: Callable[[], object], count: int) -> list[float]:
    """Seconds taken by each of ``count`` calls of ``fn``."""
    times = []
    for _ in range(count):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def _alternating_medians(first: Callable[[], object], second: Callable[[], object], rounds: int,
                         block: int) -> tuple[float, float]:
    """Median seconds per call of each, from alternating blocks (order flips every round)."""
    first(), second()                                   # warm-up: allocations, TF kernel caches
    times: tuple[list[float], list[float]] = ([], [])
    for r in range(rounds):
        for i in ((0, 1) if r % 2 == 0 else (1, 0)):
            times[i].extend(_time_calls((first, second)[i], block))
    return statistics.median(times[0]), statistics.median(times[1])


def _bench_shape(libs, x_shape, w_shape, stride, padding, args) -> dict[str, Any]:
    np, tf, cnn_ref = libs
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape, dtype=np.float32)
    w = rng.standard_normal(w_shape, dtype=np.float32)
    x_tf, w_tf = tf.constant(x), tf.constant(w)

    def run_tf():
        return tf.nn.conv2d(x_tf, w_tf, strides=stride, padding=padding.upper()).numpy()

    def run_ref():
        return cnn_ref.conv2d(x, w, stride=stride, padding=padding)

    agree = bool(np.allclose(run_ref(), run_tf(), rtol=RTOL, atol=ATOL))
    t_tf, t_ref = _alternating_medians(run_tf, run_ref, args.rounds, args.block)
    one_image = x[:1]
    naive_one = statistics.median(_time_calls(
        lambda: cnn_ref.conv2d_naive(one_image, w, stride=stride, padding=padding), args.naive_repeats))
    return {"tf": t_tf, "ref": t_ref, "naive": naive_one * x_shape[0], "agree": agree}


def _row(cells: list[str]) -> str:
    widths = [32, 9, 9, 7, 11, 10, 6]
    return "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))


def _table(args) -> None:
    libs = _libraries(args.threads)
    np, tf, _ = libs
    mode = "default threading" if args.threads is None else f"{args.threads} thread(s) each"
    print(f"== {mode}: numpy {np.__version__} (BLAS threads {_blas_threads()}), tensorflow {tf.__version__}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
    print(f"   medians of {args.rounds * args.block} calls each (alternating blocks of {args.block}); "
          f"naive*: median of {args.naive_repeats} calls on 1 image x batch size")
    print(_row(["shape (x * w, stride, padding)", "tf ms", "ref ms", "ref/tf", "naive* ms", "naive/ref", "agree"]))
    for x_shape, w_shape, stride, padding in SHAPES:
        r = _bench_shape(libs, x_shape, w_shape, stride, padding, args)
        label = "x".join(map(str, x_shape)) + " * " + "x".join(map(str, w_shape)) + f" s{stride} {padding}"
        print(_row([label, f"{r['tf'] * 1e3:.3f}", f"{r['ref'] * 1e3:.3f}", f"{r['ref'] / r['tf']:.2f}",
                    f"{r['naive'] * 1e3:.0f}", f"{r['naive'] / r['ref']:.0f}", "yes" if r["agree"] else "NO"]))
    print(f"   load average {os.getloadavg()[0]:.2f} at end\n", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15, help="alternating rounds (default 15)")
    parser.add_argument("--block", type=int, default=5, help="calls per block (default 5)")
    parser.add_argument("--naive-repeats", type=int, default=2, help="naive calls on one image (default 2)")
    parser.add_argument("--threads", type=int, default=None,
                        help="run only the table with this many threads for TF and BLAS")
    args = parser.parse_args(argv)
    if args.threads is not None:
        _table(args)
        return 0
    _table(args)
    child = [sys.executable, __file__, "--threads", "1", "--rounds", str(args.rounds),
             "--block", str(args.block), "--naive-repeats", str(args.naive_repeats)]
    subprocess.run(child, check=True)
    print("target: ref/tf <= 1.5 on every shape (printed, never asserted).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
