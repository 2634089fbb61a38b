"""The bubblewrap command line of the sandbox, and whether a sandbox works here.

Layout inside (all read-only except /tmp): /usr with the usual merged-usr symlinks,
/etc/ld.so.cache, the Python prefix at its own path (over a tmpfs that hides the rest of
its top directory, e.g. /root), the venv's site-packages at /opt/dl101/site-N, the
``grader`` package at /opt/dl101/grader, fresh /dev and /proc, a size-capped tmpfs /tmp.
No repository, no solutions/, no tests/, no cnn_ref: only what the worker imports.
"""

from __future__ import annotations

import functools
import os
import shutil
import site
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

INSIDE = "/opt/dl101"
#: Top-level names of the instructor-only packages; masked if installed into site-packages.
HIDDEN_PACKAGES = ("cnn_ref", "solutions")
_NEVER_TMPFS = {"/", "/usr", "/tmp", "/proc", "/dev", "/etc", "/opt"}

#: The sandbox's environment (bwrap --clearenv, then these). Threads pinned to one.
BASE_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "HOME": "/tmp",
    "TMPDIR": "/tmp",
    "PYTHONHASHSEED": "0",
    "PYTHONDONTWRITEBYTECODE": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
    # glibc reserves 64 MiB of address space per malloc arena (up to 8 per core): TensorFlow's
    # threads took ~0.9 GiB of RLIMIT_AS that way (training peaked at 2.3 GiB; 1.4 GiB with 2).
    "MALLOC_ARENA_MAX": "2",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "TF_ENABLE_ONEDNN_OPTS": "0",
    "CUDA_VISIBLE_DEVICES": "",
    "MPLBACKEND": "Agg",
    "KERAS_BACKEND": "tensorflow",
}


@dataclass
class Layout:
    """What the worker needs from the host, and where it appears inside."""

    python: str  # real interpreter binary (no pyenv shim)
    prefix: str  # its installation prefix
    site_dirs: list[str]  # host site-packages directories, in sys.path order
    grader_dir: str  # host path of the ``grader`` package

    @classmethod
    def current(cls) -> Layout:
        python = os.path.realpath(sys.executable)
        prefix = os.path.realpath(sys.base_prefix)
        user_site = site.getusersitepackages() if hasattr(site, "getusersitepackages") else ""
        site_dirs = []
        for p in sys.path:
            name = os.path.basename(p.rstrip("/"))
            if p == user_site:  # the user's own ~/.local packages stay out
                continue
            if name in ("site-packages", "dist-packages") and os.path.isdir(p):
                real = os.path.realpath(p)
                if real not in site_dirs:
                    site_dirs.append(real)
        grader_dir = str(Path(__file__).resolve().parents[1])
        return cls(python=python, prefix=prefix, site_dirs=site_dirs, grader_dir=grader_dir)


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _expose_at_same_path(path: str, args: list[str], tops: set[str]) -> None:
    """ro-bind ``path`` at its own location, hiding everything else in its top directory."""
    if _under(path, "/usr"):
        return
    parts = Path(path).parts  # ("/", "root", ".pyenv", ...)
    top = "/" + parts[1]
    if top in _NEVER_TMPFS:
        raise ValueError(f"cannot expose {path} in the sandbox")
    if top not in tops:
        args += ["--perms", "0755", "--tmpfs", top]
        tops.add(top)
    current = top
    for part in parts[2:-1]:
        current = f"{current}/{part}"
        args += ["--perms", "0755", "--dir", current]
    args += ["--ro-bind", path, path]


_NAMESPACES = [
    "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup",
    "--die-with-parent", "--new-session", "--clearenv",
]  # fmt: skip
# As root: never --unshare-all (it maps root to root with every capability); keep only what
# the zygote needs to give each child its uid (the child drops them all).
_ROOT_CAPS = [
    "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
    "--cap-add", "CAP_SETPCAP",
]  # fmt: skip
# Without root: a user namespace, no capabilities, no nested user namespaces.
_USERNS = ["--unshare-user", "--disable-userns"]


