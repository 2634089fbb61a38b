"""The CNN lab's grading harness: train the student's model, label the held-out digits.

Runs in the sandbox child after the notebook's cells (see :mod:`grader.harness`)::

    train_and_predict(namespace, x_train, y_train, x_test, fallback_train, fallback_test,
                      seed=0, epochs=10, batch_size=32, max_params=100_000, cpu_budget=25.0)

1. ``preprocess`` (the student's) turns the raw 8x8 images (values 0..16) into model inputs.
   When it fails or returns something a model cannot take (not ``(N, 8, 8, 1)``, not finite
   numbers), the grader's own ``fallback_*`` inputs are used instead, so that a broken
   ``preprocess`` costs the preprocessing points only. Usable-but-wrong output (no scaling,
   say) is trained on as it is: that is the student's pipeline.
2. ``build_cnn((8, 8, 1), 10)`` (the student's, after ``keras.utils.set_random_seed(seed)``);
   the model is called on two images to build it, then described: layer classes, parameter
   count, compile settings, output shape. A model over ``max_params`` is not trained. A model
   that was not compiled is compiled here (Adam, sparse categorical cross-entropy) so that its
   architecture can still be trained; the report says so.
3. ``fit`` for ``epochs`` epochs of ``batch_size`` on the training data; a callback stops
   training once it has used ``cpu_budget`` CPU seconds, or as soon as its first batches show
   that the whole training would take over twice that (the report says when and why). CPU
   time, not wall time: a model is "too slow" for what it computes, whatever else the machine
   is running. The grader's per-call wall-clock timeout still ends a call that hangs.
4. ``predict`` on ``x_test``: the predicted labels (argmax) and a summary of the outputs.

The held-out labels are never passed in: the trusted grader keeps them and computes accuracy
and the confusion matrix from the labels returned here. Everything returned is plain data.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

INPUT_SHAPE = (8, 8, 1)
NUM_CLASSES = 10
#: Layer types the lab asks for (Keras class names; subclasses count).
REQUIRED_LAYERS = ("Conv2D", "MaxPooling2D", "BatchNormalization", "Dropout")
_MAX_LAYERS_LISTED = 200
#: Batches timed after the first one (which also traces the graph) to project training's cost.
PROBE_BATCHES = 5
#: Training stops at once when its projected CPU cost is over this multiple of the budget.
PROJECTION_MARGIN = 2.0


def train_and_predict(
    namespace: dict[str, Any],
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    fallback_train: np.ndarray,
    fallback_test: np.ndarray,
    *,
    seed: int,
    epochs: int,
    batch_size: int,
    max_params: int,
    cpu_budget: float,
) -> dict[str, Any]:
    """The report described in the module docstring: a dict of plain data."""
    import keras

    report: dict[str, Any] = {"preprocess": {}, "model": {}, "training": {}, "output": {},
                              "predictions": None}
    keras.utils.set_random_seed(int(seed))
    inputs = _inputs(namespace, x_train, x_test, fallback_train, fallback_test, report["preprocess"])
    model = _model(namespace, inputs[1][:2], report["model"])
    if model is None:
        return report
    if report["model"]["params"] > max_params:
        report["model"]["too_large"] = True
        return report
    if not _train(model, inputs[0], y_train, epochs=epochs, batch_size=batch_size,
                  cpu_budget=cpu_budget, out=report["training"]):
        return report
    _predict(model, inputs[1], report)
    return report


# -- 1. preprocessing ----------------------------------------------------------------------------


def _inputs(namespace: dict[str, Any], x_train: np.ndarray, x_test: np.ndarray, fallback_train: np.ndarray,
            fallback_test: np.ndarray, out: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The student's preprocessed (train, test) inputs, or the fallback ones, and why."""
    try:
        train = _usable(_call(namespace, "preprocess", x_train.copy()), len(x_train))
        test = _usable(_call(namespace, "preprocess", x_test.copy()), len(x_test))
    except Exception as exc:
        out["fallback"] = _describe(exc)
        return fallback_train, fallback_test
    out["fallback"] = ""
    out["dtype"] = str(train.dtype)
    return train, test


