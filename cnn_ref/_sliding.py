"""Padding and zero-copy sliding windows over NHWC arrays (shared by conv and pooling)."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .output_size import AxisPlan

__all__ = ["im2col", "pad_nhwc", "window_rows", "windows"]


def pad_nhwc(x: np.ndarray, plan_h: AxisPlan, plan_w: AxisPlan, value: float = 0.0) -> np.ndarray:
    """``x`` (N, H, W, C) -> C-contiguous (N, H + top + bottom, W + left + right, C) filled with ``value``."""
    if plan_h.before == plan_h.after == plan_w.before == plan_w.after == 0:
        return np.ascontiguousarray(x)
    n, h, w, c = x.shape
    shape = (n, h + plan_h.before + plan_h.after, w + plan_w.before + plan_w.after, c)
    out = np.zeros(shape, dtype=x.dtype) if value == 0 else np.full(shape, value, dtype=x.dtype)
    out[:, plan_h.before:plan_h.before + h, plan_w.before:plan_w.before + w, :] = x
    return out


def _c_strides(xp: np.ndarray) -> tuple[int, int, int, int]:
    """Byte strides of C-contiguous ``xp`` (N, H, W, C), computed from its shape.

    Not ``xp.strides``: numpy leaves any stride on a length-1 axis (e.g. one added by None),
    and merging (KW, C) into one axis needs the true layout.
    """
    if not xp.flags.c_contiguous:
        raise ValueError("sliding windows need a C-contiguous array")
    sc = xp.itemsize
    sw = sc * xp.shape[3]
    sh = sw * xp.shape[2]
    return sh * xp.shape[1], sh, sw, sc


def windows(xp: np.ndarray, window: tuple[int, int], stride: tuple[int, int],
            out_hw: tuple[int, int]) -> np.ndarray:
    """Read-only view (N, Ho, Wo, KH, KW, C) of the windows of C-contiguous ``xp`` (N, Hp, Wp, C)."""
    sn, sh, sw, sc = _c_strides(xp)
    shape = (xp.shape[0], out_hw[0], out_hw[1], window[0], window[1], xp.shape[3])
    strides = (sn, sh * stride[0], sw * stride[1], sh, sw, sc)
    return as_strided(xp, shape=shape, strides=strides, writeable=False)


def window_rows(xp: np.ndarray, window: tuple[int, int], stride: tuple[int, int],
                out_hw: tuple[int, int]) -> np.ndarray:
    """Read-only view (N, Ho, Wo, KH, KW * C) of C-contiguous ``xp``: each kernel row is one run.

    Because a window row ``xp[n, i, j:j + KW, :]`` is contiguous in memory, copying this view
    (im2col) moves ``KW * C`` consecutive values at a time.
    """
    sn, sh, sw, sc = _c_strides(xp)
    shape = (xp.shape[0], out_hw[0], out_hw[1], window[0], window[1] * xp.shape[3])
    strides = (sn, sh * stride[0], sw * stride[1], sh, sc)
    return as_strided(xp, shape=shape, strides=strides, writeable=False)


def _kernel_major(xp: np.ndarray, window: tuple[int, int], stride: tuple[int, int],
                  out_hw: tuple[int, int]) -> np.ndarray:
    """Read-only view (KH, KW, C, N, Ho, Wo) of C-contiguous ``xp``: one image plane per kernel tap."""
    sn, sh, sw, sc = _c_strides(xp)
    shape = (window[0], window[1], xp.shape[3], xp.shape[0], out_hw[0], out_hw[1])
    strides = (sh, sw, sc, sn, sh * stride[0], sw * stride[1])
    return as_strided(xp, shape=shape, strides=strides, writeable=False)


def im2col(xp: np.ndarray, window: tuple[int, int], stride: tuple[int, int],
           out_hw: tuple[int, int]) -> np.ndarray:
    """Patch matrix (N * Ho * Wo, KH * KW * C) of C-contiguous ``xp`` (N, Hp, Wp, C), in one copy.

    Rows are ordered (n, i, j), columns (kh, kw, c), so ``im2col(...) @ w.reshape(-1, F)`` is
    the convolution. The copy moves the longest contiguous runs available: a window row
    (``KW * C`` values) in general; when ``C == 1`` and the width stride is 1, output rows
    (``Wo`` values) instead, built kernel-major (K, M) and returned transposed (BLAS reads
    the F-ordered matrix without another copy).
    """
    k = window[0] * window[1] * xp.shape[3]
    if xp.shape[3] * stride[1] == 1 and out_hw[1] > window[1]:
        return _kernel_major(xp, window, stride, out_hw).reshape(k, -1).T
    return window_rows(xp, window, stride, out_hw).reshape(-1, k)
