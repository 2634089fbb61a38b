"""Hidden graders for `confusion_matrix`: the confusion matrix and the binary metrics.

Points: confusion_matrix 11, binary_counts 4, accuracy 2, precision 3, recall 3, f1_score 4
(total 27).

Expected values come from cnn_ref (proven against scikit-learn). Label vectors are built from
a chosen table of counts and shuffled, so every case has the structure it is meant to test
(an asymmetric matrix, an absent class, ...). Each test calls one function, so a bug in one
function never costs the points of another (unless the student's own precision, recall or
f1_score calls their broken binary_counts, which is then a bug of those functions too).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import cnn_ref
from grader.errors import StudentError
from grader.expect import as_array, as_number, expect_close, expect_equal, fail

# ---------------------------------------------------------------------------------------------
# helpers


def call(student: Any, name: str, *args: Any, what: str, **kwargs: Any) -> Any:
    """The student's result, or a failure that names the case the call was made for."""
    try:
        return getattr(student, name)(*args, **kwargs)
    except StudentError as exc:
        fail(what, str(exc))


def from_counts(counts: list[list[int]], labels: list[Any], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled label vectors with exactly counts[i][j] samples of true labels[i], predicted labels[j]."""
    pairs = [(labels[i], labels[j]) for i, row in enumerate(counts) for j, n in enumerate(row) for _ in range(n)]
    order = rng.permutation(len(pairs))
    y_true = np.array([pairs[k][0] for k in order])
    y_pred = np.array([pairs[k][1] for k in order])
    return y_true, y_pred


def check_matrix(student: Any, y_true: Any, y_pred: Any, *, what: str, size_hint: str,
                 labels: list[Any] | None = None) -> None:
    kwargs = {} if labels is None else {"labels": labels}
    expected = cnn_ref.confusion_matrix(y_true, y_pred, **kwargs)
    got = as_array(call(student, "confusion_matrix", y_true, y_pred, what=what, **kwargs), what=what)
    n = expected.shape[0]
    if got.shape != expected.shape:
        fail(what, f"expected a {n}x{n} matrix ({size_hint}), got shape {got.shape}")
    if np.array_equal(got, expected):
        return
    if np.array_equal(got, expected.T):
        fail(what, "your matrix is transposed: row i must count the samples whose TRUE label is "
                   "labels[i], column j those PREDICTED as labels[j] (scikit-learn / TensorFlow)")
    if labels is not None and np.array_equal(got, cnn_ref.confusion_matrix(y_true, y_pred, labels=sorted(labels))):
        fail(what, "rows and columns must follow the order of labels as given, not sorted order")
    if got.sum() != expected.sum():
        only = ": count only the samples whose true AND predicted labels are both in labels" if labels else ""
        fail(what, f"your matrix counts {got.sum():g} samples, expected {expected.sum()}{only}")
    expect_equal(got, expected, what=what)


def check_counts(got: Any, expected: tuple[int, int, int, int], *, what: str,
                 for_label_1: tuple[int, int, int, int] | None = None) -> None:
    """(tp, fp, fn, tn); ``for_label_1``: the counts had the positive argument been ignored."""
    arr = as_array(got, what=what)
    if arr.shape != (4,):
        fail(what, f"expected 4 numbers (tp, fp, fn, tn), got {arr.size} values of shape {arr.shape}")
    values = tuple(float(v) for v in arr)
    if values == expected:
        return
    if for_label_1 is not None and values == for_label_1:
        fail(what, "these are the counts for the positive label 1: use the positive label you are given")
    if sorted(values) == sorted(expected):
        fail(what, f"the right four numbers in the wrong order: expected (tp, fp, fn, tn) = {expected}, "
                   f"got {tuple(int(v) if v.is_integer() else v for v in values)}")
    expect_equal(got, expected, what=what)


def check_metric(got: Any, expected: float, *, what: str, swapped: float | None = None,
                 swapped_name: str = "") -> None:
    """A float metric; ``swapped`` is the value of the metric it is often confused with."""
    value = as_number(got, what=what)
    if math.isnan(value):
        fail(what, f"got NaN, expected {expected:.6g}; when the denominator is 0, "
                   "return zero_division instead of dividing")
    if swapped is not None and not math.isclose(expected, swapped, rel_tol=1e-6) \
            and math.isclose(value, swapped, rel_tol=1e-6):
        fail(what, f"expected {expected:.6g}, got {value:.6g}, which is the {swapped_name}")
    expect_close(value, expected, what=what)


BINARY = [[11, 3], [5, 7]]  # rows = true 0/1: TN=11, FP=3, FN=5, TP=7 (all different)
MULTI = [[6, 1, 0, 2], [3, 5, 1, 0], [0, 4, 7, 1], [2, 0, 3, 4]]  # asymmetric, 4 classes

# ---------------------------------------------------------------------------------------------
# confusion_matrix


@pytest.mark.points(2)
def test_confusion_matrix_binary(student, rng):
    """confusion_matrix: 0/1 labels, true labels in rows"""
    y_true, y_pred = from_counts(BINARY, [0, 1], rng)
    check_matrix(student, y_true, y_pred, what="confusion_matrix on 0/1 labels",
                 size_hint="one row and column per label, 0 then 1")


@pytest.mark.points(2)
def test_confusion_matrix_four_classes(student, rng):
    """confusion_matrix: four classes"""
    y_true, y_pred = from_counts(MULTI, [0, 1, 2, 3], rng)
    check_matrix(student, list(y_true), list(y_pred), what="confusion_matrix on labels 0..3 (given as lists)",
                 size_hint="one row and column per label")


@pytest.mark.points(1)
def test_confusion_matrix_labels_are_not_indices(student, rng):
    """confusion_matrix: labels that are not 0..K-1"""
    y_true, y_pred = from_counts([[4, 1, 0], [2, 3, 1], [0, 2, 5]], [3, 10, 42], rng)
    check_matrix(student, y_true, y_pred, what="confusion_matrix on the labels 3, 10 and 42",
                 size_hint="one row and column per distinct label, not one per number up to the largest")


@pytest.mark.points(1)
def test_confusion_matrix_label_seen_on_one_side_only(student, rng):
    """confusion_matrix: a label only true, another only predicted"""
    # class 0 is never predicted (column of zeros), class 3 is never the true label (row of zeros)
    counts = [[0, 2, 1, 1], [0, 3, 1, 0], [0, 1, 4, 2], [0, 0, 0, 0]]
    y_true, y_pred = from_counts(counts, [0, 1, 2, 3], rng)
    check_matrix(student, y_true, y_pred,
                 what="confusion_matrix when one label is never predicted and another never true",
                 size_hint="the default labels are the sorted union of the labels in y_true AND y_pred")


@pytest.mark.points(1)
def test_confusion_matrix_labels_with_absent_class(student, rng):
    """confusion_matrix: labels= naming a class that never occurs"""
    y_true, y_pred = from_counts(MULTI, [0, 1, 2, 3], rng)
    check_matrix(student, y_true, y_pred, labels=[0, 1, 2, 3, 4],
                 what="confusion_matrix with labels=[0, 1, 2, 3, 4], label 4 absent from the data",
                 size_hint="one row and column per entry of labels, even for a label that never occurs")
    # 3 is never a true label, 0 never a predicted one
    y_true, y_pred = from_counts([[0, 2, 1, 1], [0, 3, 1, 0], [0, 1, 4, 2], [0, 0, 0, 0]], [0, 1, 2, 3], rng)
    check_matrix(student, y_true, y_pred, labels=[0, 1, 2, 3],
                 what="confusion_matrix with labels=[0, 1, 2, 3], label 3 never true and label 0 never predicted",
                 size_hint="one row and column per entry of labels, even for a label that never occurs")


@pytest.mark.points(1)
def test_confusion_matrix_labels_order_kept(student, rng):
    """confusion_matrix: labels= in a chosen order (the lecture's layout)"""
    for counts, classes, labels in ((BINARY, [0, 1], [1, 0]), (MULTI, [0, 1, 2, 3], [2, 0, 3, 1])):
        y_true, y_pred = from_counts(counts, classes, rng)
        check_matrix(student, y_true, y_pred, labels=labels, what=f"confusion_matrix with labels={labels}",
                     size_hint="one row and column per entry of labels")


@pytest.mark.points(1)
def test_confusion_matrix_labels_subset(student, rng):
    """confusion_matrix: labels= naming only some of the classes"""
    y_true, y_pred = from_counts(MULTI, [0, 1, 2, 3], rng)
    check_matrix(student, y_true, y_pred, labels=[3, 1],
                 what="confusion_matrix with labels=[3, 1] on data with the labels 0..3",
                 size_hint="one row and column per entry of labels")


@pytest.mark.points(1)
def test_confusion_matrix_string_labels(student, rng):
    """confusion_matrix: string labels"""
    names = ["dog", "bird", "cat"]
    y_true, y_pred = from_counts([[5, 1, 2], [0, 4, 1], [3, 2, 6]], names, rng)
    check_matrix(student, y_true, y_pred, what='confusion_matrix on the labels "dog", "bird", "cat"',
                 size_hint='labels sorted alphabetically: "bird", "cat", "dog"')
    check_matrix(student, list(y_true), list(y_pred), labels=["dog", "cat"],
                 what='confusion_matrix on string labels with labels=["dog", "cat"]',
                 size_hint="one row and column per entry of labels")


@pytest.mark.points(1)
def test_confusion_matrix_integer_counts(student, rng):
    """confusion_matrix: returns integer counts"""
    y_true, y_pred = from_counts(BINARY, [0, 1], rng)
    what = "confusion_matrix on 0/1 labels"
    got = as_array(call(student, "confusion_matrix", y_true, y_pred, what=what), what=what)
    if not np.issubdtype(got.dtype, np.integer):
        fail(what, f"counts must be an integer array, got dtype {got.dtype} "
                   "(np.zeros(..., dtype=int) makes one)")
    if got.shape != (2, 2) or got.sum() != len(y_true):  # integers, and counts of these labels
        fail(what, f"expected a 2x2 matrix of counts adding up to {len(y_true)}, got shape {got.shape} "
                   f"adding up to {got.sum()}")


# ---------------------------------------------------------------------------------------------
# binary_counts


@pytest.mark.points(2)
def test_binary_counts_binary(student, rng):
    """binary_counts: 0/1 labels, (tp, fp, fn, tn) in this order"""
    y_true, y_pred = from_counts(BINARY, [0, 1], rng)
    what = "binary_counts on 0/1 labels"
    got = call(student, "binary_counts", y_true, y_pred, what=what)
    check_counts(got, cnn_ref.binary_counts(y_true, y_pred), what=what)


@pytest.mark.points(1)
def test_binary_counts_other_positive_label(student, rng):
    """binary_counts: positive=0 and a string positive label"""
    y_true, y_pred = from_counts(BINARY, [0, 1], rng)
    what = "binary_counts on 0/1 labels with positive=0"
    got = call(student, "binary_counts", y_true, y_pred, positive=0, what=what)
    check_counts(got, cnn_ref.binary_counts(y_true, y_pred, positive=0), what=what,
                 for_label_1=cnn_ref.binary_counts(y_true, y_pred))
    y_true, y_pred = from_counts([[9, 2], [4, 6]], ["ham", "spam"], rng)
    what = 'binary_counts on "ham"/"spam" labels with positive="spam"'
    got = call(student, "binary_counts", list(y_true), list(y_pred), positive="spam", what=what)
    check_counts(got, cnn_ref.binary_counts(y_true, y_pred, positive="spam"), what=what)


@pytest.mark.points(1)
def test_binary_counts_multiclass(student, rng):
    """binary_counts: multiclass labels, every other label negative"""
    y_true, y_pred = from_counts(MULTI, [0, 1, 2, 3], rng)
    what = "binary_counts on labels 0..3 with positive=2 (every other label is negative)"
    got = call(student, "binary_counts", y_true, y_pred, positive=2, what=what)
    check_counts(got, cnn_ref.binary_counts(y_true, y_pred, positive=2), what=what)


# ---------------------------------------------------------------------------------------------
# accuracy


@pytest.mark.points(1)
def test_accuracy_numbers(student, rng):
    """accuracy: 0/1 labels and four classes"""
    for counts, labels, name in ((BINARY, [0, 1], "0/1 labels"), (MULTI, [0, 1, 2, 3], "labels 0..3")):
        y_true, y_pred = from_counts(counts, labels, rng)
        what = f"accuracy on {name}"
        got = call(student, "accuracy", y_true, y_pred, what=what)
        expect_close(got, cnn_ref.accuracy(y_true, y_pred), what=what)


@pytest.mark.points(1)
def test_accuracy_strings(student, rng):
    """accuracy: string labels"""
    y_true, y_pred = from_counts([[5, 1, 2], [0, 4, 1], [3, 2, 6]], ["dog", "bird", "cat"], rng)
    what = "accuracy on string labels"
    got = call(student, "accuracy", list(y_true), list(y_pred), what=what)
    expect_close(got, cnn_ref.accuracy(y_true, y_pred), what=what)


# ---------------------------------------------------------------------------------------------
# precision, recall


def check_precision(student: Any, y_true: Any, y_pred: Any, *, what: str, swap: bool = True,
                    **kwargs: Any) -> None:
    got = call(student, "precision", y_true, y_pred, what=what, **kwargs)
    swapped = cnn_ref.recall(y_true, y_pred, **kwargs) if swap else None
    check_metric(got, cnn_ref.precision(y_true, y_pred, **kwargs), what=what,
                 swapped=swapped, swapped_name="recall, tp / (tp + fn)")


def check_recall(student: Any, y_true: Any, y_pred: Any, *, what: str, swap: bool = True,
                 **kwargs: Any) -> None:
    got = call(student, "recall", y_true, y_pred, what=what, **kwargs)
    swapped = cnn_ref.precision(y_true, y_pred, **kwargs) if swap else None
    check_metric(got, cnn_ref.recall(y_true, y_pred, **kwargs), what=what,
                 swapped=swapped, swapped_name="precision, tp / (tp + fp)")


@pytest.mark.points(1)
def test_precision_binary(student, rng):
    """precision: 0/1 labels"""
    y_true, y_pred = from_counts(BINARY, [0, 1], rng)
    check_precision(student, y_true, y_pred, what="precision on 0/1 labels")


@pytest.mark.points(1)
def test_recall_binary(student, rng):
    """recall: 0/1 labels"""
    y_true, y_pred = from_counts(BINARY, [0, 1], rng)
    check_recall(student, y_true, y_pred, what="recall on 0/1 labels")


@pytest.mark.points(1)
def test_precision_other_positive_label(student, rng):
    """precision: multiclass labels and a string positive label"""
    y_true, y_pred = from_counts(MULTI, [0, 1, 2, 3], rng)
    check_precision(student, y_true, y_pred, positive=2, what="precision on labels 0..3 with positive=2")
    y_true, y_pred = from_counts([[9, 2], [4, 6]], ["ham", "spam"], rng)
    check_precision(student, list(y_true), list(y_pred), positive="spam",
                    what='precision with positive="spam"')


@pytest.mark.points(1)
def test_recall_other_positive_label(student, rng):
    """recall: multiclass labels and a string positive label"""
    y_true, y_pred = from_counts(MULTI, [0, 1, 2, 3], rng)
    check_recall(student, y_true, y_pred, positive=2, what="recall on labels 0..3 with positive=2")
    y_true, y_pred = from_counts([[9, 2], [4, 6]], ["ham", "spam"], rng)
    check_recall(student, list(y_true), list(y_pred), positive="spam", what='recall with positive="spam"')


@pytest.mark.points(1)
def test_precision_zero_division(student, rng):
    """precision: nothing predicted positive returns zero_division"""
    y_true, y_pred = from_counts([[12, 0], [6, 0]], [0, 1], rng)
    for zero_division in (0.0, 1.0):
        check_precision(student, y_true, y_pred, zero_division=zero_division, swap=False,
                        what=f"precision when nothing is predicted positive (TP + FP = 0), "
                             f"zero_division={zero_division}")


@pytest.mark.points(1)
def test_recall_zero_division(student, rng):
    """recall: no positive sample returns zero_division"""
    y_true, y_pred = from_counts([[12, 4], [0, 0]], [0, 1], rng)
    for zero_division in (0.0, 1.0):
        check_recall(student, y_true, y_pred, zero_division=zero_division, swap=False,
                     what=f"recall when no sample is truly positive (TP + FN = 0), zero_division={zero_division}")


# ---------------------------------------------------------------------------------------------
# f1_score


def check_f1(student: Any, y_true: Any, y_pred: Any, *, what: str, **kwargs: Any) -> None:
    got = call(student, "f1_score", y_true, y_pred, what=what, **kwargs)
    check_metric(got, cnn_ref.f1_score(y_true, y_pred, **kwargs), what=what)


@pytest.mark.points(1)
def test_f1_binary(student, rng):
    """f1_score: 0/1 labels"""
    y_true, y_pred = from_counts(BINARY, [0, 1], rng)
    check_f1(student, y_true, y_pred, what="f1_score on 0/1 labels")


@pytest.mark.points(1)
def test_f1_other_positive_label(student, rng):
    """f1_score: multiclass labels and a string positive label"""
    y_true, y_pred = from_counts(MULTI, [0, 1, 2, 3], rng)
    check_f1(student, y_true, y_pred, positive=3, what="f1_score on labels 0..3 with positive=3")
    y_true, y_pred = from_counts([[9, 2], [4, 6]], ["ham", "spam"], rng)
    check_f1(student, list(y_true), list(y_pred), positive="spam", what='f1_score with positive="spam"')


@pytest.mark.points(1)
def test_f1_zero_division(student, rng):
    """f1_score: no positive anywhere returns zero_division"""
    y_true, y_pred = from_counts([[15]], [0], rng)
    for zero_division in (0.0, 1.0):
        check_f1(student, y_true, y_pred, zero_division=zero_division,
                 what=f"f1_score with no positive sample and no positive prediction (2 TP + FP + FN = 0), "
                      f"zero_division={zero_division}")


@pytest.mark.points(1)
def test_f1_no_true_positive(student, rng):
    """f1_score: TP = 0 with false positives and false negatives is 0"""
    y_true, y_pred = from_counts([[8, 3], [4, 0]], [0, 1], rng)
    what = "f1_score with TP = 0, FP = 3, FN = 4 and zero_division=1.0"
    got = call(student, "f1_score", y_true, y_pred, zero_division=1.0, what=what)
    value = as_number(got, what=what)
    if math.isnan(value) or value != 0.0:
        fail(what, f"expected 0 (2 TP / (2 TP + FP + FN) = 0 / 7), got {value:.6g}; zero_division is "
                   "only for a zero denominator, and 2 TP + FP + FN is not 0 here")
