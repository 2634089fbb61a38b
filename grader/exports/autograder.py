"""Gradescope autograder: build the zip, and the code that runs inside Gradescope's container.

    dl101 export gradescope -a convolution -o autograder.zip

The zip (instructor-only: it holds the hidden tests; upload it as the assignment's
"autograder configuration")::

    setup.sh            Gradescope runs it once, as root, to build the image: bubblewrap,
                        Python >= 3.11 and the grading dependencies in /autograder/dl101-venv
    run_autograder      Gradescope runs it per submission; it calls this module's main()
    requirements.txt    dl101's dependencies needed to grade this assignment
    grader/  cnn_ref/   the toolkit and the reference implementation
    solutions/<slug>/tests/   the hidden (and public) tests; not the solution notebook
    README.txt

``run_autograder`` picks the student's notebook from ``/autograder/submission`` (the
file ``<slug>.ipynb`` if present, else the only/first ``.ipynb``, else ``.py``), runs
``dl101 grade FILE -a SLUG --json`` on it and writes ``/autograder/results/results.json``
in Gradescope's schema (dl101's own results.json without its private ``dl101`` block; test
visibility as the graders set it; ``stdout_visibility: hidden``). Whatever goes wrong, a
results.json that says so is written.

Sandbox: ``auto`` (default) uses dl101's bubblewrap sandbox when it works in the container
and otherwise grades with ``--unsafe-no-sandbox`` (labelled in the student's output; the
per-submission container is then the only isolation); ``require`` refuses to grade
without it; ``unsafe`` never tries it.

Late submissions: Gradescope applies its own late policy, so the zip leaves out
``assignment.toml`` and dl101 applies none.

Everything under ``/autograder`` moves with ``DL101_AUTOGRADER_ROOT`` (a test runs
``run_autograder`` against a fake tree); ``DL101_PYTHON`` overrides the interpreter.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from grader import assignments
from grader.errors import GraderError

SANDBOX_MODES = ("auto", "require", "unsafe")
DEFAULT_TIMEOUT = 300.0
ROOT_ENV = "DL101_AUTOGRADER_ROOT"
#: Grade extras a sandboxed grading run needs; the rest of [grade] is for instructors.
SANDBOX_REQUIREMENTS = ("pyseccomp",)
#: Extras needed when the hidden tests (or the worker preload) use these modules.
HEAVY_REQUIREMENTS = {"tensorflow": ("tensorflow-cpu",), "keras": ("tensorflow-cpu",),
                      "sklearn": ("scikit-learn",)}
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_SKIP = re.compile(r"(^|/)(__pycache__|\.ipynb_checkpoints|\.pytest_cache)(/|$)|\.py[co]$|(^|/)\.")

SETUP_SH = r"""#!/usr/bin/env bash
# dl101 autograder set-up: Gradescope runs this once, as root, when it builds the image.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="${DL101_AUTOGRADER_ROOT:-/autograder}"
export DEBIAN_FRONTEND=noninteractive
if command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq
    # bubblewrap: dl101's sandbox (used when the container allows namespaces).
    apt-get install -y -qq --no-install-recommends bubblewrap ca-certificates >/dev/null \
        || echo "setup: could not install bubblewrap; grading will use the container only" >&2
fi
PY=""
for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 \
        && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        PY="$(command -v "$candidate")"
        break
    fi
done
if [ -z "$PY" ]; then  # Ubuntu 22.04 images ship Python 3.10
    apt-get install -y -qq python3.11 python3.11-venv >/dev/null
    PY="$(command -v python3.11)"
fi
PY="$("$PY" -c 'import os, sys; print(os.path.realpath(sys.executable))')"
if ! "$PY" -m venv "$ROOT/dl101-venv"; then
    apt-get install -y -qq "$(basename "$PY")-venv" >/dev/null
    "$PY" -m venv "$ROOT/dl101-venv"
