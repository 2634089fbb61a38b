"""grader.loading: PATHs -> submissions, and a submission -> plain Python cells (reads only)."""

import json
import os
import stat
import subprocess
import sys
import traceback
import zipfile
from pathlib import Path

import pytest

from grader import loading
from grader.errors import GraderError
from grader.loading import (
    LoadedNotebook,
    Submission,
    UnreadableSubmission,
    discover,
    load_cells,
    parse_timestamp,
    student_from_name,
)

# --- helpers -----------------------------------------------------------------------------------


def notebook(*cells, metadata=None, nbformat=4) -> dict:
    """A v4 notebook dict; a str is a code cell, a (type, source) tuple any cell."""
    out = []
    for index, cell in enumerate(cells):
        kind, source = ("code", cell) if isinstance(cell, str) else cell
        entry = {"cell_type": kind, "id": f"c{index}", "metadata": {}, "source": source}
        if kind == "code":
            entry.update(outputs=[], execution_count=None)
        out.append(entry)
    return {"nbformat": nbformat, "nbformat_minor": 5, "metadata": metadata or {}, "cells": out}


def released(slug, *cells) -> dict:
    return notebook(*cells, metadata={"dl101": {"assignment": slug},
                                      "kernelspec": {"name": "python3", "language": "python"}})


def nb_bytes(nb) -> bytes:
    return json.dumps(nb).encode()


