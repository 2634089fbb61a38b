"""The sandboxed worker end to end: sessions, cells, calls, errors, limits, restarts."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from grader.errors import (
    BadReturn,
    GraderError,
    SandboxUnavailable,
    StudentCrash,
    StudentException,
    StudentTimeout,
)
from grader.sandbox import CellOutcome, Limits, Worker, bwrap, host, sandbox_problem, uid_processes

LIMITS = Limits(session_wall=20.0, call_timeout=5.0, output=4096)


@pytest.fixture(scope="module")
def worker():
    with Worker(slot=20, limits=LIMITS) as w:
        yield w


def echo_session(worker):
    return worker.session(["def echo(*args, **kwargs):\n    return args, kwargs\n"])


# ---------------------------------------------------------------------------- availability


def test_sandbox_works_on_this_machine():
    assert sandbox_problem() is None


def test_sandbox_problem_names_the_fix(monkeypatch):
    bwrap.sandbox_problem.cache_clear()
    try:
        monkeypatch.setattr(bwrap.shutil, "which", lambda name: None)
        problem = sandbox_problem()
        assert "bubblewrap is not installed" in problem and "apt-get install bubblewrap" in problem
        assert "--unsafe-no-sandbox" in problem
        with pytest.raises(SandboxUnavailable, match="bubblewrap is not installed"):
            Worker(slot=21).start()
        monkeypatch.undo()

        bwrap.sandbox_problem.cache_clear()
        monkeypatch.setattr(bwrap.os, "geteuid", lambda: 1000)  # a user whose Python is in /root
        monkeypatch.setattr(bwrap.os.path, "realpath", lambda p: "/root/.pyenv/bin/python3")
        problem = sandbox_problem()
        assert "under /root" in problem and "--unsafe-no-sandbox" in problem
        monkeypatch.undo()

        bwrap.sandbox_problem.cache_clear()
        failing = subprocess.CompletedProcess(
            [], 1, b"", b"bwrap: setting up uid map: Permission denied"
        )
        monkeypatch.setattr(bwrap.subprocess, "run", lambda *a, **k: failing)
        monkeypatch.setattr(bwrap.os, "geteuid", lambda: 1000)
        monkeypatch.setattr(bwrap.os.path, "realpath", lambda p: "/home/me/venv/bin/python3")
        problem = sandbox_problem()
        assert "user namespace" in problem and "uid map" in problem
        assert "run dl101 grade as root" in problem and "--unsafe-no-sandbox" in problem
        monkeypatch.undo()

        bwrap.sandbox_problem.cache_clear()
        monkeypatch.setattr(bwrap.sys, "platform", "darwin")
        assert "needs Linux" in sandbox_problem()
    finally:
        monkeypatch.undo()
        bwrap.sandbox_problem.cache_clear()


def test_command_line_binds_only_what_the_worker_needs():
    layout = bwrap.Layout.current()
    args, inside_path = bwrap.command(layout, tmp_size=1 << 20, seccomp_fd=9)
    repo = str(Path(host.__file__).resolve().parents[2])
    assert "--unshare-all" not in args
    for flag in ("--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                 "--unshare-cgroup", "--die-with-parent", "--new-session", "--clearenv"):  # fmt: skip
        assert flag in args
    assert "--bind" not in args and "--dev-bind" not in args  # nothing of the host is writable
    sources = [args[i + 1] for i, a in enumerate(args) if a == "--ro-bind"]
    allowed = {
        "/usr",
        "/etc/ld.so.cache",
        "/dev/null",
        layout.prefix,
        layout.grader_dir,
        *layout.site_dirs,
    }
    assert set(sources) <= allowed, set(sources) - allowed
    assert repo not in sources and not any(src in (repo, "/work", "/") for src in sources)
    caps = [args[i + 1] for i, a in enumerate(args) if a == "--cap-add"]
    assert sorted(caps) == ["CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID"]
    assert inside_path[-1] == "/opt/dl101"
    unprivileged, _ = bwrap.command(layout, tmp_size=1 << 20, seccomp_fd=9, privileged=False)
    assert "--unshare-user" in unprivileged and "--disable-userns" in unprivileged
    assert "--cap-add" not in unprivileged


def test_importing_the_sandbox_stays_light():
    code = (
        "import sys, grader.sandbox, grader.protocol;"
        "heavy = [m for m in ('tensorflow', 'nbgrader', 'matplotlib', 'pyseccomp') if m in sys.modules];"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------------------- cells


def test_cells_run_in_order_and_a_failing_cell_does_not_stop_the_rest(worker):
    cells = [
        "x = 1",
        "y = x + 1\nprint(np.zeros(2))",  # NameError on line 2
        "def f(\n",  # SyntaxError
        "import numpy as np\nz = np.arange(3) * y",
        "import sys\nprint('to stderr', file=sys.stderr)\nprint(__name__)",
    ]
    with worker.session(cells) as s:
        assert s.alive
        assert [c.index for c in s.cells] == [0, 1, 2, 3, 4]
        assert s.cells[0] == CellOutcome(0, True, "")
        assert s.cells[1] == CellOutcome(1, False, "NameError: name 'np' is not defined (line 2)")
        assert not s.cells[2].ok and s.cells[2].error.startswith("SyntaxError: ")
        assert "(line 1)" in s.cells[2].error
        assert s.cells[3].ok and s.cells[4].ok
        assert s.output == "to stderr\n__main__\n"


def test_cells_are_compiled_as_cell_files_and_the_namespace_is_fresh(worker):
    with worker.session(
        ["import inspect\ndef where():\n    return inspect.currentframe().f_code.co_filename"]
    ) as s:
        assert s.call("where") == "<cell 0>"
    with worker.session(["pass"]) as s:
        assert not s.defined("where")
        assert not s.defined("np")


def test_empty_notebook(worker):
    with worker.session([]) as s:
        assert s.cells == [] and s.alive
        with pytest.raises(StudentException, match="conv2d is not defined in your notebook"):
            s.call("conv2d")


# ---------------------------------------------------------------------------- values


VALUES = [
    None, True, 3, -(2**70), 2.5, float("inf"), "padding", "ünï",
    (1, 2), [1, (2, 3)], {"a": (1,), "b": [2.0]}, ((0, 1), (1, 0)),
    np.float32(1.5), np.int64(-4), np.bool_(False), np.str_("same"), np.complex128(1j),
]  # fmt: skip
DTYPES = [
    "?",
    "i1",
    "i2",
    "i4",
    "i8",
    "u1",
    "u2",
    "u4",
    "u8",
    "f2",
    "f4",
    "f8",
    "c8",
    "c16",
    "U5",
    ">f8",
]


def test_every_type_crosses_both_ways_unchanged(worker):
    arrays = [np.arange(6).reshape(2, 3).astype(d) for d in DTYPES]
    arrays += [np.zeros((0, 3)), np.array(7.0), np.asfortranarray(np.ones((3, 2)))]
    with echo_session(worker) as s:
        for value in VALUES:
            args, kwargs = s.call("echo", value, key=value)
            assert type(args) is tuple and len(args) == 1
            for got in (args[0], kwargs["key"]):
                assert type(got) is type(value)
                if isinstance(value, float) and value != value:
                    continue
                assert got == value
        for arr in arrays:
            (got,), _ = s.call("echo", arr)
            assert type(got) is np.ndarray
            assert got.dtype == arr.dtype and got.shape == arr.shape
            np.testing.assert_array_equal(got, arr)


def test_nan_and_shapes_survive(worker):
    with worker.session(
        ["import numpy as np\ndef f(x):\n    return x * np.nan, x.shape, x.sum()\n"]
    ) as s:
        y, shape, total = s.call("f", np.ones((2, 28, 28, 3), dtype=np.float32))
        assert np.isnan(y).all() and y.dtype == np.float32
        assert shape == (2, 28, 28, 3)
        assert type(total) is np.float32 and total == 2 * 28 * 28 * 3


def test_arguments_the_sandbox_cannot_take_are_a_grader_error(worker):
    with echo_session(worker) as s:
        with pytest.raises(TypeError, match="cannot send an object of type set"):
            s.call("echo", {1, 2})
        assert s.alive and s.call("echo", 1) == ((1,), {})


# ---------------------------------------------------------------------------- errors


STUDENT = """\
import numpy as np

