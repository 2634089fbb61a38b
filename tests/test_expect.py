"""Comparison helpers: what the student reads when a result is wrong."""

import numpy as np
import pytest

from grader.expect import as_number, expect_close, expect_equal


def message(check, *args, **kwargs):
    with pytest.raises(AssertionError) as info:
        check(*args, **kwargs)
    return str(info.value)


def test_shape_mismatch_names_both_shapes():
    got = np.zeros((1, 2, 2, 4))
    text = message(expect_close, got, np.zeros((1, 3, 3, 4)), what="same padding, stride 2")
    assert text == "same padding, stride 2: expected shape (1, 3, 3, 4), got (1, 2, 2, 4)"


def test_value_mismatch_points_at_the_first_wrong_value_and_counts():
    exp = np.arange(6.0).reshape(2, 3)
    got = exp.copy()
    got[1, 2] = 9
    text = message(expect_close, got, exp, what="conv2d")
    assert text == "conv2d: expected 5 at index [1, 2], got 9 (1 of 6 values wrong)"


def test_none_and_objects_are_explained():
    assert "did you forget to return" in message(expect_close, None, 1.0, what="f")
    assert "expected an array of numbers, got a value of type str" in message(expect_close, "2.3", 2.3, what="f")


def test_nan_is_wrong_where_a_number_is_expected():
    assert "got nan" in message(expect_close, float("nan"), 1.0, what="f")


def test_scalars_of_any_kind_are_accepted():
    expect_close(np.float32(2.3), 2.3, what="f", rtol=1e-6)
    expect_close([[2.3]], 2.3, what="f")
    assert as_number(np.int64(3), what="f") == 3.0


def test_equal_normalizes_numpy_and_sequences():
    expect_equal((np.int64(2), 3), [2, 3], what="pad")
    expect_equal(np.array([1, 2]), np.array([1, 2]), what="cm")
    assert "expected (1, 2), got (2, 1)" in message(expect_equal, (2, 1), (1, 2), what="same_padding")


def test_always_equal_object_is_not_a_number():
    class Liar:
        def __eq__(self, other):
            return True

    assert "expected an array of numbers" in message(expect_close, Liar(), 1.0, what="f")
    with pytest.raises(AssertionError):
        expect_equal(Liar(), 3, what="f")
