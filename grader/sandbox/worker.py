"""Code that runs INSIDE the sandbox: the warm zygote and each submission's child.

The zygote (started once per slot by :class:`grader.sandbox.Worker`) imports the preload
modules, then waits on its control socket. For each session it forks a child which, before
any student code runs: leaves the zygote's process group, keeps only its two descriptors
(protocol socket, output pipe), makes a private 0700 directory, sets its rlimits, empties
its capability sets (bounding set included), switches to the slot's unprivileged uid,
sets no-new-privs (the seccomp filter is inherited from bwrap) and checks all of it in
/proc/self/status. Then it runs the cells and answers calls until the grader hangs up.

When a session ends the zygote kills every process of the slot's uid (one ``kill(-1)``
with that effective uid: atomic against fork bombs), reaps them (it is a child
subreaper) and wipes /tmp. The zygote itself never runs student code; it is not dumpable,
so a process of the same uid cannot read or write its memory.

Without root ("userns" mode: bwrap makes a user namespace) there is no uid to switch to:
the child keeps the user's uid, with no capabilities. ``kill(-1)`` from the zygote still
reaches every process of the sandbox but the zygote itself and PID 1.

Unsafe mode (no bubblewrap): same code without the uid switch; the child is killed by
process group, so a ``setsid()`` survivor can escape until the zygote is closed.
"""

from __future__ import annotations

import builtins
import ctypes
import errno
import gc
import importlib
import io
import json
import os
import re
import select
import shutil
import signal
import socket
import sys
import time
from typing import Any

from grader import protocol
from grader.sandbox.limits import apply_rlimits

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
_CAP_VERSION_3 = 0x20080522
#: Exit code of a child whose set-up failed (no student code ran).
SETUP_FAILED = 70
#: Frames the child accepts from the (trusted) grader.
_CHILD_MAX_FRAME = 1 << 30
_MSG_CHARS = 300
#: Seconds between two checks of a session's total memory.
_WATCH_INTERVAL = 0.05

_libc = ctypes.CDLL(None, use_errno=True)


def _prctl(option: int, arg: int = 0) -> None:
    if _libc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl({option}): {os.strerror(err)}")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


# ---------------------------------------------------------------------------- zygote


def zygote(cfg: dict[str, Any]) -> None:
    """Entry point (see Worker): serve spawn/end requests on the control socket forever."""
    ctrl = socket.socket(fileno=cfg["ctrl_fd"])
    sandboxed = bool(cfg["sandboxed"])
    if sandboxed:
        _check_inside_sandbox(cfg)
        _prctl(PR_SET_CHILD_SUBREAPER, 1)
    _prctl(PR_SET_DUMPABLE, 0)
    for name in cfg["preload"]:
        importlib.import_module(name)
    _warm_up()
    gc.collect()
    gc.freeze()
    threads = len(os.listdir("/proc/self/task"))
    cfg["base_anon"] = _memory_kb(os.getpid())[0]
    _ctrl_send(ctrl, {"op": "ready", "threads": threads, "pid": os.getpid()})
    current: dict[str, Any] | None = None
    while True:
        if current is not None and sandboxed and not current["oom"]:
            if not select.select([ctrl], [], [], _WATCH_INTERVAL)[0]:
                _watch_memory(cfg, current)
                continue
        try:
            data, fds, _flags, _addr = socket.recv_fds(ctrl, 1 << 16, 4)
        except InterruptedError:
            continue
        if not data:
            os._exit(0)
        msg = json.loads(data)
        op = msg.get("op")
        try:
            if op == "spawn":
                if current is not None:
                    _end(cfg, current, 0.0)
                current = _spawn(cfg, msg, fds, ctrl)
                _ctrl_send(ctrl, {"op": "spawned", "sid": msg["sid"]})
            elif op == "end":
                reply = {"op": "ended", "sid": msg["sid"], "status": None, "killed": False}
                if current is not None and current["sid"] == msg["sid"]:
                    reply.update(_end(cfg, current, float(msg.get("grace", 0.0))))
                    current = None
                _ctrl_send(ctrl, reply)
            elif op == "ping":
                _ctrl_send(ctrl, {"op": "pong"})
            else:
                _ctrl_send(ctrl, {"op": "error", "msg": f"unknown op {op!r}"})
        except Exception as exc:  # report, keep serving; the grader decides
            for fd in fds:
                _close_quietly(fd)
            _ctrl_send(ctrl, {"op": "error", "msg": f"{type(exc).__name__}: {exc}"})


