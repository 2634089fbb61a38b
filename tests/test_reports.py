"""grader.reports: results.json (Gradescope), feedback.html, grades.csv, report.html, atomic writes."""

from __future__ import annotations

import base64
import csv
import errno
import io
import json
import logging
import math
import os
import subprocess
import sys
import threading
import time
import uuid
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from grader import reports
from grader.errors import GraderError
from grader.reports import (
    atomic_write_bytes,
    atomic_write_text,
    class_report_html,
    feedback_html,
    grades_csv,
    load_results,
    result_dir,
    results_json,
    write_class_reports,
    write_student_reports,
)
from grader.results import SubmissionResult, TestResult

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>&amp;'
UNSAFE = "GRADED WITHOUT SANDBOX (--unsafe-no-sandbox)"


def t(name, ok=True, points=2.0, visibility="visible", output="", **kw) -> TestResult:
    return TestResult(
        name=name,
        score=points if ok else 0.0,
        max_score=points,
        status="passed" if ok else "failed",
        output=output if output or ok else f"{name}: wrong value",
        visibility=visibility,
        **kw,
    )


def sub(student="alice", assignment="convolution", tests=None, status="graded", **kw):
    tests = [t("test_pad"), t("test_conv", ok=False)] if tests is None else tests
    kw.setdefault("score", sum(x.score for x in tests))
    kw.setdefault("max_score", sum(x.max_score for x in tests))
    return SubmissionResult(
        student=student, assignment=assignment, status=status, tests=tests, **kw
    )


def many(n: int, assignments=("convolution", "pooling_norm")) -> list[SubmissionResult]:
    rng = np.random.default_rng(0)
    out = []
    for a in assignments:
        for i in range(n):
            status = "graded" if rng.random() < 0.9 else str(rng.choice(["timeout", "crashed"]))
            tests = (
                [
                    t(f"test_{k}", ok=bool(rng.random() < 0.5 + k / 30), visibility=vis)
                    for k, vis in enumerate(["visible"] * 9 + ["hidden"] * 3)
                ]
                if status == "graded"
                else []
            )
            out.append(
                sub(
                    f"s{i:04d}",
                    a,
                    tests,
                    status=status,
                    output="" if tests else "killed after 60 s",
                    execution_time=float(rng.uniform(0.3, 30)),
                )
            )
    return out


class Page(HTMLParser):
    """Collects what a browser would act on: tags, attributes, text."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    @property
    def all_text(self) -> str:
        return "".join(self.text)

    def imgs(self) -> list[dict[str, str | None]]:
        return [a for tag, a in self.tags if tag == "img"]


def assert_inert(html_text: str) -> Page:
    """Parses as HTML; no script, no event handler, nothing fetched from the network."""
    p = Page(html_text)
    assert html_text.startswith("<!DOCTYPE html>")
    for tag, attrs in p.tags:
        assert tag not in {"script", "iframe", "object", "embed", "link", "base", "form"}, tag
        assert not any(k.startswith("on") for k in attrs), (tag, attrs)
        for key in ("src", "href"):
            value = attrs.get(key) or ""
            assert "://" not in value and not value.lower().startswith("javascript"), value
        if tag == "img":
            assert attrs["src"].startswith("data:image/png;base64,")
    assert "Content-Security-Policy" in html_text
    return p


# ---------------------------------------------------------------- import cost


def test_importing_reports_does_not_import_matplotlib():
    code = "import sys, grader.reports; print(sorted(m for m in sys.modules if m.startswith(('matplotlib', 'numpy', 'jinja2'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------- results.json

GRADESCOPE_VIS = {"hidden", "after_due_date", "after_published", "visible"}


def check_gradescope(doc: dict) -> None:
    """The fields and types of Gradescope's results.json (plus our top max_score)."""
    number = (int, float)
    assert isinstance(doc["score"], number) and not isinstance(doc["score"], bool)
    assert isinstance(doc["max_score"], number)
    assert isinstance(doc["execution_time"], number)
    assert isinstance(doc["output"], str)
    assert isinstance(doc["tests"], list)
    for key in ("output_format", "test_output_format", "test_name_format"):
        assert doc.get(key, "text") in {"text", "html", "simple_format", "md", "ansi"}
    assert isinstance(doc.get("extra_data", {}), dict)
    for test in doc["tests"]:
        assert isinstance(test["name"], str)
        assert isinstance(test["score"], number) and isinstance(test["max_score"], number)
        assert test["status"] in {"passed", "failed"}
        assert isinstance(test["output"], str)
        assert test["visibility"] in GRADESCOPE_VIS
        assert test.get("output_format", "text") == "text"  # student text is never rendered


