"""The trusted side: Worker (one warm zygote per slot) and Session (one submission).

Not thread-safe: use one Worker per thread. bwrap is started with --die-with-parent,
which Linux ties to the *thread* that started it: start a Worker on a thread that
outlives it.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import select
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from grader import protocol
from grader.errors import (
    BadReturn,
    GraderError,
    SandboxUnavailable,
    StudentCrash,
    StudentException,
    StudentTimeout,
)
from grader.sandbox import bwrap
from grader.sandbox.limits import Limits

#: Slot ``n`` runs students as uid ``UID_BASE + n`` (or + 500, + 1000, ... while that uid is
#: locked by another Worker on this machine, e.g. a concurrent grading run).
UID_BASE = 61000
MAX_SLOT = 500
_UID_STRIDE = 500
_UID_CHOICES = 8
_CTRL_TIMEOUT = 10.0
_END_TIMEOUT = 8.0
_MSG_CHARS = 1000
_BOOTSTRAP = (
    "import sys,json;c=json.loads(sys.argv[1]);sys.path.extend(c['path']);"
    "from grader.sandbox.worker import zygote;zygote(c)"
)
_DEFAULT_LIMITS = Limits()
_HARNESS = re.compile(r"grader\.harness(\.[A-Za-z_][A-Za-z0-9_]*)+")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class CellOutcome:
    """One notebook cell as run in the sandbox (``index`` counts from 0; the cell's code is
    compiled as ``<cell index>``)."""

    index: int
    ok: bool
    error: str = ""


class _Gone(Exception):
    """The zygote did not answer (dead or hung)."""


class _Timeout(Exception):
    pass


class _Eof(Exception):
    pass


# ---------------------------------------------------------------------------- Worker


class Worker:
    """A warm zygote in a bubblewrap sandbox; forks one child per submission.

    ``unsafe=True`` runs the zygote as a plain subprocess with rlimits only (for machines
    without bubblewrap; every report must say so).
    """

    def __init__(
        self,
        *,
        slot: int = 0,
        unsafe: bool = False,
        preload: tuple[str, ...] = ("numpy",),
        limits: Limits = _DEFAULT_LIMITS,
    ):
        if not (isinstance(slot, int) and 0 <= slot < MAX_SLOT):
            raise ValueError(f"slot must be an int in [0, {MAX_SLOT})")
        for name in preload:
            if not re.fullmatch(r"[A-Za-z_][\w.]*", name):
                raise ValueError(f"bad module name to preload: {name!r}")
        self.slot = slot
        self.unsafe = unsafe
        self.preload = tuple(preload)
        self.limits = limits
        #: The unprivileged uid the students of this slot run as (root mode; None otherwise).
        self.uid: int | None = None
        self._launches = 0
        self._proc: subprocess.Popen | None = None
        self._ctrl: socket.socket | None = None
        self._stderr = None
        self._init: tuple[int, str] | None = None  # host PID and start time of the sandbox's PID 1
        self._lock_fd: int | None = None
        self._unsafe_dir: tempfile.TemporaryDirectory | None = None
        self._session: Session | None = None
        self.info: dict[str, Any] = {}
        self._sid = 0
        self._closed = False

    # -- life cycle

    @property
    def restarts(self) -> int:
        """How many times the sandbox was restarted after a hang or a death."""
        return max(self._launches - 1, 0)

    def __enter__(self) -> Worker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Start the zygote (idempotent). Raises SandboxUnavailable naming the fix."""
        if self._closed:
            raise GraderError("this Worker is closed")
        if self._proc is not None:
            return
        if not self.unsafe:
            problem = bwrap.sandbox_problem()
            if problem:
                raise SandboxUnavailable(problem)
            if self.uid is None and os.geteuid() == 0:
                self.uid, self._lock_fd = _claim_uid(self.slot)
        self._launch()

    @property
    def mode(self) -> str:
        """ "root" (per-slot uid), "userns" (unprivileged bubblewrap) or "unsafe"."""
        if self.unsafe:
            return "unsafe"
        return "root" if os.geteuid() == 0 else "userns"

    def _launch(self) -> None:
        self._launches += 1
        layout = bwrap.Layout.current()
        ctrl, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._stderr = tempfile.TemporaryFile()
        cfg: dict[str, Any] = {
            "ctrl_fd": theirs.fileno(),
            "sandboxed": not self.unsafe,
            "switch_uid": self.uid is not None,
            "uid": self.uid if self.uid is not None else os.getuid(),
            "gid": os.getgid(),
            "preload": list(self.preload),
            "limits": self.limits.to_dict(),
            "env": dict(bwrap.BASE_ENV),
        }
        pass_fds = [theirs.fileno()]
        seccomp_r = info_r = info_w = None
        if self.unsafe:
            self._unsafe_dir = tempfile.TemporaryDirectory(prefix="dl101-worker-")
            os.symlink(layout.grader_dir, os.path.join(self._unsafe_dir.name, "grader"))
            cfg["path"] = [*layout.site_dirs, self._unsafe_dir.name]
            env = dict(bwrap.BASE_ENV, HOME=self._unsafe_dir.name, TMPDIR=self._unsafe_dir.name)
            cfg["env"] = env
            argv = bwrap.python_argv(layout.python)
            cwd = self._unsafe_dir.name
        else:
            from grader.sandbox import seccomp

            program = seccomp.bpf_program()
            seccomp_r, seccomp_w = os.pipe()
            os.write(seccomp_w, program)
            os.close(seccomp_w)
            info_r, info_w = os.pipe2(os.O_CLOEXEC)
            pass_fds += [seccomp_r, info_w]
            head, cfg["path"] = bwrap.command(
                layout,
                tmp_size=self.limits.tmpfs,
                seccomp_fd=seccomp_r,
                privileged=self.uid is not None,
            )
            argv = [*head, "--info-fd", str(info_w), "--", *bwrap.python_argv(layout.python)]
            env = {"PATH": "/usr/bin:/bin"}
            cwd = "/"
        argv += ["-c", _BOOTSTRAP, json.dumps(cfg)]
        try:
            self._proc = subprocess.Popen(
                argv,
                pass_fds=pass_fds,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=self._stderr,
                env=env,
                cwd=cwd,
                start_new_session=True,
            )
        except BaseException:
            for fd in (info_r, info_w):
                if fd is not None:
                    os.close(fd)
            ctrl.close()
            raise
        finally:
            theirs.close()
            if seccomp_r is not None:
                os.close(seccomp_r)
        self._ctrl = ctrl
        deadline = time.monotonic() + self.limits.start_timeout
        if info_r is not None:
            os.close(info_w)
            self._init = _read_init_pid(info_r, deadline)
        try:
            reply = self._ctrl_wait(deadline)
        except _Gone:
            detail = self._stderr_tail()
            self._kill_sandbox()
            raise GraderError(f"the sandboxed worker did not start: {detail}") from None
        if reply.get("op") != "ready":
            self._kill_sandbox()
            raise GraderError(f"the sandboxed worker did not start: {reply}")
        #: What the zygote reported when ready (its pid inside, its thread count).
        self.info = reply

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        try:
            self._stderr.seek(0)
            lines = self._stderr.read()[-4000:].decode("utf-8", "replace").strip().splitlines()
        except (OSError, ValueError):
            return "no error output"
        return lines[-1] if lines else "no error output"

    def close(self) -> None:
        """Kill the sandbox: no process of this worker outlives this call."""
        self._closed = True
        try:
            if self._session is not None:
                self._session.close()
                self._session = None
        finally:
            self._kill_sandbox()
        survivors = self.uid is not None and not _wait_uid_gone(self.uid, 5.0)
        if self._lock_fd is not None and not survivors:
            os.close(self._lock_fd)  # keep the uid locked if anything of it is still alive
            self._lock_fd = None
        if survivors:
            raise GraderError(f"processes of uid {self.uid} survived the sandbox")

    def __del__(self) -> None:
        proc = getattr(self, "_proc", None)
        if proc is not None and proc.poll() is None:
            _kill_tree(proc, getattr(self, "_init", None))

    def _kill_sandbox(self) -> None:
        if self._proc is not None:
            _kill_tree(self._proc, self._init)
            self._proc = None
            self._init = None
        if self._ctrl is not None:
            self._ctrl.close()
            self._ctrl = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        if self._unsafe_dir is not None:
            self._unsafe_dir.cleanup()
            self._unsafe_dir = None

    def _restart(self) -> None:
        self._kill_sandbox()
        if self.uid is not None:
            _wait_uid_gone(self.uid, 5.0)
        self._launch()

    # -- control channel

    def _ctrl_request(self, msg: dict[str, Any], fds: tuple[int, ...] = (), timeout=_CTRL_TIMEOUT):
        if self._ctrl is None or self._proc is None or self._proc.poll() is not None:
            raise _Gone
        data = json.dumps(msg).encode()
        try:
            if fds:
                socket.send_fds(self._ctrl, [data], list(fds))
            else:
                self._ctrl.sendall(data)
        except OSError:
            raise _Gone from None
        reply = self._ctrl_wait(time.monotonic() + timeout)
        if reply.get("op") == "error":
            raise GraderError(f"sandboxed worker error: {reply.get('msg')}")
        return reply

    def _ctrl_wait(self, deadline: float) -> dict[str, Any]:
        assert self._ctrl is not None
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _Gone
            ready, _, _ = select.select([self._ctrl], [], [], min(left, 0.5))
            if not ready:
                if self._proc is None or self._proc.poll() is not None:
                    raise _Gone
                continue
            try:
                data = self._ctrl.recv(1 << 16)
            except OSError:
                raise _Gone from None
            if not data:
                raise _Gone
            try:
                reply = json.loads(data)
            except ValueError:
                raise _Gone from None
            if isinstance(reply, dict):
                return reply
            raise _Gone

    # -- sessions

    def session(self, cells: list[str], *, env: dict[str, str] | None = None) -> Session:
        """Fork a child for one submission and run ``cells`` in it, in order."""
        if self._session is not None and not self._session.closed:
            raise GraderError("a Worker runs one session at a time: close the previous one")
        if not isinstance(cells, list | tuple) or not all(isinstance(c, str) for c in cells):
            raise TypeError("cells must be a list of str")
        env = dict(env or {})
        for key, value in env.items():
            if not (isinstance(key, str) and isinstance(value, str)) or "=" in key or not key:
                raise TypeError("env must map names to str values")
        self.start()
        started = time.monotonic()
        for _attempt in range(3):
            if self._proc is None or self._proc.poll() is not None:
                self._restart()
            session = self._spawn(env, started)
            if session is None:
                self._kill_sandbox()  # the zygote did not answer: restart it
                continue
            problem = session._handshake()
            if problem is None:
                break
            if self._proc is not None and self._proc.poll() is None:
                raise GraderError(f"the sandbox could not start a child: {problem}")
            self._kill_sandbox()  # the sandbox died under us: restart it
        else:
            raise GraderError("the sandboxed worker cannot start a session")
        self._session = session
        session._run_cells(list(cells))
        return session

    def _spawn(self, env: dict[str, str], started: float) -> Session | None:
        self._sid += 1
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        try:
            self._ctrl_request(
                {"op": "spawn", "sid": self._sid, "env": env}, (theirs.fileno(), out_w)
            )
        except _Gone:
            mine.close()
            os.close(out_r)
            return None
        finally:
            theirs.close()
            os.close(out_w)
        return Session(self, self._sid, mine, out_r, started)

    def _end(self, sid: int, grace: float) -> dict[str, Any] | None:
        """Kill the session's processes; the child's wait status, or None if unknown."""
        try:
            reply = self._ctrl_request(
                {"op": "end", "sid": sid, "grace": grace}, timeout=_END_TIMEOUT
            )
        except (_Gone, GraderError):
            self._kill_sandbox()  # hung or dead: the next session restarts it
            return None
        if not reply.get("clean", True):
            self._kill_sandbox()
        return reply


