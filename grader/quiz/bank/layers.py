"""Batch normalization, dropout and parameter-count questions (Keras conventions, answers from cnn_ref)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..model import Question, letter
from ._fmt import code, distinct_mistakes, exact, exact_list, num, pick, randint, seq, shuffled
from .registry import question

if TYPE_CHECKING:
    import numpy as np

BN_DEFAULTS = "Keras defaults: momentum=0.99, epsilon=0.001"


def _small_batch(rng: np.random.Generator, n: int, low_var: float, high_var: float) -> np.ndarray:
    """``n`` one-decimal values whose (biased) variance lies in ``[low_var, high_var]``."""
    while True:
        x = (randint(rng, -20, 20) + rng.integers(-15, 16, size=n)) / 10
        if low_var <= x.var() <= high_var:
            return x


@question("bn_output")
def bn_output(rng: np.random.Generator) -> Question:
    import numpy as np

    import cnn_ref

    x = _small_batch(rng, 4, 0.2, 1.2)
    gamma, beta = pick(rng, (1.0, 1.5, 2.0, 2.5, 3.0)), pick(rng, (-1.0, -0.5, 0.0, 0.5, 1.0))

    def run(eps: float = 1e-3, data: np.ndarray = x) -> list[Any]:
        y, _, _ = cnn_ref.batch_norm(data.reshape(-1, 1), np.array([gamma]), np.array([beta]),
                                     np.zeros(1), np.ones(1), training=True, epsilon=eps)
        return exact_list(y.ravel())

    answer = run()
    mean, var = x.mean(), x.var()
    unbiased = gamma * (x - mean) / np.sqrt(x.var(ddof=1) + 1e-3) + beta
    explanation = (
        "In training the layer normalizes with the BATCH statistics (biased variance, divide by N):\n\n"
        f"- mean = {num(mean)}\n- variance = mean((x - mean)^2) = {num(var)}\n"
        f"- std = sqrt(variance + 0.001) = {np.sqrt(var + 1e-3):.6f}\n"
        f"- y = gamma * (x - mean) / std + beta = {seq(np.round(answer, 4))}")
    return Question(
        qid="", title="Batch normalization, one training step", kind="matrix",
        prompt=(f"A `BatchNormalization()` layer ({BN_DEFAULTS}) is called with `training=True` on a batch of "
                f"4 samples with one feature each:\n\n{code('x = ' + seq(x), 'python')}\n\n"
                f"Its gamma is {num(gamma)} and its beta is {num(beta)}. What are the 4 outputs? "
                "Give at least 4 decimals."),
        answer=answer, points=2, atol=3e-4, explanation=explanation,
        fmt="4 numbers, e.g. [-1.3411, -0.4470, 0.4470, 1.3411]",
        mistakes=distinct_mistakes(answer, [
            (run(eps=1e-12), "forgot epsilon = 0.001 inside the square root"),
            (exact_list(unbiased), "used the unbiased variance (divide by N - 1); batch norm divides by N"),
            (exact_list((np.array(answer) - beta) / gamma), "forgot to apply gamma and beta"),
        ]),
        params={"x": exact_list(x), "gamma": gamma, "beta": beta})


@question("bn_moving")
def bn_moving(rng: np.random.Generator) -> Question:
    import numpy as np

    import cnn_ref

    x = _small_batch(rng, randint(rng, 4, 6), 0.1, 4.0)
    m0, v0 = randint(rng, -10, 10) / 10, randint(rng, 5, 20) / 10
    _, mm, mv = cnn_ref.batch_norm(x.reshape(-1, 1), np.ones(1), np.zeros(1), np.array([m0]),
                                   np.array([v0]), training=True)
    answer = [exact(mm[0]), exact(mv[0])]
    mean, var = x.mean(), x.var()
    explanation = (
        "Keras updates `moving = moving * momentum + batch * (1 - momentum)` with momentum 0.99, "
        "using the biased batch variance:\n\n"
        f"- batch mean = {num(mean)}, batch variance = {num(var)}\n"
        f"- moving_mean = {num(m0)} * 0.99 + {num(mean)} * 0.01 = {answer[0]:.6f}\n"
        f"- moving_variance = {num(v0)} * 0.99 + {num(var)} * 0.01 = {answer[1]:.6f}")
    return Question(
        qid="", title="Batch normalization moving statistics", kind="matrix",
        prompt=(f"A `BatchNormalization()` layer ({BN_DEFAULTS}) currently has moving_mean = {num(m0)} and "
                f"moving_variance = {num(v0)}. It is called once with `training=True` on a batch of one "
                f"feature:\n\n{code('x = ' + seq(x), 'python')}\n\n"
                "What are its new moving_mean and moving_variance? Give at least 5 decimals."),
        answer=answer, points=2, atol=5e-5, explanation=explanation,
        fmt="[moving_mean, moving_variance], e.g. [0.025, 1.0025]",
        mistakes=distinct_mistakes(answer, [
            ([exact(m0 * 0.9 + mean * 0.1), exact(v0 * 0.9 + var * 0.1)],
             "that is PyTorch's rule (momentum 0.1 weights the new batch); Keras keeps 0.99 of the old value"),
            ([exact(m0 * 0.01 + mean * 0.99), exact(v0 * 0.01 + var * 0.99)],
             "momentum weights the OLD moving value: moving * 0.99 + batch * 0.01"),
            ([answer[0], exact(v0 * 0.99 + x.var(ddof=1) * 0.01)],
             "used the unbiased batch variance (N - 1); Keras uses the biased one (divide by N)"),
        ]),
        params={"x": exact_list(x), "moving_mean": m0, "moving_var": v0})


RATES = (0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.75, 0.8)


def _nonzero_tenths(rng: np.random.Generator, n: int) -> np.ndarray:
    values = rng.integers(1, 31, size=n) * rng.choice([-1, 1], size=n)
    return values / 10


@question("dropout_output")
def dropout_output(rng: np.random.Generator) -> Question:
    import numpy as np

    import cnn_ref

    x, rate = _nonzero_tenths(rng, 5), pick(rng, RATES)
    while True:
        seed = int(rng.integers(2**31))
        y = cnn_ref.dropout(x, rate, training=True, seed=seed)
        if 1 <= np.count_nonzero(y == 0) <= 3:
            break
    kept = y != 0
    dropped = ", ".join(str(i + 1) for i in np.flatnonzero(~kept))
    answer = exact_list(y)
    explanation = (
        f"Keras uses inverted dropout: dropped units become 0 and kept units are divided by "
        f"(1 - rate) = {num(1 - rate)}, so the expected output equals the input and inference needs no change.\n\n"
        f"y = {seq(np.round(y, 4))}")
    return Question(
        qid="", title="Dropout in training", kind="matrix",
        prompt=(f"`Dropout(rate={num(rate)})` is called with `training=True` on\n\n{code('x = ' + seq(x), 'python')}\n\n"
                f"The random mask drops the units at positions {dropped} (counting from 1) and keeps the others. "
                "What does the layer output? Give at least 3 decimals."),
        answer=answer, points=1, atol=1e-3, rtol=1e-3, explanation=explanation,
        fmt="5 numbers, e.g. [0, 1.25, -2.5, 0, 3.75]",
        mistakes=distinct_mistakes(answer, [
            (exact_list(x * kept * (1 - rate)), "multiplied by (1 - rate); kept units are DIVIDED by (1 - rate)"),
            (exact_list(x * kept), "forgot to scale the kept units by 1 / (1 - rate)"),
            (exact_list(x * kept / rate), "rate is the DROP probability: divide by 1 - rate, not by rate"),
        ]),
        params={"x": exact_list(x), "rate": rate, "seed": seed})


def _dropout_statements(rate: float, scale: float, params: int) -> list[tuple[str, bool]]:
    return [
        (f"`rate={num(rate)}` is the probability that a unit is dropped (set to 0).", True),
        (f"During training each kept unit is multiplied by {num(scale)}.", True),
        ("With `training=False` (inference) the layer returns its input unchanged.", True),
        (f"During training, on average about {num(rate * 100)}% of the units are set to 0.", True),
        ("During training the expected value of each output equals its input.", True),
        (f"`rate={num(rate)}` is the probability that a unit is kept.", False),
        (f"At inference every output is multiplied by {num(1 - rate)}.", False),
        (f"During training each kept unit is multiplied by {num(1 - rate)}.", False),
        ("The layer learns one keep probability per unit (trainable parameters).", params > 0),
        ("The same units are dropped for every batch.", False),
    ]


@question("dropout_facts")
def dropout_facts(rng: np.random.Generator) -> Question:
    import numpy as np

    import cnn_ref

    rate = pick(rng, RATES)
    scale = float(np.max(cnn_ref.dropout(np.ones(64), rate, training=True, seed=0)))
    params = cnn_ref.count_params((8,), [{"type": "dropout", "rate": rate}])
    pool = _dropout_statements(rate, scale, params)
    while True:
        chosen = shuffled(rng, pool)[:5]
        truth = [t for _, t in chosen]
        if any(truth) and not all(truth):
            break
    choices = tuple(text for text, _ in chosen)
    answer = [letter(i) for i, t in enumerate(truth) if t]
    lines = [f"- {letter(i)}: {'true' if t else 'false'}" for i, t in enumerate(truth)]
    explanation = (
        f"Keras `Dropout(rate)` drops each unit with probability rate and divides the kept ones by "
        f"1 - rate = {num(1 - rate)} (x {num(scale)}) during training, so nothing changes at inference; "
        f"it has {params} parameters and draws a new mask for every batch.\n\n" + "\n".join(lines))
    return Question(
        qid="", title="Dropout facts", kind="multi",
        prompt=f"About `keras.layers.Dropout(rate={num(rate)})`: which statements are true? Select all that apply.",
        choices=choices, answer=answer, points=2, explanation=explanation,
        params={"rate": rate, "statements": list(choices)})


def _layer_code(input_shape: tuple[int, ...], lines: list[str]) -> str:
    body = ",\n".join(f"    {line}" for line in [f"keras.Input(shape={input_shape})", *lines])
    return code(f"model = keras.Sequential([\n{body},\n])", "python")


@question("params_conv")
def params_conv(rng: np.random.Generator) -> Question:
    import cnn_ref

    h, w, c_in = randint(rng, 8, 128), randint(rng, 8, 128), randint(rng, 1, 64)
    k, f, use_bias = randint(rng, 1, 7), pick(rng, range(4, 257, 4)), bool(rng.random() < 0.7)
    layer = {"type": "conv2d", "filters": f, "kernel_size": k, "strides": 1, "padding": "same", "use_bias": use_bias}
    answer = cnn_ref.count_params((h, w, c_in), [layer])
    bias = f if use_bias else 0
    bias_text = f" + {f} biases" if use_bias else " (no bias)"
    return Question(
        qid="", title="Parameters of a Conv2D layer", kind="numeric",
        prompt="How many parameters does this layer have?\n\n" + _layer_code(
            (h, w, c_in), [f'layers.Conv2D({f}, {k}, padding="same", use_bias={use_bias})']),
        answer=answer, points=1,
        explanation=(f"Each of the {f} filters has a {k}x{k}x{c_in} kernel (it spans every input channel); "
                     f"the image size does not matter:\n\n{k} * {k} * {c_in} * {f}{bias_text} = {answer}"),
        mistakes=distinct_mistakes(answer, [
            (k * k * c_in * f + (0 if use_bias else f), "check the bias: one per filter, and only with use_bias=True"),
            ((k * k + 1) * f if use_bias else k * k * f, "each kernel spans all input channels: k * k * C_in"),
            ((k * k * c_in * f + bias) * h * w, "weights are shared across positions: the image size does not count"),
        ]),
        params={"input": [h, w, c_in], "kernel": k, "filters": f, "use_bias": use_bias})


@question("params_dense")
def params_dense(rng: np.random.Generator) -> Question:
    import cnn_ref

    h, w, c = randint(rng, 2, 12), randint(rng, 2, 12), pick(rng, (8, 16, 32, 48, 64, 128))
    units, use_bias = pick(rng, range(8, 513, 8)), bool(rng.random() < 0.8)
    layers = [{"type": "flatten"}, {"type": "dense", "units": units, "use_bias": use_bias}]
    answer = cnn_ref.count_params((h, w, c), layers)
    flat = h * w * c
    return Question(
        qid="", title="Parameters of a Dense layer after Flatten", kind="numeric",
        prompt=("How many parameters does this model have?\n\n"
                + _layer_code((h, w, c), ["layers.Flatten()", f"layers.Dense({units}, use_bias={use_bias})"])),
        answer=answer, points=1,
        explanation=(f"Flatten has no parameters and gives {h} * {w} * {c} = {flat} inputs; the Dense layer has a "
                     f"{flat} x {units} weight matrix" + (f" plus {units} biases" if use_bias else "")
                     + f": {answer}"),
        mistakes=distinct_mistakes(answer, [
            (flat * units + (0 if use_bias else units), "check the bias: one per unit, and only with use_bias=True"),
            (h * w * units + (units if use_bias else 0), "Flatten keeps every channel: h * w * c inputs"),
        ]),
        params={"input": [h, w, c], "units": units, "use_bias": use_bias})


@question("params_bn")
def params_bn(rng: np.random.Generator) -> Question:
    import cnn_ref

    h, w, c = randint(rng, 8, 64), randint(rng, 8, 64), pick(rng, (1, 3))
    f, units = pick(rng, range(4, 257, 4)), pick(rng, range(8, 513, 8))
    layers = [{"type": "conv2d", "filters": f, "kernel_size": 3, "padding": "same"}, {"type": "batch_norm"},
              {"type": "flatten"}, {"type": "dense", "units": units}, {"type": "batch_norm"}]
    shapes = cnn_ref.layer_output_shapes((h, w, c), layers)
    counts = [cnn_ref.count_params(shapes[i - 1], [layers[i]]) for i in (1, 4)]
    total = sum(counts)
    answer = [total, total // 2]
    code_lines = [f'layers.Conv2D({f}, 3, padding="same")', "layers.BatchNormalization()", "layers.Flatten()",
                  f"layers.Dense({units})", "layers.BatchNormalization()"]
    return Question(
        qid="", title="Parameters of BatchNormalization layers", kind="matrix",
        prompt=("In this model, how many parameters do the two `BatchNormalization` layers have together "
                "(as `model.count_params()` counts them), and how many of those are trainable?\n\n"
                + _layer_code((h, w, c), code_lines)),
        answer=answer, points=1, fmt="[total, trainable], e.g. [512, 256]",
        explanation=("BatchNormalization normalizes the last axis and keeps 4 numbers per feature: gamma and beta "
                     "(trainable) and the moving mean and variance (not trainable).\n\n"
                     f"- after Conv2D: {f} channels -> {counts[0]}\n- after Dense: {units} units -> {counts[1]}\n\n"
                     f"Total {total}, trainable {total // 2}."),
        mistakes=distinct_mistakes(answer, [
            ([total // 2, total // 2], "count_params() also counts the moving mean and variance (4 per feature)"),
            ([4 * h * w * f + 4 * units, 2 * h * w * f + 2 * units],
             "BatchNormalization keeps one set per channel (last axis), not per pixel"),
            ([total, total], "the moving mean and variance are not trainable"),
        ]),
        params={"input": [h, w, c], "filters": f, "units": units})


def _layer_name(line: str) -> str:
    return line.split("(")[0].replace("layers.", "")


def _random_model(rng: np.random.Generator) -> tuple[tuple[int, int, int], list[dict[str, Any]], list[str]]:
    n, c = randint(rng, 16, 64), pick(rng, (1, 3))
    f1, k1, pad1 = pick(rng, (8, 16, 32, 64)), pick(rng, (3, 5)), pick(rng, ("valid", "same"))
    f2, s2 = pick(rng, (16, 32, 64, 128)), pick(rng, (1, 2))
    units, classes, bn = pick(rng, (32, 64, 128, 256)), pick(rng, (2, 5, 10)), bool(rng.random() < 0.5)
    layers: list[dict[str, Any]] = [
        {"type": "conv2d", "filters": f1, "kernel_size": k1, "padding": pad1},
        {"type": "max_pool2d", "pool_size": 2},
        {"type": "conv2d", "filters": f2, "kernel_size": 3, "strides": s2, "padding": "valid"},
    ]
    lines = [f'layers.Conv2D({f1}, {k1}, padding="{pad1}", activation="relu")', "layers.MaxPooling2D(2)",
             f'layers.Conv2D({f2}, 3, strides={s2}, activation="relu")']
    if bn:
        layers.append({"type": "batch_norm"})
        lines.append("layers.BatchNormalization()")
    layers += [{"type": "flatten"}, {"type": "dense", "units": units}, {"type": "dropout", "rate": 0.5},
               {"type": "dense", "units": classes}]
    lines += ["layers.Flatten()", f'layers.Dense({units}, activation="relu")', "layers.Dropout(0.5)",
              f'layers.Dense({classes}, activation="softmax")']
    return (n, n, c), layers, lines


@question("flatten_size", group="model")
def flatten_size(rng: np.random.Generator) -> Question:
    import cnn_ref

    input_shape, layers, lines = _random_model(rng)
    shapes = cnn_ref.layer_output_shapes(input_shape, layers)
    flat_at = next(i for i, spec in enumerate(layers) if spec["type"] == "flatten")
    answer = shapes[flat_at][0]
    steps = [f"- {_layer_name(line)}: {shape}" for line, shape in zip(lines, shapes, strict=True)]
    before = shapes[flat_at - 1]
    return Question(
        qid="", title="Length of the flattened feature vector", kind="numeric",
        prompt="How many numbers per image come out of the `Flatten` layer of this model?\n\n"
               + _layer_code(input_shape, lines),
        answer=answer, points=1,
        explanation=("Follow the shapes (VALID: floor((n - k) / s) + 1, SAME: ceil(n / s), pooling halves):\n\n"
                     + "\n".join(steps[:flat_at + 1]) + f"\n\n{' * '.join(map(str, before))} = {answer}"),
        params={"input": list(input_shape), "layers": layers})


@question("params_model", group="model")
def params_model(rng: np.random.Generator) -> Question:
    import cnn_ref

    input_shape, layers, lines = _random_model(rng)
    answer = cnn_ref.count_params(input_shape, layers)
    shapes = [input_shape, *cnn_ref.layer_output_shapes(input_shape, layers)]
    per_layer = [cnn_ref.count_params(shapes[i], [spec]) for i, spec in enumerate(layers)]
    no_bias = answer - sum(spec.get("filters", spec.get("units", 0)) for spec in layers
                           if spec["type"] in ("conv2d", "dense"))
    steps = [f"- {_layer_name(line)}: output {shape}, {count} parameters"
             for line, count, shape in zip(lines, per_layer, shapes[1:], strict=True)]
    return Question(
        qid="", title="Parameters of a small CNN", kind="numeric",
        prompt="How many parameters does this model have in total (`model.count_params()`)?\n\n"
               + _layer_code(input_shape, lines),
        answer=answer, points=2,
        explanation=("Conv2D: k * k * C_in * filters + filters; Dense: inputs * units + units; "
                     "BatchNormalization: 4 per channel; pooling, Flatten and Dropout: none.\n\n"
                     + "\n".join(steps) + f"\n\nTotal: {answer}"),
        mistakes=distinct_mistakes(answer, [(no_bias, "forgot the biases (one per filter / unit)")]),
        params={"input": list(input_shape), "layers": layers})
