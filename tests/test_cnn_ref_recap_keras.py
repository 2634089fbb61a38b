"""cnn_ref activations, losses, gradient descent and XOR proven against Keras / TF / sklearn."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from _tf import ATOL_F64, RTOL_F64, keras, tf
from sklearn.linear_model import LinearRegression

import cnn_ref

# Keras' float64 losses use log(clip(p)) like ours; sums in another order.
RTOL_LOSS = 1e-12
# Keras applies LeakyReLU's slope as a float32 constant (0.2 -> 0.20000000298...).
RTOL_KERAS_SLOPE = 1e-7
# Gradient descent vs the least-squares optimum after many steps.
ATOL_CONVERGED = 1e-6

EXTREMES = np.array([-1000.0, -745.0, -50.0, -1.0, 0.0, 1e-8, 1.0, 50.0, 745.0, 1000.0])


def _z(seed: int, shape=(4, 7)) -> np.ndarray:
    return np.random.default_rng(seed).normal(scale=3.0, size=shape)


ACTIVATIONS = {
    "sigmoid": (cnn_ref.sigmoid, keras.activations.sigmoid),
    "tanh": (cnn_ref.tanh, keras.activations.tanh),
    "relu": (cnn_ref.relu, keras.activations.relu),
    "leaky_relu": (cnn_ref.leaky_relu, keras.activations.leaky_relu),
    "softmax": (cnn_ref.softmax, keras.activations.softmax),
}


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_matches_keras(name):
    ours, theirs = ACTIVATIONS[name]
    rtol = RTOL_KERAS_SLOPE if name == "leaky_relu" else RTOL_F64
    for z in (_z(1), _z(2, (3, 2, 5)), EXTREMES[None, :]):
        np.testing.assert_allclose(ours(z), np.asarray(theirs(z)), rtol=rtol, atol=ATOL_F64)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_axis_matches_keras(axis):
    z = _z(3, (3, 4, 5))
    np.testing.assert_allclose(cnn_ref.softmax(z, axis=axis), np.asarray(keras.activations.softmax(z, axis=axis)),
                               rtol=RTOL_F64, atol=ATOL_F64)
    np.testing.assert_allclose(cnn_ref.softmax(z, axis=axis).sum(axis=axis), 1.0, rtol=RTOL_F64)


def test_activations_stable_at_1000_without_warnings():
    """Pinned: sigmoid, tanh and softmax are finite for |z| = 1000 without floating-point warnings."""
    z = np.array([[-1000.0, 0.0, 1000.0], [1000.0, 1000.0, -1000.0]])
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        for fn in (cnn_ref.sigmoid, cnn_ref.tanh, cnn_ref.softmax, cnn_ref.relu, cnn_ref.leaky_relu):
            assert np.all(np.isfinite(fn(z))), fn.__name__
    np.testing.assert_array_equal(cnn_ref.sigmoid(np.array([-1000.0, 1000.0])), [0.0, 1.0])


def test_softmax_stable_example():
    """Fact: softmax([1000, 1001, 1002]) = [0.090, 0.245, 0.665]."""
    got = cnn_ref.softmax(np.array([1000.0, 1001.0, 1002.0]))
    np.testing.assert_allclose(got, [0.090, 0.245, 0.665], atol=5e-4)
    np.testing.assert_allclose(got, np.asarray(tf.nn.softmax(np.array([1000.0, 1001.0, 1002.0]))),
                               rtol=RTOL_F64, atol=ATOL_F64)


def test_leaky_relu_slopes():
    """Fact: slope 0.3 in keras.layers.LeakyReLU, 0.2 in keras.activations.leaky_relu and tf.nn.leaky_relu."""
    z = np.array([-2.0, -0.5, 0.0, 3.0])
    assert keras.layers.LeakyReLU().get_config()["negative_slope"] == pytest.approx(0.3)
    np.testing.assert_allclose(np.asarray(keras.layers.LeakyReLU(dtype="float64")(z)), [-0.6, -0.15, 0, 3],
                               rtol=RTOL_KERAS_SLOPE)
    np.testing.assert_allclose(np.asarray(keras.activations.leaky_relu(z)), [-0.4, -0.1, 0, 3],
                               rtol=RTOL_KERAS_SLOPE)
    np.testing.assert_allclose(np.asarray(tf.nn.leaky_relu(z)), [-0.4, -0.1, 0, 3], rtol=RTOL_KERAS_SLOPE)
    np.testing.assert_allclose(cnn_ref.leaky_relu(z), [-0.4, -0.1, 0, 3], rtol=RTOL_F64)
    np.testing.assert_allclose(cnn_ref.leaky_relu(z, alpha=0.3),
                               np.asarray(keras.layers.LeakyReLU(dtype="float64")(z)), rtol=RTOL_KERAS_SLOPE)


# --- losses ---------------------------------------------------------------------------------

def _binary_case(seed: int, shape=(12, 3)):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=shape).astype(float)
    p = rng.uniform(size=shape)
    p.flat[:4] = [0.0, 1.0, 1e-9, 1 - 1e-9]     # exercise the clipping
    return y, p


def _categorical_case(seed: int, n=10, k=4):
    rng = np.random.default_rng(seed)
    y = np.eye(k)[rng.integers(0, k, size=n)]
    p = rng.uniform(size=(n, k)) * rng.uniform(0.5, 3.0, size=(n, 1))   # rows do not sum to 1
    p[0] = np.where(y[0] == 1, 0.0, 1.0)                                  # true class gets 0
    return y, p


@pytest.mark.parametrize("seed", range(3))
def test_mse_matches_keras(seed):
    rng = np.random.default_rng(seed)
    for shape in ((9,), (9, 1), (6, 4)):
        y, p = rng.normal(size=shape), rng.normal(size=shape)
        expected = float(np.mean(np.asarray(keras.losses.mean_squared_error(y, p))))
        assert cnn_ref.mse(y, p) == pytest.approx(expected, rel=RTOL_LOSS)
        assert cnn_ref.mse(y, p) == pytest.approx(float(keras.losses.MeanSquaredError(dtype="float64")(y, p)),
                                                  rel=RTOL_LOSS)


@pytest.mark.parametrize("seed", range(3))
def test_binary_cross_entropy_matches_keras(seed):
    for shape in ((12, 1), (12, 3), (5, 2, 2)):
        y, p = _binary_case(seed, shape)
        expected = float(np.mean(np.asarray(keras.losses.binary_crossentropy(y, p))))
        assert cnn_ref.binary_cross_entropy(y, p) == pytest.approx(expected, rel=RTOL_LOSS)


@pytest.mark.parametrize("seed", range(3))
def test_categorical_cross_entropy_matches_keras(seed):
    y, p = _categorical_case(seed)
    expected = float(np.mean(np.asarray(keras.losses.categorical_crossentropy(y, p))))
    assert cnn_ref.categorical_cross_entropy(y, p) == pytest.approx(expected, rel=RTOL_LOSS)
    layer_loss = keras.losses.CategoricalCrossentropy(dtype="float64")(y, p)
    assert cnn_ref.categorical_cross_entropy(y, p) == pytest.approx(float(layer_loss), rel=RTOL_LOSS)


def test_keras_epsilon_clip_16_118():
    """Fact: Keras epsilon is 1e-7; a true-class probability of 0 costs -ln(1e-7) = 16.118."""
    assert keras.config.epsilon() == 1e-7
    assert cnn_ref.binary_cross_entropy(np.array([1.0]), np.array([0.0])) == pytest.approx(-math.log(1e-7))
    assert -math.log(1e-7) == pytest.approx(16.118, abs=5e-4)
    y, p = np.array([[0.0, 1.0, 0.0]]), np.array([[0.5, 0.0, 0.5]])
    assert cnn_ref.categorical_cross_entropy(y, p) == pytest.approx(16.118, abs=5e-4)
    assert float(keras.losses.categorical_crossentropy(y, p)[0]) == pytest.approx(16.118, abs=5e-4)
    assert float(keras.losses.binary_crossentropy(np.array([1.0]), np.array([0.0]))) == pytest.approx(16.118,
                                                                                                        abs=5e-4)


def test_losses_average_over_batch():
    """Fact: losses average over the batch (a batch of two copies costs what one does)."""
    y, p = _categorical_case(4, n=1)
    one = cnn_ref.categorical_cross_entropy(y, p)
    assert cnn_ref.categorical_cross_entropy(np.vstack([y, y]), np.vstack([p, p])) == pytest.approx(one)
    yb, pb = _binary_case(4, (1, 3))
    assert cnn_ref.binary_cross_entropy(np.vstack([yb] * 3), np.vstack([pb] * 3)) == pytest.approx(
        cnn_ref.binary_cross_entropy(yb, pb))
    assert cnn_ref.mse([[1.0, 2.0]] * 4, [[0.0, 0.0]] * 4) == pytest.approx(2.5)


def test_categorical_cross_entropy_normalizes_rows_like_keras():
    """Pinned: each row of p is divided by its sum, then clipped."""
    y = np.array([[0.0, 1.0], [1.0, 0.0]])
    p = np.array([[2.0, 6.0], [1.0, 1.0]])
    expected = -(math.log(0.75) + math.log(0.5)) / 2
    assert cnn_ref.categorical_cross_entropy(y, p) == pytest.approx(expected)
    assert float(np.mean(np.asarray(keras.losses.categorical_crossentropy(y, p)))) == pytest.approx(expected)


# --- gradient descent and XOR -------------------------------------------------------------

def _tf_gradient_descent(x: np.ndarray, y: np.ndarray, lr: float, steps: int) -> tuple[float, float]:
    """The same loop with gradients from tf.GradientTape on keras' mean squared error."""
    w, b = tf.Variable(0.0, dtype=tf.float64), tf.Variable(0.0, dtype=tf.float64)
    for _ in range(steps):
        with tf.GradientTape() as tape:
            loss = keras.losses.mean_squared_error(y, w * x + b)
        dw, db = tape.gradient(loss, [w, b])
        w.assign_sub(lr * dw)
        b.assign_sub(lr * db)
    return float(w.numpy()), float(b.numpy())


