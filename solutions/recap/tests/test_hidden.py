"""Hidden graders for `recap`: activations, softmax, losses, gradient descent, the XOR network.

Points: sigmoid 2, tanh 2, relu 1, leaky_relu 2, softmax 4, mse 1, binary_cross_entropy 2,
categorical_cross_entropy 3, gradient_descent 5, xor_network 3 (total 25).

Expected values come from cnn_ref (proven against TensorFlow / Keras). Each test calls one
function, so a bug in one function never costs the points of another. The XOR network is
graded by running the pinned forward pass here, in the trusted process, on the weights the
student returns. Messages name the case and say what differed, never the random inputs.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import cnn_ref
from grader.errors import StudentError
from grader.expect import as_array, as_number, expect_close, expect_shape, fail

LARGE = np.array([-1000.0, -710.0, -40.0, -1.5, 0.0, 1.5, 40.0, 710.0, 1000.0])
XOR_SHAPES = {"W1": (2, 2), "b1": (2,), "W2": (2, 1), "b2": (1,)}

# -- helpers -----------------------------------------------------------------------------------


def call(student: Any, name: str, *args: Any, what: str, **kwargs: Any) -> Any:
    """The student's result, or a failure that names the case the call was made for."""
    try:
        return getattr(student, name)(*args, **kwargs)
    except StudentError as exc:
        fail(what, str(exc))


def expect_finite_close(got: Any, expected: np.ndarray, *, what: str, hint: str = "") -> None:
    """Shape, then no NaN or inf (with a hint on how to avoid them), then the values."""
    arr = expect_shape(got, expected.shape, what=what)
    bad = ~np.isfinite(arr.astype(np.float64))
    if bad.any():
        index = [int(i) for i in np.argwhere(bad)[0]]
        fail(what, f"got {arr[tuple(index)]} at index {index} ({int(bad.sum())} of {bad.size} values "
                   f"not finite){'; ' + hint if hint else ''}")
    expect_close(arr, expected, what=what)


def expect_loss(got: Any, expected: float, *, what: str, batch: int, hint: str = "") -> None:
    """One float within tolerance; a sum over the batch is named as such, ``hint`` ends other failures."""
    value = as_number(got, what=what)
    if batch > 1 and math.isclose(value, expected * batch, rel_tol=1e-6):
        fail(what, f"expected {expected:.6g}, got {value:.6g}: that is the sum over the {batch} samples; "
                   "losses are the MEAN over the batch")
    if not math.isclose(value, expected, rel_tol=1e-6, abs_tol=1e-8):
        fail(what, f"expected {expected:.6g}, got {value:.6g}{'; ' + hint if hint else ''}")


def one_hot(labels: np.ndarray, classes: int) -> np.ndarray:
    return np.eye(classes)[labels]


# -- activations -------------------------------------------------------------------------------


@pytest.mark.points(1)
def test_sigmoid_values(student, rng):
    """sigmoid: values on a 2-D array"""
    z = rng.normal(scale=4.0, size=(3, 5))
    what = "sigmoid on a 3x5 array"
    expect_finite_close(call(student, "sigmoid", z, what=what), cnn_ref.sigmoid(z), what=what,
                        hint="sigmoid is 1 / (1 + exp(-z))")


@pytest.mark.points(1)
def test_sigmoid_large_inputs(student):
    """sigmoid: stable for |z| up to 1000"""
    what = "sigmoid at z between -1000 and 1000"
    expect_finite_close(call(student, "sigmoid", LARGE, what=what), cnn_ref.sigmoid(LARGE), what=what,
                        hint="np.exp overflows to inf for z > 709; compute from exp(-|z|), which never does")


@pytest.mark.points(1)
def test_tanh_values(student, rng):
    """tanh: values on a 2-D array"""
    z = rng.normal(scale=2.0, size=(4, 3))
    what = "tanh on a 4x3 array"
    expect_finite_close(call(student, "tanh", z, what=what), cnn_ref.tanh(z), what=what,
                        hint="tanh(z) = (exp(z) - exp(-z)) / (exp(z) + exp(-z))")


@pytest.mark.points(1)
def test_tanh_large_inputs(student):
    """tanh: stable for |z| up to 1000"""
    what = "tanh at z between -1000 and 1000"
    expect_finite_close(call(student, "tanh", LARGE, what=what), cnn_ref.tanh(LARGE), what=what,
                        hint="exp(1000) is inf and inf / inf is NaN; np.tanh is stable")


