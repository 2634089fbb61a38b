"""Public checks for the `output_size` assignment: the lecture's examples, nothing more.

Run them with `dl101 check output_size.ipynb` or from the notebook's last cell. Grading runs
many more (hidden) cases: strides 2 and 3, even and non-square kernels, odd sizes, explicit
padding, kernels that do not fit, other models, use_bias=False and batch normalization.
"""

from __future__ import annotations

import pytest

from grader.expect import expect_equal

MNIST_INPUT = (28, 28, 1)
MNIST_CNN = [
    {"type": "conv2d", "filters": 32, "kernel_size": 3},
    {"type": "conv2d", "filters": 64, "kernel_size": 3},
    {"type": "max_pool2d", "pool_size": 2},
    {"type": "dropout", "rate": 0.25},
    {"type": "flatten"},
    {"type": "dense", "units": 128},
    {"type": "dropout", "rate": 0.5},
    {"type": "dense", "units": 10},
]
MNIST_SHAPES = [(26, 26, 32), (24, 24, 64), (12, 12, 64), (12, 12, 64), (9216,), (128,), (128,), (10,)]


@pytest.mark.points(1, visibility="visible")
def test_conv_valid(student):
    """conv_output_size, valid padding: 28 pixels and a 3x3 kernel give 26; stride 2 on 7 gives 3"""
    expect_equal(student.conv_output_size(28, 3), 26,
                 what="conv_output_size(28, 3) (hint: n - k + 1 positions at stride 1)")
    expect_equal(student.conv_output_size(7, 3, stride=2), 3,
                 what="conv_output_size(7, 3, stride=2) (hint: windows start at 0, 2 and 4)")


@pytest.mark.points(1, visibility="visible")
def test_conv_same(student):
    """conv_output_size, same padding: the size is kept at stride 1, ceil(n / 2) at stride 2"""
    expect_equal(student.conv_output_size(28, 3, padding="same"), 28,
                 what='conv_output_size(28, 3, padding="same") (hint: "same" keeps the size at stride 1)')
    expect_equal(student.conv_output_size(5, 3, stride=2, padding="same"), 3,
                 what='conv_output_size(5, 3, stride=2, padding="same") (hint: ceil(5 / 2) = 3)')


@pytest.mark.points(1, visibility="visible")
def test_same_padding_table(student):
    """same_padding: the first rows of the notebook's table"""
    for n, k, s, expected in ((5, 3, 1, (1, 1)), (5, 2, 1, (0, 1)), (5, 2, 2, (0, 1))):
        expect_equal(student.same_padding(n, k, s), expected,
                     what=f"same_padding({n}, {k}, {s}) (hint: the odd extra zero goes after)")


@pytest.mark.points(1, visibility="visible")
def test_pool_halves(student):
    """pool_output_size: 2x2 pooling halves 28 to 14 (the stride defaults to the pool size)"""
    expect_equal(student.pool_output_size(28), 14,
                 what="pool_output_size(28) (hint: stride None means stride = pool_size)")


@pytest.mark.points(1, visibility="visible")
def test_mnist_cnn(student):
    """layer_output_shapes and count_params: the MNIST CNN of the lecture (1,199,882 parameters)"""
    expect_equal(student.layer_output_shapes(MNIST_INPUT, MNIST_CNN), MNIST_SHAPES,
                 what="layer_output_shapes for the MNIST CNN")
    expect_equal(student.count_params(MNIST_INPUT, MNIST_CNN), 1_199_882,
                 what="count_params for the MNIST CNN (hint: 320 + 18,496 + 1,179,776 + 1,290)")
