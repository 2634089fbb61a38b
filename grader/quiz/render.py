"""What a student sees of a variant: the quiz notebook, a printable Markdown page and an HTML page.

This module is the only place that turns questions into student-facing text, and it reads
only the shown fields of a question (title, prompt, choices, points, format hint): never
``answer``, ``explanation``, ``mistakes``, ``synonyms`` or ``params``.
"""

from __future__ import annotations

import html
import re
from typing import Any

from .model import Question, letter
from .variants import Variant

INSTRUCTIONS = (
    "Type each answer after the `=` in its answer cell, replacing the `...`. Answers are read, never run: "
    "write plain values such as `17`, `0.75`, `3/4`, `75%`, `[[1, 2], [3, 4]]`, `\"B\"` or `\"A, C\"`. "
    "Do not rename the answer variables and do not edit the notebook's metadata: a notebook whose quiz "
    "metadata was changed is graded 0. Numbers may be rounded as each question says."
)
PAPER_INSTRUCTIONS = "Write each answer in the space after its question, in the format the question gives."


def _points(points: float) -> str:
    value = int(points) if float(points).is_integer() else points
    return f"{value} point" + ("" if value == 1 else "s")


def question_markdown(number: int, q: Question) -> str:
    parts = [f"### Question {number} ({_points(q.points)}): {q.title}", q.prompt]
    if q.choices:
        parts.append("\n".join(f"- **{letter(i)}**: {text}" for i, text in enumerate(q.choices)))
    parts.append(f"*Answer format:* {q.format_hint}.")
    return "\n\n".join(parts)


def _header(variant: Variant, title: str, name: str) -> str:
    who = f"{name} ({variant.student})" if name else variant.student
    return (f"# {title}\n\n**Student:** {who}  \n**Quiz:** `{variant.quiz_id}`, {len(variant.questions)} "
            f"questions, {_points(variant.max_score)}  \n**Variant:** `{variant.fingerprint[:12]}`")


def answer_cell_source(number: int, q: Question) -> str:
    return (f"# Question {number} ({_points(q.points)}). Answer format: {q.format_hint}\n"
            f"# Replace ... with your answer (this cell is read, never run).\n{q.qid} = ...\n")


def _cell_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", text)[:64]


def notebook(variant: Variant, *, title: str, name: str, metadata: dict[str, Any]) -> dict[str, Any]:
    """The quiz notebook (nbformat 4.5 as a plain dict; deterministic cell ids)."""
    locked = {"editable": False, "deletable": False}
    cells = [{"cell_type": "markdown", "id": "quiz-header", "metadata": dict(locked),
              "source": _header(variant, title, name) + "\n\n" + INSTRUCTIONS}]
    for number, q in enumerate(variant.questions, start=1):
        tag = {"dl101": {"question": q.qid}}
        cells.append({"cell_type": "markdown", "id": _cell_id(f"{q.qid}-question"),
                      "metadata": {**locked, **tag}, "source": question_markdown(number, q)})
        cells.append({"cell_type": "code", "id": _cell_id(f"{q.qid}-answer"), "execution_count": None,
                      "metadata": {"editable": True, "deletable": False, **tag}, "outputs": [],
                      "source": answer_cell_source(number, q)})
    cells.append({"cell_type": "markdown", "id": "quiz-footer", "metadata": dict(locked),
                  "source": "Save the notebook and submit this file. Good luck!"})
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
            "dl101": metadata,
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def printable_markdown(variant: Variant, *, title: str, name: str) -> str:
    blocks = [_header(variant, title, name), PAPER_INSTRUCTIONS]
    for number, q in enumerate(variant.questions, start=1):
        blocks.append(question_markdown(number, q) + "\n\n**Your answer:** ______________________________")
    return "\n\n".join(blocks) + "\n"


# --- a small Markdown -> HTML converter for the constructs the bank writes -------------------------

_CSS = """
body { font-family: system-ui, sans-serif; max-width: 46em; margin: 2em auto; line-height: 1.45; }
pre { background: #f4f4f4; padding: .6em; overflow-x: auto; }
table { border-collapse: collapse; } td, th { border: 1px solid #999; padding: .2em .6em; }
.question { border-top: 1px solid #ccc; padding-top: .5em; page-break-inside: avoid; }
.answer { border: 1px solid #333; min-height: 2.5em; margin: .5em 0 1.5em; padding: .3em; }
@media print { body { margin: 0; } pre { background: none; border: 1px solid #ccc; } }
"""


def _inline(text: str) -> str:
    out = html.escape(text, quote=False)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)
    out = re.sub(r"(?<![*\w])\*([^*]+)\*(?!\*)", r"<em>\1</em>", out)
    return out.replace("  \n", "<br>\n")


def _table(lines: list[str]) -> str:
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines
            if not re.fullmatch(r"[ |:-]*---[ |:-]*", line.strip())]
    head, *body = rows
    out = ["<table>", "<tr>" + "".join(f"<th>{_inline(c)}</th>" for c in head) + "</tr>"]
    out += ["<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>" for row in body]
    return "\n".join([*out, "</table>"])


def _block(block: str) -> str:
    lines = block.split("\n")
    if lines[0].startswith("#"):
        level = min(len(lines[0]) - len(lines[0].lstrip("#")), 6)
        return f"<h{level}>{_inline(lines[0].lstrip('#').strip())}</h{level}>"
    if all(line.lstrip().startswith("|") for line in lines):
        return _table(lines)
    if all(line.startswith("- ") for line in lines):
        return "<ul>" + "".join(f"<li>{_inline(line[2:])}</li>" for line in lines) + "</ul>"
    return f"<p>{_inline(block)}</p>"


def markdown_to_html(text: str) -> str:
    """Headings, paragraphs, ``- `` lists, pipe tables, fenced code, inline code/bold/italics."""
    out, pos = [], 0
    for fence in re.finditer(r"```[\w]*\n(.*?)\n```", text, flags=re.S):
        out += [_block(b) for b in re.split(r"\n\s*\n", text[pos:fence.start()].strip()) if b.strip()]
        out.append(f"<pre><code>{html.escape(fence.group(1), quote=False)}</code></pre>")
        pos = fence.end()
    out += [_block(b) for b in re.split(r"\n\s*\n", text[pos:].strip()) if b.strip()]
    return "\n".join(out)


def printable_html(variant: Variant, *, title: str, name: str) -> str:
    parts = [markdown_to_html(_header(variant, title, name)),
             markdown_to_html(PAPER_INSTRUCTIONS)]
    for number, q in enumerate(variant.questions, start=1):
        parts.append(f'<div class="question">\n{markdown_to_html(question_markdown(number, q))}\n'
                     '<div class="answer"></div>\n</div>')
    body = "\n".join(parts)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{html.escape(title)}: {html.escape(variant.student)}</title>\n<style>{_CSS}</style>\n"
            f"</head>\n<body>\n{body}\n</body>\n</html>\n")


def plain_text(markdown: str) -> str:
    """Markdown for a terminal: code fences become indented blocks, emphasis marks go."""
    text = re.sub(r"```[\w]*\n(.*?)\n```", lambda m: "\n".join("    " + line for line in m.group(1).split("\n")),
                  markdown, flags=re.S)
    text = re.sub(r"\*\*([^*]+)\*\*", r"\1", text)
    return re.sub(r"^[ \t|:-]*---[ \t|:-]*\n", "", text, flags=re.M)
