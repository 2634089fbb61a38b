"""TensorFlow / Keras oracles for the cnn_ref proof tests.

Imported at module level by the TF test files: Python caches it, so TensorFlow is imported
once per test process. Everything here converts cnn_ref's argument forms into the oracle's.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from typing import Any  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

__all__ = ["RTOL_F32", "ATOL_F32", "RTOL_F64", "ATOL_F64", "keras", "keras_model", "tf",
           "tf_conv2d", "tf_padding", "tf_pool"]

# float64 results agree to rounding; float32 ones to single precision over short sums.
RTOL_F64 = 1e-10
ATOL_F64 = 1e-10
RTOL_F32 = 1e-5
ATOL_F32 = 1e-5


def tf_padding(padding: Any) -> str | list[list[int]]:
    """cnn_ref's padding forms -> ``tf.nn.conv2d``'s: 'VALID' / 'SAME' or the explicit NHWC list."""
    if isinstance(padding, str):
        return padding.upper()
    if isinstance(padding, int):
        (top, bottom), (left, right) = (padding, padding), (padding, padding)
    elif isinstance(padding[0], int):
        (top, bottom), (left, right) = (padding[0], padding[0]), (padding[1], padding[1])
    else:
        (top, bottom), (left, right) = padding
    return [[0, 0], [top, bottom], [left, right], [0, 0]]


def tf_conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, stride: Any = 1,
              padding: Any = "valid") -> np.ndarray:
    """``tf.nn.conv2d`` (+ ``b``) with cnn_ref's argument forms."""
    strides = list(stride) if isinstance(stride, tuple) else stride
    out = tf.nn.conv2d(x, w, strides=strides, padding=tf_padding(padding))
    if b is not None:
        out = tf.nn.bias_add(out, b)
    return out.numpy()


def tf_pool(kind: str, x: np.ndarray, pool_size: Any = 2, stride: Any = None,
            padding: str = "valid") -> np.ndarray:
    """``tf.nn.max_pool2d`` / ``tf.nn.avg_pool2d`` with cnn_ref's defaults (stride None = pool_size)."""
    op = {"max": tf.nn.max_pool2d, "avg": tf.nn.avg_pool2d}[kind]
    ksize = list(pool_size) if isinstance(pool_size, tuple) else pool_size
    strides = ksize if stride is None else (list(stride) if isinstance(stride, tuple) else stride)
    return op(x, ksize=ksize, strides=strides, padding=padding.upper()).numpy()


def _keras_layer(spec: dict[str, Any]) -> keras.layers.Layer:
    """One cnn_ref layer dict -> the Keras layer with the same arguments."""
    args = {k: v for k, v in spec.items() if k != "type"}
    factory = {
        "conv2d": keras.layers.Conv2D,
        "max_pool2d": keras.layers.MaxPooling2D,
        "avg_pool2d": keras.layers.AveragePooling2D,
        "flatten": keras.layers.Flatten,
        "dense": keras.layers.Dense,
        "dropout": keras.layers.Dropout,
        "batch_norm": keras.layers.BatchNormalization,
    }[spec["type"]]
    return factory(**args)


def keras_model(input_shape: tuple[int, ...], layers: list[dict[str, Any]]) -> keras.Sequential:
    """A built (never trained) Sequential model of the layer dicts."""
    return keras.Sequential([keras.Input(shape=input_shape), *map(_keras_layer, layers)])
