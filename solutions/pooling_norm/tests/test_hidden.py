"""Hidden graders for the `pooling_norm` assignment (trusted process; expected values from cnn_ref).

Points: max_pool2d 12, avg_pool2d 8, batch_norm 14.5, dropout 8.5 (total 43). Each test calls
one function, so a bug in one function never costs the points of another one (max_pool2d and
avg_pool2d usually share the student's pool_plan helper: a bug there is a bug of both).

Messages name the case in the student's terms (window, stride, padding, sizes) and say what
differed; when the wrong answer is exactly what a classic mistake gives (zeros as SAME max-pool
padding, padded cells counted in an average, the extra padding on the wrong side, stride 1 by
default, the unbiased variance, momentum on the wrong side, epsilon outside the square root,
batch statistics at inference, rate as the keep probability, scaling by 1 - rate) they say so.
They never print the random inputs.

Dropout is graded on its statistics only (fraction dropped, scaling of the kept units, same
seed same mask, identity at inference), never on a particular mask. Every call passes a seed, so
grading the same submission twice gives the same score.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

import cnn_ref
from grader.errors import StudentException
from grader.expect import as_array, expect_close, fail

RTOL = 1e-5
ATOL = 1e-6

Mistakes = Sequence[tuple[np.ndarray, str]]

ZERO_PAD_HINT = ('Hint: that is what zero padding gives; "same" max pooling pads with -inf, so a '
                 "padded cell never wins (try a window of negative numbers at the border).")
SIDE_HINT = ("Hint: that is what padding on the wrong side gives: TensorFlow puts the odd extra "
             "row/column AFTER (bottom/right), before = total // 2.")
COUNT_PAD_HINT = ('Hint: that is what counting the padded cells gives; "same" average pooling '
                  "divides by the number of REAL cells in each window.")
STRIDE_1_HINT = "Hint: that is the size for stride 1, but stride None means stride = pool_size."
FLOOR_HINT = 'Hint: "same" padding gives ceil(n / stride) outputs along each axis, not n // stride.'
UNBIASED_HINT = ("Hint: that is what the unbiased variance (dividing by m - 1) gives; batch "
                 "normalization divides by m, like np.var's default.")
EPS_OUTSIDE_HINT = ("Hint: that is what (x - mean) / (sqrt(var) + epsilon) gives; epsilon goes "
                    "INSIDE the square root: sqrt(var + epsilon).")
MOMENTUM_HINT = ("Hint: momentum is on the wrong side: moving * momentum + batch * (1 - momentum) "
                 "(with momentum 0.99 the old value keeps 99% of its weight).")


# -- helpers -------------------------------------------------------------------------------


def _size(shape: Sequence[int]) -> str:
    return "x".join(str(s) for s in shape)


def _pair_words(value: Any) -> str:
    return _size(value) if isinstance(value, tuple) else f"{value}x{value}"


def _pool_words(func: str, x: np.ndarray, pool_size: Any, stride: Any, padding: str) -> str:
    n, h, w, c = x.shape
    stride_words = "default stride" if stride is None else f"stride {stride}"
    images = f"{n} images" if n > 1 else "1 image"
    return (f'{func}, {_pair_words(pool_size)} pool, {stride_words}, padding="{padding}", '
            f"{images} {h}x{w} with {c} channel{'s' if c > 1 else ''}")


def ask(what: str, call: Callable[[], Any]) -> Any:
    """The student's answer; if their function raises, the feedback names the case."""
    try:
        return call()
    except StudentException as exc:
        raise StudentException(f"{what}: {exc}") from None


def _close(got: np.ndarray, value: np.ndarray) -> bool:
    return got.shape == value.shape and bool(np.allclose(got, value, rtol=RTOL, atol=ATOL))