def write(path: Path, content) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, dict):
        content = nb_bytes(content)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def make_zip(path: Path, members: dict, compression=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, content in members.items():
            if isinstance(content, dict):
                content = nb_bytes(content)
            zf.writestr(name, content)
    return path


def load(nb, name="n.ipynb") -> LoadedNotebook:
    return load_cells(nb_bytes(nb) if isinstance(nb, dict) else nb, name=name)


def reason(data, name="n.ipynb") -> str:
    with pytest.raises(UnreadableSubmission) as info:
        load_cells(data, name=name)
    return str(info.value)


def run(cells, tmp_path=None):
    """Execute loaded cells as the runner would (no get_ipython anywhere); return the namespace."""
    ns = {"__name__": "__main__"}
    for index, code in enumerate(cells, start=1):
        exec(compile(code, f"<cell {index}>", "exec"), ns)  # noqa: S102 (the test's own cells)
    return ns


def students(subs):
    return [(s.student, s.assignment, s.status) for s in subs]


# --- load_cells: what a notebook becomes ---------------------------------------------------------


def test_code_cells_in_order_markdown_and_raw_skipped():
    import nbformat.v4 as v4

    nb = v4.new_notebook(cells=[
        v4.new_markdown_cell("# Convolution"),
        v4.new_code_cell("import numpy as np"),
        v4.new_raw_cell("raw"),
        v4.new_code_cell("def f(x):\n    return x + 1"),
    ], metadata={"dl101": {"assignment": "convolution"}})
    loaded = load_cells(v4.writes(nb).encode(), name="conv.ipynb")
    assert [c.strip() for c in loaded.cells] == ["import numpy as np", "def f(x):\n    return x + 1"]
    assert loaded.assignment == "convolution"
    assert loaded.metadata["dl101"] == {"assignment": "convolution"}
    assert loaded.problem == "" and loaded.notes == []
    assert run(loaded.cells)["f"](1) == 2


def test_edited_notebooks_load_duplicated_or_missing_ids_sources_as_lists_garbage_outputs():
    nb = notebook("a = 1", "b = a + 1", "c = b + 1")
    nb["cells"][1]["id"] = nb["cells"][0]["id"]           # duplicated id (nbgrader #1941)
    del nb["cells"][2]["id"]                              # missing id
    del nb["cells"][2]["metadata"]
    nb["cells"][0]["source"] = ["a = ", "1\n"]            # list of lines
    nb["cells"][1]["outputs"] = [{"garbage": True}, 3, None]
    nb["cells"][2]["outputs"] = "not a list"
    nb["cells"].append({"cell_type": "code", "source": None})
    nb["cells"].append(["not", "a", "cell"])
    nb["metadata"] = "not a dict"
    del nb["nbformat_minor"]
    loaded = load(nb)
    assert loaded.cells[:3] == ["a = 1\n", "b = a + 1", "c = b + 1"]
    assert loaded.metadata == {} and loaded.assignment is None
    assert run(loaded.cells)["c"] == 3
    assert any("not a cell" in n for n in loaded.notes)


def test_release_metadata_slug_read_and_ignored_when_malformed():
    assert load(released("pooling_norm", "x = 1")).assignment == "pooling_norm"
    assert load(notebook("x = 1", metadata={"dl101": "pooling"})).assignment is None
    assert load(notebook("x = 1", metadata={"dl101": {"assignment": 3}})).assignment is None
    assert load(notebook("x = 1", metadata={"dl101": {"assignment": " "}})).assignment is None


def test_magics_and_shell_lines_never_run(tmp_path):
    flag = tmp_path / "pwned"
    nb = notebook(
        "%matplotlib inline\nimport math",
        f"!touch {flag}\nfiles = !ls {tmp_path}\nx = 1",
        "%pip install numpy\n%load_ext autoreload\n%autoreload 2",
        "math.sqrt?\n??math",
        "for i in range(2):\n    !echo hi\n    y = i",
        f"%system touch {flag}\n%sx touch {flag}",
        "ip = get_ipython()\nz = 3",
        "%env SECRET=1\n%cd /\n%run other.ipynb\nw = 4",
    )
    loaded = load(nb)
    for code in loaded.cells:
        assert "get_ipython" not in code
        assert "system" not in code and "getoutput" not in code
    ns = run(loaded.cells)
    assert not flag.exists()
    assert (ns["x"], ns["y"], ns["z"], ns["w"]) == (1, 1, 3, 4)
    assert "files" not in ns and "ip" not in ns
    assert any("`!touch" in n and "not run" in n for n in loaded.notes)
    assert any("%matplotlib inline" in n for n in loaded.notes)
    assert loaded.problem == ""


def test_statements_using_get_ipython_are_replaced_wherever_they_are():
    cells = [
        "x = (1 +\n  2); get_ipython().system('a'); w = 5",
        "@get_ipython().register\ndef g():\n    pass\nq = 1",
        "if get_ipython():\n    a = 1\nelse:\n    a = 2\nb = 3",
        "try:\n    pass\nexcept get_ipython().E:\n    pass\nt = 1",
        "def f():\n    return get_ipython().getoutput('ls')\ns = 'é'; v = get_ipython(); u = 1",
    ]
    loaded = load(notebook(*cells))
    for code, original in zip(loaded.cells, cells, strict=True):
        assert "get_ipython" not in code
        assert code.count("\n") >= original.count("\n")  # line numbers kept
    ns = run(loaded.cells)
    assert (ns["x"], ns["w"], ns["q"], ns["b"], ns["t"], ns["u"], ns["f"]()) == (3, 5, 1, 3, 1, 1, None)
    assert "a" not in ns and "g" not in ns and "v" not in ns


def test_time_and_capture_cells_keep_their_body_other_cell_magics_are_dropped(tmp_path):
    target = tmp_path / "written.py"
    nb = notebook(
        "%%time\ndef conv(x):\n    return 2 * x\n%timeit conv(1)\n",
        "\n%%capture cap\n!pip install foo\nresult = conv(2)\n",
        "%%timeit\nslow = 1",
        f"%%bash\ntouch {tmp_path}/bash-ran\n",
        f"%%writefile {target}\nprint('hi')\n",
        "%%html\n<b>hi</b>",
        "%time t = conv(5)\nu = %time conv(1)",
    )
    loaded = load(nb)
    ns = run(loaded.cells)
    assert ns["conv"](3) == 6 and ns["result"] == 4 and ns["t"] == 10
    assert "slow" not in ns and "u" not in ns
    assert not target.exists() and not (tmp_path / "bash-ran").exists()
    assert loaded.cells[0].split("\n")[1] == "def conv(x):"  # same line as in the notebook
    assert loaded.cells[1].split("\n")[3] == "result = conv(2)"
    notes = "\n".join(loaded.notes)
    for magic in ("%%timeit", "%%bash", "%%writefile", "%%html"):
        assert f"the {magic} cell was not run" in notes


def test_indented_and_prompt_pasted_cells_are_fixed_by_ipython():
    loaded = load(notebook("    a = 1\n    b = a + 1", ">>> c = 2\n>>> d = c * 2"))
    ns = run(loaded.cells)
    assert (ns["b"], ns["d"]) == (2, 4)


def test_a_cell_that_does_not_parse_is_kept_and_reported():
    loaded = load(notebook("a = 1", "def f(:\n    pass\n!rm -rf ~", "b = 2"))
    assert len(loaded.cells) == 3
    assert loaded.cells[1].startswith("def f(:")
    assert "code cell 2 does not parse (line 1" in loaded.problem
    with pytest.raises(SyntaxError):
        compile(loaded.cells[1], "<cell 2>", "exec")  # nothing in it can run
    assert loaded.cells[2] == "b = 2"


def test_valid_python_is_returned_unchanged_with_its_comments():
    source = "# compute the padding?\nimport numpy as np  # why %?\ns = '''\n%magic\n!shell\n'''\n"
    assert load(notebook(source)).cells == [source]


def test_notebook_without_code_cells_loads_with_a_problem():
    loaded = load(notebook(("markdown", "# only text")))
    assert loaded.cells == [] and loaded.problem == "the notebook has no code cells"


def test_non_python_kernel_is_noted():
    loaded = load(notebook("x <- 1", metadata={"kernelspec": {"language": "R"}}))
    assert any("'r', not Python" in n for n in loaded.notes)


def test_old_nbformat_3_is_upgraded():
    import nbformat.v3 as v3

    nb = v3.new_notebook(worksheets=[v3.new_worksheet(cells=[
        v3.new_text_cell("markdown", source="hi"), v3.new_code_cell(input="x = 1\n%matplotlib inline")])])
    loaded = load_cells(v3.writes_json(nb).encode(), name="old.ipynb")
    assert [c.strip() for c in loaded.cells] == ["x = 1\npass"]


def test_load_is_deterministic():
    nb = notebook("%matplotlib inline\nx = 1", "!ls", "def f(:")
    first = load(nb)
    assert load(nb) == first


# --- load_cells: what cannot be loaded -----------------------------------------------------------


@pytest.mark.parametrize(("data", "expected"), [
    (b"", "the file is empty"),
    (b" \n\t\n", "the file is empty"),
    (b"PK\x03\x04" + b"\0" * 40, "this looks like a zip archive, not a notebook"),
    (b"%PDF-1.7 ...", "this is a PDF"),
    (b"<!DOCTYPE html><html>", "HTML export"),
    (b"\x1f\x8b\x08\x00", "gzip"),
    ("{}".encode("utf-16"), "UTF-16"),
    (b'{"cells": [], "nbformat": 4, "x": "\xff\xfe"}', "not UTF-8"),
    (b"hello world", "not JSON"),
    (b"import numpy as np\ndef f(): pass", "submit it as a .py file"),
    (b'{"cells": [{"cell_type": "code", "source": "x"', "ends too early"),
    (b'{"cells": [,]}', "invalid JSON at line 1, column 12"),
    (b"[1, 2, 3]", "top level is a list"),
    (b'"just a string"', "top level is a string"),
    (b'{"name": "package.json"}', "not a Jupyter notebook (it has no 'cells')"),
    (b'{"cells": [], "nbformat": 4}', "the notebook has no cells"),
    (b'{"cells": {}, "nbformat": 4}', "'cells' is not a list"),
    (b'{"cells": [], "nbformat": 5}', "format version 5, newer than"),
    (b'{"cells": [], "nbformat": "four"}', "format version is not a number"),
    (b'{"worksheets": 7, "nbformat": 3}', "old format version 3 and could not be upgraded"),
    (b"[" * 100_000 + b"]" * 100_000, ""),
])
def test_unreadable_notebooks_give_a_clear_reason(data, expected):
    text = reason(data)
    assert expected in text
    assert len(text) < 300


def test_limits_on_size_cells_and_code(monkeypatch):
    monkeypatch.setattr(loading, "MAX_FILE_BYTES", 1000)
    assert "the limit is 0.0 MB" in reason(nb_bytes(notebook("x = 1" * 400)))
    monkeypatch.setattr(loading, "MAX_FILE_BYTES", 10**6)
    monkeypatch.setattr(loading, "MAX_CELLS", 5)
    assert "has 6 cells; the limit is 5" in reason(nb_bytes(notebook(*["x = 1"] * 6)))
    monkeypatch.setattr(loading, "MAX_CODE_CHARS", 100)
    assert "limit is 100" in reason(nb_bytes(notebook("x = 1\n" * 30)))


def test_unreadable_is_a_grader_error_with_the_reason():
    with pytest.raises(GraderError) as info:
        load_cells(b"", name="x.ipynb")
    assert info.value.reason == "the file is empty" and info.value.name == "x.ipynb"


# --- load_cells: .py files -------------------------------------------------------------------------


def test_python_file_is_one_cell_without_markers():
    loaded = load_cells(b"import numpy as np\n\ndef f():\n    return 1\n", name="smith.py")
    assert len(loaded.cells) == 1 and loaded.metadata == {} and loaded.assignment is None
    assert run(loaded.cells)["f"]() == 1


def test_python_file_splits_on_percent_and_nbconvert_markers_keeping_line_numbers():
    source = ("# header comment\n"
              "# %%\na = 1\n"
              "# %% [markdown]\n# some text\n"
              "#%% second\nb = a + 1\n"
              "# In[3]:\nget_ipython().run_line_magic('matplotlib', 'inline')\nc = 1 / 0\n")
    loaded = load_cells(source.encode(), name="nb.py")
    assert len(loaded.cells) == 4  # header, a, b, c (markdown skipped)
    assert "get_ipython" not in loaded.cells[3]
    with pytest.raises(ZeroDivisionError) as info:
        run(loaded.cells)
    assert traceback.extract_tb(info.value.__traceback__)[-1].lineno == 10  # the line in the .py file


def test_python_file_encodings():
    latin = "# -*- coding: latin-1 -*-\nname = 'é'\n".encode("latin-1")
    assert run(load_cells(latin, name="a.py").cells)["name"] == "é"
    assert "not UTF-8" in reason(b"x = '\xff'\n", name="a.py")
    assert reason(b"   \n", name="a.py") == "the file is empty"
    assert "no code" in reason(b"# %% [markdown]\n# text only\n", name="a.py")
    assert "zip archive" in reason(b"PK\x05\x06" + b"\0" * 18, name="a.py")


# --- discover: files and folders -------------------------------------------------------------------


def test_single_notebook_or_python_file(tmp_path):
    nb = write(tmp_path / "smith.ipynb", notebook("x = 1"))
    py = write(tmp_path / "jones.py", "x = 1\n")
    [sub] = discover([nb], workdir=tmp_path / "w")
    assert (sub.student, sub.path, sub.assignment, sub.submitted_at, sub.status) == ("smith", nb, None, "", "")
    assert sub.read_bytes() == nb.read_bytes() and sub.source == str(nb)
    assert discover([py], workdir=tmp_path / "w")[0].student == "jones"


def test_unknown_paths_and_kinds_are_grader_errors(tmp_path):
    with pytest.raises(GraderError, match="no such file"):
        discover([tmp_path / "nope.ipynb"], workdir=tmp_path)
    with pytest.raises(GraderError, match="cannot grade a .pdf file"):
        discover([write(tmp_path / "a.pdf", "x")], workdir=tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(GraderError, match="no submissions found"):
        discover([tmp_path / "empty"], workdir=tmp_path)


def test_directory_of_files_and_student_folders(tmp_path):
    root = tmp_path / "hw"
    write(root / "smith.ipynb", notebook("x = 1"))
    write(root / "jones.py", "x = 2\n")
    write(root / "lee" / "convolution.ipynb", notebook("x = 3"))
    write(root / "kim" / "notes.pdf", b"%PDF")              # nothing gradeable
    (root / "park").mkdir()
    write(root / "grades.csv", "a,b\n")                     # ignored
    write(root / ".hidden.ipynb", notebook("x = 9"))        # ignored
    write(root / "lee" / ".ipynb_checkpoints" / "convolution-checkpoint.ipynb", notebook("old"))
    write(root / "__MACOSX" / "._smith.ipynb", b"junk")
    subs = discover([root], workdir=tmp_path / "w")
    assert students(subs) == [("jones", None, ""), ("kim", None, "missing"), ("lee", None, ""),
                              ("park", None, "missing"), ("smith", None, "")]
    kim = subs[1]
    assert kim.problem == f"no notebook (.ipynb or .py) in {root / 'kim'} (found only: notes.pdf)"
    assert kim.path == root / "kim"
    with pytest.raises(UnreadableSubmission):
        kim.read_bytes()
    assert subs[2].path == root / "lee" / "convolution.ipynb"


def test_student_folder_with_a_notebook_deeper_down(tmp_path):
    write(tmp_path / "hw" / "smith" / "hw3" / "conv.ipynb", notebook("x = 1"))
    [sub] = discover([tmp_path / "hw"], workdir=tmp_path / "w")
    assert sub.student == "smith" and sub.path.name == "conv.ipynb" and sub.assignment is None


def test_several_notebooks_for_one_student_pick_rules(tmp_path):
    root = tmp_path / "hw"
    # the assignment's name wins
    write(root / "a" / "scratch.ipynb", notebook("x = 1"))
    write(root / "a" / "Convolution-1.ipynb", notebook("x = 2"))
    # the release metadata wins
    write(root / "b" / "mine.ipynb", released("convolution", "x = 1"))
    write(root / "b" / "other.ipynb", notebook("x = 2"))
    # newest wins, Untitled loses, .ipynb over .py
    write(root / "c" / "old.ipynb", notebook("x = 1"))
    write(root / "c" / "new.ipynb", notebook("x = 2"))
    write(root / "c" / "Untitled1.ipynb", notebook("x = 3"))
    write(root / "c" / "helpers.py", "x = 4\n")
    os.utime(root / "c" / "old.ipynb", (1_000_000, 1_000_000))
    os.utime(root / "c" / "new.ipynb", (2_000_000, 2_000_000))
    os.utime(root / "c" / "Untitled1.ipynb", (3_000_000, 3_000_000))
    subs = {s.student: s for s in discover([root], workdir=tmp_path / "w", assignment="convolution")}
    assert subs["a"].path.name == "Convolution-1.ipynb"
    assert subs["a"].note == "graded Convolution-1.ipynb of 2 files (ignored: scratch.ipynb)"
    assert subs["b"].path.name == "mine.ipynb"
    assert subs["c"].path.name == "new.ipynb"
    assert "ignored: Untitled1.ipynb, helpers.py, old.ipynb" in subs["c"].note
    # without an assignment: a released notebook beats a scratch one
    assert {s.student: s.path.name for s in discover([root], workdir=tmp_path / "w")}["b"] == "mine.ipynb"


def test_nbgrader_tree_from_the_course_root_with_timestamps(tmp_path):
    course = tmp_path / "course"
    sub = course / "submitted"
    write(sub / "alice" / "convolution" / "convolution.ipynb", notebook("x = 1"))
    write(sub / "alice" / "convolution" / "timestamp.txt", "2024-02-15 13:45:12.123456 UTC")
    write(sub / "alice" / "pooling" / "pooling.ipynb", notebook("x = 1"))
    write(sub / "bob" / "convolution" / "convolution.ipynb", notebook("x = 2"))
    write(sub / "bob" / "convolution" / "convolution-Copy1.ipynb", notebook("x = 3"))
    write(sub / "bob" / "convolution" / "timestamp.txt", "2024-02-16T09:00:00+01:00\n")
    (sub / "carol" / "convolution").mkdir(parents=True)
    (sub / "dave" / "pooling").mkdir(parents=True)
    write(course / "source" / "convolution" / "convolution.ipynb", notebook("solution"))
    everything = discover([course], workdir=tmp_path / "w")
    assert students(everything) == [("alice", "convolution", ""), ("alice", "pooling", ""),
                                    ("bob", "convolution", ""), ("carol", "convolution", "missing"),
                                    ("dave", "pooling", "missing")]
    conv = discover([sub], workdir=tmp_path / "w", assignment="convolution")
    assert students(conv) == [("alice", "convolution", ""), ("bob", "convolution", ""),
                              ("carol", "convolution", "missing"), ("dave", "convolution", "missing")]
    alice, bob = conv[0], conv[1]
    assert alice.submitted_at == "2024-02-15T13:45:12.123456+00:00"
    assert bob.submitted_at == "2024-02-16T09:00:00+01:00"
    assert bob.path.name == "convolution.ipynb"
    assert conv[3].problem == f"no submission of 'convolution' in {sub / 'dave'}"


def test_nbgrader_student_assignment_folder_or_file_given_directly(tmp_path):
    sub = tmp_path / "submitted"
    nb = write(sub / "alice" / "convolution" / "convolution.ipynb", notebook("x = 1"))
    write(sub / "alice" / "convolution" / "timestamp.txt", "2024-02-15 13:45:12 UTC")
    expected = [("alice", "convolution", "")]
    for path in (sub / "alice", sub / "alice" / "convolution", nb):
        subs = discover([path], workdir=tmp_path / "w")
        assert students(subs) == expected
        assert subs[0].submitted_at == "2024-02-15T13:45:12+00:00"


def test_nbgrader_like_student_folder_inside_a_class_folder(tmp_path):
    write(tmp_path / "hw" / "alice" / "convolution" / "convolution.ipynb", notebook("x = 1"))
    write(tmp_path / "hw" / "alice" / "convolution" / "timestamp.txt", "2024-02-15 13:45:12")
    [sub] = discover([tmp_path / "hw"], workdir=tmp_path / "w")
    assert (sub.student, sub.assignment, sub.submitted_at) == ("alice", "convolution", "2024-02-15T13:45:12")


# --- discover: zips and LMS downloads ---------------------------------------------------------------


def test_canvas_zip_names_give_the_user_id(tmp_path):
    archive = make_zip(tmp_path / "submissions.zip", {
        "smithjohn_12345_67890_convolution.ipynb": notebook("x = 1"),
        "doejane_LATE_23456_78901_convolution-1.ipynb": notebook("x = 2"),
        "leeann_34567_89012_convolution.ipynb": notebook("x = 3"),
        "leeann_34567_89013_helpers.py": "x = 4\n",
        "__MACOSX/._smithjohn_12345_67890_convolution.ipynb": b"junk",
        ".DS_Store": b"junk",
        "index.html": "<html>",
    })
    subs = discover([archive], workdir=tmp_path / "w", assignment="convolution")
    assert students(subs) == [("12345", None, ""), ("23456", None, ""), ("34567", None, "")]
    assert subs[1].note == "submitted late (LMS LATE flag)"
    assert subs[2].path.name == "leeann_34567_89012_convolution.ipynb"
    assert subs[0].source == f"{archive}!smithjohn_12345_67890_convolution.ipynb"
    assert load_cells(subs[0].read_bytes(), name=subs[0].path.name).cells == ["x = 1"]
    assert subs[0].path.is_relative_to(tmp_path / "w")


def test_lms_name_rules():
    assert student_from_name("smithjohn_12345_67890_convolution.ipynb") == "12345"
    assert student_from_name("smithjohn_LATE_12345_67890_my_conv_v2.ipynb") == "12345"
    assert student_from_name("John Smith_4567_assignsubmission_file_", folder=True) == "4567"
    assert student_from_name("John Smith_4567_assignsubmission_file_conv.ipynb") == "4567"
    assert student_from_name("HW 3_jsmith_attempt_2024-02-15-13-45-12_conv.ipynb") == "jsmith"
    assert student_from_name("smith.ipynb") == "smith"
    assert student_from_name("smith_john.ipynb") == "smith_john"
    assert student_from_name("evil:na/me\\x", folder=True) == "evil_na_me_x"
    assert student_from_name(".ipynb") == "ipynb"  # never hidden
    assert student_from_name("..", folder=True) == "unknown"


def test_moodle_folders_and_blackboard_names_in_a_zip(tmp_path):
    archive = make_zip(tmp_path / "class.zip", {
        "Jane Doe_1001_assignsubmission_file_/conv.ipynb": notebook("x = 1"),
        "HW3_jsmith_attempt_2024-02-15-13-45-12_conv.ipynb": notebook("x = 2"),
        "HW3_jsmith_attempt_2024-02-15-13-45-12.txt": "Name: J Smith",
    })
    subs = discover([archive], workdir=tmp_path / "w")
    assert students(subs) == [("1001", None, ""), ("jsmith", None, "")]
    assert subs[1].submitted_at == "2024-02-15T13:45:12"


def test_zip_of_a_folder_is_unwrapped_and_nested_dirs_are_read(tmp_path):
    archive = make_zip(tmp_path / "hw3.zip", {
        "hw3_submissions/smith.ipynb": notebook("x = 1"),
        "hw3_submissions/jones/work/conv.ipynb": notebook("x = 2"),
        "hw3_submissions/.ipynb_checkpoints/smith-checkpoint.ipynb": notebook("old"),
    })
    subs = discover([archive], workdir=tmp_path / "w")
    assert students(subs) == [("jones", None, ""), ("smith", None, "")]
    assert subs[0].source == f"{archive}!hw3_submissions/jones/work/conv.ipynb"
    single = make_zip(tmp_path / "one.zip", {"smith/conv.ipynb": notebook("x = 1")})
    assert students(discover([single], workdir=tmp_path / "w")) == [("smith", None, "")]


def test_zip_of_an_nbgrader_tree(tmp_path):
    archive = make_zip(tmp_path / "course.zip", {
        "course/submitted/alice/convolution/convolution.ipynb": notebook("x = 1"),
        "course/submitted/alice/convolution/timestamp.txt": "2024-02-15 13:45:12 UTC",
        "course/source/convolution/convolution.ipynb": notebook("solution"),
    })
    [sub] = discover([archive], workdir=tmp_path / "w", assignment="convolution")
    assert (sub.student, sub.assignment, sub.submitted_at) == ("alice", "convolution", "2024-02-15T13:45:12+00:00")


def test_student_zip_inside_a_class_zip_or_folder(tmp_path):
    inner = make_zip(tmp_path / "inner.zip", {"hw/convolution.ipynb": notebook("x = 1"),
                                              "hw/data.csv": "1,2"})
    archive = make_zip(tmp_path / "class.zip", {
        "smithjohn_12345_67890_hw.zip": inner.read_bytes(),
        "doe_222_333_conv.ipynb": notebook("x = 2"),
    })
    subs = discover([archive], workdir=tmp_path / "w")
    assert students(subs) == [("12345", None, ""), ("222", None, "")]
    assert subs[0].source == f"{archive}!smithjohn_12345_67890_hw.zip!hw/convolution.ipynb"
    write(tmp_path / "dir" / "kim.zip", inner.read_bytes())
    [kim] = discover([tmp_path / "dir"], workdir=tmp_path / "w")
    assert kim.student == "kim" and kim.path.name == "convolution.ipynb"


def test_extraction_is_reused_and_deterministic(tmp_path):
    archive = make_zip(tmp_path / "c.zip", {"a_1_2_x.ipynb": notebook("x = 1"), "b_3_4_x.ipynb": notebook("y")})
    first = discover([archive], workdir=tmp_path / "w")
    second = discover([archive], workdir=tmp_path / "w")
    assert first == second
    assert [s.fingerprint for s in first] == [s.fingerprint for s in second]
    assert len(list((tmp_path / "w" / "unzipped").iterdir())) == 1


# --- discover: zip safety ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../evil.ipynb", "a/../../evil.ipynb", "/abs/evil.ipynb",
                                  "C:\\evil.ipynb", "..\\evil.ipynb"])
