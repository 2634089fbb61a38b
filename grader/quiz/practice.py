"""``dl101 quiz practice``: a fresh random variant in the terminal, with immediate feedback.

The session talks through two functions so it runs the same under click, plain ``input`` or a
test: ``ask(prompt) -> str`` (raises EOFError when input ends) and ``say(text)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..errors import GraderError
from . import answers
from .model import Question, letter
from .render import plain_text
from .variants import practice_variant

QUIT = {"q", "quit", "exit"}
#: Unreadable answers allowed per question before it is skipped.
MAX_RETRIES = 3


@dataclass
class Tally:
    score: float = 0.0
    max_score: float = 0.0
    asked: int = 0
    correct: int = 0


class _Quit(Exception):
    pass


def _count(n: float, word: str) -> str:
    return f"{n:g} {word}" + ("" if n == 1 else "s")


def _show(number: int, total: int, q: Question) -> str:
    lines = [f"Question {number}/{total} ({_count(q.points, 'point')}): {q.title}", "", plain_text(q.prompt)]
    if q.choices:
        lines += [""] + [f"  {letter(i)}) {text}" for i, text in enumerate(q.choices)]
    lines += ["", f"Answer format: {q.format_hint}"]
    return "\n".join(lines)


def _ask_one(q: Question, ask: Callable[[str], str], say: Callable[[str], None]) -> answers.Verdict:
    for _ in range(MAX_RETRIES):
        raw = ask("Your answer (Enter skips, q quits)")
        if raw.strip().lower() in QUIT:
            raise _Quit
        verdict = answers.check(q, raw)
        if verdict.status != "unreadable":
            return verdict
        say(f"  {verdict.problem[0].upper()}{verdict.problem[1:]}. Try again ({q.format_hint}).")
    return verdict


def _react(q: Question, verdict: answers.Verdict, say: Callable[[str], None]) -> None:
    expected = answers.format_value(q, q.answer)
    if verdict.correct:
        say("Correct!")
    elif verdict.status == "missing":
        say(f"Skipped. The answer is {expected}.")
    else:
        why = f" ({verdict.why})" if verdict.why else ""
        say(f"Not quite: the answer is {expected}{why}.")
    say("\nWhy: " + plain_text(q.explanation) + "\n")


def run_practice(quiz_id: str, *, ask: Callable[[str], str], say: Callable[[str], None],
                 seed: int | None = None, only: Sequence[str] = ()) -> Tally:
    """Ask every question of a fresh variant (or the ``only`` ids); stops at 'q' or end of input."""
    variant = practice_variant(quiz_id, seed)
    unknown = sorted(set(only) - {q.qid for q in variant.questions})
    if unknown:
        raise GraderError(f"quiz {quiz_id} has no question {', '.join(unknown)}; its questions: "
                          + ", ".join(q.qid for q in variant.questions))
    questions = [q for q in variant.questions if not only or q.qid in only]
    tally = Tally()
    say(f"Practice quiz {quiz_id}: {_count(len(questions), 'question')}, a new random variant each time. "
        "Type q to stop.\n")
    try:
        for number, q in enumerate(questions, start=1):
            say(_show(number, len(questions), q))
            verdict = _ask_one(q, ask, say)
            tally.asked += 1
            tally.max_score += q.points
            if verdict.correct:
                tally.correct += 1
                tally.score += q.points
            _react(q, verdict, say)
    except (_Quit, EOFError):
        say("")
    say(f"Score: {tally.score:g}/{tally.max_score:g} ({tally.correct} of {_count(tally.asked, 'question')} right).")
    return tally
