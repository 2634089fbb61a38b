"""Pooling, batch normalization and dropout (Keras conventions and defaults).

- ``max_pool2d`` / ``avg_pool2d`` match ``tf.nn.max_pool2d`` / ``tf.nn.avg_pool2d``: SAME max
  pooling pads with -inf, SAME average pooling leaves padded cells out of the mean.
- ``batch_norm`` matches ``keras.layers.BatchNormalization`` (axis -1, momentum 0.99,
  epsilon 1e-3, biased batch variance); it returns new moving statistics, never mutates.
- ``dropout`` is inverted dropout with ``rate`` = drop probability, seeded by its own
  ``np.random.default_rng(seed)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._checks import as_float_array, as_pair, check_nhwc, is_number
from ._sliding import pad_nhwc, windows
from .output_size import AxisPlan, normalize_padding, plan_windows_2d

__all__ = ["avg_pool2d", "batch_norm", "dropout", "max_pool2d", "plan_pool", "window_cell_counts"]

BNResult = tuple[np.ndarray, np.ndarray, np.ndarray]


def plan_pool(x_shape: tuple[int, ...], pool_size: Any, stride: Any,
              padding: Any) -> tuple[tuple[int, int], tuple[int, int], AxisPlan, AxisPlan]:
    """``(pool pair, stride pair, height plan, width plan)``; ``stride=None`` means ``pool_size``."""
    pool = as_pair(pool_size, "pool_size")
    stride = pool if stride is None else as_pair(stride, "stride")
    if not isinstance(padding, str):
        raise ValueError(f"padding must be 'valid' or 'same' for pooling, got {padding!r}")
    plan_h, plan_w = plan_windows_2d(x_shape[1:3], pool, stride, normalize_padding(padding),
                                     window_name="pool_size")
    return pool, stride, plan_h, plan_w


def max_pool2d(x: Any, pool_size: int | tuple[int, int] = 2, stride: int | tuple[int, int] | None = None,
               padding: str = "valid") -> np.ndarray:
    """Max over each window, as ``tf.nn.max_pool2d``.

    x: (N, H, W, C) -> (N, Ho, Wo, C); SAME pads with -inf so padding never wins.
    """
    x = check_nhwc(x)
    pool, stride, plan_h, plan_w = plan_pool(x.shape, pool_size, stride, padding)
    xp = pad_nhwc(x, plan_h, plan_w, value=-np.inf)
    return windows(xp, pool, stride, (plan_h.out, plan_w.out)).max(axis=(3, 4))


def window_cell_counts(n: int, k: int, stride: int, plan: AxisPlan) -> np.ndarray:
    """(out,) number of real (unpadded) cells under each window along one axis."""
    starts = np.arange(plan.out) * stride - plan.before
    return np.minimum(starts + k, n) - np.maximum(starts, 0)


def avg_pool2d(x: Any, pool_size: int | tuple[int, int] = 2, stride: int | tuple[int, int] | None = None,
               padding: str = "valid") -> np.ndarray:
    """Mean over each window, as ``tf.nn.avg_pool2d``.

    x: (N, H, W, C) -> (N, Ho, Wo, C); under SAME the mean is over real cells only.
    """
    x = check_nhwc(x)
    pool, stride, plan_h, plan_w = plan_pool(x.shape, pool_size, stride, padding)
    sums = windows(pad_nhwc(x, plan_h, plan_w), pool, stride, (plan_h.out, plan_w.out)).sum(axis=(3, 4))
    counts_h = window_cell_counts(x.shape[1], pool[0], stride[0], plan_h)
    counts_w = window_cell_counts(x.shape[2], pool[1], stride[1], plan_w)
    return sums / np.outer(counts_h, counts_w).astype(x.dtype)[None, :, :, None]


def _check_flag(training: Any) -> bool:
    if not isinstance(training, bool | np.bool_):
        raise ValueError(f"training must be True or False, got {training!r}")
    return bool(training)


def _channel_vector(value: Any, name: str, channels: int, dtype: np.dtype) -> np.ndarray:
    """A per-channel parameter as a (C,) array (a scalar is broadcast)."""
    arr = as_float_array(value, name)
    if arr.ndim == 0:
        return np.full(channels, arr, dtype=dtype)
    if arr.shape != (channels,):
        raise ValueError(f"{name} must have shape ({channels},) (one value per channel of x's "
                         f"last axis), got shape {arr.shape}")
    return arr.astype(dtype)


def _bn_hyper(momentum: Any, epsilon: Any) -> tuple[float, float]:
    if not is_number(momentum) or not 0.0 <= momentum <= 1.0:
        raise ValueError(f"momentum must be a number in [0, 1], got {momentum!r}")
    if not is_number(epsilon) or not epsilon > 0.0:
        raise ValueError(f"epsilon must be a number > 0, got {epsilon!r}")
    return float(momentum), float(epsilon)


def batch_norm(x: Any, gamma: Any, beta: Any, moving_mean: Any, moving_var: Any, training: bool,
               momentum: float = 0.99, epsilon: float = 1e-3) -> BNResult:
    """Batch normalization over the last axis, as ``keras.layers.BatchNormalization``.

    x: (N, ..., C); gamma, beta, moving_mean, moving_var: (C,). Training normalizes with the
    batch mean and biased variance over every axis but the last and returns
    ``moving * momentum + batch * (1 - momentum)``; inference normalizes with the moving
    statistics and returns them unchanged. Returns ``(y like x, new_moving_mean (C,),
    new_moving_var (C,))``. ``y = gamma * (x - mean) / sqrt(var + epsilon) + beta``.
    """
    x = as_float_array(x, "x")
    if x.ndim < 2 or 0 in x.shape:
        raise ValueError(f"x must be at least 2-D (N, ..., C) and non-empty, got shape {x.shape}")
    training = _check_flag(training)
    momentum, epsilon = _bn_hyper(momentum, epsilon)
    c = x.shape[-1]
    gamma, beta, moving_mean, moving_var = (
        _channel_vector(v, name, c, x.dtype) for v, name in
        ((gamma, "gamma"), (beta, "beta"), (moving_mean, "moving_mean"), (moving_var, "moving_var")))
    if training:
        axes = tuple(range(x.ndim - 1))
        mean, var = x.mean(axis=axes), x.var(axis=axes)
        moving_mean = moving_mean * momentum + mean * (1.0 - momentum)
        moving_var = moving_var * momentum + var * (1.0 - momentum)
    else:
        mean, var = moving_mean, moving_var
    y = gamma * (x - mean) / np.sqrt(var + epsilon) + beta
    return y, moving_mean, moving_var


def dropout(x: Any, rate: float, training: bool, seed: int | None = None) -> np.ndarray:
    """Inverted dropout: each unit dropped with probability ``rate``, kept ones scaled by 1/(1-rate).

    x: any shape, returned with the same shape and float dtype. Identity when not training;
    ``rate == 1`` gives zeros. The same ``seed`` gives the same mask.
    """
    x = as_float_array(x, "x")
    training = _check_flag(training)
    if not is_number(rate) or not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must be the drop probability, a number in [0, 1], got {rate!r}")
    if not training or rate == 0:
        return x.copy()
    if rate == 1:
        return np.zeros_like(x)
    keep = np.random.default_rng(seed).random(x.shape) >= rate
    return np.where(keep, x / x.dtype.type(1.0 - rate), x.dtype.type(0.0))
