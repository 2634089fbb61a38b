"""Numpy reference CNN: the single source of every expected value.

Every function of the student-facing API (DESIGN.md, "Student-facing API") with the same
name, signature and behaviour, plus loop versions of the forward passes (``*_naive``) used
as a second oracle. Keras conventions: NHWC inputs, kernels (KH, KW, C_in, C_out),
cross-correlation, TensorFlow's SAME split, ``rate`` = drop probability, batch norm
``momentum=0.99, epsilon=1e-3``, confusion matrix rows = true labels.

Contract module -> file here: ``convolution`` -> ``convolution.py``, ``output_size`` ->
``output_size.py``, ``pooling_norm`` -> ``pooling_norm.py``, ``confusion_matrix`` ->
``metrics.py`` (so that ``cnn_ref.confusion_matrix`` is only ever the function),
``recap`` -> ``recap.py``. Import nothing heavy here: graders import this on every run.
"""

from .convolution import conv2d, conv_single_step, zero_pad
from .metrics import accuracy, binary_counts, confusion_matrix, f1_score, precision, recall
from .naive import (
    avg_pool2d_naive,
    batch_norm_naive,
    confusion_matrix_naive,
    conv2d_naive,
    max_pool2d_naive,
)
from .output_size import (
    conv_output_size,
    count_params,
    layer_output_shapes,
    pool_output_size,
    same_padding,
)
from .pooling_norm import avg_pool2d, batch_norm, dropout, max_pool2d
from .recap import (
    binary_cross_entropy,
    categorical_cross_entropy,
    gradient_descent,
    leaky_relu,
    mse,
    relu,
    sigmoid,
    softmax,
    tanh,
    xor_forward,
    xor_network,
)

__all__ = [
    # convolution
    "conv_single_step", "zero_pad", "conv2d",
    # output_size
    "conv_output_size", "same_padding", "pool_output_size", "layer_output_shapes", "count_params",
    # pooling_norm
    "max_pool2d", "avg_pool2d", "batch_norm", "dropout",
    # confusion_matrix
    "confusion_matrix", "binary_counts", "accuracy", "precision", "recall", "f1_score",
    # recap
    "sigmoid", "tanh", "relu", "leaky_relu", "softmax",
    "mse", "binary_cross_entropy", "categorical_cross_entropy",
    "gradient_descent", "xor_network", "xor_forward",
    # loop oracles
    "conv2d_naive", "max_pool2d_naive", "avg_pool2d_naive", "batch_norm_naive",
    "confusion_matrix_naive",
]
