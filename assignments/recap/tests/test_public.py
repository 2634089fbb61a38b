"""Public checks for the `recap` assignment: the lecture's examples, nothing more.

Run them with `dl101 check recap.ipynb` or from the notebook's last cell. Grading runs many
more (hidden) cases: other shapes and axes, extreme inputs everywhere, other alpha, eps, lr
and steps values.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from grader.expect import as_array, as_number, expect_close, expect_equal, fail

XOR_INPUTS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])


@pytest.mark.points(1)
def test_sigmoid_and_relu(student):
    """sigmoid, relu, leaky_relu: small examples and the default slope 0.2"""
    expect_close(student.sigmoid(np.array([0.0])), [0.5], what="sigmoid(0)")
    expect_close(student.sigmoid(np.array([-1000.0, 1000.0])), [0.0, 1.0],
                 what="sigmoid at -1000 and 1000 (hint: never call np.exp on a large positive number)")
    expect_close(student.relu(np.array([-2.0, 0.0, 3.0])), [0.0, 0.0, 3.0], what="relu([-2, 0, 3])")
    expect_close(student.leaky_relu(np.array([-10.0, 5.0])), [-2.0, 5.0],
                 what="leaky_relu([-10, 5]) (hint: the default alpha is 0.2, as tf.nn.leaky_relu)")


@pytest.mark.points(1)
def test_softmax_large_logits(student):
    """softmax: [1000, 1001, 1002] gives [0.090, 0.245, 0.665]"""
    got = student.softmax(np.array([1000.0, 1001.0, 1002.0]))
    expect_close(got, [0.09003057, 0.24472847, 0.66524096], rtol=1e-5,
                 what="softmax([1000, 1001, 1002]) (hint: subtract the largest logit before np.exp)")


@pytest.mark.points(1)
def test_mse_example(student):
    """mse: [1, 2, 3] against [1, 2, 5] is 4 / 3"""
    expect_close(student.mse(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 5.0])), 4 / 3,
                 what="mse([1, 2, 3], [1, 2, 5]) (hint: the mean, not the sum, of the squared errors)")


@pytest.mark.points(1)
def test_cross_entropy_clipping(student):
    """binary and categorical cross entropy: probability 0 for the true class costs 16.118"""
    expect_close(student.binary_cross_entropy(np.array([1.0]), np.array([0.0])), -math.log(1e-7),
                 what="binary_cross_entropy([1], [0]) (hint: clip p to [eps, 1 - eps] like Keras)")
    expect_close(student.categorical_cross_entropy(np.array([[0.0, 1.0]]), np.array([[1.0, 0.0]])),
                 -math.log(1e-7), what="categorical_cross_entropy([[0, 1]], [[1, 0]]) (hint: clip like Keras)")


@pytest.mark.points(1)
def test_gradient_descent_finds_the_line(student):
    """gradient_descent: points on y = 2x + 1 give w close to 2 and b close to 1"""
    x = np.linspace(-1.0, 1.0, 21)
    got = student.gradient_descent(x, 2.0 * x + 1.0, lr=0.1, steps=500)
    what = "gradient_descent on points of y = 2x + 1 (lr=0.1, steps=500)"
    if not isinstance(got, list | tuple) or len(got) != 2:
        fail(what, "expected a pair (w, b)")
    expect_close(as_number(got[0], what=what + ", w"), 2.0, atol=1e-4, what=what + ", w")
    expect_close(as_number(got[1], what=what + ", b"), 1.0, atol=1e-4, what=what + ", b")


@pytest.mark.points(1)
def test_xor_network(student):
    """xor_network: the forward pass predicts [0, 1, 1, 0]"""
    params = student.xor_network()
    what = "xor_network()"
    if not isinstance(params, dict) or set(params) != {"W1", "b1", "W2", "b2"}:
        fail(what, 'expected a dict with exactly the keys "W1", "b1", "W2", "b2"')
    w1, b1, w2, b2 = (as_array(params[k], what=f"{what}, {k}").astype(float) for k in ("W1", "b1", "W2", "b2"))
    hidden = np.maximum(XOR_INPUTS @ w1 + b1, 0.0)
    out = 1.0 / (1.0 + np.exp(-np.clip(hidden @ w2 + b2, -500.0, 500.0)))
    expect_equal([int(v) for v in np.ravel(out > 0.5)], [0, 1, 1, 0],
                 what="xor_network(): sigmoid(relu(X @ W1 + b1) @ W2 + b2) > 0.5 for the rows of X = "
                      "(0,0), (0,1), (1,0), (1,1)")
