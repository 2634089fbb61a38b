"""Hostile submissions: one bounded test per known attack (notes/sandbox.md, issue 3.9).

Each test runs the attack as student code in the real sandbox, asserts it gained nothing,
and then checks that the same worker still grades an honest submission and that no
process of the slot's uid is left on the host.
"""

from __future__ import annotations

import os
import socket
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from grader.errors import BadReturn, StudentCrash, StudentException, StudentTimeout
from grader.sandbox import Limits, Worker, sandbox_problem, uid_processes

REPO = Path(__file__).resolve().parents[1]
SECRET = f"dl101-secret-{uuid.uuid4().hex}"
LIMITS = Limits(session_wall=15.0, call_timeout=3.0, cpu=10, nproc=24, output=8192)


@pytest.fixture(scope="module")
def worker():
    assert sandbox_problem() is None, sandbox_problem()
    os.environ["DL101_TEST_SECRET"] = SECRET  # the grader's environment holds a secret
    try:
        with Worker(slot=10, limits=LIMITS) as w:
            yield w
    finally:
        os.environ.pop("DL101_TEST_SECRET", None)


def serves(worker: Worker) -> None:
    """The worker still grades an honest submission, and nothing of the attack survives."""
    with worker.session(["import numpy as np\ndef add(a, b):\n    return np.add(a, b)\n"]) as s:
        assert all(c.ok for c in s.cells)
        assert s.call("add", 2, 3) == 5
    assert uid_processes(worker.uid) == []


def attack(worker: Worker, source: str, name: str = "attack", *args, timeout=None, **kwargs):
    """Define the student's code, call ``name`` once, return its value (or raise)."""
    with worker.session([textwrap.dedent(source)]) as s:
        assert s.cells[0].ok, s.cells[0].error
        return s.call(name, *args, timeout=timeout, **kwargs)


# ---------------------------------------------------------------------------- secrets


def test_hidden_tests_solutions_and_reference_are_not_there(worker):
    targets = [
        str(REPO / "tests" / "test_escapes.py"),
        str(REPO / "solutions"),
        str(REPO / "cnn_ref" / "__init__.py"),
        str(REPO / "pyproject.toml"),
        "/work",
        "/work/main",
        "/work/shared/DESIGN.md",
    ]
    found = attack(
        worker,
        """
        import os
        def attack(targets):
            out = {}
            for t in targets:
                try:
                    out[t] = sorted(os.listdir(t)) if os.path.isdir(t) else open(t).read()[:50]
                except OSError as e:
                    out[t] = type(e).__name__
            out["/"] = sorted(os.listdir("/"))
            out["/opt/dl101"] = sorted(os.listdir("/opt/dl101"))
            for way in ("plain", "site"):
                try:
                    if way == "site":
                        import site, sys
                        site.main()
                        sys.modules.pop("cnn_ref", None)
                    import cnn_ref
                    out["import " + way] = sorted(vars(cnn_ref))
                except Exception as e:
                    out["import " + way] = type(e).__name__
            return out
        """,
        "attack",
        targets,
    )
    for t in targets:
        assert found[t] == "FileNotFoundError", (t, found[t])
    assert "work" not in found["/"]
    assert found["/opt/dl101"] == ["grader", "site-0"]
    assert found["import plain"] == "ModuleNotFoundError"
    # with site.main() the editable-install hook maps cnn_ref to a path that is not there
    assert found["import site"] == "ModuleNotFoundError"
    serves(worker)


