"""cnn_ref keeps the student-facing contract (DESIGN.md) and its own house rules."""

from __future__ import annotations

import ast
import inspect
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cnn_ref

TESTS = Path(__file__).parent
CNN_REF = Path(cnn_ref.__file__).parent
MAX_BODY_LINES = 30   # "about 30 lines or fewer" for a function, docstring excluded

# The contract: name -> parameters with their defaults (DESIGN.md, "Student-facing API").
CONTRACT = {
    "conv_single_step": "patch, kernel, bias=0.0",
    "zero_pad": "x, pad",
    "conv2d": "x, w, b=None, stride=1, padding='valid'",
    "conv_output_size": "n, k, stride=1, padding='valid'",
    "same_padding": "n, k, stride=1",
    "pool_output_size": "n, pool_size=2, stride=None, padding='valid'",
    "layer_output_shapes": "input_shape, layers",
    "count_params": "input_shape, layers",
    "max_pool2d": "x, pool_size=2, stride=None, padding='valid'",
    "avg_pool2d": "x, pool_size=2, stride=None, padding='valid'",
    "batch_norm": "x, gamma, beta, moving_mean, moving_var, training, momentum=0.99, epsilon=0.001",
    "dropout": "x, rate, training, seed=None",
    "confusion_matrix": "y_true, y_pred, labels=None",
    "binary_counts": "y_true, y_pred, positive=1",
    "accuracy": "y_true, y_pred",
    "precision": "y_true, y_pred, positive=1, zero_division=0.0",
    "recall": "y_true, y_pred, positive=1, zero_division=0.0",
    "f1_score": "y_true, y_pred, positive=1, zero_division=0.0",
    "sigmoid": "z",
    "tanh": "z",
    "relu": "z",
    "leaky_relu": "z, alpha=0.2",
    "softmax": "z, axis=-1",
    "mse": "y_true, y_pred",
    "binary_cross_entropy": "y_true, p, eps=1e-07",
    "categorical_cross_entropy": "y_true, p, eps=1e-07",
    "gradient_descent": "x, y, lr=0.1, steps=100",
    "xor_network": "",
}
NAIVE_TWINS = {"conv2d_naive": "conv2d", "max_pool2d_naive": "max_pool2d", "avg_pool2d_naive": "avg_pool2d",
               "batch_norm_naive": "batch_norm", "confusion_matrix_naive": "confusion_matrix"}


def _params(fn) -> str:
    return ", ".join(p.name if p.default is inspect.Parameter.empty else f"{p.name}={p.default!r}"
                     for p in inspect.signature(fn).parameters.values())


def test_every_contract_function_is_exported():
    assert set(CONTRACT) <= set(cnn_ref.__all__)
    assert set(NAIVE_TWINS) <= set(cnn_ref.__all__)
    assert len(cnn_ref.__all__) == len(set(cnn_ref.__all__))
    for name in cnn_ref.__all__:
        assert callable(getattr(cnn_ref, name)), name


@pytest.mark.parametrize("name", CONTRACT)
def test_signature_matches_contract(name):
    assert _params(getattr(cnn_ref, name)) == CONTRACT[name]


@pytest.mark.parametrize("name", NAIVE_TWINS)
def test_naive_twin_has_the_fast_signature(name):
    assert _params(getattr(cnn_ref, name)) == _params(getattr(cnn_ref, NAIVE_TWINS[name]))


@pytest.mark.parametrize("name", cnn_ref.__all__)
def test_public_function_is_typed_and_documented(name):
    fn = getattr(cnn_ref, name)
    assert inspect.getdoc(fn), f"{name} has no docstring"
    hints = fn.__annotations__
    missing = [p for p in inspect.signature(fn).parameters if p not in hints]
    assert not missing and "return" in hints, f"{name} lacks type hints for {missing or 'return'}"


