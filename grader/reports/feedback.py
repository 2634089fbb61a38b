"""feedback.html: one student's page. Self-contained; every student-controlled string escaped.

Honest about visibility (peers' pain #7): hidden tests are not listed, but the page says
how many there are and that they count, and never claims "All tests passed" unless every
test, hidden ones included, passed.
"""

from __future__ import annotations

from grader.reports.common import (
    UNSAFE_TEXT,
    esc,
    first_line,
    fmt,
    is_graded,
    late_text,
    num,
    page,
    percent,
    shown_tests,
)
from grader.results import SubmissionResult

#: Per-field display limits (the full text stays in results.json).
TEST_OUTPUT_LIMIT = 8_000
#: Failed tests listed under "What to work on" (the table lists them all).
NEXT_STEPS = 5
NOTES_LIMIT = 30_000

_STATUS_TEXT = {
    "timeout": "Your submission did not finish within the time limit, so it could not be graded.",
    "crashed": (
        "Your code crashed the grading process (for example it used too much memory, "
        "started too many processes, or exited), so it could not be graded."
    ),
    "unreadable": "Your submission could not be read as a notebook or Python file.",
    "missing": "No submission was found for you.",
    "error": (
        "The grader itself failed on your submission. This is not your fault: "
        "your instructor has been told and will look at it."
    ),
}

_VISIBILITY_TAG = {
    "after_due_date": "shown after the due date",
    "after_published": "shown after grades are published",
}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _points(x: float) -> str:
    return f"{fmt(x)} point" + ("" if fmt(x) == "1" else "s")


def _score_bar(pct: float) -> str:
    """The score as a bar (CSS only: nothing to load, nothing to run)."""
    width = min(max(pct, 0.0), 100.0)
    tone = "good" if width >= 80 else "mid" if width >= 50 else "low"
    return (
        f'<div class="bar" role="img" aria-label="score {width:g}%">'
        f'<span class="{tone}" style="width: {width:g}%"></span></div>'
    )


def _late_banner(result: SubmissionResult) -> str:
    """Late policy: a warning when points were taken off, a quiet line otherwise."""
    text = late_text(result)
    info = result.extra.get("late") if isinstance(result.extra, dict) else None
    if not text or not isinstance(info, dict):
        return ""
    if num(info.get("penalty", 0.0)) > 0 or num(info.get("days_late", 0.0)) > 0:
        return f'<div class="banner warn late" role="note"><strong>Late.</strong> {esc(text)}</div>'
    return f'<p class="late muted small">{esc(text)}</p>'


def _next_steps(shown: list) -> str:
    """The failed tests the student may see, each with its hint: what to work on first."""
    failed = [t for t in shown if t.status != "passed" and not t.grader_error]
    if not failed:
        return ""
    items = []
    for t in failed[:NEXT_STEPS]:
        hint = first_line(t.output, 300)
        lost = fmt(num(t.max_score) - num(t.score))
        items.append(
            f"<li><strong>{esc(t.name)}</strong> <span class=\"muted\">({lost} to gain)</span>"
            + (f"<br><span class=\"hint\">{esc(hint)}</span>" if hint else "")
            + "</li>"
        )
    more = len(failed) - NEXT_STEPS
    tail = f'<p class="muted small">... and {_plural(more, "more test")} in the table below.</p>' if more > 0 else ""
    return (
        '<div class="next-steps"><h2>What to work on</h2>'
        f'<ol>{"".join(items)}</ol>{tail}</div>'
    )


def summary_text(result: SubmissionResult) -> str:
    """One honest sentence about the tests (plain text; the caller escapes it)."""
    shown, hidden = shown_tests(result)
    n_pass = sum(t.status == "passed" for t in shown)
    if not result.tests:
        return "No tests were run." if is_graded(result) else "No tests could be run."
    if not hidden and not is_graded(result):
        return f"Grading did not finish: {n_pass} of {_plural(len(shown), 'test')} passed."
    if not hidden:
        if n_pass == len(shown):
            return "All tests passed." if len(shown) > 1 else "The test passed."
        return f"{n_pass} of {_plural(len(shown), 'test')} passed."
    tail = (
        f"{_plural(len(hidden), 'hidden test')} not shown "
        f"(worth {_points(sum(t.max_score for t in hidden))}; they count toward your score)."
    )
    if not shown:
        return f"All tests are hidden: {tail}"
    if not is_graded(result):
        return f"Grading did not finish: {n_pass} of {len(shown)} shown tests passed; {tail}"
    if n_pass == len(shown):
        first = "The shown test" if len(shown) == 1 else f"All {len(shown)} shown tests"
        return f"{first} passed; {tail}"
    return f"{n_pass} of {_plural(len(shown), 'shown test')} passed; {tail}"


