"""Shared machinery of the end-to-end grading proofs (tests/test_<assignment>_grading.py).

Each proof builds a class of notebooks from an assignment's solution (the solution itself,
correct alternatives, mutants made by source substitution), copies the released stub next to
them, grades the whole class in ONE `grade_paths` batch (the code path of `dl101 grade`) and
checks the scores and the feedback. What differs per assignment (the mutants, the alternative
sources, the expected messages) stays in its test file; what is the same for all lives here.
"""

from __future__ import annotations

import ast
import functools
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from grader import assignments
from grader.grade import grade_paths
from grader.results import SubmissionResult


@dataclass(frozen=True)
class Mutant:
    """A bug made by substituting text found exactly once anywhere in the solution's code."""

    name: str
    function: str  # the only function the bug is in
    old: str  # exact text of the solution notebook, found exactly once
    new: str
    caught_by: str  # a hidden test that must fail


@dataclass(frozen=True)
class CellMutant:
    """A bug made by substituting text found exactly once in one named solution cell."""

    name: str
    function: str  # the only function the bug is in
    cell: str  # grade_id of the solution cell holding it
    old: str  # exact text of that cell, found exactly once
    new: str
    caught_by: str  # a hidden test that must fail


# -- building the class ---------------------------------------------------------------------


def solution_path(slug: str) -> Path:
    return assignments.solution_dir(slug) / f"{slug}.ipynb"


def stub_path(slug: str) -> Path:
    """The released (student) notebook."""
    return assignments.assignment_dir(slug) / f"{slug}.ipynb"


def solution_notebook(slug: str) -> nbformat.NotebookNode:
    return nbformat.read(solution_path(slug), as_version=nbformat.NO_CONVERT)


def mutate(nb: nbformat.NotebookNode, old: str, new: str) -> nbformat.NotebookNode:
    """A copy of ``nb`` with ``old`` replaced by ``new`` in the one code cell holding it once."""
    nb = nbformat.from_dict(nb)
    holders = [c for c in nb.cells if c.cell_type == "code" and old in c.source]
    if len(holders) != 1 or holders[0].source.count(old) != 1:
        raise AssertionError(f"mutation target {old!r} is not found exactly once in the solution")
    holders[0].source = holders[0].source.replace(old, new)
    return nb


def code_cell(nb: nbformat.NotebookNode, grade_id: str) -> nbformat.NotebookNode:
    """The one code cell of ``nb`` whose nbgrader grade_id is ``grade_id``."""
    cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
    if len(cells) != 1 or cells[0].cell_type != "code":
        raise AssertionError(f"no single code cell {grade_id!r} in the solution")
    return cells[0]


def substitute(nb: nbformat.NotebookNode, grade_id: str, old: str, new: str) -> nbformat.NotebookNode:
    """A copy of ``nb`` with ``old`` replaced by ``new`` in cell ``grade_id`` (found there exactly once)."""
    nb = nbformat.from_dict(nb)
    cell = code_cell(nb, grade_id)
    if cell.source.count(old) != 1:
        raise AssertionError(f"{old!r} is not found exactly once in the solution's cell {grade_id}")
    cell.source = cell.source.replace(old, new)
    return nb


def with_cells_replaced(nb: nbformat.NotebookNode, sources: Mapping[str, str]) -> nbformat.NotebookNode:
    """A copy of ``nb`` whose cells with a grade_id in ``sources`` hold that source instead (all must exist)."""
    nb = nbformat.from_dict(nb)
    replaced = set()
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in sources:
            cell.source = sources[grade_id].strip("\n")
            replaced.add(grade_id)
    if replaced != set(sources):
        raise AssertionError(f"solution cells not found: {sorted(set(sources) - replaced)}")
    return nb


def with_code_cells_replaced(nb: nbformat.NotebookNode, sources: Mapping[str, str]) -> nbformat.NotebookNode:
    """A copy of ``nb`` where the one code cell of each grade_id in ``sources`` holds that source instead."""
    nb = nbformat.from_dict(nb)
    for grade_id, source in sources.items():
        code_cell(nb, grade_id).source = source.strip("\n")
    return nb


def write_class(directory: Path, slug: str, notebooks: Mapping[str, nbformat.NotebookNode]) -> dict[str, Path]:
    """Every notebook as ``<student>.ipynb`` in ``directory``, plus the released stub as ``stub.ipynb``."""
    paths = {}
    for student, nb in notebooks.items():
        paths[student] = directory / f"{student}.ipynb"
        nbformat.write(nb, paths[student])
    paths["stub"] = directory / "stub.ipynb"
    shutil.copyfile(stub_path(slug), paths["stub"])
    return paths


