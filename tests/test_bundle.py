"""The student bundle: everything a student needs to self-check, and nothing of the answers.

Built once per module from the real repository. It must contain no solution code (no line
of any BEGIN/END SOLUTION region of any solution notebook), no hidden tests, no solutions/
and no cnn_ref; and the self-check must work from it alone, with cnn_ref unimportable.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path, PurePosixPath

import nbformat
import pytest

from grader import assignments
from grader.bundle import INSTRUCTOR_ONLY, build_student_bundle, bundle_name
from grader.release import list_solutions

ROOT = assignments.repo_root()
#: Solution lines shorter than this (``return out``, ``else:``) may legitimately appear anywhere.
MIN_LINE = 20


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_student_bundle(tmp_path_factory.mktemp("bundle"), root=ROOT)


@pytest.fixture(scope="module")
def entries(bundle: Path) -> dict[str, bytes]:
    """Bundle path (without the top folder) -> bytes."""
    with zipfile.ZipFile(bundle) as archive:
        names = archive.namelist()
        assert all(n.startswith(bundle_name() + "/") for n in names), names
        return {n.split("/", 1)[1]: archive.read(n) for n in names}


@pytest.fixture(scope="module")
def unpacked(bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("unpacked")
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(target)
    return target / bundle_name()


def _split_notebooks() -> tuple[list[tuple[str, list[str]]], set[str]]:
    """(where, lines) of every BEGIN/END SOLUTION region of every solution notebook, and the
    stripped lines the notebooks show students anyway (everything outside the regions)."""
    regions, shown = [], set()
    for path in sorted((ROOT / "solutions").glob("*/*.ipynb")):
        nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
        for index, cell in enumerate(nb.cells):
            inside, lines = False, []
            for line in cell.source.splitlines():
                if "BEGIN SOLUTION" in line:
                    inside, lines = True, []
                elif "END SOLUTION" in line:
                    inside = False
                    regions.append((f"{path.relative_to(ROOT)} cell {index}", lines))
                elif inside:
                    lines.append(line)
                else:
                    shown.add(line.strip())
    return regions, shown


def solution_regions() -> list[tuple[str, list[str]]]:
    return _split_notebooks()[0]


def test_solutions_have_regions_to_check():
    """Guards the test below against passing vacuously: every solution notebook has regions."""
    where = {w.split(" cell ")[0] for w, _ in solution_regions()}
    expected = {f"solutions/{s}/{s}.ipynb" for s in list_solutions(root=ROOT)}
    assert expected and where >= expected, expected - where


def test_bundle_holds_the_student_kit(entries):
    released = sorted(p.name for p in (ROOT / "assignments").iterdir() if p.is_dir())
    assert "convolution" in released
    for slug in released:
        assert f"assignments/{slug}/{slug}.ipynb" in entries
        assert f"assignments/{slug}/tests/test_public.py" in entries
    for module in ("__init__.py", "cli.py", "check.py", "plugin.py", "student.py", "expect.py",
                   "errors.py", "results.py", "assignments.py"):
        assert f"grader/{module}" in entries, module
    assert "pyproject.toml" in entries and "README.md" in entries


def test_bundle_leaves_instructor_modules_out(entries):
    for name in entries:
        relative = PurePosixPath(name)
        if relative.parts[0] == "grader":
            inner = PurePosixPath(*relative.parts[1:]).as_posix()
            assert not any(inner == p or inner.startswith(p + "/") for p in INSTRUCTOR_ONLY), name


def test_bundle_has_no_hidden_tests_solutions_or_cnn_ref(entries):
    for name in entries:
        parts = PurePosixPath(name).parts
        assert "solutions" not in parts and "cnn_ref" not in parts, name
        assert parts[-1] != "test_hidden.py" and not parts[-1].endswith(".pyc"), name
    hidden = {p.read_bytes() for p in (ROOT / "solutions").glob("*/tests/*.py") if p.name != "test_public.py"}
    assert not hidden & set(entries.values())
    for name, data in entries.items():
        if name.endswith(".py"):
            for node in ast.walk(ast.parse(data)):
                modules = ([a.name for a in node.names] if isinstance(node, ast.Import)
                           else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                assert not any(m.split(".")[0] == "cnn_ref" for m in modules), (name, modules)


def test_bundle_has_no_solution_code(entries):
    texts = {name: data.decode("utf-8", errors="replace") for name, data in entries.items()}
    # Notebooks are JSON: compare against their cell sources, not their escaped text.
    for name in [n for n in texts if n.endswith(".ipynb")]:
        texts[name] = "\n".join(c["source"] if isinstance(c["source"], str) else "".join(c["source"])
                                for c in json.loads(texts[name])["cells"])
    lines_of = {name: {line.strip() for line in text.splitlines()} for name, text in texts.items()}
    regions, shown = _split_notebooks()
    for where, lines in regions:
        block = textwrap.dedent("\n".join(lines)).strip()
        # A line the course shows students elsewhere (a Keras example in teaching text) is no leak.
        distinctive = [line.strip() for line in lines if len(line.strip()) >= MIN_LINE
                       and not line.strip().startswith("#") and line.strip() not in shown]
        for name, text in texts.items():
            assert block not in text, (where, name)
            leaked = set(distinctive) & lines_of[name]
            assert not leaked, (where, name, sorted(leaked))
    for name, text in texts.items():
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS"):
            assert marker not in text, (name, marker)


def test_bundle_is_deterministic(bundle, tmp_path):
    again = build_student_bundle(tmp_path, root=ROOT)
    assert again.name == bundle.name
    assert again.read_bytes() == bundle.read_bytes()


BLOCK_INSTRUCTOR_IMPORTS = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("cnn_ref", "solutions"):
            raise ImportError(f"{name} is not part of the student bundle")
sys.meta_path.insert(0, Block())
"""


