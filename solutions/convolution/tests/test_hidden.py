"""Hidden graders for the `convolution` assignment (trusted process; expected values from cnn_ref).

Points: conv_single_step 4, zero_pad 3, conv2d 23 (total 30). Each test calls one function,
so a bug in one function never costs the points of another one (unless the student's own
conv2d calls their broken helper, which is then a bug of conv2d too).

Messages name the case in the student's terms (padding, stride, sizes) and say what differed
(output size, one wrong value); they never print the random inputs.

About "no mutation of inputs": every call hands the student's function fresh copies of the
arguments (across the sandbox boundary, and deep-copied by ``dl101 check``), so a function
that writes into its arguments cannot be seen from here and cannot corrupt the grader's
arrays. What can be seen is the consequence: results that change from one call to the next
(state kept between calls, e.g. a mutated default argument or a global). That is what
``test_conv2d_is_repeatable`` checks. Writing into a view of its own padded array inside
conv2d shows up as wrong values in the other tests.
"""

from __future__ import annotations

import numpy as np
import pytest

import cnn_ref
from grader.errors import StudentException
from grader.expect import as_array, as_number, expect_close, fail

#: float32 arithmetic passes; a real bug moves values by far more than this.
RTOL = 1e-5
ATOL = 1e-6

SLIDE_PATCH = np.array([[0.6, 0.2, 0.6], [0.1, -0.2, -0.3], [-0.5, -0.1, -0.3]])
EDGE_KERNEL = np.array([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -1.0, -1.0]])


# -- helpers -------------------------------------------------------------------------------


def _size(shape: tuple[int, ...]) -> str:
    return "x".join(str(s) for s in shape)


def _padding_words(padding) -> str:
    if isinstance(padding, str):
        return f'padding="{padding}"'
    return f"padding={padding!r}"


def _stride_words(stride) -> str:
    return f"stride {stride}" if np.ndim(stride) == 0 else f"stride {tuple(stride)}"


def _describe(x: np.ndarray, w: np.ndarray, stride, padding, extra: str = "") -> str:
    n, h, wd, c_in = x.shape
    kh, kw, _, c_out = w.shape
    batch = f"{n} images, " if n > 1 else ""
    return (f"conv2d, {_padding_words(padding)}, {_stride_words(stride)}, {batch}{h}x{wd} input "
            f"with {c_in} channel{'s' if c_in > 1 else ''}, {kh}x{kw} kernel, {c_out} filter{'s' if c_out > 1 else ''}"
            f"{extra}")


def call(student, function: str, *args, what: str, **kwargs):
    """The student's function's result; if it raised, a failure that names the case too."""
    try:
        return getattr(student, function)(*args, **kwargs)
    except StudentException as exc:
        fail(what, f"{function} raised {exc}")


def expect_conv_output(got, expected: np.ndarray, *, what: str) -> None:
    """Shape first, in the student's terms (output size, batch, filters), then the values."""
    arr = as_array(got, what=what)
    if arr.ndim != 4:
        fail(what, f"expected a 4-D array (N, H_out, W_out, C_out) of shape {expected.shape}, "
                   f"got shape {arr.shape}")
    if arr.shape[1:3] != expected.shape[1:3]:
        fail(what, f"expected a {_size(expected.shape[1:3])} output, got {_size(arr.shape[1:3])}")
    if arr.shape[0] != expected.shape[0]:
        fail(what, f"expected one output per input image ({expected.shape[0]}), got {arr.shape[0]} "
                   "(the batch axis must be kept)")
    if arr.shape[3] != expected.shape[3]:
        fail(what, f"expected {expected.shape[3]} output channels (one per filter), got {arr.shape[3]}")
    expect_close(arr, expected, what=what, rtol=RTOL, atol=ATOL)


def check_conv(student, x, w, b=None, *, stride=1, padding="valid", extra: str = "") -> None:
    """Call the student's conv2d with the arguments as given and compare with cnn_ref."""
    what = _describe(x, w, stride, padding, extra + (", with bias" if b is not None else ""))
    kwargs = {}
    if b is not None:
        kwargs["b"] = b
    if stride != 1:
        kwargs["stride"] = stride
    if padding != "valid":
        kwargs["padding"] = padding
    got = call(student, "conv2d", x, w, what=what, **kwargs)
    expect_conv_output(got, cnn_ref.conv2d(x, w, b, stride=stride, padding=padding), what=what)


