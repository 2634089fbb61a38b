"""Small helpers shared by the report writers: numbers, ordering, display text, paths.

Everything a student controls (their id, exception messages, printed output, file names)
reaches a report only through :func:`esc` (HTML) or :func:`csv_safe` (CSV).
"""

from __future__ import annotations

import hashlib
import html
import math
import re
from collections.abc import Iterable
from pathlib import Path

from grader.results import GRADED, SubmissionResult, TestResult

#: Test visibilities a student may see in feedback.html. ``hidden`` tests are never
#: listed there (Gradescope semantics: not even after publication); the other two are
#: listed because feedback is handed out after grading, i.e. after the due date.
STUDENT_VISIBLE = frozenset({"visible", "after_due_date", "after_published"})

UNSAFE_TEXT = "GRADED WITHOUT SANDBOX (--unsafe-no-sandbox)"

# C0 controls other than tab/newline, DEL, C1 controls and lone surrogates: they either
# break parsers (NUL) or encoders (surrogates), and never carry meaning in feedback.
_JUNK = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_SAFE_NAME = re.compile(r"[A-Za-z0-9_@+-][A-Za-z0-9._@+-]{0,99}")


def num(x: float) -> float:
    """A finite float rounded for display and storage (NaN/inf -> 0.0)."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return 0.0
    if not math.isfinite(x):
        return 0.0
    return round(x, 4) + 0.0  # + 0.0 turns -0.0 into 0.0


def fmt(x: float) -> str:
    """Points as a short string: 3, 2.5, 0.3333."""
    x = num(x)
    return str(int(x)) if x == int(x) else f"{x:.4f}".rstrip("0").rstrip(".")


def percent(score: float, max_score: float) -> float | None:
    max_score = num(max_score)
    return None if max_score <= 0 else round(100.0 * num(score) / max_score, 2)


def clean(text: object, limit: int | None = None) -> str:
    """Printable text: control junk removed, optionally cut to ``limit`` characters."""
    s = _JUNK.sub("\N{REPLACEMENT CHARACTER}", str(text))
    if s.count("\r"):
        s = s.replace("\r\n", "\n").replace("\r", "\n")
    if limit is not None and len(s) > limit:
        s = s[:limit] + f"\n... ({len(s) - limit} more characters not shown)"
    return s


def esc(text: object, limit: int | None = None) -> str:
    """HTML-escape any text (quotes included, so it is safe in attributes too)."""
    return html.escape(clean(text, limit), quote=True)


def first_line(text: str, limit: int = 200) -> str:
    for line in clean(text).splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= limit else line[: limit - 3] + "..."
    return ""


def sort_key(r: SubmissionResult) -> tuple[str, str]:
    return (r.student, r.assignment)


def latest(results: Iterable[SubmissionResult]) -> list[SubmissionResult]:
    """One result per (student, assignment) -- the last one given wins -- sorted."""
    by_key = {(r.student, r.assignment): r for r in results}
    return sorted(by_key.values(), key=sort_key)


def safe_name(name: str) -> str:
    """A file-system-safe, collision-free directory name for a student id or slug.

    Ordinary ids (letters, digits, ``._@+-``, not starting with a dot, <= 100 chars) are
    used as they are; anything else (``../x``, ``a/b``, spaces, unicode, ``""``) becomes a
    sanitised stem plus a hash of the original, so two different ids never share a folder.
    """
    if _SAFE_NAME.fullmatch(name):
        return name
    stem = re.sub(r"[^A-Za-z0-9._@+-]+", "_", name).lstrip(".")[:60] or "_"
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{stem}~{digest}"


def result_dir(out: Path, assignment: str, student: str) -> Path:
    """Where ``results.json`` and ``feedback.html`` of one submission live."""
    return Path(out) / safe_name(assignment) / safe_name(student)


def shown_tests(result: SubmissionResult) -> tuple[list[TestResult], list[TestResult]]:
    """(tests a student may see, hidden tests)."""
    shown = [t for t in result.tests if t.visibility in STUDENT_VISIBLE]
    hidden = [t for t in result.tests if t.visibility not in STUDENT_VISIBLE]
    return shown, hidden


def is_graded(result: SubmissionResult) -> bool:
    return result.status == GRADED


def late_text(result: SubmissionResult) -> str:
    """The late-policy sentence of a result ("" without a late policy); plain text."""
    from grader.late import describe

    return describe(result)


# One stylesheet for both pages: inline, no fonts or images fetched from anywhere.
CSS = """
:root { color-scheme: light; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       margin: 0 auto; max-width: 70rem; padding: 1rem 1.5rem 3rem; color: #1d2330; }
h1 { font-size: 1.6rem; margin: .4rem 0; } h2 { font-size: 1.3rem; margin-top: 2rem;
     border-bottom: 2px solid #dde2ea; padding-bottom: .2rem; } h3 { font-size: 1.05rem; }
table { border-collapse: collapse; margin: .6rem 0 1rem; width: 100%; }
th, td { border: 1px solid #d6dbe3; padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #f1f4f8; } td.num, th.num { text-align: right; white-space: nowrap; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; margin: 0;
      font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.banner { padding: .7rem 1rem; border-radius: 6px; margin: .8rem 0; border: 2px solid; }
.banner pre { margin-top: .4rem; }
.unsafe { background: #fff0f0; border-color: #c0001a; color: #7a0010; font-weight: 700; }
.warn { background: #fff8e6; border-color: #d08b00; }
.info { background: #eef5ff; border-color: #7aa7e0; }
.score { font-size: 2.2rem; font-weight: 700; margin: .3rem 0; }
.muted { color: #5b6475; } .small { font-size: .85rem; }
.passed { color: #0b6b2d; font-weight: 600; } .failed { color: #a40e26; font-weight: 600; }
.tag { font-size: .75rem; border: 1px solid #aab3c2; border-radius: 3px; padding: 0 .3rem;
       color: #4a5366; white-space: nowrap; }
tr.st-notgraded td { background: #fff8e6; }
img.plot { max-width: 100%; height: auto; border: 1px solid #e3e7ee; }
.grid { display: flex; flex-wrap: wrap; gap: 1rem; } .grid > div { flex: 1 1 28rem; }
.bar { height: .7rem; background: #e7ebf1; border-radius: 4px; overflow: hidden; max-width: 28rem; }
.bar > span { display: block; height: 100%; }
.bar .good { background: #0b6b2d; } .bar .mid { background: #d08b00; } .bar .low { background: #a40e26; }
.next-steps { border-left: 4px solid #d08b00; padding: .1rem 1rem; margin: 1rem 0; background: #fffcf3; }
.next-steps h2 { border: 0; margin-top: .6rem; font-size: 1.1rem; }
.next-steps li { margin: .35rem 0; } .hint { font-family: ui-monospace, Menlo, Consolas, monospace;
       font-size: .85rem; color: #4a5366; }
td.late-cell { white-space: nowrap; }
"""

#: No network, no scripts: even if something slipped through escaping, it cannot run.
CSP = (
    '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
    "style-src 'unsafe-inline'; img-src data:\">"
)


def page(title: str, body: str) -> str:
    """A complete, self-contained HTML document. ``title`` is escaped here."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"{CSP}\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f"{body}\n"
        '<p class="muted small">Generated by dl101.</p>\n</body>\n</html>\n'
    )