@pytest.mark.parametrize("lr,steps", [(0.1, 1), (0.05, 7), (0.2, 25)])
def test_gradient_descent_matches_tf_gradients(lr, steps):
    """Pinned: starts at 0, full-batch gradients with the factor 2, simultaneous updates."""
    rng = np.random.default_rng(steps)
    x = rng.uniform(-2, 2, size=20)
    y = 1.5 * x - 0.7 + rng.normal(scale=0.1, size=20)
    w, b = cnn_ref.gradient_descent(x, y, lr=lr, steps=steps)
    assert isinstance(w, float) and isinstance(b, float)
    np.testing.assert_allclose([w, b], _tf_gradient_descent(x, y, lr, steps), rtol=1e-10, atol=1e-12)


def test_gradient_descent_one_step_by_hand():
    x, y = np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 6.0])
    # err = -y at w = b = 0: dw = 2 mean(-y x) = -56/3, db = 2 mean(-y) = -8
    assert cnn_ref.gradient_descent(x, y, lr=0.1, steps=1) == pytest.approx((5.6 / 3, 0.8))
    assert cnn_ref.gradient_descent(x, y, lr=0.1, steps=0) == (0.0, 0.0)


def test_gradient_descent_converges_to_sklearn_least_squares():
    rng = np.random.default_rng(8)
    x = rng.uniform(-1, 1, size=50)
    y = -2.0 * x + 0.5 + rng.normal(scale=0.2, size=50)
    fit = LinearRegression().fit(x[:, None], y)
    w, b = cnn_ref.gradient_descent(x, y, lr=0.3, steps=2000)
    np.testing.assert_allclose([w, b], [fit.coef_[0], fit.intercept_], atol=ATOL_CONVERGED)


def test_xor_network_thresholds_to_xor():
    """Pinned: h = relu(X W1 + b1), out = sigmoid(h W2 + b2), out > 0.5 is [0, 1, 1, 0]."""
    params = cnn_ref.xor_network()
    assert {k: v.shape for k, v in params.items()} == {"W1": (2, 2), "b1": (2,), "W2": (2, 1), "b2": (1,)}
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    out = cnn_ref.sigmoid(cnn_ref.relu(x @ params["W1"] + params["b1"]) @ params["W2"] + params["b2"])
    np.testing.assert_array_equal((out > 0.5).ravel().astype(int), [0, 1, 1, 0])
    np.testing.assert_allclose(cnn_ref.xor_forward(params, x), out, rtol=RTOL_F64)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, activation="relu", dtype="float64"),
                              keras.layers.Dense(1, activation="sigmoid", dtype="float64")])
    model.set_weights([params["W1"], params["b1"], params["W2"], params["b2"]])
    np.testing.assert_allclose(np.asarray(model(x)), out, rtol=RTOL_F64, atol=ATOL_F64)
    params["W1"][0, 0] = 99.0
    assert cnn_ref.xor_network()["W1"][0, 0] == 1.0     # a fresh dict every call