def command(
    layout: Layout, *, tmp_size: int, seccomp_fd: int, privileged: bool = True
) -> tuple[list[str], list[str]]:
    """The bwrap argv (up to the ``--``) and the sys.path entries to add inside."""
    args = [
        shutil.which("bwrap") or "bwrap",
        *(_NAMESPACES + (_ROOT_CAPS if privileged else _USERNS)),
        "--hostname", "sandbox",
        "--ro-bind", "/usr", "/usr",
    ]  # fmt: skip
    for name in ("lib", "lib64", "lib32", "libx32", "bin", "sbin"):
        host = f"/{name}"
        if os.path.islink(host):
            args += ["--symlink", os.readlink(host), host]
        elif os.path.isdir(host):
            args += ["--ro-bind", host, host]
    args += ["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    tops: set[str] = set()
    _expose_at_same_path(layout.prefix, args, tops)
    if not _under(layout.python, layout.prefix):
        _expose_at_same_path(layout.python, args, tops)
    args += ["--perms", "0755", "--dir", "/opt", "--perms", "0755", "--dir", INSIDE]
    inside_path = []
    for i, site_dir in enumerate(layout.site_dirs):
        if _under(site_dir, layout.prefix) or _under(site_dir, "/usr"):
            dest = site_dir
        else:
            dest = f"{INSIDE}/site-{i}"
            args += ["--ro-bind", site_dir, dest]
        for hidden in HIDDEN_PACKAGES:
            for entry, kind in ((hidden, "dir"), (hidden + ".py", "file")):
                host_entry = os.path.join(site_dir, entry)
                if kind == "dir" and os.path.isdir(host_entry):
                    args += ["--perms", "0000", "--tmpfs", f"{dest}/{entry}"]
                elif kind == "file" and os.path.isfile(host_entry):
                    args += ["--ro-bind", "/dev/null", f"{dest}/{entry}"]
        inside_path.append(dest)
    args += ["--ro-bind", layout.grader_dir, f"{INSIDE}/grader"]
    inside_path.append(INSIDE)
    args += [
        "--dev", "/dev", "--proc", "/proc",
        "--perms", "1777", "--size", str(tmp_size), "--tmpfs", "/tmp",
        "--seccomp", str(seccomp_fd),
        "--chdir", "/tmp",
    ]  # fmt: skip
    for key, value in BASE_ENV.items():
        args += ["--setenv", key, value]
    return args, inside_path


def python_argv(python: str) -> list[str]:
    """The interpreter's flags: no site (sys.path is set explicitly, .pth files are not
    run), no user site, no bytecode writes, no script dir on sys.path."""
    return [python, "-s", "-S", "-B", "-P"]


# ---------------------------------------------------------------------------- diagnosis

FIX_UNSAFE = "or pass --unsafe-no-sandbox to grade without isolation (reports are labelled unsafe)"


@functools.cache
def sandbox_problem() -> str | None:
    """None if the bubblewrap sandbox works on this machine, else why not and the fix."""
    if not sys.platform.startswith("linux"):
        return (
            f"sandboxed grading needs Linux with bubblewrap (this is {sys.platform}); "
            f"grade on a Linux machine, {FIX_UNSAFE}"
        )
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return (
            "bubblewrap is not installed: install it (apt-get install bubblewrap, "
            f"dnf install bubblewrap), {FIX_UNSAFE}"
        )
    from grader.sandbox import seccomp

    problem = seccomp.available()
    if problem:
        return f"{problem}, {FIX_UNSAFE}"
    root = os.geteuid() == 0
    python = os.path.realpath(sys.executable)
    if not root and _under(python, "/root"):
        return (
            f"the interpreter {python} is under /root, which bubblewrap cannot reach without "
            f"root: use a Python installed elsewhere (e.g. a venv in your home), {FIX_UNSAFE}"
        )
    probe = [
        bwrap, *(_NAMESPACES + (_ROOT_CAPS if root else _USERNS)),
        "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib",
        "--symlink", "usr/lib64", "/lib64", "--proc", "/proc", "--dev", "/dev",
        "--", "/usr/bin/true",
    ]  # fmt: skip
    try:
        res = subprocess.run(probe, capture_output=True, timeout=20, env={"PATH": "/usr/bin:/bin"})
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap does not run here ({exc}); {FIX_UNSAFE}"
    if res.returncode != 0:
        err = res.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = err[-1] if err else f"exit code {res.returncode}"
        if root:
            return (
                f"bubblewrap cannot create namespaces here ({detail}); inside a container, "
                f"give it the needed privileges (e.g. docker --privileged), {FIX_UNSAFE}"
            )
        return (
            f"bubblewrap cannot create a user namespace as an unprivileged user ({detail}): "
            "run dl101 grade as root (e.g. with sudo), or enable unprivileged user namespaces "
            "(sysctl kernel.unprivileged_userns_clone=1 and user.max_user_namespaces > 0; on "
            f"Ubuntu 24.04 also an AppArmor profile allowing bwrap), {FIX_UNSAFE}"
        )
    return None
