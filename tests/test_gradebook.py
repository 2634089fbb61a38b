"""nbgrader integration: `dl101 grade course/submitted --gradebook URL` records what nbgrader's
API (and so formgrader and `nbgrader export`) reads back, and feedback lands in course/feedback/."""

from __future__ import annotations

import csv
import json

import nbformat
import pytest
from click.testing import CliRunner

from grader import gradebook as gbmod
from grader.cli import main
from grader.errors import GraderError
from grader.gradebook import cell_name, course_roots, record, write_course_feedback
from grader.results import SubmissionResult, TestResult

#: SQLAlchemy warns when an object it was given will not be saved: here that is a lost grade.
pytestmark = pytest.mark.filterwarnings("error::sqlalchemy.exc.SAWarning")

HIDDEN = '''
import pytest
from grader.expect import expect_close

@pytest.mark.points(2)
def test_add_numbers(student):
    """add: two numbers"""
    expect_close(student.add(1, 2), 3, what="add(1, 2)")

@pytest.mark.points(3, visibility="hidden")
def test_add_arrays(student, rng):
    """add: arrays"""
    x = rng.normal(size=(2, 3))
    expect_close(student.add(x, x), 2 * x, what="add on a 2x3 array")
'''
POLICY = "due = 2026-12-01T23:59:00+00:00\nlate_per_day = 0.2\nmax_late_days = 3\n"


def notebook(code: str) -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(code)]
    return nbformat.writes(nb)


@pytest.fixture
def course(tmp_path, monkeypatch):
    """A toy course: solutions/toy (hidden tests + late policy) and an nbgrader submitted/ tree."""
    root = tmp_path / "course"
    (root / "solutions" / "toy" / "tests").mkdir(parents=True)
    (root / "solutions" / "toy" / "tests" / "test_hidden.py").write_text(HIDDEN)
    (root / "solutions" / "toy" / "assignment.toml").write_text(POLICY)
    monkeypatch.setenv("DL101_ROOT", str(root))
    students = {
        "alice": ("def add(a, b):\n    return a + b", "2026-12-01 20:00:00.000000 UTC"),
        "bob": ("def add(a, b):\n    return a - b", "2026-12-01 21:00:00.000000 UTC"),
        "carol": ("def add(a, b):\n    return a + b", "2026-12-02 10:30:00.000000 UTC"),  # 1 day late
        "dan": ("def add(a, b):\n    if isinstance(a, int):\n        return a + b\n    return 0", ""),
    }
    for student, (code, stamp) in students.items():
        folder = root / "submitted" / student / "toy"
        folder.mkdir(parents=True)
        (folder / "toy.ipynb").write_text(notebook(code))
        if stamp:
            (folder / "timestamp.txt").write_text(stamp + "\n")
    return root


def test_grading_into_a_gradebook_reads_back_the_same_scores(course, tmp_path):
    from nbgrader.api import Gradebook
    from nbgrader.plugins.export import CsvExportPlugin

    url = f"sqlite:///{tmp_path / 'nb' / 'gradebook.db'}"
    out = tmp_path / "grades"
    outcome = CliRunner().invoke(main, ["grade", str(course / "submitted"), "-o", str(out), "--json",
                                        "--gradebook", url])
    assert outcome.exit_code == 0, outcome.output + outcome.stderr
    summary = {r["student"]: r for r in json.loads(outcome.stdout)["results"]}
    assert {s: r["score"] for s, r in summary.items()} == {"alice": 5, "bob": 0, "carol": 4, "dan": 2}
    results = {s: json.loads((out / "toy" / s / "results.json").read_text())["dl101"]["result"]
               for s in summary}
    assert results["carol"]["extra"]["late"]["penalty"] == pytest.approx(1.0)

    with Gradebook(url) as gb:
        assignment = gb.find_assignment("toy")
        assert assignment.max_score == 5.0
        assert assignment.duedate.isoformat() == "2026-12-01T23:59:00"
        assert sorted(s.id for s in gb.students) == sorted(summary)
        for student, r in results.items():
            submission = gb.find_submission("toy", student)
            raw = r["extra"]["late"]["raw_score"]
            assert submission.score == pytest.approx(raw)
            assert submission.score - submission.late_submission_penalty == pytest.approx(r["score"])
            for test in r["tests"]:
                grade = gb.find_grade(cell_name(test["name"]), "toy", "toy", student)
                assert (grade.score, grade.max_score) == (test["score"], test["max_score"])
                assert not grade.needs_manual_grade
        assert gb.find_submission("toy", "carol").timestamp.isoformat() == "2026-12-02T10:30:00"
        assert gb.find_submission("toy", "carol").total_seconds_late == pytest.approx(37860)
        # what formgrader's "Manage Submissions" and "Manage Students" pages show
        listed = {d["student"]: d for d in gb.submission_dicts("toy")}
        assert {s: d["score"] for s, d in listed.items()} == {
            s: r["extra"]["late"]["raw_score"] for s, r in results.items()}
        assert not any(d["needs_manual_grade"] for d in listed.values())
        CsvExportPlugin(to=str(tmp_path / "nbgrader-export.csv")).export(gb)
    exported = {row["student_id"]: row for row in csv.DictReader((tmp_path / "nbgrader-export.csv").open())}
    assert {s: float(row["score"]) for s, row in exported.items()} == {s: r["score"] for s, r in summary.items()}

    # nbgrader's own place for feedback, beside submitted/
    for student in summary:
        feedback = course / "feedback" / student / "toy" / "feedback.html"
        assert feedback.is_file() and f"feedback for {student}" in feedback.read_text()
    assert (course / "feedback" / "carol" / "toy" / "timestamp.txt").read_text().startswith("2026-12-02")
    assert "Late." in (course / "feedback" / "carol" / "toy" / "feedback.html").read_text()