def test_reference_package_installed_into_site_packages_is_masked(tmp_path, monkeypatch):
    # A non-editable install would put cnn_ref (and maybe solutions) into site-packages,
    # which the sandbox binds: they must be masked there.
    site = tmp_path / "site-packages"
    (site / "cnn_ref").mkdir(parents=True)
    (site / "cnn_ref" / "__init__.py").write_text(f"ANSWER = '{SECRET}'\n")
    (site / "solutions.py").write_text(f"ANSWER = '{SECRET}'\n")
    (site / "harmless.py").write_text("VALUE = 7\n")
    from grader.sandbox import bwrap

    layout = bwrap.Layout.current()
    layout.site_dirs = [*layout.site_dirs, str(site)]
    monkeypatch.setattr(bwrap.Layout, "current", classmethod(lambda cls: layout))
    with Worker(slot=14, limits=LIMITS) as w:
        found = attack(
            w,
            """
            import importlib, os, sys
            def attack(site):
                out = {}
                for name in ("cnn_ref", "solutions", "harmless"):
                    sys.modules.pop(name, None)
                    try:
                        out[name] = repr(vars(importlib.import_module(name)).get("ANSWER", vars(importlib.import_module(name)).get("VALUE")))
                    except Exception as e:
                        out[name] = type(e).__name__
                for path in (site + "/cnn_ref/__init__.py", site + "/solutions.py"):
                    try:
                        out[path] = open(path).read()
                    except OSError as e:
                        out[path] = type(e).__name__
                return out
            """,
            "attack",
            f"/opt/dl101/site-{len(layout.site_dirs) - 1}",
        )
    assert SECRET not in repr(found)
    assert found["harmless"] == "7"
    assert found["cnn_ref"] in ("ModuleNotFoundError", "None")  # at most an empty namespace
    assert found["solutions"] == "ModuleNotFoundError"
    site_inside = f"/opt/dl101/site-{len(layout.site_dirs) - 1}"
    assert found[f"{site_inside}/cnn_ref/__init__.py"] == "PermissionError"
    assert found[f"{site_inside}/solutions.py"] == "PermissionError"


def test_environment_secrets_do_not_reach_the_student(worker):
    found = attack(
        worker,
        """
        import os
        def attack():
            out = {"environ": dict(os.environ)}
            for pid in ("1", "2", "self"):
                for what in ("environ", "cmdline"):
                    try:
                        out[pid + what] = open(f"/proc/{pid}/{what}", "rb").read().decode("latin1")
                    except OSError as e:
                        out[pid + what] = type(e).__name__
            return out
        """,
    )
    assert SECRET not in repr(found)
    assert found["environ"]["DL101_GRADING"] == "1"
    assert "DL101_TEST_SECRET" not in found["environ"]
    assert found["1environ"] == "PermissionError"  # bwrap, PID 1: its environment is not readable
    assert found["2environ"] == "PermissionError"  # the zygote
    serves(worker)


def test_zygote_and_its_control_socket_are_out_of_reach(worker):
    found = attack(
        worker,
        """
        import os
        def attack():
            out = {}
            for path in ("/proc/2/fd", "/proc/2/mem", "/proc/2/maps", "/proc/1/fd", "/proc/2/root/"):
                try:
                    out[path] = os.listdir(path) if path.endswith(("fd", "/")) else open(path, "rb").read(16)
                except OSError as e:
                    out[path] = type(e).__name__
            out["ppid"] = os.getppid()
            return out
        """,
    )
    assert found["ppid"] == 2
    for path, value in found.items():
        if path != "ppid":
            assert value == "PermissionError", (path, value)
    serves(worker)


def test_previous_student_files_are_gone(worker):
    with worker.session(
        [
            "open('/tmp/answers.txt', 'w').write('42')\nopen('mine.txt', 'w').write('x')\n"
            "import os\nos.makedirs('/tmp/deep/locked')\nos.chmod('/tmp/deep', 0)\n"
        ]  # fmt: skip
    ) as s:
        assert s.cells[0].ok, s.cells[0].error
    found = attack(
        worker,
        """
        import os
        def attack():
            return sorted(os.listdir("/tmp")), sorted(os.listdir(".")), os.getcwd()
        """,
    )
    tmp_entries, cwd_entries, cwd = found
    assert tmp_entries == [cwd.rsplit("/", 1)[1]] and cwd_entries == []
    serves(worker)


# ---------------------------------------------------------------------------- network


def test_network_tcp_dns_udp_and_raw_sockets_fail(worker):
    found = attack(
        worker,
        """
        import socket
        def attack():
            out = {}
            tries = {
                "tcp": lambda: socket.create_connection(("1.1.1.1", 80), timeout=1),
                "tcp6": lambda: socket.socket(socket.AF_INET6, socket.SOCK_STREAM),
                "dns": lambda: socket.getaddrinfo("example.com", 80),
                "udp": lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("8.8.8.8", 53)),
                "netlink": lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0),
                "packet": lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0),
            }
            for name, fn in tries.items():
                try:
                    fn()
                    out[name] = "connected"
                except OSError as e:
                    out[name] = type(e).__name__
            return out
        """,
    )
    assert "connected" not in found.values(), found
    serves(worker)


