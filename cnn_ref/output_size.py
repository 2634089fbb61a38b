"""Output-size and padding arithmetic: the ONE place conv and pool both call.

Per spatial axis, with input size ``n``, window ``k`` and stride ``s`` (TensorFlow rules):

- VALID:    ``out = floor((n - k) / s) + 1``; ``k > n`` is an error.
- SAME:     ``out = ceil(n / s)``; total padding ``max((out - 1) * s + k - n, 0)`` split
            ``before = total // 2``, ``after = total - before`` (the odd cell goes after).
- explicit: ``(before, after)`` zeros, then ``out = floor((n + before + after - k) / s) + 1``;
            an int ``p`` means ``(p, p)``.

``layer_output_shapes`` / ``count_params`` walk a Keras-like list of layer dicts with
the same arithmetic, without allocating any array.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from ._checks import as_int, as_pair, is_number

__all__ = [
    "AxisPlan",
    "conv_output_size",
    "count_params",
    "layer_output_shapes",
    "normalize_padding",
    "plan_axis",
    "plan_windows_2d",
    "pool_output_size",
    "same_padding",
]

Pads2D = tuple[tuple[int, int], tuple[int, int]]
Padding = str | int | tuple[int, int] | Pads2D


class AxisPlan(NamedTuple):
    """How a sliding window covers one axis: zeros added before/after and the output size."""

    before: int
    after: int
    out: int


def _padding_word(padding: str, name: str) -> str:
    word = padding.lower()
    if word not in ("valid", "same"):
        raise ValueError(f"{name} must be 'valid' or 'same' (any case), got {padding!r}")
    return word


def _pads_pair(value: Any, name: str) -> tuple[int, int]:
    """A non-negative int ``p`` -> ``(p, p)``; a pair -> itself."""
    if isinstance(value, tuple | list):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a (before, after) pair, got {value!r}")
        return as_int(value[0], f"{name}[0]", minimum=0), as_int(value[1], f"{name}[1]", minimum=0)
    p = as_int(value, name, minimum=0)
    return p, p


def normalize_padding(padding: Any, name: str = "padding") -> str | Pads2D:
    """``'valid'``/``'same'`` (lower-cased) or explicit ``((top, bottom), (left, right))``.

    Accepts a string in any case, an int (all four sides), a pair ``(ph, pw)`` (symmetric
    per axis) or ``((top, bottom), (left, right))``. Negative sizes are refused.
    """
    if isinstance(padding, str):
        return _padding_word(padding, name)
    if isinstance(padding, tuple | list):
        if len(padding) != 2:
            raise ValueError(f"{name} must be 'valid', 'same', an int or "
                             f"((top, bottom), (left, right)), got {padding!r}")
        return _pads_pair(padding[0], f"{name}[0]"), _pads_pair(padding[1], f"{name}[1]")
    p = as_int(padding, name, minimum=0)
    return (p, p), (p, p)


def same_padding(n: int, k: int, stride: int = 1) -> tuple[int, int]:
    """``(before, after)`` zeros TensorFlow's SAME adds to an axis of size ``n``.

    ``out = ceil(n / stride)``, ``total = max((out - 1) * stride + k - n, 0)``,
    ``before = total // 2``, ``after = total - before``. E.g. ``(5, 2, 2) -> (0, 1)``.
    """
    n, k, stride = as_int(n, "n"), as_int(k, "k"), as_int(stride, "stride")
    total = max((-(-n // stride) - 1) * stride + k - n, 0)
    return total // 2, total - total // 2


def plan_axis(n: int, k: int, stride: int, padding: str | tuple[int, int], *,
              window: str = "kernel", axis: str = "size") -> AxisPlan:
    """Padding and output size of a window ``k`` sliding with ``stride`` over ``n`` cells.

    ``padding`` is ``'valid'``, ``'same'`` or ``(before, after)``. Raises ValueError when
    the window does not fit in the padded input (``window``/``axis`` name it in the message).
    """
    if padding == "same":
        before, after = same_padding(n, k, stride)
    elif padding == "valid":
        before, after = 0, 0
    else:
        before, after = padding
    padded = n + before + after
    if k > padded:
        raise ValueError(f"{window} {axis} {k} is larger than the padded input {axis} "
                         f"{padded} (input {axis} {n}, padding {padding!r})")
    return AxisPlan(before, after, (padded - k) // stride + 1)


def plan_windows_2d(hw: tuple[int, int], window: tuple[int, int], stride: tuple[int, int],
                    padding: str | Pads2D, *, window_name: str = "kernel") -> tuple[AxisPlan, AxisPlan]:
    """``plan_axis`` for height and width. ``padding``: output of ``normalize_padding``."""
    pads = (padding, padding) if isinstance(padding, str) else padding
    return (plan_axis(hw[0], window[0], stride[0], pads[0], window=window_name, axis="height"),
            plan_axis(hw[1], window[1], stride[1], pads[1], window=window_name, axis="width"))


def conv_output_size(n: int, k: int, stride: int = 1, padding: str | int | tuple[int, int] = "valid") -> int:
    """Output length of a convolution over ``n`` cells with kernel ``k``.

    ``padding``: ``'valid'``, ``'same'``, an int ``p`` per side (``floor((n + 2p - k) / s) + 1``)
    or ``(before, after)``.
    """
    n, k, stride = as_int(n, "n"), as_int(k, "k"), as_int(stride, "stride")
    pads = _padding_word(padding, "padding") if isinstance(padding, str) else _pads_pair(padding, "padding")
    return plan_axis(n, k, stride, pads).out


def pool_output_size(n: int, pool_size: int = 2, stride: int | None = None, padding: str = "valid") -> int:
    """Output length of pooling ``n`` cells; ``stride=None`` means ``stride = pool_size``."""
    n, pool_size = as_int(n, "n"), as_int(pool_size, "pool_size")
    stride = pool_size if stride is None else as_int(stride, "stride")
    if not isinstance(padding, str):
        raise ValueError(f"padding must be 'valid' or 'same' for pooling, got {padding!r}")
    return plan_axis(n, pool_size, stride, _padding_word(padding, "padding"),
                     window="pool_size").out


# --- layer specs ---------------------------------------------------------------------------

LayerRule = Callable[[tuple[int, ...], Mapping[str, Any], str], tuple[tuple[int, ...], int]]
_IGNORED_KEYS = frozenset({"type", "name", "activation"})


def _check_keys(spec: Mapping[str, Any], where: str, allowed: set[str], required: set[str]) -> None:
    unknown = set(spec) - allowed - _IGNORED_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {sorted(unknown)}; expected some of {sorted(allowed)}")
    missing = required - set(spec)
    if missing:
        raise ValueError(f"{where}: missing key(s) {sorted(missing)}")


def _image_shape(shape: tuple[int, ...], where: str) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise ValueError(f"{where} needs an input of shape (H, W, C), got {shape}")
    return shape[0], shape[1], shape[2]


def _window_layer(shape: tuple[int, ...], window: tuple[int, int], strides: tuple[int, int],
                  padding: Any, where: str, window_name: str) -> tuple[int, int]:
    if not isinstance(padding, str):
        raise ValueError(f"{where}: padding must be 'valid' or 'same', got {padding!r}")
    h, w, _ = _image_shape(shape, where)
    plan_h, plan_w = plan_windows_2d((h, w), window, strides, _padding_word(padding, f"{where}: padding"),
                                     window_name=f"{where}: {window_name}")
    return plan_h.out, plan_w.out


def _conv2d_rule(shape: tuple[int, ...], spec: Mapping[str, Any], where: str) -> tuple[tuple[int, ...], int]:
    """Conv2D: ``(H, W, C) -> (Ho, Wo, filters)``; ``KH*KW*C*filters (+ filters)`` params."""
    _check_keys(spec, where, {"filters", "kernel_size", "strides", "padding", "use_bias"},
                {"filters", "kernel_size"})
    filters = as_int(spec["filters"], f"{where}: filters")
    kernel = as_pair(spec["kernel_size"], f"{where}: kernel_size")
    strides = as_pair(spec.get("strides", 1), f"{where}: strides")
    out_hw = _window_layer(shape, kernel, strides, spec.get("padding", "valid"), where, "kernel_size")
    bias = filters if spec.get("use_bias", True) else 0
    return (*out_hw, filters), kernel[0] * kernel[1] * shape[-1] * filters + bias


def _pool2d_rule(shape: tuple[int, ...], spec: Mapping[str, Any], where: str) -> tuple[tuple[int, ...], int]:
    """Max/average pooling: ``(H, W, C) -> (Ho, Wo, C)``; strides default to ``pool_size``."""
    _check_keys(spec, where, {"pool_size", "strides", "padding"}, set())
    pool = as_pair(spec.get("pool_size", 2), f"{where}: pool_size")
    strides = spec.get("strides")
    strides = pool if strides is None else as_pair(strides, f"{where}: strides")
    out_hw = _window_layer(shape, pool, strides, spec.get("padding", "valid"), where, "pool_size")
    return (*out_hw, shape[-1]), 0


def _flatten_rule(shape: tuple[int, ...], spec: Mapping[str, Any], where: str) -> tuple[tuple[int, ...], int]:
    """Flatten: ``(d1, ..., dk) -> (d1 * ... * dk,)``."""
    _check_keys(spec, where, set(), set())
    return (math.prod(shape),), 0


def _dense_rule(shape: tuple[int, ...], spec: Mapping[str, Any], where: str) -> tuple[tuple[int, ...], int]:
    """Dense on the last axis: ``(..., d) -> (..., units)``; ``d*units (+ units)`` params."""
    _check_keys(spec, where, {"units", "use_bias"}, {"units"})
    units = as_int(spec["units"], f"{where}: units")
    bias = units if spec.get("use_bias", True) else 0
    return (*shape[:-1], units), shape[-1] * units + bias


def _dropout_rule(shape: tuple[int, ...], spec: Mapping[str, Any], where: str) -> tuple[tuple[int, ...], int]:
    """Dropout: shape unchanged, no parameters."""
    _check_keys(spec, where, {"rate"}, set())
    rate = spec.get("rate", 0.0)
    if not is_number(rate) or not 0.0 <= rate <= 1.0:
        raise ValueError(f"{where}: rate must be a number in [0, 1], got {rate!r}")
    return shape, 0


def _batch_norm_rule(shape: tuple[int, ...], spec: Mapping[str, Any], where: str) -> tuple[tuple[int, ...], int]:
    """BatchNormalization (axis -1): shape unchanged; gamma, beta, moving mean and variance."""
    _check_keys(spec, where, {"momentum", "epsilon"}, set())
    return shape, 4 * shape[-1]


_RULES: dict[str, LayerRule] = {
    "conv2d": _conv2d_rule,
    "maxpool2d": _pool2d_rule, "maxpooling2d": _pool2d_rule,
    "avgpool2d": _pool2d_rule, "averagepooling2d": _pool2d_rule,
    "flatten": _flatten_rule,
    "dense": _dense_rule,
    "dropout": _dropout_rule,
    "batchnorm": _batch_norm_rule, "batchnormalization": _batch_norm_rule,
}


def _walk(input_shape: Sequence[int], layers: Sequence[Mapping[str, Any]]) -> list[tuple[tuple[int, ...], int]]:
    """``(output_shape, params)`` of every layer in turn."""
    if not isinstance(input_shape, tuple | list) or not input_shape:
        raise ValueError(f"input_shape must be a non-empty tuple such as (28, 28, 1), got {input_shape!r}")
    shape = tuple(as_int(d, f"input_shape[{i}]") for i, d in enumerate(input_shape))
    walked = []
    for i, spec in enumerate(layers):
        kind = spec.get("type") if isinstance(spec, Mapping) else None
        rule = _RULES.get(kind.lower().replace("_", "")) if isinstance(kind, str) else None
        if rule is None:
            raise ValueError(f"layers[{i}] must be a dict whose 'type' is one of conv2d, max_pool2d, "
                             f"avg_pool2d, flatten, dense, dropout, batch_norm; got {spec!r}")
        shape, params = rule(shape, spec, f"layers[{i}] ({kind})")
        walked.append((shape, params))
    return walked


def layer_output_shapes(input_shape: Sequence[int], layers: Sequence[Mapping[str, Any]]) -> list[tuple[int, ...]]:
    """Output shape (batch axis excluded) after each layer, as Keras reports them.

    ``layers``: dicts with Keras argument names, e.g. ``{"type": "conv2d", "filters": 32,
    "kernel_size": 3}``; defaults as Keras (conv strides 1, pool strides = pool_size,
    padding 'valid', use_bias True).
    """
    return [shape for shape, _ in _walk(input_shape, layers)]


def count_params(input_shape: Sequence[int], layers: Sequence[Mapping[str, Any]]) -> int:
    """Total parameters as ``keras.Model.count_params()`` (BN counts its moving statistics)."""
    return sum(params for _, params in _walk(input_shape, layers))
