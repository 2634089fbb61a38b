"""The student bundle: what students install to self-check (`dl101 check`).

    build_student_bundle(Path("dist"), root=repo)   # -> dist/dl101-student-0.1.0.zip

The zip holds one folder, ``dl101-student-<version>/``, with

- ``assignments/``: the released notebooks and their public tests (copied from the repo's
  ``assignments/``, which tests/test_release.py proves is exactly what ``dl101 release`` makes);
- ``grader/``: the toolkit minus ``INSTRUCTOR_ONLY`` (below);
- ``pyproject.toml`` and ``README.md``: ``pip install ./dl101-student-<version>`` gives the
  ``dl101`` command, with the assignments packaged as ``grader/_assignments/`` (found by
  ``grader.assignments``); unzipped and not installed, the same folder works in place.

Never in it: ``solutions/`` (solution notebooks, hidden graders), ``cnn_ref`` (the reference
implementation), and the modules that only make sense next to them. ``INSTRUCTOR_ONLY`` names
those modules with the reason each one stays home; everything else in ``grader/`` ships,
because ``dl101 check`` and the in-notebook check need the CLI, the points plugin, the
``student`` proxy, the expect helpers, notebook loading and the results types.

The zip is deterministic (sorted entries, fixed timestamps): the same tree gives the same bytes.
"""

from __future__ import annotations

import tomllib
import zipfile
from pathlib import Path, PurePosixPath

import grader
from grader import assignments
from grader.errors import GraderError

#: Paths under grader/ that students do not get, and why.
INSTRUCTOR_ONLY = {
    "grade.py": "batch grading of hidden tests: needs solutions/ and cnn_ref",
    "runner.py": "runs hidden graders (trusted process): needs solutions/ and cnn_ref",
    "pool.py": "runner pool for batch grading",
    "sandbox": "isolates untrusted submissions during batch grading",
    "reports": "class and per-student grading reports",
    "release.py": "builds assignments/ from solutions/",
    "bundle.py": "builds this bundle from the repository",
    "demo.py": "grades the bundled sample class with the hidden tests",
    "distributed.py": "batch grading on a Dask cluster",
    "gradebook.py": "the instructor's gradebook of scores",
    "late.py": "late penalties applied to graded scores",
    "harness": "runs in the grading sandbox only (the CNN lab's fixed training harness)",
    "quiz/bank": "quiz question generators: every answer is computed with cnn_ref (an answer key)",
}
#: Never shipped, whatever the tree contains (checked on the final list of entries).
FORBIDDEN_PARTS = ("solutions", "cnn_ref", "test_hidden.py", "__pycache__", ".ipynb_checkpoints")
PACKAGED_ASSIGNMENTS = "grader/_assignments"
_EPOCH = (1980, 1, 1, 0, 0, 0)


def bundle_name() -> str:
    return f"dl101-student-{grader.__version__}"


def _is_instructor_only(relative: PurePosixPath) -> bool:
    text = relative.as_posix()
    return any(text == path or text.startswith(path + "/") for path in INSTRUCTOR_ONLY)


def _tree(base: Path, *, skip=lambda relative: False) -> dict[str, bytes]:
    files = {}
    for path in sorted(base.rglob("*")):
        relative = PurePosixPath(path.relative_to(base).as_posix())
        if not path.is_file() or path.suffix == ".pyc" or any(p in FORBIDDEN_PARTS for p in relative.parts):
            continue
        if not skip(relative):
            files[relative.as_posix()] = path.read_bytes()
    return files


def student_files(*, root: Path | None = None) -> dict[str, bytes]:
    """Bundle path (relative to the bundle folder) -> bytes."""
    root = root or assignments.repo_root()
    released = root / "assignments"
    if not released.is_dir() or not any(released.iterdir()):
        raise GraderError(f"nothing released in {released}: run `dl101 release` first")
    files = {f"grader/{k}": v for k, v in _tree(root / "grader", skip=_is_instructor_only).items()}
    files.update({f"assignments/{k}": v for k, v in _tree(released).items()})
    files["pyproject.toml"] = _pyproject(root, _packages(files)).encode()
    files["README.md"] = _readme().encode()
    _refuse_forbidden(files)
    return files


def _refuse_forbidden(files: dict[str, bytes]) -> None:
    for name in files:
        parts = PurePosixPath(name).parts
        if any(p in FORBIDDEN_PARTS for p in parts):
            raise GraderError(f"refusing to put {name} in the student bundle")


def build_student_bundle(out_dir: Path, *, root: Path | None = None) -> Path:
    """Write ``out_dir/dl101-student-<version>.zip`` and return its path."""
    files = student_files(root=root)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{bundle_name()}.zip"
    partial = target.with_name(target.name + ".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(f"{bundle_name()}/{name}", date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, files[name])
    partial.replace(target)
    return target


def _packages(files: dict[str, bytes]) -> list[str]:
    """Every directory of grader/ holding Python code, as a dotted package name."""
    dirs = {PurePosixPath(name).parent for name in files if name.startswith("grader/") and name.endswith(".py")}
    return sorted({".".join(d.parts) for d in dirs} | {PACKAGED_ASSIGNMENTS.replace("/", ".")})


def _pyproject(root: Path, packages: list[str]) -> str:
    """The students' project: the repo's base dependencies (no grading extras), the `dl101` script."""
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    deps = "".join(f'    "{d}",\n' for d in project.get("dependencies", []))
    return f'''# Generated by grader.bundle: the student install of dl101 (self-checks only).
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "dl101-student"
version = "{grader.__version__}"
description = "Deep Learning 101 assignments with their public self-checks"
requires-python = "{project.get("requires-python", ">=3.11")}"
dependencies = [
{deps}]

[project.scripts]
dl101 = "grader.cli:main"

[tool.setuptools]
packages = [{", ".join(f'"{p}"' for p in packages)}]

# The released assignments travel inside the package as grader/_assignments/.
[tool.setuptools.package-dir]
"grader._assignments" = "assignments"

[tool.setuptools.package-data]
"grader._assignments" = ["**/*"]
'''


def _readme() -> str:
    return f"""# Deep Learning 101: assignments and self-checks

Install once (in a virtual environment):

    pip install ./{bundle_name()}

Then open `assignments/<name>/<name>.ipynb` in Jupyter, write your code where it says
`# YOUR CODE HERE`, and run the check cell at the end of the notebook, or from a terminal:

    dl101 check assignments/convolution/convolution.ipynb

The checks are the public ones (the lecture's examples). Your notebook is graded with many
more hidden cases, so test your functions on other inputs too.
"""