def _functions(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            doc = ast.get_docstring(node, clean=False)
            doc_lines = len(doc.splitlines()) if doc else 0
            yield node.name, node.end_lineno - node.lineno + 1 - doc_lines


@pytest.mark.parametrize("path", sorted(CNN_REF.glob("*.py")), ids=lambda p: p.name)
def test_functions_are_small(path):
    long = {name: n for name, n in _functions(path) if n > MAX_BODY_LINES}
    assert not long, f"split into named helpers: {long}"


@pytest.mark.parametrize("path", sorted(CNN_REF.glob("*.py")), ids=lambda p: p.name)
def test_no_global_rng_and_no_asserts(path):
    source = path.read_text()
    assert not re.search(r"np\.random\.(?!default_rng\b)", source), "use np.random.default_rng(seed)"
    assert not any(isinstance(node, ast.Assert) for node in ast.walk(ast.parse(source))), "raise ValueError"


def test_cnn_ref_import_is_light():
    """Fact: importing TensorFlow costs seconds and ~500 MB; graders import cnn_ref on every run."""
    code = ("import sys, cnn_ref; heavy = {'tensorflow', 'keras', 'sklearn', 'scipy', 'matplotlib'}; "
            "print(sorted(heavy & set(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def _fresh_arrays(seed: int):
    rng = np.random.default_rng(seed)
    return {
        "x": rng.normal(size=(2, 5, 6, 3)), "w": rng.normal(size=(3, 2, 3, 4)), "b": rng.normal(size=4),
        "gamma": rng.normal(size=3), "beta": rng.normal(size=3), "mean": rng.normal(size=3),
        "var": rng.uniform(0.5, 2, size=3), "y": rng.integers(0, 3, size=9), "y_hat": rng.integers(0, 3, size=9),
        "p": rng.uniform(size=(9, 3)), "onehot": np.eye(3)[rng.integers(0, 3, size=9)],
    }


def _calls(a):
    return [
        lambda: cnn_ref.conv2d(a["x"], a["w"], a["b"], stride=2, padding="same"),
        lambda: cnn_ref.conv2d_naive(a["x"], a["w"], a["b"], stride=2, padding=1),
        lambda: cnn_ref.zero_pad(a["x"], 2),
        lambda: cnn_ref.max_pool2d(a["x"], 3, 2, "same"),
        lambda: cnn_ref.avg_pool2d(a["x"], 3, 2, "same"),
        lambda: cnn_ref.batch_norm(a["x"], a["gamma"], a["beta"], a["mean"], a["var"], True),
        lambda: cnn_ref.batch_norm(a["x"], a["gamma"], a["beta"], a["mean"], a["var"], False),
        lambda: cnn_ref.dropout(a["x"], 0.5, True, seed=0),
        lambda: cnn_ref.confusion_matrix(a["y"], a["y_hat"], labels=[2, 0]),
        lambda: cnn_ref.softmax(a["p"]),
        lambda: cnn_ref.sigmoid(a["p"]),
        lambda: cnn_ref.categorical_cross_entropy(a["onehot"], a["p"]),
        lambda: cnn_ref.binary_cross_entropy(a["onehot"], a["p"]),
    ]


def test_functions_do_not_mutate_their_inputs():
    arrays, originals = _fresh_arrays(0), _fresh_arrays(0)
    for call in _calls(arrays):
        call()
    for key, value in arrays.items():
        np.testing.assert_array_equal(value, originals[key], err_msg=key)


def test_inference_batch_norm_returns_copies_of_moving_stats():
    a = _fresh_arrays(1)
    _, mean, var = cnn_ref.batch_norm(a["x"], a["gamma"], a["beta"], a["mean"], a["var"], training=False)
    mean[:] = 0.0
    var[:] = 0.0
    assert np.all(a["mean"] != 0.0) and np.all(a["var"] != 0.0)


ORACLE_FILES = ["test_cnn_ref_conv_tf.py", "test_cnn_ref_pool_tf.py", "test_cnn_ref_bn_dropout_keras.py",
                "test_cnn_ref_recap_keras.py", "test_cnn_ref_models_keras.py", "test_cnn_ref_metrics_sklearn.py"]


@pytest.mark.parametrize("name", cnn_ref.__all__)
def test_every_op_has_an_oracle_cross_check(name):
    """Meta-test: each exported op is called in a file that compares with TF/Keras/sklearn."""
    sources = "\n".join((TESTS / f).read_text() for f in ORACLE_FILES)
    assert re.search(rf"cnn_ref\.{name}\b", sources), f"no TF/Keras/sklearn test uses cnn_ref.{name}"
