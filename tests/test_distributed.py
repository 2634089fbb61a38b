"""`dl101 grade --scheduler`: grading on a Dask cluster (a 2-worker LocalCluster here).

The same class graded locally and on the cluster gets the same results; a worker killed
mid-batch loses nothing; a re-run resumes; the Client never unpickles a result; and no
process of the cluster (workers, their runners, their sandboxes) outlives the module.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time

import nbformat
import psutil
import pytest
from click.testing import CliRunner
from distributed import Client, LocalCluster

import grader.distributed
from grader.cli import main
from grader.distributed import DaskPool
from grader.errors import GraderError
from grader.grade import grade_paths
from grader.runner import Job
from grader.sandbox import sandbox_problem

#: The real sandbox whenever this machine has one (the reports then say nothing of "unsafe").
UNSAFE = sandbox_problem() is not None

HIDDEN = '''
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
HONEST = "import numpy as np\ndef add(a, b):\n    return np.add(a, b)"


def notebook(*cells: str) -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["dl101"] = {"assignment": "toy"}
    return nbformat.writes(nb)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A toy course; DL101_ROOT is set before the cluster starts, so its workers inherit it."""
    root = tmp_path_factory.mktemp("course")
    tests = root / "solutions" / "toy" / "tests"
    tests.mkdir(parents=True)
    (tests / "test_hidden.py").write_text(HIDDEN)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DL101_ROOT", str(root))
        yield root


@pytest.fixture(scope="module")
def watched() -> set[psutil.Process]:
    """Processes that must be gone once the cluster is closed (tests add the ones they orphan)."""
    return set()


@pytest.fixture(scope="module")
def cluster(course, watched):
    """Two single-threaded worker processes; afterwards, no process they started is left."""
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.CRITICAL) as local_cluster:
        yield local_cluster
        for worker in local_cluster.scheduler.workers.values():  # and their runners and sandboxes
            process = psutil.Process(worker.pid)
            watched.update([process, *process.children(recursive=True)])
    alive = still_running(watched, timeout=20)
    for proc in alive:
        proc.kill()
    assert not alive, f"processes outlived the cluster: {[p.pid for p in alive]}"