def expect_array(got: Any, expected: np.ndarray, *, what: str, mistakes: Mistakes = ()) -> np.ndarray:
    """Values within tolerance; on failure, name the classic mistake that gives ``got`` exactly."""
    arr = as_array(got, what=what)
    try:
        expect_close(arr, expected, what=what, rtol=RTOL, atol=ATOL)
    except AssertionError as exc:
        hint = next((h for value, h in mistakes if _close(arr, value) and not _close(expected, value)), "")
        raise AssertionError(f"{exc} {hint}".strip()) from None
    return arr


def _pad(x: np.ndarray, pool: tuple[int, int], stride: tuple[int, int], value: float,
         swap: bool = False) -> np.ndarray:
    """x padded as TensorFlow's SAME would (or with the sides swapped), with ``value``."""
    pads = []
    for n, k, s in zip(x.shape[1:3], pool, stride, strict=True):
        before, after = cnn_ref.same_padding(n, k, s)
        pads.append((after, before) if swap else (before, after))
    return np.pad(x, ((0, 0), *pads, (0, 0)), constant_values=value)


def _real_cell_means(x: np.ndarray, pool: tuple[int, int], stride: tuple[int, int], swap: bool) -> np.ndarray:
    """Average pooling over real cells only, with SAME padding on the given sides."""
    sums = cnn_ref.avg_pool2d(_pad(x, pool, stride, 0.0, swap), pool, stride, "valid")
    counts = cnn_ref.avg_pool2d(_pad(np.ones((1, *x.shape[1:3], 1)), pool, stride, 0.0, swap), pool, stride, "valid")
    with np.errstate(divide="ignore", invalid="ignore"):
        return sums / counts


def _pairs(pool_size: Any, stride: Any) -> tuple[tuple[int, int], tuple[int, int]]:
    pool = pool_size if isinstance(pool_size, tuple) else (pool_size, pool_size)
    if stride is None:
        return pool, pool
    return pool, stride if isinstance(stride, tuple) else (stride, stride)


