"""Convolution (Keras conventions: NHWC, kernel (KH, KW, C_in, C_out), cross-correlation).

``conv2d`` matches ``tf.nn.conv2d`` (plus an optional bias): the kernel is not flipped and
SAME puts the odd padding cell after (bottom/right). It is the fast version: one im2col copy
of a strided view and one BLAS matmul. ``cnn_ref.naive.conv2d_naive`` is the loop oracle.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._checks import as_float_array, as_pair, check_nhwc, float_dtype
from ._sliding import im2col, pad_nhwc
from .output_size import AxisPlan, Padding, normalize_padding, plan_windows_2d

__all__ = ["check_conv_args", "conv2d", "conv_single_step", "plan_conv", "zero_pad"]


def conv_single_step(patch: Any, kernel: Any, bias: Any = 0.0) -> float:
    """One output value: ``sum(patch * kernel) + bias``.

    patch, kernel: same shape, e.g. (KH, KW) or (KH, KW, C); bias: a number or a size-1 array.
    The slide's patch and edge kernel give 2.3.
    """
    patch = as_float_array(patch, "patch")
    kernel = as_float_array(kernel, "kernel")
    if patch.shape != kernel.shape:
        raise ValueError(f"patch and kernel must have the same shape, got {patch.shape} and {kernel.shape}")
    bias = as_float_array(bias, "bias")
    if bias.size != 1:
        raise ValueError(f"bias must be a number (or a size-1 array), got shape {bias.shape}")
    return float(np.sum(patch * kernel) + bias.reshape(()))


def zero_pad(x: Any, pad: Padding) -> np.ndarray:
    """Zeros around the spatial axes of ``x``.

    x: (N, H, W, C); pad: an int (all sides), ``(ph, pw)`` or ``((top, bottom), (left, right))``.
    Returns (N, H + top + bottom, W + left + right, C), dtype of ``x`` (ints become float64).
    """
    x = check_nhwc(x)
    if isinstance(pad, str):
        raise ValueError(f"pad must be an int or ((top, bottom), (left, right)), got {pad!r}")
    (top, bottom), (left, right) = normalize_padding(pad, "pad")
    return pad_nhwc(x, AxisPlan(top, bottom, 0), AxisPlan(left, right, 0))


def check_conv_args(x: Any, w: Any, b: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Validate and cast: x (N, H, W, C), w (KH, KW, C, F), b (F,) or None; one float dtype."""
    x = check_nhwc(x)
    w = as_float_array(w, "w")
    if w.ndim != 4:
        raise ValueError(f"w must be 4-D (KH, KW, C_in, C_out), got shape {w.shape}")
    if 0 in w.shape:
        raise ValueError(f"w must not have an empty axis, got shape {w.shape}")
    if x.shape[3] != w.shape[2]:
        raise ValueError(f"x has {x.shape[3]} channels but w expects {w.shape[2]}")
    arrays = [x, w]
    if b is not None:
        b = as_float_array(b, "b")
        if b.shape != (w.shape[3],):
            raise ValueError(f"b must have shape ({w.shape[3]},) (one value per output channel of w), "
                             f"got shape {b.shape}")
        arrays.append(b)
    dtype = float_dtype(*(a.dtype for a in arrays))
    return x.astype(dtype, copy=False), w.astype(dtype, copy=False), None if b is None else b.astype(dtype, copy=False)


def plan_conv(x_shape: tuple[int, ...], w_shape: tuple[int, ...], stride: Any,
              padding: Any) -> tuple[tuple[int, int], AxisPlan, AxisPlan]:
    """``(stride pair, height plan, width plan)`` for x (N, H, W, C) and w (KH, KW, C, F)."""
    stride = as_pair(stride, "stride")
    plan_h, plan_w = plan_windows_2d(x_shape[1:3], w_shape[:2], stride, normalize_padding(padding))
    return stride, plan_h, plan_w


def conv2d(x: Any, w: Any, b: Any = None, stride: int | tuple[int, int] = 1,
           padding: Padding = "valid") -> np.ndarray:
    """2-D cross-correlation, as ``tf.nn.conv2d`` followed by ``+ b``.

    x: (N, H, W, C); w: (KH, KW, C, F); b: (F,) or None; stride: int or (sh, sw);
    padding: 'valid' | 'same' (any case) | int | (ph, pw) | ((top, bottom), (left, right)).
    Returns (N, Ho, Wo, F) with Ho, Wo from ``cnn_ref.output_size``; float32 stays float32.
    """
    x, w, b = check_conv_args(x, w, b)
    stride, plan_h, plan_w = plan_conv(x.shape, w.shape, stride, padding)
    kh, kw, c, f = w.shape
    out_hw = (plan_h.out, plan_w.out)
    cols = im2col(pad_nhwc(x, plan_h, plan_w), (kh, kw), stride, out_hw)   # the one copy
    out = np.matmul(cols, w.reshape(kh * kw * c, f))                         # one BLAS call
    if b is not None:
        out += b
    return out.reshape(x.shape[0], *out_hw, f)