@pytest.mark.points(1)
def test_relu(student, rng):
    """relu: negative, zero and positive inputs"""
    z = rng.normal(size=(3, 4))
    z[0, :2] = 0.0
    what = "relu on a 3x4 array"
    expect_finite_close(call(student, "relu", z, what=what), cnn_ref.relu(z), what=what)


@pytest.mark.points(1)
def test_leaky_relu_default_slope(student, rng):
    """leaky_relu: the default slope is 0.2"""
    z = rng.normal(scale=3.0, size=(2, 6))
    z[0, 0], z[1, 0] = -5.0, 5.0
    what = "leaky_relu(z) with the default alpha"
    got = as_array(call(student, "leaky_relu", z, what=what), what=what)
    if got.shape == z.shape and not np.isclose(got[0, 0], -1.0):
        slope = got[0, 0] / -5.0
        fail(what, f"leaky_relu(-5) should be -1 (slope 0.2, as tf.nn.leaky_relu), got {got[0, 0]:.6g} "
                   f"(slope {slope:.6g}); 0.3 is the default of the keras.layers.LeakyReLU layer")
    expect_finite_close(got, cnn_ref.leaky_relu(z), what=what)


@pytest.mark.points(1)
def test_leaky_relu_given_alpha(student, rng):
    """leaky_relu: uses the alpha it is given"""
    z = rng.normal(scale=3.0, size=(8,))
    z[0] = -2.0
    for alpha in (0.05, 0.5):
        what = f"leaky_relu(z, alpha={alpha})"
        got = call(student, "leaky_relu", z, alpha=alpha, what=what)
        expect_finite_close(got, cnn_ref.leaky_relu(z, alpha=alpha), what=what)


@pytest.mark.points(1)
def test_softmax_rows(student, rng):
    """softmax: a batch of logits, one distribution per row"""
    z = rng.normal(scale=3.0, size=(4, 6))
    what = "softmax on a batch of 4 rows of 6 logits"
    expect_finite_close(call(student, "softmax", z, what=what), cnn_ref.softmax(z), what=what,
                        hint="exp(z) / sum(exp(z)) along the last axis")


@pytest.mark.points(1)
def test_softmax_axis(student, rng):
    """softmax: along another axis"""
    for shape, axis in (((5, 3), 0), ((2, 4, 3), 1)):
        z = rng.normal(scale=2.0, size=shape)
        what = f"softmax(z, axis={axis}) on an array of shape {shape}"
        expect_finite_close(call(student, "softmax", z, axis=axis, what=what), cnn_ref.softmax(z, axis=axis),
                            what=what, hint="sum (and take the max) along axis, with keepdims=True")


@pytest.mark.points(1)
def test_softmax_large_logits(student):
    """softmax: stable for logits around +-1000"""
    for z in (np.array([1000.0, 1001.0, 1002.0]), np.array([-1000.0, -1001.0, -1002.0])):
        what = f"softmax({z.tolist()})"
        expect_finite_close(call(student, "softmax", z, what=what), cnn_ref.softmax(z), what=what,
                            hint="subtract the largest logit before np.exp (softmax does not change)")


@pytest.mark.points(1)
def test_softmax_rows_of_different_scales(student):
    """softmax: the maximum is subtracted per row"""
    z = np.array([[1000.0, 1001.0, 1002.0], [-1000.0, -1001.0, -1002.0], [1.0, 2.0, 3.0]])
    what = "softmax on rows around 1000, around -1000 and around 2"
    expect_finite_close(call(student, "softmax", z, what=what), cnn_ref.softmax(z), what=what,
                        hint="subtract each row's own maximum (np.max with axis and keepdims=True)")


# -- losses ------------------------------------------------------------------------------------


@pytest.mark.points(1)
def test_mse(student, rng):
    """mse: mean over the batch"""
    for shape in ((12,), (8, 3)):
        y_true, y_pred = rng.normal(size=shape), rng.normal(size=shape)
        what = f"mse on arrays of shape {shape}"
        got = call(student, "mse", y_true, y_pred, what=what)
        expect_loss(got, cnn_ref.mse(y_true, y_pred), what=what, batch=y_true.size)


@pytest.mark.points(1)
def test_binary_cross_entropy_values(student, rng):
    """binary_cross_entropy: mean over the batch"""
    for shape in ((16,), (10, 1)):
        y = rng.integers(0, 2, size=shape).astype(float)
        p = rng.uniform(0.02, 0.98, size=shape)
        what = f"binary_cross_entropy on a batch of shape {shape}"
        got = call(student, "binary_cross_entropy", y, p, what=what)
        expect_loss(got, cnn_ref.binary_cross_entropy(y, p), what=what, batch=y.size)