def t(name, score, points=2.0, **kw):
    return TestResult(name=name, score=score, max_score=points, status="passed" if score == points else "failed", **kw)


def r(student, tests, slug="toy", **kw):
    return SubmissionResult(student=student, assignment=slug, status=kw.pop("status", "graded"),
                            score=sum(x.score for x in tests), max_score=sum(x.max_score for x in tests),
                            tests=tests, **kw)


def test_recording_again_updates_scores_keeps_manual_work_and_drops_renamed_tests(tmp_path, monkeypatch):
    from nbgrader.api import Gradebook

    monkeypatch.setenv("DL101_ROOT", str(tmp_path))  # no solutions/: no late policy
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    done = record([r("alice", [t("a", 2), t("b", 0)]), r("bob", [t("a", 0), t("b", 2)]),
                   r("x", [], slug="unknown", status="unreadable")], url)
    assert (done.assignments, done.submissions, done.skipped) == (1, 2, 1)
    with Gradebook(url) as gb:
        # an instructor's own nbgrader cell and a manual score on one of ours
        gb.add_grade_cell("essay", "toy", "toy", max_score=4, cell_type="markdown")
        manual = gb.find_grade(cell_name("a"), "toy", "toy", "bob")
        manual.manual_score = 1.5
        gb.db.commit()

    # a re-grade: test "b" renamed to "b2", bob improved, the grader broke on alice's "a"
    record([r("alice", [t("a", 0, grader_error=True), t("b2", 2)]), r("bob", [t("a", 2), t("b2", 2)])], url)
    with Gradebook(url) as gb:
        names = sorted(c.name for c in gb.find_notebook("toy", "toy").grade_cells)
        assert names == sorted([cell_name("a"), cell_name("b2"), "essay"])
        bob = gb.find_submission("toy", "bob")
        assert gb.find_grade(cell_name("a"), "toy", "toy", "bob").auto_score == 2.0
        assert gb.find_grade(cell_name("a"), "toy", "toy", "bob").score == 1.5  # manual wins in nbgrader
        assert bob.score == pytest.approx(3.5)
        alice_a = gb.find_grade(cell_name("a"), "toy", "toy", "alice")
        assert alice_a.needs_manual_grade and gb.find_submission_notebook("toy", "toy", "alice").flagged
        assert gb.find_grade("essay", "toy", "toy", "alice").auto_score is None  # nbgrader's cell untouched


def test_cell_names_are_stable_unique_and_plain():
    names = {cell_name(n) for n in ("add: two numbers", "add two numbers", "ADD: two numbers", "x" * 500, "")}
    assert len(names) == 5
    assert all(len(n) <= 100 and n.startswith("dl101-") for n in names)
    assert all(set(n) <= set("abcdefghijklmnopqrstuvwxyz0123456789_-") for n in names)
    assert cell_name("add: two numbers") == cell_name("add: two numbers")


def test_bad_gradebook_urls_are_clear_errors(tmp_path):
    with pytest.raises(GraderError, match="database URL"):
        record([r("alice", [t("a", 2)])], str(tmp_path / "gradebook.db"))
    with pytest.raises(GraderError, match="cannot open the gradebook"):
        record([r("alice", [t("a", 2)])], "nosuchdb://x/y")
    (tmp_path / "solutions").mkdir()
    outcome = CliRunner().invoke(main, ["grade", str(tmp_path), "--gradebook", "gradebook.db"])
    assert outcome.exit_code != 0 and "database URL" in outcome.output + outcome.stderr


def test_course_feedback_only_for_results_inside_the_course_tree(tmp_path):
    course = tmp_path / "course"
    (course / "submitted" / "alice" / "toy").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    assert course_roots([course / "submitted"]) == [course.resolve()]
    assert course_roots([course]) == [course.resolve()]
    assert course_roots([tmp_path / "elsewhere"]) == []
    results = [
        r("alice", [t("a", 2)], source=str(course / "submitted" / "alice" / "toy" / "toy.ipynb")),
        r("bob", [t("a", 2)], source=str(tmp_path / "elsewhere" / "bob.ipynb")),
        r("eve", [t("a", 2)], source=str(course / "submitted" / ".." / ".." / "evil.ipynb")),
        r("zed", [t("a", 2)], source="class.zip!submitted/zed/toy/toy.ipynb"),
    ]
    written = write_course_feedback(results, [course / "submitted"])
    assert written == [course.resolve() / "feedback" / "alice" / "toy" / "feedback.html"]
    assert sorted(p.name for p in (course / "feedback").iterdir()) == ["alice"]


def test_dl101_export_gradebook_records_existing_results(tmp_path, monkeypatch):
    from nbgrader.api import Gradebook

    from grader.reports import write_student_reports

    monkeypatch.setenv("DL101_ROOT", str(tmp_path))
    for result in (r("alice", [t("a", 2), t("b", 1)]), r("bob", [t("a", 0), t("b", 0)])):
        write_student_reports(result, tmp_path / "grades")
    url = f"sqlite:///{tmp_path / 'gb.db'}"
    outcome = CliRunner().invoke(main, ["export", "gradebook", str(tmp_path / "grades"), "--gradebook", url])
    assert outcome.exit_code == 0, outcome.output
    assert "recorded 2 submissions of 1 assignments" in outcome.stdout
    with Gradebook(url) as gb:
        assert gb.find_submission("toy", "alice").score == 3.0
        assert gb.find_submission("toy", "bob").score == 0.0
    assert gbmod.notebook_name("toy") == "toy"
