"""Confusion matrix and metric questions (scikit-learn conventions, answers from cnn_ref).

scikit-learn: rows = true labels, columns = predicted, labels sorted; for 0/1 labels
``[[TN, FP], [FN, TP]]``. The lecture's table: rows = predicted, columns = actual, positive
first: ``[[TP, FP], [FN, TN]]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..model import Question, letter
from ._fmt import (
    choice_mistakes,
    code,
    distinct_mistakes,
    exact,
    exact_list,
    grid,
    num,
    pick,
    randint,
    shuffled,
)
from .registry import question

if TYPE_CHECKING:
    import numpy as np

METRIC_FMT = "a number, e.g. 0.692, 9/13 or 69.2%"
Counts = tuple[int, int, int, int]


def _labels(counts: Counts) -> tuple[np.ndarray, np.ndarray]:
    """``(y_true, y_pred)`` (1 = positive) with exactly these ``(tp, fp, fn, tn)``."""
    import numpy as np

    tp, fp, fn, tn = counts
    y_true = np.array([1] * tp + [0] * fp + [1] * fn + [0] * tn)
    y_pred = np.array([1] * tp + [1] * fp + [0] * fn + [0] * tn)
    return y_true, y_pred


def _counts(rng: np.random.Generator) -> Counts:
    while True:
        counts = (randint(rng, 20, 200), randint(rng, 1, 120), randint(rng, 1, 120), randint(rng, 100, 1000))
        if len(set(counts)) == 4:
            return counts


def _lecture_table(counts: Counts) -> str:
    tp, fp, fn, tn = counts
    return ("|  | Actual positive | Actual negative |\n|---|---|---|\n"
            f"| **Predicted positive** | {tp} | {fp} |\n| **Predicted negative** | {fn} | {tn} |")


def _sklearn_array(cm: Any) -> str:
    (a, b), (c, d) = cm
    width = max(len(str(v)) for v in (a, b, c, d))
    return code(f"array([[{a:>{width}}, {b:>{width}}],\n       [{c:>{width}}, {d:>{width}}]])")


def _py_list(values: Any) -> str:
    return "[" + ", ".join(repr(v) for v in values) + "]"


def _metric_values(counts: Counts) -> dict[str, float]:
    import cnn_ref

    y_true, y_pred = _labels(counts)
    return {"precision": cnn_ref.precision(y_true, y_pred), "recall": cnn_ref.recall(y_true, y_pred),
            "f1": cnn_ref.f1_score(y_true, y_pred), "accuracy": cnn_ref.accuracy(y_true, y_pred)}


@question("cm_labels")
def cm_labels(rng: np.random.Generator) -> Question:
    import cnn_ref

    names = pick(rng, ((0, 1, 2), (0, 1, 2), ("cat", "dog", "bird"), ("car", "bus", "bike"), ("low", "mid", "high")))
    while True:
        n = randint(rng, 10, 16)
        y_true = [names[int(i)] for i in rng.integers(3, size=n)]
        y_pred = [t if rng.random() < 0.6 else names[int(rng.integers(3))] for t in y_true]
        cm = cnn_ref.confusion_matrix(y_true, y_pred)
        if len(set(y_true)) == 3 and (cm != cm.T).any():
            break
    answer = exact_list(cm)
    order = sorted(names)
    appearance = list(dict.fromkeys(y_true + y_pred))
    candidates = [(exact_list(cm.T), "transposed: scikit-learn puts the TRUE labels in the rows")]
    if appearance != order:
        candidates.append((exact_list(cnn_ref.confusion_matrix(y_true, y_pred, labels=appearance)),
                           f"scikit-learn sorts the labels: rows and columns are {order}"))
    return Question(
        qid="", title="Confusion matrix from label lists", kind="matrix",
        prompt=("What does `sklearn.metrics.confusion_matrix(y_true, y_pred)` return for these labels? "
                "(Use scikit-learn's default label order.)\n\n"
                + code(f"y_true = {_py_list(y_true)}\ny_pred = {_py_list(y_pred)}", "python")),
        answer=answer, points=2, fmt="a 3x3 matrix, e.g. [[2, 0, 1], [0, 3, 0], [1, 1, 2]]",
        explanation=(f"Rows are the true labels and columns the predicted ones, both in sorted order {order}; "
                     "cell [i][j] counts samples whose true label is the i-th and predicted the j-th.\n\n"
                     f"{grid(answer)}"),
        mistakes=distinct_mistakes(answer, candidates),
        params={"y_true": y_true, "y_pred": y_pred})


@question("cm_layout")
def cm_layout(rng: np.random.Generator) -> Question:
    import cnn_ref

    counts = _counts(rng)
    y_true, y_pred = _labels(counts)
    sk = exact_list(cnn_ref.confusion_matrix(y_true, y_pred))
    lecture = exact_list(cnn_ref.confusion_matrix(y_true, y_pred, labels=[1, 0]).T)
    transpose = [list(r) for r in zip(*sk, strict=True)]
    lecture_t = [list(r) for r in zip(*lecture, strict=True)]
    options = shuffled(rng, [
        (str(sk), ""),
        (str(lecture), "that is the lecture's table itself; scikit-learn puts TRUE labels in rows, label 0 first"),
        (str(transpose), "transposed: scikit-learn puts the TRUE labels in the rows, predictions in the columns"),
        (str(lecture_t), "rows are right (true labels) but scikit-learn sorts labels: negative (0) comes first"),
    ])
    correct = [text for text, _ in options].index(str(sk))
    return Question(
        qid="", title="The lecture's table vs scikit-learn's layout", kind="choice",
        prompt=("The lecture writes a binary classifier's results as\n\n" + _lecture_table(counts) + "\n\n"
                "With labels 1 = positive and 0 = negative, what does "
                "`sklearn.metrics.confusion_matrix(y_true, y_pred)` return?"),
        choices=tuple(text for text, _ in options), answer=letter(correct), points=1,
        explanation=("scikit-learn: rows = true labels, columns = predicted, labels sorted (0 then 1), so "
                     f"`[[TN, FP], [FN, TP]]` = `{sk}`. The lecture's table has rows = predicted and positive "
                     "first: the off-diagonal cells agree, the diagonal swaps."),
        mistakes=choice_mistakes(options, correct),
        params={"counts": list(counts)})


@question("precision_table")
def precision_table(rng: np.random.Generator) -> Question:
    counts = _counts(rng)
    tp, fp, fn, tn = counts
    values = _metric_values(counts)
    answer = exact(values["precision"])
    return Question(
        qid="", title="Precision from the lecture's table", kind="numeric",
        prompt=f"A classifier's results, in the lecture's layout:\n\n{_lecture_table(counts)}\n\nWhat is its precision?",
        answer=answer, points=1, atol=1e-3, fmt=METRIC_FMT,
        explanation=(f"Precision = TP / (TP + FP): of everything predicted positive, the fraction that is. "
                     f"In this table TP = {tp} (top left) and FP = {fp} (top right): "
                     f"{tp} / ({tp} + {fp}) = {num(answer)}"),
        mistakes=distinct_mistakes(answer, [
            (exact(values["recall"]), "that is the recall TP / (TP + FN); precision divides by TP + FP"),
            (exact(tn / (tn + fp)), "read the table as scikit-learn's layout; here rows are PREDICTED, positive first"),
            (exact(values["accuracy"]), "that is the accuracy"),
        ]),
        params={"counts": list(counts)})


@question("recall_sklearn")
def recall_sklearn(rng: np.random.Generator) -> Question:
    import cnn_ref

    counts = _counts(rng)
    tp, fp, fn, tn = counts
    values = _metric_values(counts)
    answer = exact(values["recall"])
    cm = exact_list(cnn_ref.confusion_matrix(*_labels(counts)))
    return Question(
        qid="", title="Recall from scikit-learn's confusion matrix", kind="numeric",
        prompt=("`sklearn.metrics.confusion_matrix(y_true, y_pred)` (labels 0 = negative, 1 = positive) returns\n\n"
                f"{_sklearn_array(cm)}\n\nWhat is the recall of the positive class?"),
        answer=answer, points=1, atol=1e-3, fmt=METRIC_FMT,
        explanation=(f"scikit-learn's layout is `[[TN, FP], [FN, TP]]`, so TP = {tp} (bottom right) and "
                     f"FN = {fn} (bottom left). Recall = TP / (TP + FN) = {tp} / ({tp} + {fn}) = {num(answer)}"),
        mistakes=distinct_mistakes(answer, [
            (exact(values["precision"]), "that is the precision TP / (TP + FP); recall divides by TP + FN"),
            (exact(tn / (tn + fn)), "read it as the lecture's table; in scikit-learn TP is at the bottom right"),
            (exact(tn / (tn + fp)), "read it as the lecture's table; in scikit-learn TP is at the bottom right"),
        ]),
        params={"counts": list(counts)})


@question("f1_counts")
def f1_counts(rng: np.random.Generator) -> Question:
    counts = _counts(rng)
    tp, fp, fn, tn = counts
    values = _metric_values(counts)
    answer = exact(values["f1"])
    p, r = values["precision"], values["recall"]
    return Question(
        qid="", title="F1 score from counts", kind="numeric",
        prompt=f"A classifier has TP = {tp}, FP = {fp}, FN = {fn} and TN = {tn}. What is its F1 score?",
        answer=answer, points=1, atol=1e-3, fmt=METRIC_FMT,
        explanation=(f"Precision = {tp}/{tp + fp} = {num(p)}, recall = {tp}/{tp + fn} = {num(r)}. "
                     f"F1 is their harmonic mean: 2PR / (P + R) = 2TP / (2TP + FP + FN) = "
                     f"{2 * tp} / ({2 * tp} + {fp} + {fn}) = {num(answer)}"),
        mistakes=distinct_mistakes(answer, [
            (exact((p + r) / 2), "that is the arithmetic mean; F1 is the harmonic mean 2PR / (P + R)"),
            (exact(values["accuracy"]), "that is the accuracy"),
        ]),
        params={"counts": list(counts)})


_RARE = (("transactions", "fraudulent", "not fraud"), ("patients", "sick", "healthy"),
         ("emails", "phishing", "safe"), ("machine parts", "defective", "fine"))


@question("always_negative")
def always_negative(rng: np.random.Generator) -> Question:
    import numpy as np

    import cnn_ref

    things, pos, neg = pick(rng, _RARE)
    n = randint(rng, 200, 5000)
    p = max(1, round(n * randint(rng, 10, 200) / 1000))
    y_true, y_pred = np.array([1] * p + [0] * (n - p)), np.zeros(n, dtype=int)
    values = [cnn_ref.accuracy(y_true, y_pred), cnn_ref.precision(y_true, y_pred),
              cnn_ref.recall(y_true, y_pred), cnn_ref.f1_score(y_true, y_pred)]
    answer = [exact(v) for v in values]
    return Question(
        qid="", title="Accuracy on imbalanced classes, zero denominators", kind="matrix",
        prompt=(f"Out of {n} {things}, {p} are {pos} (the positive class). A lazy model answers \"{neg}\" "
                f"(negative) for every one of them. What are its accuracy, precision, recall and F1 score, as "
                "scikit-learn computes them with its defaults?"),
        answer=answer, points=2, atol=1e-3,
        fmt="[accuracy, precision, recall, f1], e.g. [0.9, 0.5, 0.25, 0.33]",
        explanation=(f"TP = 0, FP = 0, FN = {p}, TN = {n - p}.\n\n"
                     f"- accuracy = {n - p} / {n} = {num(values[0])}: high, although the model finds nothing\n"
                     "- precision = 0 / 0: undefined; scikit-learn returns 0 (`zero_division`) with a warning\n"
                     f"- recall = 0 / {p} = 0\n- F1 = 2TP / (2TP + FP + FN) = 0 / {p} = 0"),
        mistakes=distinct_mistakes(answer, [
            ([answer[0], 1, 0, 0], "precision is 0/0 here; scikit-learn returns 0 (zero_division), not 1"),
            ([exact(p / n), 0, 0, 0], f"accuracy counts every correct answer: the {n - p} negatives are correct"),
        ]),
        params={"n": n, "positives": p, "story": things})


# --- reading errors: short text and multiple choice --------------------------------------------

_SCENARIOS = {
    "covid": ("a COVID-19 test", "positive = infected", {
        "false negative": "The test says an infected person is healthy.",
        "false positive": "The test says a healthy person is infected.",
        "true positive": "The test says an infected person is infected.",
        "true negative": "The test says a healthy person is healthy."}),
    "spam": ("a spam filter", "positive = spam", {
        "false negative": "A phishing email lands in the inbox.",
        "false positive": "An email from your professor is moved to the spam folder.",
        "true positive": "A phishing email is moved to the spam folder.",
        "true negative": "An email from your professor lands in the inbox."}),
    "fraud": ("a card-fraud detector", "positive = fraudulent payment", {
        "false negative": "A stolen card's payment goes through without any alert.",
        "false positive": "Your own payment for groceries is blocked as fraud.",
        "true positive": "A stolen card's payment is blocked as fraud.",
        "true negative": "Your own payment for groceries goes through."}),
    "smoke": ("a smoke detector", "positive = fire", {
        "false negative": "A fire starts in the kitchen and the alarm stays silent.",
        "false positive": "The alarm goes off while you make toast.",
        "true positive": "A fire starts in the kitchen and the alarm goes off.",
        "true negative": "You make toast and the alarm stays silent."}),
}

_SYNONYMS = {
    "false negative": ("fn", "a false negative", "false negatives", "type ii error", "type 2 error", "type ii"),
    "false positive": ("fp", "a false positive", "false positives", "type i error", "type 1 error", "type i"),
    "true positive": ("tp", "a true positive", "true positives"),
    "true negative": ("tn", "a true negative", "true negatives"),
}


def _opposite(word: str, name: str) -> str:
    words = name.split()
    return " ".join({"false": "true", "true": "false", "positive": "negative", "negative": "positive"}[w]
                     if w == word else w for w in words)


@question("error_name", small_space=True)
def error_name(rng: np.random.Generator) -> Question:
    import cnn_ref

    key = pick(rng, sorted(_SCENARIOS))
    what, positive, events = _SCENARIOS[key]
    name = pick(rng, ("false negative", "false positive") * 4 + ("true positive", "true negative"))
    truth, said = name.split()
    y_true = [1 if (truth == "true") == (said == "positive") else 0]
    y_pred = [1 if said == "positive" else 0]
    counts = dict(zip(("true positive", "false positive", "false negative", "true negative"),
                      cnn_ref.binary_counts(y_true, y_pred), strict=True))
    answer = next(k for k, v in counts.items() if v == 1)
    return Question(
        qid="", title="Name the outcome", kind="text",
        prompt=(f"For {what} ({positive}): \"{events[name]}\" Is this a true positive, a false positive, "
                "a true negative or a false negative?"),
        answer=answer, synonyms=_SYNONYMS[answer], points=1,
        fmt="two words, e.g. true negative",
        explanation=(f"Positive/negative is what the system SAID ({said}); true/false is whether it was right "
                     f"({truth}). So this is a {answer}."),
        mistakes=distinct_mistakes(answer, [
            (_opposite(said, answer), f"the system said {said}; the second word is what it said"),
            (_opposite(truth, answer), f"the system was {'right' if truth == 'true' else 'wrong'}; the first "
                                       "word says whether it was right"),
        ]),
        params={"scenario": key, "event": name})


_PRIORITY = (
    ("an airport COVID-19 screening test: every positive gets a cheap second test, but an infected traveller "
     "who is missed spreads the virus", "recall"),
    ("a spam filter that moves emails to a folder nobody reads: losing a real email is much worse than seeing "
     "some spam", "precision"),
    ("a fraud detector that flags payments for a human to check: a check is cheap, a missed fraud is expensive",
     "recall"),
    ("a model that picks 10 photos for a homepage out of millions: every photo shown must be good, missing "
     "some good photos does not matter", "precision"),
)


@question("priority_metric", small_space=True)
def priority_metric(rng: np.random.Generator) -> Question:
    story, metric = pick(rng, _PRIORITY)
    why = {
        "recall": "recall = TP / (TP + FN) drops with every missed positive (false negative)",
        "precision": "precision = TP / (TP + FP) drops with every false alarm (false positive)",
        "accuracy": "with rare positives accuracy stays high even for a model that never finds one",
    }
    options = shuffled(rng, ["precision", "recall", "accuracy"])
    correct = options.index(metric)
    costly = "false negatives" if metric == "recall" else "false positives"
    return Question(
        qid="", title="Which metric matters?", kind="choice",
        prompt=f"You tune a classifier for {story}. Which metric should you make as high as possible?",
        choices=tuple(options), answer=letter(correct), points=1,
        explanation=f"The costly errors here are {costly}, and {why[metric]}.",
        mistakes=choice_mistakes([(o, f"{why[o]}; here the costly errors are {costly}") for o in options], correct),
        params={"story": story, "metric": metric})
