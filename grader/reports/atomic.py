"""Atomic file writes: a reader sees the old file or the new one, never half of one.

The bytes go to a temporary file in the target's directory (same file system), which is
flushed and fsync'ed, then ``os.replace``d over the target; the directory is fsync'ed so
the rename survives a power cut. On any failure the temporary files are removed and the
targets are untouched; an OSError becomes a :class:`GraderError` that says what happened
("disk full while writing out/grades.csv (No space left on device)").
"""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Sequence
from pathlib import Path

from grader.errors import GraderError

# Absent on Windows (reports can be written there under --unsafe-no-sandbox).
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _CLOEXEC | getattr(os, "O_BINARY", 0)

_WHY = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EFBIG: "file too large",
}


def _error(path: Path, exc: OSError) -> GraderError:
    why = _WHY.get(exc.errno or 0, exc.strerror or type(exc).__name__)
    return GraderError(f"{why} while writing {path} ({exc.strerror or exc})")


def remove_stale_temps(out: Path) -> None:
    """Delete the temporary files of writers that are gone (a grader killed mid-write).

    The writer's pid is in the name (see _write_tmp); a live writer's files are kept.
    """
    for tmp in out.rglob(".*.tmp"):
        parts = tmp.name.split(".")
        pid = int(parts[-3]) if len(parts) >= 4 and parts[-3].isdigit() else None
        if pid is not None and not Path(f"/proc/{pid}").exists():
            tmp.unlink(missing_ok=True)


def _write_tmp(path: Path, data: bytes, tmps: list[Path]) -> Path:
    """Write ``data`` to a new temporary file next to ``path`` (recorded in ``tmps``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    name = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    # 0o666 minus the umask, like an ordinary open(); O_EXCL: never reuse a file.
    fd = os.open(name, _NEW_FILE, 0o666)
    tmps.append(name)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    return name


def atomic_write_files(files: Sequence[tuple[Path | str, bytes]], *, sync_dirs: bool = True) -> None:
    """Write several files, each atomically, in the given order.

    Every temporary file is written and synced before the first rename, so running out of
    space (the likely failure) leaves all targets as they were, never a mismatched set.
    ``sync_dirs=False`` skips syncing the directories after the renames (one fsync fewer):
    after a power cut a target may then be the old file (or missing) instead of the new
    one, but never a torn one.
    """
    tmps: list[Path] = []
    current = Path(files[0][0]) if files else Path()
    try:
        staged = []
        for path, data in files:
            current = Path(path)
            staged.append((_write_tmp(current, data, tmps), current))
        for tmp, path in staged:
            current = path
            os.replace(tmp, path)
            tmps.remove(tmp)
        for directory in dict.fromkeys(path.parent for _, path in staged) if sync_dirs else ():
            _fsync_dir(directory)
    except OSError as exc:
        raise _error(current, exc) from exc
    finally:
        for tmp in tmps:
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass


def atomic_write_bytes(path: Path | str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, creating parent directories as needed."""
    atomic_write_files([(path, data)])


def atomic_write_text(path: Path | str, text: str) -> None:
    """Write ``text`` as UTF-8 atomically (unencodable characters become ``?``)."""
    atomic_write_bytes(path, encode(text))


def encode(text: str) -> bytes:
    return text.encode("utf-8", errors="replace")


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | _DIRECTORY | _CLOEXEC)
    except OSError:  # not supported everywhere; the data itself is already on disk
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
