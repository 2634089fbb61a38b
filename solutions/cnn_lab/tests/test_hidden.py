"""Hidden graders for `cnn_lab`: preprocessing, the model, and the model trained for real.

Points: preprocessing 4 (shape 1, dtype 1, range 2); the model 8 (compiled 1, one per required
layer type 4, probabilities out 1, parameter budget 1, training lowers the loss 1); accuracy
on held-out digits 8 (four tiers of 2); every digit recognised 2. Total 22.

How the model is graded: the harness (grader/harness/cnn_lab.py) runs in the sandbox after the
notebook's cells, calls the student's ``preprocess`` and ``build_cnn``, trains the model with a
fixed seed, epoch budget and batch size on a seeded stratified split of
``sklearn.datasets.load_digits``, and returns the labels it predicts for the held-out images.
The held-out LABELS never enter the sandbox: they stay here, where accuracy, the confusion
matrix and per-class recall are computed with cnn_ref. The harness runs once per submission;
its report is cached for the other tests (``lab_report``).

Calibration (benchmarks/bench_lab.py --calibrate: the solution notebook's model trained by this
harness in the sandbox, seeds 0-4 of split and training): accuracy 0.992, 0.972, 0.992, 0.972,
0.983 (min 0.972, mean 0.982); lowest per-class recall 0.943, 0.886, 0.971, 0.944, 0.914 (min
0.886, digit 8); training 2.6-3.8 CPU seconds. The top tier (0.95) and the recall floor (0.75)
sit 0.022 (8 images) and 0.136 below those minima. Grading uses seed 0. The same notebook gives
the same predictions in and out of the sandbox (one thread, fixed seed).
"""

from __future__ import annotations

import functools
import math
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import cnn_ref
from grader.errors import StudentError
from grader.expect import as_array, fail

# -- the grading set-up (what the notebook tells students) -------------------------------------

#: Seed of the train/test split and of the training (keras.utils.set_random_seed).
SEED = 0
TEST_FRACTION = 0.2
EPOCHS = 10
BATCH_SIZE = 32
MAX_PARAMS = 100_000
#: CPU seconds of training before the harness stops it (the model is then graded as it is).
#: CPU time, so that a loaded machine does not make a model "too slow" (the solution: ~5).
TRAIN_BUDGET = 25.0
#: Wall-clock seconds for the whole harness call (build, train, predict): the backstop for a
#: call that hangs. The submission's own budget (dl101 grade --timeout) usually ends it first.
HARNESS_TIMEOUT = 120.0
NUM_CLASSES = 10
#: Accuracy tiers on the held-out digits, each worth TIER_POINTS.
TIERS = (0.50, 0.80, 0.90, 0.95)
TIER_POINTS = 2
#: Every digit's recall must reach this.
RECALL_FLOOR = 0.75
#: The training loss must end at most this fraction of its first epoch's value.
LOSS_DROP = 0.7
REQUIRED_LAYERS = ("Conv2D", "MaxPooling2D", "BatchNormalization", "Dropout")

# -- data ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabData:
    x_train: np.ndarray  # (N, 8, 8) float64, 0..16: what the student's preprocess receives
    y_train: np.ndarray  # (N,) int64
    x_test: np.ndarray  # (M, 8, 8): only these images enter the sandbox ...
    y_test: np.ndarray  # ... never these labels


def reference_preprocess(images: np.ndarray) -> np.ndarray:
    """The inputs the harness falls back to when the student's preprocess is unusable."""
    return (np.asarray(images, dtype=np.float64) / 16.0).astype(np.float32)[..., np.newaxis]


