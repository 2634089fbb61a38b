"""Public checks for the `confusion_matrix` assignment: the lecture's examples, nothing more.

Run them with `dl101 check confusion_matrix.ipynb` or from the notebook's last cell. Grading
runs many more (hidden) cases: several classes, string labels, `labels` in another order,
with absent classes or only some classes, other positive labels, every zero-division case.
"""

from __future__ import annotations

import numpy as np
import pytest

from grader.expect import as_array, expect_close, expect_equal

# The lecture's COVID test: TP = 90, FN = 10, FP = 40, TN = 860 (1 = infected).
COVID_TRUE = np.array([1] * 90 + [1] * 10 + [0] * 40 + [0] * 860)
COVID_PRED = np.array([1] * 90 + [0] * 10 + [1] * 40 + [0] * 860)

THREE_TRUE = [0, 1, 2, 2, 1, 0, 2]
THREE_PRED = [0, 2, 2, 2, 0, 0, 1]


@pytest.mark.points(1)
def test_covid_confusion_matrix(student):
    """confusion_matrix: the COVID example, true labels in rows"""
    expect_equal(student.confusion_matrix(COVID_TRUE, COVID_PRED), np.array([[860, 40], [10, 90]]),
                 what="confusion_matrix on the COVID example (hint: row = TRUE label, column = PREDICTED "
                      "label, labels sorted: [[TN, FP], [FN, TP]])")


@pytest.mark.points(1)
def test_covid_lecture_layout(student):
    """confusion_matrix: labels=[1, 0] then transposed gives the lecture's table"""
    what = ("confusion_matrix(y, y_hat, labels=[1, 0]).T on the COVID example (hint: keep the "
            "order of labels as given)")
    got = as_array(student.confusion_matrix(COVID_TRUE, COVID_PRED, labels=[1, 0]), what=what)
    expect_equal(got.T, np.array([[90, 40], [10, 860]]), what=what)


@pytest.mark.points(1)
def test_covid_binary_counts(student):
    """binary_counts: the COVID example gives (90, 40, 10, 860)"""
    expect_equal(student.binary_counts(COVID_TRUE, COVID_PRED), (90, 40, 10, 860),
                 what="binary_counts on the COVID example (hint: the order is (tp, fp, fn, tn))")


@pytest.mark.points(1)
def test_covid_metrics(student):
    """accuracy, precision, recall, f1_score: the COVID example"""
    expect_close(student.accuracy(COVID_TRUE, COVID_PRED), 0.95, what="accuracy on the COVID example")
    expect_close(student.precision(COVID_TRUE, COVID_PRED), 90 / 130,
                 what="precision on the COVID example (hint: TP / (TP + FP))")
    expect_close(student.recall(COVID_TRUE, COVID_PRED), 0.9,
                 what="recall on the COVID example (hint: TP / (TP + FN))")
    expect_close(student.f1_score(COVID_TRUE, COVID_PRED), 180 / 230,
                 what="f1_score on the COVID example (hint: 2 TP / (2 TP + FP + FN))")


@pytest.mark.points(1)
def test_three_classes(student):
    """confusion_matrix and accuracy: the three-class example"""
    expect_equal(student.confusion_matrix(THREE_TRUE, THREE_PRED), np.array([[2, 0, 0], [1, 0, 1], [0, 1, 2]]),
                 what="confusion_matrix on the three-class example")
    expect_close(student.accuracy(THREE_TRUE, THREE_PRED), 4 / 7, what="accuracy on the three-class example")


@pytest.mark.points(1)
def test_always_negative(student):
    """accuracy, recall, precision: an always-negative classifier on 95/5 data"""
    y_true = np.array([0] * 950 + [1] * 50)
    y_pred = np.zeros(1000, dtype=int)
    expect_close(student.accuracy(y_true, y_pred), 0.95, what="accuracy of the always-negative classifier")
    expect_close(student.recall(y_true, y_pred), 0.0, what="recall of the always-negative classifier")
    expect_close(student.precision(y_true, y_pred), 0.0,
                 what="precision when nothing is predicted positive (hint: return zero_division, 0.0 "
                      "by default, instead of dividing by 0)")
