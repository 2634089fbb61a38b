"""`make demo`: build a sample class from the course's own notebooks and grade it.

For every assignment the class (an nbgrader course) has a student who solved it, one who did half, one who
did nothing, one whose notebook has a syntax error, one whose file is corrupt, one whose
notebook never finishes, and one who attacks the grader instead of doing the work.

    python -m grader.demo [OUT_DIR]
"""

from __future__ import annotations

import copy
import json
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

from grader import assignments

Notebook = dict
HOSTILE_CELL = """\
import os, numpy as np
# Read the hidden tests or the reference, forge a perfect score, silence the checks.
for path in ["/work/main/solutions", "../solutions", "/work"]:
    try:
        print(os.listdir(path))
    except OSError as exc:
        print("blocked:", exc)
np.testing.assert_allclose = lambda *a, **k: None
for target in ["results.json", "/tmp/results.json", "../grades/results.json"]:
    try:
        open(target, "w").write('{"score": 100}')
    except OSError as exc:
        print("blocked:", exc)
try:
    os.kill(os.getppid(), 9)
except OSError as exc:
    print("blocked:", exc)
"""


def half_done(solution: Notebook, released: Notebook) -> Notebook:
    """The solution's first half of answer cells, the released stubs for the rest."""
    nb = copy.deepcopy(solution)
    answers = [i for i, c in enumerate(nb["cells"]) if c.get("metadata", {}).get("nbgrader", {}).get("solution")]
    for i in answers[len(answers) // 2:]:
        nb["cells"][i] = copy.deepcopy(released["cells"][i])
    return nb


def with_cell(base: Notebook, source: str, *, first: bool = False) -> Notebook:
    nb = copy.deepcopy(base)
    cell = {"cell_type": "code", "metadata": {}, "source": source, "outputs": [], "execution_count": None}
    nb["cells"].insert(1 if first else len(nb["cells"]), cell)
    return nb


def syntax_error(solution: Notebook) -> Notebook:
    """A typo in the first answer cell: that function is lost, the later cells still run."""
    nb = copy.deepcopy(solution)
    cell = next(c for c in nb["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("solution"))
    cell["source"] = "".join(cell["source"]) + "\nthis line is not python (\n"
    return nb


STUDENTS: dict[str, Callable[[Notebook, Notebook], Notebook | str]] = {
    "ada": lambda sol, rel: sol,
    "ben": half_done,
    "cy": lambda sol, rel: rel,
    "dee": lambda sol, rel: syntax_error(sol),
    "eve": lambda sol, rel: with_cell(rel, HOSTILE_CELL),
    "fay": lambda sol, rel: '{"cells": [',
    "gus": lambda sol, rel: with_cell(sol, "while True:\n    pass\n"),
}


#: Who submits what, when not everybody: the lab trains a Keras model per submission, and
#: one notebook that never finishes is enough to show the time limit.
ONLY = {"cnn_lab": ("ada", "cy")}
NEVER_FINISHES = {"gus": "convolution"}


def build_class(out: Path) -> Path:
    """Write an nbgrader course, <out>/course/submitted/<student>/<slug>/<slug>.ipynb; return
    its submitted/ dir."""
    root = assignments.repo_root()
    submitted = out / "course" / "submitted"
    shutil.rmtree(submitted, ignore_errors=True)
    for slug in assignments.list_assignments(root=root):
        solution = json.loads((assignments.solution_dir(slug, root=root) / f"{slug}.ipynb").read_text())
        released = json.loads((assignments.assignment_dir(slug, root=root) / f"{slug}.ipynb").read_text())
        solution.setdefault("metadata", {})["dl101"] = released["metadata"]["dl101"]
        for student, make in STUDENTS.items():
            if student not in ONLY.get(slug, STUDENTS) or NEVER_FINISHES.get(student, slug) != slug:
                continue
            nb = make(solution, released)
            text = nb if isinstance(nb, str) else json.dumps(nb, indent=1)
            (submitted / student / slug).mkdir(parents=True)
            (submitted / student / slug / f"{slug}.ipynb").write_text(text)
    return submitted


def main(argv: list[str] | None = None) -> int:
    import click

    from grader.cli import main as cli

    out = Path((argv or sys.argv[1:] or ["demo-out"])[0])
    submitted = build_class(out)
    count = sum(1 for _ in submitted.rglob("*.ipynb"))
    print(f"Sample class: {count} notebooks in {submitted}", file=sys.stderr)
    start = time.perf_counter()
    args = ["grade", str(submitted), "-o", str(out / "grades"), "--force"]
    try:
        cli.main(args, standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        return 1
    print(f"Graded in {time.perf_counter() - start:.1f} s. Open {out / 'grades' / 'report.html'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
