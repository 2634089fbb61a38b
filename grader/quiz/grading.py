"""Grading a quiz submission: a quiz notebook or an answers file -> SubmissionResult.

Nothing a student submits is executed. A notebook's answer cells are parsed with ``ast``:
``qid = <literal>`` is read with ``ast.literal_eval`` (plus ``np.array(<literal>)``), any other
right-hand side (``3/4``) as its source text; a cell that is not valid Python (``q = 75%``) is
read line by line. The last assignment of each question id, in notebook order, counts.

Statuses: ``graded`` (whatever the score); ``tampered`` when a notebook's quiz metadata is
missing, edited (its HMAC tag no longer matches) or belongs to another student: score 0, the
reason in ``output``, no per-question results; ``unreadable`` when the file cannot be read or
is for another quiz; ``error`` when the quiz bank changed since the notebook was released (the
grader's problem, not the student's).
"""

from __future__ import annotations

import ast
import json
import re
import time
from pathlib import PurePath
from typing import Any

from ..results import GRADED, SubmissionResult, TestResult
from . import answers
from .model import Question
from .variants import Variant, load_secret, student_variant, tag_matches

TAMPERED = "tampered"
#: Largest submission read (a quiz notebook is a few tens of kB).
MAX_BYTES = 16 * 1024 * 1024
MAX_CELL_CHARS = 100_000
#: YAML is parsed in pure Python: answers files are small, anything big is refused unparsed.
MAX_YAML_CHARS = 256 * 1024


class Unusable(Exception):
    """The submission cannot be graded; ``status`` and the student-facing ``reason`` say why."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


# --- reading answers out of a notebook ---------------------------------------------------------

def _cell_source(cell: Any) -> str:
    source = cell.get("source", "") if isinstance(cell, dict) else ""
    if isinstance(source, list):
        source = "".join(s for s in source if isinstance(s, str))
    return source if isinstance(source, str) else ""


def _literal(node: ast.expr, source: str) -> Any:
    """A literal's value; ``np.array(<literal>)`` -> the literal; anything else -> its source text."""
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        pass
    if (isinstance(node, ast.Call) and len(node.args) == 1 and not node.keywords
            and ((isinstance(node.func, ast.Name) and node.func.id == "array")
                 or (isinstance(node.func, ast.Attribute) and node.func.attr == "array"))):
        try:
            return ast.literal_eval(node.args[0])
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            pass
    return ast.get_source_segment(source, node) or ""


def _assignments(source: str, qids: set[str]) -> list[tuple[str, Any]]:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return _assignments_by_line(source, qids)
    found = []
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id in qids):
            found.append((node.targets[0].id, _literal(node.value, source)))
    return found


_LINE = re.compile(r"^\s*([A-Za-z_]\w*)\s*=\s*(.*?)\s*$")


def _assignments_by_line(source: str, qids: set[str]) -> list[tuple[str, Any]]:
    """For cells that are not valid Python (``q = 75%``): ``name = text`` line by line."""
    found = []
    for line in source.splitlines():
        match = _LINE.match(line)
        if match and match.group(1) in qids:
            text = match.group(2)
            try:
                found.append((match.group(1), ast.literal_eval(text)))
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                found.append((match.group(1), re.sub(r"\s+#.*$", "", text)))
    return found


def notebook_answers(nb: dict[str, Any], qids: set[str]) -> dict[str, Any]:
    """``{qid: raw answer}`` from every code cell, later cells winning."""
    cells = nb.get("cells")
    if not isinstance(cells, list):
        raise Unusable("unreadable", "the notebook has no cells")
    found: dict[str, Any] = {}
    for cell in cells:
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            source = _cell_source(cell)
            if len(source) <= MAX_CELL_CHARS and any(q in source for q in qids):
                found.update(_assignments(source, qids))
    return found


def check_metadata(nb: dict[str, Any], variant: Variant, secret: bytes) -> None:
    """Raise Unusable unless the notebook is ``variant.student``'s genuine notebook of this quiz."""
    meta = nb.get("metadata")
    meta = meta.get("dl101") if isinstance(meta, dict) else None
    if not isinstance(meta, dict) or not all(isinstance(meta.get(k), str) for k in ("quiz", "student", "variant", "tag")):
        raise Unusable(TAMPERED, "this is not a released quiz notebook: its dl101 quiz metadata is missing or "
                                 "incomplete. Submit the notebook you received, with your answers typed in.")
    if (not tag_matches(secret, meta["quiz"], meta["student"], meta["variant"], meta["tag"])
            or meta.get("assignment", meta["quiz"]) != meta["quiz"]):
        raise Unusable(TAMPERED, "the notebook's quiz metadata was changed (its integrity tag does not match). "
                                 "Submit the notebook you received, with your answers typed in.")
    if meta["student"] != variant.student:
        raise Unusable(TAMPERED, f"this notebook was released to another student ({meta['student']}), but it was "
                                 f"submitted as {variant.student}'s.")
    if meta["quiz"] != variant.quiz_id:
        raise Unusable("unreadable", f"this notebook is for the quiz {meta['quiz']!r}, not {variant.quiz_id!r}.")
    if meta["variant"] != variant.fingerprint:
        raise Unusable("error", "the quiz bank changed since this notebook was released (variant fingerprint "
                                "differs); grade with the dl101 version that released it.")


