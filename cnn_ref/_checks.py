"""Argument checks shared by every op: each failure is a ValueError naming the argument.

Numpy's own errors ("operands could not be broadcast together ...") say nothing about
which argument was wrong; these helpers turn every bad input into a message a grader
can show as-is.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np

__all__ = [
    "as_float_array",
    "as_int",
    "as_pair",
    "is_number",
    "check_nhwc",
    "check_same_shape",
    "float_dtype",
]


def as_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """``value`` as a Python int ``>= minimum`` (bools and floats are refused)."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, Integral):
        raise ValueError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {int(value)}")
    return int(value)


def is_number(value: Any) -> bool:
    """A real number (Python or numpy), not a bool."""
    return isinstance(value, Real) and not isinstance(value, bool | np.bool_)


def as_pair(value: Any, name: str, *, minimum: int = 1) -> tuple[int, int]:
    """An int or a pair of ints as ``(height, width)``, each ``>= minimum``."""
    if isinstance(value, tuple | list | np.ndarray):
        if np.ndim(value) != 1 or len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
        return (as_int(value[0], f"{name}[0]", minimum=minimum),
                as_int(value[1], f"{name}[1]", minimum=minimum))
    n = as_int(value, name, minimum=minimum)
    return n, n


def float_dtype(*dtypes: np.dtype) -> np.dtype:
    """The dtype a result is computed in: float32/float64 kept, float16 and ints promoted."""
    dtype = np.result_type(*dtypes)
    if dtype.kind == "f":
        return np.result_type(dtype, np.float32)
    if dtype.kind in "biu":
        return np.dtype(np.float64)
    raise ValueError(f"expected numeric arrays, got dtype {dtype}")


def as_float_array(value: Any, name: str) -> np.ndarray:
    """``value`` as a numeric array (ints become float64, float32 is kept)."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    return arr.astype(float_dtype(arr.dtype), copy=False)


def check_nhwc(x: Any, name: str = "x") -> np.ndarray:
    """``x`` as a float array of shape ``(N, H, W, C)``."""
    arr = as_float_array(x, name)
    if arr.ndim != 4:
        raise ValueError(f"{name} must be 4-D (N, H, W, C), got shape {arr.shape}")
    if 0 in arr.shape:
        raise ValueError(f"{name} must not have an empty axis, got shape {arr.shape}")
    return arr


def check_same_shape(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    """Refuse (instead of broadcasting) two arrays whose shapes differ."""
    if a.shape != b.shape:
        raise ValueError(f"{name_a} and {name_b} must have the same shape, "
                         f"got {a.shape} and {b.shape}")