def check_pad(student, x: np.ndarray, pad, *, what: str) -> None:
    got = call(student, "zero_pad", x, pad, what=what)
    expected = cnn_ref.zero_pad(x, pad)
    arr = as_array(got, what=what)
    if arr.shape != expected.shape:
        fail(what, f"expected shape {expected.shape} (only height and width are padded), got {arr.shape}")
    expect_close(arr, expected, what=what, rtol=RTOL, atol=ATOL)


# -- conv_single_step (4 points) ------------------------------------------------------------


@pytest.mark.points(1)
def test_single_step_slide_example(student):
    """conv_single_step: the lecture's edge-detector example (2.3 and -2.3)"""
    for sign, expected in ((1, 2.3), (-1, -2.3)):
        what = f"conv_single_step on the lecture's {'negated ' if sign < 0 else ''}patch and edge kernel"
        got = call(student, "conv_single_step", sign * SLIDE_PATCH, EDGE_KERNEL, what=what)
        expect_close(got, expected, what=what, rtol=RTOL, atol=ATOL)


@pytest.mark.points(1)
def test_single_step_multichannel(student, rng):
    """conv_single_step: a 3x3 patch with 4 channels sums over rows, columns and channels"""
    patch, kernel = rng.normal(size=(3, 3, 4)), rng.normal(size=(3, 3, 4))
    what = "conv_single_step on a 3x3x4 patch (the sum runs over all three axes; one number comes back)"
    got = call(student, "conv_single_step", patch, kernel, what=what)
    expect_close(as_number(got, what=what), cnn_ref.conv_single_step(patch, kernel), what=what,
                 rtol=RTOL, atol=ATOL)


@pytest.mark.points(1)
def test_single_step_bias(student, rng):
    """conv_single_step: the bias is added once"""
    patch, kernel = rng.normal(size=(2, 2, 3)), rng.normal(size=(2, 2, 3))
    for bias in (-0.75, 2.5):
        what = f"conv_single_step on a 2x2x3 patch with bias={bias}"
        got = call(student, "conv_single_step", patch, kernel, bias, what=what)
        expect_close(got, cnn_ref.conv_single_step(patch, kernel, bias), what=what, rtol=RTOL, atol=ATOL)


@pytest.mark.points(1)
def test_single_step_non_square_integers(student, rng):
    """conv_single_step: a non-square patch of integers"""
    patch = rng.integers(-5, 6, size=(2, 5))
    kernel = rng.integers(-3, 4, size=(2, 5))
    what = "conv_single_step on a 2x5 patch and kernel of integers"
    got = call(student, "conv_single_step", patch, kernel, 1.0, what=what)
    expect_close(got, cnn_ref.conv_single_step(patch, kernel, 1.0), what=what, rtol=0.0, atol=1e-9)


# -- zero_pad (3 points) ---------------------------------------------------------------------


@pytest.mark.points(1)
def test_zero_pad_int(student, rng):
    """zero_pad: an int pads all four sides of every image"""
    x = rng.normal(size=(2, 3, 4, 3))
    check_pad(student, x, 2,
              what="zero_pad(x, 2) on x of shape (2, 3, 4, 3) (2 images, 3x4, 3 channels)")


@pytest.mark.points(1)
def test_zero_pad_per_side(student, rng):
    """zero_pad: ((top, bottom), (left, right)) pads each side by its own amount"""
    x = rng.normal(size=(1, 4, 2, 2))
    pad = ((1, 2), (3, 0))
    check_pad(student, x, pad,
              what="zero_pad(x, ((1, 2), (3, 0))) on x of shape (1, 4, 2, 2)")


@pytest.mark.points(1)
def test_zero_pad_integers_and_zero(student, rng):
    """zero_pad: integer images keep their values; a pad of 0 changes nothing"""
    x = rng.integers(0, 256, size=(3, 2, 3, 1))
    check_pad(student, x, ((0, 1), (1, 0)),
              what="zero_pad(x, ((0, 1), (1, 0))) on integer images of shape (3, 2, 3, 1)")
    check_pad(student, x, 0, what="zero_pad(x, 0) on integer images of shape (3, 2, 3, 1)")


# -- conv2d: VALID, channels, bias (6 points) ---------------------------------------------------


@pytest.mark.points(1.5)
def test_conv2d_valid_single_channel(student, rng):
    """conv2d, valid padding: one 5x5 grayscale image, one 3x3 kernel (no kernel flip)"""
    check_conv(student, rng.normal(size=(1, 5, 5, 1)), rng.normal(size=(3, 3, 1, 1)))


