"""Randomized per-student quizzes: bank, variants, release, key, practice and grading.

Modules: ``model`` (what a question is), ``answers`` (reading and checking answers), ``bank``
(generators, answers from ``cnn_ref``; instructor-only), ``variants`` (course secret, keyed
seeds, notebook tag), ``render`` (what a student sees), ``release``, ``grading``,
``practice`` and ``cli`` (the ``dl101 quiz`` click group).

Grading API used by ``dl101 grade -a QUIZ``: :func:`is_quiz` and :func:`grade_quiz_submission`.
A tampered notebook (quiz metadata missing, edited, or another student's) gets status
``tampered`` with score 0 and the reason in ``output``.

Importing this package is cheap (no numpy, no cnn_ref): the work is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..results import SubmissionResult

__all__ = ["grade_quiz_submission", "is_quiz"]


def is_quiz(slug: str) -> bool:
    """Is ``slug`` a quiz id (``dl101 quiz list``) rather than an assignment?"""
    from ..errors import GraderError
    from .variants import quiz_ids

    try:
        return slug in quiz_ids()
    except GraderError:  # no quiz bank in this install (the student bundle)
        return False


def grade_quiz_submission(data: bytes, *, name: str, student: str, quiz_id: str, reveal: bool = True,
                          secret: bytes | None = None) -> SubmissionResult:
    """Grade a quiz notebook or answers file (``name`` gives the extension) for ``student``.

    One TestResult per question (its points or 0); the expected answer and a worked
    explanation are in each question's output only when ``reveal`` (after the due date).
    ``secret`` defaults to the course secret (see :mod:`grader.quiz.variants`).
    """
    from .grading import grade_quiz_submission as grade

    return grade(data, name=name, student=student, quiz_id=quiz_id, reveal=reveal, secret=secret)
