"""cnn_ref layer_output_shapes / count_params proven against real (built, untrained) Keras models."""

from __future__ import annotations

import inspect
import socket

import numpy as np
import pytest
from _tf import keras, keras_model

import cnn_ref

MNIST_CNN = [
    {"type": "conv2d", "filters": 32, "kernel_size": 3, "activation": "relu"},
    {"type": "conv2d", "filters": 64, "kernel_size": 3, "activation": "relu"},
    {"type": "max_pool2d", "pool_size": 2},
    {"type": "dropout", "rate": 0.25},
    {"type": "flatten"},
    {"type": "dense", "units": 128, "activation": "relu"},
    {"type": "dropout", "rate": 0.5},
    {"type": "dense", "units": 10, "activation": "softmax"},
]

MODELS = {
    "mnist_cnn": ((28, 28, 1), MNIST_CNN),
    "bn_same_avgpool": ((32, 32, 3), [
        {"type": "conv2d", "filters": 16, "kernel_size": 3, "padding": "same", "use_bias": False},
        {"type": "batch_norm"},
        {"type": "avg_pool2d", "pool_size": 2},
        {"type": "conv2d", "filters": 24, "kernel_size": (5, 3), "strides": 2, "padding": "same"},
        {"type": "batch_norm"},
        {"type": "max_pool2d", "pool_size": 3, "strides": 2, "padding": "same"},
        {"type": "flatten"},
        {"type": "dense", "units": 10},
    ]),
    "strides_odd_sizes": ((27, 19, 2), [
        {"type": "conv2d", "filters": 8, "kernel_size": (4, 2), "strides": (3, 2)},
        {"type": "max_pool2d", "pool_size": (2, 3), "strides": (1, 2)},
        {"type": "conv2d", "filters": 5, "kernel_size": 2, "strides": 2, "padding": "SAME"},
        {"type": "avg_pool2d", "pool_size": 2, "padding": "same"},
        {"type": "dense", "units": 7, "use_bias": False},
        {"type": "flatten"},
        {"type": "dropout", "rate": 0.1},
        {"type": "dense", "units": 3},
    ]),
    "digits_8x8": ((8, 8, 1), [
        {"type": "conv2d", "filters": 16, "kernel_size": 3, "padding": "same"},
        {"type": "batch_norm"},
        {"type": "max_pool2d"},
        {"type": "dropout", "rate": 0.25},
        {"type": "conv2d", "filters": 32, "kernel_size": 3},
        {"type": "flatten"},
        {"type": "dense", "units": 10},
    ]),
    "dense_only": ((20,), [
        {"type": "dense", "units": 16},
        {"type": "batch_norm"},
        {"type": "dropout", "rate": 0.5},
        {"type": "dense", "units": 1, "use_bias": False},
    ]),
}


@pytest.mark.parametrize("name", MODELS)
def test_layer_output_shapes_and_count_params_match_keras(name):
    input_shape, layers = MODELS[name]
    model = keras_model(input_shape, layers)
    keras_shapes = [tuple(layer.output.shape[1:]) for layer in model.layers]
    assert cnn_ref.layer_output_shapes(input_shape, layers) == keras_shapes
    assert cnn_ref.count_params(input_shape, layers) == model.count_params()


def test_per_layer_params_match_keras():
    input_shape, layers = MODELS["bn_same_avgpool"]
    model = keras_model(input_shape, layers)
    for i, layer in enumerate(model.layers):
        assert cnn_ref.count_params(input_shape, layers[: i + 1]) - cnn_ref.count_params(
            input_shape, layers[:i]) == layer.count_params(), layers[i]


def test_mnist_cnn_shapes_and_params():
    """Fact: 26x26x32, 24x24x64, 12x12x64, 9216, 128, 10; 1,199,882 = 320 + 18,496 + 1,179,776 + 1,290."""
    shapes = cnn_ref.layer_output_shapes((28, 28, 1), MNIST_CNN)
    assert shapes == [(26, 26, 32), (24, 24, 64), (12, 12, 64), (12, 12, 64), (9216,), (128,), (128,), (10,)]
    assert cnn_ref.count_params((28, 28, 1), MNIST_CNN) == 1_199_882
    per_layer = [cnn_ref.count_params((28, 28, 1), MNIST_CNN[: i + 1]) - cnn_ref.count_params(
        (28, 28, 1), MNIST_CNN[:i]) for i in range(len(MNIST_CNN))]
    assert [p for p in per_layer if p] == [320, 18_496, 1_179_776, 1_290]
    model = keras_model((28, 28, 1), MNIST_CNN)
    assert model.count_params() == 1_199_882
    assert [layer.count_params() for layer in model.layers if layer.count_params()] == [320, 18_496, 1_179_776, 1_290]


def test_keras3_has_no_layer_output_shape():
    """Fact: layer.output_shape is gone in Keras 3; layer.output.shape gives it."""
    model = keras_model((28, 28, 1), MNIST_CNN[:1])
    layer = model.layers[0]
    assert not hasattr(layer, "output_shape")
    assert tuple(layer.output.shape) == (None, 26, 26, 32)


def test_bn_param_count():
    """Fact: BatchNormalization has 4*C parameters, 2*C trainable; count_params() counts all."""
    layers = [{"type": "conv2d", "filters": 6, "kernel_size": 3}, {"type": "batch_norm"}]
    model = keras_model((10, 10, 3), layers)
    bn = model.layers[1]
    assert bn.count_params() == 4 * 6
    assert sum(int(np.prod(w.shape)) for w in bn.trainable_weights) == 2 * 6
    assert cnn_ref.count_params((10, 10, 3), layers) == (3 * 3 * 3 * 6 + 6) + 4 * 6 == model.count_params()


def test_adadelta_default_lr():
    """Fact: keras.optimizers.Adadelta() defaults to learning rate 0.001 (Adam too, but Adam adapts)."""
    assert float(keras.optimizers.Adadelta().learning_rate) == pytest.approx(0.001)
    assert float(keras.optimizers.Adam().learning_rate) == pytest.approx(0.001)


@pytest.mark.parametrize("spec,input_shape", [
    ({"type": "conv2d", "filters": 2, "kernel_size": 4}, (3, 5, 1)),
    ({"type": "max_pool2d", "pool_size": (2, 6)}, (3, 5, 1)),
])
def test_window_larger_than_input_raises_like_keras(spec, input_shape):
    with pytest.raises(ValueError, match="zero or negative"):
        keras_model(input_shape, [spec])
    with pytest.raises(ValueError, match="larger than the padded input"):
        cnn_ref.layer_output_shapes(input_shape, [spec])


def test_keras_datasets_download_at_run_time(monkeypatch, tmp_path):
    """Fact: keras.datasets.*.load_data() downloads at run time, so it fails without a network."""
    source = inspect.getsource(keras.datasets.mnist.load_data)
    assert "get_file(" in source and "https://" in source

    def no_network(*args, **kwargs):
        raise OSError("network disabled by the test")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    origin = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
    with pytest.raises(Exception, match="mnist.npz"):
        keras.utils.get_file("mnist.npz", origin=origin, cache_dir=str(tmp_path))