def test_results_json_follows_the_gradescope_schema(tmp_path):
    r = sub(
        tests=[
            t("test_pad"),
            t("test_conv", ok=False, output="shape (2, 3) != (2, 4)"),
            t("test_secret", ok=False, visibility="hidden"),
            t("test_later", visibility="after_due_date", points=1.5),
        ],
        execution_time=3.14159,
        output="cell 4 raised NameError",
    )
    folder = write_student_reports(r, tmp_path)
    assert folder == tmp_path / "convolution" / "alice"
    assert sorted(p.name for p in folder.iterdir()) == ["feedback.html", "results.json"]
    raw = (folder / "results.json").read_text(encoding="utf-8")
    doc = json.loads(raw, parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}"))
    check_gradescope(doc)
    assert doc == results_json(r)
    assert (doc["score"], doc["max_score"], doc["execution_time"]) == (3.5, 7.5, 3.142)
    assert [x["name"] for x in doc["tests"]] == [
        "test_pad",
        "test_conv",
        "test_secret",
        "test_later",
    ]
    assert [x["status"] for x in doc["tests"]] == ["passed", "failed", "failed", "passed"]
    assert doc["tests"][1]["output"] == "shape (2, 3) != (2, 4)"
    # Gradescope hides hidden tests itself: results.json keeps them, with their visibility.
    assert doc["tests"][2]["visibility"] == "hidden"
    assert "cell 4 raised NameError" in doc["output"]
    assert doc["extra_data"]["student"] == "alice" and doc["extra_data"]["status"] == "graded"
    assert UNSAFE not in raw


def test_results_json_not_graded_and_odd_values_stay_strict_json():
    r = sub(
        tests=[],
        status="timeout",
        output="no answer after 60 s",
        score=float("nan"),
        max_score=float("inf"),
        execution_time=60.0,
        extra={
            "peak_rss": np.int64(5),
            "ratio": np.float32(0.5),
            "bad": float("nan"),
            "arr": np.arange(3),
            "path": Path("/x"),
        },
    )
    doc = results_json(r)
    text = json.dumps(doc, allow_nan=False)  # raises on NaN/inf
    check_gradescope(json.loads(text))
    assert doc["score"] == 0.0 and doc["max_score"] == 0.0
    assert doc["output"].startswith("Not graded: timeout.")
    assert "no answer after 60 s" in doc["output"]
    extra = doc["dl101"]["result"]["extra"]
    assert extra == {"peak_rss": 5, "ratio": 0.5, "bad": None, "arr": [0, 1, 2], "path": "/x"}


def test_unsafe_is_loud_everywhere(tmp_path):
    r = sub(unsafe=True)
    doc = results_json(r)
    assert doc["output"].startswith(f"!!! {UNSAFE} !!!")
    assert doc["extra_data"]["unsafe"] is True
    assert UNSAFE in feedback_html(r)
    write_class_reports([r, sub("bob")], tmp_path, plots=False)
    report = (tmp_path / "report.html").read_text()
    assert "UNSAFE (no sandbox)" in report and "1 of 2 submissions" in report
    rows = list(csv.DictReader(io.StringIO((tmp_path / "grades.csv").read_text())))
    assert [(x["student"], x["unsafe"]) for x in rows] == [("alice", "yes"), ("bob", "no")]
    safe_report = class_report_html([sub("bob")], plots=False)
    assert "UNSAFE" not in safe_report and UNSAFE not in feedback_html(sub("bob"))


