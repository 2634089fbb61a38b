"""Small helpers the generators share: drawing parameters and writing them as Markdown."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ..model import Mistake, letter

if TYPE_CHECKING:
    import numpy as np

T = TypeVar("T")


def pick(rng: np.random.Generator, options: Sequence[T]) -> T:
    return options[int(rng.integers(len(options)))]


def randint(rng: np.random.Generator, low: int, high: int) -> int:
    """An int in ``[low, high]`` (both included)."""
    return int(rng.integers(low, high + 1))


def num(x: Any) -> str:
    """A number as a person writes it: ``3``, ``0.25``, ``1.3333``."""
    x = float(x)
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.4f}".rstrip("0").rstrip(".")


def exact(x: Any) -> float | int:
    """A key value: ints stay ints, floats lose only float noise."""
    x = float(x)
    return int(x) if x.is_integer() and abs(x) < 2**53 else round(x, 10)


def exact_list(values: Any) -> list[Any]:
    """A (nested) array as a (nested) list of key values."""
    if hasattr(values, "tolist"):
        values = values.tolist()
    if isinstance(values, list | tuple):
        return [exact_list(v) for v in values]
    return exact(values)


def seq(values: Any) -> str:
    """``[1, -0.5, 2]``: a list as Python writes it (numbers via :func:`num`)."""
    if hasattr(values, "tolist"):
        values = values.tolist()
    if isinstance(values, list | tuple):
        return "[" + ", ".join(seq(v) for v in values) + "]"
    return values if isinstance(values, str) else num(values)


def code(text: str, lang: str = "") -> str:
    return f"```{lang}\n{text}\n```"


def grid(rows: Any) -> str:
    """A 2-D array as an aligned code block, one row per line."""
    if hasattr(rows, "tolist"):
        rows = rows.tolist()
    cells = [[num(v) for v in row] for row in rows]
    width = max(len(c) for row in cells for c in row)
    lines = ["[" + ", ".join(c.rjust(width) for c in row) + "]" for row in cells]
    body = ",\n ".join(lines)
    return code(f"[{body}]")


def shuffled(rng: np.random.Generator, options: Sequence[T]) -> list[T]:
    order = rng.permutation(len(options))
    return [options[int(i)] for i in order]


def choice_mistakes(options: Sequence[tuple[str, str]], correct: int) -> tuple[Mistake, ...]:
    """``options``: (text, why-it-is-wrong) in display order; the correct one's why is ignored."""
    return tuple(Mistake(letter(i), why) for i, (_, why) in enumerate(options) if i != correct and why)


def distinct_mistakes(answer: Any, candidates: Sequence[tuple[Any, str]]) -> tuple[Mistake, ...]:
    """Known mistakes whose value differs from the answer (and from each other)."""
    seen = [answer]
    out = []
    for value, why in candidates:
        if value not in seen:
            seen.append(value)
            out.append(Mistake(value, why))
    return tuple(out)
