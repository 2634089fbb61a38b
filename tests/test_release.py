"""`dl101 release`: assignments/ is exactly what release makes from solutions/, for every slug.

The slug loop is over solutions/ at collection time, so a new assignment is covered as soon
as its solution notebook exists (and fails here until it is released).
"""

from __future__ import annotations

import ast
import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from grader import assignments
from grader.errors import GraderError
from grader.release import (
    FORBIDDEN_MARKERS,
    build_release,
    ensure_cell_ids,
    list_solutions,
    refuse_leftover_markers,
    release,
    release_all,
    release_notebook,
    released_files,
)

ROOT = assignments.repo_root()
SLUGS = list_solutions(root=ROOT)


def _nbgrader(grade_id: str, *, solution: bool = False, grade: bool = False, locked: bool = False,
              points: float | None = None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def _solution(slug: str) -> nbformat.NotebookNode:
    return nbformat.read(assignments.solution_dir(slug, root=ROOT) / f"{slug}.ipynb", as_version=nbformat.NO_CONVERT)


def _released(slug: str) -> nbformat.NotebookNode:
    return nbformat.reads(build_release(slug, root=ROOT)[f"{slug}.ipynb"].decode(), as_version=nbformat.NO_CONVERT)


def _dump(node: ast.AST | None) -> str | None:
    return ast.dump(node) if node is not None else None


def _functions(source: str) -> dict[str, ast.FunctionDef]:
    return {node.name: node for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)}


@pytest.fixture(scope="module")
def builds() -> dict[str, dict[str, bytes]]:
    return {slug: build_release(slug, root=ROOT) for slug in SLUGS}


# -- the repository is consistent ------------------------------------------------------------


def test_every_solution_is_released_and_nothing_else():
    released = sorted(p.name for p in (ROOT / "assignments").iterdir() if p.is_dir())
    assert "convolution" in SLUGS
    assert released == SLUGS, "run `dl101 release` (assignments/ and solutions/ list different slugs)"


@pytest.mark.parametrize("slug", SLUGS)
def test_assignment_is_exactly_what_release_produces(slug, builds):
    on_disk = released_files(assignments.assignment_dir(slug, root=ROOT))
    expected = builds[slug]
    stale = sorted(name for name in set(on_disk) | set(expected) if on_disk.get(name) != expected.get(name))
    assert not stale, f"assignments/{slug} is stale in {stale}: run `dl101 release {slug}`"


@pytest.mark.parametrize("slug", SLUGS)
def test_release_is_deterministic(slug, builds, tmp_path):
    first = release(slug, root=ROOT, out=tmp_path / "a")
    second = release(slug, root=ROOT, out=tmp_path / "b")
    assert released_files(first) == released_files(second) == builds[slug]


@pytest.mark.parametrize("slug", SLUGS)
def test_stubs_keep_their_solution_signatures(slug):
    solution = {c.metadata.nbgrader["grade_id"]: c for c in _solution(slug).cells}
    released = _released(slug)
    assert [c.metadata.nbgrader["grade_id"] for c in released.cells] == list(solution)
    stubs = 0
    for cell in released.cells:
        source = solution[cell.metadata.nbgrader["grade_id"]]
        if not (cell.cell_type == "code" and cell.metadata.nbgrader.get("solution")):
            assert cell.source == source.source, f"{slug}: read-only cell {cell.id} changed in release"
            continue
        theirs, ours = _functions(cell.source), _functions(source.source)
        assert list(theirs) == list(ours), f"{slug}: cell {cell.id} defines {list(theirs)}, solution {list(ours)}"
        for name, stub in theirs.items():
            assert ast.dump(stub.args) == ast.dump(ours[name].args), f"{slug}.{name}: signature changed"
            assert _dump(stub.returns) == _dump(ours[name].returns), f"{slug}.{name}: return annotation changed"
            body = stub.body[1:] if ast.get_docstring(stub) is not None else stub.body
            assert len(body) == 1 and isinstance(body[0], ast.Raise), f"{slug}.{name}: stub body is not a raise"
            assert "NotImplementedError" in ast.unparse(body[0])
            assert ast.get_docstring(stub) == ast.get_docstring(ours[name]), f"{slug}.{name}: docstring changed"
            stubs += 1
    assert stubs > 0, f"{slug}: the released notebook has no stub to fill in"


@pytest.mark.parametrize("slug", SLUGS)
def test_release_removes_solutions_and_hidden_tests(slug, builds):
    files = builds[slug]
    assert sorted(files) == [f"{slug}.ipynb", "tests/test_public.py"]
    text = "\n".join(c.source for c in _released(slug).cells)
    for marker in FORBIDDEN_MARKERS:
        assert marker not in text
    for cell in _solution(slug).cells:
        inside = False
        for line in cell.source.splitlines():
            if "BEGIN SOLUTION" in line or "BEGIN HIDDEN TESTS" in line:
                inside = True
            elif "END SOLUTION" in line or "END HIDDEN TESTS" in line:
                inside = False
            elif inside and len(line.strip()) >= 20 and not line.strip().startswith("#"):
                assert line.strip() not in text, f"{slug}: solution line leaked: {line.strip()!r}"
    public = ast.parse(files["tests/test_public.py"])
    imported = {a.name for n in ast.walk(public) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module or "" for n in ast.walk(public) if isinstance(n, ast.ImportFrom)}
    assert not any(m.split(".")[0] == "cnn_ref" for m in imported), f"{slug}: public tests import cnn_ref"