# ---------------------------------------------------------------- load_results


def test_round_trip_through_load_results(tmp_path):
    rs = [
        sub("zoe", "pooling_norm", submitted_at="2025-03-01T12:00:00+00:00", extra={"k": [1, 2]}),
        sub("alice", "pooling_norm", unsafe=True, source="sub/alice.ipynb"),
        sub("alice", "convolution", execution_time=1.25),
        sub("bob", "convolution", status="crashed", tests=[], output="killed: memory limit"),
        sub("carol", "convolution", tests=[t("a", grader_error=True, ok=False)]),
        sub("../../etc", "convolution"),  # hostile ids stay inside out/
        sub("a/b", "convolution"),
        sub("a_b", "convolution"),
        sub("", "convolution"),
        sub("ümlaut name", "convolution"),
        sub("mal\udcffformed", "convolution", output="bad\x00bytes\ud800"),
    ]
    for r in rs:
        folder = write_student_reports(r, tmp_path)
        assert folder.resolve().is_relative_to(tmp_path.resolve())
        assert folder == result_dir(tmp_path, r.assignment, r.student)
    assert len({result_dir(tmp_path, r.assignment, r.student) for r in rs}) == len(rs)
    assert sorted(os.listdir(tmp_path)) == ["convolution", "pooling_norm"]

    back = load_results(tmp_path)
    assert back == sorted(rs, key=lambda r: (r.student, r.assignment))
    assert all(isinstance(x, TestResult) for r in back for x in r.tests)
    # Re-writing the same result gives the same bytes (resume and re-report are stable).
    path = result_dir(tmp_path, "convolution", "alice") / "results.json"
    before = path.read_bytes()
    write_student_reports(back[0], tmp_path)
    assert path.read_bytes() == before


def test_load_results_skips_and_flags_corrupt_files(tmp_path, caplog):
    good = sub("good")
    write_student_reports(good, tmp_path)
    bad = {
        "truncated": '{"score": 1, "tests": [',
        "empty": "",
        "notjson": "\x89PNG binary \xff",
        "foreign": json.dumps({"score": 1, "tests": []}),  # a Gradescope file from elsewhere
        "wrongtypes": json.dumps(
            {
                "dl101": {
                    "schema": 1,
                    "result": {"student": 3, "assignment": "convolution", "status": "graded"},
                }
            }
        ),
        "future": json.dumps({"dl101": {"schema": 99, "result": {}}}),
        "badtests": json.dumps(
            {
                "dl101": {
                    "schema": 1,
                    "result": {
                        "student": "badtests",
                        "assignment": "convolution",
                        "status": "graded",
                        "tests": [{"name": "x"}],
                    },
                }
            }
        ),
    }
    for name, text in bad.items():
        d = tmp_path / "convolution" / name
        d.mkdir()
        (d / "results.json").write_text(text, encoding="latin-1")
    # A valid document in a folder that belongs to somebody else.
    moved = tmp_path / "convolution" / "mallory"
    moved.mkdir()
    (moved / "results.json").write_text(json.dumps(results_json(sub("good", score=99.0))))
    # Leftover temp files of a killed batch are ignored.
    (tmp_path / "convolution" / "good" / ".results.json.123.abcd.tmp").write_text("{")

    problems: list[str] = []
    with caplog.at_level(logging.WARNING, logger="grader.reports"):
        assert load_results(tmp_path, problems=problems) == [good]
    assert len(problems) == len(bad) + 1
    for name in bad:
        assert any(
            f"{os.sep}{name}{os.sep}results.json" in p and "corrupt" in p for p in problems
        ), name
    assert any("mallory" in p and "belong" in p for p in problems)
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == len(problems)
    assert load_results(tmp_path / "nothing-here") == []


