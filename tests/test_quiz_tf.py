"""The quiz key is right: every question of representative variants re-derived with TensorFlow/Keras
and scikit-learn from the question's parameters (not from cnn_ref). The only quiz test importing TF."""

import os
import re
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402
from sklearn import metrics  # noqa: E402

from grader.quiz import variants  # noqa: E402
from grader.quiz.bank import QUESTIONS  # noqa: E402

SECRET = b"tf-cross-check-secret"
STUDENTS = ["s000", "s001", "s002", "alice@example.edu"]


def layer(spec):
    kind = spec["type"]
    if kind == "conv2d":
        return keras.layers.Conv2D(spec["filters"], spec["kernel_size"], strides=spec.get("strides", 1),
                                   padding=spec.get("padding", "valid"), use_bias=spec.get("use_bias", True))
    if kind == "max_pool2d":
        return keras.layers.MaxPooling2D(spec["pool_size"], strides=spec.get("strides"))
    if kind == "flatten":
        return keras.layers.Flatten()
    if kind == "dense":
        return keras.layers.Dense(spec["units"], use_bias=spec.get("use_bias", True))
    if kind == "dropout":
        return keras.layers.Dropout(spec["rate"])
    if kind == "batch_norm":
        return keras.layers.BatchNormalization()
    raise AssertionError(kind)


def model(input_shape, specs):
    return keras.Sequential([keras.Input(shape=tuple(input_shape)), *(layer(s) for s in specs)])


def conv_shape(shape, kernel, stride, padding, filters, pad=0):
    """Output shape from a real tf.nn.conv2d (one channel) plus Keras' shape inference for the channels."""
    x = tf.zeros((1, shape[0] + 2 * pad, shape[1] + 2 * pad, 1))
    y = tf.nn.conv2d(x, tf.zeros((*kernel, 1, 1)), strides=stride, padding=padding.upper())
    conv = keras.layers.Conv2D(filters, tuple(kernel), strides=stride, padding=padding)
    keras_shape = conv.compute_output_shape((None, shape[0] + 2 * pad, shape[1] + 2 * pad, shape[2]))
    assert tuple(y.shape[1:3]) == tuple(keras_shape[1:3])
    return [*y.shape[1:3], keras_shape[3]]


def labels_from_counts(tp, fp, fn, tn):
    y_true = [1] * tp + [0] * fp + [1] * fn + [0] * tn
    y_pred = [1] * tp + [1] * fp + [0] * fn + [0] * tn
    return y_true, y_pred


def close(got, expected, atol):
    np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(expected, dtype=float), atol=atol, rtol=0)


# --- one check per question id -----------------------------------------------------------------

def check_conv_valid(q):
    p = q.params
    assert q.answer == conv_shape(p["input"], p["kernel"], p["stride"], "valid", p["filters"])


def check_conv_same(q):
    p = q.params
    assert q.answer == conv_shape(p["input"], p["kernel"], p["stride"], "same", p["filters"])


def check_conv_pad(q):
    p = q.params
    assert q.answer == conv_shape(p["input"], p["kernel"], p["stride"], "valid", p["filters"], pad=p["pad"])
    padded = keras.layers.ZeroPadding2D(p["pad"]).compute_output_shape((None, *p["input"]))
    conv = keras.layers.Conv2D(p["filters"], tuple(p["kernel"]), strides=p["stride"])
    assert list(conv.compute_output_shape(padded)[1:]) == q.answer


def check_same_split(q):
    (h, w), (kh, kw), s = q.params["input"], q.params["kernel"], q.params["stride"]
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(1, h, w, 1)), tf.float32)
    k = tf.constant(rng.normal(size=(kh, kw, 1, 1)), tf.float32)
    same = tf.nn.conv2d(x, k, strides=s, padding="SAME")
    (top, bottom), (left, right) = q.answer
    explicit = tf.nn.conv2d(x, k, strides=s, padding=[[0, 0], [top, bottom], [left, right], [0, 0]])
    close(explicit, same, 1e-5)
    if (top, left) != (bottom, right):  # the split matters: the mirrored one differs
        mirrored = tf.nn.conv2d(x, k, strides=s, padding=[[0, 0], [bottom, top], [right, left], [0, 0]])
        assert mirrored.shape != same.shape or not np.allclose(mirrored, same, atol=1e-5)


def check_padding_mode(q):
    p = q.params
    shapes = {m: list(keras.layers.Conv2D(p["filters"], p["kernel"], strides=p["stride"], padding=m)
                      .compute_output_shape((None, *p["input"]))[1:]) for m in ("valid", "same")}
    assert shapes[q.answer] == p["output"]
    assert [m for m in shapes if shapes[m] == p["output"]] == [q.answer]


