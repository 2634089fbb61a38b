"""Resource limits of one submission, and how the sandboxed child applies them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Limits:
    """What one submission may use. The defaults suit numpy work; a TensorFlow lab
    needs ``memory`` of at least ~1.5 GiB (the default 2 GiB is enough)."""

    #: Seconds for the whole submission: its cells and every call. On expiry the child is killed.
    session_wall: float = 60.0
    #: Default seconds per call (``Session.call(..., timeout=)`` overrides it).
    call_timeout: float = 10.0
    #: CPU seconds per process (RLIMIT_CPU); over it the process gets SIGXCPU.
    cpu: int = 60
    #: Bytes of memory: the address space of each process (RLIMIT_AS), and the anonymous
    #: memory of all the session's processes together (checked every 50 ms).
    memory: int = 2 << 30
    #: Largest file a process may write (RLIMIT_FSIZE).
    fsize: int = 16 << 20
    #: Open file descriptors per process (RLIMIT_NOFILE).
    nofile: int = 64
    #: Processes and threads of the slot's uid (RLIMIT_NPROC).
    nproc: int = 64
    #: Bytes of the student's stdout/stderr kept (the rest is dropped with a marker).
    output: int = 64 << 10
    #: Size of the sandbox's private ``/tmp`` (tmpfs), shared by the slot's sessions in turn.
    tmpfs: int = 64 << 20
    #: Largest frame the grader accepts from the worker (bytes).
    max_frame: int = 64 << 20
    #: Seconds the warm zygote may take to start (TensorFlow takes several).
    start_timeout: float = 120.0

    def __post_init__(self) -> None:
        for name in ("session_wall", "call_timeout", "start_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"Limits.{name} must be positive")
        for name in ("cpu", "memory", "fsize", "nofile", "nproc", "output", "tmpfs", "max_frame"):
            value = getattr(self, name)
            if type(value) is not int or value <= 0:
                raise ValueError(f"Limits.{name} must be a positive int")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def apply_rlimits(lim: dict[str, Any]) -> None:
    """Set the child's rlimits (call before dropping privileges; lowering always works)."""
    import resource

    cpu = int(lim["cpu"])
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (lim["memory"], lim["memory"]))
    resource.setrlimit(resource.RLIMIT_FSIZE, (lim["fsize"], lim["fsize"]))
    resource.setrlimit(resource.RLIMIT_NOFILE, (lim["nofile"], lim["nofile"]))
    resource.setrlimit(resource.RLIMIT_NPROC, (lim["nproc"], lim["nproc"]))
    resource.setrlimit(resource.RLIMIT_MEMLOCK, (0, 0))
    resource.setrlimit(resource.RLIMIT_MSGQUEUE, (0, 0))
