"""Comparisons for grader tests, with messages a student can act on.

Every helper raises AssertionError whose message starts with ``what`` (the case, in the
student's terms) and says what differed: type, shape, dtype or the first wrong value.
Hidden inputs are never printed wholesale.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["as_array", "as_number", "expect_close", "expect_equal", "expect_shape", "fail"]


def fail(what: str, problem: str) -> None:
    raise AssertionError(f"{what}: {problem}")


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    return f"a value of type {type(value).__name__}"


def as_array(got: Any, *, what: str) -> np.ndarray:
    """The student's result as a numeric ndarray, or a failure saying why it is not one."""
    if got is None:
        fail(what, "got None; did you forget to return the result?")
    try:
        arr = np.asarray(got)
    except (ValueError, TypeError):
        fail(what, f"expected an array of numbers, got {_describe(got)}")
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        fail(what, f"expected an array of numbers, got {_describe(got)}")
    if arr.dtype.kind == "c":  # float(complex) would raise TypeError: a "grader failure" on demand
        arr = np.real_if_close(arr, tol=1000)
        if arr.dtype.kind == "c":
            fail(what, f"expected real numbers, got complex numbers ({_describe(got)})")
    return arr


def as_number(got: Any, *, what: str) -> float:
    """The student's result as one real number (Python or numpy scalar, or a 1-element array)."""
    arr = as_array(got, what=what)
    if arr.size != 1:
        fail(what, f"expected a single number, got an array of shape {arr.shape}")
    return float(arr.reshape(()))


def expect_shape(got: Any, shape: tuple[int, ...], *, what: str) -> np.ndarray:
    arr = as_array(got, what=what)
    if arr.shape != tuple(shape):
        fail(what, f"expected shape {tuple(shape)}, got {arr.shape}")
    return arr


def expect_close(got: Any, expected: Any, *, what: str, rtol: float = 1e-6, atol: float = 1e-8) -> None:
    """Numbers or arrays equal within tolerance, same shape, no NaN where a number is expected."""
    expected = np.asarray(expected)
    arr = expect_shape(got, expected.shape, what=what) if expected.ndim else np.asarray(as_number(got, what=what))
    arr = arr.astype(np.float64)
    exp = expected.astype(np.float64)
    bad = ~np.isclose(arr, exp, rtol=rtol, atol=atol, equal_nan=True)
    if not bad.any():
        return
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    where = f" at index {list(index)}" if index else ""
    count = f" ({int(bad.sum())} of {bad.size} values wrong)" if bad.size > 1 else ""
    fail(what, f"expected {_fmt(exp[index])}{where}, got {_fmt(arr[index])}{count}")


def expect_equal(got: Any, expected: Any, *, what: str) -> None:
    """Exact equality for ints, strings, tuples, lists and integer arrays."""
    if isinstance(expected, np.ndarray):
        arr = expect_shape(got, expected.shape, what=what)
        if not np.array_equal(arr, expected):
            index = tuple(int(i) for i in np.argwhere(arr != expected)[0])
            fail(what, f"expected {expected[index]!r} at index {list(index)}, got {arr[index]!r}")
        return
    normalized = _normalize(got)
    if not _plain(normalized) or normalized != _normalize(expected):
        fail(what, f"expected {expected!r}, got {_short(got)}")


def _normalize(value: Any) -> Any:
    """Numpy scalars as Python numbers, tuples and lists alike, so 3 == np.int64(3) == 3.0."""
    if isinstance(value, np.ndarray):
        return _normalize(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list | tuple):
        return [_normalize(v) for v in value]
    if isinstance(value, dict):
        return {k: _normalize(v) for k, v in value.items()}
    return value


def _plain(value: Any) -> bool:
    """Only plain data compares: an object with its own __eq__ proves nothing."""
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return type(value) in (int, float, bool, str, complex, type(None))


def _fmt(x: Any) -> str:
    x = float(x)
    if math.isnan(x) or math.isinf(x):
        return str(x)
    return f"{x:.6g}"


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
