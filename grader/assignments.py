"""Where assignments live: solutions/<slug>/ (instructor) and assignments/<slug>/ (students)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from grader.errors import GraderError

HIDDEN_TESTS = "tests/test_hidden.py"
PUBLIC_TESTS = "tests/test_public.py"
#: What an assignment slug may look like: one plain path component. Slugs also come from a
#: notebook's metadata, which the student controls ("../../x", "/abs/path" must never name
#: a file: the hidden tests found there would run in the trusted grader).
_SLUG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")


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


def is_slug(slug: object) -> bool:
    """Whether ``slug`` is a plain name (not whether such an assignment exists)."""
    return isinstance(slug, str) and _SLUG.fullmatch(slug) is not None


def hidden_tests(slug: str, *, root: Path | None = None) -> Path:
    path = solution_dir(slug, root=root) / HIDDEN_TESTS
    if not is_slug(slug) or not path.is_file():
        known = ", ".join(list_assignments(root=root)) or "none"
        raise GraderError(f"unknown assignment {slug!r}: no {path} (known: {known})")
    return path
