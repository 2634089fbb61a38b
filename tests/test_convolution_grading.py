"""The `convolution` graders separate right from wrong: the end-to-end proof.

One batch (`grade_paths`, the same code path as `dl101 grade`) grades:
- the solution notebook (must score full),
- an alternative correct implementation written differently (loops, sliding windows, einsum:
  must score full), and the solution computing in float32 (must score full: tolerances),
- the released stub notebook (must score zero),
- mutants: the solution with ONE plausible bug each, made by source substitution (each must
  score strictly below full, lose the test named for it, and keep every point of the functions
  it did not touch: a bug in one function never costs another one's points).
"""

from __future__ import annotations

import _grading
import nbformat
import pytest
from _grading import (
    Mutant,
    assert_every_notebook_graded,
    assert_mutant_caught,
    assert_stub_scores_zero,
    grade_class,
    mutate,
    solution_notebook,
    with_cells_replaced,
)

from grader.results import SubmissionResult

SLUG = "convolution"
FUNCTIONS = ("conv_single_step", "zero_pad", "conv2d")


MUTANTS = (
    Mutant("flipped_kernel", "conv2d",
           "    w = np.asarray(w, dtype=float)\n", "    w = np.asarray(w, dtype=float)[::-1, ::-1]\n",
           "test_conv2d_valid_single_channel"),
    Mutant("same_symmetric_split", "conv2d",
           "pads.append((total // 2, total - total // 2))", "pads.append((total // 2, total // 2))",
           "test_conv2d_same_stride_1_even_kernel"),
    Mutant("same_half_kernel_each_side", "conv2d",
           "total = max((out_size - 1) * s + k - size, 0)", "total = 2 * ((k - 1) // 2)",
           "test_conv2d_same_stride_2"),
    Mutant("same_floor_size", "conv2d",
           "out_size = -(-size // s)", "out_size = size // s",
           "test_conv2d_same_stride_2"),
    Mutant("same_extra_pad_before", "conv2d",
           "pads.append((total // 2, total - total // 2))", "pads.append((total - total // 2, total // 2))",
           "test_conv2d_same_stride_1_even_kernel"),
    Mutant("bias_ignored", "conv2d",
           "out = out + np.asarray(b, dtype=float)", "out = out + 0.0",
           "test_conv2d_bias"),
    Mutant("stride_rows_only", "conv2d",
           "sh, sw = (stride, stride) if", "sh, sw = (stride, 1) if",
           "test_conv2d_stride_2_even_kernel"),
    Mutant("stride_pair_swapped", "conv2d",
           "if np.ndim(stride) == 0 else stride\n", "if np.ndim(stride) == 0 else stride[::-1]\n",
           "test_conv2d_stride_pair"),
    Mutant("int_padding_as_total", "conv2d",
           "pads = ((padding, padding), (padding, padding))",
           "pads = ((padding // 2, padding - padding // 2),) * 2",
           "test_conv2d_int_padding"),
    Mutant("first_channel_only", "conv2d",
           "np.tensordot(window, w, axes=", "np.tensordot(window[..., :1], w[:, :, :1], axes=",
           "test_conv2d_valid_multichannel"),
    Mutant("no_error_for_large_kernel", "conv2d",
           "if kh > hp or kw > wp:", "if False:",
           "test_conv2d_valid_kernel_too_large_raises"),
    Mutant("integer_output_truncated", "conv2d",
           "    x = np.asarray(x, dtype=float)\n    w =", "    x = np.asarray(x)\n    w =",
           "test_conv2d_integer_inputs"),
    Mutant("padding_case_sensitive", "conv2d",
           "mode = padding.lower()", "mode = padding",
           "test_conv2d_padding_any_case"),
    Mutant("zero_pad_wrong_axes", "zero_pad",
           "((0, 0), (top, bottom), (left, right), (0, 0))", "((top, bottom), (left, right), (0, 0), (0, 0))",
           "test_zero_pad_int"),
    Mutant("single_step_bias_ignored", "conv_single_step",
           "return float(np.sum(patch * kernel) + bias)", "return float(np.sum(patch * kernel))",
           "test_single_step_bias"),
    Mutant("single_step_no_channel_sum", "conv_single_step",
           "return float(np.sum(patch * kernel) + bias)", "return np.sum(patch * kernel, axis=(0, 1)) + bias",
           "test_single_step_multichannel"),
)