@pytest.mark.points(1)
def test_binary_cross_entropy_clipping(student):
    """binary_cross_entropy: probabilities 0 and 1 are clipped like Keras"""
    y = np.array([1.0, 0.0, 1.0, 0.0])
    p = np.array([0.0, 1.0, 0.5, 0.5])
    hint = "clip p to [eps, 1 - eps] before the log, like Keras (a sure mistake then costs -ln(1e-7) = 16.118)"
    what = "binary_cross_entropy with p = 0 for a true 1 and p = 1 for a true 0"
    got = call(student, "binary_cross_entropy", y, p, what=what)
    expect_loss(got, cnn_ref.binary_cross_entropy(y, p), what=what, batch=4, hint=hint)
    what += ", eps=1e-3"
    got = call(student, "binary_cross_entropy", y, p, eps=1e-3, what=what)
    expect_loss(got, cnn_ref.binary_cross_entropy(y, p, eps=1e-3), what=what, batch=4,
                hint="use the eps you are given")


@pytest.mark.points(1)
def test_categorical_cross_entropy_values(student, rng):
    """categorical_cross_entropy: mean over the batch"""
    y = one_hot(rng.integers(0, 4, size=6), 4)
    p = cnn_ref.softmax(rng.normal(size=(6, 4)))
    what = "categorical_cross_entropy on a batch of 6 samples, 4 classes"
    got = call(student, "categorical_cross_entropy", y, p, what=what)
    expect_loss(got, cnn_ref.categorical_cross_entropy(y, p), what=what, batch=6)


@pytest.mark.points(1)
def test_categorical_cross_entropy_clipping(student):
    """categorical_cross_entropy: a true-class probability of 0 is clipped like Keras"""
    y = one_hot(np.array([0, 2, 1]), 3)
    p = np.array([[0.0, 0.5, 0.5], [0.2, 0.3, 0.5], [0.1, 0.9, 0.0]])
    hint = "clip p to [eps, 1 - eps] before the log, like Keras (-ln(1e-7) = 16.118)"
    for kwargs in ({}, {"eps": 1e-4}):
        what = "categorical_cross_entropy with probability 0 for a true class" + (", eps=1e-4" if kwargs else "")
        got = call(student, "categorical_cross_entropy", y, p, what=what, **kwargs)
        expect_loss(got, cnn_ref.categorical_cross_entropy(y, p, **kwargs), what=what, batch=3, hint=hint)


@pytest.mark.points(1)
def test_categorical_cross_entropy_unnormalised_rows(student, rng):
    """categorical_cross_entropy: rows of p are divided by their sum first"""
    y = one_hot(rng.integers(0, 5, size=4), 5)
    p = rng.uniform(0.1, 1.0, size=(4, 5))  # positive scores whose rows do not sum to 1
    what = "categorical_cross_entropy with rows of p that do not sum to 1"
    got = call(student, "categorical_cross_entropy", y, p, what=what)
    expect_loss(got, cnn_ref.categorical_cross_entropy(y, p), what=what, batch=4,
                hint="divide each row of p by its sum (as Keras does), then clip")


# -- gradient descent --------------------------------------------------------------------------


def expect_line(got: Any, expected: tuple[float, float], *, what: str) -> tuple[float, float]:
    """(w, b): a pair of numbers within tolerance, with a hint for the missing factor 2."""
    if not isinstance(got, list | tuple) or len(got) != 2:
        fail(what, f"expected a pair (w, b), got {type(got).__name__}"
                   f"{f' of length {len(got)}' if isinstance(got, list | tuple) else ''}")
    w, b = as_number(got[0], what=what + ", w"), as_number(got[1], what=what + ", b")
    if (math.isclose(w, expected[0] / 2, rel_tol=1e-6) and math.isclose(b, expected[1] / 2, rel_tol=1e-6)
            and expected != (0.0, 0.0)):
        fail(what, "w and b are half the expected values: the gradients of mean((w x + b - y)^2) "
                   "carry a factor 2")
    expect_close(w, expected[0], what=what + ", w")
    expect_close(b, expected[1], what=what + ", b")
    return w, b


@pytest.mark.points(1)
def test_gradient_descent_one_step(student, rng):
    """gradient_descent: one step from w = b = 0"""
    x = rng.uniform(-1.0, 2.0, size=20)
    y = 2.0 * x + 0.5 + 0.1 * rng.normal(size=20)
    what = "gradient_descent(x, y, lr=0.1, steps=1)"
    got = call(student, "gradient_descent", x, y, lr=0.1, steps=1, what=what)
    expect_line(got, cnn_ref.gradient_descent(x, y, lr=0.1, steps=1), what=what)