def _usable(value: Any, n: int) -> np.ndarray:
    """``value`` as a float array of shape (n, 8, 8, 1) with finite values, or ValueError."""
    arr = np.asarray(value)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"preprocess returned {type(value).__name__} of dtype {arr.dtype}, not numbers")
    if arr.shape != (n, *INPUT_SHAPE):
        raise ValueError(f"preprocess returned shape {arr.shape}, expected {(n, *INPUT_SHAPE)}")
    if not np.isfinite(arr).all():
        raise ValueError("preprocess returned NaN or infinite values")
    return arr if np.issubdtype(arr.dtype, np.floating) else arr.astype(np.float32)


# -- 2. the model --------------------------------------------------------------------------------


def _model(namespace: dict[str, Any], sample: np.ndarray, out: dict[str, Any]) -> Any:
    """The student's built model (None if there is none to train) and its description."""
    import keras

    out["error"] = ""
    start = time.monotonic()
    try:
        model = _call(namespace, "build_cnn", INPUT_SHAPE, NUM_CLASSES)
    except Exception as exc:
        out["error"] = f"build_cnn failed: {_describe(exc)}"
        return None
    out["type"] = _type_name(model)
    out["is_keras_model"] = isinstance(model, keras.Model)
    if not out["is_keras_model"]:
        out["error"] = f"build_cnn returned {out['type']}, not a keras.Model"
        return None
    try:
        out.update(_compile_settings(model))
    except Exception as exc:
        out["error"] = f"reading or completing your model's compile settings failed: {_describe(exc)}"
        return None
    try:  # builds a model declared without an Input
        output = np.asarray(model(sample, training=False), dtype=np.float64)
        out["output_shape"] = [int(d) for d in output.shape]
        if output.ndim == 2 and np.isfinite(output).all():
            out["sample_min"] = float(output.min())
            out["sample_row_sums"] = [float(v) for v in output.sum(axis=1)]
        out["params"] = int(model.count_params())
        out["trainable_params"] = int(sum(int(np.prod(w.shape)) for w in model.trainable_weights))
    except Exception as exc:
        out["error"] = f"calling your model on a batch of 2 images failed: {_describe(exc)}"
        return None
    layers = _all_layers(model)
    out["layers"] = [_type_name(layer, short=True) for layer in layers][:_MAX_LAYERS_LISTED]
    out["required"] = {name: any(isinstance(layer, getattr(keras.layers, name)) for layer in layers)
                       for name in REQUIRED_LAYERS}
    out["build_seconds"] = round(time.monotonic() - start, 3)
    return model


def _compile_settings(model: Any) -> dict[str, Any]:
    """Whether the model was compiled, with what loss and optimizer; compiles it if not."""
    import keras

    compiled = bool(getattr(model, "compiled", False)) and getattr(model, "optimizer", None) is not None
    settings: dict[str, Any] = {"compiled": compiled, "loss": "", "from_logits": None, "optimizer": "",
                                "learning_rate": None}
    if not compiled:
        model.compile(optimizer=keras.optimizers.Adam(), loss=keras.losses.SparseCategoricalCrossentropy(),
                      metrics=["accuracy"])
        return settings
    loss = getattr(model, "loss", None)
    if isinstance(loss, str):
        settings["loss"] = loss
    elif isinstance(loss, keras.losses.Loss):
        settings["loss"] = type(loss).__name__
        config = _safe(loss.get_config, {})
        if isinstance(config, dict) and isinstance(config.get("from_logits"), bool):
            settings["from_logits"] = config["from_logits"]
    elif callable(loss):
        settings["loss"] = str(getattr(loss, "__name__", type(loss).__name__))
    else:
        settings["loss"] = _type_name(loss)
    optimizer = model.optimizer
    settings["optimizer"] = type(optimizer).__name__
    rate = _safe(lambda: float(np.asarray(optimizer.learning_rate)), None)
    settings["learning_rate"] = rate if isinstance(rate, float) else None
    return settings


def _all_layers(model: Any) -> list[Any]:
    """Every layer, nested models' layers included (depth first)."""
    found, stack, seen = [], list(reversed(_safe(lambda: list(model.layers), []))), set()
    while stack and len(found) < 10_000:
        layer = stack.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        found.append(layer)
        stack.extend(reversed(_safe(lambda layer=layer: list(getattr(layer, "layers", None) or []), [])))
    return found


# -- 3. training -----------------------------------------------------------------------------------


