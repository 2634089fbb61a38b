"""Convolution and pooling questions: output sizes, TensorFlow's SAME split, one conv step, pooling.

Every answer comes from ``cnn_ref`` (imported inside each generator: importing the bank stays cheap).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..model import Question
from ._fmt import code, distinct_mistakes, exact, exact_list, grid, num, pick, randint
from .registry import question

if TYPE_CHECKING:
    import numpy as np

SHAPE_FMT = "three integers (height, width, channels), e.g. (12, 15, 32)"
CHANNELS = (1, 3, 8, 16, 32, 64)
FILTERS = tuple(range(4, 129, 4))


def _kernel(rng: np.random.Generator) -> tuple[int, int]:
    kh = randint(rng, 1, 7)
    return (kh, kh) if rng.random() < 0.7 else (kh, randint(rng, 1, 7))


def _ks_text(kernel: tuple[int, int]) -> str:
    return str(kernel[0]) if kernel[0] == kernel[1] else f"({kernel[0]}, {kernel[1]})"


def _conv_call(filters: int, kernel: tuple[int, int], stride: int, padding: str | None) -> str:
    pad = "" if padding is None else f', padding="{padding}"'
    return f"Conv2D(filters={filters}, kernel_size={_ks_text(kernel)}, strides={stride}{pad})"


def _valid_size(n: int, k: int, s: int) -> int:
    return (n - k) // s + 1


def _shape_prompt(shape: tuple[int, int, int], layers: str) -> str:
    return (f"An input of shape `{shape}` (height, width, channels; the batch axis is left out) "
            f"goes through\n\n{code(layers, 'python')}\n\n"
            "What is the output shape `(height, width, channels)`?")


@question("conv_valid")
def conv_valid(rng: np.random.Generator) -> Question:
    import cnn_ref

    h, w, c = randint(rng, 8, 96), randint(rng, 8, 96), pick(rng, CHANNELS)
    kernel, s, f = _kernel(rng), randint(rng, 1, 3), pick(rng, FILTERS)
    layer = {"type": "conv2d", "filters": f, "kernel_size": kernel, "strides": s,
             "padding": "valid", "use_bias": True}
    answer = list(cnn_ref.layer_output_shapes((h, w, c), [layer])[-1])
    explanation = (
        "VALID adds no padding: `out = floor((n - k) / s) + 1` on each axis.\n\n"
        f"- height: floor(({h} - {kernel[0]}) / {s}) + 1 = {answer[0]}\n"
        f"- width: floor(({w} - {kernel[1]}) / {s}) + 1 = {answer[1]}\n"
        f"- channels = number of filters = {f}\n\n"
        f"Output shape: `{tuple(answer)}`.")
    mistakes = distinct_mistakes(answer, [
        ([math.ceil(h / s), math.ceil(w / s), f], "that is the SAME output size ceil(n / s); VALID adds no padding"),
        ([(h - kernel[0]) // s, (w - kernel[1]) // s, f], "forgot the + 1 (the first window position)"),
        ([answer[0], answer[1], c], "the output has one channel per filter, not the input's channels"),
        ([-(-(h - kernel[0]) // s) + 1, -(-(w - kernel[1]) // s) + 1, f],
         "rounded (n - k) / s up; a window that does not fit is dropped (floor)"),
    ])
    return Question(
        qid="", title="Conv2D output shape, VALID padding", kind="matrix",
        prompt=_shape_prompt((h, w, c), _conv_call(f, kernel, s, "valid")),
        answer=answer, explanation=explanation, points=1, fmt=SHAPE_FMT, mistakes=mistakes,
        params={"input": [h, w, c], "kernel": list(kernel), "stride": s, "filters": f})


@question("conv_same")
def conv_same(rng: np.random.Generator) -> Question:
    import cnn_ref

    s = randint(rng, 2, 3)
    h, w = randint(rng, 7, 96), randint(rng, 7, 96)
    while h % s == 0 and w % s == 0:
        w = randint(rng, 7, 96)
    c, kernel, f = pick(rng, CHANNELS), _kernel(rng), pick(rng, FILTERS)
    layer = {"type": "conv2d", "filters": f, "kernel_size": kernel, "strides": s,
             "padding": "same", "use_bias": True}
    answer = list(cnn_ref.layer_output_shapes((h, w, c), [layer])[-1])
    explanation = (
        "SAME pads so that `out = ceil(n / s)`, whatever the kernel size.\n\n"
        f"- height: ceil({h} / {s}) = {answer[0]}\n"
        f"- width: ceil({w} / {s}) = {answer[1]}\n"
        f"- channels = number of filters = {f}\n\n"
        f"Output shape: `{tuple(answer)}`.")
    mistakes = distinct_mistakes(answer, [
        ([h // s, w // s, f], "rounded n / s down; SAME rounds up: ceil(n / s)"),
        ([_valid_size(h, kernel[0], s), _valid_size(w, kernel[1], s), f],
         "that is the VALID size; SAME pads the input first"),
        ([answer[0], answer[1], c], "the output has one channel per filter, not the input's channels"),
        ([h, w, f], "SAME keeps the size only with stride 1; here out = ceil(n / s)"),
    ])
    return Question(
        qid="", title="Conv2D output shape, SAME padding, stride > 1", kind="matrix",
        prompt=_shape_prompt((h, w, c), _conv_call(f, kernel, s, "same")),
        answer=answer, explanation=explanation, points=1, fmt=SHAPE_FMT, mistakes=mistakes,
        params={"input": [h, w, c], "kernel": list(kernel), "stride": s, "filters": f})


@question("conv_pad")
def conv_pad(rng: np.random.Generator) -> Question:
    import cnn_ref

    h, w, c = randint(rng, 6, 96), randint(rng, 6, 96), pick(rng, CHANNELS)
    kernel, s, p, f = _kernel(rng), randint(rng, 1, 3), randint(rng, 1, 3), pick(rng, FILTERS)
    answer = [cnn_ref.conv_output_size(h, kernel[0], s, p), cnn_ref.conv_output_size(w, kernel[1], s, p), f]
    layers = f"ZeroPadding2D(padding={p})\n{_conv_call(f, kernel, s, None)}  # padding='valid'"
    explanation = (
        f"`ZeroPadding2D({p})` adds {p} zeros on EACH side, so n grows by 2p = {2 * p}; then VALID: "
        "`out = floor((n + 2p - k) / s) + 1`.\n\n"
        f"- height: floor(({h} + {2 * p} - {kernel[0]}) / {s}) + 1 = {answer[0]}\n"
        f"- width: floor(({w} + {2 * p} - {kernel[1]}) / {s}) + 1 = {answer[1]}\n"
        f"- channels = number of filters = {f}\n\n"
        f"Output shape: `{tuple(answer)}`.")
    mistakes = distinct_mistakes(answer, [
        ([_valid_size(h + p, kernel[0], s), _valid_size(w + p, kernel[1], s), f],
         "padding p adds p zeros on each side: n + 2p, not n + p"),
        ([_valid_size(h, kernel[0], s), _valid_size(w, kernel[1], s), f], "forgot the zero padding"),
        ([(h + 2 * p - kernel[0]) // s, (w + 2 * p - kernel[1]) // s, f], "forgot the + 1"),
    ])
    return Question(
        qid="", title="Conv2D output shape, explicit zero padding", kind="matrix",
        prompt=_shape_prompt((h, w, c), layers), answer=answer, explanation=explanation,
        points=1, fmt=SHAPE_FMT, mistakes=mistakes,
        params={"input": [h, w, c], "kernel": list(kernel), "stride": s, "pad": p, "filters": f})


def _total_pad(n: int, k: int, s: int) -> int:
    return max((math.ceil(n / s) - 1) * s + k - n, 0)


@question("same_split")
def same_split(rng: np.random.Generator) -> Question:
    import cnn_ref

    while True:
        h, w = randint(rng, 4, 40), randint(rng, 4, 40)
        kh, kw, s = randint(rng, 2, 7), randint(rng, 2, 7), randint(rng, 1, 3)
        if _total_pad(h, kh, s) % 2 or _total_pad(w, kw, s) % 2:
            break
    top, bottom = cnn_ref.same_padding(h, kh, s)
    left, right = cnn_ref.same_padding(w, kw, s)
    answer = [[top, bottom], [left, right]]
    lines = []
    for axis, n, k, (a, b) in (("height", h, kh, (top, bottom)), ("width", w, kw, (left, right))):
        out = math.ceil(n / s)
        lines.append(f"- {axis}: out = ceil({n} / {s}) = {out}; total = max(({out} - 1) * {s} + {k} - {n}, 0)"
                     f" = {a + b}; before = {a + b} // 2 = {a}, after = {a + b} - {a} = {b}")
    explanation = (
        "TensorFlow's SAME: `out = ceil(n / s)`, `total = max((out - 1) * s + k - n, 0)`, "
        "`before = total // 2`, `after = total - before`: an odd extra zero goes at the bottom/right.\n\n"
        + "\n".join(lines) + f"\n\nAnswer: `{answer}`.")
    mistakes = distinct_mistakes(answer, [
        ([[bottom, top], [right, left]], "the odd extra zero goes AFTER (bottom/right) in TensorFlow, not before"),
        ([[(kh - 1) // 2] * 2, [(kw - 1) // 2] * 2], "(k - 1) // 2 on both sides only holds for stride 1 "
         "and odd kernels; compute the total padding first"),
    ])
    return Question(
        qid="", title="TensorFlow's SAME padding split", kind="matrix",
        prompt=(f"`Conv2D(filters=8, kernel_size=({kh}, {kw}), strides={s}, padding=\"same\")` is applied to an "
                f"input of height {h} and width {w}. How many rows of zeros does TensorFlow add on top and at "
                "the bottom, and how many columns on the left and on the right?"),
        answer=answer, explanation=explanation, points=2, mistakes=mistakes,
        fmt="[[top, bottom], [left, right]], e.g. [[1, 2], [0, 1]]",
        params={"input": [h, w], "kernel": [kh, kw], "stride": s})


@question("padding_mode")
def padding_mode(rng: np.random.Generator) -> Question:
    import cnn_ref

    mode = pick(rng, ("valid", "same"))
    while True:
        h, w, c = randint(rng, 8, 64), randint(rng, 8, 64), pick(rng, CHANNELS)
        k, s, f = randint(rng, 2, 7), randint(rng, 1, 3), pick(rng, FILTERS)
        shapes = {m: cnn_ref.layer_output_shapes((h, w, c), [
            {"type": "conv2d", "filters": f, "kernel_size": k, "strides": s, "padding": m}])[-1]
            for m in ("valid", "same")}
        if shapes["valid"] != shapes["same"]:
            break
    other = "same" if mode == "valid" else "valid"
    explanation = (
        "VALID: `out = floor((n - k) / s) + 1`; SAME: `out = ceil(n / s)`.\n\n"
        f"- VALID would give `{shapes['valid']}`\n- SAME would give `{shapes['same']}`\n\n"
        f"The output `{shapes[mode]}` comes from `padding=\"{mode}\"`.")
    return Question(
        qid="", title="Which padding gives this output?", kind="text",
        prompt=(f"An input of shape `{(h, w, c)}` goes through `Conv2D(filters={f}, kernel_size={k}, "
                f"strides={s}, padding=???)` and the output shape is `{shapes[mode]}`. "
                "Which padding was used?"),
        answer=mode, synonyms=(f"{mode} padding", f"padding={mode}", f"padding='{mode}'",
                               f'padding="{mode}"'),
        explanation=explanation, points=1, fmt="one word: valid or same",
        mistakes=distinct_mistakes(mode, [(other, f"{other.upper()} would give {shapes[other]}")]),
        params={"input": [h, w, c], "kernel": k, "stride": s, "filters": f, "mode": mode,
                "output": list(shapes[mode])})


def _products(patch: np.ndarray, kernel: np.ndarray) -> str:
    terms = [f"({num(p)})({num(k)})" for p, k in zip(patch.ravel(), kernel.ravel(), strict=True) if k != 0]
    return " + ".join(terms)


@question("conv_step")
def conv_step(rng: np.random.Generator) -> Question:
    import numpy as np

    import cnn_ref

    while True:
        patch = rng.integers(-10, 11, size=(3, 3)) / 10
        kernel = rng.integers(-1, 2, size=(3, 3)) if rng.random() < 0.7 else rng.integers(-2, 3, size=(3, 3))
        bias = pick(rng, (0.0, 0.0, randint(rng, -5, 5) / 10))
        answer = cnn_ref.conv_single_step(patch, kernel, bias)
        flipped = cnn_ref.conv_single_step(patch, kernel[::-1, ::-1], bias)
        if abs(flipped - answer) >= 0.1 and np.count_nonzero(kernel) >= 3:
            break
    no_bias = cnn_ref.conv_single_step(patch, kernel, 0.0)
    explanation = (
        "Keras/TensorFlow compute a cross-correlation: multiply each patch value by the kernel value "
        "at the SAME position (no flipping), add everything, then add the bias.\n\n"
        f"{_products(patch, kernel)}" + (f" + ({num(bias)})" if bias else "") + f" = {num(answer)}")
    mistakes = distinct_mistakes(exact(answer), [
        (exact(flipped), "you flipped the kernel (textbook convolution); Conv2D does not flip it"),
        (exact(no_bias), "forgot to add the bias"),
        (exact(-answer), "check the signs"),
    ])
    parts = [f"A `Conv2D` layer with a single 3x3 filter sits on this input patch (one channel):\n\n{grid(patch)}",
             f"The filter's kernel is\n\n{grid(kernel)}",
             f"and its bias is {num(bias)}." if bias else "and it has no bias (use_bias=False).",
             "What value does the layer output at this position (before any activation)?"]
    return Question(
        qid="", title="One convolution step", kind="numeric", prompt="\n\n".join(parts),
        answer=exact(answer), explanation=explanation, points=2, atol=0.005,
        fmt="a number, e.g. 2.3", mistakes=mistakes,
        params={"patch": exact_list(patch), "kernel": exact_list(kernel), "bias": bias})


_MAX_CONFIGS = (
    ("MaxPooling2D(pool_size=2)", 2, None, "valid"),
    ("MaxPooling2D(pool_size=3, strides=1)", 3, 1, "valid"),
    ('MaxPooling2D(pool_size=3, strides=2, padding="same")', 3, 2, "same"),
)
_AVG_CONFIGS = (
    ("AveragePooling2D(pool_size=2)", 2, None, "valid"),
    ('AveragePooling2D(pool_size=3, strides=2, padding="same")', 3, 2, "same"),
    ("AveragePooling2D(pool_size=3, strides=1)", 3, 1, "valid"),
)


def _nhwc(x: np.ndarray) -> np.ndarray:
    return x[None, :, :, None].astype(float)


def _pool_windows(pool: int, stride: int | None, padding: str) -> str:
    stride = pool if stride is None else stride
    note = (f"Windows of {pool}x{pool}, moving {stride} cell{'s' if stride > 1 else ''} at a time"
            + (" (strides default to pool_size)" if stride == pool else ""))
    if padding == "same":
        note += ("; SAME pads the 4x4 input to fit whole windows, with the extra row/column at the "
                 "bottom/right (TensorFlow's split)")
    return note


def _zero_padded(x: np.ndarray, pool: int, stride: int | None) -> np.ndarray:
    """The input padded with zeros the way SAME would pad it (for the zero-padding mistake)."""
    import numpy as np

    import cnn_ref

    before, after = cnn_ref.same_padding(4, pool, stride or pool)
    return np.pad(x, ((before, after), (before, after)))


@question("max_pool")
def max_pool(rng: np.random.Generator) -> Question:
    import cnn_ref

    call, pool, stride, padding = pick(rng, _MAX_CONFIGS)
    x = rng.integers(-9, 10, size=(4, 4))
    if padding == "same" and rng.random() < 0.5:
        x = -rng.integers(1, 10, size=(4, 4))
    answer = exact_list(cnn_ref.max_pool2d(_nhwc(x), pool, stride, padding)[0, :, :, 0])
    candidates = [(exact_list(cnn_ref.avg_pool2d(_nhwc(x), pool, stride, padding)[0, :, :, 0]),
                   "that is the average of each window; max pooling keeps the largest value")]
    if padding == "same":
        zeros = cnn_ref.max_pool2d(_nhwc(_zero_padded(x, pool, stride)), pool, stride, "valid")
        candidates.append((exact_list(zeros[0, :, :, 0]),
                           "SAME max pooling pads with -inf, never with zeros: a padded cell never wins"))
    return Question(
        qid="", title="Max pooling a 4x4 input", kind="matrix",
        prompt=(f"`{call}` is applied to this 4x4 input (one channel):\n\n{grid(x)}\n\n"
                "What is the output (as a 2x2 matrix)?"),
        answer=answer, points=1, mistakes=distinct_mistakes(answer, candidates),
        explanation=f"{_pool_windows(pool, stride, padding)}; keep each window's maximum:\n\n{grid(answer)}",
        fmt="a 2x2 matrix, e.g. [[4, 7], [9, 3]]",
        params={"x": exact_list(x), "pool": pool, "stride": stride, "padding": padding})


@question("avg_pool")
def avg_pool(rng: np.random.Generator) -> Question:
    import cnn_ref

    call, pool, stride, padding = pick(rng, _AVG_CONFIGS)
    x = rng.integers(1, 10, size=(4, 4))
    answer = exact_list(cnn_ref.avg_pool2d(_nhwc(x), pool, stride, padding)[0, :, :, 0])
    candidates = [(exact_list(cnn_ref.max_pool2d(_nhwc(x), pool, stride, padding)[0, :, :, 0]),
                   "that is the maximum of each window; average pooling takes the mean")]
    note = ""
    if padding == "same":
        zeros = cnn_ref.avg_pool2d(_nhwc(_zero_padded(x, pool, stride)), pool, stride, "valid")
        candidates.append((exact_list(zeros[0, :, :, 0]),
                           "SAME average pooling leaves the padded cells out of the mean (it does not count zeros)"))
        note = " A window that overlaps the padding averages only its real cells."
    return Question(
        qid="", title="Average pooling a 4x4 input", kind="matrix",
        prompt=(f"`{call}` is applied to this 4x4 input (one channel):\n\n{grid(x)}\n\n"
                "What is the output (as a 2x2 matrix; give at least 2 decimals, or fractions)?"),
        answer=answer, points=1, atol=0.006, mistakes=distinct_mistakes(answer, candidates),
        explanation=(f"{_pool_windows(pool, stride, padding)}; take each window's mean.{note}\n\n"
                     f"{grid(answer)}"),
        fmt="a 2x2 matrix, e.g. [[4.25, 7], [9, 3/4]]",
        params={"x": exact_list(x), "pool": pool, "stride": stride, "padding": padding})
