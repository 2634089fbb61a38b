"""The question registry: every generator, by question id, and the quizzes made from them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ..answers import check
from ..model import Question

if TYPE_CHECKING:
    import numpy as np

Maker = Callable[["np.random.Generator"], Question]


@dataclass(frozen=True)
class Spec:
    """A registered question generator.

    ``group``: questions sharing a group draw from the same random stream, so they can talk
    about the same model or the same counts. ``small_space``: the question's parameter space
    is too small for every student of a class to get different parameters (a handful of
    scenarios); its choices are still shuffled per student.
    """

    qid: str
    make: Maker
    group: str | None = None
    small_space: bool = False

    def build(self, rng: np.random.Generator) -> Question:
        """The question for this random stream; known mistakes that the tolerance accepts are dropped."""
        question = replace(self.make(rng), qid=self.qid)
        mistakes = tuple(m for m in question.mistakes if check(question, m.answer).status == "wrong")
        return replace(question, mistakes=mistakes)


@dataclass(frozen=True)
class Quiz:
    quiz_id: str
    title: str
    qids: tuple[str, ...]


QUESTIONS: dict[str, Spec] = {}


def question(qid: str, *, group: str | None = None, small_space: bool = False) -> Callable[[Maker], Maker]:
    """Register ``make(rng) -> Question`` under ``qid`` (a Python identifier: it names the answer cell)."""
    if not qid.isidentifier():
        raise ValueError(f"question id {qid!r} must be a Python identifier")

    def register(make: Maker) -> Maker:
        if qid in QUESTIONS:
            raise ValueError(f"question id {qid!r} registered twice")
        QUESTIONS[qid] = Spec(qid, make, group, small_space)
        return make

    return register