def test_zip_traversal_and_absolute_paths_are_refused(tmp_path, name):
    archive = make_zip(tmp_path / "bad.zip", {"ok.ipynb": notebook("x"), name: notebook("evil")})
    with pytest.raises(GraderError, match="refusing an archive"):
        discover([archive], workdir=tmp_path / "w" / "deep")
    assert not list(tmp_path.rglob("evil.ipynb"))
    assert not [p for p in tmp_path.rglob("*") if p.suffix == ".ipynb" or p.name.startswith(".partial")]


def test_traversal_in_a_student_zip_spoils_only_that_student(tmp_path):
    evil = make_zip(tmp_path / "evil.zip", {"../../x.ipynb": notebook("evil")})
    archive = make_zip(tmp_path / "class.zip", {"a_1_2_hw.zip": evil.read_bytes(),
                                                "b_3_4_hw.ipynb": notebook("x = 1")})
    subs = discover([archive], workdir=tmp_path / "w")
    assert students(subs) == [("1", None, "unreadable"), ("3", None, "")]
    with pytest.raises(UnreadableSubmission, match="points outside it"):
        subs[0].read_bytes()


def test_zip_symlinks_are_ignored(tmp_path):
    archive = tmp_path / "links.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        link = zipfile.ZipInfo("smith.ipynb")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
        zf.writestr("jones.ipynb", nb_bytes(notebook("x = 1")))
    subs = discover([archive], workdir=tmp_path / "w")
    assert students(subs) == [("jones", None, "")]
    assert not any(p.is_symlink() for p in (tmp_path / "w").rglob("*"))