def check_pool(student, func: str, x: np.ndarray, pool_size: Any = 2, stride: Any = None,
               padding: str = "valid") -> None:
    """Call the student's pooling function and compare with cnn_ref, shape first."""
    kwargs: dict[str, Any] = {}
    if pool_size != 2:
        kwargs["pool_size"] = pool_size
    if stride is not None:
        kwargs["stride"] = stride
    if padding != "valid":
        kwargs["padding"] = padding
    what = _pool_words(func, x, pool_size, stride, padding)
    ref = getattr(cnn_ref, func)
    expected = ref(x, pool_size, stride, padding)
    arr = as_array(ask(what, lambda: getattr(student, func)(x, **kwargs)), what=what)
    if arr.ndim != 4:
        fail(what, f"expected a 4-D array (N, H_out, W_out, C) of shape {expected.shape}, got shape {arr.shape}")
    if arr.shape[1:3] != expected.shape[1:3]:
        hint = ""
        pool, strides = _pairs(pool_size, stride)
        if stride is None and padding.lower() == "valid" and ref(x, pool_size, 1, padding).shape == arr.shape:
            hint = " " + STRIDE_1_HINT
        elif padding.lower() == "same" and arr.shape[1:3] == tuple(
                n // s for n, s in zip(x.shape[1:3], strides, strict=True)):
            hint = " " + FLOOR_HINT
        fail(what, f"expected a {_size(expected.shape[1:3])} output, got {_size(arr.shape[1:3])}.{hint}")
    if arr.shape != expected.shape:
        fail(what, f"expected shape {expected.shape} (one output per image and per channel: pooling "
                   f"never mixes images or channels), got {arr.shape}")
    mistakes: list[tuple[np.ndarray, str]] = []
    if padding.lower() == "same":
        pool, strides = _pairs(pool_size, stride)
        # the padding's value or count, and its side, as the classic mistakes have them
        if func == "max_pool2d":
            mistakes.append((ref(_pad(x, pool, strides, -np.inf, swap=True), pool, strides, "valid"), SIDE_HINT))
            mistakes.append((ref(_pad(x, pool, strides, 0.0), pool, strides, "valid"), ZERO_PAD_HINT))
        else:
            mistakes.append((_real_cell_means(x, pool, strides, swap=True), SIDE_HINT))
            mistakes.append((ref(_pad(x, pool, strides, 0.0), pool, strides, "valid"), COUNT_PAD_HINT))
    expect_array(arr, expected, what=what, mistakes=mistakes)


def _bn_words(x: np.ndarray, training: bool, extra: str = "") -> str:
    mode = "training" if training else "inference"
    return f"batch_norm, {mode}, x of shape {x.shape}{extra}"


def call_bn(student, x, gamma, beta, mean, var, training: bool, **kwargs: Any):
    """The student's (y, new_moving_mean, new_moving_var), checked for its form."""
    what = _bn_words(x, training)
    got = ask(what, lambda: student.batch_norm(x, gamma, beta, mean, var, training=training, **kwargs))
    if not isinstance(got, tuple | list) or len(got) != 3:
        fail(what, f"expected a tuple (y, new_moving_mean, new_moving_var), got {type(got).__name__}"
                   + (f" of length {len(got)}" if isinstance(got, tuple | list) else ""))
    return got


def bn_mistakes(x, gamma, beta, mean, var, training: bool, **kwargs: Any) -> dict[str, Mistakes]:
    """What classic mistakes give for y, the moving mean and the moving variance."""
    momentum = kwargs.get("momentum", 0.99)
    eps = kwargs.get("epsilon", 1e-3)
    axes = tuple(range(x.ndim - 1))
    mu, sigma2 = x.mean(axis=axes), x.var(axis=axes)
    unbiased = x.var(axis=axes, ddof=1)
    if not training:
        y_batch = gamma * (x - mu) / np.sqrt(sigma2 + eps) + beta
        y_outside = gamma * (x - mean) / (np.sqrt(var) + eps) + beta
        hint = ("Hint: that is what the batch's own statistics give; at inference batch norm "
                "normalizes with moving_mean and moving_var.")
        return {"y": [(y_batch, hint), (y_outside, EPS_OUTSIDE_HINT)], "mean": [], "var": []}
    y_unbiased = gamma * (x - mu) / np.sqrt(unbiased + eps) + beta
    y_outside = gamma * (x - mu) / (np.sqrt(sigma2) + eps) + beta
    y_first_axis = gamma * (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + eps) + beta
    axis_hint = ("Hint: that is what statistics over the batch axis only give; for (N, H, W, C) "
                 "each channel is normalized over N, H and W together.")
    return {
        "y": [(y_unbiased, UNBIASED_HINT), (y_outside, EPS_OUTSIDE_HINT), (y_first_axis, axis_hint)],
        "mean": [(mean * (1 - momentum) + mu * momentum, MOMENTUM_HINT)],
        "var": [(var * (1 - momentum) + sigma2 * momentum, MOMENTUM_HINT),
                (var * momentum + unbiased * (1 - momentum), UNBIASED_HINT)],
    }


def check_bn(student, x, gamma, beta, mean, var, training: bool, *, parts: str = "y mean var",
             extra: str = "", **kwargs: Any) -> None:
    """Compare the requested parts of the student's batch_norm with cnn_ref."""
    got = call_bn(student, x, gamma, beta, mean, var, training, **kwargs)
    expected = cnn_ref.batch_norm(x, gamma, beta, mean, var, training, **kwargs)
    mistakes = bn_mistakes(x, gamma, beta, mean, var, training, **kwargs)
    what = _bn_words(x, training, extra)
    names = {"y": "y (the normalized output)", "mean": "new_moving_mean", "var": "new_moving_var"}
    for index, part in enumerate(("y", "mean", "var")):
        if part in parts.split():
            expect_array(got[index], expected[index], what=f"{what}: {names[part]}", mistakes=mistakes[part])


def call_dropout(student, x: np.ndarray, rate: float, training: bool, seed: int | None, *, what: str) -> np.ndarray:
    got = ask(what, lambda: student.dropout(x, rate, training=training, seed=seed))
    arr = as_array(got, what=what)
    if arr.shape != x.shape:
        fail(what, f"expected an array of the same shape as x, {x.shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        fail(what, "the result contains NaN or infinite values")
    return arr


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 2**31))