def _check(x):
    if x.ndim != 4:
        raise ValueError("bad shape")
    return x

def conv2d(x, w):
    x = _check(x)
    return x

def uses_numpy(a, b):
    return np.dot(a, b)

def multiline():
    raise RuntimeError("first line\\nsecond line" + "x" * 1000)

class Weird(Exception):
    def __str__(self):
        raise RuntimeError("no")

def weird():
    raise Weird()

def bad():
    return object()

not_a_function = 3
"""


def test_student_exceptions_name_type_message_and_the_students_line(worker):
    with worker.session([STUDENT]) as s:
        with pytest.raises(StudentException) as info:
            s.call("conv2d", np.zeros((2, 2)), np.zeros(1))
        assert str(info.value) == "ValueError: bad shape (in _check, line 5)"
        with pytest.raises(
            StudentException,
            match=r"^ValueError: shapes \(2,\) and \(3,\) .*\(in uses_numpy, line 13\)$",
        ):
            s.call("uses_numpy", np.zeros(2), np.zeros(3))
        with pytest.raises(StudentException) as info:
            s.call("multiline")
        msg = str(info.value)
        assert "\n" not in msg and msg.startswith("RuntimeError: first line second line")
        assert len(msg) < 400 and "worker" not in msg and "grader" not in msg
        with pytest.raises(
            StudentException, match=r"^Weird: <message unavailable> \(in weird, line 23\)$"
        ):
            s.call("weird")
        with pytest.raises(
            StudentException,
            match="^TypeError: conv2d\\(\\) got an unexpected keyword argument 'stride'$",
        ):
            s.call("conv2d", 1, 2, stride=2)
        with pytest.raises(StudentException, match="^missing is not defined in your notebook$"):
            s.call("missing")
        with pytest.raises(StudentException, match="^not_a_function is not a function"):
            s.call("not_a_function")
        with pytest.raises(
            BadReturn, match="^bad returned an object of type object; expected numbers or arrays"
        ):
            s.call("bad")
        assert s.alive  # none of these harms the session
        assert s.call("conv2d", np.zeros((1, 1, 1, 1)), 0).shape == (1, 1, 1, 1)


def test_results_over_the_frame_cap_are_bad_returns():
    with Worker(slot=26, limits=Limits(max_frame=1 << 20)) as w:
        with w.session(
            [
                "import numpy as np\ndef big():\n    return np.zeros(1 << 18)\ndef small():\n    return 1"
            ]
        ) as s:
            with pytest.raises(BadReturn, match="^big returned 2 MiB; the limit is 1 MiB$"):
                s.call("big")
            assert s.alive and s.call("small") == 1


def test_defined(worker):
    with worker.session(["def f():\n    pass\nx = 1"]) as s:
        assert s.defined("f") and s.defined("x") and not s.defined("g")


# ---------------------------------------------------------------------------- time and death


def test_call_timeout_kills_the_session(worker):
    with worker.session(
        ["import time\ndef slow():\n    time.sleep(30)\ndef fast():\n    return 1"]
    ) as s:
        assert s.call("fast") == 1
        t = time.monotonic()
        with pytest.raises(StudentTimeout, match="^slow did not finish within 0.5 s$"):
            s.call("slow", timeout=0.5)
        assert time.monotonic() - t < 4
        assert not s.alive and s.timed_out
        with pytest.raises(StudentCrash, match="not run: slow did not finish"):
            s.call("fast")
        assert not s.defined("fast")
    assert uid_processes(worker.uid) == []


def test_session_wall_budget_covers_cells_and_calls():
    limits = Limits(session_wall=2.0, call_timeout=10.0)
    with Worker(slot=21, limits=limits) as w:
        t = time.monotonic()
        with w.session(["import time\ntime.sleep(0.5)", "def nap():\n    time.sleep(30)\n"]) as s:
            assert all(c.ok for c in s.cells)
            with pytest.raises(StudentTimeout, match="time budget"):
                s.call("nap")
            assert 2.0 <= time.monotonic() - t < 4
            with pytest.raises(StudentTimeout, match="time budget"):
                s.call("nap")
        with w.session(["import time\ntime.sleep(0.2)", "while True: pass", "x = 1"]) as s:
            assert s.cells[0].ok
            assert not s.cells[1].ok and "time budget" in s.cells[1].error
            assert s.cells[2].error.startswith("not run")
            assert s.timed_out and not s.alive
        with w.session(["x = 1"]) as s:
            assert s.alive and s.cells[0].ok


def test_crash_kinds_are_named(worker):
    src = (
        "import os, signal, ctypes\n"
        "def segv():\n    ctypes.string_at(0)\n"
        "def abort():\n    os.abort()\n"
        "def code():\n    os._exit(3)\n"
        "def close_channel():\n    os.close(3)\n    import time\n    time.sleep(30)\n"
    )
    expected = {
        "segv": "crashed: segmentation fault while running segv",
        "abort": "aborted (often the memory limit) while running abort",
        "code": "exited with code 3 while running code",
        "close_channel": "closed the grader's channel while running close_channel",
    }
    for name, message in expected.items():
        with worker.session([src]) as s:
            with pytest.raises(StudentCrash) as info:
                s.call(name)
            assert str(info.value) == message
            assert not s.alive and s.reason == message
            with pytest.raises(StudentCrash, match="^not run: "):
                s.call(name)


# ---------------------------------------------------------------------------- output, env, identity


def test_output_is_captured_and_capped(worker):
    with worker.session(
        ["print('a' * 3000)", "def talk():\n    print('b' * 3000)\n    return 1"]
    ) as s:
        assert s.output == "a" * 3000 + "\n"
        assert s.call("talk") == 1
        out = s.output
    assert out.startswith("a" * 3000 + "\nb")
    assert out.endswith("\n[output truncated]")
    assert len(out) == LIMITS.output + len("\n[output truncated]")


def test_child_identity_environment_and_confinement(worker):
    src = """