def run_python(code: str, *, cwd: Path, path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DL101_ROOT", "PYTHONPATH")}
    env["PYTHONPATH"] = str(path)
    return subprocess.run([sys.executable, "-c", BLOCK_INSTRUCTOR_IMPORTS + textwrap.dedent(code)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_self_check_runs_from_the_bundle_alone(unpacked):
    """Unzipped, without cnn_ref: the stub fails the public checks, a solved notebook passes."""
    slug = "convolution"
    folder = unpacked / "assignments" / slug
    shutil.copyfile(ROOT / "solutions" / slug / f"{slug}.ipynb", folder / "solved.ipynb")
    code = f"""
        import io
        from pathlib import Path
        import contextlib, grader
        from grader.cli import main
        with contextlib.redirect_stdout(io.StringIO()) as help_text:
            main(["--help"], standalone_mode=False)
        assert "check" in help_text.getvalue()
        from grader.check import check_notebook
        assert Path(grader.__file__).resolve().is_relative_to(Path.cwd().resolve()), grader.__file__
        for name in ("{slug}.ipynb", "solved.ipynb"):
            report = check_notebook(Path("assignments/{slug}") / name, assignment="{slug}",
                                    stream=io.StringIO())
            print("RESULT", name, report.passed, len(report.tests))
    """
    done = run_python(code, cwd=unpacked, path=unpacked)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = dict(line.split(" ", 2)[1:] for line in done.stdout.splitlines() if line.startswith("RESULT "))
    passed, total = map(int, lines["solved.ipynb"].split())
    assert total > 0 and passed == total, done.stdout
    assert lines[f"{slug}.ipynb"].split()[0] == "0", done.stdout


def test_installed_bundle_finds_its_assignments(unpacked, tmp_path):
    """`pip install` of the bundle folder packages assignments/ as grader/_assignments/."""
    target = tmp_path / "site"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                          "--no-index", "--target", str(target), str(unpacked)],
                         capture_output=True, text=True, timeout=300)
    assert pip.returncode == 0, pip.stderr[-3000:]
    assert (target / "grader" / "_assignments" / "convolution" / "tests" / "test_public.py").is_file()
    done = run_python("""
        from grader import assignments
        print(assignments.assignment_dir("convolution"))
    """, cwd=tmp_path, path=target)
    assert done.returncode == 0, done.stderr[-3000:]
    assert Path(done.stdout.strip()) == (target / "grader" / "_assignments" / "convolution").resolve()
