"""Exports: the Canvas gradebook CSV and the Gradescope autograder zip (run for real against a
fake /autograder tree)."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner

from grader.cli import main
from grader.errors import GraderError
from grader.exports.autograder import build_zip, find_submission
from grader.exports.canvas import canvas_csv, read_roster
from grader.reports import write_student_reports
from grader.results import SubmissionResult, TestResult

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
GRADESCOPE_VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}


def result(student, score, slug="toy", status="graded", **kw):
    tests = [TestResult("t", score, 5.0, "passed" if score == 5 else "failed", **kw)]
    return SubmissionResult(student=student, assignment=slug, status=status, score=score, max_score=5.0,
                            tests=tests)


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


# ---------------------------------------------------------------- Canvas


def test_canvas_without_roster_puts_numeric_ids_in_the_id_column():
    export = canvas_csv([result("12345", 5.0), result("678", 2.5), result("678", 1.0, slug="pool")])
    head, points, *body = rows(export.text)
    assert head == ["Student", "ID", "SIS User ID", "Section", "pool", "toy"]
    assert points == ["Points Possible", "", "", "", "5", "5"]
    assert body == [["12345", "12345", "", "", "", "5"], ["678", "678", "", "", "1", "2.5"]]
    assert export.text.endswith("\r\n")


def test_canvas_without_roster_puts_user_names_in_sis_user_id_and_blanks_grader_errors():
    export = canvas_csv([result("alice", 5.0), result("=cmd|x", 0.0),
                         result("bob", 0.0, status="error", grader_error=True)])
    _, _, *body = rows(export.text)
    assert body == [["'=cmd|x", "", "'=cmd|x", "", "0"], ["alice", "", "alice", "", "5"], ["bob", "", "bob", "", ""]]
    assert export.blank == [("bob", "toy")]
    login = canvas_csv([result("alice", 5.0)], id_column="SIS Login ID")
    assert rows(login.text)[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "toy"]
    with pytest.raises(GraderError, match="id column"):
        canvas_csv([result("alice", 5.0)], id_column="Email")


def test_canvas_with_a_roster_keeps_its_identity_columns_and_its_assignment_header(tmp_path):
    roster = tmp_path / "canvas-export.csv"
    roster.write_text(
        "\ufeffStudent,ID,SIS User ID,SIS Login ID,Section,toy (4321),Quiz 1 (99)\n"
        "    Points Possible,,,,,5,10\n"
        '"Smith, Alice",101,S001,ALICE,Lab A,,8\n'
        '"Jones, Bob",102,S002,bob,Lab B,,7\n'
        '"Lee, Carol",103,S003,carol,Lab A,,9\n',
        encoding="utf-8",
    )
    export = canvas_csv([result("alice", 5.0), result("102", 3.0), result("mallory", 5.0)],
                        roster=read_roster(roster))
    head, points, *body = rows(export.text)
    assert head == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "toy (4321)"]
    assert points[0] == "Points Possible" and points[-1] == "5"
    assert body == [
        ["Smith, Alice", "101", "S001", "ALICE", "Lab A", "5"],  # matched by login, any case
        ["Jones, Bob", "102", "S002", "bob", "Lab B", "3"],  # matched by Canvas user id
        ["Lee, Carol", "103", "S003", "carol", "Lab A", ""],  # no result: Canvas keeps its grade
    ]
    assert export.unmatched == ["mallory"]
    explicit = canvas_csv([result("alice", 5.0)], roster=read_roster(roster), columns={"toy": "Toy (777)"})
    assert rows(explicit.text)[0][-1] == "Toy (777)"
    (tmp_path / "not-canvas.csv").write_text("name,score\nx,1\n")
    with pytest.raises(GraderError, match="not a Canvas gradebook export"):
        read_roster(tmp_path / "not-canvas.csv")


def test_dl101_export_canvas_reads_a_grades_directory(tmp_path):
    for r in (result("alice", 5.0), result("bob", 1.0)):
        write_student_reports(r, tmp_path / "grades")
    out = tmp_path / "canvas.csv"
    outcome = CliRunner().invoke(main, ["export", "canvas", str(tmp_path / "grades"), "-o", str(out),
                                        "--column", "toy=Toy (12)"])
    assert outcome.exit_code == 0, outcome.output
    assert rows(out.read_text())[0][-1] == "Toy (12)" and rows(out.read_text())[2][-1] == "5"
    empty = tmp_path / "empty"
    empty.mkdir()
    outcome = CliRunner().invoke(main, ["export", "canvas", str(empty)])
    assert outcome.exit_code == 1 and "no results" in outcome.output + outcome.stderr
    outcome = CliRunner().invoke(main, ["export", "canvas", str(tmp_path / "grades"), "--column", "oops"])
    assert outcome.exit_code == 2 and "SLUG=HEADER" in outcome.output + outcome.stderr


# ---------------------------------------------------------------- Gradescope


def notebook(code: str) -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(code)]
    return nbformat.writes(nb)


@pytest.fixture
def course(tmp_path, monkeypatch):
    root = tmp_path / "course"
    tests = root / "solutions" / "toy" / "tests"
    tests.mkdir(parents=True)
    (tests / "test_hidden.py").write_text(HIDDEN)
    (tests / "__pycache__").mkdir()
    (tests / "__pycache__" / "junk.pyc").write_bytes(b"\0")
    (root / "solutions" / "toy" / "toy.ipynb").write_text(notebook("def add(a, b):\n    return a + b"))
    (root / "solutions" / "toy" / "assignment.toml").write_text("due = 2026-12-01T23:59:00+00:00\n")
    monkeypatch.setenv("DL101_ROOT", str(root))
    return root


def test_the_autograder_zip_holds_what_gradescope_needs_and_no_more(course, tmp_path):
    path = build_zip("toy", tmp_path / "autograder.zip")
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in zf.infolist()}
        setup, run = zf.read("setup.sh").decode(), zf.read("run_autograder").decode()
        requirements = zf.read("requirements.txt").decode().split()
    assert {"setup.sh", "run_autograder", "requirements.txt", "README.txt",
            "solutions/toy/tests/test_hidden.py", "grader/cli.py", "grader/exports/autograder.py",
            "cnn_ref/__init__.py"} <= names
    assert not {n for n in names if "__pycache__" in n or n.endswith(".pyc")}
    assert not {n for n in names if n.startswith("solutions/") and not n.startswith("solutions/toy/tests/")}
    assert stat.S_IMODE(modes["run_autograder"]) == stat.S_IMODE(modes["setup.sh"]) == 0o755
    assert "--assignment toy --sandbox auto" in run and "apt-get install" in setup and "bubblewrap" in setup
    for script in (setup, run):
        subprocess.run(["bash", "-n"], input=script, text=True, check=True)
    assert any(r.startswith("numpy") for r in requirements) and any(r.startswith("pyseccomp") for r in requirements)
    assert not any(r.startswith(("nbgrader", "tensorflow", "dask", "matplotlib")) for r in requirements)
    # reproducible: the same inputs give the same bytes
    assert build_zip("toy", tmp_path / "again.zip").read_bytes() == path.read_bytes()
    with pytest.raises(GraderError, match="unknown assignment"):
        build_zip("nope", tmp_path / "nope.zip")


def fake_autograder(course: Path, tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "autograder"
    with zipfile.ZipFile(build_zip("toy", tmp_path / "autograder.zip")) as zf:
        zf.extractall(root / "source")
    for name in ("setup.sh", "run_autograder"):
        (root / "source" / name).chmod(0o755)
    (root / "submission").mkdir()
    for name, text in files.items():
        (root / "submission" / name).write_text(text)
    return root


def run_autograder(root: Path) -> tuple[subprocess.CompletedProcess, dict]:
    env = {k: v for k, v in os.environ.items() if k not in ("DL101_ROOT", "PYTHONPATH")}
    env.update(DL101_AUTOGRADER_ROOT=str(root), DL101_PYTHON=sys.executable)
    proc = subprocess.run([str(root / "source" / "run_autograder")], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)
    return proc, json.loads((root / "results" / "results.json").read_text())


def check_gradescope(doc: dict) -> None:
    assert isinstance(doc["score"], int | float) and isinstance(doc["execution_time"], int | float)
    assert isinstance(doc["output"], str) and isinstance(doc["tests"], list)
    assert doc.get("stdout_visibility") == "hidden" and "dl101" not in doc
    for test in doc["tests"]:
        assert isinstance(test["name"], str) and test["status"] in {"passed", "failed"}
        assert isinstance(test["score"], int | float) and isinstance(test["max_score"], int | float)
        assert test["visibility"] in GRADESCOPE_VISIBILITY and isinstance(test["output"], str)


def test_run_autograder_grades_a_submission_in_a_fake_autograder_tree(course, tmp_path):
    root = fake_autograder(course, tmp_path, {
        "toy.ipynb": notebook("import numpy as np\ndef add(a, b):\n    return 0 if isinstance(a, int) else np.add(a, b)"),
        "scratch.ipynb": notebook("def add(a, b):\n    return a + b"),
    })
    proc, doc = run_autograder(root)
    assert proc.returncode == 0, proc.stderr
    check_gradescope(doc)
    assert doc["score"] == 3 and doc["max_score"] == 5
    by_name = {t["name"]: t for t in doc["tests"]}
    assert by_name["add: two numbers"]["status"] == "failed"
    assert "add(1, 2): expected 3, got 0" in by_name["add: two numbers"]["output"]
    assert by_name["add: arrays"]["visibility"] == "hidden" and by_name["add: arrays"]["score"] == 3
    assert "Late" not in doc["output"]  # Gradescope applies its own late policy
    assert proc.stdout == ""  # the students' view never gets the grader's chatter


def test_run_autograder_imports_the_zipped_toolkit_not_the_checkout(course, tmp_path):
    root = fake_autograder(course, tmp_path, {})
    env = {**os.environ, "PYTHONPATH": str(root / "source")}
    code = "import grader, cnn_ref; print(grader.__file__); print(cnn_ref.__file__)"
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
                         check=True)
    assert all(line.startswith(str(root / "source")) for line in out.stdout.split()), out.stdout


def test_run_autograder_without_a_notebook_still_writes_results(course, tmp_path):
    root = fake_autograder(course, tmp_path, {"notes.txt": "I forgot"})
    proc, doc = run_autograder(root)
    assert proc.returncode == 0, proc.stderr
    check_gradescope(doc)
    assert doc["score"] == 0 and doc["tests"] == [] and "upload toy.ipynb" in doc["output"]


def test_find_submission_prefers_the_assignment_notebook(tmp_path):
    (tmp_path / ".ipynb_checkpoints").mkdir()
    (tmp_path / ".ipynb_checkpoints" / "toy-checkpoint.ipynb").write_text("{}")
    (tmp_path / "b.ipynb").write_text("{}")
    (tmp_path / "a.ipynb").write_text("{}")
    assert find_submission(tmp_path, "toy") == (tmp_path / "a.ipynb", find_submission(tmp_path, "toy")[1])
    assert "Several .ipynb files" in find_submission(tmp_path, "toy")[1]
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "toy.ipynb").write_text("{}")
    assert find_submission(tmp_path, "toy") == (tmp_path / "sub" / "toy.ipynb", "")


def test_dl101_export_gradescope_cli(course, tmp_path):
    out = tmp_path / "ag.zip"
    outcome = CliRunner().invoke(main, ["export", "gradescope", "-a", "toy", "-o", str(out), "--sandbox", "unsafe"])
    assert outcome.exit_code == 0, outcome.output
    assert "hidden tests" in outcome.stdout
    with zipfile.ZipFile(out) as zf:
        assert "--sandbox unsafe" in zf.read("run_autograder").decode()
