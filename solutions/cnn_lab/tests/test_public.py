"""Public checks for the `cnn_lab` assignment: cheap, on your own machine, no training.

Run them with `dl101 check cnn_lab.ipynb` or from the notebook's last cell. They look at what
`preprocess` returns and at the model `build_cnn` returns. Grading then trains your model (10
epochs, batch size 32, a fixed seed) on a split of the digits and grades its accuracy and its
per-class recall on digits it has never seen.
"""

from __future__ import annotations

import numpy as np
import pytest

from grader.expect import as_array, fail

#: Three 8x8 "digits" with pixel values 0..16, as load_digits gives them (float64).
IMAGES = np.stack([np.arange(64).reshape(8, 8) % 17, np.full((8, 8), 16), np.zeros((8, 8))]).astype(np.float64)
REQUIRED_LAYERS = ("Conv2D", "MaxPooling2D", "BatchNormalization", "Dropout")
MAX_PARAMS = 100_000


def preprocessed(student) -> np.ndarray:
    return as_array(student.preprocess(IMAGES.copy()), what="preprocess(images)")


def class_names(obj) -> set[str]:
    """The class of ``obj`` and its base classes, by name (a subclass of Conv2D counts)."""
    return {cls.__name__ for cls in type(obj).__mro__}


def all_layers(model) -> list:
    found, stack = [], list(getattr(model, "layers", []))
    while stack:
        layer = stack.pop(0)
        found.append(layer)
        stack.extend(getattr(layer, "layers", None) or [])
    return found


def built_model(student):
    model = student.build_cnn((8, 8, 1), 10)
    if "Model" not in class_names(model):
        fail("build_cnn((8, 8, 1), 10)", f"expected a keras.Model, got {type(model).__name__}")
    return model


@pytest.mark.points(1)
def test_preprocess_shape_and_dtype(student):
    """preprocess: float32 array of shape (N, 8, 8, 1)"""
    got = preprocessed(student)
    if got.shape != (3, 8, 8, 1):
        fail("preprocess on 3 images of shape (8, 8)",
             f"expected shape (3, 8, 8, 1) (NHWC: one grey channel, last), got {got.shape}")
    if got.dtype != np.float32:
        fail("preprocess", f"expected dtype float32, got {got.dtype} (hint: .astype(np.float32))")


@pytest.mark.points(1)
def test_preprocess_range(student):
    """preprocess: pixels 0..16 become values in [0, 1]"""
    got = preprocessed(student).astype(np.float64).reshape(IMAGES.shape)
    if got.max() > 1 or got.min() < 0:
        fail("preprocess", f"values range over [{got.min():g}, {got.max():g}], expected [0, 1] "
                           "(hint: the pixels go from 0 to 16)")
    if not np.allclose(got, IMAGES / 16, atol=1e-6):
        fail("preprocess", "a pixel of value p should become p / 16, in the same position")


@pytest.mark.points(1)
def test_build_cnn_is_compiled(student):
    """build_cnn: returns a compiled Keras model"""
    model = built_model(student)
    if not getattr(model, "compiled", False) or getattr(model, "optimizer", None) is None:
        fail("build_cnn", "the model is not compiled: call model.compile(...) before returning it")
    loss = getattr(model, "loss", None)
    name = loss if isinstance(loss, str) else getattr(loss, "name", None) or type(loss).__name__
    if "sparse" not in str(name).lower().replace("_", ""):
        fail("build_cnn", f"the loss is {name!r}: the labels are integers 0..9, use "
                          "'sparse_categorical_crossentropy'")


@pytest.mark.points(1)
def test_build_cnn_has_the_required_layers(student):
    """build_cnn: Conv2D, MaxPooling2D, BatchNormalization and Dropout layers"""
    layers = all_layers(built_model(student))
    missing = [name for name in REQUIRED_LAYERS if not any(name in class_names(layer) for layer in layers)]
    if missing:
        fail("build_cnn", f"the model has no {', '.join(missing)} layer")


@pytest.mark.points(1)
def test_build_cnn_outputs_probabilities(student):
    """build_cnn: 10 softmax probabilities per image, at most 100,000 parameters"""
    model = built_model(student)
    output = np.asarray(model(np.zeros((2, 8, 8, 1), dtype=np.float32)))
    if output.shape != (2, 10):
        fail("build_cnn: the model's output for 2 images", f"expected shape (2, 10), got {output.shape}")
    if output.min() < 0 or not np.allclose(output.sum(axis=1), 1, atol=1e-4):
        fail("build_cnn", "the outputs are not probabilities: end with Dense(10, activation='softmax')")
    if model.count_params() > MAX_PARAMS:
        fail("build_cnn", f"{model.count_params():,} parameters, over the budget of {MAX_PARAMS:,}")
