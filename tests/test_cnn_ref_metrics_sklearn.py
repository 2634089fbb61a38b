"""cnn_ref confusion matrix and metrics proven against scikit-learn (and tf.math / keras.metrics)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import sklearn.metrics as skm
from _tf import keras, tf
from sklearn.exceptions import UndefinedMetricWarning

import cnn_ref

# sklearn warns when a one-sample case shows a single label; the shape is checked anyway.
pytestmark = pytest.mark.filterwarnings("ignore:A single label was found:UserWarning")

# Metrics are ratios of small integer counts: agree to rounding.
RTOL_METRIC = 1e-12
ZERO_DIVISIONS = [0.0, 1.0, np.nan]


def _labels(seed: int, n: int, k: int, *, strings: bool = False):
    rng = np.random.default_rng(seed)
    y, y_hat = rng.integers(0, k, size=n), rng.integers(0, k, size=n)
    agree = rng.random(n) < 0.5                      # better than chance, like a real model
    y_hat[agree] = y[agree]
    if strings:
        names = np.array(["cat", "dog", "bird", "fish", "ant"][:k])
        return names[y], names[y_hat]
    return y, y_hat


CM_CASES = [(seed, n, k, strings) for seed, (n, k) in enumerate([(1, 2), (7, 3), (50, 5), (40, 2), (30, 4)])
            for strings in (False, True)]


@pytest.mark.parametrize("seed,n,k,strings", CM_CASES)
def test_confusion_matrix_matches_sklearn(seed, n, k, strings):
    y, y_hat = _labels(seed, n, k, strings=strings)
    got = cnn_ref.confusion_matrix(y, y_hat)
    np.testing.assert_array_equal(got, skm.confusion_matrix(y, y_hat))
    assert np.issubdtype(got.dtype, np.integer)
    np.testing.assert_array_equal(cnn_ref.confusion_matrix_naive(y, y_hat), got)


@pytest.mark.parametrize("seed,n,k,strings", CM_CASES)
def test_confusion_matrix_labels_subset_and_order_match_sklearn(seed, n, k, strings):
    y, y_hat = _labels(seed, n, k, strings=strings)
    present = sorted(set(y.tolist()))
    absent = "zebra" if strings else k + 3
    for labels in (present[::-1], present[:1], [*present[1:], absent], [absent, present[0]]):
        if not set(labels) & set(present):
            continue    # sklearn refuses; see test_confusion_matrix_labels_none_in_y_true
        got = cnn_ref.confusion_matrix(y, y_hat, labels=labels)
        np.testing.assert_array_equal(got, skm.confusion_matrix(y, y_hat, labels=labels), err_msg=str(labels))
        np.testing.assert_array_equal(cnn_ref.confusion_matrix_naive(y, y_hat, labels=labels), got)


def test_confusion_matrix_labels_none_in_y_true():
    """Deliberate difference: sklearn raises, cnn_ref counts the pairs inside labels (none here)."""
    y, y_hat = np.array([0, 1, 1]), np.array([2, 1, 0])
    with pytest.raises(ValueError, match="At least one label"):
        skm.confusion_matrix(y, y_hat, labels=[2, 3])
    np.testing.assert_array_equal(cnn_ref.confusion_matrix(y, y_hat, labels=[2, 3]), np.zeros((2, 2)))
    np.testing.assert_array_equal(cnn_ref.confusion_matrix_naive(y, y_hat, labels=[2, 3]), np.zeros((2, 2)))


def test_confusion_matrix_matches_tf_math():
    y, y_hat = _labels(3, 60, 4)
    expected = tf.math.confusion_matrix(y, y_hat, num_classes=4).numpy()
    np.testing.assert_array_equal(cnn_ref.confusion_matrix(y, y_hat, labels=[0, 1, 2, 3]), expected)


def test_confusion_matrix_absent_label_in_union_gets_zero_row():
    y, y_hat = np.array([0, 0, 2, 2]), np.array([0, 3, 2, 0])    # 3 only predicted, 1 nowhere
    got = cnn_ref.confusion_matrix(y, y_hat)
    np.testing.assert_array_equal(got, [[1, 0, 1], [1, 1, 0], [0, 0, 0]])
    np.testing.assert_array_equal(got, skm.confusion_matrix(y, y_hat))
    with_absent = cnn_ref.confusion_matrix(y, y_hat, labels=[0, 1, 2, 3])
    np.testing.assert_array_equal(with_absent, skm.confusion_matrix(y, y_hat, labels=[0, 1, 2, 3]))
    assert with_absent[1].sum() == with_absent[:, 1].sum() == 0


def test_cm_binary_layout_tn_fp_fn_tp():
    """Fact: rows = true, columns = predicted, labels sorted: for 0/1 labels [[TN, FP], [FN, TP]]."""
    y, y_hat = _labels(4, 80, 2)
    tp, fp, fn, tn = cnn_ref.binary_counts(y, y_hat)
    expected = [[tn, fp], [fn, tp]]
    np.testing.assert_array_equal(cnn_ref.confusion_matrix(y, y_hat), expected)
    np.testing.assert_array_equal(skm.confusion_matrix(y, y_hat), expected)
    np.testing.assert_array_equal(tf.math.confusion_matrix(y, y_hat).numpy(), expected)
    assert (tn, fp, fn, tp) == tuple(int(v) for v in skm.confusion_matrix(y, y_hat).ravel())


def test_slide_layout_is_transposed():
    """Fact: the slide's [[TP, FP], [FN, TN]] = confusion_matrix(y, y_hat, labels=[1, 0]).T;
    off-diagonals coincide with sklearn's layout, the diagonal swaps."""
    y, y_hat = _labels(5, 80, 2)
    tp, fp, fn, tn = cnn_ref.binary_counts(y, y_hat)
    slide = cnn_ref.confusion_matrix(y, y_hat, labels=[1, 0]).T
    np.testing.assert_array_equal(slide, [[tp, fp], [fn, tn]])
    np.testing.assert_array_equal(slide, skm.confusion_matrix(y, y_hat, labels=[1, 0]).T)
    sk = skm.confusion_matrix(y, y_hat)
    assert slide[0, 1] == sk[0, 1] and slide[1, 0] == sk[1, 0]
    assert slide[0, 0] == sk[1, 1] and slide[1, 1] == sk[0, 0]