def check_conv_step(q):
    patch = tf.constant(np.array(q.params["patch"])[None, :, :, None], tf.float64)
    kernel = tf.constant(np.array(q.params["kernel"], dtype=float)[:, :, None, None], tf.float64)
    out = tf.nn.conv2d(patch, kernel, strides=1, padding="VALID") + q.params["bias"]
    close(out.numpy().ravel()[0], q.answer, 1e-9)


def pool(q, op):
    p = q.params
    x = tf.constant(np.array(p["x"], dtype=float)[None, :, :, None])
    out = op(x, ksize=p["pool"], strides=p["stride"] or p["pool"], padding=p["padding"].upper())
    close(out.numpy()[0, :, :, 0], q.answer, 1e-9)


def check_max_pool(q):
    pool(q, tf.nn.max_pool2d)


def check_avg_pool(q):
    pool(q, tf.nn.avg_pool2d)


def check_bn_output(q):
    p = q.params
    bn = keras.layers.BatchNormalization(gamma_initializer=keras.initializers.Constant(p["gamma"]),
                                         beta_initializer=keras.initializers.Constant(p["beta"]))
    y = bn(np.array(p["x"], dtype="float32").reshape(-1, 1), training=True)
    close(np.ravel(y), q.answer, 1e-4)


def check_bn_moving(q):
    p = q.params
    bn = keras.layers.BatchNormalization(moving_mean_initializer=keras.initializers.Constant(p["moving_mean"]),
                                         moving_variance_initializer=keras.initializers.Constant(p["moving_var"]))
    bn(np.array(p["x"], dtype="float32").reshape(-1, 1), training=True)
    close([bn.moving_mean.numpy()[0], bn.moving_variance.numpy()[0]], q.answer, 1e-5)


def keras_dropout(rate):
    ones = np.ones(20000, dtype="float32")
    drop = keras.layers.Dropout(rate, seed=1)
    out = np.asarray(drop(ones, training=True))
    again = np.asarray(drop(ones, training=True))
    return {"scale": float(out.max()), "dropped": float(np.mean(out == 0)), "mean": float(out.mean()),
            "identity": bool(np.array_equal(np.asarray(drop(ones, training=False)), ones)),
            "same_mask": bool(np.array_equal(out == 0, again == 0)),
            "params": drop.count_params() if drop.built else 0}


def check_dropout_output(q):
    x, rate = np.array(q.params["x"]), q.params["rate"]
    tf_drop = keras_dropout(rate)
    y = np.array(q.answer)
    kept = y != 0
    assert 1 <= np.count_nonzero(~kept) <= 3
    close(y[kept], x[kept] * tf_drop["scale"], 1e-4)
    assert abs(tf_drop["dropped"] - rate) < 0.02


def statement_truth(text, rate, tf_drop):
    number = re.search(r"multiplied by (\d+(?:\.\d+)?)", text)
    if text.startswith("During training each kept unit is multiplied by"):
        return abs(float(number.group(1)) - tf_drop["scale"]) < 1e-3
    if text.startswith("At inference every output is multiplied by"):
        return tf_drop["identity"] and float(number.group(1)) == 1
    if "probability that a unit is dropped" in text:
        return abs(tf_drop["dropped"] - rate) < 0.02
    if "probability that a unit is kept" in text:
        return False  # Keras documents rate as the fraction of units to DROP
    if "returns its input unchanged" in text:
        return tf_drop["identity"]
    if "% of the units are set to 0" in text:
        percent = float(re.search(r"about (\d+(?:\.\d+)?)%", text).group(1))
        return abs(percent / 100 - tf_drop["dropped"]) < 0.02
    if "expected value of each output equals its input" in text:
        return abs(tf_drop["mean"] - 1) < 0.05
    if "trainable parameters" in text:
        return tf_drop["params"] > 0
    if "same units are dropped for every batch" in text:
        return tf_drop["same_mask"]
    raise AssertionError(f"no Keras check for statement {text!r}")


def check_dropout_facts(q):
    rate = q.params["rate"]
    tf_drop = keras_dropout(rate)
    truth = [statement_truth(text, rate, tf_drop) for text in q.choices]
    assert q.answer == [chr(ord("A") + i) for i, t in enumerate(truth) if t]


def check_params_conv(q):
    p = q.params
    spec = {"type": "conv2d", "filters": p["filters"], "kernel_size": p["kernel"], "padding": "same",
            "use_bias": p["use_bias"]}
    assert model(p["input"], [spec]).count_params() == q.answer


def check_params_dense(q):
    p = q.params
    specs = [{"type": "flatten"}, {"type": "dense", "units": p["units"], "use_bias": p["use_bias"]}]
    assert model(p["input"], specs).count_params() == q.answer


