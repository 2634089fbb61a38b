"""Hidden graders for the `output_size` assignment (trusted process; expected values from cnn_ref).

Points: conv_output_size 10, same_padding 6, pool_output_size 5, layer_output_shapes 6,
count_params 7 (total 34). Each test calls one function, so a bug in one function never costs
the points of another one (unless the student's own function calls their broken one, which is
then a bug of both: pool_output_size usually calls conv_output_size, count_params usually calls
layer_output_shapes). The count_params models use neither "same" padding nor explicit strides,
so those shape bugs do not leak into them (a wrong flatten or pool stride does: the dense layer
after it has as many weights as the shape coming into it).

Messages name the call in the student's terms (n, k, stride, padding, which layer) and say what
differed; when the wrong answer is exactly what a classic mistake gives (floor instead of ceil,
the extra zero on the wrong side, pool stride 1, no biases, batch norm without its moving
statistics) they say so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import pytest

import cnn_ref
from grader.errors import StudentException
from grader.expect import expect_equal, fail

Mistakes = Sequence[tuple[Any, str]]

FLOOR_HINT = ('Hint: "same" padding gives ceil(n / stride) outputs; n // stride rounds down.')
SIDE_HINT = ("Hint: these are the right numbers on the wrong sides: TensorFlow puts the odd extra "
             "zero AFTER (bottom/right), before = total // 2.")
SYMMETRIC_HINT = ("Hint: (k - 1) // 2 on both sides is only right for odd kernels at stride 1; "
                  "compute the total from ceil(n / stride), then split it.")
NEGATIVE_HINT = "Hint: padding can never be negative: the total is max(..., 0)."
POOL_STRIDE_HINT = ("Hint: that is the size for stride 1, but a pooling stride of None means "
                    "stride = pool_size (non-overlapping windows).")
ONE_SIDED_HINT = "Hint: an int padding p adds p zeros at EACH end: the line grows by 2p."
SAME_FLOOR_HINT = ("Hint: the number of windows is ceil(n / stride); compute the total padding from "
                   "that, not from n // stride.")

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


# -- helpers -------------------------------------------------------------------------------


class Case(NamedTuple):
    """One call of a student function, its expected value, and what classic mistakes give."""

    func: str
    args: tuple
    kwargs: dict[str, Any]
    expected: Any
    mistakes: Mistakes = ()

    @property
    def what(self) -> str:
        return _call(self.func, *self.args, **self.kwargs)


def _call(func: str, *args: Any, **kwargs: Any) -> str:
    words = [repr(a) if isinstance(a, str) else str(a) for a in args]
    words += [f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in kwargs.items()]
    return f"{func}({', '.join(words)})".replace("'", '"')


def _equal(a: Any, b: Any) -> bool:
    try:
        expect_equal(b, a, what="")
    except AssertionError:
        return False
    return True


def ask(what: str, call: Callable[[], Any]) -> Any:
    """The student's answer; if their function raises, the feedback names the call."""
    try:
        return call()
    except StudentException as exc:
        raise StudentException(f"{what}: {exc}") from None


def hint_for(failures: Sequence[tuple[Any, Mistakes, Any]]) -> str:
    """The hint of a classic mistake that gives every wrong answer (the first listed), else ""."""
    candidates = None
    for got, mistakes, expected in failures:
        here = [hint for value, hint in mistakes if _equal(value, got) and not _equal(value, expected)]
        candidates = here if candidates is None else [hint for hint in candidates if hint in here]
    return candidates[0] if candidates else ""


def run_cases(student, cases: Sequence[Case]) -> None:
    """Ask every case; report the first wrong one, how many were wrong, and the mistake's hint."""
    failures = []
    first = ""
    for case in cases:
        got = ask(case.what, lambda c=case: getattr(student, c.func)(*c.args, **c.kwargs))
        try:
            expect_equal(got, case.expected, what=case.what)
        except AssertionError as exc:
            first = first or str(exc)
            failures.append((got, case.mistakes, case.expected))
    if failures:
        count = f" ({len(failures)} of {len(cases)} cases wrong)" if len(cases) > 1 else ""
        raise AssertionError(f"{first}{count} {hint_for(failures)}".strip())


