"""The `recap` graders separate right from wrong: the end-to-end proof.

One batch (`grade_paths`, the same code path as `dl101 grade`) grades:
- the solution notebook (must score full),
- an alternative correct implementation written differently (sigmoid through tanh, softmax
  through log-sum-exp, losses by picking the true class, gradient descent in matrix form,
  other XOR weights: must score full),
- the released stub notebook (must score zero),
- mutants: the solution with ONE plausible bug each, made by source substitution (each must
  score strictly below full, lose the test named for it, and keep every point of the functions
  it did not touch).
"""

from __future__ import annotations

import _grading
import nbformat
import pytest
from _grading import (
    Mutant,
    assert_every_notebook_graded,
    assert_mutant_caught,
    assert_public_checks_pass_on_solution_and_fail_on_stub,
    assert_scores_full,
    assert_stub_scores_zero,
    failures,
    grade_class,
    mutate,
    solution_notebook,
    with_cells_replaced,
)

from grader.results import SubmissionResult

SLUG = "recap"
FUNCTIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "softmax", "mse", "binary_cross_entropy",
             "categorical_cross_entropy", "gradient_descent", "xor_network")
#: No solution function calls another one (the XOR forward pass runs in the grader).
CALLERS: dict[str, set[str]] = {}
MAX_SCORE = 25


MUTANTS = (
    Mutant("sigmoid_overflows", "sigmoid",
           "    e = np.exp(-np.abs(z))  # in (0, 1]: never overflows\n"
           "    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))\n",
           "    return np.exp(z) / (1.0 + np.exp(z))\n",
           "test_sigmoid_large_inputs"),
    Mutant("tanh_from_exponentials", "tanh",
           "    return np.tanh(np.asarray(z, dtype=float))\n",
           "    z = np.asarray(z, dtype=float)\n    return (np.exp(z) - np.exp(-z)) / (np.exp(z) + np.exp(-z))\n",
           "test_tanh_large_inputs"),
    Mutant("relu_np_max", "relu",
           "return np.maximum(np.asarray(z, dtype=float), 0.0)", "return np.max(np.asarray(z, dtype=float), 0)",
           "test_relu"),
    Mutant("leaky_relu_keras_layer_slope", "leaky_relu",
           "def leaky_relu(z, alpha=0.2):", "def leaky_relu(z, alpha=0.3):",
           "test_leaky_relu_default_slope"),
    Mutant("leaky_relu_alpha_ignored", "leaky_relu",
           "return np.where(z >= 0, z, alpha * z)", "return np.where(z >= 0, z, 0.2 * z)",
           "test_leaky_relu_given_alpha"),
    Mutant("softmax_unstable", "softmax",
           "shifted = z - np.max(z, axis=axis, keepdims=True)", "shifted = z",
           "test_softmax_large_logits"),
    Mutant("softmax_global_max", "softmax",
           "shifted = z - np.max(z, axis=axis, keepdims=True)", "shifted = z - np.max(z)",
           "test_softmax_rows_of_different_scales"),
    Mutant("softmax_axis_ignored", "softmax",
           "return e / np.sum(e, axis=axis, keepdims=True)", "return e / np.sum(e, axis=-1, keepdims=True)",
           "test_softmax_axis"),
    Mutant("mse_sum", "mse",
           "return float(np.mean(diff ** 2))", "return float(np.sum(diff ** 2))",
           "test_mse"),
    Mutant("bce_unclipped", "binary_cross_entropy",
           "p = np.clip(np.asarray(p, dtype=float), eps, 1 - eps)", "p = np.asarray(p, dtype=float)",
           "test_binary_cross_entropy_clipping"),
    Mutant("bce_sum", "binary_cross_entropy",
           "return float(np.mean(-(y * np.log(p)", "return float(np.sum(-(y * np.log(p)",
           "test_binary_cross_entropy_values"),
    Mutant("bce_fixed_eps", "binary_cross_entropy",
           "p = np.clip(np.asarray(p, dtype=float), eps, 1 - eps)",
           "p = np.clip(np.asarray(p, dtype=float), 1e-7, 1 - 1e-7)",
           "test_binary_cross_entropy_clipping"),
    Mutant("cce_unclipped", "categorical_cross_entropy",
           "    p = np.clip(p, eps, 1 - eps)\n", "",
           "test_categorical_cross_entropy_clipping"),
    Mutant("cce_rows_not_normalised", "categorical_cross_entropy",
           "    p = p / np.sum(p, axis=-1, keepdims=True)\n", "",
           "test_categorical_cross_entropy_unnormalised_rows"),
    Mutant("cce_sum_over_batch", "categorical_cross_entropy",
           "return float(np.mean(-np.sum(y * np.log(p), axis=-1)))", "return float(-np.sum(y * np.log(p)))",
           "test_categorical_cross_entropy_values"),
    Mutant("cce_mean_over_classes_too", "categorical_cross_entropy",
           "return float(np.mean(-np.sum(y * np.log(p), axis=-1)))", "return float(np.mean(-y * np.log(p)))",
           "test_categorical_cross_entropy_values"),
    Mutant("gd_without_factor_2", "gradient_descent",
           "w, b = w - lr * grad_w, b - lr * grad_b", "w, b = w - lr * grad_w / 2, b - lr * grad_b / 2",
           "test_gradient_descent_one_step"),
    Mutant("gd_sequential_update", "gradient_descent",
           "        w, b = w - lr * grad_w, b - lr * grad_b\n",
           "        w = w - lr * grad_w\n        b = b - lr * 2 * np.mean(w * x + b - y)\n",
           "test_gradient_descent_many_steps"),
    Mutant("gd_extra_step", "gradient_descent",
           "for _ in range(steps):", "for _ in range(steps + 1):",
           "test_gradient_descent_many_steps"),
    Mutant("gd_default_lr", "gradient_descent",
           "def gradient_descent(x, y, lr=0.1, steps=100):", "def gradient_descent(x, y, lr=0.01, steps=100):",
           "test_gradient_descent_defaults"),
    Mutant("gd_returns_arrays", "gradient_descent",
           "return float(w), float(b)", "return np.array([w]), np.array([b])",
           "test_gradient_descent_returns_two_numbers"),
    Mutant("xor_output_bias_sign", "xor_network",
           '"b2": np.array([-k / 2]),', '"b2": np.array([k / 2]),',
           "test_xor_network_computes_xor"),
    Mutant("xor_hidden_bias_forgotten", "xor_network",
           '"b1": np.array([0.0, -1.0]),', '"b1": np.array([0.0, 0.0]),',
           "test_xor_network_computes_xor"),
    Mutant("xor_flat_output_weights", "xor_network",
           '"W2": np.array([[k], [-2.0 * k]]),', '"W2": np.array([k, -2.0 * k]),',
           "test_xor_network_shapes"),
)

