"""cnn_ref convolution and output-size arithmetic proven against tf.nn.conv2d (and scipy)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from _tf import ATOL_F32, ATOL_F64, RTOL_F32, RTOL_F64, keras, tf, tf_conv2d, tf_padding
from scipy.signal import correlate2d

import cnn_ref

STRIDES = [1, 2, 3, (1, 2), (2, 3), (3, 1)]
PADDINGS = ["valid", "same", "SAME", "Valid", 0, 1, 2, (1, 2), ((0, 1), (2, 0)), ((1, 2), (1, 1)),
            ((2, 0), (0, 3))]
# (x shape, kernel height, kernel width, filters): odd/even, square/non-square, C >= 1, N >= 1
SHAPES = [
    ((2, 5, 5, 3), 3, 3, 4),
    ((1, 7, 6, 2), 2, 2, 3),
    ((3, 8, 5, 1), 4, 3, 2),
    ((2, 4, 4, 2), 1, 1, 5),
    ((1, 6, 9, 3), 2, 5, 2),
    ((2, 9, 7, 2), 5, 4, 3),
]
CONV_CASES = [
    (SHAPES[i % len(SHAPES)], stride, padding, i % 2 == 0)
    for i, (stride, padding) in enumerate(itertools.product(STRIDES, PADDINGS))
]


def _case_id(case: tuple) -> str:
    (x_shape, kh, kw, f), stride, padding, bias = case
    return f"x{x_shape}-k{kh}x{kw}x{f}-s{stride}-p{padding}-{'bias' if bias else 'nobias'}".replace(" ", "")


def _arrays(seed: int, x_shape: tuple, kh: int, kw: int, f: int, bias: bool, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=x_shape).astype(dtype)
    w = rng.normal(size=(kh, kw, x_shape[3], f)).astype(dtype)
    b = rng.normal(size=(f,)).astype(dtype) if bias else None
    return x, w, b


@pytest.mark.parametrize("case", CONV_CASES, ids=map(_case_id, CONV_CASES))
def test_conv2d_matches_tf(case):
    (x_shape, kh, kw, f), stride, padding, bias = case
    x, w, b = _arrays(CONV_CASES.index(case), x_shape, kh, kw, f, bias)
    expected = tf_conv2d(x, w, b, stride=stride, padding=padding)
    got = cnn_ref.conv2d(x, w, b, stride=stride, padding=padding)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=RTOL_F64, atol=ATOL_F64)


@pytest.mark.parametrize("case", CONV_CASES, ids=map(_case_id, CONV_CASES))
def test_conv2d_naive_agrees_with_fast(case):
    (x_shape, kh, kw, f), stride, padding, bias = case
    x, w, b = _arrays(1000 + CONV_CASES.index(case), x_shape, kh, kw, f, bias)
    np.testing.assert_allclose(cnn_ref.conv2d_naive(x, w, b, stride=stride, padding=padding),
                               cnn_ref.conv2d(x, w, b, stride=stride, padding=padding),
                               rtol=RTOL_F64, atol=ATOL_F64)


@pytest.mark.parametrize("stride,padding", [(1, "valid"), (2, "same"), ((2, 1), ((1, 0), (0, 2)))])
def test_conv2d_float32_stays_float32_and_matches_tf(stride, padding):
    x, w, b = _arrays(7, (4, 9, 8, 3), 3, 2, 6, True, dtype=np.float32)
    got = cnn_ref.conv2d(x, w, b, stride=stride, padding=padding)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, tf_conv2d(x, w, b, stride=stride, padding=padding),
                               rtol=RTOL_F32, atol=ATOL_F32)


def test_conv2d_int_inputs_compute_in_float64():
    rng = np.random.default_rng(3)
    x = rng.integers(-3, 4, size=(1, 5, 5, 2))
    w = rng.integers(-2, 3, size=(3, 3, 2, 2))
    got = cnn_ref.conv2d(x, w, stride=2, padding="same")
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, tf_conv2d(x.astype(float), w.astype(float), stride=2, padding="same"))


def test_cross_correlation_not_flipped():
    """Fact: tf.nn.conv2d is cross-correlation and matches scipy.signal.correlate2d."""
    rng = np.random.default_rng(11)
    image, kernel = rng.normal(size=(6, 7)), rng.normal(size=(3, 2))
    x, w = image[None, :, :, None], kernel[:, :, None, None]
    expected = correlate2d(image, kernel, mode="valid")
    np.testing.assert_allclose(tf_conv2d(x, w)[0, :, :, 0], expected, rtol=RTOL_F64, atol=ATOL_F64)
    np.testing.assert_allclose(cnn_ref.conv2d(x, w)[0, :, :, 0], expected, rtol=RTOL_F64, atol=ATOL_F64)
    flipped = cnn_ref.conv2d(x, w[::-1, ::-1])[0, :, :, 0]
    assert not np.allclose(flipped, expected)


def test_layout_nhwc_kernel_hwio_bias_per_filter():
    """Fact: input NHWC, kernel (KH, KW, C_in, C_out), bias (C_out,)."""
    x, w, b = _arrays(12, (2, 6, 5, 3), 3, 2, 4, True)
    out = cnn_ref.conv2d(x, w, b)
    assert out.shape == (2, 4, 4, 4) == tf.nn.conv2d(x, w, 1, "VALID").shape
    # output channel f at (n, i, j) is the patch dotted with w[..., f], plus b[f]
    np.testing.assert_allclose(out[1, 2, 3, 1], np.sum(x[1, 2:5, 3:5, :] * w[:, :, :, 1]) + b[1],
                               rtol=RTOL_F64, atol=ATOL_F64)
    np.testing.assert_allclose(out, tf_conv2d(x, w, b), rtol=RTOL_F64, atol=ATOL_F64)


def test_slide_example_2_3():
    """Fact: the slide's patch with the horizontal-edge kernel gives 2.3; negated, -2.3."""
    patch = np.array([[0.6, 0.2, 0.6], [0.1, -0.2, -0.3], [-0.5, -0.1, -0.3]])
    kernel = np.array([[1, 1, 1], [0, 0, 0], [-1, -1, -1]], dtype=float)
    assert cnn_ref.conv_single_step(patch, kernel) == pytest.approx(2.3)
    assert cnn_ref.conv_single_step(-patch, kernel) == pytest.approx(-2.3)
    assert cnn_ref.conv_single_step(patch, kernel, bias=0.5) == pytest.approx(2.8)
    assert isinstance(cnn_ref.conv_single_step(patch, kernel), float)
    tf_value = tf_conv2d(patch[None, :, :, None], kernel[:, :, None, None])[0, 0, 0, 0]
    assert cnn_ref.conv_single_step(patch, kernel) == pytest.approx(tf_value)


