"""Bad shapes and arguments raise ValueError naming the argument and what was expected."""

from __future__ import annotations

import re

import numpy as np
import pytest

import cnn_ref

X = np.zeros((2, 5, 5, 3))
W = np.zeros((3, 3, 3, 4))
BN = (np.zeros((4, 3)), np.ones(3), np.zeros(3), np.zeros(3), np.ones(3))
CONV = {"type": "conv2d", "filters": 2, "kernel_size": 3}

BAD_CALLS = [
    # convolution
    (cnn_ref.conv2d, (np.zeros((5, 5)), W), {}, r"x must be 4-D \(N, H, W, C\), got shape \(5, 5\)"),
    (cnn_ref.conv2d, (X, np.zeros((3, 3, 3))), {}, r"w must be 4-D \(KH, KW, C_in, C_out\), got shape \(3, 3, 3\)"),
    (cnn_ref.conv2d, (X, np.zeros((3, 3, 4, 2))), {}, r"x has 3 channels but w expects 4"),
    (cnn_ref.conv2d, (X, W, np.zeros(3)), {}, r"b must have shape \(4,\).*got shape \(3,\)"),
    (cnn_ref.conv2d, (X, W), {"stride": 0}, r"stride must be >= 1, got 0"),
    (cnn_ref.conv2d, (X, W), {"stride": 1.5}, r"stride must be an int, got 1.5"),
    (cnn_ref.conv2d, (X, W), {"stride": True}, r"stride must be an int, got True"),
    (cnn_ref.conv2d, (X, W), {"stride": (1, 2, 3)}, r"stride must be an int or a pair of ints"),
    (cnn_ref.conv2d, (X, W), {"stride": (2, 0)}, r"stride\[1\] must be >= 1, got 0"),
    (cnn_ref.conv2d, (X, W), {"padding": "full"}, r"padding must be 'valid' or 'same' \(any case\), got 'full'"),
    (cnn_ref.conv2d, (X, W), {"padding": -1}, r"padding must be >= 0, got -1"),
    (cnn_ref.conv2d, (X, W), {"padding": ((1, 2), (3, 4, 5))}, r"padding\[1\] must be an int or a \(before, after\)"),
    (cnn_ref.conv2d, (X, W), {"padding": 1.0}, r"padding must be an int, got 1.0"),
    (cnn_ref.conv2d, (X[:, :2], W), {}, r"kernel height 3 is larger than the padded input height 2"),
    (cnn_ref.conv2d, (X[:, :, :2], W), {"padding": ((0, 0), (0, 0))}, r"kernel width 3 is larger than the padded"),
    (cnn_ref.conv2d, (np.array([["a"]]), W), {}, r"x must be numeric"),
    (cnn_ref.conv2d, (np.zeros((0, 5, 5, 3)), W), {}, r"x must not have an empty axis"),
    (cnn_ref.zero_pad, (X, "same"), {}, r"pad must be an int or \(\(top, bottom\), \(left, right\)\)"),
    (cnn_ref.zero_pad, (X, -2), {}, r"pad must be >= 0, got -2"),
    (cnn_ref.zero_pad, (np.zeros((5, 5, 3)), 1), {}, r"x must be 4-D"),
    (cnn_ref.conv_single_step, (np.zeros((3, 3)), np.zeros((2, 2))), {},
     r"patch and kernel must have the same shape, got \(3, 3\) and \(2, 2\)"),
    (cnn_ref.conv_single_step, (np.zeros((3, 3)), np.zeros((3, 3)), np.zeros(2)), {}, r"bias must be a number"),
    # output sizes and layer specs
    (cnn_ref.conv_output_size, (0, 3), {}, r"n must be >= 1, got 0"),
    (cnn_ref.conv_output_size, (5, 3), {"padding": "full"}, r"padding must be 'valid' or 'same'"),
    (cnn_ref.conv_output_size, (3, 5), {}, r"kernel size 5 is larger than the padded input size 3"),
    (cnn_ref.same_padding, (5, 0), {}, r"k must be >= 1, got 0"),
    (cnn_ref.pool_output_size, (5,), {"padding": 1}, r"padding must be 'valid' or 'same' for pooling"),
    (cnn_ref.pool_output_size, (3, 4), {}, r"pool_size size 4 is larger than the padded input size 3"),
    (cnn_ref.pool_output_size, (5, 2), {"stride": 0}, r"stride must be >= 1"),
    (cnn_ref.layer_output_shapes, ((28, 28, 1), [{"type": "conv3d"}]), {}, r"layers\[0\] must be a dict whose 'type'"),
    (cnn_ref.layer_output_shapes, ((28, 28, 1), [CONV, {"type": "dense"}]), {}, r"layers\[1\] \(dense\): missing key"),
    (cnn_ref.count_params, ((28, 28, 1), [{**CONV, "filter": 3}]), {}, r"layers\[0\] \(conv2d\): unknown key\(s\) \['filter'\]"),
    (cnn_ref.count_params, ((784,), [CONV]), {}, r"layers\[0\] \(conv2d\) needs an input of shape \(H, W, C\)"),
    (cnn_ref.count_params, ((28, 28, 1), [{**CONV, "padding": 1}]), {}, r"layers\[0\] \(conv2d\): padding must be"),
    (cnn_ref.count_params, ((2, 2, 1), [CONV]), {}, r"layers\[0\] \(conv2d\): kernel_size height 3 is larger"),
    (cnn_ref.count_params, ((28, 28, 1), [{"type": "dropout", "rate": 2}]), {}, r"rate must be a number in \[0, 1\]"),
    (cnn_ref.layer_output_shapes, (28, [CONV]), {}, r"input_shape must be a non-empty tuple"),
    # pooling, batch norm, dropout
    (cnn_ref.max_pool2d, (np.zeros((5, 5, 3)),), {}, r"x must be 4-D \(N, H, W, C\), got shape \(5, 5, 3\)"),
    (cnn_ref.max_pool2d, (X,), {"pool_size": 0}, r"pool_size must be >= 1, got 0"),
    (cnn_ref.avg_pool2d, (X,), {"padding": 1}, r"padding must be 'valid' or 'same' for pooling, got 1"),
    (cnn_ref.avg_pool2d, (X,), {"padding": "full"}, r"padding must be 'valid' or 'same' \(any case\)"),
    (cnn_ref.max_pool2d, (X,), {"pool_size": (6, 2)}, r"pool_size height 6 is larger than the padded input height 5"),
    (cnn_ref.avg_pool2d, (X,), {"stride": (1, 2, 3)}, r"stride must be an int or a pair"),
    (cnn_ref.batch_norm, (np.zeros(4), 1, 0, 0, 1, True), {}, r"x must be at least 2-D"),
    (cnn_ref.batch_norm, (BN[0], np.ones(4), *BN[2:], True), {}, r"gamma must have shape \(3,\).*got shape \(4,\)"),
    (cnn_ref.batch_norm, (*BN[:4], np.ones((3, 1)), True), {}, r"moving_var must have shape \(3,\)"),
    (cnn_ref.batch_norm, (*BN, "train"), {}, r"training must be True or False, got 'train'"),
    (cnn_ref.batch_norm, (*BN, True), {"momentum": 1.5}, r"momentum must be a number in \[0, 1\]"),
    (cnn_ref.batch_norm, (*BN, True), {"epsilon": 0.0}, r"epsilon must be a number > 0"),
    (cnn_ref.dropout, (X, 1.5, True), {}, r"rate must be the drop probability, a number in \[0, 1\], got 1.5"),
    (cnn_ref.dropout, (X, -0.1, True), {}, r"rate must be the drop probability"),
    (cnn_ref.dropout, (X, 0.5, None), {}, r"training must be True or False, got None"),
    # metrics
    (cnn_ref.confusion_matrix, ([0, 1, 1], [0, 1]), {}, r"y_true and y_pred must have the same length, got 3 and 2"),
    (cnn_ref.confusion_matrix, (np.zeros((3, 2), int), np.zeros(3, int)), {}, r"y_true must be 1-D"),
    (cnn_ref.confusion_matrix, ([0, 1], ["a", "b"]), {}, r"y_true holds numbers but y_pred holds strings"),
    (cnn_ref.confusion_matrix, ([0, 1], [0, 1]), {"labels": [1, 1]}, r"labels must not repeat a label"),
    (cnn_ref.confusion_matrix, ([0, 1], [0, 1]), {"labels": []}, r"labels must name at least one label"),
    (cnn_ref.confusion_matrix, ([0, 1], [0, 1]), {"labels": ["a"]}, r"labels hold strings but y_true holds numbers"),
    (cnn_ref.precision, ([0, 1], [1]), {}, r"y_true and y_pred must have the same length"),
    (cnn_ref.accuracy, ([], []), {}, r"accuracy needs at least one sample"),
    # recap
    (cnn_ref.mse, (np.zeros(3), np.zeros(4)), {}, r"y_true and y_pred must have the same shape, got \(3,\) and \(4,\)"),
    (cnn_ref.mse, (np.zeros((3, 1)), np.zeros(3)), {}, r"y_true and y_pred must have the same shape"),
    (cnn_ref.binary_cross_entropy, (np.zeros(3), np.zeros(2)), {}, r"y_true and p must have the same shape"),
    (cnn_ref.binary_cross_entropy, (np.zeros(3), np.zeros(3)), {"eps": 0}, r"eps must be a number in \(0, 0.5\)"),
    (cnn_ref.categorical_cross_entropy, (np.eye(2), np.zeros((2, 2))), {}, r"p has a row that sums to 0"),
    (cnn_ref.gradient_descent, (np.zeros(3), np.zeros(2)), {}, r"x and y must have the same shape"),
    (cnn_ref.gradient_descent, (np.zeros((3, 1)), np.zeros((3, 1))), {}, r"x must be 1-D"),
    (cnn_ref.gradient_descent, (np.zeros(3), np.zeros(3)), {"steps": -1}, r"steps must be >= 0"),
    (cnn_ref.gradient_descent, (np.zeros(3), np.zeros(3)), {"lr": 0}, r"lr must be a number > 0"),
    (cnn_ref.softmax, (3.0,), {}, r"z must have at least one axis"),
    (cnn_ref.sigmoid, (np.array(["a"]),), {}, r"z must be numeric"),
]


