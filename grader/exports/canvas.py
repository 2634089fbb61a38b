"""A grades CSV Canvas imports (Grades > Import): identity columns, then one column per assignment.

    dl101 export canvas grades/ -o canvas.csv [--roster canvas-gradebook.csv]

Layout: ``Student, ID, SIS User ID, Section`` (plus ``SIS Login ID`` and whatever identity
columns a roster has), then one column per assignment holding the final score in points
(after any late deduction), then nothing else. The second row is Canvas's own
``Points Possible`` row. A result whose grader failed (status ``error``) is left blank, so
the import does not overwrite Canvas with a score nobody trusts (Canvas leaves blank cells
alone).

How dl101 student ids become Canvas students:

- **With a roster** (Canvas: Grades > Export > Export Entire Gradebook), every roster row is
  written with its identity columns as Canvas gave them, and a dl101 id belongs to the row
  whose ``SIS Login ID``, ``SIS User ID`` or ``ID`` equals it (case-insensitively). Ids that
  match no row are reported, not written. A roster column named like the assignment
  (``convolution`` or ``convolution (4321)``: Canvas's name plus its assignment id) is
  used as that assignment's header, so scores land in the existing Canvas assignment.
- **Without a roster**, ``Student`` is the dl101 id and the id goes into ``id_column``:
  ``ID`` (the Canvas user id, which is what dl101 reads from Canvas submission downloads,
  ``name_<userid>_<subid>_file.ipynb``) or ``SIS User ID`` (nbgrader / JupyterHub user
  names, student numbers). ``auto`` picks ``ID`` when every id is all digits.

``columns`` maps a slug to an explicit header (``{"convolution": "Convolution (4321)"}``).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from grader.errors import GraderError
from grader.reports.common import fmt, latest, num
from grader.reports.gradescsv import csv_safe
from grader.results import GRADED, SubmissionResult

HEADER = ("Student", "ID", "SIS User ID", "Section")
ID_COLUMNS = ("ID", "SIS User ID", "SIS Login ID")
#: Roster columns that describe the student (kept as they are); anything else is a grade.
IDENTITY = ("Student", "ID", "SIS User ID", "SIS Login ID", "Integration ID", "Section")
POINTS_POSSIBLE = "Points Possible"


@dataclass
class CanvasExport:
    text: str
    #: dl101 student ids the roster does not know (not written).
    unmatched: list[str] = field(default_factory=list)
    #: (student, assignment) left blank because the grader failed on them.
    blank: list[tuple[str, str]] = field(default_factory=list)


def read_roster(path: Path) -> list[dict[str, str]]:
    """Rows of a Canvas gradebook export (or any CSV with Student and an id column)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise GraderError(f"cannot read the roster {path}: {exc}") from None
    reader = csv.DictReader(io.StringIO(text))
    names = reader.fieldnames or []
    if "Student" not in names or not any(c in names for c in ID_COLUMNS):
        raise GraderError(f"{path} is not a Canvas gradebook export: it needs a Student column "
                          f"and one of {', '.join(ID_COLUMNS)} (has: {', '.join(names) or 'nothing'})")
    return [
        {k: (v or "") for k, v in row.items() if k is not None}
        for row in reader
        if (row.get("Student") or "").strip() != POINTS_POSSIBLE
    ]


def _full_marks(results: list[SubmissionResult]) -> float:
    graded = Counter(num(r.max_score) for r in results if r.status == GRADED) or Counter(
        num(r.max_score) for r in results)
    return max(graded.items(), key=lambda kv: (kv[1], kv[0]))[0] if graded else 0.0


def _headers(slugs: list[str], roster_columns: list[str], columns: Mapping[str, str]) -> dict[str, str]:
    headers = {}
    for slug in slugs:
        if slug in columns:
            headers[slug] = columns[slug]
            continue
        match = [c for c in roster_columns if c == slug or (c.startswith(slug + " (") and c.endswith(")"))]
        headers[slug] = match[0] if match else slug
    return headers


def canvas_csv(results: Iterable[SubmissionResult], *, roster: list[dict[str, str]] | None = None,
               id_column: str = "auto", columns: Mapping[str, str] | None = None) -> CanvasExport:
    """The Canvas import CSV of ``results`` (the latest per student and assignment)."""
    rs = [r for r in latest(results) if r.assignment and r.assignment != "unknown"]
    slugs = sorted({r.assignment for r in rs})
    by_student: dict[str, dict[str, SubmissionResult]] = {}
    for r in rs:
        by_student.setdefault(r.student, {})[r.assignment] = r
    export = CanvasExport("")
    roster_columns = list(roster[0]) if roster else []
    headers = _headers(slugs, roster_columns, columns or {})

    if roster is not None:
        identity = [c for c in roster_columns if c in IDENTITY] or list(HEADER)
        rows = [({c: row.get(c, "") for c in identity}, _match(row, by_student)) for row in roster]
        matched = {sid for _, sid in rows if sid}
        export.unmatched = sorted(set(by_student) - matched)
    else:
        if id_column == "auto":
            id_column = "ID" if by_student and all(s.isdigit() for s in by_student) else "SIS User ID"
        if id_column not in ID_COLUMNS:
            raise GraderError(f"id column must be one of {', '.join(ID_COLUMNS)} or auto, not {id_column!r}")
        identity = list(HEADER) if id_column in HEADER else [*HEADER[:3], id_column, HEADER[3]]
        rows = [({"Student": sid, id_column: sid}, sid) for sid in sorted(by_student)]

    buf = io.StringIO()
    writer = csv.writer(buf, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow([*identity, *(headers[s] for s in slugs)])
    by_slug: dict[str, list[SubmissionResult]] = {}
    for r in rs:
        by_slug.setdefault(r.assignment, []).append(r)
    writer.writerow([POINTS_POSSIBLE if c == "Student" else "" for c in identity]
                    + [fmt(_full_marks(by_slug[s])) for s in slugs])
    for ident, sid in rows:
        scores = []
        for slug in slugs:
            r = by_student.get(sid, {}).get(slug) if sid else None
            if r is None:
                scores.append("")
            elif r.grader_broke:
                scores.append("")
                export.blank.append((r.student, slug))
            else:
                scores.append(fmt(r.score))
        writer.writerow([csv_safe(ident.get(c, "")) for c in identity] + scores)
    export.text = buf.getvalue()
    return export


def _match(row: dict[str, str], by_student: dict[str, dict[str, SubmissionResult]]) -> str | None:
    folded = {s.casefold(): s for s in by_student}
    for column in ("SIS Login ID", "SIS User ID", "ID"):
        value = (row.get(column) or "").strip()
        if value and value.casefold() in folded:
            return folded[value.casefold()]
    return None


def export_canvas(grades_dir: Path, out: Path, *, roster: Path | None = None, id_column: str = "auto",
                  columns: Mapping[str, str] | None = None) -> CanvasExport:
    """Read ``grades_dir``'s results, write the Canvas CSV to ``out`` (atomically)."""
    from grader.reports import atomic_write_bytes, load_results

    if not Path(grades_dir).is_dir():
        raise GraderError(f"{grades_dir} is not a directory of dl101 results (dl101 grade -o DIR)")
    results = load_results(grades_dir)
    if not results:
        raise GraderError(f"no results under {grades_dir}: run dl101 grade -o {grades_dir} first")
    export = canvas_csv(results, roster=read_roster(roster) if roster else None, id_column=id_column,
                        columns=columns)
    atomic_write_bytes(out, export.text.encode("utf-8"))
    return export