def test_zip_bomb_entry_is_an_unreadable_submission(tmp_path):
    bomb = b'{"cells": [], "pad": "' + b" " * (4 * 1024 * 1024) + b'"}'
    archive = make_zip(tmp_path / "class.zip", {"bomb.ipynb": bomb, "fine.ipynb": notebook("x = 1")})
    subs = discover([archive], workdir=tmp_path / "w")
    assert students(subs) == [("bomb", None, "unreadable"), ("fine", None, "")]
    with pytest.raises(UnreadableSubmission, match="zip bomb"):
        subs[0].read_bytes()
    assert subs[0].fingerprint == discover([archive], workdir=tmp_path / "w")[0].fingerprint


def test_zip_caps_on_members_total_size_and_entry_size(tmp_path, monkeypatch):
    archive = make_zip(tmp_path / "class.zip", {f"s{i}.ipynb": notebook("x = 1") for i in range(5)})
    monkeypatch.setattr(loading, "MAX_ARCHIVE_MEMBERS", 4)
    with pytest.raises(GraderError, match="has 5 entries; the limit is 4"):
        discover([archive], workdir=tmp_path / "w1")
    monkeypatch.setattr(loading, "MAX_ARCHIVE_MEMBERS", 100)
    monkeypatch.setattr(loading, "MAX_ARCHIVE_BYTES", 300)
    with pytest.raises(GraderError, match="would extract to"):
        discover([archive], workdir=tmp_path / "w2")
    monkeypatch.setattr(loading, "MAX_ARCHIVE_BYTES", 10**6)
    big = make_zip(tmp_path / "big.zip", {"big.ipynb": notebook("x = 1" * 100), "ok.ipynb": notebook("x")})
    monkeypatch.setattr(loading, "MAX_FILE_BYTES", 200)
    subs = discover([big], workdir=tmp_path / "w3")
    assert students(subs) == [("big", None, "unreadable"), ("ok", None, "")]
    assert "the limit is 0.0 MB" in subs[0].unreadable