def _raise_with(check: Callable[[], None], hint: str) -> None:
    try:
        check()
    except AssertionError as exc:
        raise AssertionError(f"{exc} {hint}".strip()) from None


# -- max_pool2d (12 points) -----------------------------------------------------------------


@pytest.mark.points(2)
def test_max_pool_2x2(student, rng):
    """max_pool2d, 2x2 pool, default stride: each image and channel pooled on its own"""
    check_pool(student, "max_pool2d", rng.normal(size=(2, 4, 4, 3)))
    check_pool(student, "max_pool2d", rng.normal(size=(3, 6, 8, 2)))


@pytest.mark.points(2)
def test_max_pool_default_stride_is_pool_size(student, rng):
    """max_pool2d: stride None means stride = pool_size (3x3 pool on 9x9 gives 3x3)"""
    check_pool(student, "max_pool2d", rng.normal(size=(1, 9, 9, 2)), 3)
    check_pool(student, "max_pool2d", rng.normal(size=(2, 8, 12, 1)), 4)


@pytest.mark.points(1)
def test_max_pool_valid_drops_leftovers(student, rng):
    """max_pool2d, valid padding: rows and columns that do not fill a window are dropped"""
    check_pool(student, "max_pool2d", rng.normal(size=(1, 5, 5, 2)))
    check_pool(student, "max_pool2d", rng.normal(size=(2, 7, 5, 1)), 3)


@pytest.mark.points(1.5)
def test_max_pool_overlapping_stride(student, rng):
    """max_pool2d: an explicit stride smaller than the pool (overlapping windows)"""
    check_pool(student, "max_pool2d", rng.normal(size=(1, 7, 7, 2)), 3, 2)
    check_pool(student, "max_pool2d", rng.normal(size=(2, 5, 6, 1)), 2, 1)


@pytest.mark.points(1.5)
def test_max_pool_pairs(student, rng):
    """max_pool2d: non-square pool sizes and strides given as pairs (rows, cols)"""
    check_pool(student, "max_pool2d", rng.normal(size=(1, 6, 7, 2)), (2, 3), (1, 2))
    check_pool(student, "max_pool2d", rng.normal(size=(2, 9, 4, 1)), (3, 1))


@pytest.mark.points(2)
def test_max_pool_same_negative_values(student, rng):
    """max_pool2d, same padding on all-negative values: padded cells never win (-inf, not 0)"""
    check_pool(student, "max_pool2d", -rng.uniform(1, 5, size=(1, 5, 5, 2)), 2, None, "same")
    check_pool(student, "max_pool2d", -rng.uniform(1, 5, size=(2, 7, 6, 1)), 3, 2, "same")
    check_pool(student, "max_pool2d", -rng.uniform(1, 5, size=(1, 4, 4, 3)), 3, 1, "same")


@pytest.mark.points(1.5)
def test_max_pool_same_extra_padding_after(student, rng):
    """max_pool2d, same padding: the odd extra row/column of padding goes at the bottom/right"""
    check_pool(student, "max_pool2d", rng.uniform(1, 5, size=(1, 4, 4, 2)), 3, 2, "same")
    check_pool(student, "max_pool2d", rng.uniform(1, 5, size=(2, 5, 5, 1)), 2, 1, "same")
    check_pool(student, "max_pool2d", rng.uniform(1, 5, size=(1, 6, 5, 1)), (2, 4), 2, "same")


@pytest.mark.points(0.5)
def test_max_pool_padding_any_case(student, rng):
    """max_pool2d: padding names are matched case-insensitively ("SAME", "Valid")"""
    check_pool(student, "max_pool2d", rng.normal(size=(1, 5, 5, 1)), 2, None, "SAME")
    check_pool(student, "max_pool2d", rng.normal(size=(1, 5, 5, 1)), 2, None, "Valid")


