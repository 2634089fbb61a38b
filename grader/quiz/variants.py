"""Per-student variants: the course secret, keyed seeds, the notebook tag, building a variant.

- The course secret comes from ``secret_file`` when given, else the ``DL101_COURSE_SECRET``
  environment variable, else the file ``.dl101-secret`` in the current directory (created by
  the first ``dl101 quiz release``, mode 0600). It never goes into anything a student receives.
- A student's variant seed is ``HMAC-SHA256(secret, ["dl101-quiz-seed", quiz, student])``: the
  same student gets the same quiz every time, and without the secret nobody can compute
  another student's variant. Each question draws from its own stream,
  ``HMAC-SHA256(seed, question id or group)``, so adding a question changes no other question.
- A released notebook carries the quiz id, the student id, the variant fingerprint (a hash of
  the questions the student sees, never of the answers) and
  ``tag = HMAC-SHA256(secret, ["dl101-quiz-tag", quiz, student, fingerprint])``. Grading
  recomputes the tag: changed metadata cannot be made to match without the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from ..errors import GraderError
from .model import Question

if TYPE_CHECKING:
    from .bank import Quiz

SECRET_ENV = "DL101_COURSE_SECRET"
DEFAULT_SECRET_FILE = ".dl101-secret"
#: Bumped if the seed or tag derivation ever changes (old releases then fail loudly).
SCHEME = 1


@dataclass(frozen=True)
class Variant:
    """One student's (or one practice session's) questions for one quiz."""

    quiz_id: str
    student: str
    questions: tuple[Question, ...]

    @property
    def fingerprint(self) -> str:
        """Hash of what the student sees (ids, kinds, prompts, choices, points): never the answers."""
        shown = [[q.qid, q.kind, q.prompt, list(q.choices), q.points] for q in self.questions]
        blob = json.dumps([SCHEME, self.quiz_id, shown], sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:32]

    @property
    def max_score(self) -> float:
        return float(sum(q.points for q in self.questions))

    def key(self) -> dict[str, object]:
        """``{question_id: answer}`` (JSON-able)."""
        return {q.qid: q.answer for q in self.questions}


# --- the secret --------------------------------------------------------------------------------

def _read_secret_file(path: Path) -> bytes:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise GraderError(f"cannot read the course secret file {path}: {exc.strerror}") from None
    if not text:
        raise GraderError(f"the course secret file {path} is empty")
    return text.encode()


def create_secret_file(path: Path) -> bytes:
    """Write a fresh random secret to ``path`` (mode 0600); refuses to overwrite."""
    token = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise GraderError(f"{path} already exists; not overwriting a course secret") from None
    except OSError as exc:
        raise GraderError(f"cannot create the course secret file {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(token + "\n")
    return token.encode()


def secret_source(secret_file: str | os.PathLike[str] | None = None) -> str | Path:
    """Where the secret comes from: a file Path, or the environment variable's name."""
    if secret_file is not None:
        return Path(secret_file)
    if os.environ.get(SECRET_ENV, "").strip():
        return SECRET_ENV
    return Path(DEFAULT_SECRET_FILE)


def load_secret(secret_file: str | os.PathLike[str] | None = None, *, create: bool = False) -> bytes:
    """The course secret (see the module docstring for the order); ``create`` makes a missing file."""
    source = secret_source(secret_file)
    if not isinstance(source, Path):
        return os.environ[SECRET_ENV].strip().encode()
    if source.exists():
        return _read_secret_file(source)
    if create:
        return create_secret_file(source)
    raise GraderError(
        f"no course secret: set {SECRET_ENV} or pass --secret-file (looked for {source}). "
        "The secret used at release time is needed to rebuild each student's variant.")


# --- keyed derivations -------------------------------------------------------------------------

def _mac(key: bytes, *parts: object) -> bytes:
    return hmac.new(key, json.dumps(parts).encode(), hashlib.sha256).digest()


def variant_seed(secret: bytes, quiz_id: str, student: str) -> bytes:
    return _mac(secret, "dl101-quiz-seed", SCHEME, quiz_id, student)


def notebook_tag(secret: bytes, quiz_id: str, student: str, fingerprint: str) -> str:
    return _mac(secret, "dl101-quiz-tag", SCHEME, quiz_id, student, fingerprint).hex()


def tag_matches(secret: bytes, quiz_id: str, student: str, fingerprint: str, tag: object) -> bool:
    return isinstance(tag, str) and hmac.compare_digest(notebook_tag(secret, quiz_id, student, fingerprint), tag)


# --- building variants -------------------------------------------------------------------------

def _bank() -> ModuleType:
    """The bank module (instructor-only: the student bundle leaves it out)."""
    try:
        from . import bank
    except ModuleNotFoundError as exc:
        if exc.name not in ("grader.quiz.bank", "cnn_ref"):
            raise
        raise GraderError("the quiz bank is not installed here: quizzes are released, keyed and graded "
                          "from the instructor's copy of dl101 (with cnn_ref)") from None
    return bank


def quiz_ids() -> list[str]:
    return list(_bank().QUIZZES)


def get_quiz(quiz_id: str) -> Quiz:
    quizzes = _bank().QUIZZES
    try:
        return quizzes[quiz_id]
    except KeyError:
        raise GraderError(f"unknown quiz {quiz_id!r}; known quizzes: {', '.join(quizzes)}") from None


def build_variant(quiz_id: str, seed: bytes, student: str = "") -> Variant:
    """The questions of ``quiz_id`` drawn from ``seed`` (one stream per question id or group)."""
    import numpy as np

    quiz, questions = get_quiz(quiz_id), []
    for qid in quiz.qids:
        spec = _bank().QUESTIONS[qid]
        stream = _mac(seed, "dl101-quiz-question", spec.group or qid)
        try:
            questions.append(spec.build(np.random.default_rng(int.from_bytes(stream, "big"))))
        except ModuleNotFoundError as exc:
            if exc.name != "cnn_ref":
                raise
            raise GraderError("quiz answers are computed by cnn_ref, which is not installed here "
                              "(it is instructor-only)") from None
    return Variant(quiz_id, student, tuple(questions))


def student_variant(quiz_id: str, student: str, secret: bytes) -> Variant:
    """The variant of ``student``: always the same for the same secret, quiz and student."""
    return build_variant(quiz_id, variant_seed(secret, quiz_id, student), student)


def practice_variant(quiz_id: str, seed: int | None = None) -> Variant:
    """A fresh random variant (``seed`` replays one); not tied to any student or secret."""
    raw = secrets.token_bytes(32) if seed is None else _mac(b"dl101-practice", seed)
    return build_variant(quiz_id, raw)
