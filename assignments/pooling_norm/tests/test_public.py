"""Public checks for the `pooling_norm` assignment: the lecture's examples, nothing more.

Run them with `dl101 check pooling_norm.ipynb` or from the notebook's last cell. Grading runs
many more (hidden) cases: other pool sizes and strides, odd sizes, "same" padding on negative
values, several images and channels, batch norm on feature maps and at inference, and the
statistics of your dropout.
"""

from __future__ import annotations

import numpy as np
import pytest

from grader.expect import expect_close, expect_shape, fail

FEATURE_MAP = np.array([[1, 1, 2, 4],
                        [5, 6, 7, 8],
                        [3, 2, 1, 0],
                        [1, 2, 3, 4]], dtype=float).reshape(1, 4, 4, 1)


@pytest.mark.points(1, visibility="visible")
def test_max_pool_lecture_example(student):
    """max_pool2d: the lecture's 4x4 feature map, 2x2 pool, stride 2 gives [[6, 8], [3, 4]]"""
    what = "max_pool2d on the lecture's 4x4 feature map (2x2 pool, default stride)"
    got = expect_shape(student.max_pool2d(FEATURE_MAP), (1, 2, 2, 1),
                       what=what + " (hint: stride None means stride = pool_size)")
    expect_close(got[0, :, :, 0], [[6.0, 8.0], [3.0, 4.0]], what=what)


@pytest.mark.points(1, visibility="visible")
def test_avg_pool_lecture_example(student):
    """avg_pool2d: the same feature map averaged gives [[3.25, 5.25], [2, 2]]"""
    what = "avg_pool2d on the lecture's 4x4 feature map (2x2 pool, default stride)"
    got = expect_shape(student.avg_pool2d(FEATURE_MAP), (1, 2, 2, 1), what=what)
    expect_close(got[0, :, :, 0], [[3.25, 5.25], [2.0, 2.0]], what=what)


@pytest.mark.points(1, visibility="visible")
def test_avg_pool_same_real_cells(student):
    """avg_pool2d, same padding: the notebook's 3x3 example gives [[3, 4.5], [7.5, 9]]"""
    grid = np.arange(1, 10, dtype=float).reshape(1, 3, 3, 1)
    what = 'avg_pool2d(x, padding="same") on the 3x3 grid 1..9'
    got = expect_shape(student.avg_pool2d(grid, padding="same"), (1, 2, 2, 1),
                       what=what + " (hint: ceil(3 / 2) = 2 outputs per axis)")
    expect_close(got[0, :, :, 0], [[3.0, 4.5], [7.5, 9.0]],
                 what=what + " (hint: divide by the number of real cells, not by 4)")


@pytest.mark.points(1, visibility="visible")
def test_batch_norm_lecture_example(student):
    """batch_norm, training: x = [1, 2, 3, 4] gives [-1.341, -0.447, 0.447, 1.341], moving stats 0.025 and 1.0025"""
    x = np.array([[1.0], [2.0], [3.0], [4.0]])
    what = "batch_norm on the lecture's example x = [1, 2, 3, 4] (training)"
    got = student.batch_norm(x, np.ones(1), np.zeros(1), np.zeros(1), np.ones(1), training=True)
    if not isinstance(got, tuple | list) or len(got) != 3:
        fail(what, "expected a tuple (y, new_moving_mean, new_moving_var)")
    y, mean, var = got
    expect_close(y, [[-1.341104], [-0.447035], [0.447035], [1.341104]], rtol=1e-5,
                 what=what + ": y (hint: biased variance 1.25, and sqrt(1.25 + 0.001))")
    expect_close(mean, [0.025], what=what + ": new_moving_mean (hint: 0 * 0.99 + 2.5 * 0.01)")
    expect_close(var, [1.0025], what=what + ": new_moving_var (hint: 1 * 0.99 + 1.25 * 0.01)")


@pytest.mark.points(1, visibility="visible")
def test_dropout_lecture_example(student):
    """dropout: rate 0.25 on ones gives 0 or 1.3333 in training, and the identity at inference"""
    ones = np.ones((100, 100))
    what = "dropout(ones, rate=0.25, training=True, seed=0)"
    got = expect_shape(student.dropout(ones, 0.25, training=True, seed=0), (100, 100), what=what)
    values = np.unique(np.round(got, 6))
    if not set(values.tolist()) <= {0.0, 1.333333}:
        fail(what, f"expected only the values 0 and 1.3333 (= 1 / 0.75), got {values[:5].tolist()}")
    dropped = float(np.mean(got == 0))
    if not 0.2 <= dropped <= 0.3:
        fail(what, f"expected about 25% zeros (rate is the drop probability), got {dropped:.0%}")
    expect_close(student.dropout(ones, 0.25, training=False), ones,
                 what="dropout(ones, rate=0.25, training=False) (hint: dropout does nothing at inference)")