# -- avg_pool2d (8 points) ------------------------------------------------------------------


@pytest.mark.points(2)
def test_avg_pool_2x2(student, rng):
    """avg_pool2d, 2x2 pool, default stride: the mean of each window"""
    check_pool(student, "avg_pool2d", rng.normal(size=(2, 4, 6, 3)))


@pytest.mark.points(1)
def test_avg_pool_default_stride_is_pool_size(student, rng):
    """avg_pool2d: stride None means stride = pool_size"""
    check_pool(student, "avg_pool2d", rng.normal(size=(1, 9, 9, 2)), 3)


@pytest.mark.points(1.5)
def test_avg_pool_strides_and_pairs(student, rng):
    """avg_pool2d: explicit strides, non-square pools, leftover rows dropped"""
    check_pool(student, "avg_pool2d", rng.normal(size=(1, 7, 7, 2)), 3, 2)
    check_pool(student, "avg_pool2d", rng.normal(size=(2, 6, 7, 1)), (2, 3), (2, 1))
    check_pool(student, "avg_pool2d", rng.normal(size=(1, 5, 7, 1)))


@pytest.mark.points(2.5)
def test_avg_pool_same_excludes_padding(student, rng):
    """avg_pool2d, same padding: the mean is over the real cells only (padding is not counted)"""
    check_pool(student, "avg_pool2d", rng.uniform(1, 5, size=(1, 5, 5, 2)), 2, None, "same")
    check_pool(student, "avg_pool2d", rng.uniform(1, 5, size=(2, 6, 7, 1)), 3, 2, "same")
    check_pool(student, "avg_pool2d", rng.uniform(1, 5, size=(1, 4, 4, 1)), 3, 1, "same")


@pytest.mark.points(1)
def test_avg_pool_same_extra_padding_after(student, rng):
    """avg_pool2d, same padding: the odd extra row/column of padding goes at the bottom/right"""
    check_pool(student, "avg_pool2d", rng.uniform(1, 5, size=(1, 4, 4, 2)), 3, 2, "same")
    check_pool(student, "avg_pool2d", rng.uniform(1, 5, size=(1, 6, 5, 1)), (2, 4), 2, "same")


# -- batch_norm (14.5 points) ---------------------------------------------------------------


def _bn_inputs(rng: np.random.Generator, shape: tuple[int, ...], *, identity: bool = False):
    c = shape[-1]
    x = rng.normal(loc=rng.uniform(-3, 3, size=c), scale=rng.uniform(0.5, 3, size=c), size=shape)
    if identity:
        return x, np.ones(c), np.zeros(c), np.zeros(c), np.ones(c)
    return (x, rng.uniform(0.5, 2, size=c), rng.normal(size=c), rng.normal(size=c),
            rng.uniform(0.5, 2, size=c))


@pytest.mark.points(2)
def test_bn_training_normalizes_features(student, rng):
    """batch_norm, training, (N, C): each feature gets mean 0 and variance 1 (biased variance, epsilon inside)"""
    x, gamma, beta, mean, var = _bn_inputs(rng, (16, 3), identity=True)
    check_bn(student, x, gamma, beta, mean, var, True, parts="y", extra=" (gamma 1, beta 0)")


@pytest.mark.points(1.5)
def test_bn_training_scale_and_shift(student, rng):
    """batch_norm, training: y = gamma * x_hat + beta"""
    x, gamma, beta, mean, var = _bn_inputs(rng, (10, 4))
    check_bn(student, x, gamma, beta, mean, var, True, parts="y")


@pytest.mark.points(2)
def test_bn_training_feature_maps(student, rng):
    """batch_norm, training, (N, H, W, C): statistics per channel over N, H and W"""
    x, gamma, beta, mean, var = _bn_inputs(rng, (4, 5, 3, 3))
    check_bn(student, x, gamma, beta, mean, var, True, parts="y")


