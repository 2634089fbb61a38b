"""grader.late: due dates, per-day deductions, credit curves, extensions; shown in every report."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest

from grader import late
from grader.errors import GraderError
from grader.reports import class_report_html, feedback_html, grades_csv, results_json
from grader.results import SubmissionResult, TestResult

DUE = "2026-12-01T23:59:00+00:00"


def policy(**settings):
    return late.parse_policy({"due": datetime.fromisoformat(DUE), **settings})


def result(student="alice", score=8.0, submitted_at="", assignment="toy"):
    tests = [TestResult("t1", score, 10.0, "passed" if score == 10 else "failed", "t1: expected 1, got 2")]
    return SubmissionResult(student=student, assignment=assignment, status="graded", score=score,
                            max_score=10.0, tests=tests, submitted_at=submitted_at)


@pytest.mark.parametrize(
    ("submitted", "credit"),
    [
        ("2026-12-01T23:00:00+00:00", 1.0),  # early
        ("2026-12-01T23:59:00+00:00", 1.0),  # exactly on time
        ("2026-12-02T00:00:01+00:00", 0.9),  # a started day counts
        ("2026-12-03T23:58:00+00:00", 0.8),  # just under two days
        ("2026-12-04T00:00:00+00:00", 0.7),
        ("2026-12-06T23:59:00+00:00", 0.5),  # five days: the last one with credit
        ("2026-12-07T00:00:00+00:00", 0.0),  # more than max_late_days
    ],
)
def test_per_day_deduction_counts_started_days_until_max(submitted, credit):
    r = late.apply(result(submitted_at=submitted), policy(late_per_day=0.1, max_late_days=5))
    assert r.extra["late"]["credit"] == pytest.approx(credit)
    assert r.score == pytest.approx(8.0 * credit)
    assert r.extra["late"]["raw_score"] == 8.0
    assert r.extra["late"]["penalty"] == pytest.approx(8.0 - r.score)


def test_times_in_other_zones_and_nbgrader_format_are_compared_in_utc():
    p = policy(late_per_day=0.25)
    # 2026-12-02 00:30 in UTC+01:00 is 23:30 UTC on the 1st: on time.
    assert late.apply(result(submitted_at="2026-12-02T00:30:00+01:00"), p).score == 8.0
    assert late.apply(result(submitted_at="2026-12-02 10:00:00.123456 UTC"), p).score == 6.0
    assert late.apply(result(submitted_at="2026-12-02T10:00:00Z"), p).score == 6.0
    assert late.apply(result(submitted_at="2026-12-02T10:00:00"), p).score == 6.0  # naive = UTC
    # without max_late_days the credit stops at zero, never below
    assert late.apply(result(submitted_at="2027-01-30T00:00:00+00:00"), p).score == 0.0


def test_a_credit_curve_uses_exact_fractions_of_days():
    p = policy(curve=[[0.5, 0.9], [2, 0.5], [7, 0.2]])
    at = {"2026-12-02T11:00:00+00:00": 0.9, "2026-12-02T12:00:00+00:00": 0.5,
          "2026-12-08T23:59:00+00:00": 0.2, "2026-12-09T00:00:00+00:00": 0.0}
    for submitted, credit in at.items():
        r = late.apply(result(score=10.0, submitted_at=submitted), p)
        assert r.score == pytest.approx(10 * credit), submitted


def test_grace_extensions_and_unknown_times():
    p = policy(late_per_day=0.5, grace_minutes=15, extensions={"bob": 2})
    assert late.apply(result(submitted_at="2026-12-02T00:10:00+00:00"), p).score == 8.0  # in grace
    assert late.apply(result(submitted_at="2026-12-02T00:20:00+00:00"), p).score == 4.0
    assert late.apply(result("bob", submitted_at="2026-12-03T20:00:00+00:00"), p).score == 8.0
    unknown = late.apply(result(submitted_at=""), p)
    assert unknown.score == 8.0 and unknown.extra["late"]["unknown_time"] is True
    assert "unknown" in late.describe(unknown)


def test_applying_twice_keeps_the_raw_score():
    p = policy(late_per_day=0.1)
    r = late.apply(result(submitted_at="2026-12-02T10:00:00+00:00"), p)
    again = late.apply(r, p)
    assert again.score == pytest.approx(7.2) and again.extra["late"]["raw_score"] == 8.0
    assert late.apply(result(), None).extra == {}


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"late_per_day": 0.1}, "needs a due date"),
        ({"due": "tomorrow"}, "is not a date-time"),
        ({"due": "2026-12-01T23:59:00"}, "needs a UTC offset"),
        ({"due": DUE, "late_per_day": 1.5}, "between 0 and 1"),
        ({"due": DUE, "late_per_day": "10%"}, "must be a number"),
        ({"due": DUE, "curve": [[2, 0.5], [1, 0.9]]}, "days increasing"),
        ({"due": DUE, "curve": [[1, 1.5]]}, "credit between 0 and 1"),
        ({"due": DUE, "curve": [[1, 0.5]], "late_per_day": 0.1}, "not both"),
        ({"due": DUE, "late_per_dya": 0.1}, "unknown setting(s) late_per_dya"),
        ({"due": DUE, "max_late_days": 2.5}, "whole number"),
        ({"due": DUE, "extensions": {"bob": "two"}}, "extra days"),
    ],
)
def test_bad_settings_are_clear_errors(settings, message):
    with pytest.raises(GraderError, match=message.replace("(", r"\(").replace(")", r"\)")):
        late.parse_policy(settings, source="assignment.toml")


def test_policy_is_read_from_the_assignment_toml(tmp_path, monkeypatch):
    folder = tmp_path / "solutions" / "toy"
    folder.mkdir(parents=True)
    monkeypatch.setenv("DL101_ROOT", str(tmp_path))
    assert late.load_policy("toy") is None
    (folder / "assignment.toml").write_text(
        "due = 2026-12-01T23:59:00+00:00\nlate_per_day = 0.2\nmax_late_days = 2\n\n[extensions]\nbob = 1\n")
    p = late.load_policy("toy")
    assert p is not None and p.due == datetime(2026, 12, 1, 23, 59, tzinfo=UTC)
    assert p.extensions == {"bob": 1.0} and "20% off per started day late" in p.rule
    r = late.apply_policy(result(submitted_at="2026-12-02T12:00:00+00:00"))
    assert r.score == pytest.approx(6.4)
    (folder / "assignment.toml").write_text("due = [")
    with pytest.raises(GraderError, match="cannot read"):
        late.check_policies(["toy", "not-an-assignment"])
    # a result for an assignment without solutions/ (a quiz, "unknown") is left alone
    assert late.apply_policy(result(assignment="cnn-week")).score == 8.0


def test_late_deduction_shows_in_feedback_results_json_csv_and_class_report():
    p = policy(late_per_day=0.1, max_late_days=5)
    on_time = late.apply(result("alice", score=10.0, submitted_at="2026-12-01T12:00:00+00:00"), p)
    tardy = late.apply(result("bob", submitted_at="2026-12-03T06:00:00+00:00"), p)
    assert tardy.score == pytest.approx(6.4)

    page = feedback_html(tardy)
    assert "Late." in page and "1.3 days after the due date (2026-12-01 23:59 UTC)" in page
    assert "Credit 80%: 8 -&gt; 6.4 points" in page and "6.4 / 10" in page
    assert "Submitted on time" in feedback_html(on_time)

    doc = json.loads(json.dumps(results_json(tardy)))
    assert doc["score"] == pytest.approx(6.4) and "Credit 80%" in doc["output"]

    rows = {r["student"]: r for r in csv.DictReader(io.StringIO(grades_csv([on_time, tardy])))}
    assert (rows["bob"]["score"], rows["bob"]["raw_score"], rows["bob"]["late_penalty"]) == ("6.4", "8", "1.6")
    assert (rows["alice"]["raw_score"], rows["alice"]["late_penalty"]) == ("10", "0")

    report = class_report_html([on_time, tardy], plots=False)
    assert "late submissions" in report and "1 of 2" in report
    assert "1.3 d, -1.6" in report and "on time" in report
    assert "10% off per started day late" in report


def test_missing_submissions_are_not_late_and_a_removed_policy_undoes_the_deduction():
    missing = SubmissionResult(student="zoe", assignment="toy", status="missing", output="nothing submitted")
    assert late.apply(missing, policy(late_per_day=0.1)).extra == {}
    r = late.apply(result(submitted_at="2026-12-03T00:00:00+00:00"), policy(late_per_day=0.5))
    assert r.score == 0.0
    assert late.apply(r, None).score == 8.0 and "late" not in r.extra


def test_dl101_report_apply_late_after_an_extension(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from grader.cli import main
    from grader.reports import load_results, write_student_reports

    folder = tmp_path / "solutions" / "toy"
    folder.mkdir(parents=True)
    monkeypatch.setenv("DL101_ROOT", str(tmp_path))
    toml = folder / "assignment.toml"
    toml.write_text(f"due = {DUE}\nlate_per_day = 0.5\n")
    grades = tmp_path / "grades"
    for student in ("alice", "bob"):
        write_student_reports(late.apply_policy(result(student, submitted_at="2026-12-02T12:00:00+00:00")), grades)
    assert [r.score for r in load_results(grades)] == [4.0, 4.0]
    toml.write_text(f"due = {DUE}\nlate_per_day = 0.5\n\n[extensions]\nbob = 1\n")
    outcome = CliRunner().invoke(main, ["report", str(grades), "--apply-late", "--no-plots"])
    assert outcome.exit_code == 0, outcome.output
    assert {r.student: r.score for r in load_results(grades)} == {"alice": 4.0, "bob": 8.0}
    assert "Submitted on time" in (grades / "toy" / "bob" / "feedback.html").read_text()
    assert "bob,toy,8," in (grades / "grades.csv").read_text()
