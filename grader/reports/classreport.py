"""report.html: the class overview. Self-contained (inline CSS, plots as base64 PNG).

matplotlib is imported only when plots are drawn (inside :func:`render_plots`), with the
Agg canvas and the object API (no pyplot global state). Without matplotlib the report is
still written, with a note instead of the plots.
"""

from __future__ import annotations

import base64
import io
import math
import threading
import urllib.parse
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from grader.reports.common import (
    UNSAFE_TEXT,
    esc,
    first_line,
    fmt,
    is_graded,
    latest,
    num,
    page,
    percent,
    safe_name,
)
from grader.results import GRADED, SubmissionResult

SLOWEST = 10
_TEST_LABEL = 48  # characters of a test name on the pass-rate chart


@dataclass
class TestStats:
    name: str
    visibility: str
    max_score: float
    runs: int = 0
    passed: int = 0
    grader_errors: int = 0

    @property
    def rate(self) -> float:
        return self.passed / self.runs if self.runs else 0.0


@dataclass
class AssignmentStats:
    assignment: str
    results: list[SubmissionResult]
    statuses: Counter = field(default_factory=Counter)
    tests: dict[str, TestStats] = field(default_factory=dict)

    @classmethod
    def of(cls, assignment: str, results: list[SubmissionResult]) -> AssignmentStats:
        stats = cls(assignment, results, Counter(r.status for r in results))
        for r in results:
            if not is_graded(r):
                continue
            for t in r.tests:
                ts = stats.tests.get(t.name)
                if ts is None:
                    ts = stats.tests[t.name] = TestStats(t.name, t.visibility, num(t.max_score))
                ts.runs += 1
                ts.passed += t.status == "passed"
                ts.grader_errors += bool(t.grader_error)
        return stats

    def hardest(self) -> list[TestStats]:
        """Tests by pass rate, lowest first (ties: the order the graders run them)."""
        return sorted(self.tests.values(), key=lambda t: t.rate)

    @property
    def late(self) -> list[tuple[SubmissionResult, dict]]:
        """(result, its late record) for the results a late policy looked at."""
        return [(r, r.extra["late"]) for r in self.results if isinstance(r.extra.get("late"), dict)]

    @property
    def max_score(self) -> float:
        """The assignment's full marks: the most common max_score among graded results."""
        graded = Counter(num(r.max_score) for r in self.results if is_graded(r))
        pool = graded or Counter(num(r.max_score) for r in self.results)
        return max(pool.most_common(), key=lambda kv: (kv[1], kv[0]))[0] if pool else 0.0


def _median(xs: list[float]) -> float:
    s = sorted(xs)
    n = len(s)
    if not n:
        return 0.0
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def _quantile(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, math.ceil(q * len(s)) - 1)] if s else 0.0


def _mean(xs: list[float]) -> float:
    return math.fsum(xs) / len(xs) if xs else 0.0


# ---------------------------------------------------------------- plots