#: A correct implementation written differently from the solution, by solution cell grade_id.
ALTERNATIVE = {
    "activations-code": '''
def sigmoid(z):
    # sigmoid(z) = (1 + tanh(z / 2)) / 2, and np.tanh never overflows
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=float)))


def tanh(z):
    return 2.0 * sigmoid(2.0 * np.asarray(z, dtype=float)) - 1.0


def relu(z):
    z = np.asarray(z, dtype=float)
    return z * (z > 0)


def leaky_relu(z, alpha=0.2):
    z = np.array(z, dtype=float)
    z[z < 0] *= alpha
    return z
''',
    "softmax-code": '''
def softmax(z, axis=-1):
    z = np.asarray(z, dtype=float)
    top = z.max(axis=axis, keepdims=True)
    log_total = top + np.log(np.exp(z - top).sum(axis=axis, keepdims=True))
    return np.exp(z - log_total)
''',
    "losses-code": '''
def mse(y_true, y_pred):
    diff = np.ravel(y_true) - np.ravel(y_pred)
    return float(diff @ diff / diff.size)


def binary_cross_entropy(y_true, p, eps=1e-7):
    y = np.ravel(y_true)
    p = np.minimum(np.maximum(np.ravel(p), eps), 1 - eps)
    chance_of_truth = np.where(y == 1, p, 1 - p)
    return float(-np.log(chance_of_truth).mean())


def categorical_cross_entropy(y_true, p, eps=1e-7):
    y = np.atleast_2d(y_true)
    p = np.atleast_2d(p).astype(float)
    p = np.clip(p / p.sum(axis=1, keepdims=True), eps, 1 - eps)
    picked = p[np.arange(len(p)), y.argmax(axis=1)]
    return float(-np.log(picked).mean())
''',
    "gd-code": '''
def gradient_descent(x, y, lr=0.1, steps=100):
    design = np.column_stack([np.asarray(x, dtype=float), np.ones(len(x))])  # (n, 2)
    theta = np.zeros(2)  # (w, b)
    for _ in range(steps):
        theta = theta - lr * 2.0 / len(design) * design.T @ (design @ theta - y)
    return float(theta[0]), float(theta[1])
''',
    "xor-code": '''
def xor_network():
    # h1 = relu(x1 - x2), h2 = relu(x2 - x1): one of them is 1 exactly when the inputs differ
    return {
        "W1": np.array([[1.0, -1.0], [-1.0, 1.0]]),
        "b1": np.zeros(2),
        "W2": np.array([[10.0], [10.0]]),
        "b2": np.array([-5.0]),
    }
''',
}