# ---------------------------------------------------------------- grades.csv


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_grades_csv_columns_sorting_and_dedup():
    rs = [
        sub("bob", "pooling_norm"),
        sub("alice", "pooling_norm", tests=[t("x", points=1.0), t("y", ok=False, points=2.0)]),
        sub("bob", "convolution", score=1.0, max_score=3.0),
        sub("carol", "convolution", status="timeout", tests=[], output="\nno answer in 60 s\nmore"),
        sub("bob", "pooling_norm", score=4.0),  # a later result for the same pair wins
    ]
    text = grades_csv(rs)
    header = text.splitlines()[0]
    assert header.startswith("student,assignment,score,max_score,status")
    rows = read_csv(text)
    assert [(r["student"], r["assignment"]) for r in rows] == [
        ("alice", "pooling_norm"),
        ("bob", "convolution"),
        ("bob", "pooling_norm"),
        ("carol", "convolution"),
    ]
    alice, bob_c, bob_p, carol = rows
    assert (alice["score"], alice["max_score"], alice["percent"]) == ("1", "3", "33.33")
    assert (alice["tests_passed"], alice["tests_total"]) == ("1", "2")
    assert bob_p["score"] == "4"
    assert carol["status"] == "timeout" and carol["reason"] == "no answer in 60 s"
    assert carol["percent"] == "" and bob_c["status"] == "graded" and bob_c["reason"] == ""
    assert grades_csv([]).strip() == ",".join(reports.COLUMNS)


def test_grades_csv_quoting_and_formula_injection():
    rs = [
        sub(
            '=HYPERLINK("http://evil","x")',
            status="crashed",
            tests=[],
            output="-2+3 cmd|' /C calc'!A0",
        ),
        sub("+1", status="timeout", tests=[], output="@SUM(A1:A9)"),
        sub("-x"),
        sub("@me"),
        sub('o"brien, jr.\nline2'),
        sub("\tTAB"),
        sub("plain-id"),  # a dash inside is harmless
    ]
    rows = {r["student"]: r for r in read_csv(grades_csv(rs))}
    assert set(rows) == {
        '\'=HYPERLINK("http://evil","x")',
        "'+1",
        "'-x",
        "'@me",
        'o"brien, jr.\nline2',
        "'\tTAB",
        "plain-id",
    }
    assert rows['\'=HYPERLINK("http://evil","x")']["reason"] == "'-2+3 cmd|' /C calc'!A0"
    assert rows["'+1"]["reason"] == "'@SUM(A1:A9)"
    for row in rows.values():
        for key in ("student", "reason", "status", "assignment"):
            assert not row[key].startswith(("=", "+", "-", "@", "\t", "\r")), row
    # The quoted field survives a round trip through a strict reader.
    assert '"o""brien, jr.\nline2"' in grades_csv(rs)


# ---------------------------------------------------------------- feedback.html


def test_feedback_escapes_hostile_student_text():
    r = sub(
        student=HOSTILE,
        assignment="conv<b>",
        tests=[
            t("test_pad", ok=False, output=f"ValueError: {HOSTILE}"),
            t(f"test_{HOSTILE}", ok=False, output='"><svg onload=alert(2)>'),
        ],
        output=f"cell 3 failed: {HOSTILE}\x00\ud800",
        submitted_at=HOSTILE,
    )
    html_text = feedback_html(r)
    page = assert_inert(html_text)
    assert "<script" not in html_text.lower() and "<svg" not in html_text.lower()
    # The text is still there for the student to read, as text.
    assert f"ValueError: {HOSTILE}" in page.all_text
    assert f"cell 3 failed: {HOSTILE}" in page.all_text
    assert "\x00" not in html_text
    assert [tag for tag, _ in page.tags].count("img") == 0


