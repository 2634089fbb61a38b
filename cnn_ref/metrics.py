"""Confusion matrix and binary metrics (the contract's ``confusion_matrix`` module).

Named ``metrics`` so that ``cnn_ref.confusion_matrix`` is unambiguously the function.
Conventions of scikit-learn and ``tf.math.confusion_matrix``: rows = true labels, columns =
predicted labels, labels sorted; for 0/1 labels ``[[TN, FP], [FN, TP]]``. The binary metrics
treat every label other than ``positive`` as negative, so they work on multiclass labels.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "accuracy", "binary_counts", "check_label_pair", "confusion_matrix", "f1_score", "precision",
    "recall", "resolve_labels",
]


def _labels_1d(value: Any, name: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one label per sample), got shape {arr.shape}")
    if arr.dtype.kind not in "biufUS":
        raise ValueError(f"{name} must hold numeric, bool or string labels, got dtype {arr.dtype}")
    return arr


def _kind(arr: np.ndarray) -> str:
    return "string" if arr.dtype.kind in "US" else "number"


def check_label_pair(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    """Both label vectors as 1-D arrays of the same length and the same kind (numbers or strings)."""
    y_true, y_pred = _labels_1d(y_true, "y_true"), _labels_1d(y_pred, "y_pred")
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred must have the same length, got {len(y_true)} and {len(y_pred)}")
    if _kind(y_true) != _kind(y_pred):
        raise ValueError(f"y_true holds {_kind(y_true)}s but y_pred holds {_kind(y_pred)}s; "
                         "use one kind of label")
    return y_true, y_pred


def resolve_labels(labels: Any, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """The sorted union of observed labels, or the caller's ``labels`` (order kept, no repeats)."""
    if labels is None:
        return np.unique(np.concatenate([y_true, y_pred]))
    labels = _labels_1d(labels, "labels")
    if labels.size == 0:
        raise ValueError("labels must name at least one label")
    if np.unique(labels).size != labels.size:
        raise ValueError(f"labels must not repeat a label, got {labels.tolist()}")
    if len(y_true) and _kind(labels) != _kind(y_true):
        raise ValueError(f"labels hold {_kind(labels)}s but y_true holds {_kind(y_true)}s")
    return labels


def _positions(values: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Index of each value in ``labels``; -1 where the value is not a label."""
    order = np.argsort(labels, kind="stable")
    ranks = np.searchsorted(labels[order], values).clip(max=len(labels) - 1)
    found = labels[order][ranks] == values
    return np.where(found, order[ranks], -1)


def confusion_matrix(y_true: Any, y_pred: Any, labels: Any = None) -> np.ndarray:
    """(L, L) int64 counts: ``cm[i, j]`` = samples with true label ``labels[i]``, predicted ``labels[j]``.

    y_true, y_pred: (n,) labels (ints, bools or strings). ``labels`` defaults to the sorted
    union of both; when given, only pairs whose true and predicted labels are both in it count.
    """
    y_true, y_pred = check_label_pair(y_true, y_pred)
    labels = resolve_labels(labels, y_true, y_pred)
    size = len(labels)
    if len(y_true) == 0:
        return np.zeros((size, size), dtype=np.int64)
    rows, cols = _positions(y_true, labels), _positions(y_pred, labels)
    both = (rows >= 0) & (cols >= 0)
    flat = np.bincount(rows[both] * size + cols[both], minlength=size * size)
    return flat.reshape(size, size).astype(np.int64)


def binary_counts(y_true: Any, y_pred: Any, positive: Any = 1) -> tuple[int, int, int, int]:
    """``(tp, fp, fn, tn)`` with ``positive`` as the positive label and every other label negative."""
    y_true, y_pred = check_label_pair(y_true, y_pred)
    t, p = y_true == positive, y_pred == positive
    return int(np.sum(t & p)), int(np.sum(~t & p)), int(np.sum(t & ~p)), int(np.sum(~t & ~p))


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of samples whose predicted label equals the true label."""
    y_true, y_pred = check_label_pair(y_true, y_pred)
    if len(y_true) == 0:
        raise ValueError("y_true and y_pred are empty; accuracy needs at least one sample")
    return float(np.mean(y_true == y_pred))


def _ratio(numerator: int, denominator: int, zero_division: float) -> float:
    return float(zero_division) if denominator == 0 else numerator / denominator


def precision(y_true: Any, y_pred: Any, positive: Any = 1, zero_division: float = 0.0) -> float:
    """``tp / (tp + fp)``; ``zero_division`` when nothing is predicted positive."""
    tp, fp, _, _ = binary_counts(y_true, y_pred, positive)
    return _ratio(tp, tp + fp, zero_division)


def recall(y_true: Any, y_pred: Any, positive: Any = 1, zero_division: float = 0.0) -> float:
    """``tp / (tp + fn)``; ``zero_division`` when no sample is truly positive."""
    tp, _, fn, _ = binary_counts(y_true, y_pred, positive)
    return _ratio(tp, tp + fn, zero_division)


def f1_score(y_true: Any, y_pred: Any, positive: Any = 1, zero_division: float = 0.0) -> float:
    """``2 tp / (2 tp + fp + fn)`` (scikit-learn); ``zero_division`` only when that denominator is 0."""
    tp, fp, fn, _ = binary_counts(y_true, y_pred, positive)
    return _ratio(2 * tp, 2 * tp + fp + fn, zero_division)
