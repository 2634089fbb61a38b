"""Reading and checking a student's answer: pure Python, never executes anything.

An answer arrives as plain data: a Python literal read from a notebook cell with
``ast.literal_eval`` semantics, a JSON/YAML value, or the raw text a student typed. The
accepted forms, for every question kind:

- numbers: ``12``, ``0.75``, ``3/4``, ``75%``, ``1,199,882``, ``1e-3``, surrounding spaces or
  quotes, a one-element list;
- matrices: nested lists or tuples, or text with rows separated by ``;``, newlines or
  brackets and entries by commas, spaces or ``x`` (``12x12x32``); entries are numbers as above;
- one choice: a letter in any case, ``(B)``, ``B)``, ``b.``, or the choice's exact text;
- several choices: a list of letters, ``"A, C"``, ``"A C"``, ``"AC"``;
- short text: case, spaces, hyphens, underscores, quotes and a final period do not matter;
  each question lists its accepted synonyms.
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

from .model import Question, letter

#: Longest answer text we read (anything longer is refused, never parsed).
MAX_TEXT = 2000
#: Most numbers in one matrix answer.
MAX_CELLS = 400

Status = Literal["correct", "wrong", "unreadable", "missing"]


class AnswerFormatError(ValueError):
    """The answer cannot be read as the question's kind; the message says how to write it."""


@dataclass(frozen=True)
class Verdict:
    """How one answer fared. ``why`` names a known mistake; it is only shown after the due date."""

    status: Status
    read_as: str = ""
    problem: str = ""
    why: str = ""

    @property
    def correct(self) -> bool:
        return self.status == "correct"


def is_missing(raw: Any) -> bool:
    """No answer given: ``...``, ``None``, an empty string."""
    return raw is None or raw is Ellipsis or (isinstance(raw, str) and raw.strip() in ("", "..."))


# --- numbers ---------------------------------------------------------------------------------

_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?")


def _strip_quotes(text: str) -> str:
    text = text.strip()
    while len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"`":
        text = text[1:-1].strip()
    return text


def _decimal(text: str) -> Fraction:
    if _THOUSANDS.fullmatch(text):
        text = text.replace(",", "")
    match = _NUMBER.fullmatch(text)
    if not match:
        raise AnswerFormatError(f"{text!r} is not a number")
    if match.group(3) and abs(int(match.group(3)[1:])) > 400:
        raise AnswerFormatError(f"{text!r} is out of range")
    return Fraction(text)


def parse_number(raw: Any) -> float:
    """A finite float from an int, a float or text such as ``3/4``, ``75%``, ``1,024``."""
    if isinstance(raw, bool):
        raise AnswerFormatError(f"expected a number, got {raw}")
    if isinstance(raw, int | float):
        try:
            value = float(raw)
        except OverflowError:
            raise AnswerFormatError("the number is too large") from None
    elif isinstance(raw, list | tuple) and len(raw) == 1:
        return parse_number(raw[0])
    elif isinstance(raw, str):
        value = _number_text(raw)
    else:
        raise AnswerFormatError(f"expected a number, got {_describe(raw)}")
    if not math.isfinite(value):
        raise AnswerFormatError("expected a finite number")
    return value


def _number_text(raw: str) -> float:
    if len(raw) > 100:
        raise AnswerFormatError("expected a number, got a long text")
    text = _strip_quotes(raw).replace("\u2212", "-").replace("_", "")
    text = re.sub(r"\s+", "", text)
    scale = Fraction(1)
    if text.endswith("%"):
        text, scale = text[:-1], Fraction(1, 100)
    try:
        if text.count("/") == 1:
            num, den = text.split("/")
            if _decimal(den) == 0:
                raise AnswerFormatError(f"{raw.strip()!r} divides by zero")
            value = _decimal(num) / _decimal(den)
        else:
            value = _decimal(text)
    except AnswerFormatError:
        raise AnswerFormatError(f"{raw.strip()!r} is not a number (write e.g. 0.75, 3/4 or 75%)") from None
    except (ValueError, ZeroDivisionError, OverflowError):
        raise AnswerFormatError(f"{raw.strip()!r} is not a number") from None
    try:
        return float(value * scale)
    except OverflowError:
        raise AnswerFormatError(f"{raw.strip()!r} is too large") from None


