"""Late policy: a due date, then a per-day deduction or a credit curve, per assignment.

It lives in ``solutions/<slug>/assignment.toml`` (no file, or no ``due``: no late policy)::

    due = 2026-12-01T23:59:00+00:00   # TOML date-time with a UTC offset (or the same as a string)
    grace_minutes = 10                 # optional: lateness counts from due + grace
    late_per_day = 0.1                 # credit lost per started day late ...
    max_late_days = 5                  # ... and no credit at all after this many days (optional)
    # or, instead of late_per_day / max_late_days, a credit curve:
    # curve = [[1, 0.9], [3, 0.5], [7, 0.2]]   # [up to this many days late, credit]; later: 0

    [extensions]                       # optional: extra days for some students (by student id)
    alice = 2

The credit is a fraction of the *earned* score: ``score = raw_score * credit``. Grading
applies it from the submission time (:attr:`SubmissionResult.submitted_at`) and records,
in ``result.extra["late"]``::

    {"raw_score", "penalty", "credit", "days_late", "due", "rule"}   # or "unknown_time": True

``penalty = raw_score - score`` (nbgrader's ``late_submission_penalty``). Applying a policy
twice gives the same score: the raw score is taken from ``extra["late"]`` when present.
Submission times without an offset are read as UTC.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from grader import assignments
from grader.errors import GraderError
from grader.results import SubmissionResult

CONFIG_NAME = "assignment.toml"
DAY = 86400.0
_KEYS = {"due", "grace_minutes", "late_per_day", "max_late_days", "curve", "extensions",
         "timeout"}  # timeout: read by grader.assignments.timeout


@dataclass(frozen=True)
class LatePolicy:
    """When an assignment is due and how much credit a late submission keeps."""

    due: datetime
    #: (days late up to, credit) pairs, days increasing; later than the last: no credit.
    #: A per-day rule becomes one. None: late submissions are marked but keep full credit.
    curve: tuple[tuple[float, float], ...] | None = None
    #: Count whole started days (per-day rules) rather than exact fractions (curves).
    per_started_day: bool = False
    grace: timedelta = timedelta(0)
    extensions: dict[str, float] = field(default_factory=dict)
    rule: str = "no deduction"

    def due_for(self, student: str) -> datetime:
        return self.due + timedelta(days=self.extensions.get(student, 0.0))

    def days_late(self, student: str, submitted: datetime) -> float:
        late = (submitted - self.due_for(student) - self.grace).total_seconds()
        return max(0.0, late / DAY)

    def credit(self, days_late: float) -> float:
        """Fraction of the earned score kept by a submission ``days_late`` days late."""
        if days_late <= 0 or self.curve is None:
            return 1.0
        days = math.ceil(days_late) if self.per_started_day else days_late
        for limit, credit in self.curve:
            if days <= limit:
                return credit
        return 0.0


def _as_datetime(value: Any, what: str, source: str) -> datetime:
    if isinstance(value, datetime):
        parsed: datetime | None = value
    elif isinstance(value, date):
        raise GraderError(f"{source}: {what} needs a time and a UTC offset, e.g. {value}T23:59:00+00:00")
    elif isinstance(value, str):
        parsed = _fromiso(value)
    else:
        parsed = None
    if parsed is None:
        raise GraderError(f"{source}: {what} = {value!r} is not a date-time like 2026-12-01T23:59:00+00:00")
    if parsed.tzinfo is None:
        raise GraderError(f"{source}: {what} needs a UTC offset, e.g. {parsed.isoformat()}+00:00")
    return parsed.astimezone(UTC)


def _number(data: dict[str, Any], key: str, source: str, *, low: float, high: float | None = None) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise GraderError(f"{source}: {key} must be a number, not {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
        raise GraderError(f"{source}: {key} = {value!r} must be {bound}")
    return float(value)


def _curve(value: Any, source: str) -> tuple[tuple[float, float], ...]:
    bad = GraderError(f"{source}: curve must be a list of [days late, credit] pairs with days "
                      f"increasing and credit between 0 and 1, e.g. [[1, 0.9], [3, 0.5]]; got {value!r}")
    if not isinstance(value, list) or not value:
        raise bad
    points = []
    for pair in value:
        if (not isinstance(pair, list) or len(pair) != 2
                or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in pair)):
            raise bad
        days, credit = float(pair[0]), float(pair[1])
        if not (days > 0 and 0.0 <= credit <= 1.0) or (points and days <= points[-1][0]):
            raise bad
        points.append((days, credit))
    return tuple(points)


def _pct(x: float) -> str:
    return f"{100 * x:.4g}%"


def parse_policy(data: dict[str, Any], *, source: str = CONFIG_NAME) -> LatePolicy | None:
    """The policy described by a parsed assignment.toml; None without a ``due`` date."""
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise GraderError(f"{source}: unknown setting(s) {', '.join(unknown)} "
                          f"(known: {', '.join(sorted(_KEYS))})")
    if "due" not in data:
        if set(data) & {"late_per_day", "max_late_days", "curve", "grace_minutes", "extensions"}:
            raise GraderError(f"{source}: a late policy needs a due date (due = 2026-12-01T23:59:00+00:00)")
        return None
    due = _as_datetime(data["due"], "due", source)
    grace = _number(data, "grace_minutes", source, low=0) or 0.0
    per_day = _number(data, "late_per_day", source, low=0, high=1)
    max_days = _number(data, "max_late_days", source, low=0)
    if max_days is not None and max_days != int(max_days):
        raise GraderError(f"{source}: max_late_days must be a whole number of days, not {max_days:g}")
    extensions = data.get("extensions", {})
    if not isinstance(extensions, dict) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in extensions.values()
    ):
        raise GraderError(f"{source}: [extensions] maps student ids to extra days (numbers >= 0)")
    extensions = {str(k): float(v) for k, v in extensions.items()}
    common = dict(due=due, grace=timedelta(minutes=grace), extensions=extensions)
    if "curve" in data:
        if per_day is not None or max_days is not None:
            raise GraderError(f"{source}: give either curve or late_per_day/max_late_days, not both")
        curve = _curve(data["curve"], source)
        rule = "; ".join(f"up to {d:g} day(s) late: {_pct(c)} credit" for d, c in curve) + "; later: no credit"
        return LatePolicy(curve=curve, rule=rule, **common)
    if per_day is None:
        if max_days is not None:
            curve = ((max_days, 1.0),)
            rule = f"no deduction up to {max_days:g} day(s) late; later: no credit"
            return LatePolicy(curve=curve, per_started_day=True, rule=rule, **common)
        return LatePolicy(rule="late submissions are marked, with no deduction", **common)
    # Per started day: day k keeps 1 - k*per_day, down to 0; after max_days: nothing.
    last = int(max_days) if max_days is not None else (math.ceil(1 / per_day) if per_day else 1)
    curve = tuple((float(k), max(0.0, round(1.0 - k * per_day, 10))) for k in range(1, last + 1))
    rule = f"{_pct(per_day)} off per started day late"
    rule += f"; more than {last} day(s) late: no credit" if max_days is not None else ""
    if per_day == 0 and max_days is None:
        return LatePolicy(rule="late submissions are marked, with no deduction", **common)
    return LatePolicy(curve=curve, per_started_day=True, rule=rule, **common)


def config_path(slug: str, *, root: Path | None = None) -> Path:
    return assignments.solution_dir(slug, root=root) / CONFIG_NAME


_cache: dict[Path, tuple[int, LatePolicy | None]] = {}


def load_policy(slug: str, *, root: Path | None = None) -> LatePolicy | None:
    """The late policy of ``slug`` (from solutions/<slug>/assignment.toml), or None."""
    path = config_path(slug, root=root)
    try:
        stamp = path.stat().st_mtime_ns
    except (OSError, ValueError):
        return None
    cached = _cache.get(path)
    if cached and cached[0] == stamp:
        return cached[1]
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise GraderError(f"cannot read {path}: {exc}") from None
    policy = parse_policy(data, source=str(path))
    _cache[path] = (stamp, policy)
    return policy


def parse_time(text: str) -> datetime | None:
    """An ISO 8601 time (``Z``, an offset, or nbgrader's ``... UTC`` suffix) -> aware UTC datetime.

    A time without an offset is UTC. Returns None for "" or anything unreadable.
    """
    parsed = _fromiso(text)
    if parsed is None:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _fromiso(text: str) -> datetime | None:
    """ISO 8601 (plus ``Z`` / `` UTC`` / `` GMT``) as written: naive stays naive."""
    text = (text or "").strip()
    for suffix in (" UTC", " GMT", "Z"):
        if text.endswith(suffix):
            text = text[: -len(suffix)] + "+00:00"
            break
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def apply(result: SubmissionResult, policy: LatePolicy | None) -> SubmissionResult:
    """Set ``result.score`` to the late-adjusted score and record how in ``extra["late"]``.

    Without a policy (removed since), an earlier deduction is undone. A ``missing``
    submission has no time to judge and is left alone.
    """
    previous = result.extra.get("late")
    raw = float(previous["raw_score"]) if isinstance(previous, dict) and "raw_score" in previous else result.score
    if policy is None or result.status == "missing":
        if previous is not None:
            result.score = raw
            del result.extra["late"]
        return result
    due = policy.due_for(result.student)
    info: dict[str, Any] = {"raw_score": raw, "due": due.isoformat(), "rule": policy.rule}
    submitted = parse_time(result.submitted_at)
    if submitted is None:
        info.update(unknown_time=True, credit=1.0, days_late=0.0, penalty=0.0)
        result.score = raw
    else:
        days = policy.days_late(result.student, submitted)
        credit = policy.credit(days)
        result.score = round(raw * credit, 6)
        info.update(credit=credit, days_late=round(days, 4), penalty=round(raw - result.score, 6))
    result.extra["late"] = info
    return result


def apply_policy(result: SubmissionResult, *, root: Path | None = None) -> SubmissionResult:
    """:func:`apply` with the policy of the result's own assignment (if it has one)."""
    if not assignments.solution_dir(result.assignment, root=root).is_dir():
        return result
    return apply(result, load_policy(result.assignment, root=root))


def check_policies(slugs: Iterable[str], *, root: Path | None = None) -> None:
    """Read the late policies of ``slugs`` now, so a broken assignment.toml stops a batch
    before it starts rather than half-way."""
    for slug in slugs:
        if slug and assignments.solution_dir(slug, root=root).is_dir():
            load_policy(slug, root=root)


def late_info(result: SubmissionResult) -> dict[str, Any] | None:
    """The recorded late information of a result (see the module docstring), or None."""
    info = result.extra.get("late") if isinstance(result.extra, dict) else None
    return info if isinstance(info, dict) else None


def describe(result: SubmissionResult) -> str:
    """One line for people: "" without a policy (or with a record that makes no sense)."""
    info = late_info(result)
    if not info:
        return ""
    try:
        return _describe(info)
    except (TypeError, ValueError):
        return ""


def _describe(info: dict[str, Any]) -> str:
    if info.get("unknown_time"):
        return "Submission time unknown: no late deduction applied."
    days = float(info.get("days_late") or 0.0)
    if days <= 0:
        return f"Submitted on time (due {_when(info.get('due', ''))})."
    penalty, credit = float(info.get("penalty") or 0.0), float(info.get("credit", 1.0))
    text = f"Submitted {_duration(days)} after the due date ({_when(info.get('due', ''))})."
    if penalty > 0 or credit < 1:
        text += (f" Late policy: {info.get('rule', '')}. Credit {_pct(credit)}: "
                 f"{_fmt(info.get('raw_score', 0.0))} -> {_fmt(float(info.get('raw_score', 0.0)) - penalty)} points.")
    return text


def _fmt(x: Any) -> str:
    x = round(float(x), 4)
    return str(int(x)) if x == int(x) else f"{x:g}"


def _when(iso: str) -> str:
    parsed = parse_time(iso)
    return parsed.strftime("%Y-%m-%d %H:%M UTC") if parsed else str(iso)


def _duration(days: float) -> str:
    if days < 1:
        hours = days * 24
        return f"{hours:.1f} hours" if hours >= 1 else f"{max(1, round(hours * 60))} minutes"
    return f"{days:.1f} days"