def test_corrupt_or_fake_zip_is_a_grader_error(tmp_path):
    with pytest.raises(GraderError, match="not a readable zip archive"):
        discover([write(tmp_path / "fake.zip", notebook("x"))], workdir=tmp_path / "w")


def test_encrypted_entry_is_unreadable(tmp_path):
    archive = make_zip(tmp_path / "c.zip", {"smith.ipynb": notebook("x = 1")})
    data = bytearray(archive.read_bytes())
    # set the "encrypted" flag bit in the local and central headers
    for sig in (b"PK\x03\x04", b"PK\x01\x02"):
        at = data.find(sig)
        offset = at + (6 if sig == b"PK\x03\x04" else 8)
        data[offset] |= 1
    archive.write_bytes(bytes(data))
    [sub] = discover([archive], workdir=tmp_path / "w")
    assert sub.status == "unreadable" and "encrypted" in sub.unreadable


# --- discover: duplicates, ordering, fingerprints -------------------------------------------------


def test_duplicate_students_across_inputs_are_an_error(tmp_path):
    a = write(tmp_path / "sec1" / "smith.ipynb", notebook("x = 1"))
    b = write(tmp_path / "sec2" / "smith.py", "x = 2\n")
    with pytest.raises(GraderError, match="the same student id appears twice \\('smith': "):
        discover([tmp_path / "sec1", tmp_path / "sec2"], workdir=tmp_path / "w")
    assert len(discover([a, a, tmp_path / "sec1"], workdir=tmp_path / "w")) == 1
    assert discover([b], workdir=tmp_path / "w")[0].student == "smith"