def test_unix_sockets_of_the_host_are_unreachable(worker, tmp_path):
    path = tmp_path / "host.sock"
    fs_server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    fs_server.bind(str(path))
    fs_server.listen()
    abstract = f"\0dl101-test-{uuid.uuid4().hex}"
    abs_server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    abs_server.bind(abstract)
    abs_server.listen()
    try:
        found = attack(
            worker,
            """
            import socket
            def attack(paths):
                out = []
                for p in paths:
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    try:
                        s.connect(p)
                        out.append("connected")
                    except OSError as e:
                        out.append(type(e).__name__)
                return out
            """,
            "attack",
            [str(path), abstract],
        )
        assert found == ["FileNotFoundError", "ConnectionRefusedError"]
        for server in (fs_server, abs_server):
            server.setblocking(False)
            with pytest.raises(BlockingIOError):
                server.accept()
    finally:
        fs_server.close()
        abs_server.close()
    serves(worker)


# ---------------------------------------------------------------------------- resources


def test_memory_bomb_is_a_memory_error(worker):
    with pytest.raises(StudentException, match=r"MemoryError.*\(in attack, line \d\)"):
        attack(worker, "import numpy as np\ndef attack():\n    return np.ones(10**11)\n")
    with pytest.raises(StudentException, match="MemoryError"):
        attack(worker, "def attack():\n    return bytearray(8 << 30)\n")
    serves(worker)


def test_memory_spread_over_processes_is_capped_for_the_session():
    with Worker(slot=13, limits=Limits(memory=1 << 30, call_timeout=20)) as w:
        with pytest.raises(StudentCrash, match=r"killed: memory limit \(1 GiB"):
            attack(
                w,
                """
                import os, time
                import numpy as np
                def attack():
                    for _ in range(6):
                        if os.fork() == 0:
                            a = np.ones(50_000_000)  # 400 MB each, under RLIMIT_AS
                            time.sleep(60)
                    time.sleep(60)
                """,
            )
        serves(w)


def test_cpu_loop_times_out_and_is_killed(worker):
    t = time.monotonic()
    with pytest.raises(StudentTimeout, match="attack did not finish within 1 s"):
        attack(worker, "def attack():\n    while True:\n        pass\n", timeout=1)
    assert time.monotonic() - t < 6
    serves(worker)


def test_cpu_limit_kills_the_process():
    with Worker(slot=11, limits=Limits(cpu=1, call_timeout=30)) as w:
        t = time.monotonic()
        with pytest.raises(StudentCrash, match=r"killed: CPU time limit \(1 s\)"):
            attack(w, "def attack():\n    while True:\n        pass\n")
        assert time.monotonic() - t < 20  # 1 s of CPU, however busy the machine is
        serves(w)


def test_fork_bomb_is_capped_and_cleaned_up(worker):
    n = attack(
        worker,
        """
        import os, time
        def attack():
            n = 0
            for _ in range(500):
                try:
                    pid = os.fork()
                except OSError:
                    break
                if pid == 0:
                    time.sleep(60)
                    os._exit(0)
                n += 1
            return n
        """,
    )
    assert 0 < n < LIMITS.nproc
    serves(worker)


def test_exponential_fork_bomb_in_a_cell_dies_with_the_session():
    limits = Limits(session_wall=1.5, nproc=16, cpu=10)
    with Worker(slot=12, limits=limits) as w:
        t = time.monotonic()
        with w.session(
            [
                "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
            ]
        ) as s:
            assert not s.alive and s.timed_out
            assert "time budget" in s.cells[0].error
            with pytest.raises(StudentTimeout):
                s.call("anything")
        assert time.monotonic() - t < 8
        assert uid_processes(w.uid) == []
        serves(w)


def test_a_huge_file_stops_at_the_size_limit(worker):
    found = attack(
        worker,
        """
        import os
        def attack():
            out = {}
            for path in ("/tmp/big", "big"):
                try:
                    with open(path, "wb") as f:
                        for _ in range(1024):
                            f.write(b"\\0" * (1 << 20))
                    out[path] = "wrote 1 GB"
                except OSError as e:
                    out[path] = (e.errno, os.path.getsize(path))
            return out
        """,
    )
    for value in found.values():
        assert value[0] == 27 and value[1] <= 16 << 20  # EFBIG at RLIMIT_FSIZE
    serves(worker)