import os
def identity():
    status = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines())
    st = os.stat(".")
    return {
        "uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(), "groups": os.getgroups(),
        "caps": [status[k].strip() for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")],
        "nnp": status["NoNewPrivs"].strip(), "seccomp": status["Seccomp"].strip(),
        "env": dict(os.environ), "cwd": os.getcwd(), "cwd_mode": oct(st.st_mode & 0o777),
        "cwd_owner": st.st_uid, "hostname": os.uname().nodename,
        "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
    }
"""
    with worker.session([src], env={"COURSE": "dl101"}) as s:
        me = s.call("identity")
    uid = worker.uid
    assert me["uid"] == me["euid"] == me["gid"] == uid and me["groups"] == []
    assert me["caps"] == ["0000000000000000"] * 5
    assert me["nnp"] == "1" and me["seccomp"] == "2"
    assert me["env"]["DL101_GRADING"] == "1" and me["env"]["COURSE"] == "dl101"
    assert me["env"]["OPENBLAS_NUM_THREADS"] == "1"
    assert me["env"]["HOME"] == me["cwd"] and me["cwd"].startswith("/tmp/")
    assert me["cwd_mode"] == "0o700" and me["cwd_owner"] == uid
    assert me["hostname"] == "sandbox"
    assert me["pids"][:2] == [1, 2] and len(me["pids"]) == 3


def test_numpy_is_usable_and_deterministic(worker):
    src = (
        "import numpy as np\ndef r():\n    return np.random.rand(3), np.linalg.inv(np.eye(3) * 2)\n"
    )
    with worker.session([src]) as s:
        first, inv = s.call("r")
    with worker.session([src]) as s:
        again, _ = s.call("r")
    np.testing.assert_array_equal(first, again)
    np.testing.assert_allclose(inv, np.eye(3) / 2)


# ---------------------------------------------------------------------------- harness


@pytest.fixture
def harness_worker(tmp_path, monkeypatch):
    grader_copy = tmp_path / "grader"
    shutil.copytree(Path(host.__file__).resolve().parents[1], grader_copy,
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    (grader_copy / "harness").mkdir(exist_ok=True)
    (grader_copy / "harness" / "__init__.py").write_text("")
    (grader_copy / "harness" / "echo_lab.py").write_text(
        "def predict_with(ns, x, *, scale=1.0):\n"
        "    return ns['predict'](x) * scale\n"
        "def broken(ns):\n"
        "    return ns['build_model']()\n"
    )
    layout = bwrap.Layout.current()
    layout.grader_dir = str(grader_copy)
    monkeypatch.setattr(bwrap.Layout, "current", classmethod(lambda cls: layout))
    with Worker(slot=22, limits=LIMITS) as w:
        yield w


def test_run_harness_calls_trusted_code_with_the_namespace(harness_worker):
    cells = [
        "import numpy as np\ndef predict(x):\n    return x + 1\ndef build_model():\n    raise ValueError('no model')\n"
    ]
    with harness_worker.session(cells) as s:
        got = s.run_harness("echo_lab", "predict_with", np.arange(3.0), scale=2.0)
        np.testing.assert_array_equal(got, [2.0, 4.0, 6.0])
        got = s.run_harness("grader.harness.echo_lab", "predict_with", np.zeros(2))
        np.testing.assert_array_equal(got, [1.0, 1.0])
        with pytest.raises(
            StudentException, match=r"ValueError: no model \(in build_model, line 5\)"
        ):
            s.run_harness("echo_lab", "broken")
        with pytest.raises(StudentException, match="ModuleNotFoundError"):
            s.run_harness("no_such_lab", "f")
    with harness_worker.session([]) as s:
        for module in ("os.path", "grader.sandbox.worker", "grader.harness"):
            with pytest.raises(ValueError, match="not a harness function"):
                s.run_harness(module, "join")
        with pytest.raises(StudentException, match="No module named 'grader.harness.os'"):
            s.run_harness("os", "system", "true")


# ---------------------------------------------------------------------------- life cycle


def test_one_session_at_a_time(worker):
    with worker.session([]):
        with pytest.raises(GraderError, match="one session at a time"):
            worker.session([])
    with worker.session([]) as s:
        assert s.alive


def test_close_leaves_nothing_and_workers_get_their_own_uids():
    a = Worker(slot=23)
    b = Worker(slot=23)
    with a, b:
        assert a.uid != b.uid
        bwrap_pid = a._proc.pid
        with a.session(
            ["import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(60)\n"]
        ):
            pass
        s = b.session(["import time"])
        assert s.alive
    assert not s.alive and s.closed
    assert uid_processes(a.uid) == [] and uid_processes(b.uid) == []
    assert not Path(f"/proc/{bwrap_pid}").exists()
    with pytest.raises(GraderError, match="closed"):
        a.session([])


def _zygote_host_pid(worker: Worker) -> int:
    """The zygote's PID on the host: root, its command line names this worker's uid."""
    for proc in Path("/proc").iterdir():
        try:
            cmd = (proc / "cmdline").read_bytes()
            nspid = next(
                line
                for line in (proc / "status").read_text().splitlines()
                if line.startswith("NSpid:")
            )
        except (OSError, StopIteration):
            continue
        if b"import zygote" in cmd and f'"uid": {worker.uid},'.encode() in cmd:
            if nspid.split()[-1] == str(worker.info["pid"]):
                return int(proc.name)
    raise AssertionError("zygote not found")


def _wait_gone(pid: int) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return
        except OSError:
            return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} did not die")


def test_a_dead_sandbox_is_restarted_for_the_next_session():
    with Worker(slot=24, limits=LIMITS) as w:
        with w.session(["x = 1"]) as s:
            assert s.alive
        zygote = _zygote_host_pid(w)
        os.kill(w._proc.pid, signal.SIGKILL)  # bwrap: the whole sandbox dies (asynchronously)
        _wait_gone(zygote)
        with w.session(["def f():\n    return 2"]) as s:
            assert s.call("f") == 2
        assert w.restarts == 1
        zygote = _zygote_host_pid(w)
        os.kill(zygote, signal.SIGKILL)
        _wait_gone(zygote)
        with w.session(["def f():\n    return 3"]) as s:
            assert s.call("f") == 3
        assert w.restarts == 2


def test_a_hung_zygote_is_killed_and_replaced(monkeypatch):
    monkeypatch.setattr(host, "_END_TIMEOUT", 0.5)
    with Worker(slot=25, limits=LIMITS) as w:
        s = w.session(["def f():\n    return 1"])
        assert s.call("f") == 1
        zygote = _zygote_host_pid(w)
        os.kill(zygote, signal.SIGSTOP)
        t = time.monotonic()
        s.close()
        assert time.monotonic() - t < 3
        assert (
            not Path(f"/proc/{zygote}").exists() or "Z" in Path(f"/proc/{zygote}/stat").read_text()
        )
        with w.session(["def f():\n    return 4"]) as s:
            assert s.call("f") == 4
        assert w.restarts == 1
        assert uid_processes(w.uid) == []


# ---------------------------------------------------------------------------- unsafe mode


def test_unsafe_mode_runs_without_bubblewrap():
    with Worker(unsafe=True, limits=Limits(call_timeout=1.0)) as w:
        assert w.uid is None
        with w.session(
            [
                "import numpy as np\nimport os\ndef f(x):\n    return x * 2, os.environ['DL101_GRADING']"
            ]
        ) as s:
            y, flag = s.call("f", np.arange(3))
            np.testing.assert_array_equal(y, [0, 2, 4])
            assert flag == "1"
        with w.session(
            ["import time, os\ndef slow():\n    time.sleep(10)\ndef die():\n    os._exit(5)"]
        ) as s:
            with pytest.raises(StudentTimeout):
                s.call("slow")
        with w.session(["import os\ndef die():\n    os._exit(5)"]) as s:
            with pytest.raises(StudentCrash, match="exited with code 5"):
                s.call("die")
        with w.session(["def f():\n    return 1"]) as s:
            assert s.call("f") == 1


# ---------------------------------------------------------------------------- without root

UNPRIVILEGED = """
import os, sys, time
import numpy as np
from grader.errors import StudentCrash
from grader.sandbox import Limits, Worker, sandbox_problem
assert sandbox_problem() is None, sandbox_problem()
with Worker(limits=Limits(call_timeout=2.0)) as w:
    assert w.mode == "userns" and w.uid is None
    with w.session(["import os\\ndef f(x):\\n    return x * 2, os.getuid(), sorted(os.listdir('/'))"]) as s:
        y, uid, root = s.call("f", np.arange(3))
        assert y.tolist() == [0, 2, 4] and uid == os.getuid(), (y, uid)
        assert root == ['bin', 'dev', 'etc', 'lib', 'lib64', 'opt', 'proc', 'sbin', 'tmp', 'usr'], root
    with w.session(["import os, time\\nif os.fork() == 0:\\n    os.setsid()\\n    time.sleep(60)\\n",
                    "def mem():\\n    return open('/proc/2/mem', 'rb').read(1)"]) as s:
        try:
            s.call("mem")
            raise AssertionError("read the zygote's memory")
        except Exception as e:
            assert "PermissionError" in str(e), e
    with w.session(["import os, signal\\nos.kill(2, signal.SIGKILL)"]) as s:
        pass
    with w.session(["def g():\\n    return 5"]) as s:
        assert s.call("g") == 5
    assert w.restarts == 1
def alive(pid):  # zombies are dead: bwrap's monitor exits without reaping its child
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
mine = [p for p in os.listdir("/proc") if p.isdigit() and os.stat(f"/proc/{p}").st_uid == os.getuid()]
assert [p for p in mine if alive(p)] == [str(os.getpid())], mine
print("ok")
"""


def test_unprivileged_user_namespace_mode(tmp_path):
    """Not root: bwrap makes a user namespace. Run as nobody with the system Python of the
    same version (the venv's interpreter lives under /root, out of nobody's reach)."""
    system_python = f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"
    assert os.path.exists(system_python), f"{system_python} is needed for this test"
    site = next(p for p in sys.path if p.endswith("site-packages") and ".venv" in p)
    repo = str(Path(host.__file__).resolve().parents[2])
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "PYTHONPATH": f"{site}:{repo}"}
    cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
           system_python, "-c", UNPRIVILEGED]  # fmt: skip
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, cwd="/tmp")
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr[-2000:]