def still_running(processes: set[psutil.Process], *, timeout: float) -> list[psutil.Process]:
    _, alive = psutil.wait_procs(list(processes), timeout=timeout)
    return [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def cli_grade(*args) -> dict:
    unsafe = ["--unsafe-no-sandbox"] * UNSAFE
    result = CliRunner().invoke(main, ["grade", *map(str, args), *unsafe, "--json"])
    assert result.exit_code == 0, result.output + result.stderr
    return {r["student"]: r for r in json.loads(result.stdout)["results"]}


def test_the_cluster_gives_the_same_results_as_local_mode(course, cluster, tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    hidden_tests = course / "solutions" / "toy" / "tests" / "test_hidden.py"
    class_ = {
        "honest": notebook(HONEST),
        "wrong": notebook("def add(a, b):\n    return a - b"),
        "partial": notebook("def add(a, b):\n    return a + b if isinstance(a, int) else a"),
        "loops": notebook(HONEST, "while True:\n    pass"),
        "kills": notebook("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nos.kill(1, signal.SIGKILL)",
                          HONEST),
        "snoops": notebook(f"secret = open({str(hidden_tests)!r}).read()\n"
                           "def add(a, b):\n    return a + b if secret else None"),
        "damaged": '{"cells": [',
    }
    for student, text in class_.items():
        (subs / f"{student}.ipynb").write_text(text)

    local = cli_grade(subs, "-o", tmp_path / "local", "-j", "2", "--timeout", 2)
    remote = cli_grade(subs, "-o", tmp_path / "remote", "--timeout", 2, "--scheduler", cluster.scheduler_address)

    assert remote == local
    assert set(remote) == set(class_)
    assert (remote["honest"]["score"], remote["honest"]["max_score"]) == (5, 5)
    assert remote["wrong"]["score"] == 0 and remote["partial"]["score"] == 2
    assert remote["damaged"]["status"] == "unreadable"
    if not UNSAFE:  # the workers' sandbox hides the course, as local mode's does
        assert remote["snoops"]["score"] == 0
    for student in set(class_) - {"damaged"}:  # written by the submitting process, as locally
        doc = json.loads((tmp_path / "remote" / "toy" / student / "results.json").read_text())
        assert doc["score"] == remote[student]["score"]
        assert (tmp_path / "remote" / "toy" / student / "feedback.html").is_file()
    local_csv = (tmp_path / "local" / "grades.csv").read_text().splitlines()
    remote_csv = (tmp_path / "remote" / "grades.csv").read_text().splitlines()
    assert local_csv[0] == remote_csv[0] and len(local_csv) == len(remote_csv)


def test_a_worker_killed_mid_batch_loses_nothing(course, cluster, watched, tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    students = [f"s{i}" for i in range(6)]
    for student in students:  # each holds its worker for ~1.5 s
        (subs / f"{student}.ipynb").write_text(notebook("import time\ntime.sleep(1.5)", HONEST))
    out = tmp_path / "grades"
    done: list[str] = []
    outcome: dict[str, object] = {}

    def grade() -> None:
        try:
            outcome["results"] = grade_paths([subs], out=out, timeout=10, unsafe=UNSAFE,
                                             scheduler=cluster.scheduler_address,
                                             progress=lambda r, n, total: done.append(r.student))
        except BaseException as exc:  # reported by the main thread
            outcome["error"] = exc

    batch = threading.Thread(target=grade)
    batch.start()
    with Client(cluster.scheduler_address, set_as_default=False) as client:
        victim = wait_for_a_busy_worker(client, done)
        written = {s: (out / "toy" / s / "results.json").stat().st_mtime_ns for s in list(done)}
        worker = psutil.Process(cluster.scheduler.workers[victim].pid)
        doomed = [worker, *worker.children(recursive=True)]  # its runner and sandbox too
        watched.update(doomed)
        worker.send_signal(signal.SIGKILL)
        batch.join(timeout=60)
    assert not batch.is_alive() and "error" not in outcome, outcome.get("error")
    results = {r.student: r for r in outcome["results"]}
    assert sorted(results) == students
    assert all((r.status, r.score, r.max_score) == ("graded", 5, 5) for r in results.values())
    for student, mtime in written.items():  # results written before the kill are kept as they were
        assert (out / "toy" / student / "results.json").stat().st_mtime_ns == mtime
    alive = still_running(set(doomed), timeout=10)
    assert not alive, f"still running after their worker was killed: {[p.cmdline()[:3] for p in alive]}"

    # The submitting process "crashed" before two results were written: a re-run grades
    # exactly those two and leaves the others alone.
    before = {s: (out / "toy" / s / "results.json").stat().st_mtime_ns for s in students}
    for student in students[:2]:
        (out / "toy" / student / "results.json").unlink()
    again = grade_paths([subs], out=out, timeout=10, unsafe=UNSAFE, scheduler=cluster.scheduler_address)
    assert [(r.student, r.score) for r in again] == [(s, 5) for s in students]
    for student in students[2:]:
        assert (out / "toy" / student / "results.json").stat().st_mtime_ns == before[student]


def wait_for_a_busy_worker(client: Client, done: list[str]) -> str:
    """A worker in the middle of grading, once the first results are in (runners are warm)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        busy = [w for w, keys in client.processing().items() if keys]
        if done and busy:
            time.sleep(0.5)  # well inside the 1.5 s its current submission sleeps
            return busy[0]
        time.sleep(0.05)
    raise AssertionError("the cluster never started grading")


def test_the_submitting_machine_needs_no_sandbox(course, cluster, tmp_path, monkeypatch):
    (tmp_path / "ann.ipynb").write_text(notebook(HONEST))
    monkeypatch.setattr("grader.sandbox.sandbox_problem", lambda: "bubblewrap is not installed")
    with pytest.raises(GraderError, match="bubblewrap is not installed"):  # locally: refused
        grade_paths([tmp_path / "ann.ipynb"], out=tmp_path / "local", timeout=10)
    (result,) = grade_paths([tmp_path / "ann.ipynb"], out=tmp_path / "out", timeout=10, unsafe=UNSAFE,
                            scheduler=cluster.scheduler_address)
    assert (result.status, result.score, result.unsafe) == ("graded", 5, UNSAFE)


def test_results_that_are_not_plain_data_are_refused_not_unpickled(cluster, tmp_path):
    marker = tmp_path / "unpickled"

    def hostile_result(path: str):
        class Payload:
            def __reduce__(self):
                return (os.mkdir, (path,))

        return Payload()

    with DaskPool(["toy"], scheduler=cluster.scheduler_address, unsafe=UNSAFE, timeout=10,
                  log_path=tmp_path / "grader.log") as pool:
        future = pool.client.submit(hostile_result, str(marker), pure=False)
        with pytest.raises(TypeError, match="only able to deserialize data with \\['msgpack'\\]"):
            future.result(timeout=30)
    assert not marker.exists()


def test_a_worker_without_the_submitting_machines_course_stops_the_batch(cluster, tmp_path):
    job = Job(student="ann", assignment="toy", cells=[HONEST], meta={"source": "ann.ipynb"})
    with DaskPool(["toy"], scheduler=cluster.scheduler_address, unsafe=UNSAFE, timeout=10,
                  log_path=tmp_path / "grader.log") as pool:
        pool.digest = "0" * 16  # as if the workers had another checkout of the course
        with pytest.raises(GraderError, match="differs from the submitting machine"):
            list(pool.grade([job]))


def test_an_unreachable_scheduler_is_a_clear_error(course, tmp_path, monkeypatch):
    monkeypatch.setattr(grader.distributed, "CONNECT_TIMEOUT", 0.5)
    (tmp_path / "a.ipynb").write_text(notebook(HONEST))
    with pytest.raises(GraderError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        grade_paths([tmp_path / "a.ipynb"], out=tmp_path / "out", unsafe=UNSAFE,
                    scheduler="tcp://127.0.0.1:9")