def test_a_file_and_a_folder_of_one_student_in_one_folder_are_one_submission(tmp_path):
    write(tmp_path / "hw" / "smith.ipynb", notebook("x = 1"))
    write(tmp_path / "hw" / "smith" / "draft.py", "x = 2\n")
    [sub] = discover([tmp_path / "hw"], workdir=tmp_path / "w")
    assert sub.path.name == "smith.ipynb" and "ignored: draft.py" in sub.note


def test_discover_is_sorted_and_deterministic(tmp_path):
    for name in ["zed", "amy", "Bob", "10", "9"]:
        write(tmp_path / "hw" / f"{name}.ipynb", notebook("x = 1"))
    first = discover([tmp_path / "hw"], workdir=tmp_path / "w")
    assert [s.student for s in first] == ["10", "9", "Bob", "amy", "zed"]
    assert discover([tmp_path / "hw"], workdir=tmp_path / "w") == first


def test_fingerprint_is_the_content_hash(tmp_path):
    import hashlib

    a = write(tmp_path / "a" / "smith.ipynb", notebook("x = 1"))
    b = write(tmp_path / "b" / "smith.ipynb", notebook("x = 1"))
    sa, sb = (discover([p], workdir=tmp_path)[0] for p in (a, b))
    assert sa.fingerprint == sb.fingerprint == hashlib.sha256(a.read_bytes()).hexdigest()
    missing = Submission("kim", tmp_path, None, problem="no notebook")
    assert missing.fingerprint == Submission("kim", tmp_path / "x", None, problem="no notebook").fingerprint
    assert missing.fingerprint != sa.fingerprint