def test_conv_single_step_matches_tf_on_a_multichannel_patch():
    rng = np.random.default_rng(5)
    patch, kernel, bias = rng.normal(size=(3, 4, 5)), rng.normal(size=(3, 4, 5)), rng.normal()
    expected = tf_conv2d(patch[None], kernel[..., None], np.array([bias]))[0, 0, 0, 0]
    assert cnn_ref.conv_single_step(patch, kernel, bias) == pytest.approx(expected, rel=RTOL_F64)


@pytest.mark.parametrize("pad", [0, 2, (1, 3), ((0, 2), (3, 1))])
def test_zero_pad_matches_tf_pad(pad):
    x = np.random.default_rng(6).normal(size=(2, 3, 4, 2))
    expected = tf.pad(x, tf_padding(pad)).numpy()
    np.testing.assert_array_equal(cnn_ref.zero_pad(x, pad), expected)


# --- output-size arithmetic ---------------------------------------------------------------

SIZES = range(1, 10)
KERNELS = range(1, 6)
STRIDES_1D = range(1, 4)


def _tf_out(n: int, k: int, s: int, padding) -> int:
    x, w = np.zeros((1, n, 1, 1)), np.zeros((k, 1, 1, 1))
    return tf.nn.conv2d(x, w, strides=[s, 1], padding=padding).shape[1]


@pytest.mark.parametrize("padding", ["valid", "same", "VALID", "Same"])
def test_conv_output_size_matches_tf_shapes(padding):
    for n, k, s in itertools.product(SIZES, KERNELS, STRIDES_1D):
        if padding.lower() == "valid" and k > n:
            continue
        assert cnn_ref.conv_output_size(n, k, s, padding) == _tf_out(n, k, s, padding.upper()), (n, k, s)


def test_conv_output_size_explicit_padding_matches_tf_shapes():
    for n, k, s, p in itertools.product(SIZES, KERNELS, STRIDES_1D, range(3)):
        if k > n + 2 * p:
            continue
        tf_size = _tf_out(n, k, s, [[0, 0], [p, p], [0, 0], [0, 0]])
        assert cnn_ref.conv_output_size(n, k, s, p) == tf_size, (n, k, s, p)
        assert cnn_ref.conv_output_size(n, k, s, (p, p + 1)) == _tf_out(
            n, k, s, [[0, 0], [p, p + 1], [0, 0], [0, 0]]), (n, k, s, p)