def _warm_up() -> None:
    """Import now what every child would otherwise import after the fork."""
    import resource  # noqa: F401
    import tempfile  # noqa: F401
    import traceback  # noqa: F401

    if "random" in sys.modules:
        sys.modules["random"].seed(0)
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed(0)


def _ctrl_send(ctrl: socket.socket, msg: dict[str, Any]) -> None:
    ctrl.sendall(json.dumps(msg).encode())


def _close_quietly(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def _check_inside_sandbox(cfg: dict[str, Any]) -> None:
    """Refuse to run the uid-wide kill unless we really are in a fresh PID namespace."""
    pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    with open("/proc/1/comm") as f:
        init = f.read().strip()
    uid = 0 if cfg["switch_uid"] else cfg["uid"]
    if init != "bwrap" or len(pids) > 3 or os.getuid() != uid:
        raise SystemExit("dl101 worker: not inside the expected bubblewrap sandbox")


def _spawn(cfg: dict[str, Any], msg: dict[str, Any], fds: list[int], ctrl) -> dict[str, Any]:
    if len(fds) != 2:
        raise ValueError("spawn needs two descriptors")
    sid = int(msg["sid"])
    if cfg["sandboxed"]:
        tmp = f"/tmp/s{sid}"
    else:
        import tempfile

        tmp = tempfile.mkdtemp(prefix=f"dl101-s{sid}-")
    pid = os.fork()
    if pid == 0:
        code = SETUP_FAILED
        try:
            ctrl.close()
            sock_fd = _child_setup(cfg, msg, fds, tmp)
            code = _Child(sock_fd, cfg).serve()
        except BaseException:
            try:
                import traceback

                traceback.print_exc()
                sys.stderr.flush()
            except BaseException:
                pass
        finally:
            os._exit(code)
    for fd in fds:
        os.close(fd)
    return {"sid": sid, "pid": pid, "tmp": tmp, "oom": False}


def _memory_kb(pid: int | str) -> tuple[int, int]:
    """(RssAnon, RssShmem) of a process in kB; (0, 0) if it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            text = f.read()
    except OSError:
        return 0, 0
    anon = re.search(r"^RssAnon:\s+(\d+)", text, re.M)
    shmem = re.search(r"^RssShmem:\s+(\d+)", text, re.M)
    return (int(anon.group(1)) if anon else 0), (int(shmem.group(1)) if shmem else 0)


def _watch_memory(cfg: dict[str, Any], current: dict[str, Any]) -> None:
    """RLIMIT_AS bounds each process; this bounds the session's processes together.

    A child's anonymous memory beyond the zygote's is (at least) what it allocated: pages
    still shared with the zygote are counted in both, so subtract the zygote's share.
    """
    base = cfg["base_anon"]
    total = 0
    for pid in _uid_pids(cfg["uid"]):
        anon, shmem = _memory_kb(pid)
        total += max(anon - base, 0) + shmem
    if total * 1024 > cfg["limits"]["memory"]:
        current["oom"] = True
        _kill_uid(cfg["uid"])


def _end(cfg: dict[str, Any], current: dict[str, Any], grace: float) -> dict[str, Any]:
    """Kill everything of the session, reap it, wipe its files. Returns the child's status."""
    pid = current["pid"]
    status = None
    deadline = time.monotonic() + grace
    while True:
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = st
            break
        if time.monotonic() >= deadline:
            break
        time.sleep(0.002)
    killed = status is None
    uid = cfg.get("uid")
    if cfg["sandboxed"]:
        _kill_uid(uid)
    else:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    if status is None:
        _, status = os.waitpid(pid, 0)
    clean = True
    if cfg["sandboxed"]:
        clean = _reap_uid(uid, time.monotonic() + 3.0)
        clean = _as_euid(uid, _wipe_tmp) and clean
    else:
        _reap_children()
        shutil.rmtree(current["tmp"], ignore_errors=True)
    return {"status": status, "killed": killed, "clean": clean, "memory": current["oom"]}


def _as_euid(uid: int, fn) -> Any:
    before = os.geteuid()
    if before == uid:
        return fn()
    os.setresuid(-1, uid, -1)
    try:
        return fn()
    finally:
        os.setresuid(-1, before, -1)


def _kill_uid(uid: int) -> None:
    """SIGKILL every process of ``uid`` in this PID namespace, in one atomic kill(-1)."""

    def kill_all() -> None:
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass

    _as_euid(uid, kill_all)


def _uid_pids(uid: int) -> list[int]:
    """Processes of ``uid`` (real, effective or saved) but this one and PID 1."""
    found = []
    me = str(os.getpid())
    for name in os.listdir("/proc"):
        if not name.isdigit() or name in ("1", me):
            continue
        try:
            with open(f"/proc/{name}/status") as f:
                text = f.read()
        except OSError:
            continue
        m = re.search(r"^Uid:\s+(\d+)\s+(\d+)\s+(\d+)", text, re.M)
        if m and str(uid) in m.groups():
            found.append(int(name))
    return found


def _user_threads(uid: int) -> int:
    total = 0
    for pid in _uid_pids(uid):
        try:
            with open(f"/proc/{pid}/status") as f:
                m = re.search(r"^Threads:\s+(\d+)", f.read(), re.M)
        except OSError:
            continue
        total += int(m.group(1)) if m else 1
    return total


def _reap_children() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _reap_uid(uid: int, deadline: float) -> bool:
    """Reap orphans (we are their subreaper) until no process of ``uid`` is left."""
    while True:
        _reap_children()
        left = _uid_pids(uid)
        if not left:
            return True
        if time.monotonic() > deadline:
            return False
        _kill_uid(uid)
        time.sleep(0.002)


def _wipe_tmp() -> bool:
    """Empty /tmp (run with the student's euid: they own all of it). True if empty."""
    uid = os.geteuid()
    for entry in os.scandir("/tmp"):
        try:
            if entry.stat(follow_symlinks=False).st_uid != uid:
                continue  # the zygote's own (e.g. ~/.keras made while importing TensorFlow)
            if entry.is_dir(follow_symlinks=False):
                _unlock_tree(entry.path)
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)
        except OSError:
            pass
    return not any(e.stat(follow_symlinks=False).st_uid == uid for e in os.scandir("/tmp"))


