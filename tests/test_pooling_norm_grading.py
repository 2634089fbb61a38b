"""The `pooling_norm` graders separate right from wrong: the end-to-end proof.

One batch (`grade_paths`, the same code path as `dl101 grade`) grades:
- the solution notebook (must score full),
- an alternative correct implementation written differently (NaN padding with sliding windows
  and nanmax/nanmean, batch norm from explicit sums over a reshaped array, a binomial dropout
  mask: must score full), and the solution computing in float32 (must score full: tolerances),
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

SLUG = "pooling_norm"
MAX_SCORE = 43
FUNCTIONS = ("max_pool2d", "avg_pool2d", "batch_norm", "dropout")
#: In the solution, a bug in a function also reaches the functions that call it. The helper
#: pool_plan has no hidden tests of its own: it is graded through both pooling functions.
CALLERS = {
    "pool_plan": {"max_pool2d", "avg_pool2d"},
    "max_pool2d": set(),
    "avg_pool2d": set(),
    "batch_norm": set(),
    "dropout": set(),
}


MUTANTS = (
    Mutant("same_extra_pad_before", "pool_plan", "pool-plan",
           "return total // 2, total - total // 2, n_out", "return total - total // 2, total // 2, n_out",
           "test_max_pool_same_extra_padding_after"),
    Mutant("same_floor_size", "pool_plan", "pool-plan",
           "n_out = -(-n // stride)", "n_out = n // stride", "test_max_pool_same_negative_values"),
    Mutant("valid_keeps_leftovers", "pool_plan", "pool-plan",
           "return 0, 0, (n - k) // stride + 1", "return 0, 0, -(-(n - k) // stride) + 1",
           "test_max_pool_valid_drops_leftovers"),
    Mutant("max_stride_default_1", "max_pool2d", "max-pool2d",
           "sh, sw = (ph, pw) if stride is None", "sh, sw = (1, 1) if stride is None",
           "test_max_pool_default_stride_is_pool_size"),
    Mutant("max_same_zero_padding", "max_pool2d", "max-pool2d",
           "constant_values=-np.inf", "constant_values=0.0", "test_max_pool_same_negative_values"),
    Mutant("max_over_channels_too", "max_pool2d", "max-pool2d",
           "window.max(axis=(1, 2))", "window.max(axis=(1, 2, 3))[:, None]", "test_max_pool_2x2"),
    Mutant("avg_counts_padding", "avg_pool2d", "avg-pool2d",
           "/ real[rows, cols].sum()", "/ (ph * pw)", "test_avg_pool_same_excludes_padding"),
    Mutant("avg_stride_default_1", "avg_pool2d", "avg-pool2d",
           "sh, sw = (ph, pw) if stride is None", "sh, sw = (1, 1) if stride is None",
           "test_avg_pool_default_stride_is_pool_size"),
    Mutant("bn_unbiased_variance", "batch_norm", "batch-norm",
           "var = x.var(axis=axes)  #", "var = x.var(axis=axes, ddof=1)  #",
           "test_bn_training_normalizes_features"),
    Mutant("bn_momentum_swapped", "batch_norm", "batch-norm",
           "new_mean = moving_mean * momentum + mean * (1 - momentum)\n"
           "        new_var = moving_var * momentum + var * (1 - momentum)",
           "new_mean = moving_mean * (1 - momentum) + mean * momentum\n"
           "        new_var = moving_var * (1 - momentum) + var * momentum",
           "test_bn_moving_mean_update"),
    Mutant("bn_epsilon_outside_sqrt", "batch_norm", "batch-norm",
           "np.sqrt(var + epsilon)", "(np.sqrt(var) + epsilon)", "test_bn_epsilon_inside_square_root"),
    Mutant("bn_batch_statistics_at_inference", "batch_norm", "batch-norm",
           "mean, var = moving_mean, moving_var\n", "mean, var = x.mean(axis=axes), x.var(axis=axes)\n",
           "test_bn_inference_uses_moving_statistics"),
    Mutant("bn_updates_at_inference", "batch_norm", "batch-norm",
           "new_mean, new_var = moving_mean.copy(), moving_var.copy()",
           "new_mean = moving_mean * momentum + x.mean(axis=axes) * (1 - momentum)\n"
           "        new_var = moving_var * momentum + x.var(axis=axes) * (1 - momentum)",
           "test_bn_inference_keeps_moving_statistics"),
    Mutant("bn_batch_axis_only", "batch_norm", "batch-norm",
           "axes = tuple(range(x.ndim - 1))", "axes = 0", "test_bn_training_feature_maps"),
    Mutant("bn_gamma_beta_swapped", "batch_norm", "batch-norm",
           "y = gamma * x_hat + beta", "y = beta * x_hat + gamma", "test_bn_training_scale_and_shift"),
    Mutant("dropout_multiplies_by_keep", "dropout", "dropout",
           "x / (1 - rate)", "x * (1 - rate)", "test_dropout_scales_kept_units"),
    Mutant("dropout_not_scaled", "dropout", "dropout",
           "np.where(keep, x / (1 - rate), 0.0)", "np.where(keep, x, 0.0)", "test_dropout_scales_kept_units"),
    Mutant("dropout_rate_is_keep_probability", "dropout", "dropout",
           "keep = rng.random(x.shape) >= rate  # True with probability 1 - rate\n"
           "    return np.where(keep, x / (1 - rate), 0.0)",
           "keep = rng.random(x.shape) < rate\n    return np.where(keep, x / rate, 0.0)",
           "test_dropout_drops_a_fraction_rate"),
    Mutant("dropout_active_at_inference", "dropout", "dropout",
           "if not training or rate == 0:", "if rate == 0:", "test_dropout_identity_at_inference"),
    Mutant("dropout_ignores_seed", "dropout", "dropout",
           "rng = np.random.default_rng(seed)", "rng = np.random.default_rng()",
           "test_dropout_same_seed_same_mask"),
)

#: A correct implementation written differently from the solution, by solution cell grade_id.
ALTERNATIVE = {
    "pool-plan": '''
import math


def pool_plan(n, k, stride, padding):
    if padding.upper() == "SAME":
        n_out = math.ceil(n / stride)
        total = max(0, (n_out - 1) * stride + k - n)
        after = math.ceil(total / 2)
        return total - after, after, n_out
    if padding.upper() != "VALID":
        raise ValueError("padding must be valid or same")
    if n < k:
        raise ValueError("the pooling window is larger than the input")
    return 0, 0, 1 + (n - k) // stride
''',
    "max-pool2d": '''
def _windows(x, pool_size, stride, padding):
    """(N, H_out, W_out, C, ph, pw) windows of x padded with NaN (padding is never a value)."""
    x = np.asarray(x, dtype=np.float64)
    ph, pw = as_pair(pool_size)
    sh, sw = as_pair(pool_size if stride is None else stride)
    top, bottom, h_out = pool_plan(x.shape[1], ph, sh, padding)
    left, right, w_out = pool_plan(x.shape[2], pw, sw, padding)
    xp = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=np.nan)
    views = np.lib.stride_tricks.sliding_window_view(xp, (ph, pw), axis=(1, 2))
    return views[:, ::sh, ::sw][:, :h_out, :w_out]


def max_pool2d(x, pool_size=2, stride=None, padding="valid"):
    return np.nanmax(_windows(x, pool_size, stride, padding), axis=(4, 5))
''',
    "avg-pool2d": '''
def avg_pool2d(x, pool_size=2, stride=None, padding="valid"):
    return np.nanmean(_windows(x, pool_size, stride, padding), axis=(4, 5))
''',
    "batch-norm": '''
def batch_norm(x, gamma, beta, moving_mean, moving_var, training, momentum=0.99, epsilon=1e-3):
    flat = np.reshape(x, (-1, np.shape(x)[-1])).astype(np.float64)  # (values, channels)
    m = flat.shape[0]
    if training:
        mu = flat.sum(axis=0) / m
        sigma2 = ((flat - mu) ** 2).sum(axis=0) / m
        moving_mean = momentum * np.asarray(moving_mean) + (1.0 - momentum) * mu
        moving_var = momentum * np.asarray(moving_var) + (1.0 - momentum) * sigma2
    else:
        mu, sigma2 = moving_mean, moving_var
    scale = gamma / np.sqrt(sigma2 + epsilon)
    y = flat * scale + (beta - mu * scale)
    return y.reshape(np.shape(x)), moving_mean, moving_var
''',
    "dropout": '''
def dropout(x, rate, training, seed=None):
    x = np.array(x, dtype=np.float64)
    if not training:
        return x
    keep_probability = 1.0 - rate
    if keep_probability == 0:
        return np.zeros_like(x)
    mask = np.random.default_rng(seed).binomial(1, keep_probability, size=x.shape)
    return x * mask / keep_probability
''',
}


# -- building the class ---------------------------------------------------------------------


#: The solution computing in float32 (as TensorFlow does by default): the tolerances allow it.
FLOAT32_CELLS = ("max-pool2d", "avg-pool2d", "batch-norm", "dropout")


def float32_notebook() -> nbformat.NotebookNode:
    nb = solution_notebook(SLUG)
    for cell in FLOAT32_CELLS:
        nb = substitute(nb, cell, "x = np.asarray(x, dtype=float)", "x = np.asarray(x, dtype=np.float32)")
    return nb


def class_notebooks() -> dict[str, nbformat.NotebookNode]:
    """Every notebook of the batch but the stub, by student."""
    return {
        "solution": solution_notebook(SLUG),
        "alternative": with_code_cells_replaced(solution_notebook(SLUG), ALTERNATIVE),
        "float32": float32_notebook(),
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
    expected = {"solution", "alternative", "float32", "stub", *(f"mutant-{m.name}" for m in MUTANTS)}
    assert_every_notebook_graded(graded, expected, MAX_SCORE)


def test_every_hidden_test_names_its_function():
    for title in hidden_test_titles().values():
        function_of(title)


def test_solution_scores_full(graded):
    assert_scores_full(graded["solution"])


def test_alternative_implementation_scores_full(graded):
    assert_scores_full(graded["alternative"])


def test_float32_arithmetic_scores_full(graded):
    assert_scores_full(graded["float32"])


def test_released_stub_scores_zero(graded):
    assert_stub_scores_zero(graded["stub"])


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_mutant_scores_below_full(graded, mutant):
    # Partial credit: only the broken function's tests fail, and those of its callers.
    allowed = {mutant.function} | CALLERS[mutant.function]
    assert_mutant_caught(graded[f"mutant-{mutant.name}"], mutant, hidden_test_titles(), allowed, function_of)


def test_feedback_is_short_and_never_dumps_arrays(graded):
    assert_feedback_short_without_arrays(graded)


def test_same_padding_message_names_the_case_and_the_mistake(graded):
    failed = failures(graded["mutant-max_same_zero_padding"])
    message = failed[hidden_test_titles()["test_max_pool_same_negative_values"]]
    assert message.startswith('max_pool2d, 2x2 pool, default stride, padding="same", 1 image 5x5 with 2 channels:'), message
    assert "-inf" in message, message


@pytest.mark.parametrize(("mutant", "test", "words"), [
    ("same_extra_pad_before", "test_max_pool_same_extra_padding_after", "AFTER"),
    ("max_stride_default_1", "test_max_pool_default_stride_is_pool_size", "stride = pool_size"),
    ("max_same_zero_padding", "test_max_pool_same_negative_values", "-inf"),
    ("avg_counts_padding", "test_avg_pool_same_excludes_padding", "REAL cells"),
    ("bn_unbiased_variance", "test_bn_training_normalizes_features", "unbiased variance"),
    ("bn_momentum_swapped", "test_bn_moving_mean_update", "momentum is on the wrong side"),
    ("bn_epsilon_outside_sqrt", "test_bn_epsilon_inside_square_root", "INSIDE the square root"),
    ("bn_batch_statistics_at_inference", "test_bn_inference_uses_moving_statistics", "moving_mean"),
    ("dropout_multiplies_by_keep", "test_dropout_scales_kept_units", "DIVIDED"),
    ("dropout_rate_is_keep_probability", "test_dropout_drops_a_fraction_rate", "DROPPING"),
])
def test_classic_mistakes_get_a_hint(graded, mutant, test, words):
    message = failures(graded[f"mutant-{mutant}"])[hidden_test_titles()[test]]
    assert words in message, message