@functools.cache
def lab_data(seed: int = SEED) -> LabData:
    """load_digits split per class: TEST_FRACTION of every digit held out, chosen by ``seed``."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images, labels = digits.images.astype(np.float64), digits.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    test = np.zeros(len(labels), dtype=bool)
    for digit in range(NUM_CLASSES):
        members = np.flatnonzero(labels == digit)
        test[rng.choice(members, size=round(len(members) * TEST_FRACTION), replace=False)] = True
    train_order = rng.permutation(np.flatnonzero(~test))
    test_order = rng.permutation(np.flatnonzero(test))
    return LabData(images[train_order], labels[train_order], images[test_order], labels[test_order])


# -- the harness report, validated and cached --------------------------------------------------------


class Malformed(Exception):
    """The harness report is not what the harness returns: something in the sandbox replaced it."""


@dataclass(frozen=True)
class LabReport:
    fallback: str  # why the student's preprocess output could not be trained on ("" if it was)
    model_error: str
    compiled: bool
    loss: str
    from_logits: bool | None
    optimizer: str
    learning_rate: float | None
    output_shape: tuple[int, ...] | None
    sample_min: float | None
    sample_row_sums: tuple[float, float] | None
    params: int | None
    layers: tuple[str, ...]
    required: dict[str, bool]
    too_large: bool
    train_error: str
    trained: bool
    stop_reason: str  # "" (trained to the end), "budget" or "projected" (see the harness)
    projected_cpu_seconds: float | None
    batches_done: int
    epochs_done: int
    train_seconds: float
    train_cpu_seconds: float
    losses: tuple[float, ...]
    output_error: str
    predictions: np.ndarray | None


def _get(tree: Any, path: str, kinds: tuple[type, ...], default: Any = None) -> Any:
    node = tree
    for key in path.split("."):
        if not isinstance(node, dict):
            raise Malformed(path)
        if key not in node:
            return default
        node = node[key]
    if isinstance(node, np.generic):
        node = node.item()
    if node is None and default is None:
        return None
    if isinstance(node, bool) and bool not in kinds:
        raise Malformed(path)
    if not isinstance(node, kinds):
        raise Malformed(path)
    return node


def parse_report(raw: Any, n_test: int) -> LabReport:
    """The harness's dict as a LabReport; Malformed if any field has the wrong type."""
    if not isinstance(raw, dict):
        raise Malformed("report")
    shape = _get(raw, "model.output_shape", (list, tuple))
    sums = _get(raw, "model.sample_row_sums", (list, tuple))
    required = _get(raw, "model.required", (dict,), {})
    predictions = _get(raw, "predictions", (np.ndarray,))
    if predictions is not None and (predictions.shape != (n_test,) or predictions.dtype.kind not in "iu"):
        raise Malformed("predictions")
    losses = _get(raw, "training.loss", (list,), [])
    layers = _get(raw, "model.layers", (list,), [])
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in [*losses, *(shape or ()), *(sums or ())]):
        raise Malformed("numbers")
    if not all(isinstance(v, str) for v in layers) or not all(isinstance(v, bool) for v in required.values()):
        raise Malformed("layers")
    rate = _get(raw, "model.learning_rate", (float, int))
    sample_min = _get(raw, "model.sample_min", (float, int))
    params = _get(raw, "model.params", (int,))
    return LabReport(
        fallback=_get(raw, "preprocess.fallback", (str,), ""),
        model_error=_get(raw, "model.error", (str,), ""),
        compiled=_get(raw, "model.compiled", (bool,), False),
        loss=_get(raw, "model.loss", (str,), ""),
        from_logits=_get(raw, "model.from_logits", (bool,)),
        optimizer=_get(raw, "model.optimizer", (str,), ""),
        learning_rate=_float_or_none(rate),
        output_shape=None if shape is None else tuple(int(d) for d in shape),
        sample_min=_float_or_none(sample_min),
        sample_row_sums=None if sums is None or len(sums) != 2 else (float(sums[0]), float(sums[1])),
        params=params,
        layers=tuple(layers),
        required={str(k): v for k, v in required.items()},
        too_large=_get(raw, "model.too_large", (bool,), False),
        train_error=_get(raw, "training.error", (str,), ""),
        trained=_get(raw, "training.seconds", (float, int)) is not None and not _get(raw, "training.error", (str,), ""),
        stop_reason=_stop_reason(_get(raw, "training.stop_reason", (str,), "")),
        projected_cpu_seconds=_float_or_none(_get(raw, "training.projected_cpu_seconds", (float, int))),
        batches_done=_get(raw, "training.batches_done", (int,), 0),
        epochs_done=_get(raw, "training.epochs_done", (int,), 0),
        train_seconds=float(_get(raw, "training.seconds", (float, int), 0.0)),
        train_cpu_seconds=float(_get(raw, "training.cpu_seconds", (float, int), 0.0)),
        losses=tuple(float(v) for v in losses),
        output_error=_get(raw, "output.error", (str,), ""),
        predictions=predictions,
    )