# ---------------------------------------------------------------------------- Session


class Session:
    """One submission's child: its cells have run; call its functions."""

    def __init__(self, worker: Worker, sid: int, sock: socket.socket, out_fd: int, started: float):
        self._worker = worker
        self._sid = sid
        self._sock = sock
        self._sock.setblocking(False)
        self._out_fd = out_fd
        os.set_blocking(out_fd, False)
        self._poll = select.poll()
        self._poll.register(sock.fileno(), select.POLLIN)
        self._poll.register(out_fd, select.POLLIN)
        self._limits = worker.limits
        self._deadline = started + worker.limits.session_wall
        self._out = bytearray()
        self._out_total = 0
        self._out_open = True
        self._rid = 0
        self.cells: list[CellOutcome] = []
        #: False once the child is gone (crash, timeout, close).
        self.alive = True
        #: True if the session died of a timeout (per call or the whole budget).
        self.timed_out = False
        #: Why the session died, for the student ("" while alive or after a plain close).
        self.reason = ""
        self.closed = False
        self._wall_spent = False

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public

    @property
    def output(self) -> str:
        """The student's stdout/stderr so far, capped at ``Limits.output`` bytes."""
        if self._out_open:
            self._drain()
        text = self._out.decode("utf-8", "replace")
        if self._out_total > self._limits.output:
            text += "\n[output truncated]"
        return text

    def call(self, name: str, /, *args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
        """Call the student's function ``name``; the result is plain data."""
        if not isinstance(name, str) or not _IDENT.fullmatch(name):
            raise ValueError(f"not a function name: {name!r}")
        reply, arrays = self._exchange(
            {"op": "call", "name": name}, name, timeout, args=args, kwargs=kwargs
        )
        return self._result(reply, arrays, name)

    def defined(self, name: str) -> bool:
        """Whether the notebook defines ``name`` (False if the session is dead)."""
        if not isinstance(name, str):
            raise TypeError("name must be a str")
        if not self.alive:
            return False
        try:
            reply, arrays = self._exchange({"op": "defined", "name": name}, name, None)
            value = self._result(reply, arrays, name)
        except (StudentCrash, StudentTimeout):
            return False
        return value is True

    def run_harness(
        self, module: str, function: str, /, *args: Any, timeout: float | None = None, **kwargs: Any
    ) -> Any:
        """Call trusted harness code ``grader.harness.<module>.<function>(namespace, ...)``
        inside the child. Its result is student data like ``call``'s."""
        if "." not in module:
            module = f"grader.harness.{module}"
        if not _HARNESS.fullmatch(module) or not _IDENT.fullmatch(function):
            raise ValueError(f"not a harness function: {module}.{function}")
        label = f"{module.rsplit('.', 1)[1]}.{function}"
        reply, arrays = self._exchange(
            {"op": "harness", "name": module, "function": function},
            label,
            timeout,
            args=args,
            kwargs=kwargs,
        )
        return self._result(reply, arrays, label)

    def close(self) -> None:
        """Kill the child and everything it started (idempotent)."""
        if self.closed:
            return
        self.closed = True
        if self.alive:
            self._stop(grace=0.0)
        self._drain_to_eof()
        self._poll = None
        if self._worker._session is self:
            self._worker._session = None

    # -- internals

    def _dead_error(self) -> Exception:
        if self._wall_spent:
            return StudentTimeout(
                f"not run: the notebook used up its time budget ({self._limits.session_wall:g} s)"
            )
        return StudentCrash(f"not run: {self.reason or 'the session is closed'}")

    def _deadline_for(self, timeout: float | None) -> tuple[float, bool]:
        t = self._limits.call_timeout if timeout is None else float(timeout)
        if not t > 0:
            raise ValueError("timeout must be positive")
        mine = time.monotonic() + t
        if mine >= self._deadline:
            return self._deadline, True
        return mine, False

    def _exchange(self, header: dict, label: str, timeout: float | None, **values: Any):
        if not self.alive or self.closed:
            raise self._dead_error()
        if time.monotonic() >= self._deadline:
            raise self._wall_spent_error(label)
        deadline, is_wall = self._deadline_for(timeout)
        try:
            buffers = protocol.frame(dict(header, id=self._rid + 1), **values)
        except protocol.Unsupported as exc:
            raise TypeError(f"cannot send {exc.what} to the sandbox") from None
        self._rid += 1
        try:
            self._send(buffers, deadline)
            reply, arrays = self._read(deadline)
        except _Timeout:
            if is_wall:
                raise self._wall_spent_error(label) from None
            t = self._limits.call_timeout if timeout is None else timeout
            self._stop(grace=0.0)
            self.timed_out = True
            self.reason = f"{label} did not finish within {t:g} s and was stopped"
            raise StudentTimeout(f"{label} did not finish within {t:g} s") from None
        except _Eof:
            raise self._crashed(label) from None
        except protocol.ProtocolError as exc:
            raise self._violation(label, str(exc)) from None
        if reply.get("id") != self._rid:
            raise self._violation(label, "reply out of order")
        return reply, arrays

    def _wall_spent_error(self, label: str) -> StudentTimeout:
        self._stop(grace=0.0)
        self.timed_out = True
        self._wall_spent = True
        self.reason = f"the notebook used up its time budget ({self._limits.session_wall:g} s)"
        return StudentTimeout(f"{self.reason} while running {label}")

    def _result(self, reply: dict, arrays: list, label: str) -> Any:
        op = reply.get("op")
        if op == "ok" and "v" in reply:
            try:
                return protocol.decode(reply["v"], arrays)
            except protocol.ProtocolError as exc:
                raise self._violation(label, str(exc)) from None
        if op == "err":
            kind, msg = reply.get("kind"), _clean(reply.get("msg"))
            if kind in ("exception", "missing"):
                raise StudentException(msg)
            if kind == "badreturn":
                raise BadReturn(msg)
        raise self._violation(label, "unexpected reply")

    def _violation(self, label: str, why: str) -> StudentCrash:
        self._stop(grace=0.0)
        self.reason = f"protocol violation while running {label} ({why})"
        return StudentCrash(self.reason)

    def _crashed(self, label: str) -> StudentCrash:
        info = self._stop(grace=0.5)
        self.reason = f"{_describe_end(info, self._limits)} while running {label}"
        return StudentCrash(self.reason)

    def _stop(self, grace: float) -> dict[str, Any] | None:
        """Kill the child (via the zygote); returns the zygote's report."""
        if not self.alive:
            return None
        self.alive = False
        try:
            self._sock.close()
        except OSError:
            pass
        return self._worker._end(self._sid, grace)

    def _handshake(self) -> str | None:
        """Wait for the child's hello; None if it came, else why not (session closed)."""
        deadline = min(self._deadline, time.monotonic() + _CTRL_TIMEOUT)
        try:
            hello, _ = self._read(deadline)
            if hello.get("op") == "hello":
                return None
        except (_Eof, _Timeout, protocol.ProtocolError):
            pass
        info = self._stop(grace=0.5)
        detail = self.output.strip().splitlines()
        self.close()
        return detail[-1] if detail else _describe_end(info, self._limits)

    def _run_cells(self, cells: list[str]) -> None:
        deadline = self._deadline
        try:
            self._send(protocol.frame({"op": "cells", "cells": cells}), deadline)
        except protocol.Unsupported:
            self._stop(grace=0.0)
            self.reason = "the notebook's code is too large (over 4 MiB)"
            self._fail_cells(len(cells), self.reason)
            return
        except (_Eof, _Timeout):
            pass  # the reads below tell what happened
        try:
            for index in range(len(cells)):
                msg, _ = self._read(deadline)
                if (
                    msg.get("op") != "cell"
                    or msg.get("index") != index
                    or type(msg.get("ok")) is not bool
                    or not isinstance(msg.get("error", ""), str)
                ):
                    raise protocol.ProtocolError("bad cell report")
                self.cells.append(CellOutcome(index, msg["ok"], _clean(msg.get("error", ""))))
            done, _ = self._read(deadline)
            if done.get("op") != "cells_done":
                raise protocol.ProtocolError("bad end of cells")
        except _Timeout:
            self._stop(grace=0.0)
            self.timed_out = True
            self._wall_spent = True
            self.reason = f"the notebook used up its time budget ({self._limits.session_wall:g} s)"
            self._fail_cells(len(cells), self.reason)
        except _Eof:
            info = self._stop(grace=0.5)
            self.reason = f"the notebook's process {_describe_end(info, self._limits)}"
            self._fail_cells(len(cells), self.reason)
        except protocol.ProtocolError as exc:
            self._stop(grace=0.0)
            self.reason = f"protocol violation while running the notebook ({exc})"
            self._fail_cells(len(cells), self.reason)

    def _fail_cells(self, count: int, reason: str) -> None:
        """Mark the cell that was running as failed and the ones after it as not run."""
        start = len(self.cells)
        for index in range(start, count):
            error = reason if index == start else f"not run: {reason} in cell {start}"
            self.cells.append(CellOutcome(index, False, error))

    # -- I/O with deadlines

    def _wait(self, deadline: float, events: int) -> None:
        self._poll.modify(self._sock.fileno(), events)
        left = deadline - time.monotonic()
        if left <= 0:
            raise _Timeout
        for fd, _ev in self._poll.poll(max(1, int(left * 1000 + 0.999))):
            if fd == self._out_fd:
                self._drain()

    def _send(self, buffers: list, deadline: float) -> None:
        for buf in buffers:
            view = memoryview(buf).cast("B")
            while view:
                try:
                    n = self._sock.send(view, socket.MSG_NOSIGNAL)
                except BlockingIOError:
                    self._wait(deadline, select.POLLOUT)
                    continue
                except OSError as exc:
                    if exc.errno in (errno.EPIPE, errno.ECONNRESET):
                        raise _Eof from None
                    raise
                view = view[n:]

    def _recv_exact(self, n: int, deadline: float) -> bytearray:
        buf = bytearray(n)
        view = memoryview(buf)
        got = 0
        while got < n:
            try:
                k = self._sock.recv_into(view[got:], n - got)
            except BlockingIOError:
                self._wait(deadline, select.POLLIN)
                continue
            except ConnectionResetError:
                raise _Eof from None
            if k == 0:
                raise _Eof
            got += k
        return buf

    def _read(self, deadline: float):
        return protocol.read_frame(lambda n: self._recv_exact(n, deadline), self._limits.max_frame)

    def _drain(self) -> None:
        """Read what the child wrote to its stdout/stderr (at most 1 MiB per call, so that
        a child writing without end cannot keep us from our deadline)."""
        for _ in range(16):
            if not self._out_open:
                return
            try:
                data = os.read(self._out_fd, 1 << 16)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._close_output()
                return
            keep = self._limits.output - len(self._out)
            if keep > 0:
                self._out += data[:keep]
            self._out_total += len(data)

    def _close_output(self) -> None:
        if self._out_open:
            self._out_open = False
            if self._poll is not None:
                try:
                    self._poll.unregister(self._out_fd)
                except (KeyError, ValueError):
                    pass
            os.close(self._out_fd)

    def _drain_to_eof(self) -> None:
        # Every writer is dead after _stop: read what is left, at most ~1 s worth.
        deadline = time.monotonic() + 1.0
        while self._out_open and time.monotonic() < deadline:
            self._drain()
            if self._out_open:
                select.select([self._out_fd], [], [], 0.05)
        self._close_output()


# ---------------------------------------------------------------------------- helpers


def _clean(msg: Any) -> str:
    """A message from the child, made safe to show: str, one line, capped."""
    if not isinstance(msg, str):
        return "(no message)"
    msg = "".join(ch if ch.isprintable() else " " for ch in msg[:_MSG_CHARS])
    return msg.strip()


_SIGNALS = {
    signal.SIGXCPU: "killed: CPU time limit ({cpu} s)",
    signal.SIGKILL: "killed (SIGKILL; out of memory?)",
    signal.SIGSEGV: "crashed: segmentation fault",
    signal.SIGABRT: "aborted (often the memory limit)",
    signal.SIGBUS: "crashed: bus error",
    signal.SIGXFSZ: "killed: file size limit",
}


def _describe_end(info: dict[str, Any] | None, limits: Limits) -> str:
    status = info.get("status") if info else None
    if info and info.get("memory"):
        return f"killed: memory limit ({limits.memory / (1 << 30):g} GiB for all its processes)"
    if not isinstance(status, int):
        return "stopped answering"
    if os.WIFEXITED(status):
        return f"exited with code {os.WEXITSTATUS(status)}"
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGKILL and info.get("killed"):
            return "closed the grader's channel"
        if sig in _SIGNALS:
            return _SIGNALS[sig].format(cpu=limits.cpu)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        return f"killed by signal {name}"
    return "stopped"


def _read_init_pid(fd: int, deadline: float) -> tuple[int, str] | None:
    """bwrap's --info-fd report: the host PID of the sandbox's PID 1, and its start time."""
    data = b""
    try:
        while len(data) < 4096:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(fd)
    try:
        pid = int(json.loads(data)["child-pid"])
    except (ValueError, KeyError, TypeError):
        return None
    start = _start_time(pid)
    return (pid, start) if start else None


def _start_time(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode("ascii", "replace")
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


def _kill_tree(proc: subprocess.Popen, init: tuple[int, str] | None) -> None:
    """Kill the sandbox and wait until its PID namespace is gone.

    SIGKILL to the namespace's PID 1 makes the kernel kill every process in it, and PID 1
    exits only after all of them; bwrap (its parent) then exits too.
    """
    if init is not None and proc.poll() is None and _start_time(init[0]) == init[1]:
        try:
            os.kill(init[0], signal.SIGKILL)
            proc.wait(timeout=5)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.kill()
    except OSError:
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    if init is not None:  # bwrap was killed first (from outside): wait for PID 1 itself
        deadline = time.monotonic() + 10
        while _start_time(init[0]) == init[1] and time.monotonic() < deadline:
            try:
                with open(f"/proc/{init[0]}/stat", "rb") as f:
                    if f.read().rsplit(b")", 1)[-1].split()[0] in (b"Z", b"X"):
                        break
            except OSError:
                break
            time.sleep(0.005)


def uid_processes(uid: int) -> list[int]:
    """PIDs (host view) of the processes whose real, effective or saved uid is ``uid``."""
    found = []
    needle = str(uid)
    try:
        names = os.listdir("/proc")
    except OSError:
        return found
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status", "rb") as f:
                text = f.read().decode("ascii", "replace")
        except OSError:
            continue
        m = re.search(r"^Uid:\s+(\d+)\s+(\d+)\s+(\d+)", text, re.M)
        if m and needle in m.groups():
            found.append(int(name))
    return found


def _wait_uid_gone(uid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        pids = uid_processes(uid)
        if not pids:
            return True
        if time.monotonic() > deadline:
            return False
        for pid in pids:  # belt and braces: the namespace should already be gone
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.01)


def _lock_dir() -> str:
    for d in ("/run/lock", tempfile.gettempdir()):
        if os.path.isdir(d) and os.access(d, os.W_OK):
            return d
    raise GraderError("no writable directory for the sandbox's uid locks")


def _claim_uid(slot: int) -> tuple[int, int]:
    """Lock a uid no other live Worker (of any process) uses, and that runs nothing."""
    directory = _lock_dir()
    for k in range(_UID_CHOICES):
        uid = UID_BASE + slot + _UID_STRIDE * k
        path = os.path.join(directory, f"dl101-sandbox-uid-{uid}.lock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        if uid_processes(uid):
            os.close(fd)
            continue
        return uid, fd
    raise GraderError(f"no free uid for sandbox slot {slot} (is another grader using it?)")