def test_valid_output_size_formula():
    """Fact: VALID output is ceil((n - k + 1) / s) = floor((n - k) / s) + 1."""
    for n, k, s in itertools.product(SIZES, KERNELS, STRIDES_1D):
        if k <= n:
            got = cnn_ref.conv_output_size(n, k, s, "valid")
            assert got == -(-(n - k + 1) // s) == (n - k) // s + 1 == _tf_out(n, k, s, "VALID")


def test_valid_kernel_larger_than_input_raises():
    """Fact: under VALID, k > n is an error (Keras raises; tf.nn.conv2d has no window to compute)."""
    with pytest.raises(ValueError, match="larger than the padded input"):
        cnn_ref.conv_output_size(3, 4, 1, "valid")
    with pytest.raises(ValueError, match="larger than the padded input"):
        cnn_ref.conv2d(np.zeros((1, 3, 5, 1)), np.zeros((4, 2, 1, 1)))
    with pytest.raises(ValueError, match="zero or negative"):
        keras.Sequential([keras.Input((3, 5, 1)), keras.layers.Conv2D(1, (4, 2))])
    assert _tf_out(3, 4, 1, "VALID") == 0


def test_same_output_size_is_ceil():
    """Fact: SAME output is ceil(n / s), whatever the kernel."""
    for n, k, s in itertools.product(SIZES, KERNELS, STRIDES_1D):
        assert cnn_ref.conv_output_size(n, k, s, "same") == -(-n // s) == _tf_out(n, k, s, "SAME")


def _tf_same_split(n: int, k: int, s: int, rng: np.random.Generator) -> tuple[int, int]:
    """The (before, after) split TF uses: the explicit padding whose conv reproduces SAME."""
    x, w = rng.normal(size=(1, n, 1, 1)), rng.normal(size=(k, 1, 1, 1))
    same = tf.nn.conv2d(x, w, strides=[s, 1], padding="SAME").numpy()
    total = max((-(-n // s) - 1) * s + k - n, 0)
    matches = [(before, total - before) for before in range(total + 1)
               if np.allclose(same, tf.nn.conv2d(x, w, strides=[s, 1], padding=[
                   [0, 0], [before, total - before], [0, 0], [0, 0]]).numpy(), rtol=RTOL_F64, atol=ATOL_F64)]
    assert len(matches) == 1, (n, k, s, matches)
    return matches[0]


def test_same_padding_matches_tf_split():
    """Fact: total = max((out - 1) s + k - n, 0), before = total // 2, after = total - before."""
    rng = np.random.default_rng(21)
    for n, k, s in itertools.product(SIZES, KERNELS, STRIDES_1D):
        assert cnn_ref.same_padding(n, k, s) == _tf_same_split(n, k, s, rng), (n, k, s)


def test_same_split_examples():
    """Fact: (n, k, s -> before, after): (5,2,2)->(0,1); (5,4,2)->(1,2); (4,3,2)->(0,1); (2,5,1)->(2,2)."""
    rng = np.random.default_rng(22)
    examples = {(5, 2, 2): (0, 1), (5, 4, 2): (1, 2), (4, 3, 2): (0, 1), (2, 5, 1): (2, 2)}
    for (n, k, s), split in examples.items():
        assert cnn_ref.same_padding(n, k, s) == split
        assert _tf_same_split(n, k, s, rng) == split
    assert all(isinstance(v, int) for v in cnn_ref.same_padding(5, 4, 2))


def test_same_stride2_samples_odd_positions():
    """Fact: SAME stride 2 on 4x4 = the stride-1 SAME output at [1::2, 1::2], not [::2, ::2]."""
    x, w, _ = _arrays(31, (1, 4, 4, 1), 3, 3, 1, False)
    stride2 = cnn_ref.conv2d(x, w, stride=2, padding="same")
    stride1 = cnn_ref.conv2d(x, w, stride=1, padding="same")
    np.testing.assert_allclose(stride2, stride1[:, 1::2, 1::2], rtol=RTOL_F64, atol=ATOL_F64)
    assert not np.allclose(stride2, stride1[:, ::2, ::2])
    np.testing.assert_allclose(stride2, tf_conv2d(x, w, stride=2, padding="same"), rtol=RTOL_F64, atol=ATOL_F64)


def test_explicit_int_padding_formula():
    """Fact: explicit int padding p is symmetric: floor((n + 2p - k) / s) + 1."""
    for n, k, s, p in itertools.product(SIZES, KERNELS, STRIDES_1D, range(3)):
        if k <= n + 2 * p:
            assert cnn_ref.conv_output_size(n, k, s, p) == (n + 2 * p - k) // s + 1
    x, w, _ = _arrays(32, (1, 5, 7, 2), 3, 2, 2, False)
    out = cnn_ref.conv2d(x, w, stride=2, padding=1)
    assert out.shape == (1, (5 + 2 - 3) // 2 + 1, (7 + 2 - 2) // 2 + 1, 2)
    np.testing.assert_allclose(out, tf_conv2d(x, w, stride=2, padding=1), rtol=RTOL_F64, atol=ATOL_F64)


# --- wrong SAME implementations a student (or a reference) writes -------------------------

def _same_extra_pad_on_top(x, w, s):
    (bh, ah), (bw, aw) = [cnn_ref.same_padding(n, k, s) for n, k in zip(x.shape[1:3], w.shape[:2], strict=True)]
    return cnn_ref.conv2d(x, w, stride=s, padding=((ah, bh), (aw, bw)))


def _same_symmetric_half_kernel(x, w, s):
    return cnn_ref.conv2d(x, w, stride=s, padding=((w.shape[0] - 1) // 2, (w.shape[1] - 1) // 2))


def _same_floor_size(x, w, s):
    out = cnn_ref.conv2d(x, w, stride=s, padding="same")
    return out[:, : x.shape[1] // s, : x.shape[2] // s]


def _differs(got, expected):
    return got.shape != expected.shape or not np.allclose(got, expected, rtol=RTOL_F64, atol=ATOL_F64)


@pytest.mark.parametrize("mistake", [_same_extra_pad_on_top, _same_symmetric_half_kernel, _same_floor_size])
def test_stride1_odd_kernel_cases_miss_common_same_mistakes(mistake):
    """Fact: stride-1 odd-kernel tests catch none of the SAME mistakes; stride 2-3, even kernels,
    odd sizes and non-square shapes catch each of them."""
    easy = [((2, 5, 5, 2), 3, 3), ((1, 6, 4, 1), 5, 5), ((1, 7, 7, 3), 1, 1)]
    hard = [((2, 5, 5, 2), 2, 2, 2), ((1, 7, 6, 1), 4, 3, 3), ((1, 5, 8, 2), 3, 2, 2), ((1, 9, 9, 1), 3, 3, 2)]
    for i, (x_shape, kh, kw) in enumerate(easy):
        x, w, _ = _arrays(40 + i, x_shape, kh, kw, 2, False)
        assert not _differs(mistake(x, w, 1), tf_conv2d(x, w, stride=1, padding="same"))
    caught = []
    for i, (x_shape, kh, kw, s) in enumerate(hard):
        x, w, _ = _arrays(50 + i, x_shape, kh, kw, 2, False)
        expected = tf_conv2d(x, w, stride=s, padding="same")
        np.testing.assert_allclose(cnn_ref.conv2d(x, w, stride=s, padding="same"), expected,
                                   rtol=RTOL_F64, atol=ATOL_F64)
        caught.append(_differs(mistake(x, w, s), expected))
    assert any(caught)


def test_conv2d_handles_views_and_non_contiguous_inputs():
    """Regression: length-1 axes added by None carry stride 0, and strided/Fortran views."""
    rng = np.random.default_rng(60)
    image, kernel = rng.normal(size=(6, 7)), rng.normal(size=(3, 2))
    x, w = image[None, :, :, None], kernel[:, :, None, None]
    np.testing.assert_allclose(cnn_ref.conv2d(x, w), tf_conv2d(x, w), rtol=RTOL_F64, atol=ATOL_F64)
    big = rng.normal(size=(3, 10, 12, 4))
    views = [big[:, ::2, 1::2, :], np.asfortranarray(big), big[..., ::-1], big.transpose(0, 2, 1, 3)]
    w4 = rng.normal(size=(2, 3, 4, 2))
    for view in views:
        np.testing.assert_allclose(cnn_ref.conv2d(view, w4, stride=2, padding="same"),
                                   tf_conv2d(np.ascontiguousarray(view), w4, stride=2, padding="same"),
                                   rtol=RTOL_F64, atol=ATOL_F64)


@pytest.mark.parametrize("x_shape,kernel,stride", [
    ((3, 9, 11, 1), (3, 3), 1),        # one channel, unit width stride: kernel-major im2col
    ((3, 9, 11, 1), (2, 4), (2, 1)),
    ((3, 9, 11, 1), (3, 3), (1, 2)),   # one channel, width stride 2: window-row im2col
    ((2, 6, 3, 1), (2, 3), 1),         # Wo == 1 <= KW: window-row im2col
    ((3, 9, 11, 2), (3, 3), 1),
])
def test_conv2d_both_im2col_layouts_match_tf(x_shape, kernel, stride):
    x, w, b = _arrays(70, x_shape, *kernel, 5, True, dtype=np.float32)
    for padding in ("valid", "same", ((1, 0), (2, 1))):
        np.testing.assert_allclose(cnn_ref.conv2d(x, w, b, stride=stride, padding=padding),
                                   tf_conv2d(x, w, b, stride=stride, padding=padding), rtol=RTOL_F32, atol=ATOL_F32)
