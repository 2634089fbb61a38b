"""`dl101 grade` end to end on a toy course: every contract output, statuses, resume, exit codes."""

import csv
import json

import nbformat
import pytest
from click.testing import CliRunner

from grader.cli import main

HIDDEN = '''
import numpy as np
import pytest
from grader.expect import expect_close

@pytest.mark.points(2)
def test_add_numbers(student):
    """add: two numbers"""
    expect_close(student.add(1, 2), 3, what="add(1, 2)")

@pytest.mark.points(3)
def test_add_arrays(student, rng):
    """add: arrays"""
    x = rng.normal(size=(2, 3))
    expect_close(student.add(x, x), 2 * x, what="add on a 2x3 array")
'''
PUBLIC = '''
import pytest
from grader.expect import expect_close

@pytest.mark.points(1)
def test_add_small(student):
    """add(1, 1) is 2"""
    expect_close(student.add(1, 1), 2, what="add(1, 1)")
'''


def notebook(*cells, slug="toy"):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    if slug:
        nb.metadata["dl101"] = {"assignment": slug}
    return nbformat.writes(nb)


@pytest.fixture
def course(tmp_path, monkeypatch):
    tests = tmp_path / "course" / "solutions" / "toy" / "tests"
    tests.mkdir(parents=True)
    (tests / "test_hidden.py").write_text(HIDDEN)
    (tests / "test_public.py").write_text(PUBLIC)
    public = tmp_path / "course" / "assignments" / "toy" / "tests"
    public.mkdir(parents=True)
    (public / "test_public.py").write_text(PUBLIC)
    monkeypatch.setenv("DL101_ROOT", str(tmp_path / "course"))
    return tmp_path


@pytest.fixture
def submissions(course):
    subs = course / "subs"
    subs.mkdir()
    (subs / "alice.ipynb").write_text(notebook("import numpy as np", "def add(a, b):\n    return a + b"))
    (subs / "bob.ipynb").write_text(notebook("def add(a, b):\n    return a - b"))
    (subs / "carol.ipynb").write_text('{"cells": [')
    (subs / "dan.ipynb").write_text(notebook("undefined_name", "def add(a, b):\n    return np.add(a, b)",
                                             "import numpy as np"))
    return subs


def grade(*args):
    result = CliRunner().invoke(main, ["grade", *map(str, args)])
    return result


def test_grades_a_directory_and_writes_every_contract_output(course, submissions):
    out = course / "grades"
    result = grade(submissions, "-o", out, "-j", "2")
    assert result.exit_code == 0, result.output + result.stderr
    rows = {r["student"]: r for r in csv.DictReader((out / "grades.csv").open())}
    assert {"student", "assignment", "score", "max_score", "status"} <= set(next(iter(rows.values())))
    assert (float(rows["alice"]["score"]), float(rows["alice"]["max_score"]), rows["alice"]["status"]) == (5, 5, "graded")
    assert rows["bob"]["status"] == "graded" and float(rows["bob"]["score"]) == 0
    assert rows["carol"]["status"] == "unreadable"
    # dan's first cell fails, later cells still run: add works once numpy is imported
    assert float(rows["dan"]["score"]) == 5
    doc = json.loads((out / "toy" / "alice" / "results.json").read_text())
    assert doc["score"] == 5 and {"execution_time", "output", "tests"} <= set(doc)
    assert {"name", "score", "max_score", "status", "output", "visibility"} <= set(doc["tests"][0])
    assert (out / "toy" / "alice" / "feedback.html").is_file()
    assert (out / "report.html").is_file()
    bob = json.loads((out / "toy" / "bob" / "results.json").read_text())
    assert "add(1, 2): expected 3, got -1" in [t["output"] for t in bob["tests"]]


def test_json_output_is_one_object_on_stdout(course, submissions):
    result = grade(submissions, "-o", course / "grades", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    by_student = {r["student"]: r for r in doc["results"]}
    assert set(by_student) == {"alice", "bob", "carol", "dan"}
    assert set(by_student["alice"]) == {"student", "assignment", "score", "max_score", "status", "tests"}
    assert set(by_student["alice"]["tests"][0]) == {"name", "score", "max_score", "status", "output"}


def test_rerun_skips_graded_submissions_unless_forced(course, submissions):
    out = course / "grades"
    assert grade(submissions, "-o", out).exit_code == 0
    before = (out / "toy" / "alice" / "results.json").stat().st_mtime_ns
    assert grade(submissions, "-o", out).exit_code == 0
    assert (out / "toy" / "alice" / "results.json").stat().st_mtime_ns == before
    (submissions / "alice.ipynb").write_text(notebook("def add(a, b):\n    return 0"))
    assert grade(submissions, "-o", out).exit_code == 0
    assert json.loads((out / "toy" / "alice" / "results.json").read_text())["score"] == 0
    before = (out / "toy" / "bob" / "results.json").stat().st_mtime_ns
    assert grade(submissions, "-o", out, "--force").exit_code == 0
    assert (out / "toy" / "bob" / "results.json").stat().st_mtime_ns > before


def test_a_notebook_that_never_finishes_times_out_alone(course):
    (course / "course" / "solutions" / "toy" / "assignment.toml").write_text("timeout = 2\n")
    subs = course / "subs"
    subs.mkdir()
    (subs / "loop.ipynb").write_text(notebook("def add(a, b):\n    return a + b", "while True:\n    pass"))
    (subs / "ok.ipynb").write_text(notebook("def add(a, b):\n    return a + b"))
    result = grade(subs, "-o", course / "grades", "--json")  # the assignment's own 2 s budget
    assert result.exit_code == 0, result.stderr
    by_student = {r["student"]: r for r in json.loads(result.stdout)["results"]}
    assert by_student["loop"]["status"] == "timeout"
    assert by_student["ok"]["score"] == 5


def test_a_function_that_hangs_fails_only_its_tests(course):
    subs = course / "subs"
    subs.mkdir()
    code = "def add(a, b):\n    if isinstance(a, int):\n        while True: pass\n    return a + b"
    (subs / "slow.ipynb").write_text(notebook(code))
    result = grade(subs, "-o", course / "grades", "--timeout", "20", "--json")
    by_test = {t["name"]: t for t in json.loads(result.stdout)["results"][0]["tests"]}
    assert by_test["add: two numbers"]["status"] == "failed"
    assert "did not finish" in by_test["add: two numbers"]["output"]
    assert by_test["add: arrays"]["status"] == "passed"


def test_unknown_assignment_is_a_usage_error(course, submissions):
    result = grade(submissions, "-a", "nope", "-o", course / "grades")
    assert result.exit_code == 1
    assert "unknown assignment 'nope'" in result.output + result.stderr


def test_a_notebook_without_assignment_metadata_needs_dash_a(course):
    subs = course / "subs"
    subs.mkdir()
    (subs / "anon.ipynb").write_text(notebook("def add(a, b):\n    return a + b", slug=None))
    result = grade(subs, "-o", course / "grades")
    assert result.exit_code == 1 and "-a/--assignment" in result.stderr
    assert grade(subs, "-o", course / "grades", "-a", "toy").exit_code == 0


def test_check_runs_public_tests_with_hints(course):
    path = course / "mine.ipynb"
    path.write_text(notebook("def add(a, b):\n    return a * b"))
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 1
    assert "FAIL  add(1, 1) is 2" in result.stdout and "hint: add(1, 1): expected 2, got 1" in result.stdout
    path.write_text(notebook("def add(a, b):\n    return a + b"))
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 0 and "1/1 public checks passed" in result.stdout