def _unlock_tree(top: str) -> None:
    """chmod 0700 every directory under ``top`` (a student may have locked them)."""
    stack = [top]
    while stack:
        path = stack.pop()
        try:
            os.chmod(path, 0o700, follow_symlinks=False)
            with os.scandir(path) as entries:
                stack.extend(e.path for e in entries if e.is_dir(follow_symlinks=False))
        except OSError:
            continue


# ---------------------------------------------------------------------------- child set-up


def _child_setup(cfg: dict[str, Any], msg: dict[str, Any], fds: list[int], tmp: str | None) -> int:
    """Everything before student code. Returns the protocol socket's descriptor."""
    sock_fd, out_fd = fds
    os.setpgid(0, 0)  # its own process group (killpg in unsafe mode)
    devnull = os.open("/dev/null", os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(out_fd, 1)
    os.dup2(out_fd, 2)
    os.dup2(sock_fd, 3)
    for name in os.listdir("/proc/self/fd"):  # everything else inherited from the zygote
        if int(name) > 3:
            _close_quietly(int(name))
    uid = cfg.get("uid")
    if cfg["sandboxed"]:
        _as_euid(uid, lambda: os.mkdir(tmp, 0o700))  # owned by the student, not root
    lim = dict(cfg["limits"])
    if not cfg["switch_uid"] and os.geteuid() != 0:
        # NPROC counts this uid's tasks: in the sandbox's user namespace, bwrap's PID 1 and
        # the zygote; without a sandbox, all of the user's tasks on the machine.
        lim["nproc"] += 2 if cfg["sandboxed"] else _user_threads(os.getuid())
    apply_rlimits(lim)
    _prctl(PR_SET_DUMPABLE, 1)  # undo the zygote's setting: /proc/self is ours again
    with open("/proc/self/oom_score_adj", "w") as f:
        f.write("1000")  # if the machine runs out of memory, kill students first
    if cfg["switch_uid"]:
        _drop_privileges(uid)
    elif cfg["sandboxed"]:
        _clear_capabilities()
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if cfg["sandboxed"]:
        _verify_confined(uid, cfg["gid"], cfg["switch_uid"])
    env = dict(cfg["env"])
    env.update(msg.get("env") or {})
    env.update({"HOME": tmp, "TMPDIR": tmp, "DL101_GRADING": "1", "MPLCONFIGDIR": tmp})
    os.environ.clear()
    os.environ.update(env)
    os.chdir(tmp)
    import tempfile

    tempfile.tempdir = None
    return 3


def _drop_privileges(uid: int) -> None:
    with open("/proc/sys/kernel/cap_last_cap") as f:
        last = int(f.read())
    for cap in range(last + 1):
        _prctl(PR_CAPBSET_DROP, cap)
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    _clear_capabilities()


def _clear_capabilities() -> None:
    header = _CapHeader(_CAP_VERSION_3, 0)
    data = (_CapData * 2)()
    if _libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset")
    _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)