@pytest.mark.points(1.5)
def test_conv2d_valid_multichannel(student, rng):
    """conv2d, valid padding: 3 input channels summed, 4 filters"""
    check_conv(student, rng.normal(size=(2, 6, 6, 3)), rng.normal(size=(3, 3, 3, 4)))


@pytest.mark.points(1.5)
def test_conv2d_valid_non_square(student, rng):
    """conv2d, valid padding: non-square image and non-square kernel"""
    check_conv(student, rng.normal(size=(1, 7, 5, 2)), rng.normal(size=(2, 3, 2, 3)))
    check_conv(student, rng.normal(size=(1, 4, 9, 1)), rng.normal(size=(4, 1, 1, 2)))


@pytest.mark.points(1.5)
def test_conv2d_bias(student, rng):
    """conv2d: one bias per filter, added to every output position"""
    x, w = rng.normal(size=(2, 4, 4, 2)), rng.normal(size=(2, 2, 2, 3))
    check_conv(student, x, w, rng.normal(size=3))
    check_conv(student, x, w, np.array([0.5, -1.0, 3.0]), padding="same")


# -- conv2d: strides (4 points) -------------------------------------------------------------


@pytest.mark.points(1.5)
def test_conv2d_stride_2_even_kernel(student, rng):
    """conv2d, valid padding, stride 2 with an even (2x2 and 4x4) kernel"""
    check_conv(student, rng.normal(size=(1, 7, 7, 2)), rng.normal(size=(2, 2, 2, 2)), stride=2)
    check_conv(student, rng.normal(size=(2, 9, 8, 1)), rng.normal(size=(4, 4, 1, 2)), stride=2)


@pytest.mark.points(1)
def test_conv2d_stride_3_odd_kernel(student, rng):
    """conv2d, valid padding, stride 3 with a 3x3 kernel"""
    check_conv(student, rng.normal(size=(2, 8, 10, 1)), rng.normal(size=(3, 3, 1, 2)), stride=3)


@pytest.mark.points(1.5)
def test_conv2d_stride_pair(student, rng):
    """conv2d: a stride pair (rows, columns) with different steps"""
    x, w = rng.normal(size=(1, 7, 6, 2)), rng.normal(size=(3, 2, 2, 2))
    check_conv(student, x, w, stride=(2, 1))
    check_conv(student, x, w, stride=(1, 3))


# -- conv2d: SAME padding (6 points) --------------------------------------------------------


@pytest.mark.points(1)
def test_conv2d_same_stride_1_odd_kernel(student, rng):
    """conv2d, same padding, stride 1, 3x3 kernel: the output keeps the input's size"""
    check_conv(student, rng.normal(size=(1, 5, 6, 2)), rng.normal(size=(3, 3, 2, 2)), padding="same")


@pytest.mark.points(1.5)
def test_conv2d_same_stride_1_even_kernel(student, rng):
    """conv2d, same padding, stride 1, even kernel: the extra zero row/column goes after"""
    check_conv(student, rng.normal(size=(1, 5, 6, 1)), rng.normal(size=(2, 4, 1, 2)), padding="same")


@pytest.mark.points(1.5)
def test_conv2d_same_stride_2(student, rng):
    """conv2d, same padding, stride 2: output size ceil(n / 2), TensorFlow's padding split"""
    for size, k in ((5, 3), (5, 4), (4, 3), (6, 2)):
        check_conv(student, rng.normal(size=(1, size, size, 2)), rng.normal(size=(k, k, 2, 1)),
                   stride=2, padding="same")


@pytest.mark.points(1.5)
def test_conv2d_same_stride_3_non_square(student, rng):
    """conv2d, same padding, stride 3, non-square image and kernel"""
    check_conv(student, rng.normal(size=(2, 7, 8, 2)), rng.normal(size=(2, 3, 2, 1)),
               stride=3, padding="same")
    check_conv(student, rng.normal(size=(1, 10, 5, 1)), rng.normal(size=(4, 1, 1, 2)),
               stride=(3, 2), padding="same")


@pytest.mark.points(0.5)
def test_conv2d_same_kernel_larger_than_input(student, rng):
    """conv2d, same padding with a kernel larger than the image (allowed: padding makes it fit)"""
    check_conv(student, rng.normal(size=(1, 2, 3, 1)), rng.normal(size=(5, 4, 1, 1)), padding="same")


# -- conv2d: explicit padding and spelling (3.5 points) -----------------------------------------