def close(got: float, expected: float, atol: float, rtol: float) -> bool:
    """``|got - expected| <= atol + rtol * |expected|``, plus float round-off."""
    slack = atol + rtol * abs(expected) + 1e-9 * max(1.0, abs(expected))
    return abs(got - expected) <= slack


# --- matrices --------------------------------------------------------------------------------

def _describe(raw: Any) -> str:
    return type(raw).__name__ if not isinstance(raw, str) else repr(raw[:40])


def _nested(raw: Any, depth: int = 0, budget: list[int] | None = None) -> Any:
    """Lists/tuples of numbers -> nested lists of floats (bounded size and depth)."""
    budget = [MAX_CELLS * 2] if budget is None else budget
    budget[0] -= 1
    if budget[0] < 0 or depth > 3:
        raise AnswerFormatError("the answer is too large or too deeply nested")
    if isinstance(raw, list | tuple):
        return [_nested(item, depth + 1, budget) for item in raw]
    return parse_number(raw)


def _matrix_text(raw: str) -> Any:
    text = _strip_quotes(raw)
    if text[:1] in "[(":
        try:
            return _nested(ast.literal_eval(text))
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            pass
    nested = re.match(r"\s*((np\.)?array\s*\()?\s*[\[(]\s*[\[(]", text) is not None
    text = text.replace("\u2212", "-").replace("\u00d7", "x")
    text = re.sub(r"(?<=[\d.])\s*[xX]\s*(?=[\d.+-])", ",", text)
    text = re.sub(r"(array|np\.array)\s*\(", "", text)
    text = re.sub(r"[\])]\s*,?", ";", text).replace("[", "").replace("(", "")
    rows = [r for r in re.split(r"[;\n]", text) if r.strip(" ,\t")]
    parsed = [[parse_number(tok) for tok in re.split(r"[,\s]+", r.strip(" ,\t")) if tok]
              for r in rows]
    if not parsed:
        raise AnswerFormatError("the answer is empty")
    return parsed[0] if len(parsed) == 1 and not nested else parsed


def parse_matrix(raw: Any) -> list[Any]:
    """A list (1-D) or list of lists (2-D) of floats."""
    if isinstance(raw, str):
        if len(raw) > MAX_TEXT:
            raise AnswerFormatError("the answer is too long")
        value = _matrix_text(raw)
    elif isinstance(raw, list | tuple):
        value = _nested(raw)
    else:
        raise AnswerFormatError(f"expected a list of numbers, got {_describe(raw)}")
    if not isinstance(value, list):
        raise AnswerFormatError("expected a list of numbers, got a single number")
    return value


def shape_of(value: Any) -> tuple[int, ...]:
    """Shape of a regular nested list; raises AnswerFormatError for ragged rows."""
    if not isinstance(value, list):
        return ()
    inner = {shape_of(item) for item in value}
    if len(inner) > 1:
        raise AnswerFormatError("the rows do not all have the same length")
    return (len(value), *(inner.pop() if inner else ()))


def _flat(value: Any) -> list[float]:
    if isinstance(value, list):
        return [x for item in value for x in _flat(item)]
    return [value]


def _shape_text(shape: tuple[int, ...]) -> str:
    if len(shape) == 1:
        return f"a list of {shape[0]} numbers"
    return "a " + " x ".join(map(str, shape)) + " matrix (a list of rows)"


def matrix_matches(got: list[Any], expected: Any, atol: float, rtol: float) -> bool:
    if shape_of(got) != shape_of(expected):
        return False
    return all(close(g, e, atol, rtol) for g, e in zip(_flat(got), _flat(expected), strict=True))


# --- choices ---------------------------------------------------------------------------------

def _norm_text(text: str) -> str:
    text = _strip_quotes(text).lower()
    text = re.sub(r"[-_]+", " ", text)
    text = re.sub(r"\s+", " ", text).strip(" .!;:")
    return _strip_quotes(text)


def _one_letter(raw: Any, choices: tuple[str, ...]) -> str:
    if isinstance(raw, list | tuple) and len(raw) == 1:
        raw = raw[0]
    if not isinstance(raw, str):
        raise AnswerFormatError(f"expected a letter, got {_describe(raw)}")
    text = _strip_quotes(raw)
    bare = re.sub(r"^[\s(\[{]+|[\s)\]}.:]+$", "", text).upper()
    valid = [letter(i) for i in range(len(choices))]
    if bare in valid:
        return bare
    matches = [letter(i) for i, c in enumerate(choices) if _norm_text(c) == _norm_text(text)]
    if len(matches) == 1:
        return matches[0]
    raise AnswerFormatError(f"{raw.strip()[:40]!r} is not one of the letters {', '.join(valid)}")