@pytest.mark.points(2)
def test_bn_moving_mean_update(student, rng):
    """batch_norm, training: new_moving_mean = moving_mean * momentum + batch mean * (1 - momentum)"""
    x, gamma, beta, mean, var = _bn_inputs(rng, (8, 3))
    check_bn(student, x, gamma, beta, mean, var, True, parts="mean")
    x, gamma, beta, mean, var = _bn_inputs(rng, (2, 4, 4, 2))
    check_bn(student, x, gamma, beta, mean, var, True, parts="mean")


@pytest.mark.points(1.5)
def test_bn_moving_var_update(student, rng):
    """batch_norm, training: new_moving_var = moving_var * momentum + batch variance (biased) * (1 - momentum)"""
    x, gamma, beta, mean, var = _bn_inputs(rng, (8, 3))
    check_bn(student, x, gamma, beta, mean, var, True, parts="var")
    x, gamma, beta, mean, var = _bn_inputs(rng, (2, 4, 4, 2))
    check_bn(student, x, gamma, beta, mean, var, True, parts="var")


@pytest.mark.points(2)
def test_bn_inference_uses_moving_statistics(student, rng):
    """batch_norm, inference: normalizes with moving_mean and moving_var, not the batch's statistics"""
    x, gamma, beta, mean, var = _bn_inputs(rng, (6, 3))
    check_bn(student, x, gamma, beta, mean, var, False, parts="y")
    x, gamma, beta, mean, var = _bn_inputs(rng, (2, 3, 3, 2))
    check_bn(student, x, gamma, beta, mean, var, False, parts="y")


@pytest.mark.points(1)
def test_bn_inference_keeps_moving_statistics(student, rng):
    """batch_norm, inference: the moving statistics come back unchanged"""
    x, gamma, beta, mean, var = _bn_inputs(rng, (6, 3))
    hint = "Hint: at inference the moving statistics are used, not updated."
    _raise_with(lambda: check_bn(student, x, gamma, beta, mean, var, False, parts="mean var"), hint)


@pytest.mark.points(1)
def test_bn_epsilon_inside_square_root(student, rng):
    """batch_norm, training: a feature with a tiny variance (epsilon inside the square root matters)"""
    c = 2
    x = rng.normal(scale=0.02, size=(12, c))
    check_bn(student, x, np.ones(c), np.zeros(c), np.zeros(c), np.ones(c), True, parts="y",
             extra=" (values of about 0.02)")


@pytest.mark.points(0.5)
def test_bn_constant_feature(student, rng):
    """batch_norm, training: a constant feature gives beta (not NaN)"""
    x = np.column_stack([np.full(5, 3.0), rng.normal(size=5)])
    beta = np.array([0.7, -0.2])
    check_bn(student, x, np.array([1.5, 1.0]), beta, np.zeros(2), np.ones(2), True, parts="y",
             extra=" (the first feature is constant)")


@pytest.mark.points(1)
def test_bn_custom_momentum_and_epsilon(student, rng):
    """batch_norm: the momentum and epsilon arguments are used (momentum=0.9, epsilon=1e-5)"""
    x, gamma, beta, mean, var = _bn_inputs(rng, (3, 4, 4, 2))
    check_bn(student, x, gamma, beta, mean, var, True, momentum=0.9, epsilon=1e-5,
             extra=", momentum=0.9, epsilon=1e-5")


# -- dropout (8.5 points) -------------------------------------------------------------------


@pytest.mark.points(2)
def test_dropout_identity_at_inference(student, rng):
    """dropout, training=False: the identity (nothing dropped, nothing scaled)"""
    x = rng.normal(size=(4, 6, 6, 3))
    for rate, seed in ((0.5, _seed(rng)), (0.2, None)):
        what = f"dropout(x, rate={rate}, training=False) on x of shape {x.shape}"
        got = call_dropout(student, x, rate, False, seed, what=what)
        _raise_with(lambda got=got, what=what: expect_close(got, x, what=what + " (expected x unchanged)",
                                                            rtol=RTOL, atol=ATOL),
                    "Hint: at inference dropout does nothing: no unit is dropped and none is scaled.")