def test_read_bytes_is_capped_and_never_raises_os_errors(tmp_path, monkeypatch):
    path = write(tmp_path / "smith.ipynb", b"x" * 500)
    sub = Submission("smith", path, None)
    monkeypatch.setattr(loading, "MAX_FILE_BYTES", 100)
    with pytest.raises(UnreadableSubmission, match="limit"):
        sub.read_bytes()
    with pytest.raises(UnreadableSubmission, match="could not be read"):
        Submission("x", tmp_path / "gone.ipynb", None).read_bytes()


@pytest.mark.parametrize(("text", "iso"), [
    ("2024-02-15 13:45:12.123456 UTC", "2024-02-15T13:45:12.123456+00:00"),
    ("2024-02-15T13:45:12Z\n", "2024-02-15T13:45:12+00:00"),
    ("2024-02-15 13:45:12.1 +0530", "2024-02-15T13:45:12.100000+05:30"),
    ("2024-02-15 13:45 PST", "2024-02-15T13:45:00"),
    ("yesterday", ""),
    ("", ""),
    ("2024-13-45 99:00:00", ""),
])
def test_timestamps(text, iso):
    assert parse_timestamp(text) == iso


# --- speed: what `dl101 check` pays ------------------------------------------------------------------


def test_import_and_plain_notebooks_do_not_import_nbformat_or_ipython(tmp_path):
    path = write(tmp_path / "n.ipynb", notebook(*["import numpy as np\nx = 1"] * 20))
    code = ("import sys, grader.loading as L\n"
            "assert 'nbformat' not in sys.modules and 'IPython' not in sys.modules\n"
            f"L.load_cells(open({str(path)!r}, 'rb').read(), name='n.ipynb')\n"
            "assert 'nbformat' not in sys.modules and 'IPython' not in sys.modules\n"
            "assert 'zipfile' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])