def _call_id(call) -> str:
    fn, _, kwargs, pattern = call
    return f"{fn.__name__}-{re.sub(r'[^a-z0-9]+', '_', pattern.lower())[:40]}"


@pytest.mark.parametrize("call", BAD_CALLS, ids=map(_call_id, BAD_CALLS))
def test_bad_argument_raises_value_error_naming_it(call):
    fn, args, kwargs, pattern = call
    with pytest.raises(ValueError, match=pattern) as info:
        fn(*args, **kwargs)
    assert "broadcast" not in str(info.value)


def test_kernel_larger_than_input_fits_with_explicit_padding():
    """Pinned: VALID refuses a kernel larger than the input; enough explicit padding makes it fit."""
    x, w = np.ones((1, 2, 2, 1)), np.ones((3, 3, 1, 1))
    with pytest.raises(ValueError, match="larger than the padded input"):
        cnn_ref.conv2d(x, w)
    assert cnn_ref.conv2d(x, w, padding=1).shape == (1, 2, 2, 1)
    assert cnn_ref.conv2d(x, w, padding="same").shape == (1, 2, 2, 1)


@pytest.mark.parametrize("fn", [cnn_ref.conv2d, cnn_ref.conv2d_naive])
def test_padding_strings_case_insensitive(fn):
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(1, 5, 6, 2)), rng.normal(size=(2, 3, 2, 2))
    for word in ("valid", "same"):
        expected = fn(x, w, stride=2, padding=word)
        for variant in (word.upper(), word.capitalize(), word.swapcase().title()):
            np.testing.assert_array_equal(fn(x, w, stride=2, padding=variant), expected)
    for pool in (cnn_ref.max_pool2d, cnn_ref.avg_pool2d):
        np.testing.assert_array_equal(pool(x, 3, 2, "SAME"), pool(x, 3, 2, "same"))
    assert cnn_ref.conv_output_size(5, 2, 2, "SAME") == cnn_ref.conv_output_size(5, 2, 2, "same")
    assert cnn_ref.layer_output_shapes((5, 5, 1), [{**CONV, "padding": "Same"}]) == [(5, 5, 2)]