def check_params_bn(q):
    p = q.params
    specs = [{"type": "conv2d", "filters": p["filters"], "kernel_size": 3, "padding": "same"},
             {"type": "batch_norm"}, {"type": "flatten"}, {"type": "dense", "units": p["units"]},
             {"type": "batch_norm"}]
    bns = [lay for lay in model(p["input"], specs).layers if isinstance(lay, keras.layers.BatchNormalization)]
    total = sum(lay.count_params() for lay in bns)
    trainable = sum(int(np.prod(w.shape)) for lay in bns for w in lay.trainable_weights)
    assert q.answer == [total, trainable]


def check_flatten_size(q):
    m = model(q.params["input"], q.params["layers"])
    flatten = next(lay for lay in m.layers if isinstance(lay, keras.layers.Flatten))
    assert flatten.output.shape[1] == q.answer


def check_params_model(q):
    assert model(q.params["input"], q.params["layers"]).count_params() == q.answer


def check_cm_labels(q):
    y_true, y_pred = q.params["y_true"], q.params["y_pred"]
    assert metrics.confusion_matrix(y_true, y_pred).tolist() == q.answer
    if isinstance(y_true[0], int):
        assert tf.math.confusion_matrix(y_true, y_pred).numpy().tolist() == q.answer


def check_cm_layout(q):
    y_true, y_pred = labels_from_counts(*q.params["counts"])
    index = ord(q.answer) - ord("A")
    assert q.choices[index] == str(metrics.confusion_matrix(y_true, y_pred).tolist())


def check_precision_table(q):
    close(metrics.precision_score(*labels_from_counts(*q.params["counts"])), q.answer, 1e-9)


def check_recall_sklearn(q):
    close(metrics.recall_score(*labels_from_counts(*q.params["counts"])), q.answer, 1e-9)


def check_f1_counts(q):
    close(metrics.f1_score(*labels_from_counts(*q.params["counts"])), q.answer, 1e-9)


def check_always_negative(q):
    n, p = q.params["n"], q.params["positives"]
    y_true, y_pred = [1] * p + [0] * (n - p), [0] * n
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn warns about the 0/0 precision, then returns 0
        expected = [metrics.accuracy_score(y_true, y_pred), metrics.precision_score(y_true, y_pred),
                    metrics.recall_score(y_true, y_pred), metrics.f1_score(y_true, y_pred)]
    close(q.answer, expected, 1e-9)


#: What each event is, decided by a person reading it (positive = the thing the system looks for).
EVENTS = {
    "an infected person is healthy": "false negative", "a healthy person is infected": "false positive",
    "an infected person is infected": "true positive", "a healthy person is healthy": "true negative",
    "phishing email lands in the inbox": "false negative", "professor is moved to the spam": "false positive",
    "phishing email is moved to the spam": "true positive", "professor lands in the inbox": "true negative",
    "goes through without any alert": "false negative", "groceries is blocked as fraud": "false positive",
    "card's payment is blocked as fraud": "true positive", "groceries goes through": "true negative",
    "kitchen and the alarm stays silent": "false negative", "goes off while you make toast": "false positive",
    "kitchen and the alarm goes off": "true positive", "make toast and the alarm stays silent": "true negative",
}


def check_error_name(q):
    event = q.prompt.split('"')[1]
    (expected,) = [v for k, v in EVENTS.items() if k in event]
    assert q.answer == expected
    y_pred = [1 if expected.endswith("positive") else 0]
    y_true = [y_pred[0] if expected.startswith("true") else 1 - y_pred[0]]
    tn, fp, fn, tp = metrics.confusion_matrix(y_true, y_pred, labels=[0, 1]).ravel()
    assert {"true negative": tn, "false positive": fp, "false negative": fn, "true positive": tp}[expected] == 1


PRIORITY = {"COVID-19": "recall", "spam": "precision", "fraud": "recall", "homepage": "precision"}


def check_priority_metric(q):
    expected = next(metric for word, metric in PRIORITY.items() if word in q.prompt)
    assert q.choices[ord(q.answer) - ord("A")] == expected


CHECKS = {name[len("check_"):]: fn for name, fn in globals().items() if name.startswith("check_")}


def test_every_question_has_a_tensorflow_or_sklearn_check():
    assert set(CHECKS) == set(QUESTIONS)


@pytest.mark.parametrize("student", STUDENTS)
def test_key_matches_tensorflow_and_sklearn(student):
    variant = variants.student_variant("cnn-week", student, SECRET)
    for q in variant.questions:
        CHECKS[q.qid](q)


def test_more_variants_of_the_cheap_questions():
    cheap = ("conv_valid", "conv_same", "conv_pad", "same_split", "conv_step", "max_pool", "avg_pool",
             "cm_labels", "cm_layout", "f1_counts", "always_negative", "error_name", "priority_metric")
    for seed in range(12):
        for qid in cheap:
            CHECKS[qid](QUESTIONS[qid].build(np.random.default_rng(1000 + seed)))