def _verify_confined(uid: int, gid: int, switched: bool) -> None:
    """Read back what the kernel says: refuse to run student code otherwise."""
    with open("/proc/self/status") as f:
        status = dict(line.split(":", 1) for line in f.read().splitlines() if ":" in line)
    problems = []
    if any(int(x) != uid for x in status["Uid"].split()):
        problems.append("uid")
    if any(int(x) != (uid if switched else gid) for x in status["Gid"].split()):
        problems.append("gid")
    for key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        if int(status[key].strip(), 16) != 0:
            problems.append(key)
    if status["NoNewPrivs"].strip() != "1" or status["Seccomp"].strip() != "2":
        problems.append("no-new-privs/seccomp")
    if switched and status.get("Groups", "").strip():
        problems.append("groups")
    if problems:
        raise RuntimeError(f"child not confined: {', '.join(problems)}")


# ---------------------------------------------------------------------------- output


class _Budget:
    def __init__(self, left: int):
        self.left = left


class _RawOut:
    def __init__(self, fd: int, budget: _Budget):
        self._fd = fd
        self._budget = budget

    def write(self, data: bytes) -> int:
        data = bytes(data)
        keep = data[: max(self._budget.left, 0)]
        self._budget.left -= len(keep)
        view = memoryview(keep)
        while view:
            try:
                view = view[os.write(self._fd, view) :]
            except InterruptedError:
                continue
            except OSError:
                break
        return len(data)

    def flush(self) -> None:
        pass


class _Out(io.TextIOBase):
    """stdout/stderr of the student: kept up to a shared budget, the rest dropped."""

    def __init__(self, fd: int, budget: _Budget, name: str):
        super().__init__()
        self._fd = fd
        self._name = name
        self.buffer = _RawOut(fd, budget)
        self._budget = budget
        self._pending: list[bytes] = []
        self._size = 0

    @property
    def encoding(self) -> str:
        return "utf-8"

    @property
    def name(self) -> str:
        return self._name

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def isatty(self) -> bool:
        return False

    def write(self, s: str) -> int:
        if not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        if self._budget.left - self._size > 0:
            data = s.encode("utf-8", "backslashreplace")
            self._pending.append(data)
            self._size += len(data)
            if self._size >= 8192 or "\n" in s:
                self.flush()
        return len(s)

    def flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            self._size = 0
            self.buffer.write(data)


# ---------------------------------------------------------------------------- child