def test_int_or_pair_arguments_are_equivalent():
    rng = np.random.default_rng(1)
    x, w = rng.normal(size=(2, 7, 7, 2)), rng.normal(size=(3, 3, 2, 3))
    np.testing.assert_array_equal(cnn_ref.conv2d(x, w, stride=2), cnn_ref.conv2d(x, w, stride=(2, 2)))
    np.testing.assert_array_equal(cnn_ref.conv2d(x, w, stride=np.int64(2)), cnn_ref.conv2d(x, w, stride=[2, 2]))
    np.testing.assert_array_equal(cnn_ref.conv2d(x, w, padding=1), cnn_ref.conv2d(x, w, padding=((1, 1), (1, 1))))
    np.testing.assert_array_equal(cnn_ref.conv2d(x, w, padding=(1, 2)), cnn_ref.conv2d(x, w, padding=((1, 1), (2, 2))))
    for pool in (cnn_ref.max_pool2d, cnn_ref.avg_pool2d):
        np.testing.assert_array_equal(pool(x, 3, 2), pool(x, (3, 3), (2, 2)))
    assert cnn_ref.layer_output_shapes((7, 7, 2), [{**CONV, "kernel_size": (3, 3), "strides": (2, 2)}]) == \
        cnn_ref.layer_output_shapes((7, 7, 2), [{**CONV, "strides": 2}])


def test_numpy_scalars_are_accepted_where_python_numbers_are():
    x = np.random.default_rng(2).normal(size=(2, 6, 6, 3))
    w = np.random.default_rng(3).normal(size=(3, 3, 3, 2))
    np.testing.assert_array_equal(cnn_ref.conv2d(x, w, stride=np.int32(2), padding=np.int64(1)),
                                  cnn_ref.conv2d(x, w, stride=2, padding=1))
    np.testing.assert_array_equal(cnn_ref.dropout(x, np.float32(0.5), np.bool_(True), seed=1),
                                  cnn_ref.dropout(x, 0.5, True, seed=1))
    y, _, _ = cnn_ref.batch_norm(x, 1.0, 0.0, 0.0, 1.0, np.bool_(True), momentum=np.float64(0.9))
    np.testing.assert_allclose(y, cnn_ref.batch_norm(x, 1.0, 0.0, 0.0, 1.0, True, momentum=0.9)[0])
    assert cnn_ref.gradient_descent([1, 2], [2, 4], lr=np.float64(0.1), steps=np.int64(3)) == \
        cnn_ref.gradient_descent([1, 2], [2, 4], lr=0.1, steps=3)
