"""Public checks for the `convolution` assignment: the lecture's examples, nothing more.

Run them with `dl101 check convolution.ipynb` or from the notebook's last cell. Grading runs
many more (hidden) cases: other strides, paddings, shapes and channel counts.
"""

from __future__ import annotations

import numpy as np
import pytest

from grader.expect import expect_close, expect_shape

PATCH = np.array([[0.6, 0.2, 0.6], [0.1, -0.2, -0.3], [-0.5, -0.1, -0.3]])
EDGE = np.array([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -1.0, -1.0]])


def _bright_top_image() -> np.ndarray:
    """One 6x6 grayscale image: ones in the top three rows, zeros below."""
    image = np.zeros((1, 6, 6, 1))
    image[0, :3, :, 0] = 1.0
    return image


@pytest.mark.points(1, visibility="visible")
def test_slide_example(student):
    """conv_single_step: the lecture's edge detector gives 2.3, and -2.3 on the negated patch"""
    expect_close(student.conv_single_step(PATCH, EDGE), 2.3,
                 what="conv_single_step(patch, kernel) on the lecture's example "
                      "(hint: multiply element by element, sum everything, add the bias; do not flip the kernel)")
    expect_close(student.conv_single_step(-PATCH, EDGE), -2.3,
                 what="conv_single_step(-patch, kernel) on the lecture's example")


@pytest.mark.points(1, visibility="visible")
def test_zero_pad_border(student):
    """zero_pad: a 3x3 image padded by 1 becomes 5x5 with a border of zeros"""
    tiny = np.arange(1, 10, dtype=float).reshape(1, 3, 3, 1)
    what = "zero_pad(x, 1) on one 3x3 image with one channel"
    got = expect_shape(student.zero_pad(tiny, 1), (1, 5, 5, 1),
                       what=what + " (hint: pad only the height and width axes of (N, H, W, C))")
    expected = np.zeros((1, 5, 5, 1))
    expected[0, 1:4, 1:4, 0] = tiny[0, :, :, 0]
    expect_close(got, expected, what=what)


@pytest.mark.points(1, visibility="visible")
def test_conv2d_edge_detector(student):
    """conv2d, valid padding: the edge detector finds the edge of a bright-top image"""
    kernel = EDGE.reshape(3, 3, 1, 1)
    expected = np.zeros((1, 4, 4, 1))
    expected[0, 1:3, :, 0] = 3.0
    expect_close(student.conv2d(_bright_top_image(), kernel), expected,
                 what="conv2d on a 6x6 image (bright top half) with the 3x3 edge kernel "
                      "(hint: a 3x3 kernel fits 6 - 3 + 1 = 4 times along each side)")


@pytest.mark.points(1, visibility="visible")
def test_conv2d_same_keeps_size(student):
    """conv2d, same padding, stride 1: the output keeps the input's 6x6 size"""
    image, kernel = _bright_top_image(), EDGE.reshape(3, 3, 1, 1)
    what = 'conv2d(x, w, padding="same") on a 6x6 image with a 3x3 kernel'
    got = expect_shape(student.conv2d(image, kernel, padding="same"), (1, 6, 6, 1),
                       what=what + " (hint: one row/column of zeros on every side for a 3x3 kernel)")
    expected_inside = np.zeros((1, 4, 4, 1))
    expected_inside[0, 1:3, :, 0] = 3.0
    expect_close(got[:, 1:5, 1:5, :], expected_inside, what=what + ", away from the border")


@pytest.mark.points(1, visibility="visible")
def test_conv2d_stride_2_output_size(student):
    """conv2d, valid padding, stride 2: a 7x7 input and a 3x3 kernel give a 3x3 output"""
    got = student.conv2d(np.ones((1, 7, 7, 1)), np.ones((3, 3, 1, 1)), stride=2)
    expect_close(got, np.full((1, 3, 3, 1), 9.0),
                 what="conv2d(x, w, stride=2) on a 7x7 image of ones with a 3x3 kernel of ones "
                      "(hint: windows start at rows 0, 2 and 4)")