fi
"$ROOT/dl101-venv/bin/python" -m pip install -q --upgrade pip
"$ROOT/dl101-venv/bin/python" -m pip install -q -r "$HERE/requirements.txt"
PYTHONPATH="$HERE" "$ROOT/dl101-venv/bin/python" -c "import grader.cli, grader.exports.autograder"
echo "setup: dl101 autograder ready for @SLUG@"
"""

RUN_AUTOGRADER = r"""#!/usr/bin/env bash
# dl101 autograder: Gradescope runs this for every submission (as root, fresh container).
set -uo pipefail
ROOT="${DL101_AUTOGRADER_ROOT:-/autograder}"
PYTHON="${DL101_PYTHON:-$ROOT/dl101-venv/bin/python}"
export PYTHONPATH="$ROOT/source${PYTHONPATH:+:$PYTHONPATH}"
export DL101_ROOT="$ROOT/source"
export DL101_AUTOGRADER_ROOT="$ROOT"
cd "$ROOT/source"  # python puts the working directory first on sys.path: make it this copy
exec "$PYTHON" -m grader.exports.autograder --assignment @SLUG@ --sandbox @SANDBOX@ --timeout @TIMEOUT@
"""

README = """dl101 Gradescope autograder for "@SLUG@" -- INSTRUCTOR-ONLY: it contains the hidden tests.

Upload this zip as the assignment's autograder (Gradescope: Configure Autograder > Zip file).
Students submit @SLUG@.ipynb. Gradescope applies its own late policy.
Sandbox mode: @SANDBOX@; time limit per submission: @TIMEOUT@ s.
Built by dl101 @VERSION@ (dl101 export gradescope -a @SLUG@).
"""


# ---------------------------------------------------------------- building the zip


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise GraderError(f"cannot find the {name} package to put in the autograder "
                          f"(run from the course repository, or pip install it)")
    return Path(next(iter(spec.submodule_search_locations)))


def _tree(base: Path, prefix: str) -> Iterator[tuple[str, Path]]:
    for path in sorted(base.rglob("*")):
        rel = path.relative_to(base).as_posix()
        if path.is_file() and not _SKIP.search(rel):
            yield f"{prefix}/{rel}", path


def _version() -> str:
    try:
        return importlib.metadata.version("dl101")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def requirements(slug: str, tests_dir: Path) -> list[str]:
    """dl101's own requirements (from its metadata) that grading ``slug`` needs."""
    from packaging.requirements import Requirement

    try:
        declared = [Requirement(r) for r in importlib.metadata.requires("dl101") or []]
    except importlib.metadata.PackageNotFoundError:
        raise GraderError("dl101 is not installed (pip install -e .): its requirements are unknown") from None
    wanted = set(SANDBOX_REQUIREMENTS)
    from grader.runner import PRELOAD

    text = " ".join(p.read_text(encoding="utf-8", errors="replace") for p in tests_dir.rglob("*.py"))
    text += " " + " ".join(PRELOAD.get(slug, ()))
    for module, names in HEAVY_REQUIREMENTS.items():
        if re.search(rf"\b{module}\b", text):
            wanted.update(names)
    chosen = []
    for req in declared:
        if req.marker is None or (req.marker.evaluate({"extra": "grade"}) and req.name in wanted):
            req.marker = None
            chosen.append(str(req))
    return chosen


def build_zip(slug: str, out: Path, *, sandbox: str = "auto", timeout: float = DEFAULT_TIMEOUT) -> Path:
    """Write the Gradescope autograder zip for ``slug`` to ``out``; return ``out``."""
    from grader.reports import atomic_write_bytes

    if sandbox not in SANDBOX_MODES:
        raise GraderError(f"sandbox must be one of {', '.join(SANDBOX_MODES)}, not {sandbox!r}")
    assignments.hidden_tests(slug)  # a GraderError naming the known slugs
    tests_dir = assignments.solution_dir(slug) / "tests"
    fill = {"@SLUG@": slug, "@SANDBOX@": sandbox, "@TIMEOUT@": f"{timeout:g}", "@VERSION@": _version()}
    texts = {
        "setup.sh": (SETUP_SH, 0o755),
        "run_autograder": (RUN_AUTOGRADER, 0o755),
        "README.txt": (README, 0o644),
        "requirements.txt": ("\n".join(requirements(slug, tests_dir)) + "\n", 0o644),
    }
    files: list[tuple[str, bytes, int]] = []
    for name, (template, mode) in texts.items():
        for key, value in fill.items():
            template = template.replace(key, value)
        files.append((name, template.encode("utf-8"), mode))
    trees = [(_package_dir("grader"), "grader"), (_package_dir("cnn_ref"), "cnn_ref"),
             (tests_dir, f"solutions/{slug}/tests")]
    for base, prefix in trees:
        for name, path in _tree(base, prefix):
            files.append((name, path.read_bytes(), 0o644))
    buf = _zip_bytes(files)
    atomic_write_bytes(out, buf)
    return out