# --- reading a submission ------------------------------------------------------------------------

def _decode(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise Unusable("unreadable", f"the file is larger than {MAX_BYTES // 2**20} MB")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Unusable("unreadable", "the file is not UTF-8 text") from None


def _mapping(value: Any, what: str) -> dict[str, Any]:
    if isinstance(value, dict) and isinstance(value.get("answers"), dict):
        value = value["answers"]
    if not isinstance(value, dict):
        raise Unusable("unreadable", f"the {what} file must map question ids to answers, e.g. {{\"conv_valid\": [17, 20, 32]}}")
    return {str(k): v for k, v in value.items()}


def read_submission(data: bytes, name: str, variant: Variant, secret: bytes) -> dict[str, Any]:
    """``{qid: raw answer}`` from a quiz notebook or an answers file (JSON / YAML)."""
    suffix = PurePath(name).suffix.lower()
    if suffix not in (".ipynb", ".json", ".yaml", ".yml"):
        raise Unusable("unreadable", f"expected a quiz notebook (.ipynb) or an answers file (.json, .yaml), got {name!r}")
    text = _decode(data)
    if suffix in (".yaml", ".yml"):
        import yaml

        if len(text) > MAX_YAML_CHARS or text.count("[") + text.count("{") > 2000:
            raise Unusable("unreadable", "the YAML file is too large or too deeply nested for an answers file")

        try:
            return _mapping(yaml.safe_load(text), "YAML")
        except (yaml.YAMLError, RecursionError, ValueError) as exc:
            first = (str(exc).splitlines() or [type(exc).__name__])[0]
            raise Unusable("unreadable", f"the YAML file cannot be read: {first}") from None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise Unusable("unreadable", f"the file is not valid JSON: {exc}") from None
    if suffix == ".ipynb" or (isinstance(value, dict) and "cells" in value and "nbformat" in value):
        if not isinstance(value, dict):
            raise Unusable("unreadable", "the notebook is not a JSON object")
        check_metadata(value, variant, secret)
        return notebook_answers(value, {q.qid for q in variant.questions})
    return _mapping(value, "JSON")


# --- grading ---------------------------------------------------------------------------------------

def feedback(q: Question, verdict: answers.Verdict, reveal: bool) -> str:
    """What the student reads for one question. The key and its explanation only when ``reveal``."""
    lines = {
        "correct": f"Correct (read as {verdict.read_as}).",
        "wrong": f"Incorrect (read as {verdict.read_as}).",
        "unreadable": f"Incorrect: {verdict.problem}. Expected format: {q.format_hint}.",
        "missing": "No answer.",
    }[verdict.status]
    if not reveal:
        return lines
    parts = [lines]
    if verdict.status != "correct":
        parts.append(f"Expected: {answers.format_value(q, q.answer)}." + (f" ({verdict.why})" if verdict.why else ""))
    parts.append(q.explanation)
    return "\n\n".join(parts)


def grade_answers(variant: Variant, raw: dict[str, Any], *, reveal: bool) -> list[TestResult]:
    tests = []
    for q in variant.questions:
        verdict = answers.check(q, raw.get(q.qid))
        tests.append(TestResult(name=q.qid, score=float(q.points) if verdict.correct else 0.0,
                                max_score=float(q.points), status="passed" if verdict.correct else "failed",
                                output=f"{q.title}\n{feedback(q, verdict, reveal)}"))
    return tests


def _summary(variant: Variant, tests: list[TestResult], raw: dict[str, Any]) -> str:
    right = sum(t.status == "passed" for t in tests)
    score = sum(t.score for t in tests)
    text = (f"Quiz {variant.quiz_id}: {right} of {len(tests)} questions correct "
            f"({score:g}/{variant.max_score:g} points).")
    qids = {q.qid for q in variant.questions}
    unanswered = sum(answers.is_missing(raw.get(q)) for q in qids)
    if unanswered:
        text += f" {unanswered} unanswered."
    unknown = sorted(k for k in raw if k not in qids)
    if unknown:
        shown = ", ".join(unknown[:10]) + (", ..." if len(unknown) > 10 else "")
        text += f" Ignored (not questions of this quiz): {shown}."
    return text


def grade_quiz_submission(data: bytes, *, name: str, student: str, quiz_id: str, reveal: bool = True,
                          secret: bytes | None = None) -> SubmissionResult:
    """Grade one student's quiz submission (notebook or answers file) against their own variant.

    ``student`` (from the submission's file name) picks the variant; ``reveal`` adds the key and a
    worked explanation to every question's feedback (after the due date). Raises GraderError only
    for the grader's own problems (unknown quiz, no course secret).
    """
    start = time.monotonic()
    secret = load_secret() if secret is None else secret
    variant = student_variant(quiz_id, student, secret)
    result = SubmissionResult(student=student, assignment=quiz_id, status=GRADED, max_score=variant.max_score,
                              source=name, extra={"quiz": quiz_id, "variant": variant.fingerprint})
    try:
        raw = read_submission(data, name, variant, secret)
    except Unusable as exc:
        result.status, result.output = exc.status, exc.reason
    else:
        result.tests = grade_answers(variant, raw, reveal=reveal)
        result.score = float(sum(t.score for t in result.tests))
        result.output = _summary(variant, result.tests, raw)
    result.execution_time = time.monotonic() - start
    return result