def feedback_html(result: SubmissionResult) -> str:
    shown, hidden = shown_tests(result)
    parts: list[str] = []
    if result.unsafe:
        parts.append(
            f'<div class="banner unsafe" role="alert">{esc(UNSAFE_TEXT)}: this submission '
            "was run without the grading sandbox.</div>"
        )
    parts.append(f"<h1>{esc(result.assignment)}: feedback for {esc(result.student)}</h1>")
    pct = percent(result.score, result.max_score)
    parts.append(
        f'<p class="score">{fmt(result.score)} / {fmt(result.max_score)}'
        + (f' <span class="muted">({pct:g}%)</span>' if pct is not None else "")
        + "</p>"
    )
    if pct is not None:
        parts.append(_score_bar(pct))
    parts.append(_late_banner(result))
    if not is_graded(result):
        text = _STATUS_TEXT.get(result.status, "Your submission could not be graded.")
        reason = f"<pre>{esc(result.output, NOTES_LIMIT)}</pre>" if result.output else ""
        parts.append(
            f'<div class="banner warn" role="alert"><strong>Not graded: {esc(result.status)}.'
            f"</strong> {esc(text)}{reason}</div>"
        )
    elif any(t.grader_error for t in result.tests):
        parts.append(
            '<div class="banner warn" role="alert"><strong>Grader problem.</strong> Some tests '
            "could not be run because of a problem in the grader, not in your code. Your "
            "instructor has been told and will look at it.</div>"
        )
    parts.append(f'<p class="summary"><strong>{esc(summary_text(result))}</strong></p>')
    parts.append(_next_steps(shown))

    if shown:
        rows = []
        for i, t in enumerate(shown, 1):
            ok = t.status == "passed"
            tag = _VISIBILITY_TAG.get(t.visibility)
            note = t.output
            if t.grader_error:
                note = "(grader problem, not your fault) " + note
            rows.append(
                f'<tr><td class="num">{i}</td><td>{esc(t.name)}'
                + (f' <span class="tag">{esc(tag)}</span>' if tag else "")
                + f'</td><td class="num">{fmt(t.score)} / {fmt(t.max_score)}</td>'
                f'<td class="{"passed" if ok else "failed"}">{"passed" if ok else "failed"}</td>'
                f"<td><pre>{esc(note, TEST_OUTPUT_LIMIT)}</pre></td></tr>"
            )
        parts.append(
            '<table class="tests"><thead><tr><th class="num">#</th><th>Test</th>'
            '<th class="num">Points</th><th>Result</th><th>Feedback</th></tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>"
        )
    if hidden:
        parts.append(
            f'<p class="hidden-note muted">{esc(_plural(len(hidden), "hidden test"))} not shown '
            f"({esc(_points(sum(t.max_score for t in hidden)))}). Hidden tests are part of "
            "your score above; their details are not released.</p>"
        )
    if is_graded(result) and result.output:
        parts.append(
            "<h2>Notes from the grader</h2>"
            '<p class="muted small">For example, notebook cells that raised an error '
            "while your notebook was run.</p>"
            f'<div class="banner info"><pre>{esc(result.output, NOTES_LIMIT)}</pre></div>'
        )
    meta = [f"Status: {esc(result.status)}", f"run time {num(result.execution_time):.1f} s"]
    if result.submitted_at:
        meta.append(f"submitted {esc(result.submitted_at)}")
    parts.append(f'<p class="muted small">{" &middot; ".join(meta)}</p>')
    return page(f"{result.assignment}: feedback for {result.student}", "\n".join(parts))
