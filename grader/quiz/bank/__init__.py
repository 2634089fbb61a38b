"""The quiz bank: question generators (one per question id) and the quizzes made of them.

A generator takes a seeded ``numpy.random.Generator`` and returns a :class:`~grader.quiz.model.Question`
whose answer is computed by ``cnn_ref``. Importing the bank is cheap: numpy and ``cnn_ref``
are imported inside the generators.
"""

from __future__ import annotations

from . import conv, layers, metrics  # noqa: F401  (registers the questions)
from .registry import QUESTIONS, Quiz, Spec

_CONV = ("conv_valid", "conv_same", "conv_pad", "same_split", "padding_mode", "conv_step", "max_pool", "avg_pool")
_LAYERS = ("bn_output", "bn_moving", "dropout_output", "dropout_facts", "params_conv", "params_dense",
           "params_bn", "flatten_size", "params_model")
_METRICS = ("cm_labels", "cm_layout", "precision_table", "recall_sklearn", "f1_counts", "always_negative",
            "error_name", "priority_metric")

QUIZZES: dict[str, Quiz] = {q.quiz_id: q for q in (
    Quiz("cnn-week", "CNN week: convolution, pooling, batch norm, dropout, parameters and metrics",
         _CONV + _LAYERS + _METRICS),
    Quiz("cnn-week-conv", "CNN week, part 1: convolution, padding and pooling", _CONV),
    Quiz("cnn-week-layers", "CNN week, part 2: batch normalization, dropout and parameter counts", _LAYERS),
    Quiz("cnn-week-metrics", "CNN week, part 3: confusion matrix, precision, recall and accuracy", _METRICS),
)}

__all__ = ["QUESTIONS", "QUIZZES", "Quiz", "Spec"]