@pytest.mark.parametrize("slug", SLUGS)
def test_release_records_slug_and_locks_read_only_cells(slug):
    nb = _released(slug)
    assert nb.metadata["dl101"] == {"assignment": slug}
    for cell in nb.cells:
        meta = cell.metadata.nbgrader
        assert meta["schema_version"] == 3 and meta["checksum"]
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
        if meta.get("locked") and not meta.get("solution"):
            assert cell.metadata["editable"] is False and cell.metadata["deletable"] is False


def test_solution_notebooks_follow_the_authoring_format():
    for slug in SLUGS:
        nb = _solution(slug)
        ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells]
        assert len(set(ids)) == len(ids), f"{slug}: duplicate grade_id"
        assert all(c.metadata["nbgrader"]["schema_version"] == 3 for c in nb.cells)
        assert any(c.metadata["nbgrader"]["solution"] for c in nb.cells), slug
        assert any(f'check("{slug}", globals())' in c.source for c in nb.cells), f"{slug}: no self-check cell"


# -- the steps, on in-memory notebooks --------------------------------------------------------


def _toy_notebook() -> nbformat.NotebookNode:
    text = new_markdown_cell("# Title", metadata=_nbgrader("text", locked=True))
    answer = new_code_cell("def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
                           metadata=_nbgrader("answer", solution=True))
    whole = new_code_cell("y = 42", metadata=_nbgrader("whole", solution=True))
    graded = new_code_cell("assert f(1) == 2\n### BEGIN HIDDEN TESTS\nassert f(5) == 10\n### END HIDDEN TESTS",
                           metadata=_nbgrader("graded", grade=True, locked=True, points=1))
    graded.outputs = [new_output("stream", name="stdout", text="hello\n")]
    graded.execution_count = 3
    nb = new_notebook(cells=[text, answer, whole, graded],
                      metadata={"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}})
    for index, cell in enumerate(nb.cells):
        cell.id = f"toy-{index}"
    return nb


def test_release_notebook_turns_solutions_into_stubs_and_drops_hidden_tests():
    nb = release_notebook(_toy_notebook(), "toy")
    text, answer, whole, graded = nb.cells
    assert answer.source == "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    assert whole.source == "# YOUR CODE HERE\nraise NotImplementedError()"
    assert graded.source == "assert f(1) == 2"
    assert graded.outputs == [] and graded.execution_count is None
    assert text.metadata["editable"] is False and graded.metadata["editable"] is False
    assert answer.metadata["deletable"] is False and "editable" not in answer.metadata
    assert nb.metadata["dl101"] == {"assignment": "toy"}
    assert text.source == "# Title"


def test_release_notebook_is_deterministic():
    first = nbformat.writes(release_notebook(_toy_notebook(), "toy"))
    assert nbformat.writes(release_notebook(_toy_notebook(), "toy")) == first
    assert [c["id"] for c in json.loads(first)["cells"]] == ["toy-0", "toy-1", "toy-2", "toy-3"]


def test_solution_region_outside_a_solution_cell_is_refused():
    nb = _toy_notebook()
    nb.cells[0].cell_type, nb.cells[0].source = "code", "### BEGIN SOLUTION\nsecret = 1\n### END SOLUTION"
    nb.cells[0].outputs, nb.cells[0].execution_count = [], None
    with pytest.raises(RuntimeError, match="non-solution cell"):
        release_notebook(nb, "toy")


def test_leftover_markers_stop_the_release():
    nb = _toy_notebook()
    nb.cells[0].source = "BEGIN HIDDEN TESTS (a marker that no region step removed)"
    with pytest.raises(GraderError, match="BEGIN HIDDEN TESTS"):
        refuse_leftover_markers(nb, "toy")


def test_cells_without_ids_get_stable_ones():
    nb = _toy_notebook()
    for cell in nb.cells:
        del cell["id"]
    nb.cells[3].metadata.nbgrader["grade_id"] = "answer"  # a duplicate falls back to the position
    ensure_cell_ids(nb, "toy")
    assert [c.id for c in nb.cells] == ["text", "answer", "whole", "cell-3"]


def test_release_replaces_the_whole_directory(tmp_path):
    out = tmp_path / "convolution"
    (out / "tests").mkdir(parents=True)
    (out / "stale.txt").write_text("from an older release")
    release("convolution", root=ROOT, out=out)
    assert sorted(released_files(out)) == ["convolution.ipynb", "tests/test_public.py"]


def test_release_all_and_unknown_slug(tmp_path):
    (tmp_path / "solutions" / "toy" / "tests").mkdir(parents=True)
    nbformat.write(_toy_notebook(), tmp_path / "solutions" / "toy" / "toy.ipynb")
    (tmp_path / "solutions" / "toy" / "tests" / "test_hidden.py").write_text("# hidden\n")
    (tmp_path / "solutions" / "toy" / "notes.md").write_text("instructor notes\n")
    assert release_all(tmp_path) == [tmp_path / "assignments" / "toy"]
    assert sorted(released_files(tmp_path / "assignments" / "toy")) == ["toy.ipynb"]
    with pytest.raises(GraderError, match="known: toy"):
        build_release("nope", root=tmp_path)