def parse_choices(raw: Any, choices: tuple[str, ...]) -> list[str]:
    """Sorted distinct letters for a multi-select answer."""
    if isinstance(raw, list | tuple | set | frozenset):
        if len(raw) > 26:
            raise AnswerFormatError("too many letters")
        letters = {_one_letter(item, choices) for item in raw}
        return sorted(letters)
    if not isinstance(raw, str):
        raise AnswerFormatError(f"expected letters such as 'A, C', got {_describe(raw)}")
    if len(raw) > 200:
        raise AnswerFormatError("the answer is too long")
    text = _strip_quotes(raw).strip("[](){}")
    if _norm_text(text) in ("none", "no letter", "nothing"):
        return []
    tokens = [t for t in re.split(r"[,;/\s]+|\band\b|&", text) if t.strip()]
    valid = {letter(i) for i in range(len(choices))}
    if len(tokens) == 1 and len(tokens[0]) > 1 and set(tokens[0].upper()) <= valid:
        tokens = list(tokens[0])
    return sorted({_one_letter(t, choices) for t in tokens})


# --- checking --------------------------------------------------------------------------------

def parse(question: Question, raw: Any) -> Any:
    """The answer in the question's canonical form, or AnswerFormatError."""
    kind = question.kind
    if kind == "numeric":
        return parse_number(raw)
    if kind == "matrix":
        value = parse_matrix(raw)
        expected = shape_of(question.answer)
        if shape_of(value) != expected:
            raise AnswerFormatError(f"expected {_shape_text(expected)}, got {_shape_text(shape_of(value))}")
        return value
    if kind == "choice":
        return _one_letter(raw, question.choices)
    if kind == "multi":
        return parse_choices(raw, question.choices)
    if isinstance(raw, list | tuple) and len(raw) == 1:
        raw = raw[0]
    if not isinstance(raw, str | int | float) or isinstance(raw, bool):
        raise AnswerFormatError(f"expected a word or short phrase, got {_describe(raw)}")
    if isinstance(raw, int) and abs(raw) > 10**100:
        raw = "a very large number"
    if len(str(raw)) > 200:
        raise AnswerFormatError("the answer is too long for a short-text question")
    return _norm_text(str(raw))


def matches(question: Question, value: Any, expected: Any) -> bool:
    """Does a parsed answer equal ``expected`` (the key or a known mistake) for this question?"""
    kind = question.kind
    if kind == "numeric":
        return close(value, float(expected), question.atol, question.rtol)
    if kind == "matrix":
        return matrix_matches(value, expected, question.atol, question.rtol)
    if kind == "multi":
        return value == sorted(expected)
    if kind == "text":
        accepted = (expected, *question.synonyms) if expected == question.answer else (expected,)
        return value in {_norm_text(str(a)) for a in accepted}
    return value == expected


def format_value(question: Question, value: Any) -> str:
    """An answer (canonical or parsed) as a student reads it."""
    kind = question.kind
    if kind == "numeric":
        return _fmt_number(value)
    if kind == "matrix":
        return _fmt_nested(value)
    if kind == "choice":
        index = ord(value) - ord("A")
        return f"{value}) {question.choices[index]}" if 0 <= index < len(question.choices) else value
    if kind == "multi":
        return ", ".join(value) if value else "(none)"
    return str(value)


def _fmt_number(x: Any) -> str:
    x = float(x)
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.6g}"


def _fmt_nested(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_fmt_nested(v) for v in value) + "]"
    return _fmt_number(value)


def check(question: Question, raw: Any) -> Verdict:
    """Grade one raw answer against the question's key."""
    if is_missing(raw):
        return Verdict("missing", problem="no answer")
    try:
        value = parse(question, raw)
    except AnswerFormatError as exc:
        return Verdict("unreadable", problem=f"could not read the answer: {exc}")
    read_as = format_value(question, value)
    if matches(question, value, question.answer):
        return Verdict("correct", read_as=read_as)
    why = next((m.why for m in question.mistakes if matches(question, value, m.answer)), "")
    return Verdict("wrong", read_as=read_as, why=why)
