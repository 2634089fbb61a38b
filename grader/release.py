"""`dl101 release`: solutions/<slug>/ -> assignments/<slug>/ (what students receive).

    release("convolution", root=repo)   # writes assignments/convolution/, returns that directory

The notebook goes through small ordered steps, each a function ``(nb, slug) -> None`` on an
in-memory nbformat notebook (nbgrader's preprocessor pattern, and mostly nbgrader's own
preprocessors): check the nbgrader metadata, lock read-only cells, turn solution regions
into stubs, drop hidden-test and mark-scheme regions, clear outputs, add checksums, record
the slug, then refuse to write anything if a solution marker survived.

What is released is a whitelist: the notebook ``<slug>.ipynb`` and ``tests/test_public.py``.
Nothing else from solutions/<slug>/ (hidden graders, instructor notes) is ever copied.

The output is deterministic (no timestamps, sorted JSON keys, cell ids from the source), so
``build_release`` can prove that assignments/ is exactly what a release produces.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grader import assignments
from grader.errors import GraderError

#: Released files, relative to assignments/<slug>/ (and to solutions/<slug>/ for the tests).
PUBLIC_TESTS = assignments.PUBLIC_TESTS
#: Text that must never reach a student: solution and hidden-test region markers.
FORBIDDEN_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS",
                     "BEGIN MARK SCHEME", "END MARK SCHEME")

Step = Callable[[Any, str], None]


def notebook_name(slug: str) -> str:
    return f"{slug}.ipynb"


def list_solutions(*, root: Path | None = None) -> list[str]:
    """Slugs with a solution notebook ``solutions/<slug>/<slug>.ipynb``."""
    base = (root or assignments.repo_root()) / "solutions"
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if (p / notebook_name(p.name)).is_file())


# -- the steps ---------------------------------------------------------------------------------


def _nbgrader(preprocessor: str, **options: Any) -> Step:
    """A step that runs one of nbgrader's preprocessors (imported only when releasing)."""

    def step(nb: Any, slug: str) -> None:
        from nbgrader import preprocessors

        getattr(preprocessors, preprocessor)(**options).preprocess(nb, {})

    step.__name__ = preprocessor
    return step


def ensure_cell_ids(nb: Any, slug: str) -> None:
    """Cells without an id get one from their grade_id or position: never a random id."""
    if (nb.nbformat, nb.nbformat_minor) < (4, 5):
        nb.nbformat_minor = 5  # cell ids exist from nbformat 4.5 on
    seen: set[str] = set()
    for index, cell in enumerate(nb.cells):
        cell_id = cell.get("id") or cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if not cell_id or cell_id in seen:
            cell_id = f"cell-{index}"
        cell["id"] = cell_id
        seen.add(cell_id)


def record_slug(nb: Any, slug: str) -> None:
    """metadata.dl101 = {"assignment": slug}: how `dl101 grade` and `dl101 check` know the assignment."""
    nb.metadata["dl101"] = {"assignment": slug}


def refuse_leftover_markers(nb: Any, slug: str) -> None:
    """Last line of defence: no solution or hidden-test marker may survive the release."""
    for index, cell in enumerate(nb.cells):
        for marker in FORBIDDEN_MARKERS:
            if marker in cell.source:
                raise GraderError(f"{slug}: cell {index} still contains {marker!r} after release; "
                                  "every region must sit in a cell marked as a solution (or grade) cell")


#: In order. ClearSolutions runs after LockCells (which reads the solution flag, not the source)
#: and checksums come last so that they describe what the student receives.
STEPS: tuple[Step, ...] = (
    ensure_cell_ids,
    _nbgrader("CheckCellMetadata"),
    _nbgrader("LockCells"),
    _nbgrader("ClearSolutions"),
    _nbgrader("ClearHiddenTests"),
    _nbgrader("ClearMarkScheme"),
    _nbgrader("ClearOutput"),
    _nbgrader("ComputeChecksums"),
    record_slug,
    refuse_leftover_markers,
)


def release_notebook(nb: Any, slug: str, *, steps: tuple[Step, ...] = STEPS) -> Any:
    """Apply the release steps to a notebook in memory (mutated and returned)."""
    for step in steps:
        step(nb, slug)
    return nb


# -- files -------------------------------------------------------------------------------------


def build_release(slug: str, *, root: Path | None = None) -> dict[str, bytes]:
    """Everything assignments/<slug>/ must contain: relative path -> bytes. Writes nothing."""
    import nbformat

    source_dir = assignments.solution_dir(slug, root=root)
    source = source_dir / notebook_name(slug)
    if not source.is_file():
        known = ", ".join(list_solutions(root=root)) or "none"
        raise GraderError(f"no solution notebook {source} (known: {known})")
    nb = nbformat.read(source, as_version=nbformat.NO_CONVERT)
    if nb.nbformat != 4:
        raise GraderError(f"{source}: nbformat {nb.nbformat} is not supported; save it as nbformat 4")
    release_notebook(nb, slug)
    text = nbformat.writes(nb)
    files = {notebook_name(slug): (text if text.endswith("\n") else text + "\n").encode("utf-8")}
    public = source_dir / PUBLIC_TESTS
    if public.is_file():
        files[PUBLIC_TESTS] = public.read_bytes()
    return files


def released_files(directory: Path) -> dict[str, bytes]:
    """The files under ``directory`` as build_release would name them (caches ignored)."""
    if not directory.is_dir():
        return {}
    return {
        path.relative_to(directory).as_posix(): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file() and not _is_cache(path.relative_to(directory))
    }


def _is_cache(relative: Path) -> bool:
    return any(part in ("__pycache__", ".ipynb_checkpoints", ".pytest_cache") for part in relative.parts)


def release(slug: str, *, root: Path | None = None, out: Path | None = None) -> Path:
    """Build assignments/<slug>/ (or ``out``) from solutions/<slug>/; returns the directory.

    The directory is replaced as a whole, so a file that is no longer released disappears.
    """
    files = build_release(slug, root=root)
    target = out or assignments.assignment_dir(slug, root=root)
    staging = target.with_name(f".{target.name}.release-tmp")
    if staging.exists():
        shutil.rmtree(staging)
    for relative, data in files.items():
        path = staging / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    return target


def release_all(root: Path | None = None) -> list[Path]:
    """Release every slug that has a solution notebook."""
    return [release(slug, root=root) for slug in list_solutions(root=root)]
