"""Faults: the grader killed mid-batch, a full disk, broken notebooks, grading twice.

- ``kill -9`` of ``dl101 grade`` mid-batch, then a re-run: complete results, nothing
  duplicated or corrupted, the same grades.csv as an uninterrupted run, and the orphaned
  runners and sandboxes die on their own;
- a full disk (a small tmpfs as the output directory): a clear error, no half-written report;
- corrupted, truncated, empty, giant, non-UTF-8, wrong-version, zip-in-disguise... notebooks:
  each gets a status and a reason while the batch goes on (duplicated cell ids grade normally);
- the same submission graded twice (and under two names) scores the same, test by test.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from test_hostile import WRONG, ProcessTracker, notebook, read_results, write

DL101 = Path(sys.executable).with_name("dl101")
REPO = Path(__file__).resolve().parents[1]


def grade(paths, out: Path, *extra: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    cmd = [str(DL101), "grade", *map(str, paths), "-o", str(out), "-j", "2", "--timeout", "20", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=cwd)


def rows(out: Path) -> list[dict]:
    with (out / "grades.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def key_columns(out: Path) -> list[tuple]:
    return sorted((r["student"], r["assignment"], r["score"], r["max_score"], r["status"]) for r in rows(out))


def per_test(out: Path) -> dict[str, list[tuple]]:
    return {s: [(t["name"], t["score"], t["status"], t["output"]) for t in d["tests"]]
            for s, d in read_results(out).items()}


def leftovers(out: Path) -> list[str]:
    """Temporary files of interrupted atomic writes."""
    return sorted(str(p) for p in out.rglob("*") if p.name.endswith(".tmp") or p.name.startswith("."))


def check_reports_whole(out: Path, *, temps_allowed: bool = False) -> None:
    """Every report present is complete: JSON parses, HTML is closed, CSV rows unique.

    A grader killed mid-write may leave a hidden temporary file (never a half-written report);
    the next run removes it."""
    for path in out.rglob("results.json"):
        doc = json.loads(path.read_text())
        assert doc["dl101"]["result"]["student"] == path.parent.name
    for path in out.rglob("*.html"):
        assert path.read_text().rstrip().endswith("</html>"), path
    if (out / "grades.csv").exists():
        keys = [(r["student"], r["assignment"]) for r in rows(out)]
        assert len(keys) == len(set(keys))
    if not temps_allowed:
        assert leftovers(out) == []


@pytest.fixture(scope="module")
def klass(tmp_path_factory) -> Path:
    """40 submissions: honest, partly wrong, stubs, wrong, pooling with dropout (random)."""
    subs = tmp_path_factory.mktemp("faults") / "subs"
    for i in range(10):
        write(subs / f"honest{i:02}.ipynb", notebook("convolution", solution=True))
        write(subs / f"partial{i:02}.ipynb", notebook("convolution", solution=True, flip=True))
        write(subs / f"stub{i:02}.ipynb", notebook("convolution", solution=False))
        kind = ("pooling_norm", True) if i % 2 else ("convolution", False)
        write(subs / f"other{i:02}.ipynb", notebook(kind[0], solution=kind[1], extra="" if kind[1] else WRONG))
    return subs


@pytest.fixture(scope="module")
def uninterrupted(klass, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("uninterrupted") / "out"
    run = grade([klass], out)
    assert run.returncode == 0, run.stderr[-3000:]
    return out


# ---------------------------------------------------------------------------- kill -9


def test_kill_9_mid_batch_then_rerun_loses_and_duplicates_nothing(klass, uninterrupted, tmp_path):
    out = tmp_path / "out"
    tracker = ProcessTracker()
    try:
        cmd = [str(DL101), "grade", str(klass), "-o", str(out), "-j", "2", "--timeout", "20"]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                preexec_fn=tracker.preexec)
        tracker.start(proc.pid)
        deadline = time.monotonic() + 300
        while len(list(out.glob("*/*/results.json"))) < 6 and proc.poll() is None:
            assert time.monotonic() < deadline, "no results after 300 s"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        done_before = len(list(out.glob("*/*/results.json")))
        assert 6 <= done_before < 40, f"not killed mid-batch ({done_before} of 40 done)"
        check_reports_whole(out, temps_allowed=True)  # killed at any point: what is there is whole
        # Orphaned runners finish or fail their job, see their input close and exit; their
        # sandboxes die with them.
        deadline = time.monotonic() + 60
        while tracker.pids() and time.monotonic() < deadline:
            time.sleep(0.2)
        survivors = tracker.pids()
        for pid in survivors:
            os.kill(pid, signal.SIGKILL)
        assert survivors == []
    finally:
        tracker.stop()
        tracker.close()

    rerun = grade([klass], out)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    graded_again = [line for line in rerun.stderr.splitlines() if line.startswith("[")]
    assert len(graded_again) == 40 - done_before  # the done ones were skipped, not redone
    check_reports_whole(out)
    assert key_columns(out) == key_columns(uninterrupted)
    assert per_test(out) == per_test(uninterrupted)
    assert len(list(out.glob("*/*/results.json"))) == 40


# ---------------------------------------------------------------------------- full disk


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=160k,mode=0755", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def test_full_disk_is_a_clear_error_and_leaves_no_half_written_report(klass, small_disk):
    out = small_disk / "out"
    run = grade([klass], out)
    assert run.returncode == 1, run.stderr[-2000:]
    assert "disk full while writing" in run.stderr and "No space left on device" in run.stderr
    assert "Traceback" not in run.stderr
    check_reports_whole(out)
    assert 0 < len(list(out.glob("*/*/results.json"))) < 40  # it really ran out mid-batch
    for folder in out.glob("*/*"):  # a student's pair is written together or not at all
        assert sorted(p.name for p in folder.iterdir()) in ([], ["feedback.html", "results.json"]), folder


# ---------------------------------------------------------------------------- broken notebooks


def broken_notebooks(folder: Path) -> dict[str, tuple[str, str]]:
    """name -> (status, words of the reason). Written into ``folder``."""
    good = notebook("convolution", solution=True)
    text = json.dumps(good)
    folder.mkdir(parents=True)
    files = {
        "corrupted": (text[:1500] + '"}}]]]@@ garbage @@' + text[1500:]).encode(),
        "truncated": text[: len(text) // 2].encode(),
        "empty": b"",
        "whitespace": b"  \n\t\n",
        "giant": b'{"cells": [], "nbformat": 4, "metadata": {}, "pad": "' + b"x" * (21 << 20) + b'"}',
        "not_utf8": text.encode().replace(b"Forward pass", b"For\xe7ward pass"),
        "utf16": text.encode("utf-16"),
        "wrong_version": json.dumps({**good, "nbformat": 5}).encode(),
        "version_not_a_number": json.dumps({**good, "nbformat": "four"}).encode(),
        "not_a_notebook": json.dumps({"hello": "world"}).encode(),
        "json_list": b"[1, 2, 3]",
        "cells_not_a_list": json.dumps({**good, "cells": {"a": 1}}).encode(),
        "no_cells": json.dumps({**good, "cells": []}).encode(),
        "python_source": b"def conv2d(x, w):\n    return x\n",
        "html_export": b"<!DOCTYPE html>\n<html><body>notebook</body></html>",
        "pdf": b"%PDF-1.7\n" + os.urandom(100),
        "gzip": b"\x1f\x8b\x08\x00" + os.urandom(100),
        "deep_json": b'{"cells": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    }
    for name, data in files.items():
        (folder / f"{name}.ipynb").write_bytes(data)
    with zipfile.ZipFile(folder / "zip_in_disguise.ipynb", "w") as z:
        z.writestr("convolution.ipynb", text)
    # edited the way nbgrader users report (#1941, #1083): every cell id the same, no ids at all
    dup = json.loads(text)
    for cell in dup["cells"]:
        cell["id"] = "same-id"
        cell.get("metadata", {}).get("nbgrader", {})["checksum"] = "tampered"
    write(folder / "duplicated_cell_ids.ipynb", dup)
    no_ids = json.loads(text)
    for cell in no_ids["cells"]:
        cell.pop("id", None)
    write(folder / "no_cell_ids.ipynb", no_ids)
    write(folder / "honest.ipynb", good)
    unreadable = "unreadable"
    return {
        "corrupted": (unreadable, "damaged"), "truncated": (unreadable, "damaged"),
        "empty": (unreadable, "empty"), "whitespace": (unreadable, "empty"),
        "giant": (unreadable, "limit"), "not_utf8": (unreadable, "not UTF-8"),
        "utf16": (unreadable, "UTF-16"), "wrong_version": (unreadable, "version 5"),
        "version_not_a_number": (unreadable, "not a number"), "not_a_notebook": (unreadable, "no 'cells'"),
        "json_list": (unreadable, "not a notebook"), "cells_not_a_list": (unreadable, "not a list"),
        "no_cells": (unreadable, "no cells"), "python_source": (unreadable, "submit it as a .py"),
        "html_export": (unreadable, "web page"), "pdf": (unreadable, "PDF"), "gzip": (unreadable, "gzip"),
        "deep_json": (unreadable, "nested too deeply"), "zip_in_disguise": (unreadable, "zip archive"),
        "duplicated_cell_ids": ("graded", ""), "no_cell_ids": ("graded", ""), "honest": ("graded", ""),
    }


def test_broken_notebooks_each_get_a_status_and_a_reason_while_the_batch_goes_on(tmp_path):
    expected = broken_notebooks(tmp_path / "subs")
    out = tmp_path / "out"
    run = grade([tmp_path / "subs"], out, "-a", "convolution", "--json")
    assert run.returncode == 0, run.stderr[-3000:]
    printed = {r["student"]: r for r in json.loads(run.stdout)["results"]}
    assert set(printed) == set(expected)
    results = read_results(out)
    for name, (status, words) in expected.items():
        result = results[name]["dl101"]["result"]
        assert result["status"] == status, (name, result["status"], result["output"])
        if status == "graded":
            assert result["score"] == 30.0, (name, result["output"])
        else:
            assert words in result["output"], (name, result["output"])
            assert f"Not graded: {status}." in results[name]["output"]  # said to the student too
    check_reports_whole(out)


# ---------------------------------------------------------------------------- determinism


def test_the_same_submission_graded_twice_scores_the_same(klass, uninterrupted, tmp_path):
    again = tmp_path / "again"
    run = grade([klass], again)
    assert run.returncode == 0, run.stderr[-3000:]
    assert per_test(again) == per_test(uninterrupted)
    # and within one batch, copies of one notebook score the same whoever sends them
    first = per_test(uninterrupted)
    for prefix in ("honest", "partial", "stub"):
        copies = {json.dumps(first[f"{prefix}{i:02}"]) for i in range(10)}
        assert len(copies) == 1, prefix
    pooling = {json.dumps(first[f"other{i:02}"]) for i in range(1, 10, 2)}
    assert len(pooling) == 1  # dropout is random, its grading is not