#: A correct implementation written differently from the solution, by solution cell grade_id.
ALTERNATIVE = {
    "conv-single-step": '''
def conv_single_step(patch, kernel, bias=0.0):
    total = float(bias)
    for index in np.ndindex(np.shape(patch)):
        total += float(patch[index]) * float(kernel[index])
    return total
''',
    "zero-pad": '''
def zero_pad(x, pad):
    if isinstance(pad, (int, np.integer)):
        pad = ((pad, pad), (pad, pad))
    (top, bottom), (left, right) = pad
    n, h, w, c = x.shape
    padded = np.zeros((n, h + top + bottom, w + left + right, c), dtype=x.dtype)
    padded[:, top:top + h, left:left + w, :] = x
    return padded
''',
    "conv2d": '''
import math


def _same(n, k, s):
    total = max((math.ceil(n / s) - 1) * s + k - n, 0)
    return (total // 2, total - total // 2)


def conv2d(x, w, b=None, stride=1, padding="valid"):
    x = x.astype(np.float64)
    sh, sw = (stride, stride) if isinstance(stride, int) else tuple(stride)
    kh, kw = w.shape[:2]
    if isinstance(padding, str) and padding.upper() == "SAME":
        padding = (_same(x.shape[1], kh, sh), _same(x.shape[2], kw, sw))
    elif isinstance(padding, str) and padding.upper() == "VALID":
        padding = 0
    elif isinstance(padding, str):
        raise ValueError("padding must be 'valid' or 'same'")
    # sliding_window_view itself raises ValueError when the kernel does not fit
    windows = np.lib.stride_tricks.sliding_window_view(zero_pad(x, padding), (kh, kw), axis=(1, 2))
    windows = windows[:, ::sh, ::sw]  # (N, Ho, Wo, C_in, KH, KW)
    out = np.einsum("nijcuv,uvcf->nijf", windows, w)
    return out if b is None else out + b
''',
}


# -- building the class ---------------------------------------------------------------------


#: The solution computing in float32 (as TensorFlow does by default): the tolerances allow it.
FLOAT32 = (
    ("    x = np.asarray(x, dtype=float)\n    w = np.asarray(w, dtype=float)\n",
     "    x = np.asarray(x, dtype=np.float32)\n    w = np.asarray(w, dtype=np.float32)\n"),
    ("out = out + np.asarray(b, dtype=float)", "out = out + np.asarray(b, dtype=np.float32)"),
    ("return float(np.sum(patch * kernel) + bias)",
     "return float(np.sum(patch.astype(np.float32) * kernel.astype(np.float32)) + np.float32(bias))"),
)


def float32_notebook() -> nbformat.NotebookNode:
    nb = solution_notebook(SLUG)
    for old, new in FLOAT32:
        nb = mutate(nb, old, new)
    return nb


def class_notebooks() -> dict[str, nbformat.NotebookNode]:
    """Every notebook of the batch but the stub, by student."""
    return {
        "solution": solution_notebook(SLUG),
        "alternative": with_cells_replaced(solution_notebook(SLUG), ALTERNATIVE),
        "float32": float32_notebook(),
        **{f"mutant-{m.name}": mutate(solution_notebook(SLUG), m.old, m.new) for m in MUTANTS},
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
    expected = {"solution", "alternative", "float32", "stub", *(f"mutant-{m.name}" for m in MUTANTS)}
    assert_every_notebook_graded(graded, expected, 30)


def test_solution_scores_full(graded):
    result = graded["solution"]
    assert result.score == result.max_score, [(t.name, t.output) for t in result.tests if t.status != "passed"]


def test_alternative_implementation_scores_full(graded):
    result = graded["alternative"]
    assert result.score == result.max_score, [(t.name, t.output) for t in result.tests if t.status != "passed"]


def test_float32_arithmetic_scores_full(graded):
    result = graded["float32"]
    assert result.score == result.max_score, [(t.name, t.output) for t in result.tests if t.status != "passed"]


def test_released_stub_scores_zero(graded):
    assert_stub_scores_zero(graded["stub"])


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_mutant_scores_below_full(graded, mutant):
    # Partial credit: only tests of the broken function fail (a broken zero_pad may also cost
    # conv2d, which calls it in this solution).
    allowed = {mutant.function, "conv2d"} if mutant.function == "zero_pad" else {mutant.function}
    assert_mutant_caught(graded[f"mutant-{mutant.name}"], mutant, hidden_test_titles(), allowed, function_of)


def test_feedback_names_the_case_without_dumping_inputs(graded):
    """Failure messages are short, name the function, and never print an array."""
    for student, result in graded.items():
        for test in result.tests:
            if test.status == "passed":
                continue
            assert len(test.output) < 400, (student, test.name, test.output)
            assert "[[" not in test.output and "array(" not in test.output, (student, test.output)


def test_same_stride_2_message_speaks_in_output_sizes(graded):
    failed = {t.name: t.output for t in graded["mutant-same_floor_size"].tests if t.status != "passed"}
    message = failed[hidden_test_titles()["test_conv2d_same_stride_2"]]
    assert 'padding="same", stride 2' in message and "5x5 input" in message, message
    assert "expected a 3x3 output, got 2x2" in message, message
