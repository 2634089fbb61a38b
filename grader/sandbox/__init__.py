"""Run untrusted student code: a warm zygote in bubblewrap, one forked child per submission.

    with Worker(slot=0) as worker:
        with worker.session(cells) as s:
            s.cells               # [CellOutcome(index, ok, error), ...]
            s.call("conv2d", x, w, stride=2)   # plain data back, or a StudentError
            s.output              # the student's stdout/stderr, capped

See ``host`` (the trusted side), ``worker`` (what runs inside), ``bwrap`` and
``seccomp`` (the isolation), ``limits`` and :mod:`grader.protocol` (the wire format).
"""

from grader.sandbox.bwrap import sandbox_problem
from grader.sandbox.host import CellOutcome, Session, Worker, uid_processes
from grader.sandbox.limits import Limits

__all__ = ["CellOutcome", "Limits", "Session", "Worker", "sandbox_problem", "uid_processes"]
