"""The `output_size` graders separate right from wrong: the end-to-end proof.

One batch (`grade_paths`, the same code path as `dl101 grade`) grades:
- the solution notebook (must score full),
- an alternative correct implementation written differently (math.ceil/floor, counting windows
  in a loop, one per-layer helper shared by shapes and parameters: must score full),
- the released stub notebook (must score zero),
- mutants: the solution with ONE plausible bug each, made by source substitution in one solution
  cell (each must score strictly below full, lose the test named for it, and keep every point of
  the functions that do not call the broken one: partial credit).
"""

from __future__ import annotations

import _grading
import nbformat
import pytest
from _grading import CellMutant as Mutant
from _grading import (
    assert_every_notebook_graded,
    assert_feedback_short_without_arrays,
    assert_mutant_caught,
    assert_scores_full,
    assert_stub_scores_zero,
    failures,
    grade_class,
    solution_notebook,
    substitute,
    with_code_cells_replaced,
)

from grader.results import SubmissionResult

SLUG = "output_size"
MAX_SCORE = 34
FUNCTIONS = ("conv_output_size", "same_padding", "pool_output_size", "layer_output_shapes", "count_params")
#: In the solution, a bug in a function also reaches the functions that call it.
CALLERS = {
    "conv_output_size": {"pool_output_size", "layer_output_shapes", "count_params"},
    "pool_output_size": {"layer_output_shapes", "count_params"},
    "layer_output_shapes": {"count_params"},
    "same_padding": set(),
    "count_params": set(),
}


MUTANTS = (
    Mutant("same_floor_size", "conv_output_size", "conv-output-size",
           "return -(-n // stride)", "return n // stride", "test_conv_same_strides"),
    Mutant("int_padding_one_side", "conv_output_size", "conv-output-size",
           "padded = n + 2 * padding", "padded = n + padding", "test_conv_int_padding"),
    Mutant("padding_case_sensitive", "conv_output_size", "conv-output-size",
           "mode = padding.lower()", "mode = padding", "test_conv_padding_any_case"),
    Mutant("no_error_for_large_kernel", "conv_output_size", "conv-output-size",
           "if k > padded:", "if False:", "test_conv_kernel_too_large_raises"),
    Mutant("same_extra_pad_before", "same_padding", "same-padding",
           "return before, after", "return after, before", "test_same_padding_even_kernel"),
    Mutant("same_half_kernel_each_side", "same_padding", "same-padding",
           "total = max((n_out - 1) * stride + k - n, 0)", "total = 2 * ((k - 1) // 2)",
           "test_same_padding_strides"),
    Mutant("same_padding_negative", "same_padding", "same-padding",
           "total = max((n_out - 1) * stride + k - n, 0)", "total = (n_out - 1) * stride + k - n",
           "test_same_padding_never_negative"),
    Mutant("same_padding_floor", "same_padding", "same-padding",
           "n_out = -(-n // stride)", "n_out = n // stride", "test_same_padding_strides"),
    Mutant("pool_stride_default_1", "pool_output_size", "pool-output-size",
           "        stride = pool_size\n", "        stride = 1\n", "test_pool_default_stride"),
    Mutant("model_pool_stride_1", "layer_output_shapes", "layer-output-shapes",
           "sh, sw = (ph, pw) if strides is None", "sh, sw = (1, 1) if strides is None",
           "test_shapes_mnist_cnn"),
    Mutant("model_conv_strides_ignored", "layer_output_shapes", "layer-output-shapes",
           'sh, sw = as_pair(layer.get("strides", 1))', "sh, sw = 1, 1",
           "test_shapes_strided_same_convs"),
    Mutant("model_padding_ignored", "layer_output_shapes", "layer-output-shapes",
           'padding = layer.get("padding", "valid")', 'padding = "valid"',
           "test_shapes_strided_same_convs"),
    Mutant("flatten_forgets_channels", "layer_output_shapes", "layer-output-shapes",
           "shape = (int(np.prod(shape)),)", "shape = (shape[0] * shape[1],)", "test_shapes_mnist_cnn"),
    Mutant("conv_params_no_bias", "count_params", "count-params",
           "total += kh * kw * shape[-1] * filters + (filters if use_bias else 0)",
           "total += kh * kw * shape[-1] * filters", "test_params_mnist_cnn"),
    Mutant("conv_params_no_input_channels", "count_params", "count-params",
           "kh * kw * shape[-1] * filters", "kh * kw * filters", "test_params_conv_layers"),
    Mutant("dense_params_no_bias", "count_params", "count-params",
           "total += shape[-1] * units + (units if use_bias else 0)", "total += shape[-1] * units",
           "test_params_dense_layers"),
    Mutant("bn_params_trainable_only", "count_params", "count-params",
           "total += 4 * shape[-1]", "total += 2 * shape[-1]", "test_params_batch_norm"),
    Mutant("use_bias_ignored", "count_params", "count-params",
           'use_bias = layer.get("use_bias", True)', "use_bias = True", "test_params_conv_layers"),
    Mutant("params_from_output_shapes", "count_params", "count-params",
           "in_shapes = [tuple(input_shape)] + layer_output_shapes(input_shape, layers)[:-1]",
           "in_shapes = layer_output_shapes(input_shape, layers)", "test_params_mnist_cnn"),
)

