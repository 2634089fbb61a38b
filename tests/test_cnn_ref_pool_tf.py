"""cnn_ref pooling proven against tf.nn.max_pool2d / tf.nn.avg_pool2d and Keras' defaults."""

from __future__ import annotations

import inspect
import itertools

import numpy as np
import pytest
from _tf import ATOL_F32, ATOL_F64, RTOL_F32, RTOL_F64, keras, tf_pool

import cnn_ref

POOLS = [1, 2, 3, (2, 3), (3, 2)]
POOL_STRIDES = [None, 1, 2, 3, (1, 2)]
POOL_PADDINGS = ["valid", "same", "SAME"]
POOL_SHAPES = [(2, 5, 5, 3), (1, 7, 4, 2), (3, 6, 9, 1), (1, 3, 8, 2)]
POOL_CASES = [
    (POOL_SHAPES[i % len(POOL_SHAPES)], pool, stride, padding)
    for i, (pool, stride, padding) in enumerate(itertools.product(POOLS, POOL_STRIDES, POOL_PADDINGS))
]
POOL_IDS = [f"x{s}-p{p}-s{st}-{pad}".replace(" ", "") for s, p, st, pad in POOL_CASES]
REFS = {"max": (cnn_ref.max_pool2d, cnn_ref.max_pool2d_naive),
        "avg": (cnn_ref.avg_pool2d, cnn_ref.avg_pool2d_naive)}


def _input(seed: int, shape: tuple, *, negative: bool = False, dtype=np.float64) -> np.ndarray:
    """Seeded values that float32 represents exactly: some tf.nn.max_pool2d float64 kernels
    (e.g. a 1x1 window under VALID) round through float32, and a max must then still be exact."""
    x = np.random.default_rng(seed).normal(size=shape).astype(np.float32)
    return (-np.abs(x) - 1.0 if negative else x).astype(dtype)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("case", POOL_CASES, ids=POOL_IDS)
def test_pool_matches_tf(kind, case):
    shape, pool, stride, padding = case
    x = _input(POOL_CASES.index(case), shape)
    fast, _ = REFS[kind]
    expected = tf_pool(kind, x, pool, stride, padding)
    got = fast(x, pool_size=pool, stride=stride, padding=padding)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=RTOL_F64, atol=ATOL_F64)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("case", POOL_CASES, ids=POOL_IDS)
def test_pool_naive_agrees_with_fast(kind, case):
    shape, pool, stride, padding = case
    x = _input(500 + POOL_CASES.index(case), shape, negative=POOL_CASES.index(case) % 2 == 1)
    fast, naive = REFS[kind]
    np.testing.assert_allclose(naive(x, pool, stride, padding), fast(x, pool, stride, padding),
                               rtol=RTOL_F64, atol=ATOL_F64)


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool_float32_stays_float32(kind):
    x = _input(3, (2, 7, 6, 3), dtype=np.float32)
    got = REFS[kind][0](x, 3, 2, "same")
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, tf_pool(kind, x, 3, 2, "same"), rtol=RTOL_F32, atol=ATOL_F32)


def test_maxpool_keras_defaults():
    """Fact: MaxPooling2D defaults pool_size=(2, 2), strides=None (= pool_size), padding='valid'."""
    config = keras.layers.MaxPooling2D().get_config()
    assert config["pool_size"] == (2, 2) and config["strides"] == (2, 2) and config["padding"] == "valid"
    for fn in (cnn_ref.max_pool2d, cnn_ref.avg_pool2d, cnn_ref.pool_output_size):
        params = inspect.signature(fn).parameters
        assert params["pool_size"].default == 2
        assert params["stride"].default is None
        assert params["padding"].default == "valid"
    x = _input(4, (1, 6, 7, 2))
    keras_out = np.asarray(keras.layers.MaxPooling2D(dtype="float64")(x))
    np.testing.assert_allclose(cnn_ref.max_pool2d(x), keras_out, rtol=RTOL_F64, atol=ATOL_F64)
    # Keras 3 AveragePooling2D has no pool_size default; strides still default to pool_size
    keras_avg = np.asarray(keras.layers.AveragePooling2D(pool_size=2, dtype="float64")(x))
    np.testing.assert_allclose(cnn_ref.avg_pool2d(x), keras_avg, rtol=RTOL_F64, atol=ATOL_F64)


@pytest.mark.parametrize("pool,stride", [(2, None), (3, 2), ((2, 3), 1), (3, 3)])
def test_same_max_pool_all_negative(pool, stride):
    """Fact: SAME max pooling pads with -inf; all-negative inputs expose a zero-padding bug."""
    x = _input(5, (2, 5, 7, 2), negative=True)
    got = cnn_ref.max_pool2d(x, pool, stride, "same")
    np.testing.assert_allclose(got, tf_pool("max", x, pool, stride, "same"), rtol=RTOL_F64, atol=ATOL_F64)
    assert np.all(got < 0)
    zero_padded = cnn_ref.max_pool2d(np.pad(x, ((0, 0), (0, 1), (0, 1), (0, 0))), pool, stride, "valid")
    assert zero_padded.shape != got.shape or not np.allclose(zero_padded, got)


def test_same_avg_pool_excludes_padding():
    """Fact: SAME average pooling leaves padded cells out of the mean."""
    x = np.ones((1, 5, 5, 1))
    got = cnn_ref.avg_pool2d(x, 2, 2, "same")
    np.testing.assert_array_equal(got, np.ones((1, 3, 3, 1)))
    np.testing.assert_array_equal(tf_pool("avg", x, 2, 2, "same"), got)
    x = _input(6, (2, 5, 7, 3))
    corner = cnn_ref.avg_pool2d(x, 3, 2, "same")[:, -1, -1, :]
    np.testing.assert_allclose(corner, x[:, -2:, -2:, :].mean(axis=(1, 2)), rtol=RTOL_F64, atol=ATOL_F64)


def test_valid_pool_drops_last_row_and_column():
    """Fact: VALID 2x2 pooling of a 5x5 input drops the last row and column."""
    x = _input(7, (1, 5, 5, 2))
    got = cnn_ref.max_pool2d(x, 2, padding="valid")
    assert got.shape == (1, 2, 2, 2)
    np.testing.assert_array_equal(got, cnn_ref.max_pool2d(x[:, :4, :4, :], 2))
    x_changed = x.copy()
    x_changed[:, 4, :, :] = 100.0
    x_changed[:, :, 4, :] = 100.0
    np.testing.assert_array_equal(cnn_ref.max_pool2d(x_changed, 2), got)
    np.testing.assert_allclose(got, tf_pool("max", x, 2), rtol=RTOL_F64, atol=ATOL_F64)
    assert cnn_ref.pool_output_size(5, 2) == 2


@pytest.mark.parametrize("padding", ["valid", "same", "Same"])
def test_pool_output_size_matches_tf_shapes(padding):
    for n, k, stride in itertools.product(range(1, 10), range(1, 5), [None, 1, 2, 3]):
        if padding == "valid" and k > n:
            with pytest.raises(ValueError, match="pool_size"):
                cnn_ref.pool_output_size(n, k, stride, padding)
            continue
        tf_shape = tf_pool("max", np.zeros((1, n, 1, 1)), (k, 1), None if stride is None else (stride, 1),
                           padding).shape
        assert cnn_ref.pool_output_size(n, k, stride, padding) == tf_shape[1], (n, k, stride)