@pytest.mark.parametrize("seed,n,k,strings", CM_CASES)
@pytest.mark.parametrize("zero_division", ZERO_DIVISIONS)
def test_binary_metrics_match_sklearn(seed, n, k, strings, zero_division):
    """Pinned: every label but `positive` is negative, so this holds on multiclass labels too."""
    y, y_hat = _labels(100 + seed, n, k, strings=strings)
    positive = sorted(set(y.tolist()) | set(y_hat.tolist()))[-1]
    for ours, theirs in ((cnn_ref.precision, skm.precision_score), (cnn_ref.recall, skm.recall_score),
                         (cnn_ref.f1_score, skm.f1_score)):
        expected = theirs(y == positive, y_hat == positive, zero_division=zero_division)
        per_label = theirs(y, y_hat, labels=[positive], average=None, zero_division=zero_division)[0]
        got = ours(y, y_hat, positive=positive, zero_division=zero_division)
        np.testing.assert_allclose(got, [expected, per_label], rtol=RTOL_METRIC)
        assert isinstance(got, float)
    assert cnn_ref.accuracy(y, y_hat) == pytest.approx(skm.accuracy_score(y, y_hat), rel=RTOL_METRIC)


@pytest.mark.parametrize("zero_division", ZERO_DIVISIONS)
@pytest.mark.parametrize("y,y_hat", [
    ([0, 0, 0, 0], [0, 0, 0, 0]),        # tp = fp = fn = 0: all three undefined
    ([1, 1, 0, 0], [0, 0, 0, 0]),        # nothing predicted positive: precision undefined, f1 = 0
    ([0, 0, 0, 0], [1, 0, 1, 0]),        # nothing truly positive: recall undefined, f1 = 0
    ([1, 0, 1, 0], [1, 0, 1, 0]),        # perfect
])
def test_zero_division_matches_sklearn(y, y_hat, zero_division):
    """Pinned: zero_division is returned only when that metric's own denominator is 0."""
    for ours, theirs in ((cnn_ref.precision, skm.precision_score), (cnn_ref.recall, skm.recall_score),
                         (cnn_ref.f1_score, skm.f1_score)):
        np.testing.assert_equal(ours(y, y_hat, zero_division=zero_division),
                                theirs(y, y_hat, zero_division=zero_division, labels=[0, 1]))


def test_zero_division_matches_sklearn_and_keras():
    """Fact: when TP + FP = 0 scikit-learn returns 0.0 (with a warning), Keras Precision too."""
    y, y_hat = np.array([1, 0, 1, 0]), np.array([0, 0, 0, 0])
    with pytest.warns(UndefinedMetricWarning):
        assert skm.precision_score(y, y_hat) == 0.0
    metric = keras.metrics.Precision()
    metric.update_state(y, y_hat.astype(float))
    assert float(metric.result()) == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cnn_ref.precision(y, y_hat) == 0.0