# -- building the class ---------------------------------------------------------------------


def class_notebooks() -> dict[str, nbformat.NotebookNode]:
    """Every notebook of the batch but the stub, by student."""
    return {
        "solution": solution_notebook(SLUG),
        "alternative": with_cells_replaced(solution_notebook(SLUG), ALTERNATIVE),
        **{f"mutant-{m.name}": mutate(solution_notebook(SLUG), m.old, m.new) for m in MUTANTS},
    }


def hidden_test_titles() -> dict[str, str]:
    return _grading.hidden_test_titles(SLUG)


def function_of(title: str) -> str:
    """Which student function a hidden test grades: its title starts with the name."""
    name = title.split(":")[0].strip()
    if name not in FUNCTIONS:
        raise AssertionError(f"hidden test title {title!r} does not start with one of {FUNCTIONS}")
    return name


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SubmissionResult]:
    """The whole class graded in ONE batch (sandboxed where this machine can sandbox)."""
    return grade_class(tmp_path_factory, SLUG, class_notebooks())


# -- the tests ---------------------------------------------------------------------------------


def test_every_notebook_was_graded(graded):
    expected = {"solution", "alternative", "stub", *(f"mutant-{m.name}" for m in MUTANTS)}
    assert_every_notebook_graded(graded, expected, MAX_SCORE)


def test_solution_scores_full(graded):
    assert_scores_full(graded["solution"])


def test_alternative_implementation_scores_full(graded):
    assert_scores_full(graded["alternative"])


def test_released_stub_scores_zero(graded):
    assert_stub_scores_zero(graded["stub"])


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_mutant_scores_below_full(graded, mutant):
    # Partial credit: only tests of the broken function (and of the solution's functions that call it) fail.
    allowed = {mutant.function, *CALLERS.get(mutant.function, ())}
    assert_mutant_caught(graded[f"mutant-{mutant.name}"], mutant, hidden_test_titles(), allowed, function_of)


def test_feedback_names_the_case_without_dumping_inputs(graded):
    """Failure messages are short, name the function, and never print an array."""
    for student, result in graded.items():
        for test in result.tests:
            if test.status == "passed":
                continue
            assert len(test.output) < 400, (student, test.name, test.output)
            assert "[[" not in test.output and "array(" not in test.output, (student, test.output)
            assert function_of(test.name) in test.output, (student, test.output)


def test_feedback_explains_the_classic_mistakes(graded):
    """The messages of the classic mistakes say what the mistake is, in the student's terms."""
    titles = hidden_test_titles()
    expectations = {
        ("sigmoid_overflows", "test_sigmoid_large_inputs"): "exp(-|z|)",
        ("softmax_unstable", "test_softmax_large_logits"): "subtract the largest logit",
        ("softmax_global_max", "test_softmax_rows_of_different_scales"): "each row's own maximum",
        ("leaky_relu_keras_layer_slope", "test_leaky_relu_default_slope"): "slope 0.2",
        ("bce_unclipped", "test_binary_cross_entropy_clipping"): "clip p to [eps, 1 - eps]",
        ("cce_unclipped", "test_categorical_cross_entropy_clipping"): "clip p to [eps, 1 - eps]",
        ("mse_sum", "test_mse"): "MEAN over the batch",
        ("bce_sum", "test_binary_cross_entropy_values"): "MEAN over the batch",
        ("gd_without_factor_2", "test_gradient_descent_one_step"): "factor 2",
        ("gd_returns_arrays", "test_gradient_descent_returns_two_numbers"): "single number",
        ("xor_output_bias_sign", "test_xor_network_computes_xor"): "predicts [1, 1, 1, 1]",
        ("xor_flat_output_weights", "test_xor_network_shapes"): "W2 must have shape (2, 1)",
    }
    for (mutant, test), phrase in expectations.items():
        message = failures(graded[f"mutant-{mutant}"])[titles[test]]
        assert phrase in message, (mutant, message)


def test_public_checks_pass_on_the_solution_and_fail_on_the_stub():
    """`dl101 check` (no sandbox) passes the solution and fails every check of the stub."""
    assert_public_checks_pass_on_solution_and_fail_on_stub(SLUG, 6)