def test_output_bomb_is_capped(worker):
    t = time.monotonic()
    with worker.session(
        [
            "print('x' * 10**7)\nfor i in range(10**5):\n    print(i)\n",
            "import os\nfor _ in range(300):\n    os.write(1, b'y' * 65536)\n",
        ]  # fmt: skip
    ) as s:
        assert all(c.ok for c in s.cells)
        out = s.output
    assert time.monotonic() - t < 10
    assert len(out) <= LIMITS.output + 100
    assert out.endswith("[output truncated]")
    serves(worker)


def test_endless_raw_output_cannot_outlast_the_call_timeout(worker):
    t = time.monotonic()
    with worker.session(
        ["import os\ndef attack():\n    while True:\n        os.write(2, b'z' * 65536)\n"]
    ) as s:
        with pytest.raises(StudentTimeout):
            s.call("attack", timeout=1)
        out = s.output
    assert time.monotonic() - t < 6
    assert out.startswith("zzz") and out.endswith("[output truncated]")
    serves(worker)


def test_fd_exhaustion_does_not_break_the_protocol(worker):
    with worker.session(
        [
            "files = []\ntry:\n    while True:\n        files.append(open('/dev/null'))\nexcept OSError as e:\n    err = e.errno\n",
            "def count():\n    return len(files), err\n",
        ]  # fmt: skip
    ) as s:
        assert all(c.ok for c in s.cells)
        n, err = s.call("count")
        assert err == 24 and n < LIMITS.nofile
        assert s.call("count") == (n, 24)
    serves(worker)


def test_daemonized_survivor_does_not_outlive_the_session(worker):
    attack(
        worker,
        """
        import os, signal, time
        def attack():
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
                        signal.signal(s, signal.SIG_IGN)
                    time.sleep(120)
                os._exit(0)
            time.sleep(0.2)
            return True
        """,
    )
    assert uid_processes(worker.uid) == []
    serves(worker)


def test_threads_still_running_after_return_are_killed(worker):
    with worker.session(
        [
            "import threading, time\n"
            "def spin():\n    while True:\n        open('/tmp/late', 'a').write('x')\n        time.sleep(0.01)\n"
            "def attack():\n    threading.Thread(target=spin, daemon=False).start()\n    return 1\n"
        ]  # fmt: skip
    ) as s:
        assert s.call("attack") == 1
        assert s.call("attack") == 1
    found = attack(worker, "import os\ndef attack():\n    return os.path.exists('/tmp/late')\n")
    assert found is False
    serves(worker)


# ---------------------------------------------------------------------------- protocol


FORGE = """
import os, struct, json
def _proto_fd():
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                return int(fd)
        except OSError:
            pass
def _frame(header, payload=b"", hlen=None, plen=None):
    h = json.dumps(header).encode()
    return struct.pack("<4sIQ", b"DL1F", len(h) if hlen is None else hlen,
                       len(payload) if plen is None else plen) + h + payload
def _npy(descr, shape, data):
    text = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)
    text += " " * ((-(10 + len(text) + 1)) % 64) + "\\n"
    return b"\\x93NUMPY\\x01\\x00" + struct.pack("<H", len(text)) + text.encode() + data
def attack(kind):
    fd = _proto_fd()
    if kind == "garbage":
        os.write(fd, b"\\xff" * 4096)
    elif kind == "huge":
        os.write(fd, _frame({"op": "ok"}, hlen=2, plen=1 << 62))
    elif kind == "shape":
        blob = _npy("<f8", "(1000000000000, 1000000000000)", b"")
        os.write(fd, _frame({"op": "ok", "id": 1, "v": {"A": 0}, "_n": [len(blob)]}, blob))
    elif kind == "object":
        blob = _npy("|O", "(1,)", b"\\0" * 8)
        os.write(fd, _frame({"op": "ok", "id": 1, "v": {"A": 0}, "_n": [len(blob)]}, blob + bytes(-len(blob) % 64)))
    elif kind == "pickle":
        blob = b"\\x80\\x04\\x95" + b"\\0" * 61
        os.write(fd, _frame({"op": "ok", "id": 1, "v": {"A": 0}, "_n": [len(blob)]}, blob))
    elif kind == "deep":
        os.write(fd, _frame(None, hlen=200002)[:16] + b"[" * 100001 + b"]" * 100001)
    elif kind == "wrong-id":
        os.write(fd, _frame({"op": "ok", "id": 999, "v": 1, "_n": []}))
    elif kind == "truncated":
        os.write(fd, _frame({"op": "ok", "id": 1, "v": 1, "_n": []})[:20])
        import time
        time.sleep(60)
    return 1.0
"""


