"""The ``student`` object graders call: ``student.conv2d(x, w, stride=2)``.

Two implementations with one interface:
- ``SandboxStudent`` forwards calls to a sandbox Session (grading untrusted code);
- ``LocalStudent`` calls functions from a namespace in this process (``dl101 check``,
  on the student's own machine, where the code is the student's own).
"""

from __future__ import annotations

import copy
import traceback
from typing import Any

from grader.errors import StudentException


class _Student:
    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **kwargs: self.call(name, *args, **kwargs)

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def defined(self, name: str) -> bool:
        raise NotImplementedError


class SandboxStudent(_Student):
    def __init__(self, session: Any) -> None:
        self._session = session

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self._session.call(name, *args, **kwargs)

    def defined(self, name: str) -> bool:
        return self._session.defined(name)

    def harness(self, module: str, function: str, *args: Any, **kwargs: Any) -> Any:
        return self._session.run_harness(module, function, *args, **kwargs)


class LocalStudent(_Student):
    """Arguments are deep-copied, as they would be across the sandbox boundary."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self._namespace = namespace

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        func = self._namespace.get(name)
        if not callable(func):
            raise StudentException(f"{name} is not defined in your notebook")
        args, kwargs = copy.deepcopy((args, kwargs))
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            raise StudentException(describe_exception(exc, name)) from None

    def defined(self, name: str) -> bool:
        return callable(self._namespace.get(name))


def describe_exception(exc: BaseException, function: str) -> str:
    """'ValueError: bad shape (in conv2d, cell 3 line 12)': type, message, the student's line."""
    where = ""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith("<cell")]
    if frames:
        last = frames[-1]
        where = f", {last.filename.strip('<>')} line {last.lineno}"
    message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return f"{message} (in {function}{where})"