def test_feedback_is_honest_about_hidden_tests():
    r = sub(
        tests=[
            t("test_shown_1"),
            t("test_shown_2"),
            t("test_secret_a", ok=False, visibility="hidden", output="SECRET-A expected 42"),
            t("test_secret_b", ok=False, visibility="hidden", points=1.0, output="SECRET-B"),
        ]
    )
    html_text = feedback_html(r)
    text = Page(html_text).all_text
    assert "All tests passed" not in text
    assert "All 2 shown tests passed" in text
    assert "2 hidden tests not shown" in text and "3 points" in text
    assert "4 / 7" in text  # the total includes the hidden tests
    for leak in ("test_secret", "SECRET-A", "SECRET-B", "expected 42"):
        assert leak not in html_text

    everything = sub(tests=[t("a"), t("b", visibility="hidden")])
    assert "All tests passed" not in feedback_html(everything)
    assert "1 hidden test not shown" in feedback_html(everything)
    assert "All tests passed." in feedback_html(sub(tests=[t("a"), t("b")]))
    some = Page(feedback_html(sub(tests=[t("a"), t("b", ok=False)]))).all_text
    assert "1 of 2 tests passed." in some and "All" not in some
    partial = Page(feedback_html(sub(tests=[t("a")], status="timeout"))).all_text
    assert "All" not in partial and "Grading did not finish: 1 of 1 test passed." in partial
    later = feedback_html(sub(tests=[t("test_later", visibility="after_due_date")]))
    assert "test_later" in later and "shown after the due date" in later


@pytest.mark.parametrize(
    "status", ["timeout", "crashed", "unreadable", "missing", "error", "weird"]
)
def test_feedback_banner_when_not_graded(status):
    r = sub(tests=[], status=status, output=f"reason for {status}: <b>oops</b>")
    html_text = feedback_html(r)
    page = assert_inert(html_text)
    assert f"Not graded: {status}." in page.all_text
    assert f"reason for {status}: <b>oops</b>" in page.all_text
    assert "&lt;b&gt;oops" in html_text
    assert "All tests passed" not in page.all_text


def test_feedback_shows_failed_cells_and_grader_errors():
    r = sub(
        tests=[t("test_pad"), t("test_conv", ok=False, grader_error=True, output="KeyError")],
        output="Cell 7 raised ZeroDivisionError: division by zero",
    )
    text = assert_inert(feedback_html(r)).all_text
    assert "Cell 7 raised ZeroDivisionError" in text
    assert "Grader problem" in text and "not your fault" in text


# ---------------------------------------------------------------- report.html


def pngs(page: Page) -> list[bytes]:
    return [base64.b64decode(a["src"].split(",", 1)[1], validate=True) for a in page.imgs()]


def test_class_report_plots_tables_and_escaping(tmp_path):
    rs = many(30) + [
        sub(HOSTILE, "convolution", tests=[t("test_0", ok=False, output=HOSTILE)]),
        sub("x", HOSTILE, status="crashed", tests=[], output=HOSTILE),
    ]
    write_class_reports(rs, tmp_path)
    html_text = (tmp_path / "report.html").read_text(encoding="utf-8")
    page = assert_inert(html_text)
    assert "<script" not in html_text.lower()
    images = pngs(page)
    # convolution and pooling_norm: histogram + pass rates; HOSTILE assignment: histogram only.
    assert len(images) == 5
    assert all(img.startswith(b"\x89PNG\r\n\x1a\n") for img in images)
    for a in ("convolution", "pooling_norm"):
        assert f'alt="{a}: score histogram"' in html_text
        assert f'alt="{a}: pass rate per test"' in html_text
    text = page.all_text
    assert "Slowest 10" in text and "test_11" in text and HOSTILE in text
    hrefs = [a["href"] for tag, a in page.tags if tag == "a" and not a["href"].startswith("#")]
    assert "convolution/s0000/feedback.html" in hrefs
    assert all((tmp_path / h).parent.parent.parent == tmp_path for h in hrefs)
    assert (tmp_path / "grades.csv").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grades.csv", "report.html"]