def expect_value(got: Any, expected: Any, *, what: str, mistakes: Mistakes = ()) -> None:
    try:
        expect_equal(got, expected, what=what)
    except AssertionError as exc:
        raise AssertionError(f"{exc} {hint_for([(got, mistakes, expected)])}".strip()) from None


def expect_value_error(call: Callable[[], Any], *, what: str) -> None:
    try:
        got = call()
    except StudentException as exc:
        if "ValueError" not in str(exc):
            fail(what, f"expected a ValueError, but your function raised {exc}")
        return
    fail(what, f"expected a ValueError (the window does not fit), but your function returned {got!r}")


def conv_case(n: int, k: int, stride: int = 1, padding: Any = "valid") -> Case:
    kwargs: dict[str, Any] = {}
    if stride != 1:
        kwargs["stride"] = stride
    if padding != "valid":
        kwargs["padding"] = padding
    mistakes: list[tuple[Any, str]] = []
    if isinstance(padding, str) and padding.lower() == "same":
        mistakes.append((n // stride, FLOOR_HINT))
    if isinstance(padding, int) and padding > 0 and n + padding >= k:
        mistakes.append(((n + padding - k) // stride + 1, ONE_SIDED_HINT))
    expected = cnn_ref.conv_output_size(n, k, stride, padding)
    return Case("conv_output_size", (n, k), kwargs, expected, mistakes)


def same_case(n: int, k: int, stride: int = 1) -> Case:
    before, after = cnn_ref.same_padding(n, k, stride)
    raw_total = (-(-n // stride) - 1) * stride + k - n
    floor_total = max((n // stride - 1) * stride + k - n, 0)
    mistakes = [((after, before), SIDE_HINT), (((k - 1) // 2, (k - 1) // 2), SYMMETRIC_HINT),
                ((raw_total // 2, raw_total - raw_total // 2), NEGATIVE_HINT),
                ((floor_total // 2, floor_total - floor_total // 2), SAME_FLOOR_HINT)]
    args = (n, k) if stride == 1 else (n, k, stride)
    return Case("same_padding", args, {}, (before, after), mistakes)


def pool_case(n: int, *args: Any, **kwargs: Any) -> Case:
    call = {"pool_size": 2, "stride": None, "padding": "valid"}
    call.update(zip(("pool_size", "stride", "padding"), args, strict=False))
    call.update(kwargs)
    expected = cnn_ref.pool_output_size(n, call["pool_size"], call["stride"], call["padding"])
    mistakes = []
    if call["stride"] is None and call["pool_size"] <= n:
        mistakes.append((cnn_ref.pool_output_size(n, call["pool_size"], 1, call["padding"]), POOL_STRIDE_HINT))
    if str(call["padding"]).lower() == "same":
        mistakes.append((n // (call["stride"] or call["pool_size"]), FLOOR_HINT))
    return Case("pool_output_size", (n, *args), kwargs, expected, mistakes)


def _layer_words(layer: dict[str, Any]) -> str:
    settings = ", ".join(f"{k}={v!r}" for k, v in layer.items() if k != "type").replace("'", '"')
    return f"{layer['type']}({settings})"


def _stride_1_pools(layers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**layer, "strides": 1} if layer["type"].endswith("pool2d") and layer.get("strides") is None
            else layer for layer in layers]


def expect_shapes(student, input_shape: tuple[int, ...], layers: list[dict[str, Any]], *, model: str) -> None:
    what = f"layer_output_shapes for {model}, input shape {input_shape}"
    got = ask(what, lambda: student.layer_output_shapes(input_shape, layers))
    expected = cnn_ref.layer_output_shapes(input_shape, layers)
    if not isinstance(got, list | tuple):
        fail(what, f"expected a list with one shape per layer, got a value of type {type(got).__name__}")
    if len(got) != len(layers):
        fail(what, f"expected a list of {len(layers)} shapes (one per layer), got {len(got)}")
    try:
        wrong_pool = cnn_ref.layer_output_shapes(input_shape, _stride_1_pools(layers))
    except ValueError:  # that mistake would not even give a model here
        wrong_pool = [None] * len(layers)
    for index, (layer, shape) in enumerate(zip(layers, expected, strict=True)):
        mistakes = [(wrong_pool[index], POOL_STRIDE_HINT)] if layer["type"].endswith("pool2d") else []
        expect_value(got[index], shape, mistakes=mistakes,
                     what=f"{what}: layer {index + 1}, {_layer_words(layer)}, output shape")


def _without_biases(layers: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [{**layer, "use_bias": False} if layer["type"] == kind else layer for layer in layers]


def expect_params(student, input_shape: tuple[int, ...], layers: list[dict[str, Any]], *, model: str) -> None:
    expected = cnn_ref.count_params(input_shape, layers)
    bn_channels = sum(shape[-1] for shape, layer in zip(
        [tuple(input_shape), *cnn_ref.layer_output_shapes(input_shape, layers)], layers, strict=False)
        if layer["type"] == "batch_norm")
    mistakes = [
        (cnn_ref.count_params(input_shape, _without_biases(layers, "conv2d")),
         "Hint: that is the count without the convolution biases: each filter has one bias."),
        (cnn_ref.count_params(input_shape, _without_biases(layers, "dense")),
         "Hint: that is the count without the dense biases: each unit has one bias."),
        (cnn_ref.count_params(input_shape, _without_biases(_without_biases(layers, "dense"), "conv2d")),
         "Hint: that is the count without any bias."),
        (expected - 2 * bn_channels,
         "Hint: batch normalization also stores a moving mean and a moving variance per channel "
         "(4 numbers per channel, 2 of them trainable)."),
        (expected - 4 * bn_channels, "Hint: batch normalization has 4 parameters per channel."),
        (cnn_ref.count_params(input_shape, [{**layer, "use_bias": True} if "use_bias" in layer else layer
                                            for layer in layers]),
         "Hint: a layer with use_bias=False has no biases."),
    ]
    what = f"count_params for {model}, input shape {input_shape}"
    got = ask(what, lambda: student.count_params(input_shape, layers))
    expect_value(got, expected, what=what, mistakes=mistakes)


# -- conv_output_size (10 points) -----------------------------------------------------------


@pytest.mark.points(1)
def test_conv_valid_stride_1(student):
    """conv_output_size, valid padding, stride 1: n - k + 1"""
    run_cases(student, [conv_case(n, k) for n, k in ((28, 3), (6, 3), (5, 5), (10, 1), (9, 4))])


@pytest.mark.points(2)
def test_conv_valid_strides(student):
    """conv_output_size, valid padding, strides 2 and 3: floor((n - k) / stride) + 1"""
    run_cases(student, [conv_case(n, k, s) for n, k, s in
                        ((7, 3, 2), (8, 3, 2), (10, 4, 3), (11, 2, 3), (9, 9, 4), (6, 2, 2))])


@pytest.mark.points(1)
def test_conv_same_stride_1(student):
    """conv_output_size, same padding, stride 1: the output keeps the input's size"""
    run_cases(student, [conv_case(n, k, 1, "same") for n, k in ((28, 3), (5, 2), (6, 4), (3, 5))])


@pytest.mark.points(2)
def test_conv_same_strides(student):
    """conv_output_size, same padding, strides 2 and 3: ceil(n / stride)"""
    run_cases(student, [conv_case(n, k, s, "same") for n, k, s in
                        ((5, 3, 2), (7, 2, 3), (9, 4, 2), (10, 3, 3), (2, 5, 2), (8, 3, 2))])


@pytest.mark.points(1.5)
def test_conv_int_padding(student):
    """conv_output_size, padding=p (an int): p zeros at each end"""
    run_cases(student, [conv_case(n, k, s, p) for n, k, s, p in
                        ((5, 3, 1, 1), (7, 3, 2, 1), (6, 4, 2, 2), (4, 5, 1, 1), (8, 5, 3, 2), (5, 3, 3, 0))])


@pytest.mark.points(0.5)
def test_conv_padding_any_case(student):
    """conv_output_size: padding names are matched case-insensitively ("SAME", "Valid")"""
    run_cases(student, [conv_case(7, 3, 2, "SAME"), conv_case(7, 2, 2, "Valid")])


@pytest.mark.points(1)
def test_conv_many_cases(student, rng):
    """conv_output_size: 30 random combinations of size, kernel, stride and padding"""
    cases = []
    for _ in range(30):
        n = int(rng.integers(1, 40))
        k = int(rng.integers(1, n + 1))
        stride = int(rng.integers(1, 5))
        padding = ["valid", "same", int(rng.integers(0, 3))][int(rng.integers(0, 3))]
        cases.append(conv_case(n, k, stride, padding))
    run_cases(student, cases)


@pytest.mark.points(1)
def test_conv_kernel_too_large_raises(student):
    """conv_output_size: a kernel larger than the (padded) input raises ValueError"""
    for n, k, padding in ((3, 4, "valid"), (1, 2, "valid"), (2, 5, 1)):
        what = _call("conv_output_size", n, k, padding=padding)
        expect_value_error(lambda n=n, k=k, p=padding: student.conv_output_size(n, k, padding=p), what=what)
    run_cases(student, [conv_case(3, 3), conv_case(2, 3, padding=1)])  # while one that just fits works


# -- same_padding (6 points) ----------------------------------------------------------------


@pytest.mark.points(1)
def test_same_padding_odd_kernel_stride_1(student):
    """same_padding, stride 1, odd kernels: (k - 1) / 2 zeros on each side"""
    run_cases(student, [same_case(n, k) for n, k in ((5, 3), (7, 5), (28, 3), (6, 7))])


@pytest.mark.points(1.5)
def test_same_padding_even_kernel(student):
    """same_padding, stride 1, even kernels: the odd extra zero goes after"""
    run_cases(student, [same_case(n, k) for n, k in ((5, 2), (6, 4), (7, 6))])


@pytest.mark.points(2)
def test_same_padding_strides(student):
    """same_padding, strides 2 and 3: the total comes from ceil(n / stride), then TensorFlow's split"""
    run_cases(student, [same_case(n, k, s) for n, k, s in
                        ((5, 2, 2), (5, 4, 2), (4, 3, 2), (10, 5, 3), (7, 4, 3), (9, 3, 2))])


@pytest.mark.points(1)
def test_same_padding_never_negative(student):
    """same_padding: a stride larger than the kernel may need no padding at all (never negative)"""
    run_cases(student, [same_case(n, k, s) for n, k, s in ((6, 1, 2), (9, 1, 3), (8, 2, 4))])


@pytest.mark.points(0.5)
def test_same_padding_kernel_larger_than_input(student):
    """same_padding: a kernel larger than the input gets enough zeros to fit"""
    run_cases(student, [same_case(n, k) for n, k in ((2, 5), (3, 6))])


# -- pool_output_size (5 points) ------------------------------------------------------------


@pytest.mark.points(2)
def test_pool_default_stride(student):
    """pool_output_size: the stride defaults to the pool size (non-overlapping windows)"""
    run_cases(student, [pool_case(28), pool_case(5), pool_case(24, 2), pool_case(9, 3),
                        pool_case(10, pool_size=3), pool_case(11, 4, None)])


@pytest.mark.points(1)
def test_pool_explicit_stride(student):
    """pool_output_size: an explicit stride (overlapping or not)"""
    run_cases(student, [pool_case(7, 3, 2), pool_case(6, 2, 1), pool_case(13, pool_size=3, stride=3),
                        pool_case(10, 2, stride=3)])


@pytest.mark.points(1.5)
def test_pool_same(student):
    """pool_output_size, same padding: ceil(n / stride)"""
    run_cases(student, [pool_case(5, padding="same"), pool_case(7, 3, 2, "same"),
                        pool_case(10, 3, padding="same"), pool_case(9, 2, None, "SAME")])


@pytest.mark.points(0.5)
def test_pool_too_large_raises(student):
    """pool_output_size, valid padding: a window larger than the input raises ValueError"""
    expect_value_error(lambda: student.pool_output_size(2, 3), what=_call("pool_output_size", 2, 3))
    run_cases(student, [pool_case(3, 3)])  # while a window that just fits works


# -- layer_output_shapes (6 points) ---------------------------------------------------------


@pytest.mark.points(2)
def test_shapes_mnist_cnn(student):
    """layer_output_shapes: the lecture's MNIST CNN"""
    expect_shapes(student, MNIST_INPUT, MNIST_CNN, model="the MNIST CNN")


@pytest.mark.points(1.5)
def test_shapes_strided_same_convs(student):
    """layer_output_shapes: convolutions with strides, same padding and non-square kernels"""
    layers = [
        {"type": "conv2d", "filters": 16, "kernel_size": (3, 5), "strides": (2, 1), "padding": "same"},
        {"type": "conv2d", "filters": 8, "kernel_size": 4, "strides": 2, "padding": "same"},
        {"type": "conv2d", "filters": 4, "kernel_size": 2, "strides": 3},
        {"type": "conv2d", "filters": 6, "kernel_size": (1, 3), "padding": "valid", "use_bias": False},
    ]
    expect_shapes(student, (33, 30, 3), layers, model="a model of strided convolutions")


@pytest.mark.points(1.5)
def test_shapes_pooling_layers(student):
    """layer_output_shapes: max and average pooling (default strides, odd sizes, same padding)"""
    layers = [
        {"type": "max_pool2d", "pool_size": 2},
        {"type": "avg_pool2d", "pool_size": (3, 2), "strides": (2, 1), "padding": "same"},
        {"type": "batch_norm"},
        {"type": "max_pool2d", "pool_size": 3, "padding": "same"},
        {"type": "avg_pool2d", "pool_size": 2},
    ]
    expect_shapes(student, (31, 25, 5), layers, model="a model of pooling layers")


@pytest.mark.points(1)
def test_shapes_flatten_dense_dropout_batch_norm(student):
    """layer_output_shapes: flatten, dense, dropout and batch norm"""
    layers = [
        {"type": "conv2d", "filters": 16, "kernel_size": 3, "padding": "same"},
        {"type": "batch_norm"},
        {"type": "flatten"},
        {"type": "dense", "units": 64},
        {"type": "dropout", "rate": 0.3},
        {"type": "batch_norm"},
        {"type": "dense", "units": 10, "use_bias": False},
    ]
    expect_shapes(student, (8, 6, 2), layers, model="a small conv + dense model")


# -- count_params (7 points) ----------------------------------------------------------------


@pytest.mark.points(2)
def test_params_mnist_cnn(student):
    """count_params: the lecture's MNIST CNN has 1,199,882 parameters"""
    expect_params(student, MNIST_INPUT, MNIST_CNN, model="the MNIST CNN")


@pytest.mark.points(1.5)
def test_params_conv_layers(student):
    """count_params: convolutions, (KH * KW * C_in + 1) * filters, non-square kernels, use_bias"""
    layers = [
        {"type": "conv2d", "filters": 10, "kernel_size": (3, 5)},
        {"type": "conv2d", "filters": 7, "kernel_size": 2, "use_bias": False},
        {"type": "conv2d", "filters": 5, "kernel_size": (1, 2), "use_bias": True},
    ]
    expect_params(student, (20, 20, 3), layers, model="three convolutions on a 3-channel image")


@pytest.mark.points(1)
def test_params_dense_layers(student):
    """count_params: dense layers, (inputs + 1) * units, use_bias=False"""
    layers = [
        {"type": "dense", "units": 256},
        {"type": "dense", "units": 32, "use_bias": False},
        {"type": "dense", "units": 10},
    ]
    expect_params(student, (784,), layers, model="a 3-layer perceptron")


@pytest.mark.points(1.5)
def test_params_batch_norm(student):
    """count_params: batch normalization counts 4 numbers per channel (gamma, beta, moving mean and variance)"""
    layers = [
        {"type": "conv2d", "filters": 12, "kernel_size": 3},
        {"type": "batch_norm"},
        {"type": "conv2d", "filters": 20, "kernel_size": 3},
        {"type": "batch_norm"},
        {"type": "flatten"},
        {"type": "dense", "units": 16},
        {"type": "batch_norm"},
        {"type": "dense", "units": 3},
    ]
    expect_params(student, (9, 9, 2), layers, model="a CNN with batch normalization")


@pytest.mark.points(1)
def test_params_layers_without_weights(student):
    """count_params: pooling, flatten and dropout have no parameters"""
    layers = [
        {"type": "conv2d", "filters": 8, "kernel_size": 3},
        {"type": "max_pool2d", "pool_size": 2},
        {"type": "dropout", "rate": 0.2},
        {"type": "avg_pool2d", "pool_size": 2},
        {"type": "flatten"},
        {"type": "dropout", "rate": 0.5},
        {"type": "dense", "units": 4},
    ]
    expect_params(student, (18, 18, 1), layers, model="a CNN with pooling and dropout")