def _png(fig) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    buf = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buf, metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _histogram(stats: AssignmentStats, Figure) -> str:
    import numpy as np

    top = stats.max_score or max((num(r.score) for r in stats.results), default=0.0) or 1.0
    scores = [min(max(num(r.score), 0.0), top) for r in stats.results]
    if top <= 30 and top == int(top) and all(s == int(s) for s in scores):
        bins = np.arange(-0.5, top + 1.0, 1.0)
    else:
        bins = np.linspace(0.0, top, 21)
    graded = np.histogram(
        [s for s, r in zip(scores, stats.results, strict=True) if is_graded(r)], bins
    )[0]
    other = np.histogram(
        [s for s, r in zip(scores, stats.results, strict=True) if not is_graded(r)], bins
    )[0]
    fig = Figure(figsize=(6.4, 3.0), dpi=80, layout="constrained")
    ax = fig.add_subplot()
    width = np.diff(bins) * 0.92
    ax.bar(bins[:-1], graded, width=width, align="edge", color="#3b6fb6", label="graded")
    if other.any():
        ax.bar(
            bins[:-1],
            other,
            width=width,
            align="edge",
            bottom=graded,
            color="#d08b00",
            label="not graded",
        )
        ax.legend(frameon=False, fontsize=9, loc="best")
    ax.set_xlabel(f"score (out of {fmt(top)})")
    ax.set_ylabel("submissions")
    ax.set_title("Score distribution", fontsize=11)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def _pass_rates(stats: AssignmentStats, Figure) -> str:
    tests = stats.hardest()
    labels = []
    for t in tests:
        name = t.name if len(t.name) <= _TEST_LABEL else t.name[: _TEST_LABEL - 1] + "\u2026"
        labels.append(name + (" (hidden)" if t.visibility == "hidden" else ""))
    rates = [100.0 * t.rate for t in tests]
    colors = ["#0b6b2d" if r >= 80 else "#d08b00" if r >= 50 else "#a40e26" for r in rates]
    fig = Figure(figsize=(6.4, 0.8 + 0.24 * len(tests)), dpi=80, layout="constrained")
    ax = fig.add_subplot()
    y = list(range(len(tests)))
    ax.barh(y, rates, color=colors, height=0.7)
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of graded submissions passing")
    ax.set_title("Pass rate per test (hardest first)", fontsize=11)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def preload_plotting() -> None:
    """Import matplotlib on a background thread (~0.4 s: modules and font list), to be done
    by the time report.html is drawn. For a caller that is mostly waiting meanwhile (a batch
    being graded). Does nothing without matplotlib (report.html then says so)."""

    def load() -> None:
        try:
            import matplotlib.figure  # noqa: F401
            from matplotlib.backends import backend_agg  # noqa: F401
        except Exception:  # ImportError, or a broken install: render_plots will tell
            pass

    threading.Thread(target=load, name="dl101-preload-matplotlib", daemon=True).start()


def render_plots(stats: AssignmentStats) -> dict[str, str]:
    """{"histogram": b64 PNG, "pass_rates": b64 PNG (only if tests ran)}."""
    from matplotlib.figure import Figure

    plots = {}
    if stats.results:
        plots["histogram"] = _histogram(stats, Figure)
    if stats.tests:
        plots["pass_rates"] = _pass_rates(stats, Figure)
    return plots


# ---------------------------------------------------------------- html