@pytest.mark.parametrize("n", [0, 1])
def test_class_report_with_no_or_one_result(tmp_path, n):
    rs = [sub(tests=[t("only")])][:n]
    write_class_reports(rs, tmp_path)
    page = assert_inert((tmp_path / "report.html").read_text())
    assert len(pngs(page)) == 2 * n
    assert ("No results yet." in page.all_text) == (n == 0)
    assert len(read_csv((tmp_path / "grades.csv").read_text())) == n


def test_class_report_without_matplotlib(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # import -> ImportError
    html_text = class_report_html([sub()])
    page = assert_inert(html_text)
    assert pngs(page) == [] and "Plots unavailable" in page.all_text


def test_class_reports_for_1000_students_are_fast(tmp_path):
    rs = many(1000, assignments=("convolution",))
    class_report_html(rs[:5])  # matplotlib import and font cache: not what we time here
    start = time.perf_counter()
    write_class_reports(rs, tmp_path)
    elapsed = time.perf_counter() - start
    assert elapsed < 4.0, elapsed  # ~0.25 s on an idle 2-core box; generous for CI
    page = Page((tmp_path / "report.html").read_text())
    assert len(pngs(page)) == 2
    assert len(read_csv((tmp_path / "grades.csv").read_text())) == 1000


# ---------------------------------------------------------------- atomic writes


def leftovers(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir() if p.name.endswith(".tmp"))


def test_atomic_write_replaces_and_creates_parents(tmp_path):
    target = tmp_path / "a" / "b" / "x.txt"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two \u2603")
    atomic_write_bytes(tmp_path / "a" / "y.bin", b"\x00\x01")
    assert target.read_text(encoding="utf-8") == "two \u2603"
    assert (tmp_path / "a" / "y.bin").read_bytes() == b"\x00\x01"
    assert leftovers(target.parent) == []
    mode = target.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask  # like a plain open(), not mkstemp's 0600


def test_atomic_write_failure_in_replace_keeps_old_file(tmp_path, monkeypatch):
    target = tmp_path / "results.json"
    target.write_text("old")

    def broken_replace(src, dst):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(GraderError, match="permission denied while writing .*results.json"):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert leftovers(tmp_path) == []


def test_atomic_write_interrupted_mid_write_leaves_nothing(tmp_path, monkeypatch):
    target = tmp_path / "feedback.html"
    target.write_text("old")
    real_write = os.write
    calls = []

    def interrupted(fd, data):
        calls.append(len(data))
        if len(calls) > 1:
            raise KeyboardInterrupt
        return real_write(fd, bytes(data[:10]))  # a short write first

    monkeypatch.setattr(os, "write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text(target, "x" * 1000)
    monkeypatch.undo()
    assert target.read_text() == "old" and leftovers(tmp_path) == []


def test_atomic_write_simulated_disk_full(tmp_path, monkeypatch):
    target = tmp_path / "grades.csv"

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(GraderError, match=r"^disk full while writing .*grades\.csv"):
        atomic_write_text(target, "student,score\n")
    assert not target.exists() and leftovers(tmp_path) == []


def test_atomic_write_into_unwritable_place(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("file")
    with pytest.raises(GraderError, match="while writing"):
        atomic_write_text(blocker / "results.json", "{}")
    assert blocker.read_text() == "file" and leftovers(tmp_path) == []


@pytest.fixture
def tiny_fs(tmp_path):
    """A 64 KiB tmpfs when we may mount one (root); otherwise None (then ENOSPC is simulated)."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    mounted = False
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        try:
            res = subprocess.run(
                ["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", str(mnt)],
                capture_output=True,
                timeout=10,
            )
            mounted = res.returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            mounted = False
    yield mnt if mounted else None
    if mounted:
        if subprocess.run(["umount", str(mnt)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_disk_full_on_a_tiny_tmpfs(tiny_fs, tmp_path, monkeypatch):
    d = tiny_fs if tiny_fs is not None else tmp_path / "sim"
    if tiny_fs is None:  # no root: same check, ENOSPC made by hand after 64 KiB
        d.mkdir()
        real_write, budget = os.write, [64 * 1024]

        def limited(fd, data):
            if len(data) > budget[0]:
                raise OSError(errno.ENOSPC, "No space left on device")
            budget[0] -= len(data)
            return real_write(fd, data)

        monkeypatch.setattr(os, "write", limited)
    r = sub()
    folder = write_student_reports(r, d)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    huge = sub(tests=[t("test_pad", ok=False, output="y" * 200_000)])
    with pytest.raises(GraderError, match="^disk full while writing "):
        write_student_reports(huge, d)
    # Both old files intact, no temp files, and the space is free again.
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert load_results(d) == [r]
    write_student_reports(sub(student="bob"), d)
    assert [x.student for x in load_results(d)] == ["alice", "bob"]


def test_readers_never_see_a_half_written_file(tmp_path):
    target = tmp_path / "report.html"
    a, b = b"A" * 300_000, b"B" * 200_000
    atomic_write_bytes(target, a)
    stop = threading.Event()
    seen: set[bytes] = set()
    bad: list[int] = []

    def reader():
        while not stop.is_set():
            data = target.read_bytes()
            if data not in (a, b):
                bad.append(len(data))
            seen.add(data[:1])

    th = threading.Thread(target=reader)
    th.start()
    try:
        for i in range(60):
            atomic_write_bytes(target, b if i % 2 else a)
    finally:
        stop.set()
        th.join()
    assert bad == []
    assert seen <= {b"A", b"B"}
    assert leftovers(tmp_path) == []


def test_write_errors_surface_as_grader_errors_from_the_api(tmp_path, monkeypatch):
    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(GraderError, match="disk full while writing .*grades.csv"):
        write_class_reports([sub()], tmp_path, plots=False)
    with pytest.raises(GraderError, match="disk full while writing .*feedback.html"):
        write_student_reports(sub(), tmp_path)
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_safe_names_are_stable_and_distinct():
    assert reports.safe_name("alice.smith@uni.edu") == "alice.smith@uni.edu"
    assert reports.safe_name("s_123-4+x") == "s_123-4+x"
    names = ["..", ".", "", "a/b", "a_b", "a b", ".hidden", "x" * 300, "ü", "u"]
    safe = [reports.safe_name(n) for n in names]
    assert len(set(safe)) == len(names)
    for s in safe:
        assert "/" not in s and s not in {".", "..", ""} and not s.startswith(".")
        assert len(s) <= 100
    assert safe == [reports.safe_name(n) for n in names]  # deterministic across runs
    assert math.isfinite(reports.results_json(sub(student=str(uuid.uuid4())))["score"])


def test_temp_files_of_a_killed_grader_are_removed_and_live_ones_kept(tmp_path):
    import os
    import subprocess

    from grader.reports.atomic import remove_stale_temps

    proc = subprocess.Popen(["true"])  # its pid: a grader that has gone
    proc.wait()
    student = tmp_path / "convolution" / "alice"
    student.mkdir(parents=True)
    stale = student / f".feedback.html.{proc.pid}.0a1b2c3d.tmp"
    live = student / f".results.json.{os.getpid()}.0a1b2c3d.tmp"
    keep = student / "results.json"
    for path in (stale, live, keep):
        path.write_text("x")
    remove_stale_temps(tmp_path)
    assert not stale.exists() and live.exists() and keep.exists()