def sandbox_ok() -> bool:
    from grader.sandbox import sandbox_problem

    return not sandbox_problem()


def grade_class(tmp_path_factory: pytest.TempPathFactory, slug: str,
                notebooks: Mapping[str, nbformat.NotebookNode]) -> dict[str, SubmissionResult]:
    """The whole class (``notebooks`` and the stub) graded in ONE batch, by student.

    Sandboxed where this machine can sandbox. Meant for a module-scoped ``graded`` fixture.
    """
    base = tmp_path_factory.mktemp(f"{slug}-class")
    submissions = base / "submissions"
    submissions.mkdir()
    write_class(submissions, slug, notebooks)
    results = grade_paths([submissions], assignment=slug, out=base / "grades", jobs=2,
                          unsafe=not sandbox_ok())
    return {r.student: r for r in results}


# -- reading the graders ----------------------------------------------------------------------


@functools.cache
def hidden_test_titles(slug: str) -> dict[str, str]:
    """Hidden test function name -> the title results carry (first docstring line).

    Read with ``ast``, not imported: importing would apply ``pytest.mark.points``, which this
    session (``--strict-markers``, no grader plugin) does not know.
    """
    tree = ast.parse(assignments.hidden_tests(slug).read_text())
    return {node.name: (ast.get_docstring(node) or "").splitlines()[0]
            for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


def function_of(title: str, functions: Iterable[str]) -> str:
    """Which student function a hidden test grades: its title starts with the name (then ``:`` or ``,``)."""
    functions = tuple(functions)
    name = title.split(":")[0].split(",")[0].strip()
    if name not in functions:
        raise AssertionError(f"hidden test title {title!r} does not start with one of {functions}")
    return name


def failures(result: SubmissionResult) -> dict[str, str]:
    """Title -> feedback of every test of ``result`` that did not pass."""
    return {t.name: t.output for t in result.tests if t.status != "passed"}


# -- assertions shared by the proofs ----------------------------------------------------------


def assert_every_notebook_graded(graded: Mapping[str, SubmissionResult], expected: set[str],
                                 max_score: float) -> None:
    assert set(graded) == expected
    for student, result in graded.items():
        assert result.status == "graded", (student, result.status, result.output)
        assert not result.grader_broke, (student, [t.name for t in result.tests if t.grader_error])
        assert result.max_score == max_score, (student, result.max_score)


def assert_scores_full(result: SubmissionResult) -> None:
    assert result.score == result.max_score, failures(result)


def assert_stub_scores_zero(result: SubmissionResult) -> None:
    assert result.score == 0
    assert all(t.status == "failed" for t in result.tests)
    assert all("NotImplementedError" in t.output for t in result.tests), [t.output for t in result.tests]


def assert_mutant_caught(result: SubmissionResult, mutant: Mutant | CellMutant, titles: Mapping[str, str],
                         allowed: set[str], function_of: Callable[[str], str]) -> None:
    """Below full, ``mutant.caught_by`` failed, and only tests of the ``allowed`` functions failed."""
    failed = failures(result)
    assert 0 < result.score < result.max_score, (result.score, failed)
    assert titles[mutant.caught_by] in failed, (mutant.caught_by, failed)
    others = {name: out for name, out in failed.items() if function_of(name) not in allowed}
    assert not others, others


def assert_feedback_short_without_arrays(graded: Mapping[str, SubmissionResult]) -> None:
    """Every failure says something, in under 400 characters, and never prints ``array(...)``."""
    for student, result in graded.items():
        for name, output in failures(result).items():
            assert output, (student, name)
            assert len(output) < 400, (student, name, output)
            assert "array(" not in output, (student, name, output)


# -- `dl101 check` ----------------------------------------------------------------------------


def dl101_check(notebook: Path, slug: str) -> subprocess.CompletedProcess:
    """`dl101 check` as a student runs it (its own process: one pytest session per check)."""
    return subprocess.run([sys.executable, "-c", "from grader.cli import main; main()", "check", str(notebook),
                           "-a", slug], capture_output=True, text=True, timeout=120)


def assert_public_checks_pass_on_solution_and_fail_on_stub(slug: str, checks: int) -> None:
    solution = dl101_check(solution_path(slug), slug)
    assert solution.returncode == 0, solution.stdout + solution.stderr
    assert f"{checks}/{checks} public checks passed" in solution.stdout, solution.stdout
    stub = dl101_check(stub_path(slug), slug)
    assert stub.returncode == 1, stub.stdout + stub.stderr
    assert f"0/{checks} public checks passed" in stub.stdout, stub.stdout
