"""Where assignments live: solutions/<slug>/ (instructor) and assignments/<slug>/ (students)."""

from __future__ import annotations

import os
from pathlib import Path

from grader.errors import GraderError

HIDDEN_TESTS = "tests/test_hidden.py"
PUBLIC_TESTS = "tests/test_public.py"


def repo_root() -> Path:
    """The course repository: $DL101_ROOT, else the checkout this package was installed from."""
    env = os.environ.get("DL101_ROOT")
    return Path(env).resolve() if env else Path(__file__).resolve().parent.parent


def solution_dir(slug: str, *, root: Path | None = None) -> Path:
    return (root or repo_root()) / "solutions" / slug


#: Where an installed student bundle (grader.bundle) keeps the released assignments.
PACKAGED_ASSIGNMENTS = Path(__file__).resolve().parent / "_assignments"


def assignment_dir(slug: str, *, root: Path | None = None) -> Path:
    """assignments/<slug> of the course; in an installed student bundle, its packaged copy."""
    if root is None and not os.environ.get("DL101_ROOT") and (PACKAGED_ASSIGNMENTS / slug).is_dir():
        return PACKAGED_ASSIGNMENTS / slug
    return (root or repo_root()) / "assignments" / slug


def list_assignments(*, root: Path | None = None) -> list[str]:
    """Slugs that have a solution notebook and hidden graders."""
    base = (root or repo_root()) / "solutions"
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if (p / HIDDEN_TESTS).is_file())


def timeout(slug: str, *, root: Path | None = None) -> float | None:
    """Seconds a submission may run, from ``timeout`` in solutions/<slug>/assignment.toml."""
    import tomllib

    path = solution_dir(slug, root=root) / "assignment.toml"
    if not path.is_file():
        return None
    try:
        value = tomllib.loads(path.read_text()).get("timeout")
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise GraderError(f"cannot read {path}: {exc}") from None
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value <= 0):
        raise GraderError(f"{path}: timeout must be a positive number of seconds, got {value!r}")
    return None if value is None else float(value)


def hidden_tests(slug: str, *, root: Path | None = None) -> Path:
    path = solution_dir(slug, root=root) / HIDDEN_TESTS
    if not path.is_file():
        known = ", ".join(list_assignments(root=root)) or "none"
        raise GraderError(f"unknown assignment {slug!r}: no {path} (known: {known})")
    return path
