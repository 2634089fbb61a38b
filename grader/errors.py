"""One exception family. The CLI turns a GraderError into a click error at the boundary
(``click_errors``).

A student's failure is never a GraderError: it is a result (see grader.results).
"""


from collections.abc import Iterator
from contextlib import contextmanager


class GraderError(Exception):
    """The grader cannot do what it was asked (bad input, missing tool, broken set-up)."""


class SandboxUnavailable(GraderError):
    """No safe sandbox on this machine; the message names the fix."""


class StudentError(Exception):
    """Raised inside a hidden test when a call into the student's code did not give a value.

    The message is student-facing: it says what went wrong in the student's terms.
    """


class StudentException(StudentError):
    """The student's function raised; the message carries its type, message and line."""


class StudentTimeout(StudentError):
    """The student's function did not return in time."""


class StudentCrash(StudentError):
    """The student's process died (killed by a limit, exited, broke the protocol)."""


class BadReturn(StudentError):
    """The student's function returned something that is not plain data."""


@contextmanager
def click_errors() -> Iterator[None]:
    """GraderError -> a clean ``Error: ...`` and exit code 1, never a traceback.

    A context manager that also decorates commands: ``@click_errors()``.
    """
    try:
        yield
    except GraderError as exc:
        import click

        raise click.ClickException(str(exc)) from None
