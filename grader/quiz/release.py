"""``dl101 quiz release``: one quiz notebook plus printable Markdown and HTML per student.

Layout under ``out``::

    roster.csv                      the roster, every column kept, plus quiz / variant / notebook
    <student_id>/<quiz>.ipynb       hand this directory to the student
    <student_id>/<quiz>.md
    <student_id>/<quiz>.html

A student's files depend only on the quiz, the student id (and name) and the course secret:
releasing for a bigger roster gives the same bytes. They never contain the secret, a seed, an
answer or a hash of an answer (small answer spaces would be brute-forced).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import GraderError
from . import render
from .variants import SCHEME, Variant, get_quiz, notebook_tag, student_variant

STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}")


@dataclass(frozen=True)
class Released:
    student: str
    variant: str
    notebook: Path
    markdown: Path
    html: Path


def read_roster(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    """Rows of a roster CSV with a ``student_id`` column; ids are checked and must be unique."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise GraderError(f"cannot read the roster {path}: {exc}") from None
    reader = csv.DictReader(io.StringIO(text))
    fields = [f.strip() for f in reader.fieldnames or []]
    if "student_id" not in fields:
        raise GraderError(f"the roster {path} needs a 'student_id' column (found: {', '.join(fields) or 'none'})")
    rows, seen = [], set()
    for line, row in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None}
        sid = row["student_id"]
        if not sid and not any(row.values()):
            continue
        if not STUDENT_ID.fullmatch(sid):
            raise GraderError(f"{path}, line {line}: student_id {sid!r} is not usable as a file name "
                              "(letters, digits and . _ @ + - only, not starting with a symbol)")
        if sid in seen:
            raise GraderError(f"{path}, line {line}: student_id {sid!r} appears twice")
        seen.add(sid)
        rows.append(row)
    if not rows:
        raise GraderError(f"the roster {path} lists no students")
    return rows


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def notebook_metadata(variant: Variant, secret: bytes) -> dict[str, object]:
    """What the notebook carries to bind it to its student: ids, fingerprint and the HMAC tag."""
    fingerprint = variant.fingerprint
    return {"assignment": variant.quiz_id, "quiz": variant.quiz_id, "student": variant.student,
            "variant": fingerprint, "scheme": SCHEME,
            "tag": notebook_tag(secret, variant.quiz_id, variant.student, fingerprint)}


def render_student(quiz_id: str, student: str, secret: bytes, name: str = "") -> tuple[Variant, dict[str, str]]:
    """``(variant, {suffix: text})`` for one student: ``.ipynb``, ``.md`` and ``.html``."""
    quiz = get_quiz(quiz_id)
    variant = student_variant(quiz_id, student, secret)
    nb = render.notebook(variant, title=quiz.title, name=name, metadata=notebook_metadata(variant, secret))
    return variant, {
        ".ipynb": json.dumps(nb, indent=1, ensure_ascii=False) + "\n",
        ".md": render.printable_markdown(variant, title=quiz.title, name=name),
        ".html": render.printable_html(variant, title=quiz.title, name=name),
    }


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def release_quiz(quiz_id: str, roster: str | os.PathLike[str], out: str | os.PathLike[str], *,
                 secret: bytes, secret_path: Path | None = None) -> list[Released]:
    """Write every student's quiz files under ``out`` (see the module docstring)."""
    get_quiz(quiz_id)
    out = Path(out)
    if secret_path is not None and _inside(secret_path, out):
        raise GraderError(f"the course secret file {secret_path} is inside the release directory {out}; "
                          "release into another directory so the secret is never handed out")
    rows = read_roster(roster)
    released = []
    for row in rows:
        sid = row["student_id"]
        variant, files = render_student(quiz_id, sid, secret, name=row.get("name", ""))
        paths = {suffix: out / sid / f"{quiz_id}{suffix}" for suffix in files}
        for suffix, text in files.items():
            write_atomic(paths[suffix], text)
        released.append(Released(sid, variant.fingerprint, paths[".ipynb"], paths[".md"], paths[".html"]))
    _write_index(out, quiz_id, rows, released)
    return released


def _write_index(out: Path, quiz_id: str, rows: list[dict[str, str]], released: list[Released]) -> None:
    fields = list(dict.fromkeys([*(k for row in rows for k in row), "quiz", "variant", "notebook"]))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row, rel in zip(rows, released, strict=True):
        writer.writerow({**row, "quiz": quiz_id, "variant": rel.variant,
                         "notebook": rel.notebook.relative_to(out).as_posix()})
    write_atomic(out / "roster.csv", buffer.getvalue())