@pytest.mark.points(2)
def test_dropout_drops_a_fraction_rate(student, rng):
    """dropout, training: about a fraction `rate` of the units is set to 0 (rate = drop probability)"""
    x = np.ones((40, 50, 50))
    for rate in (0.2, 0.65):
        what = f"dropout(x, rate={rate}, training=True) on 100,000 ones"
        got = call_dropout(student, x, rate, True, _seed(rng), what=what)
        dropped = float(np.mean(got == 0))
        if abs(dropped - rate) > 0.01:
            hint = ""
            if abs(dropped - (1 - rate)) <= 0.01:
                hint = (" Hint: that is 1 - rate: in Keras, rate is the probability of DROPPING "
                        "a unit, not of keeping it.")
            fail(what, f"expected about {rate:.0%} of the values to be 0, got {dropped:.1%}.{hint}")


@pytest.mark.points(2)
def test_dropout_scales_kept_units(student, rng):
    """dropout, training: kept units are divided by 1 - rate (inverted dropout), dropped ones are 0"""
    x = rng.uniform(0.5, 2.0, size=(20, 30, 40))
    for rate in (0.3, 0.75):
        what = f"dropout(x, rate={rate}, training=True) on positive values"
        got = call_dropout(student, x, rate, True, _seed(rng), what=what)
        kept = got != 0
        if kept.mean() < 0.1:
            fail(what, f"expected about {1 - rate:.0%} of the values to be kept, got {kept.mean():.1%}")
        scale = got[kept] / x[kept]
        if np.allclose(scale, 1 / (1 - rate), rtol=RTOL):
            continue
        hints = {1 - rate: " Hint: kept units are DIVIDED by 1 - rate, not multiplied by it.",
                 1.0: " Hint: inverted dropout divides the kept units by 1 - rate, so that the "
                      "expected value does not change.",
                 1 / rate: " Hint: divide by 1 - rate, the keep probability (rate is the drop "
                           "probability)."}
        hint = next((h for factor, h in hints.items() if np.allclose(scale, factor, rtol=RTOL)), "")
        fail(what, f"expected every kept value to be x / (1 - rate) = x * {1 / (1 - rate):.4g}, "
                   f"got x * {float(np.median(scale)):.4g}.{hint}")


@pytest.mark.points(1.5)
def test_dropout_same_seed_same_mask(student, rng):
    """dropout, training: the same seed gives the same mask"""
    x = rng.uniform(0.5, 2.0, size=(3, 8, 8, 2))
    seed = _seed(rng)
    what = f"dropout(x, rate=0.4, training=True, seed={seed}) called twice"
    first = call_dropout(student, x, 0.4, True, seed, what=what)
    second = call_dropout(student, x, 0.4, True, seed, what=what)
    if not np.array_equal(first == 0, second == 0):
        fail(what, "expected the same values to be dropped both times, got different masks "
                   "(hint: make your random numbers with np.random.default_rng(seed))")
    expect_close(second, first, what=what, rtol=RTOL, atol=ATOL)
    if np.all(first == 0) or not np.any(first == 0):  # a constant "dropout" earns nothing here
        fail(what, "expected some values dropped and some kept at rate 0.4, got "
                   + ("all dropped" if np.all(first == 0) else "none dropped"))


@pytest.mark.points(1)
def test_dropout_rate_0_and_1(student, rng):
    """dropout, training: rate 0 changes nothing, rate 1 drops everything (zeros, no NaN)"""
    x = rng.normal(size=(5, 7))
    what = "dropout(x, rate=0.0, training=True)"
    expect_close(call_dropout(student, x, 0.0, True, _seed(rng), what=what), x,
                 what=what + " (expected x unchanged)", rtol=RTOL, atol=ATOL)
    what = "dropout(x, rate=1.0, training=True)"
    expect_close(call_dropout(student, x, 1.0, True, _seed(rng), what=what), np.zeros_like(x),
                 what=what + " (expected all zeros)", rtol=0.0, atol=0.0)