class _Child:
    """Runs the cells and answers calls on the protocol socket (fd 3)."""

    def __init__(self, sock_fd: int, cfg: dict[str, Any]):
        self.cfg = cfg
        self.sock = socket.socket(fileno=sock_fd)
        budget = _Budget(int(cfg["limits"]["output"]) + 64)
        sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stdout = _Out(1, budget, "<stdout>")
        sys.stderr = _Out(2, budget, "<stderr>")
        sys.modules["cnn_ref"] = None  # type: ignore[assignment]
        sys.argv = [""]
        if "random" in sys.modules:
            sys.modules["random"].seed(0)
        if "numpy" in sys.modules:
            sys.modules["numpy"].random.seed(0)
        self.ns: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}

    def serve(self) -> int:
        self._send({"op": "hello", "uid": os.getuid()})
        while True:
            try:
                header, arrays = protocol.read_frame(self._recv_exact, _CHILD_MAX_FRAME)
            except EOFError:
                return 0
            op = header.get("op")
            if op == "cells":
                self._cells(header["cells"])
            elif op in ("call", "harness", "defined"):
                self._request(op, header, arrays)
            else:
                return SETUP_FAILED

    def _recv_exact(self, n: int) -> bytearray:
        buf = bytearray(n)
        view = memoryview(buf)
        got = 0
        while got < n:
            k = self.sock.recv_into(view[got:], n - got)
            if k == 0:
                raise EOFError
            got += k
        return buf

    def _send(self, header: dict[str, Any], **values: Any) -> None:
        self._flush_output()
        for buf in protocol.frame(header, **values):
            self.sock.sendall(buf)

    def _flush_output(self) -> None:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass

    def _cells(self, cells: list[str]) -> None:
        for index, source in enumerate(cells):
            error = ""
            try:
                code = compile(source, f"<cell {index}>", "exec")
                exec(code, self.ns)  # noqa: S102 -- the one place student code runs
            except SyntaxError as exc:
                error = f"{type(exc).__name__}: {_one_line(exc.msg)}"
                if exc.lineno:
                    error += f" (line {exc.lineno})"
            except BaseException as exc:
                error = describe(exc)
            self._send({"op": "cell", "index": index, "ok": not error, "error": error})
        self._send({"op": "cells_done"})

    def _request(self, op: str, header: dict[str, Any], arrays: list) -> None:
        rid = header["id"]
        name = header["name"]
        if op == "defined":
            self._send({"op": "ok", "id": rid}, v=name in self.ns)
            return
        args = protocol.decode(header["args"], arrays)
        kwargs = protocol.decode(header["kwargs"], arrays)
        del arrays
        if op == "harness":
            label = f"{name.rsplit('.', 1)[-1]}.{header['function']}"
            try:
                fn = getattr(importlib.import_module(name), header["function"])
                result = fn(self.ns, *args, **kwargs)
            except BaseException as exc:
                self._error(rid, "exception", describe(exc))
                return
        else:
            label = name
            if name not in self.ns:
                self._error(rid, "missing", f"{name} is not defined in your notebook")
                return
            fn = self.ns[name]
            if not callable(fn):
                what = protocol.type_name(fn)
                self._error(rid, "exception", f"{name} is not a function (it is a {what})")
                return
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                self._error(rid, "exception", describe(exc))
                return
        del args, kwargs, header
        try:
            buffers = protocol.frame({"op": "ok", "id": rid}, v=result)
        except protocol.Unsupported as exc:
            self._error(
                rid, "badreturn", f"{label} returned {exc.what}; expected numbers or arrays"
            )
            return
        except BaseException as exc:
            self._error(
                rid,
                "badreturn",
                f"{label} returned a value that could not be read ({describe(exc)})",
            )
            return
        size = sum(memoryview(b).nbytes for b in buffers)
        limit = int(self.cfg["limits"]["max_frame"])
        if size > limit:
            self._error(
                rid,
                "badreturn",
                f"{label} returned {size >> 20} MiB; the limit is {limit >> 20} MiB",
            )
            return
        self._flush_output()
        for buf in buffers:
            self.sock.sendall(buf)

    def _error(self, rid: int, kind: str, msg: str) -> None:
        self._send({"op": "err", "id": rid, "kind": kind, "msg": msg[:1000]})


def _one_line(text: Any) -> str:
    try:
        text = str(text)
    except BaseException:
        return "<message unavailable>"
    text = " ".join(text.split())
    return text if len(text) <= _MSG_CHARS else text[: _MSG_CHARS - 3] + "..."


def describe(exc: BaseException) -> str:
    """``"ValueError: bad shape (in conv2d, line 12)"``: type, message, the student's line."""
    try:
        kind = type(exc).__name__
        if not isinstance(kind, str):
            kind = "Exception"
    except BaseException:
        kind = "Exception"
    message = _one_line(exc)
    text = f"{kind}: {message}" if message else kind
    where = None
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename.startswith("<cell "):
            where = (code.co_name, tb.tb_lineno)
        tb = tb.tb_next
    if where is not None:
        func, line = where
        text += f" (line {line})" if func == "<module>" else f" (in {func}, line {line})"
    return text


if __name__ == "__main__":  # pragma: no cover - started by Worker with a JSON config
    zygote(json.loads(sys.argv[1]))
    raise SystemExit(errno.EINVAL)
