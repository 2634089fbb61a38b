"""Loop versions of the forward passes: a second oracle, written for clarity, not speed.

Each takes the same arguments as its fast twin and must agree with it everywhere. They share
only the argument checks and the output-size arithmetic (itself proven against TensorFlow);
the windowing is independent: explicit loops, and the pools clip each window to the real
cells instead of padding with -inf or dividing by counted cells.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from ._checks import as_float_array, check_nhwc
from .convolution import check_conv_args, conv_single_step, plan_conv, zero_pad
from .metrics import check_label_pair, resolve_labels
from .pooling_norm import plan_pool

__all__ = [
    "avg_pool2d_naive",
    "batch_norm_naive",
    "confusion_matrix_naive",
    "conv2d_naive",
    "max_pool2d_naive",
]


def conv2d_naive(x: Any, w: Any, b: Any = None, stride: Any = 1, padding: Any = "valid") -> np.ndarray:
    """``conv2d`` with four loops (sample, row, column, filter) over ``conv_single_step``.

    x: (N, H, W, C); w: (KH, KW, C, F); b: (F,) or None -> (N, Ho, Wo, F).
    """
    x, w, b = check_conv_args(x, w, b)
    (sh, sw), plan_h, plan_w = plan_conv(x.shape, w.shape, stride, padding)
    xp = zero_pad(x, ((plan_h.before, plan_h.after), (plan_w.before, plan_w.after)))
    kh, kw, _, filters = w.shape
    out = np.zeros((x.shape[0], plan_h.out, plan_w.out, filters), dtype=x.dtype)
    for n, i, j in itertools.product(range(x.shape[0]), range(plan_h.out), range(plan_w.out)):
        patch = xp[n, i * sh:i * sh + kh, j * sw:j * sw + kw, :]
        for f in range(filters):
            out[n, i, j, f] = conv_single_step(patch, w[:, :, :, f], 0.0 if b is None else b[f])
    return out


def _pool_naive(x: Any, pool_size: Any, stride: Any, padding: Any, reduce: Any) -> np.ndarray:
    """Apply ``reduce`` to the real cells of every window (padding is never materialised)."""
    x = check_nhwc(x)
    (ph, pw), (sh, sw), plan_h, plan_w = plan_pool(x.shape, pool_size, stride, padding)
    n_, h, w, c_ = x.shape
    out = np.empty((n_, plan_h.out, plan_w.out, c_), dtype=x.dtype)
    for n, i, j, c in itertools.product(range(n_), range(plan_h.out), range(plan_w.out), range(c_)):
        top, left = i * sh - plan_h.before, j * sw - plan_w.before
        cells = x[n, max(top, 0):min(top + ph, h), max(left, 0):min(left + pw, w), c]
        out[n, i, j, c] = reduce(cells.ravel().tolist())
    return out


def max_pool2d_naive(x: Any, pool_size: Any = 2, stride: Any = None, padding: str = "valid") -> np.ndarray:
    """``max_pool2d`` by loops: the largest real cell of each window. (N, H, W, C) -> (N, Ho, Wo, C)."""
    return _pool_naive(x, pool_size, stride, padding, max)


def avg_pool2d_naive(x: Any, pool_size: Any = 2, stride: Any = None, padding: str = "valid") -> np.ndarray:
    """``avg_pool2d`` by loops: the mean of the real cells of each window. (N, H, W, C) -> (N, Ho, Wo, C)."""
    return _pool_naive(x, pool_size, stride, padding, lambda cells: math.fsum(cells) / len(cells))


def batch_norm_naive(x: Any, gamma: Any, beta: Any, moving_mean: Any, moving_var: Any, training: bool,
                     momentum: float = 0.99, epsilon: float = 1e-3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``batch_norm`` one channel at a time with exactly summed statistics (``math.fsum``).

    x: (N, ..., C); gamma, beta, moving_mean, moving_var: (C,) -> (y, new_mean (C,), new_var (C,)).
    """
    x = as_float_array(x, "x")
    params = [as_float_array(v, name).astype(np.float64) for v, name in
              ((gamma, "gamma"), (beta, "beta"), (moving_mean, "moving_mean"), (moving_var, "moving_var"))]
    y = np.empty(x.shape, dtype=np.float64)
    new_mean, new_var = params[2].copy(), params[3].copy()
    for c in range(x.shape[-1]):
        values = x[..., c].ravel().tolist()
        mean, var = params[2][c], params[3][c]
        if training:
            mean = math.fsum(values) / len(values)
            var = math.fsum((v - mean) ** 2 for v in values) / len(values)
            new_mean[c] = params[2][c] * momentum + mean * (1 - momentum)
            new_var[c] = params[3][c] * momentum + var * (1 - momentum)
        y[..., c] = params[0][c] * (x[..., c] - mean) / math.sqrt(var + epsilon) + params[1][c]
    return y, new_mean, new_var


def confusion_matrix_naive(y_true: Any, y_pred: Any, labels: Any = None) -> np.ndarray:
    """``confusion_matrix`` by counting pairs one sample at a time in a dict."""
    y_true, y_pred = check_label_pair(y_true, y_pred)
    names = resolve_labels(labels, y_true, y_pred).tolist()
    index = {name: i for i, name in enumerate(names)}
    cm = np.zeros((len(names), len(names)), dtype=np.int64)
    for t, p in zip(y_true.tolist(), y_pred.tolist(), strict=True):
        if t in index and p in index:
            cm[index[t], index[p]] += 1
    return cm
