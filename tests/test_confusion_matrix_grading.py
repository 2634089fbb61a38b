"""The `confusion_matrix` graders separate right from wrong: the end-to-end proof.

One batch (`grade_paths`, the same code path as `dl101 grade`) grades:
- the solution notebook (must score full),
- an alternative correct implementation written differently (one-hot matrix product, plain
  loops, the harmonic-mean form of F1 guarded correctly: must score full),
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

SLUG = "confusion_matrix"
FUNCTIONS = ("confusion_matrix", "binary_counts", "accuracy", "precision", "recall", "f1_score")
#: The solution's precision, recall and f1_score call its binary_counts: a bug there is theirs too.
CALLERS = {"binary_counts": {"precision", "recall", "f1_score"}}
MAX_SCORE = 27


MUTANTS = (
    Mutant("transposed", "confusion_matrix",
           "cm[index[t], index[p]] += 1", "cm[index[p], index[t]] += 1",
           "test_confusion_matrix_binary"),
    Mutant("labels_from_y_true_only", "confusion_matrix",
           "labels = np.unique(np.concatenate([y_true, y_pred]))", "labels = np.unique(y_true)",
           "test_confusion_matrix_label_seen_on_one_side_only"),
    Mutant("absent_labels_dropped", "confusion_matrix",
           "    labels = np.asarray(labels).tolist()\n",
           "    seen = set(y_true.tolist()) | set(y_pred.tolist())\n"
           "    labels = [label for label in np.asarray(labels).tolist() if label in seen]\n",
           "test_confusion_matrix_labels_with_absent_class"),
    Mutant("labels_resorted", "confusion_matrix",
           "labels = np.asarray(labels).tolist()", "labels = sorted(np.asarray(labels).tolist())",
           "test_confusion_matrix_labels_order_kept"),
    Mutant("labels_subset_raises", "confusion_matrix",
           "if t in index and p in index:", "if True:",
           "test_confusion_matrix_labels_subset"),
    Mutant("labels_as_indices", "confusion_matrix",
           "index = {label: i for i, label in enumerate(labels)}", "index = {label: label for label in labels}",
           "test_confusion_matrix_labels_are_not_indices"),
    Mutant("numbers_only", "confusion_matrix",
           "    y_true = np.asarray(y_true)\n    y_pred = np.asarray(y_pred)\n    if labels is None:",
           "    y_true = np.asarray(y_true, dtype=int)\n    y_pred = np.asarray(y_pred, dtype=int)\n"
           "    if labels is None:",
           "test_confusion_matrix_string_labels"),
    Mutant("float_counts", "confusion_matrix",
           "cm = np.zeros((len(labels), len(labels)), dtype=int)", "cm = np.zeros((len(labels), len(labels)))",
           "test_confusion_matrix_integer_counts"),
    Mutant("counts_fp_fn_swapped", "binary_counts",
           "    return tp, fp, fn, tn\n", "    return tp, fn, fp, tn\n",
           "test_binary_counts_binary"),
    Mutant("counts_from_binary_matrix", "binary_counts",
           "    is_pos_true = np.asarray(y_true) == positive\n",
           "    tn, fp, fn, tp = confusion_matrix(y_true, y_pred).ravel()\n"
           "    return int(tp), int(fp), int(fn), int(tn)\n"
           "    is_pos_true = np.asarray(y_true) == positive\n",
           "test_binary_counts_multiclass"),
    Mutant("accuracy_from_binary_counts", "accuracy",
           "    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))\n",
           "    tp, fp, fn, tn = binary_counts(y_true, y_pred)\n    return (tp + tn) / (tp + fp + fn + tn)\n",
           "test_accuracy_numbers"),
    Mutant("precision_is_recall", "precision",
           "    return tp / (tp + fp)\n", "    return tp / (tp + fn)\n",
           "test_precision_binary"),
    Mutant("precision_divides_by_zero", "precision",
           "    if tp + fp == 0:\n        return float(zero_division)\n", "",
           "test_precision_zero_division"),
    Mutant("precision_ignores_zero_division", "precision",
           "    if tp + fp == 0:\n        return float(zero_division)\n", "    if tp + fp == 0:\n        return 0.0\n",
           "test_precision_zero_division"),
    Mutant("recall_nan", "recall",
           "    if tp + fn == 0:\n        return float(zero_division)\n    return tp / (tp + fn)\n",
           "    with np.errstate(invalid='ignore'):\n        return float(np.divide(tp, tp + fn))\n",
           "test_recall_zero_division"),
    Mutant("f1_from_precision_and_recall", "f1_score",
           "    tp, fp, fn, tn = binary_counts(y_true, y_pred, positive)\n    if 2 * tp + fp + fn == 0:\n",
           "    p = precision(y_true, y_pred, positive, zero_division)\n"
           "    r = recall(y_true, y_pred, positive, zero_division)\n"
           "    if p + r == 0:\n        return float(zero_division)\n"
           "    return 2 * p * r / (p + r)\n"
           "    tp, fp, fn, tn = binary_counts(y_true, y_pred, positive)\n    if 2 * tp + fp + fn == 0:\n",
           "test_f1_no_true_positive"),
    Mutant("f1_is_jaccard", "f1_score",
           "    return 2 * tp / (2 * tp + fp + fn)\n", "    return tp / (tp + fp + fn)\n",
           "test_f1_binary"),
)

#: A correct implementation written differently from the solution, by solution cell grade_id.
ALTERNATIVE = {
    "confusion-matrix": '''
def confusion_matrix(y_true, y_pred, labels=None):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if labels is None:
        labels = np.union1d(y_true, y_pred)
    labels = np.asarray(labels)
    # one-hot rows: true_hits[n, i] says whether sample n has the true label labels[i]
    true_hits = (y_true[:, None] == labels[None, :]).astype(np.int64)
    pred_hits = (y_pred[:, None] == labels[None, :]).astype(np.int64)
    return true_hits.T @ pred_hits
''',
    "binary-counts": '''
def binary_counts(y_true, y_pred, positive=1):
    tp = fp = fn = tn = 0
    for t, p in zip(list(y_true), list(y_pred)):
        if t == positive and p == positive:
            tp += 1
        elif p == positive:
            fp += 1
        elif t == positive:
            fn += 1
        else:
            tn += 1
    return (tp, fp, fn, tn)
''',
    "accuracy": '''
def accuracy(y_true, y_pred):
    hits = sum(1 for t, p in zip(list(y_true), list(y_pred)) if t == p)
    return hits / len(y_true)
''',
    "precision-recall-code": '''
def _ratio(numerator, denominator, zero_division):
    return float(zero_division) if denominator == 0 else float(numerator) / float(denominator)


def precision(y_true, y_pred, positive=1, zero_division=0.0):
    said_yes = np.asarray(y_pred) == positive
    right = said_yes & (np.asarray(y_true) == positive)
    return _ratio(right.sum(), said_yes.sum(), zero_division)


def recall(y_true, y_pred, positive=1, zero_division=0.0):
    really_yes = np.asarray(y_true) == positive
    found = really_yes & (np.asarray(y_pred) == positive)
    return _ratio(found.sum(), really_yes.sum(), zero_division)
''',
    "f1-score": '''
def f1_score(y_true, y_pred, positive=1, zero_division=0.0):
    tp, fp, fn, _ = binary_counts(y_true, y_pred, positive)
    if tp == 0:
        return float(zero_division) if fp + fn == 0 else 0.0
    p, r = tp / (tp + fp), tp / (tp + fn)
    return 2 * p * r / (p + r)
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
            assert function_of(test.name) in test.output or "labels" in test.output, (student, test.output)


def test_feedback_explains_the_classic_mistakes(graded):
    """The messages of the classic mistakes say what the mistake is, in the student's terms."""
    titles = hidden_test_titles()
    expectations = {
        ("transposed", "test_confusion_matrix_binary"): "transposed",
        ("labels_resorted", "test_confusion_matrix_labels_order_kept"): "order of labels as given",
        ("absent_labels_dropped", "test_confusion_matrix_labels_with_absent_class"): "expected a 5x5 matrix",
        ("counts_fp_fn_swapped", "test_binary_counts_binary"): "wrong order",
        ("precision_is_recall", "test_precision_binary"): "which is the recall",
        ("recall_nan", "test_recall_zero_division"): "got NaN",
        ("precision_divides_by_zero", "test_precision_zero_division"): "ZeroDivisionError",
        ("f1_from_precision_and_recall", "test_f1_no_true_positive"): "only for a zero denominator",
        ("float_counts", "test_confusion_matrix_integer_counts"): "integer array",
    }
    for (mutant, test), phrase in expectations.items():
        message = failures(graded[f"mutant-{mutant}"])[titles[test]]
        assert phrase in message, (mutant, message)


def test_public_checks_pass_on_the_solution_and_fail_on_the_stub():
    """`dl101 check` (no sandbox) passes the solution and fails every check of the stub."""
    assert_public_checks_pass_on_solution_and_fail_on_stub(SLUG, 6)