def test_keras_precision_threshold_strict():
    """Fact: Keras Precision/Recall threshold probabilities with a strict > 0.5."""
    y = np.array([1, 1, 1, 0, 0, 1])
    probs = np.array([0.5, 0.51, 0.9, 0.5, 0.7, 0.2])
    y_hat = (probs > 0.5).astype(int)
    for ours, metric in ((cnn_ref.precision, keras.metrics.Precision()), (cnn_ref.recall, keras.metrics.Recall())):
        metric.update_state(y, probs)
        assert ours(y, y_hat) == pytest.approx(float(metric.result()), rel=1e-6)
    assert cnn_ref.recall(y, y_hat) != cnn_ref.recall(y, (probs >= 0.5).astype(int))


def test_multiclass_example():
    """Fact: y = [0,1,2,2,1,0,2], y_hat = [0,2,2,2,0,0,1] -> cm [[2,0,0],[1,0,1],[0,1,2]];
    macro precision 0.444, micro precision = accuracy = 0.571."""
    y, y_hat = [0, 1, 2, 2, 1, 0, 2], [0, 2, 2, 2, 0, 0, 1]
    np.testing.assert_array_equal(cnn_ref.confusion_matrix(y, y_hat), [[2, 0, 0], [1, 0, 1], [0, 1, 2]])
    macro = np.mean([cnn_ref.precision(y, y_hat, positive=k) for k in range(3)])
    assert macro == pytest.approx(0.444, abs=5e-4)
    assert macro == pytest.approx(skm.precision_score(y, y_hat, average="macro"), rel=RTOL_METRIC)
    tps = sum(cnn_ref.binary_counts(y, y_hat, positive=k)[0] for k in range(3))
    micro = tps / len(y)
    assert micro == pytest.approx(skm.precision_score(y, y_hat, average="micro"), rel=RTOL_METRIC)
    assert cnn_ref.accuracy(y, y_hat) == pytest.approx(micro) == pytest.approx(0.571, abs=5e-4)


def _covid():
    """TP=90, FN=10, FP=40, TN=860."""
    y = np.array([1] * 100 + [0] * 900)
    y_hat = np.array([1] * 90 + [0] * 10 + [1] * 40 + [0] * 860)
    return y, y_hat


def test_covid_example():
    """Fact: TP=90, FN=10, FP=40, TN=860 -> precision 0.6923, recall 0.9, accuracy 0.95, F1 0.7826."""
    y, y_hat = _covid()
    assert cnn_ref.binary_counts(y, y_hat) == (90, 40, 10, 860)
    expected = {"precision": 0.6923, "recall": 0.9, "accuracy": 0.95, "f1": 0.7826}
    got = {"precision": cnn_ref.precision(y, y_hat), "recall": cnn_ref.recall(y, y_hat),
           "accuracy": cnn_ref.accuracy(y, y_hat), "f1": cnn_ref.f1_score(y, y_hat)}
    sk = {"precision": skm.precision_score(y, y_hat), "recall": skm.recall_score(y, y_hat),
          "accuracy": skm.accuracy_score(y, y_hat), "f1": skm.f1_score(y, y_hat)}
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=5e-5)
        assert got[name] == pytest.approx(sk[name], rel=RTOL_METRIC)


def test_always_negative_classifier():
    """Fact: an always-negative classifier on 95/5 data has accuracy 0.95 and recall 0."""
    y = np.array([0] * 95 + [1] * 5)
    y_hat = np.zeros(100, dtype=int)
    assert cnn_ref.accuracy(y, y_hat) == pytest.approx(0.95) == skm.accuracy_score(y, y_hat)
    assert cnn_ref.recall(y, y_hat) == 0.0 == skm.recall_score(y, y_hat)
    assert cnn_ref.precision(y, y_hat) == 0.0 == skm.precision_score(y, y_hat, zero_division=0.0)


def test_binary_counts_positive_label_choice():
    y, y_hat = ["spam", "ham", "spam", "ham", "spam"], ["spam", "spam", "ham", "ham", "spam"]
    assert cnn_ref.binary_counts(y, y_hat, positive="spam") == (2, 1, 1, 1)
    assert cnn_ref.binary_counts(y, y_hat, positive="ham") == (1, 1, 1, 2)
    cm = skm.confusion_matrix(y, y_hat, labels=["ham", "spam"])
    assert cnn_ref.binary_counts(y, y_hat, positive="spam") == (cm[1, 1], cm[0, 1], cm[1, 0], cm[0, 0])


def test_load_digits_facts():
    """Fact: sklearn.datasets.load_digits() ships with scikit-learn: 1797 images, 8x8, 0..16, 10 classes."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    assert digits.images.shape == (1797, 8, 8)
    assert digits.images.min() == 0 and digits.images.max() == 16
    assert sorted(set(digits.target.tolist())) == list(range(10))
    counts = cnn_ref.confusion_matrix(digits.target, digits.target).diagonal()
    np.testing.assert_array_equal(counts, np.bincount(digits.target))