@pytest.mark.parametrize(
    "kind", ["garbage", "huge", "shape", "object", "pickle", "deep", "wrong-id", "truncated"]
)
def test_forged_frames_on_the_protocol_descriptor(worker, kind):
    t = time.monotonic()
    with worker.session([FORGE]) as s:
        assert s.cells[0].ok, s.cells[0].error
        if kind == "truncated":
            with pytest.raises(StudentTimeout):
                s.call("attack", kind, timeout=1)
        else:
            with pytest.raises(StudentCrash, match="protocol violation"):
                s.call("attack", kind)
        assert not s.alive
        with pytest.raises(StudentCrash):
            s.call("attack", "garbage")
    assert time.monotonic() - t < 6
    serves(worker)


@pytest.mark.parametrize(
    "source, what",
    [
        ("import numpy as np\nret = np.array([1, 'a'], dtype=object)", "dtype object"),
        (
            "class Evil:\n    def __reduce__(self):\n        return (print, ('pwned',))\nret = Evil()",
            "Evil",
        ),
        (
            "class Eq:\n    def __eq__(self, o):\n        return True\n    def __array__(self, *a, **k):\n"
            "        import numpy as np\n        return np.zeros(3)\nret = Eq()",
            "Eq",
        ),
        (
            "import numpy as np\nclass Sub(np.ndarray):\n    def __eq__(self, o):\n        return True\n"
            "ret = np.zeros(3).view(Sub)",
            "Sub",
        ),
        ("import numpy as np\nret = (1, [np.zeros(2), {1, 2}])", "set"),
        ("ret = {1: 2}", "key of type int"),
        ("ret = lambda: 0", "function"),
    ],
)
def test_objects_that_are_not_data_are_bad_returns(worker, source, what):
    with pytest.raises(BadReturn, match=f"attack returned .*{what}.*; expected numbers or arrays"):
        attack(worker, source + "\ndef attack():\n    return ret\n")
    serves(worker)


# ---------------------------------------------------------------------------- exits and signals


def test_sys_exit_and_os_exit_in_cells(worker):
    with worker.session(["import sys\nsys.exit(0)", "x = 1", "def f():\n    return x"]) as s:
        assert not s.cells[0].ok and s.cells[0].error.startswith("SystemExit: 0")
        assert s.cells[1].ok and s.call("f") == 1
    with worker.session(["x = 1", "import os\nos._exit(0)", "y = 2"]) as s:
        assert s.cells[0].ok
        assert not s.cells[1].ok and "exited with code 0" in s.cells[1].error
        assert not s.cells[2].ok and s.cells[2].error.startswith("not run")
        assert not s.alive
        with pytest.raises(StudentCrash, match="not run"):
            s.call("f")
    serves(worker)


def test_sys_exit_and_os_exit_in_calls(worker):
    with pytest.raises(StudentException, match=r"SystemExit: 0 \(in attack, line 3\)"):
        attack(worker, "import sys\ndef attack():\n    sys.exit(0)\n")
    with pytest.raises(StudentCrash, match="exited with code 3 while running attack"):
        attack(worker, "import os\ndef attack():\n    os._exit(3)\n")
    serves(worker)


def test_killing_the_parent_zygote_or_init_is_refused(worker):
    found = attack(
        worker,
        """
        import os, signal
        def attack():
            out = {}
            for name, pid in (("ppid", os.getppid()), ("init", 1), ("zygote", 2)):
                try:
                    os.kill(pid, signal.SIGKILL)
                    out[name] = "killed"
                except OSError as e:
                    out[name] = type(e).__name__
            return out
        """,
    )
    assert found == {
        "ppid": "PermissionError",
        "init": "PermissionError",
        "zygote": "PermissionError",
    }
    restarts = worker.restarts
    serves(worker)
    assert worker.restarts == restarts


