"""The seccomp filter of the sandbox, compiled to BPF in the trusted process.

bwrap loads it (``--seccomp FD``) just before it runs the zygote, so the zygote and every
child forked from it run under it. Default action: allow; the list below is denied.
Calls of a foreign ABI (i386 ``int 0x80``, x32) kill the process.
"""

from __future__ import annotations

import errno
import functools

# Namespace flags refused to clone(2) (and so to fork-with-namespaces tricks).
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWTIME = 0x00000080
NAMESPACE_FLAGS = (
    CLONE_NEWNS,
    CLONE_NEWCGROUP,
    CLONE_NEWUTS,
    CLONE_NEWIPC,
    CLONE_NEWUSER,
    CLONE_NEWPID,
    CLONE_NEWNET,
    CLONE_NEWTIME,
)
AF_UNIX = 1

#: Denied with EPERM: namespaces, mounts, tracing, kernel keyring/BPF/io_uring, modules,
#: System V IPC and POSIX message queues (they outlive the process and escape RLIMIT_AS),
#: memfd_create (memory written to it escapes RLIMIT_AS), and friends.
DENIED = (
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "move_mount",
    "open_tree", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    "bpf", "perf_event_open", "userfaultfd",
    "keyctl", "add_key", "request_key",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
    "open_by_handle_at", "name_to_handle_at", "lookup_dcookie",
    "swapon", "swapoff", "reboot", "acct", "quotactl", "syslog", "vhangup",
    "iopl", "ioperm", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
    "shmget", "shmat", "shmctl", "shmdt", "semget", "semop", "semtimedop", "semctl",
    "msgget", "msgsnd", "msgrcv", "msgctl",
    "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify", "mq_getsetattr",
    "memfd_create", "memfd_secret", "fanotify_init",
)  # fmt: skip


@functools.cache
def bpf_program() -> bytes:
    """The compiled filter (raw BPF, as bwrap --seccomp reads it)."""
    import tempfile

    import pyseccomp as sc

    flt = sc.SyscallFilter(sc.ALLOW)
    flt.set_attr(sc.Attr.ACT_BADARCH, sc.KILL_PROCESS)
    for name in DENIED:
        try:
            flt.add_rule(sc.ERRNO(errno.EPERM), name)
        except (OSError, ValueError):  # unknown to this libseccomp: nothing to deny
            continue
    # clone3 passes its flags in a struct seccomp cannot read: ENOSYS makes glibc fall back
    # to clone(2), which is filtered below (EPERM would make pthread_create fail).
    flt.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    for flag in NAMESPACE_FLAGS:
        flt.add_rule(sc.ERRNO(errno.EPERM), "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    flt.add_rule(sc.ERRNO(errno.EAFNOSUPPORT), "socket", sc.Arg(0, sc.NE, AF_UNIX))
    flt.add_rule(sc.ERRNO(errno.EAFNOSUPPORT), "socketpair", sc.Arg(0, sc.NE, AF_UNIX))
    with tempfile.TemporaryFile() as f:
        flt.export_bpf(f)
        f.seek(0)
        return f.read()


def available() -> str | None:
    """None if the filter can be built here, else why not."""
    try:
        bpf_program()
    except ImportError:
        return "the Python package pyseccomp is missing (pip install pyseccomp)"
    except (OSError, RuntimeError) as exc:
        return f"cannot build the seccomp filter ({exc}); install libseccomp2"
    return None
