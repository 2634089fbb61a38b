"""cnn_ref batch_norm and dropout proven against keras.layers.BatchNormalization / Dropout."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from _tf import ATOL_F64, RTOL_F64, keras

import cnn_ref

# Keras' variance goes through E[(x - mean)^2] in a different order: agree to ~1e-12.
RTOL_BN = 1e-9
ATOL_BN = 1e-9
# Dropout statistics: sample fractions within ~5 standard deviations of the rate.
SIGMAS = 5.0


def _keras_bn(shape: tuple[int, ...], params: list[np.ndarray], **kwargs) -> keras.layers.BatchNormalization:
    """A float64 Keras BN layer built for inputs of ``shape`` with weights ``params``."""
    layer = keras.layers.BatchNormalization(dtype="float64", **kwargs)
    layer.build((None, *shape[1:]))
    layer.set_weights(params)
    return layer


def _bn_case(seed: int, shape: tuple[int, ...]):
    rng = np.random.default_rng(seed)
    c = shape[-1]
    x = rng.normal(loc=rng.normal(size=c) * 3, scale=rng.uniform(0.5, 2, size=c), size=shape)
    params = [rng.normal(size=c), rng.normal(size=c), rng.normal(size=c), rng.uniform(0.5, 2, size=c)]
    return x, params


def _weights(layer: keras.layers.BatchNormalization) -> list[np.ndarray]:
    return [np.asarray(v) for v in layer.get_weights()]


BN_SHAPES = [(8, 3), (4, 5, 6, 2), (2, 3, 3, 4), (16, 1)]
BN_HYPER = [{}, {"momentum": 0.9, "epsilon": 1e-5}, {"momentum": 0.5, "epsilon": 0.1}]


@pytest.mark.parametrize("shape", BN_SHAPES, ids=str)
@pytest.mark.parametrize("hyper", BN_HYPER, ids=lambda h: str(h) or "defaults")
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_matches_keras(shape, hyper, training):
    x, params = _bn_case(BN_SHAPES.index(shape), shape)
    layer = _keras_bn(shape, params, **hyper)
    expected = np.asarray(layer(x, training=training))
    _, _, keras_mean, keras_var = _weights(layer)
    y, new_mean, new_var = cnn_ref.batch_norm(x, *params, training=training, **hyper)
    np.testing.assert_allclose(y, expected, rtol=RTOL_BN, atol=ATOL_BN)
    np.testing.assert_allclose(new_mean, keras_mean, rtol=RTOL_BN, atol=ATOL_BN)
    np.testing.assert_allclose(new_var, keras_var, rtol=RTOL_BN, atol=ATOL_BN)
    if not training:
        np.testing.assert_array_equal(new_mean, params[2])
        np.testing.assert_array_equal(new_var, params[3])


@pytest.mark.parametrize("shape", BN_SHAPES, ids=str)
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_naive_agrees_with_fast(shape, training):
    x, params = _bn_case(100 + BN_SHAPES.index(shape), shape)
    for got, want in zip(cnn_ref.batch_norm_naive(x, *params, training=training, momentum=0.8),
                         cnn_ref.batch_norm(x, *params, training=training, momentum=0.8), strict=True):
        np.testing.assert_allclose(got, want, rtol=RTOL_BN, atol=ATOL_BN)


def test_bn_moving_statistics_over_several_steps_match_keras():
    """Moving statistics chained through three training steps, then used at inference."""
    rng = np.random.default_rng(7)
    x0, params = _bn_case(8, (6, 4, 4, 3))
    layer = _keras_bn(x0.shape, params)
    gamma, beta, moving_mean, moving_var = params
    for _ in range(3):
        x = x0 + rng.normal(size=x0.shape)
        layer(x, training=True)
        _, moving_mean, moving_var = cnn_ref.batch_norm(x, gamma, beta, moving_mean, moving_var, training=True)
    _, _, keras_mean, keras_var = _weights(layer)
    np.testing.assert_allclose(moving_mean, keras_mean, rtol=RTOL_BN, atol=ATOL_BN)
    np.testing.assert_allclose(moving_var, keras_var, rtol=RTOL_BN, atol=ATOL_BN)
    y, _, _ = cnn_ref.batch_norm(x0, gamma, beta, moving_mean, moving_var, training=False)
    np.testing.assert_allclose(y, np.asarray(layer(x0, training=False)), rtol=RTOL_BN, atol=ATOL_BN)


def test_bn_keras_defaults():
    """Fact: axis=-1, momentum=0.99, epsilon=1e-3; gamma 1, beta 0, moving mean 0, moving var 1."""
    layer = keras.layers.BatchNormalization()
    config = layer.get_config()
    assert config["axis"] == -1 and config["momentum"] == 0.99 and config["epsilon"] == 1e-3
    layer.build((None, 3))
    gamma, beta, moving_mean, moving_var = _weights(layer)
    np.testing.assert_array_equal(np.stack([gamma, beta, moving_mean, moving_var]),
                                  np.array([[1.0] * 3, [0.0] * 3, [0.0] * 3, [1.0] * 3]))
    params = inspect.signature(cnn_ref.batch_norm).parameters
    assert params["momentum"].default == 0.99 and params["epsilon"].default == 1e-3


def test_bn_training_statistics_per_channel_biased_variance():
    """Fact: training statistics over N, H, W per channel, ddof=0, epsilon inside the sqrt."""
    x, params = _bn_case(9, (3, 4, 5, 2))
    gamma, beta, moving_mean, moving_var = params
    y, new_mean, new_var = cnn_ref.batch_norm(x, *params, training=True)
    mean, var = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2), ddof=0)
    np.testing.assert_allclose(y, gamma * (x - mean) / np.sqrt(var + 1e-3) + beta, rtol=RTOL_F64, atol=ATOL_F64)
    np.testing.assert_allclose(new_mean, moving_mean * 0.99 + mean * 0.01, rtol=RTOL_F64, atol=ATOL_F64)
    np.testing.assert_allclose(new_var, moving_var * 0.99 + var * 0.01, rtol=RTOL_F64, atol=ATOL_F64)
    expected = np.asarray(_keras_bn(x.shape, params)(x, training=True))
    np.testing.assert_allclose(y, expected, rtol=RTOL_BN, atol=ATOL_BN)


def test_bn_inference_uses_moving_statistics():
    """Fact: inference uses the moving statistics and does not update them."""
    x, params = _bn_case(10, (5, 3))
    layer = _keras_bn(x.shape, params)
    before = _weights(layer)
    expected = np.asarray(layer(x, training=False))
    for got, want in zip(_weights(layer), before, strict=True):
        np.testing.assert_array_equal(got, want)
    y, new_mean, new_var = cnn_ref.batch_norm(x, *params, training=False)
    np.testing.assert_allclose(y, expected, rtol=RTOL_BN, atol=ATOL_BN)
    np.testing.assert_array_equal(new_mean, params[2])
    np.testing.assert_array_equal(new_var, params[3])


def test_bn_worked_example():
    """Fact: x = [1, 2, 3, 4] -> y = [-1.341104, -0.447035, 0.447035, 1.341104];
    moving_mean 0.025, moving_var 1.0025 after one step."""
    x = np.array([[1.0], [2.0], [3.0], [4.0]])
    y, moving_mean, moving_var = cnn_ref.batch_norm(x, np.ones(1), np.zeros(1), np.zeros(1), np.ones(1),
                                                    training=True)
    np.testing.assert_allclose(y.ravel(), [-1.341104, -0.447035, 0.447035, 1.341104], atol=1e-6)
    np.testing.assert_allclose(moving_mean, [0.025], rtol=1e-12)
    np.testing.assert_allclose(moving_var, [1.0025], rtol=1e-12)
    layer = keras.layers.BatchNormalization(dtype="float64")
    np.testing.assert_allclose(np.asarray(layer(x, training=True)), y, rtol=RTOL_BN, atol=ATOL_BN)
    np.testing.assert_allclose(_weights(layer)[2:], [moving_mean, moving_var], rtol=RTOL_BN)


def test_bn_other_conventions_differ():
    """Fact: CS231n (momentum 0.9, eps 1e-5, running stats from 0) and PyTorch (momentum 0.1 on
    the NEW value, unbiased running variance) give other numbers than Keras."""
    x, params = _bn_case(11, (6, 2))
    layer = _keras_bn(x.shape, params)
    keras_y = np.asarray(layer(x, training=True))
    _, _, keras_mean, keras_var = _weights(layer)
    gamma, beta, mean0, var0 = params
    cs231n = cnn_ref.batch_norm(x, gamma, beta, np.zeros(2), np.zeros(2), training=True,
                                momentum=0.9, epsilon=1e-5)
    assert not np.allclose(cs231n[0], keras_y, rtol=RTOL_BN, atol=ATOL_BN)
    assert not np.allclose(cs231n[1], keras_mean)
    torch_mean = 0.9 * mean0 + 0.1 * x.mean(axis=0)
    torch_var = 0.9 * var0 + 0.1 * x.var(axis=0, ddof=1)
    assert not np.allclose(torch_mean, keras_mean) and not np.allclose(torch_var, keras_var)
    _, mean, var = cnn_ref.batch_norm(x, *params, training=True)
    np.testing.assert_allclose([mean, var], [keras_mean, keras_var], rtol=RTOL_BN, atol=ATOL_BN)


def test_bn_constant_feature_gives_beta():
    """Fact: a constant feature normalizes to beta, not NaN."""
    x = np.full((5, 4, 4, 2), 3.5)
    gamma, beta = np.array([2.0, -1.0]), np.array([0.25, 7.0])
    y, _, new_var = cnn_ref.batch_norm(x, gamma, beta, np.zeros(2), np.ones(2), training=True)
    np.testing.assert_array_equal(y, np.broadcast_to(beta, x.shape))
    assert np.all(np.isfinite(new_var))
    expected = np.asarray(_keras_bn(x.shape, [gamma, beta, np.zeros(2), np.ones(2)])(x, training=True))
    np.testing.assert_allclose(y, expected, rtol=RTOL_BN, atol=ATOL_BN)


def test_batch_norm_does_not_mutate_its_arguments():
    x, params = _bn_case(12, (4, 3))
    copies = [x.copy(), *(p.copy() for p in params)]
    cnn_ref.batch_norm(x, *params, training=True)
    for original, copy in zip([x, *params], copies, strict=True):
        np.testing.assert_array_equal(original, copy)


# --- dropout ------------------------------------------------------------------------------

DROP_SIZE = 20_000


def _drop_stats(y: np.ndarray) -> tuple[float, np.ndarray]:
    return float(np.mean(y == 0)), np.unique(y[y != 0])


@pytest.mark.parametrize("rate", [0.1, 0.25, 0.5, 0.8])
def test_dropout_matches_keras_statistics(rate):
    ones = np.ones((DROP_SIZE,), dtype=np.float32)
    keras_y = np.asarray(keras.layers.Dropout(rate, seed=1)(ones, training=True))
    y = cnn_ref.dropout(ones, rate, training=True, seed=1)
    band = SIGMAS * np.sqrt(rate * (1 - rate) / DROP_SIZE)
    for fraction, kept in (_drop_stats(keras_y), _drop_stats(y)):
        assert abs(fraction - rate) < band
        np.testing.assert_allclose(kept, [1 / (1 - rate)], rtol=1e-6)
    assert abs(float(np.mean(y)) - 1.0) < SIGMAS * np.sqrt(rate / (1 - rate) / DROP_SIZE)
    assert y.dtype == np.float32


def test_dropout_rate_is_drop_probability():
    """Fact: rate is the probability of DROPPING a unit."""
    for rate in (0.1, 0.9):
        fraction, _ = _drop_stats(cnn_ref.dropout(np.ones(DROP_SIZE), rate, training=True, seed=2))
        keras_fraction, _ = _drop_stats(np.asarray(keras.layers.Dropout(rate, seed=2)(
            np.ones(DROP_SIZE, dtype=np.float32), training=True)))
        assert abs(fraction - rate) < 0.02 and abs(keras_fraction - rate) < 0.02


def test_dropout_scaling_values():
    """Fact: rate 0.25 on ones gives values {0, 1.3333}."""
    values = np.unique(cnn_ref.dropout(np.ones((50, 40)), 0.25, training=True, seed=3))
    np.testing.assert_allclose(values, [0.0, 4 / 3], rtol=1e-12)
    keras_values = np.unique(np.asarray(keras.layers.Dropout(0.25, seed=3)(
        np.ones((50, 40), dtype=np.float32), training=True)))
    np.testing.assert_allclose(keras_values, [0.0, 1.3333], atol=1e-4)
    x = np.random.default_rng(4).normal(size=(30, 30))
    y = cnn_ref.dropout(x, 0.25, training=True, seed=4)
    kept = y != 0
    np.testing.assert_allclose(y[kept], x[kept] / 0.75, rtol=1e-12)


def test_dropout_identity_inference():
    """Fact: identity when not training (Keras too), whatever the rate."""
    x = np.random.default_rng(5).normal(size=(4, 6, 6, 3))
    for rate in (0.0, 0.5, 1.0):
        np.testing.assert_array_equal(cnn_ref.dropout(x, rate, training=False, seed=5), x)
    np.testing.assert_allclose(np.asarray(keras.layers.Dropout(0.5)(x.astype(np.float32), training=False)),
                               x.astype(np.float32))


def test_dropout_rate_one_zeros():
    """Fact: rate 1 gives zeros (and rate 0 the input)."""
    x = np.random.default_rng(6).normal(size=(10, 10))
    np.testing.assert_array_equal(cnn_ref.dropout(x, 1.0, training=True, seed=6), np.zeros_like(x))
    np.testing.assert_array_equal(cnn_ref.dropout(x, 0.0, training=True, seed=6), x)


def test_dropout_same_seed_same_mask():
    x = np.ones((64, 64))
    a, b = (cnn_ref.dropout(x, 0.3, training=True, seed=7) for _ in range(2))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, cnn_ref.dropout(x, 0.3, training=True, seed=8))
    assert not np.array_equal(cnn_ref.dropout(x, 0.3, training=True), cnn_ref.dropout(x, 0.3, training=True))


def test_dropout_keep_probability_mixup_detected():
    """Fact: CS231n's p is the KEEP probability; rate=0.2 must drop ~20%, not keep ~20%."""
    y = cnn_ref.dropout(np.ones(DROP_SIZE), 0.2, training=True, seed=9)
    fraction, kept = _drop_stats(y)
    assert abs(fraction - 0.2) < 0.02
    np.testing.assert_allclose(kept, [1.25], rtol=1e-12)
    rng = np.random.default_rng(9)
    keep_mixup = (rng.random(DROP_SIZE) < 0.2) / 0.2   # a student treating rate as keep probability
    mixup_fraction, mixup_kept = _drop_stats(keep_mixup)
    assert abs(mixup_fraction - 0.8) < 0.02 and not np.allclose(mixup_kept, kept)


def test_dropout_leaves_global_rng_alone():
    state = np.random.get_state()
    cnn_ref.dropout(np.ones(100), 0.5, training=True)
    cnn_ref.dropout(np.ones(100), 0.5, training=True, seed=1)
    after = np.random.get_state()
    assert state[0] == after[0] and np.array_equal(state[1], after[1]) and state[2:] == after[2:]