def _float_or_none(value: float | int | None) -> float | None:
    return None if value is None else float(value)


def _stop_reason(value: str) -> str:
    if value not in ("", "budget", "projected"):
        raise Malformed("training.stop_reason")
    return value


#: One harness run per submission. Keyed weakly by the ``student`` proxy object, which the
#: runner creates anew for every submission and keeps for all of its tests: an entry can never
#: outlive its submission, so a new submission never sees a stale result (as it could with a
#: key such as ``id(student)``, which Python reuses once the old proxy is freed).
_REPORTS: weakref.WeakKeyDictionary[Any, LabReport | str | Exception] = weakref.WeakKeyDictionary()


def run_harness(student: Any) -> LabReport | str:
    """Train and predict in the sandbox; a LabReport, or why there is none (for the student)."""
    data = lab_data()
    try:
        raw = student.harness(
            "cnn_lab", "train_and_predict", data.x_train, data.y_train, data.x_test,
            reference_preprocess(data.x_train), reference_preprocess(data.x_test),
            seed=SEED, epochs=EPOCHS, batch_size=BATCH_SIZE, max_params=MAX_PARAMS,
            cpu_budget=TRAIN_BUDGET, timeout=HARNESS_TIMEOUT,
        )
    except StudentError as exc:
        return f"the grader could not train your model: {exc}"
    try:
        return parse_report(raw, len(data.y_test))
    except Malformed as exc:
        return f"the grader's training report came back malformed ({exc}): did your notebook change the grader?"


def lab_report(student: Any) -> LabReport:
    """The cached report of this submission; a failure (for every test that needs it) if none.

    A grader bug is cached too (and re-raised by every test, as the grader's failure): the model
    is trained once per submission, whatever happens.
    """
    report = _REPORTS.get(student)
    if report is None:
        try:
            report = run_harness(student)
        except Exception as exc:
            report = exc
        _REPORTS[student] = report
    if isinstance(report, Exception):
        raise report
    if isinstance(report, str):
        fail("training your model", report)
    return report


# -- feedback ------------------------------------------------------------------------------------------


def no_model_reason(report: LabReport) -> str:
    if report.model_error:
        return report.model_error
    if report.too_large:
        return (f"your model has {report.params:,} parameters, over the budget of {MAX_PARAMS:,}, "
                "so it was not trained: use fewer filters or a smaller Dense layer")
    if report.train_error:
        return f"model.fit failed: {report.train_error}{loss_hint(report)}"
    if report.output_error:
        return report.output_error
    return "your model's predictions could not be read (one row of 10 class probabilities per image expected)"


def loss_hint(report: LabReport) -> str:
    if report.loss and "sparse" not in report.loss.lower().replace("_", ""):
        return (f" (your loss is {report.loss!r}; the grader trains with integer labels 0..9, which "
                "needs sparse_categorical_crossentropy)")
    return ""