def test_kill_minus_one_reaches_only_the_students_own_processes(worker):
    restarts = worker.restarts
    found = attack(
        worker,
        """
        import os, signal, time
        def attack():
            pid = os.fork()
            if pid == 0:
                time.sleep(30)
                os._exit(0)
            os.kill(-1, signal.SIGKILL)  # Linux spares the caller itself
            return os.waitpid(pid, 0)[1]
        """,
    )
    assert os.WIFSIGNALED(found) and os.WTERMSIG(found) == 9
    serves(worker)
    assert worker.restarts == restarts


# ---------------------------------------------------------------------------- syscalls


def test_dangerous_syscalls_through_ctypes_fail(worker):
    found = attack(
        worker,
        """
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        def attack():
            calls = {
                "unshare(NEWUSER)": (272, 0x10000000),
                "unshare(NEWNS)": (272, 0x00020000),
                "ptrace(TRACEME)": (101, 0),
                "ptrace(ATTACH, 2)": (101, 16, 2),
                "mount": (165, 0, 0, 0, 0, 0),
                "umount2(/opt)": (166, ctypes.c_char_p(b"/opt"), 2),
                "setns": (308, 0, 0),
                "bpf": (321, 0, 0, 0),
                "keyctl": (250, 0),
                "io_uring_setup": (425, 1, 0),
                "setuid(0)": (105, 0),
                "clone(NEWUSER)": (56, 0x10000000 | 17, 0, 0, 0, 0),
                "shmget": (29, 0, 1 << 30, 0o1000 | 0o600),
                "chroot": (161, ctypes.c_char_p(b"/tmp")),
                "memfd_create": (319, ctypes.c_char_p(b"x"), 0),
                "mq_open": (240, ctypes.c_char_p(b"q"), 0o100, 0o600, 0),
                "process_vm_readv(2)": (310, 2, 0, 0, 0, 0, 0),
            }
            out = {}
            for name, (nr, *args) in calls.items():
                ret = libc.syscall(nr, *args)
                out[name] = (ret, ctypes.get_errno())
            out["clone3"] = (libc.syscall(435, 0, 0), ctypes.get_errno())
            return out
        """,
    )
    clone3 = found.pop("clone3")
    assert clone3 == (-1, 38)  # ENOSYS, so glibc falls back to clone() for threads
    for name, (ret, err) in found.items():
        assert (ret, err) == (-1, 1), name  # EPERM
    serves(worker)


def test_threads_work_under_the_filter(worker):
    found = attack(
        worker,
        """
        import threading
        import numpy as np
        def attack():
            out = []
            ts = [threading.Thread(target=lambda: out.append(float(np.ones((50, 50)) .sum()))) for _ in range(4)]
            [t.start() for t in ts]
            [t.join(5) for t in ts]
            return out
        """,
    )
    assert found == [2500.0] * 4


def test_foreign_syscall_abis_kill_the_process(worker):
    # x32 ABI number for unshare, and i386 `int 0x80` unshare(CLONE_NEWUSER): the filter's
    # architecture check kills the process instead of letting them bypass the rules.
    for source in (
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "def attack():\n    return libc.syscall(0x40000000 | 272, 0x10000000)\n",
        "import ctypes, mmap\n"
        "code = bytes.fromhex('b836010000' 'bb00000010' 'cd80' 'c3')\n"
        "def attack():\n"
        "    m = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)\n"
        "    m.write(code)\n"
        "    addr = ctypes.addressof(ctypes.c_char.from_buffer(m))\n"
        "    return ctypes.CFUNCTYPE(ctypes.c_int)(addr)()\n",
    ):
        with pytest.raises(StudentCrash, match="killed by signal SIGSYS"):
            attack(worker, source)
    serves(worker)


def test_writing_outside_tmp_fails(worker):
    targets = [
        str(REPO / "grades" / "results.json"),
        str(REPO / "x.txt"),
        "/opt/dl101/grader/__init__.py",
        "/opt/dl101/site-0/numpy/__init__.py",
        "/usr/lib/x",
        "/root/x",
        "/etc/x",
        "/x",
        "/dev/shm/x",
        "/proc/sys/kernel/hostname",
    ]
    found = attack(
        worker,
        """
        def attack(targets):
            out = {}
            for t in targets:
                try:
                    open(t, "a").write("pwned")
                    out[t] = "written"
                except OSError as e:
                    out[t] = type(e).__name__
            return out
        """,
        "attack",
        targets,
    )
    assert "written" not in found.values(), found
    assert not (REPO / "x.txt").exists() and not (REPO / "grades" / "results.json").exists()
    serves(worker)