@pytest.mark.points(2)
def test_gradient_descent_many_steps(student, rng):
    """gradient_descent: 25 steps, both parameters updated together"""
    x = rng.uniform(0.0, 2.0, size=30)
    y = -1.5 * x + 1.0 + 0.2 * rng.normal(size=30)
    what = "gradient_descent(x, y, lr=0.05, steps=25)"
    got = call(student, "gradient_descent", x, y, lr=0.05, steps=25, what=what)
    expect_line(got, cnn_ref.gradient_descent(x, y, lr=0.05, steps=25), what=what)


@pytest.mark.points(1)
def test_gradient_descent_defaults(student, rng):
    """gradient_descent: the defaults lr=0.1 and steps=100"""
    x = rng.uniform(-1.0, 1.0, size=40)
    y = 0.7 * x - 2.0 + 0.1 * rng.normal(size=40)
    what = "gradient_descent(x, y) with the default lr and steps"
    got = call(student, "gradient_descent", x, y, what=what)
    expect_line(got, cnn_ref.gradient_descent(x, y), what=what)


@pytest.mark.points(1)
def test_gradient_descent_returns_two_numbers(student, rng):
    """gradient_descent: returns two plain numbers, and (0.0, 0.0) after 0 steps"""
    x = rng.uniform(-1.0, 1.0, size=10)
    y = 3.0 * x + 1.0
    what = "gradient_descent(x, y, lr=0.1, steps=3)"
    got = call(student, "gradient_descent", x, y, lr=0.1, steps=3, what=what)
    if not isinstance(got, list | tuple) or len(got) != 2:
        fail(what, f"expected a pair (w, b), got {type(got).__name__}")
    for name, value in zip(("w", "b"), got, strict=True):
        arr = np.asarray(value)
        if arr.ndim != 0:
            fail(what, f"{name} must be a single number (a Python float), got an array of shape {arr.shape}; "
                       f"float({name}) turns a 1-element array into one")
        if isinstance(value, bool) or not np.issubdtype(arr.dtype, np.number):
            fail(what, f"{name} must be a number (a Python float), got {type(value).__name__}")
    what = "gradient_descent(x, y, lr=0.1, steps=0)"
    expect_line(call(student, "gradient_descent", x, y, lr=0.1, steps=0, what=what), (0.0, 0.0), what=what)


# -- the XOR network ---------------------------------------------------------------------------


def xor_weights(student: Any, *, what: str, strict: bool) -> dict[str, np.ndarray]:
    """The student's weights as float arrays; strict: exactly the contract's shapes, else sizes."""
    got = call(student, "xor_network", what=what)
    if not isinstance(got, dict):
        fail(what, f'expected a dict with the keys "W1", "b1", "W2", "b2", got {type(got).__name__}')
    missing = [key for key in XOR_SHAPES if key not in got]
    if missing:
        fail(what, f"the dict has no {', '.join(repr(k) for k in missing)}")
    weights = {}
    for key, shape in XOR_SHAPES.items():
        arr = as_array(got[key], what=f"{what}, {key}")
        if arr.shape != shape and (strict or arr.size != math.prod(shape)):
            fail(what, f"{key} must have shape {shape}, got {arr.shape}")
        weights[key] = arr.astype(np.float64).reshape(shape)
        if not np.all(np.isfinite(weights[key])):
            fail(what, f"{key} holds NaN or inf")
    return weights


@pytest.mark.points(1)
def test_xor_network_shapes(student):
    """xor_network: a dict of W1 (2, 2), b1 (2,), W2 (2, 1), b2 (1,)"""
    xor_weights(student, what="xor_network()", strict=True)


@pytest.mark.points(2)
def test_xor_network_computes_xor(student):
    """xor_network: relu hidden layer, sigmoid output, predicts XOR"""
    what = "xor_network(): the forward pass sigmoid(relu(X @ W1 + b1) @ W2 + b2) > 0.5"
    weights = xor_weights(student, what=what, strict=False)
    out = cnn_ref.xor_forward(weights)
    predicted = [int(v) for v in (out[:, 0] > 0.5)]
    if predicted != [0, 1, 1, 0]:
        fail(what, f"predicts {predicted} for the inputs (0,0), (0,1), (1,0), (1,1); XOR is [0, 1, 1, 0]")