def batches_per_training() -> int:
    return EPOCHS * -(-len(lab_data().y_train) // BATCH_SIZE)


def training_summary(report: LabReport) -> str:
    """One paragraph on how training went: loss, CPU time, why it stopped, a likely cause."""
    if not report.losses:
        return ""
    loss = f"loss {report.losses[0]:.3g} -> {report.losses[-1]:.3g}"
    if report.stop_reason == "projected":
        text = (f"Training was stopped after {report.batches_done} of {batches_per_training()} batches "
                f"({report.train_cpu_seconds:.1f} CPU seconds, {loss}): at that speed the {EPOCHS} epochs "
                f"would take about {report.projected_cpu_seconds or 0:.0f} CPU seconds, over the budget of "
                f"{TRAIN_BUDGET:g}")
    elif report.stop_reason == "budget":
        text = (f"Training was stopped at the budget of {TRAIN_BUDGET:g} CPU seconds, after "
                f"{report.batches_done} of {batches_per_training()} batches ({loss})")
    else:
        text = f"Training: {loss} over {len(report.losses)} epochs ({report.train_cpu_seconds:.1f} CPU seconds)"
    if report.stop_reason:
        text += (". Your model is too slow to train: make it smaller (fewer filters or units, smaller "
                 "feature maps)")
    if report.learning_rate is not None and report.learning_rate <= 1e-6:
        text += f"; learning rate {report.learning_rate:g}: the weights barely move"
    return text + "."


def matrix_text(cm: np.ndarray) -> str:
    width = max(3, len(str(int(cm.max()))) + 1)
    lines = ["Confusion matrix (row = true digit, column = predicted digit):",
             "   " + "".join(f"{k:>{width}}" for k in range(NUM_CLASSES))]
    lines += [f"{i:>3}" + "".join(f"{int(v):>{width}}" for v in row) for i, row in enumerate(cm)]
    return "\n".join(lines)


def weakest_text(y_true: np.ndarray, y_pred: np.ndarray, cm: np.ndarray, count: int = 3) -> str:
    recalls = per_class_recall(y_true, y_pred)
    parts = []
    for digit in np.argsort(recalls, kind="stable")[:count]:
        row = cm[digit].copy()
        row[digit] = 0
        mistaken = f", most often taken for {int(row.argmax())}" if row.max() > 0 else ""
        parts.append(f"{digit} (recall {recalls[digit]:.2f}{mistaken})")
    return "Weakest digits: " + "; ".join(parts) + "."


def per_class_recall(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    return np.array([cnn_ref.recall(y_true, y_pred, positive=k) for k in range(NUM_CLASSES)])


def evaluation(report: LabReport) -> tuple[float, np.ndarray, str]:
    """(accuracy, per-class recall, feedback text) of the held-out predictions."""
    y_test = lab_data().y_test
    if report.predictions is None:
        fail("accuracy on held-out digits", f"no predictions to grade: {no_model_reason(report)}")
    y_pred = report.predictions
    acc = cnn_ref.accuracy(y_test, y_pred)
    cm = cnn_ref.confusion_matrix(y_test, y_pred, labels=list(range(NUM_CLASSES)))
    lines = [f"Accuracy {acc:.3f} on the {len(y_test)} held-out digits.", weakest_text(y_test, y_pred, cm),
             matrix_text(cm)]
    if report.fallback:
        lines.append(f"(Trained on the grader's own preprocessing: yours failed: {report.fallback})")
    summary = training_summary(report)
    if summary:
        lines.append(summary)
    return acc, per_class_recall(y_test, y_pred), "\n".join(lines)


def model_fact(report: LabReport, what: str) -> None:
    """Fail ``what`` when there is no built model to look at."""
    if report.model_error:
        fail(what, report.model_error)


# -- preprocessing (direct calls: cheap, no training) ---------------------------------------------------


def preprocessed(student: Any, images: np.ndarray, *, what: str) -> np.ndarray:
    try:
        return as_array(student.preprocess(images), what=what)
    except StudentError as exc:
        fail(what, str(exc))


def sample_images() -> np.ndarray:
    """Training images that contain both 0 and 16 pixels (as every batch of digits does)."""
    images = lab_data().x_train[:40]
    if images.min() != 0 or images.max() != 16:
        raise RuntimeError("the sample of training images should span the pixel values 0..16")
    return images


@pytest.mark.points(1)
def test_preprocess_shape(student):
    """preprocess: NHWC shape (N, 8, 8, 1)"""
    for images in (sample_images(), sample_images()[:1]):
        n = len(images)
        what = f"preprocess on {n} image(s) of shape (8, 8)"
        got = preprocessed(student, images, what=what)
        if got.shape == (n, 8, 8, 1):
            continue
        hints = {(n, 8, 8): "add the channel axis: Keras' Conv2D wants NHWC, (N, 8, 8, 1)",
                 (n, 64): "do not flatten the images: Conv2D needs them as (N, 8, 8, 1)",
                 (n, 1, 8, 8): "channels go LAST in Keras (NHWC): (N, 8, 8, 1), not (N, 1, 8, 8)"}
        fail(what, f"expected shape {(n, 8, 8, 1)}, got {got.shape}"
                   + (f" ({hints[got.shape]})" if got.shape in hints else ""))


@pytest.mark.points(1)
def test_preprocess_dtype(student):
    """preprocess: float32"""
    what = "preprocess on 40 images"
    got = preprocessed(student, sample_images(), what=what)
    if got.dtype != np.float32:
        fail(what, f"expected dtype float32, got {got.dtype} (use .astype(np.float32): Keras computes in "
                   "float32)")


@pytest.mark.points(2)
def test_preprocess_range(student):
    """preprocess: pixels 0..16 scaled to [0, 1]"""
    images = sample_images()
    what = "preprocess on 40 images with pixel values 0..16"
    got = preprocessed(student, images, what=what).astype(np.float64)
    expected = images / 16.0
    if got.size != expected.size:
        fail(what, f"expected {expected.size} values (40 images of 8x8), got {got.size}")
    got = got.reshape(expected.shape)
    low, high = float(got.min()), float(got.max())
    if math.isclose(high, 16.0):
        fail(what, "values go up to 16: scale the pixels to [0, 1] by dividing by 16, their largest value")
    if math.isclose(high, 16 / 255, rel_tol=1e-4):
        fail(what, "values go up to 0.063: these digits have pixels 0..16 (not 0..255 like MNIST), divide by 16")
    if low < 0 or high > 1:
        fail(what, f"values range over [{low:.3g}, {high:.3g}], expected [0, 1]")
    if not np.allclose(got, expected, rtol=1e-6, atol=1e-6):
        bad = np.argwhere(~np.isclose(got, expected, rtol=1e-6, atol=1e-6))[0]
        pixel = images[tuple(bad)]
        fail(what, f"a pixel of value {pixel:g} became {got[tuple(bad)]:.4g}, expected {pixel / 16:.4g} "
                   "(pixel / 16, in the image's own position)")


# -- the model (one harness run, cached) -----------------------------------------------------------------


@pytest.mark.points(1)
def test_build_cnn_compiled(student):
    """build_cnn: a compiled Keras model with a sparse categorical loss"""
    report = lab_report(student)
    what = "build_cnn()"
    model_fact(report, what)
    if not report.compiled:
        fail(what, "the model is not compiled: call model.compile(optimizer=..., "
                   "loss='sparse_categorical_crossentropy', metrics=['accuracy']) before returning it")
    hint = loss_hint(report)
    if hint:
        fail(what, hint.strip(" ()"))


def check_layer(student: Any, name: str, why: str) -> None:
    report = lab_report(student)
    what = f"build_cnn(): a {name} layer"
    model_fact(report, what)
    if not report.required.get(name, False):
        found = ", ".join(report.layers) or "none"
        fail(what, f"your model has no {name} layer ({why}); its layers: {found}")


@pytest.mark.points(1)
def test_layer_conv2d(student):
    """build_cnn: has a Conv2D layer"""
    check_layer(student, "Conv2D", "the convolution that learns local patterns")


@pytest.mark.points(1)
def test_layer_max_pooling(student):
    """build_cnn: has a MaxPooling2D layer"""
    check_layer(student, "MaxPooling2D", "pooling halves the feature maps")


@pytest.mark.points(1)
def test_layer_batch_norm(student):
    """build_cnn: has a BatchNormalization layer"""
    check_layer(student, "BatchNormalization", "it normalizes the activations")


@pytest.mark.points(1)
def test_layer_dropout(student):
    """build_cnn: has a Dropout layer"""
    check_layer(student, "Dropout", "it regularizes the model")


@pytest.mark.points(1)
def test_outputs_class_probabilities(student):
    """build_cnn: outputs 10 class probabilities (softmax)"""
    report = lab_report(student)
    what = "build_cnn(): the model's output on 2 images"
    model_fact(report, what)
    if report.output_shape != (2, NUM_CLASSES):
        fail(what, f"expected shape (2, {NUM_CLASSES}) (one row of {NUM_CLASSES} class scores per image), "
                   f"got {report.output_shape}")
    sums = report.sample_row_sums
    if report.from_logits or sums is None or report.sample_min is None or report.sample_min < -1e-6 \
            or abs(sums[0] - 1) > 1e-3 or abs(sums[1] - 1) > 1e-3:
        fail(what, "the outputs are not probabilities (non-negative, each row summing to 1): end the model "
                   "with Dense(10, activation='softmax') and keep from_logits=False")


@pytest.mark.points(1)
def test_parameter_budget(student):
    """build_cnn: at most 100,000 parameters"""
    report = lab_report(student)
    what = "build_cnn(): the parameter count"
    model_fact(report, what)
    if report.params is None:
        fail(what, "the parameter count could not be read")
    if report.params > MAX_PARAMS:
        fail(what, f"{report.params:,} parameters, over the budget of {MAX_PARAMS:,} (the Dense layer "
                   "after Flatten is usually the largest: pool before flattening or use fewer units)")


@pytest.mark.points(1)
def test_training_lowers_the_loss(student):
    """training: the loss goes down"""
    report = lab_report(student)
    what = f"training your model for {EPOCHS} epochs"
    if not report.trained:
        fail(what, no_model_reason(report))
    if report.stop_reason:
        fail(what, training_summary(report))
    losses = report.losses
    if len(losses) < 2 or not all(math.isfinite(v) for v in losses):
        fail(what, f"the training loss was not recorded for every epoch, or became NaN. {training_summary(report)}")
    if losses[-1] > LOSS_DROP * losses[0]:
        fail(what, f"the loss hardly went down ({losses[0]:.3g} -> {losses[-1]:.3g}); check the learning rate "
                   f"and the loss: {training_summary(report)}")


def check_tier(student: Any, threshold: float) -> None:
    report = lab_report(student)
    acc, _, feedback = evaluation(report)
    if acc < threshold:
        fail(f"accuracy on held-out digits (needs {threshold:.2f})", feedback)


@pytest.mark.points(TIER_POINTS)
def test_accuracy_tier_1(student):
    """accuracy on held-out digits: at least 0.50"""
    check_tier(student, TIERS[0])


@pytest.mark.points(TIER_POINTS)
def test_accuracy_tier_2(student):
    """accuracy on held-out digits: at least 0.80"""
    check_tier(student, TIERS[1])


@pytest.mark.points(TIER_POINTS)
def test_accuracy_tier_3(student):
    """accuracy on held-out digits: at least 0.90"""
    check_tier(student, TIERS[2])


@pytest.mark.points(TIER_POINTS)
def test_accuracy_tier_4(student):
    """accuracy on held-out digits: at least 0.95"""
    check_tier(student, TIERS[3])


@pytest.mark.points(2)
def test_every_digit_recognised(student, record_property):
    """per-class recall: every digit at least 0.75"""
    report = lab_report(student)
    _, recalls, feedback = evaluation(report)
    if recalls.min() < RECALL_FLOOR:
        weak = ", ".join(f"{k} ({recalls[k]:.2f})" for k in np.flatnonzero(recalls < RECALL_FLOOR))
        fail(f"per-class recall (each digit needs {RECALL_FLOOR:.2f})", f"digits below it: {weak}.\n{feedback}")
    record_property("feedback", feedback)  # a full-marks student still sees their confusion matrix
