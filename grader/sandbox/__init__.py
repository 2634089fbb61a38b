"""Run untrusted student code: a warm zygote in bubblewrap, one forked child per submission.

    with Worker(slot=0) as worker:               # start-up (~0.2 s, TensorFlow ~5 s) paid once
        with worker.session(cells) as s:         # fork a child, run the cells in order
            s.cells                              # [CellOutcome(index, ok, error), ...]
            s.call("conv2d", x, w, stride=2)     # plain data back, or a StudentError
            s.run_harness("cnn_lab", "train_and_predict", ...)   # trusted code in the child
            s.output                             # the student's stdout/stderr, capped

Modes (``Worker.mode``): ``"root"`` (bubblewrap launched by root; each slot's students run
as their own unprivileged uid ``61000 + slot``), ``"userns"`` (not root: bubblewrap makes a
user namespace; students keep the user's uid, without capabilities), ``"unsafe"`` (no
bubblewrap: a plain subprocess with rlimits; reports must say so). :func:`sandbox_problem`
says why the sandbox cannot run here and names the fix.

Values crossing the boundary keep their Python types (see :mod:`grader.protocol`); numpy
scalars come back as numpy scalars of the same dtype. A call raises, from
:mod:`grader.errors`: ``StudentException`` (the function raised, or is missing),
``StudentTimeout`` (call timeout or the session's wall budget), ``StudentCrash`` (the child
died, or broke the protocol; the session is then dead), ``BadReturn`` (not plain data).
Arguments the protocol cannot carry raise ``TypeError`` (a bug in the grader).

``host`` is the trusted side, ``worker`` what runs inside, ``bwrap`` and ``seccomp`` the
isolation, ``limits`` the resource limits.
"""

from grader.sandbox.bwrap import sandbox_problem
from grader.sandbox.host import CellOutcome, Session, Worker, uid_processes
from grader.sandbox.limits import Limits

__all__ = ["CellOutcome", "Limits", "Session", "Worker", "sandbox_problem", "uid_processes"]
