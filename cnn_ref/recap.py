"""Recap: activations, losses (Keras conventions), gradient descent and an XOR network.

Activations are stable for |z| ~ 1000 (no overflow, no floating-point warnings); the
cross-entropies clip probabilities to ``[eps, 1 - eps]`` like Keras (``eps = 1e-7``) and
every loss averages over the batch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._checks import as_float_array, as_int, check_same_shape, is_number

__all__ = [
    "binary_cross_entropy",
    "categorical_cross_entropy",
    "gradient_descent",
    "leaky_relu",
    "mse",
    "relu",
    "sigmoid",
    "softmax",
    "tanh",
    "xor_forward",
    "xor_network",
]

XOR_INPUTS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])


def sigmoid(z: Any) -> np.ndarray:
    """``1 / (1 + exp(-z))`` elementwise, computed from ``exp(-|z|)`` so nothing overflows."""
    z = as_float_array(z, "z")
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def tanh(z: Any) -> np.ndarray:
    """Hyperbolic tangent elementwise (``np.tanh`` saturates to +-1 without warnings)."""
    return np.tanh(as_float_array(z, "z"))


def relu(z: Any) -> np.ndarray:
    """``max(z, 0)`` elementwise."""
    return np.maximum(as_float_array(z, "z"), 0.0)


def leaky_relu(z: Any, alpha: float = 0.2) -> np.ndarray:
    """``z`` where ``z >= 0``, else ``alpha * z`` (0.2 as ``keras.activations.leaky_relu``)."""
    z = as_float_array(z, "z")
    return np.where(z >= 0, z, alpha * z)


def softmax(z: Any, axis: int = -1) -> np.ndarray:
    """``exp(z) / sum(exp(z))`` along ``axis``, shifted by the maximum so nothing overflows."""
    z = as_float_array(z, "z")
    if z.ndim == 0:
        raise ValueError("z must have at least one axis to take the softmax over, got a scalar")
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _loss_inputs(y_true: Any, y_pred: Any, pred_name: str) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_pred = as_float_array(y_true, "y_true"), as_float_array(y_pred, pred_name)
    check_same_shape(y_true, y_pred, "y_true", pred_name)
    if y_true.size == 0:
        raise ValueError("y_true is empty; a loss needs at least one sample")
    return y_true, y_pred


def _check_eps(eps: Any) -> float:
    if not is_number(eps) or not 0.0 < eps < 0.5:
        raise ValueError(f"eps must be a number in (0, 0.5), got {eps!r}")
    return float(eps)


def mse(y_true: Any, y_pred: Any) -> float:
    """Mean squared error over every element (= Keras' mean over the batch of per-sample means)."""
    y_true, y_pred = _loss_inputs(y_true, y_pred, "y_pred")
    return float(np.mean((y_true - y_pred) ** 2))


def binary_cross_entropy(y_true: Any, p: Any, eps: float = 1e-7) -> float:
    """``mean(-(y log p + (1 - y) log(1 - p)))`` with ``p`` clipped to ``[eps, 1 - eps]``.

    y_true, p: same shape, e.g. (N,) or (N, 1). p = 0 for a true 1 costs ``-ln(1e-7) = 16.118``.
    """
    y_true, p = _loss_inputs(y_true, p, "p")
    eps = _check_eps(eps)
    p = np.clip(p, eps, 1.0 - eps)
    return float(np.mean(-(y_true * np.log(p) + (1.0 - y_true) * np.log(1.0 - p))))


def categorical_cross_entropy(y_true: Any, p: Any, eps: float = 1e-7) -> float:
    """``mean over rows of -sum(y * log p)``, as Keras: rows of ``p`` divided by their sum, then clipped.

    y_true: (N, K) one-hot; p: (N, K) probabilities (a single row (K,) is one sample).
    """
    y_true, p = _loss_inputs(y_true, p, "p")
    eps = _check_eps(eps)
    totals = np.sum(p, axis=-1, keepdims=True)
    if np.any(totals == 0):
        raise ValueError("p has a row that sums to 0; each row must hold probabilities")
    p = np.clip(p / totals, eps, 1.0 - eps)
    return float(np.mean(-np.sum(y_true * np.log(p), axis=-1)))


def gradient_descent(x: Any, y: Any, lr: float = 0.1, steps: int = 100) -> tuple[float, float]:
    """Fit ``y = w x + b`` by full-batch gradient descent on ``mean((w x + b - y)^2)``.

    x, y: (n,). Starts at ``w = b = 0``; each step updates both with the gradients
    ``2 mean(err x)`` and ``2 mean(err)`` (simultaneously). Returns ``(w, b)`` as floats.
    """
    x, y = as_float_array(x, "x"), as_float_array(y, "y")
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"x must be 1-D (n,) and non-empty, got shape {x.shape}")
    check_same_shape(x, y, "x", "y")
    steps = as_int(steps, "steps", minimum=0)
    if not is_number(lr) or not lr > 0:
        raise ValueError(f"lr must be a number > 0, got {lr!r}")
    w = b = 0.0
    for _ in range(steps):
        err = w * x + b - y
        w, b = w - lr * 2.0 * float(np.mean(err * x)), b - lr * 2.0 * float(np.mean(err))
    return float(w), float(b)


def xor_network() -> dict[str, np.ndarray]:
    """Weights of a 2-2-1 network computing XOR: ``W1 (2, 2), b1 (2,), W2 (2, 1), b2 (1,)``.

    Hidden units ``relu(x1 + x2)`` and ``relu(x1 + x2 - 1)``; output
    ``sigmoid(10 h1 - 20 h2 - 5)`` gives about 0.007 / 0.993 / 0.993 / 0.007.
    """
    return {
        "W1": np.array([[1.0, 1.0], [1.0, 1.0]]),
        "b1": np.array([0.0, -1.0]),
        "W2": np.array([[10.0], [-20.0]]),
        "b2": np.array([-5.0]),
    }


def xor_forward(params: dict[str, Any], x: Any = XOR_INPUTS) -> np.ndarray:
    """``sigmoid(relu(x @ W1 + b1) @ W2 + b2)``: x (n, 2) -> (n, 1) probabilities."""
    x = as_float_array(x, "x")
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"x must have shape (n, 2), got {x.shape}")
    hidden = relu(x @ as_float_array(params["W1"], "W1") + as_float_array(params["b1"], "b1"))
    return sigmoid(hidden @ as_float_array(params["W2"], "W2") + as_float_array(params["b2"], "b2"))