#: A correct implementation written differently from the solution, by solution cell grade_id.
ALTERNATIVE = {
    "conv-output-size": '''
import math


def conv_output_size(n, k, stride=1, padding="valid"):
    if isinstance(padding, str):
        if padding.upper() == "SAME":
            return math.ceil(n / stride)
        if padding.upper() != "VALID":
            raise ValueError("padding must be valid, same or an int")
        padding = 0
    if n + 2 * padding < k:
        raise ValueError("the kernel is larger than the padded input")
    return math.floor((n + 2 * padding - k) / stride) + 1
''',
    "same-padding": '''
def same_padding(n, k, stride=1):
    needed = (math.ceil(n / stride) - 1) * stride + k
    total = needed - n if needed > n else 0
    after = math.ceil(total / 2)
    return (total - after, after)
''',
    "pool-output-size": '''
def pool_output_size(n, pool_size=2, stride=None, padding="valid"):
    step = pool_size if stride is None else stride
    if padding.upper() == "SAME":
        return math.ceil(n / step)
    if pool_size > n:
        raise ValueError("the pooling window is larger than the input")
    count, start = 0, 0
    while start + pool_size <= n:  # count the windows one by one
        count += 1
        start += step
    return count
''',
    "layer-output-shapes": '''
def _step(shape, layer):
    """(output shape, parameters) of one layer."""
    kind = layer["type"]
    bias = 1 if layer.get("use_bias", True) else 0
    if kind == "conv2d":
        k = as_pair(layer["kernel_size"])
        s = as_pair(layer.get("strides", 1))
        p = layer.get("padding", "valid")
        hw = tuple(conv_output_size(shape[i], k[i], s[i], p) for i in range(2))
        return hw + (layer["filters"],), (k[0] * k[1] * shape[2] + bias) * layer["filters"]
    if kind.endswith("pool2d"):
        k = as_pair(layer.get("pool_size", 2))
        s = k if layer.get("strides") is None else as_pair(layer["strides"])
        p = layer.get("padding", "valid")
        return tuple(pool_output_size(shape[i], k[i], s[i], p) for i in range(2)) + (shape[2],), 0
    if kind == "flatten":
        return (int(np.prod(shape)),), 0
    if kind == "dense":
        return tuple(shape[:-1]) + (layer["units"],), (shape[-1] + bias) * layer["units"]
    if kind == "batch_norm":
        return tuple(shape), 4 * shape[-1]
    if kind == "dropout":
        return tuple(shape), 0
    raise ValueError(f"unknown layer {kind}")


def layer_output_shapes(input_shape, layers):
    out = []
    for layer in layers:
        input_shape, _ = _step(input_shape, layer)
        out.append(input_shape)
    return out
''',
    "count-params": '''
def count_params(input_shape, layers):
    total = 0
    for layer in layers:
        input_shape, params = _step(input_shape, layer)
        total += params
    return total
''',
    "helpers": '''
import numpy as np


def as_pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


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
''',
}


# -- building the class ---------------------------------------------------------------------


def class_notebooks() -> dict[str, nbformat.NotebookNode]:
    """Every notebook of the batch but the stub, by student."""
    return {
        "solution": solution_notebook(SLUG),
        "alternative": with_code_cells_replaced(solution_notebook(SLUG), ALTERNATIVE),
        **{f"mutant-{m.name}": substitute(solution_notebook(SLUG), m.cell, m.old, m.new) for m in MUTANTS},
    }


def hidden_test_titles() -> dict[str, str]:
    return _grading.hidden_test_titles(SLUG)


def function_of(title: str) -> str:
    return _grading.function_of(title, FUNCTIONS)


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SubmissionResult]:
    """The whole class graded in ONE batch (sandboxed where this machine can sandbox)."""
    return grade_class(tmp_path_factory, SLUG, class_notebooks())


# -- the tests ---------------------------------------------------------------------------------


def test_every_notebook_was_graded(graded):
    expected = {"solution", "alternative", "stub", *(f"mutant-{m.name}" for m in MUTANTS)}
    assert_every_notebook_graded(graded, expected, MAX_SCORE)


def test_every_hidden_test_names_its_function():
    for title in hidden_test_titles().values():
        function_of(title)


def test_solution_scores_full(graded):
    assert_scores_full(graded["solution"])


def test_alternative_implementation_scores_full(graded):
    assert_scores_full(graded["alternative"])


def test_released_stub_scores_zero(graded):
    assert_stub_scores_zero(graded["stub"])


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_mutant_scores_below_full(graded, mutant):
    # Partial credit: only the broken function's tests fail, and those of its callers.
    allowed = {mutant.function} | CALLERS[mutant.function]
    assert_mutant_caught(graded[f"mutant-{mutant.name}"], mutant, hidden_test_titles(), allowed, function_of)


def test_feedback_is_short_and_never_dumps_arrays(graded):
    assert_feedback_short_without_arrays(graded)


def test_same_floor_message_names_the_case_and_the_mistake(graded):
    failed = failures(graded["mutant-same_floor_size"])
    message = failed[hidden_test_titles()["test_conv_same_strides"]]
    assert 'conv_output_size(5, 3, stride=2, padding="same"): expected 3, got 2' in message, message
    assert "ceil(n / stride)" in message, message


@pytest.mark.parametrize(("mutant", "test", "words"), [
    ("same_extra_pad_before", "test_same_padding_even_kernel", "AFTER"),
    ("pool_stride_default_1", "test_pool_default_stride", "stride = pool_size"),
    ("model_pool_stride_1", "test_shapes_mnist_cnn", "layer 3, max_pool2d"),
    ("conv_params_no_bias", "test_params_mnist_cnn", "without the convolution biases"),
    ("bn_params_trainable_only", "test_params_batch_norm", "moving mean"),
])
def test_classic_mistakes_get_a_hint(graded, mutant, test, words):
    message = failures(graded[f"mutant-{mutant}"])[hidden_test_titles()[test]]
    assert words in message, message