@pytest.mark.points(1.5)
def test_conv2d_int_padding(student, rng):
    """conv2d, padding=p (an int): p zeros on every side"""
    check_conv(student, rng.normal(size=(1, 6, 6, 2)), rng.normal(size=(3, 3, 2, 2)), stride=2, padding=1)
    check_conv(student, rng.normal(size=(1, 4, 5, 1)), rng.normal(size=(2, 2, 1, 1)), padding=2)


@pytest.mark.points(1.5)
def test_conv2d_explicit_padding_per_side(student, rng):
    """conv2d, padding=((top, bottom), (left, right))"""
    check_conv(student, rng.normal(size=(1, 4, 4, 1)), rng.normal(size=(3, 3, 1, 2)),
               padding=((2, 0), (1, 3)))
    check_conv(student, rng.normal(size=(2, 5, 6, 2)), rng.normal(size=(2, 3, 2, 1)),
               stride=2, padding=((0, 1), (2, 1)))


@pytest.mark.points(0.5)
def test_conv2d_padding_any_case(student, rng):
    """conv2d: padding names are matched case-insensitively ("SAME", "Valid")"""
    x, w = rng.normal(size=(1, 5, 5, 1)), rng.normal(size=(2, 2, 1, 1))
    check_conv(student, x, w, padding="SAME")
    check_conv(student, x, w, stride=2, padding="Valid")


# -- conv2d: batches, dtypes, errors, state (3.5 points) ----------------------------------------


@pytest.mark.points(1)
def test_conv2d_batch_independence(student, rng):
    """conv2d: each image of a batch is convolved on its own"""
    x, w = rng.normal(size=(3, 5, 5, 2)), rng.normal(size=(3, 3, 2, 2))
    x[1] *= 10.0  # very different images: mixing them up cannot go unnoticed
    what = _describe(x, w, 1, "same")
    got = as_array(call(student, "conv2d", x, w, padding="same", what=what), what=what)
    expected = cnn_ref.conv2d(x, w, padding="same")
    if got.shape != expected.shape:
        expect_conv_output(got, expected, what=what)
    for i in range(len(x)):
        expect_close(got[i], expected[i], what=f"{what}: image {i} of the batch", rtol=RTOL, atol=ATOL)


@pytest.mark.points(1)
def test_conv2d_integer_inputs(student, rng):
    """conv2d: integer images (uint8) and integer kernels give exact results"""
    image = rng.integers(0, 256, size=(1, 5, 6, 1)).astype(np.uint8)
    blur = np.full((3, 3, 1, 1), 1.0 / 9.0)
    check_conv(student, image, blur, extra=" (uint8 image, averaging kernel)")
    check_conv(student, image, rng.integers(-2, 3, size=(2, 2, 1, 2)), padding="same",
               extra=" (uint8 image, integer kernel)")


@pytest.mark.points(1)
def test_conv2d_valid_kernel_too_large_raises(student):
    """conv2d, valid padding: a kernel larger than the image raises ValueError"""
    cases = (((1, 3, 3, 1), (4, 4, 1, 1), "valid"), ((1, 5, 3, 1), (2, 4, 1, 1), "valid"),
             ((1, 2, 2, 1), (5, 5, 1, 1), 1))
    for x_shape, w_shape, padding in cases:
        x, w = np.ones(x_shape), np.ones(w_shape)
        what = _describe(x, w, 1, padding) + " (the kernel does not fit)"
        try:
            got = student.conv2d(x, w, padding=padding)
        except StudentException as exc:
            if "ValueError" not in str(exc):
                fail(what, f"expected a ValueError, but conv2d raised {exc}")
            continue
        shape = np.shape(got) if isinstance(got, np.ndarray) else type(got).__name__
        fail(what, f"expected a ValueError, but conv2d returned {shape}")
    # ... and only then: a conv2d that always raises must not earn this point.
    check_conv(student, np.ones((1, 3, 3, 1)), np.ones((3, 3, 1, 1)), extra=" (a kernel that just fits)")


@pytest.mark.points(0.5)
def test_conv2d_is_repeatable(student, rng):
    """conv2d: the same call twice gives the same result (no state kept between calls)"""
    x, w, b = rng.normal(size=(2, 5, 4, 2)), rng.normal(size=(3, 2, 2, 2)), rng.normal(size=2)
    expected = cnn_ref.conv2d(x, w, b, stride=2, padding="same")
    what = _describe(x, w, 2, "same", ", with bias")
    for attempt in ("first", "second"):
        case = f"{what} ({attempt} call)"
        got = call(student, "conv2d", x, w, b, stride=2, padding="same", what=case)
        expect_conv_output(got, expected, what=case)
