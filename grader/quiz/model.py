"""What a quiz question is: plain, frozen data built by the bank for one variant.

A question carries everything needed to show it (``prompt``, ``choices``, ``fmt``) and to
grade it (``answer``, tolerances, ``synonyms``, ``mistakes``). Only the first group ever
reaches a student's file; :mod:`grader.quiz.release` is the one place that draws that line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["numeric", "choice", "multi", "matrix", "text"]
KINDS: tuple[Kind, ...] = ("numeric", "choice", "multi", "matrix", "text")

#: How to type an answer of each kind (shown next to every answer cell).
FORMATS: dict[Kind, str] = {
    "numeric": "a number, e.g. 12, 0.75, 3/4 or 75%",
    "choice": "one letter, e.g. B",
    "multi": "every letter that applies, e.g. A, C",
    "matrix": "a list or nested list, e.g. [[1, 2], [3, 4]] (or rows separated by ';')",
    "text": "a word or short phrase",
}


@dataclass(frozen=True)
class Mistake:
    """A wrong answer a student plausibly gives, and why it is wrong (shown after the due date)."""

    answer: Any
    why: str


@dataclass(frozen=True)
class Question:
    """One question of one variant.

    ``answer`` is canonical and JSON-able: a number (``numeric``), a letter (``choice``), a
    sorted list of letters (``multi``), a list or nested list of numbers (``matrix``) or a
    string (``text``). Numbers match when ``|got - answer| <= atol + rtol * |answer|``.
    """

    qid: str
    title: str
    kind: Kind
    prompt: str
    answer: Any
    explanation: str
    points: float = 1.0
    choices: tuple[str, ...] = ()
    atol: float = 0.0
    rtol: float = 0.0
    synonyms: tuple[str, ...] = ()
    mistakes: tuple[Mistake, ...] = ()
    #: Answer-format hint; defaults to FORMATS[kind].
    fmt: str = ""
    #: What was randomized (JSON-able): proves variety, lets tests re-derive the answer.
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"{self.qid}: unknown question kind {self.kind!r}")
        if self.kind in ("choice", "multi") and len(self.choices) < 2:
            raise ValueError(f"{self.qid}: a {self.kind} question needs at least two choices")
        if self.points <= 0:
            raise ValueError(f"{self.qid}: points must be > 0")

    @property
    def format_hint(self) -> str:
        return self.fmt or FORMATS[self.kind]


def letter(index: int) -> str:
    """0 -> 'A', 1 -> 'B', ..."""
    return chr(ord("A") + index)