def _zip_bytes(files: list[tuple[str, bytes, int]]) -> bytes:
    """A reproducible zip: sorted names, fixed times, explicit modes."""
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data, mode in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return buf.getvalue()


# ---------------------------------------------------------------- inside Gradescope


def find_submission(folder: Path, slug: str) -> tuple[Path | None, str]:
    """(the file to grade, a note for the student) from Gradescope's submission folder."""
    found = [p for p in sorted(folder.rglob("*")) if p.is_file()
             and not _SKIP.search(p.relative_to(folder).as_posix())]
    for suffix in (".ipynb", ".py"):
        candidates = [p for p in found if p.suffix == suffix]
        exact = [p for p in candidates if p.name == f"{slug}{suffix}"]
        if exact:
            return exact[0], ""
        if candidates:
            note = ""
            if len(candidates) > 1:
                note = (f"Several {suffix} files were submitted; graded {candidates[0].name}. "
                        f"Name your notebook {slug}.ipynb.")
            return candidates[0], note
    return None, f"No notebook was found in your submission: upload {slug}.ipynb."


def _failure(output: str) -> dict[str, Any]:
    return {"score": 0.0, "execution_time": 0.0, "output": output, "output_format": "text",
            "stdout_visibility": "hidden", "tests": []}


def _use_sandbox(mode: str) -> tuple[bool, str]:
    """(sandboxed?, why not) for the configured mode."""
    if mode == "unsafe":
        return False, "configured with --sandbox unsafe"
    from grader.sandbox import sandbox_problem

    problem = sandbox_problem()
    if problem and mode == "require":
        raise GraderError(f"the sandbox does not work in this container: {problem}")
    return (not problem), problem or ""


def grade_submission(root: Path, slug: str, *, sandbox: str, timeout: float) -> tuple[dict[str, Any], int]:
    """Grade Gradescope's submission under ``root``; (results document, exit code)."""
    path, note = find_submission(root / "submission", slug)
    if path is None:
        return _failure(note), 0
    sandboxed, why = _use_sandbox(sandbox)
    with tempfile.TemporaryDirectory(prefix="dl101-gradescope-") as work:
        work_dir = Path(work)
        (work_dir / "in").mkdir()
        target = work_dir / "in" / f"submission{path.suffix}"
        shutil.copyfile(path, target)
        out = work_dir / "out"
        argv = [sys.executable, "-c", "import sys; from grader.cli import main; sys.exit(main())",
                "grade", str(target), "-a", slug, "-o", str(out), "--json", "--timeout", f"{timeout:g}", "-j", "1"]
        if not sandboxed:
            argv.append("--unsafe-no-sandbox")
            print(f"dl101: grading without the sandbox ({why})", file=sys.stderr)
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=None, text=True)
        produced = sorted(out.glob("*/*/results.json"))
        if proc.returncode not in (0, 3) or len(produced) != 1:
            print(f"dl101 grade exited with {proc.returncode}; stdout: {proc.stdout[-2000:]}", file=sys.stderr)
            return _failure("The autograder failed on this submission (not your fault); "
                            "your instructor has been told."), 1
        doc = json.loads(produced[0].read_text(encoding="utf-8"))
    doc.pop("dl101", None)
    doc["stdout_visibility"] = "hidden"
    if note:
        doc["output"] = f"{note}\n\n{doc.get('output', '')}".strip()
    return doc, 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``run_autograder``: always leaves a results.json behind."""
    parser = argparse.ArgumentParser(prog="python -m grader.exports.autograder")
    parser.add_argument("--assignment", required=True)
    parser.add_argument("--sandbox", choices=SANDBOX_MODES, default="auto")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT)
    parser.add_argument("--root", type=Path, default=Path(os.environ.get(ROOT_ENV, "/autograder")))
    args = parser.parse_args(argv)
    results = args.root / "results" / "results.json"
    try:
        doc, code = grade_submission(args.root, args.assignment, sandbox=args.sandbox, timeout=args.timeout)
    except Exception as exc:  # the wrapper must always leave a results.json
        print(f"dl101 autograder failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        doc, code = _failure("The autograder failed on this submission (not your fault); "
                             "your instructor has been told."), 1
    from grader.reports import atomic_write_text

    atomic_write_text(results, json.dumps(doc, indent=1, allow_nan=False) + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