def _train(model: Any, x: np.ndarray, y: np.ndarray, *, epochs: int, batch_size: int, cpu_budget: float,
           out: dict[str, Any]) -> bool:
    total_batches = int(epochs) * -(-len(x) // max(int(batch_size), 1))
    budget = _cpu_budget(cpu_budget, total_batches)
    out.update(error="", epochs=int(epochs), batch_size=int(batch_size), cpu_budget=float(cpu_budget))
    start, cpu_start = time.monotonic(), time.process_time()
    try:
        history = model.fit(x, y, epochs=int(epochs), batch_size=int(batch_size), shuffle=True, verbose=0,
                            callbacks=[budget])
    except Exception as exc:
        out["error"] = _describe(exc)
        return False
    finally:
        out["seconds"] = round(time.monotonic() - start, 3)
        out["cpu_seconds"] = round(time.process_time() - cpu_start, 3)
        out["stopped_for_time"] = bool(budget.stopped)
        out["stop_reason"] = budget.stopped
        out["projected_cpu_seconds"] = budget.projected
        out["batches_done"] = budget.batches
        out["epochs_done"] = budget.epochs_done
    logs = getattr(history, "history", {}) or {}
    out["loss"] = [float(v) for v in logs.get("loss", [])]
    out["accuracy"] = [float(v) for v in logs.get("accuracy", logs.get("acc", []))]
    return True


def _cpu_budget(cpu_budget: float, total_batches: int) -> Any:
    """A Keras callback that stops training past ``cpu_budget`` CPU seconds of this process, or
    at once when the first batches show that all ``total_batches`` would take far more."""
    import keras

    class CpuBudget(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.start = time.process_time()
            self.probe_start = 0.0
            self.batches = 0
            self.epochs_done = 0
            self.projected: float | None = None
            self.stopped = ""  # "", "budget" or "projected"

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            now = time.process_time()
            self.batches += 1
            if self.batches == 1:  # the first batch also traces the training step: not timed
                self.probe_start = now
            elif self.batches == 1 + PROBE_BATCHES:
                per_batch = (now - self.probe_start) / PROBE_BATCHES
                self.projected = round(now - self.start + per_batch * (total_batches - self.batches), 1)
                if self.projected > PROJECTION_MARGIN * cpu_budget:
                    self._stop("projected")
            if now - self.start > cpu_budget:
                self._stop("budget")

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            self.epochs_done = epoch + 1

        def _stop(self, why: str) -> None:
            self.stopped = self.stopped or why
            self.model.stop_training = True

    return CpuBudget()


# -- 4. predictions ------------------------------------------------------------------------------


def _predict(model: Any, x: np.ndarray, report: dict[str, Any]) -> None:
    out = report["output"]
    start = time.monotonic()
    try:
        probs = np.asarray(model.predict(x, batch_size=256, verbose=0), dtype=np.float64)
    except Exception as exc:
        out["error"] = f"predict failed: {_describe(exc)}"
        return
    out.update(error="", shape=[int(d) for d in probs.shape], finite=bool(np.isfinite(probs).all()),
               seconds=round(time.monotonic() - start, 3))
    if probs.ndim != 2 or probs.shape[0] != len(x) or not out["finite"]:
        return
    sums = probs.sum(axis=1)
    out.update(min=float(probs.min()), max=float(probs.max()), row_sum_min=float(sums.min()),
               row_sum_max=float(sums.max()))
    report["predictions"] = probs.argmax(axis=1).astype(np.int64)


# -- helpers ----------------------------------------------------------------------------------------


def _call(namespace: dict[str, Any], name: str, *args: Any) -> Any:
    func = namespace.get(name)
    if not callable(func):
        raise NameError(f"{name} is not defined in your notebook")
    return func(*args)


def _describe(exc: BaseException) -> str:
    """'ValueError: ... (in build_cnn, line 12)', the worker's own wording."""
    from grader.sandbox.worker import describe

    return describe(exc)


def _safe(fn: Any, default: Any) -> Any:
    try:
        return fn()
    except Exception:
        return default


def _type_name(obj: Any, *, short: bool = False) -> str:
    cls = type(obj)
    name = str(getattr(cls, "__name__", "?"))
    module = str(getattr(cls, "__module__", ""))
    if short or module in ("builtins", "__main__") or not module:
        return name[:80]
    return f"{module.split('.')[0]}.{name}"[:80]