def _table(head: list[str], rows: list[str], cls: str = "") -> str:
    ths = "".join(
        f'<th class="num">{h[1:]}</th>' if h.startswith("#") else f"<th>{h}</th>" for h in head
    )
    return (
        f'<table class="{cls}"><thead><tr>{ths}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def _feedback_href(r: SubmissionResult) -> str:
    path = f"{safe_name(r.assignment)}/{safe_name(r.student)}/feedback.html"
    return esc(urllib.parse.quote(path))


def _pct(r: SubmissionResult) -> str:
    p = percent(r.score, r.max_score)
    return "" if p is None else f"{p:g}%"


def _late_rows(stats: AssignmentStats) -> list[str]:
    """Summary rows about the late policy (none without one)."""
    records = stats.late
    if not records:
        return []
    late = [info for _, info in records if num(info.get("days_late", 0.0)) > 0]
    lost = sum(num(info.get("penalty", 0.0)) for info in late)
    unknown = sum(bool(info.get("unknown_time")) for _, info in records)
    rows = [
        f'<tr><td>late submissions</td><td class="num">{len(late)} of {len(records)}</td></tr>',
        f'<tr><td>points taken off for lateness</td><td class="num">{fmt(lost)}</td></tr>',
    ]
    if unknown:
        rows.append(
            f'<tr><td>submission time unknown (no deduction)</td><td class="num">{unknown}</td></tr>'
        )
    rule = next((str(info.get("rule", "")) for _, info in records if info.get("rule")), "")
    if rule:
        rows.append(f'<tr><td>late policy</td><td class="small">{esc(rule)}</td></tr>')
    return rows


def _late_cell(r: SubmissionResult) -> str:
    info = r.extra.get("late")
    if not isinstance(info, dict):
        return ""
    if info.get("unknown_time"):
        return "time unknown"
    days = num(info.get("days_late", 0.0))
    if days <= 0:
        return "on time"
    penalty = num(info.get("penalty", 0.0))
    return f"{days:.1f} d" + (f", -{fmt(penalty)}" if penalty else "")


def _most_missed(stats: AssignmentStats, n: int = 3) -> str:
    """The tests most students fail: where teaching (or the assignment) needs a look."""
    missed = [t for t in stats.hardest() if t.runs and t.rate < 1.0][:n]
    if not missed:
        return ""
    items = "".join(
        f"<li><strong>{esc(t.name)}</strong>"
        + (' <span class="tag">hidden</span>' if t.visibility == "hidden" else "")
        + f" &mdash; {t.runs - t.passed} of {t.runs} graded submissions fail it "
        f"({100 * t.rate:.0f}% pass)</li>"
        for t in missed
    )
    return f'<h3>Most missed</h3><ol class="most-missed">{items}</ol>'


def _section(stats: AssignmentStats, plots: dict[str, str] | None, plot_note: str) -> str:
    rs = stats.results
    scores = [num(r.score) for r in rs]
    graded_scores = [num(r.score) for r in rs if is_graded(r)]
    times = [num(r.execution_time) for r in rs]
    top = stats.max_score
    anchor = esc(urllib.parse.quote(stats.assignment))
    out = [f'<section class="assignment" id="{anchor}"><h2>{esc(stats.assignment)}</h2>']
    n_unsafe = sum(r.unsafe for r in rs)
    if n_unsafe:
        out.append(
            f'<div class="banner unsafe">UNSAFE (no sandbox): {n_unsafe} of {len(rs)} '
            f"submissions {esc(UNSAFE_TEXT)}.</div>"
        )
    n_broke = sum(r.grader_broke for r in rs)
    if n_broke:
        out.append(
            f'<div class="banner warn">{n_broke} submission(s) hit a grader error (status '
            '"error" or a test marked as a grader error): their scores need a look.</div>'
        )

    status_rows = [
        f'<tr><td>{esc(s)}</td><td class="num">{n}</td></tr>'
        for s, n in sorted(stats.statuses.items(), key=lambda kv: (kv[0] != GRADED, kv[0]))
    ]
    summary_rows = [
        f'<tr><td>submissions</td><td class="num">{len(rs)}</td></tr>',
        f'<tr><td>points possible</td><td class="num">{fmt(top)}</td></tr>',
        f'<tr><td>mean score (all)</td><td class="num">{fmt(round(_mean(scores), 2))}</td></tr>',
        f'<tr><td>median score (all)</td><td class="num">{fmt(_median(scores))}</td></tr>',
        f'<tr><td>mean score (graded only)</td><td class="num">{fmt(round(_mean(graded_scores), 2))}</td></tr>',
        f'<tr><td>median score (graded only)</td><td class="num">{fmt(_median(graded_scores))}</td></tr>',
        f'<tr><td>run time median / 95th pct / max</td><td class="num">{_median(times):.1f} / '
        f"{_quantile(times, 0.95):.1f} / {max(times, default=0.0):.1f} s</td></tr>",
        *_late_rows(stats),
    ]
    out.append('<div class="grid"><div><h3>Summary</h3>')
    out.append(_table(["", "#"], summary_rows, "summary"))
    out.append("</div><div><h3>Status</h3>")
    out.append(_table(["status", "#submissions"], status_rows, "statuses"))
    out.append("</div></div>")

    if plots is None:
        out.append(f'<p class="muted">{esc(plot_note)}</p>')
    else:
        imgs = []
        for key, alt in (("histogram", "score histogram"), ("pass_rates", "pass rate per test")):
            if key in plots:
                imgs.append(
                    f'<div><img class="plot {key}" alt="{esc(stats.assignment)}: {alt}" '
                    f'src="data:image/png;base64,{plots[key]}"></div>'
                )
        if imgs:
            out.append(f'<div class="grid plots">{"".join(imgs)}</div>')

    if stats.tests:
        test_rows = [
            f"<tr><td>{esc(t.name)}</td><td>{esc(t.visibility)}</td>"
            f'<td class="num">{fmt(t.max_score)}</td><td class="num">{t.passed} / {t.runs}</td>'
            f'<td class="num">{100 * t.rate:.0f}%</td><td class="num">{t.grader_errors or ""}</td></tr>'
            for t in stats.tests.values()
        ]
        out.append(_most_missed(stats))
        out.append("<h3>Tests</h3>")
        out.append(
            _table(
                ["test", "visibility", "#points", "#passed", "#pass rate", "#grader errors"],
                test_rows,
                "tests",
            )
        )

    slow = sorted(rs, key=lambda r: -num(r.execution_time))[:SLOWEST]
    if slow:
        slow_rows = [
            f'<tr><td>{esc(r.student)}</td><td class="num">{num(r.execution_time):.2f} s</td>'
            f"<td>{esc(r.status)}</td></tr>"
            for r in slow
        ]
        out.append(f"<h3>Slowest {len(slow)}</h3>")
        out.append(_table(["student", "#run time", "status"], slow_rows, "slowest"))

    with_late = bool(stats.late)
    student_rows = []
    for r in rs:
        why = "" if is_graded(r) else first_line(r.output) or r.status
        late_cell = f'<td class="num late-cell">{esc(_late_cell(r))}</td>' if with_late else ""
        cls = "" if is_graded(r) else ' class="st-notgraded"'
        student_rows.append(
            f'<tr{cls}><td><a href="{_feedback_href(r)}">{esc(r.student)}</a></td>'
            f'<td class="num">{fmt(r.score)}</td><td class="num">{fmt(r.max_score)}</td>'
            f'<td class="num">{_pct(r)}</td><td>{esc(r.status)}</td>'
            f'<td class="num">{sum(t.status == "passed" for t in r.tests)} / {len(r.tests)}</td>'
            f'<td class="num">{num(r.execution_time):.1f}</td>{late_cell}'
            f"<td>{esc(why)}</td><td>{'UNSAFE' if r.unsafe else ''}</td></tr>"
        )
    out.append("<h3>Students</h3>")
    out.append(
        _table(
            [
                "student",
                "#score",
                "#max",
                "#%",
                "status",
                "#tests passed",
                "#time (s)",
                *(["#late"] if with_late else []),
                "reason",
                "sandbox",
            ],
            student_rows,
            "students",
        )
    )
    out.append("</section>")
    return "\n".join(out)


def class_report_html(results: Iterable[SubmissionResult], *, plots: bool = True) -> str:
    """The whole report as one HTML string (``plots=False`` skips matplotlib)."""
    rs = latest(results)
    by_assignment: dict[str, list[SubmissionResult]] = {}
    for r in rs:
        by_assignment.setdefault(r.assignment, []).append(r)
    all_stats = [AssignmentStats.of(a, by_assignment[a]) for a in sorted(by_assignment)]

    plot_note = "Plots turned off."
    rendered: list[dict[str, str] | None] = [None] * len(all_stats)
    if plots:
        try:
            rendered = [render_plots(s) for s in all_stats]
        except ImportError as exc:
            plot_note = f"Plots unavailable ({exc}); install matplotlib (dl101[grade])."

    parts = ["<h1>dl101 class report</h1>"]
    n_unsafe = sum(r.unsafe for r in rs)
    if n_unsafe:
        parts.append(
            f'<div class="banner unsafe" role="alert">UNSAFE (no sandbox): {n_unsafe} of '
            f"{len(rs)} submissions were {esc(UNSAFE_TEXT)}. Their code ran with the "
            "grader's privileges; do not trust these scores blindly.</div>"
        )
    if not rs:
        parts.append('<p class="empty">No results yet.</p>')
    else:
        overview = []
        for s in all_stats:
            graded = s.statuses.get(GRADED, 0)
            top = s.max_score
            mean_pct = f"{100 * _mean([num(r.score) for r in s.results]) / top:.1f}%" if top else ""
            overview.append(
                f'<tr><td><a href="#{esc(urllib.parse.quote(s.assignment))}">{esc(s.assignment)}</a></td>'
                f'<td class="num">{len(s.results)}</td><td class="num">{graded}</td>'
                f'<td class="num">{len(s.results) - graded}</td>'
                f'<td class="num">{mean_pct}</td></tr>'
            )
        parts.append(
            _table(
                ["assignment", "#submissions", "#graded", "#not graded", "#mean %"],
                overview,
                "overview",
            )
        )
    for s, p in zip(all_stats, rendered, strict=True):
        parts.append(_section(s, p, plot_note))
    return page("dl101 class report", "\n".join(parts))
