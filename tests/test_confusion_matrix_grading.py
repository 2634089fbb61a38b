"""The `confusion_matrix` graders separate right from wrong: the end-to-end proof.

One batch (`grade_paths`, the same code path as `dl101 grade`) grades:
- the solution notebook (must score full),
- an alternative correct implementation written differently (one-hot matrix product, plain
  loops, the harmonic-mean form of F1 guarded correctly: must score full),
- the released stub notebook (must score zero),
- mutants: the solution with ONE plausible bug each, made by source substitution (each must
  score strictly below full, lose the test named for it, and keep every point of the functions
  it did not touch).
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from grader import assignments
from grader.grade import grade_paths
from grader.results import SubmissionResult

SLUG = "confusion_matrix"
FUNCTIONS = ("confusion_matrix", "binary_counts", "accuracy", "precision", "recall", "f1_score")
#: The solution's precision, recall and f1_score call its binary_counts: a bug there is theirs too.
CALLERS = {"binary_counts": {"precision", "recall", "f1_score"}}
MAX_SCORE = 27


@dataclass(frozen=True)
class Mutant:
    name: str
    function: str  # the only function the bug is in
    old: str  # exact text of the solution notebook, found exactly once
    new: str
    caught_by: str  # a hidden test that must fail


MUTANTS = (
    Mutant("transposed", "confusion_matrix",
           "cm[index[t], index[p]] += 1", "cm[index[p], index[t]] += 1",
           "test_confusion_matrix_binary"),
    Mutant("labels_from_y_true_only", "confusion_matrix",
           "labels = np.unique(np.concatenate([y_true, y_pred]))", "labels = np.unique(y_true)",
           "test_confusion_matrix_label_seen_on_one_side_only"),
    Mutant("absent_labels_dropped", "confusion_matrix",
           "    labels = np.asarray(labels).tolist()\n",
           "    seen = set(y_true.tolist()) | set(y_pred.tolist())\n"
           "    labels = [label for label in np.asarray(labels).tolist() if label in seen]\n",
           "test_confusion_matrix_labels_with_absent_class"),
    Mutant("labels_resorted", "confusion_matrix",
           "labels = np.asarray(labels).tolist()", "labels = sorted(np.asarray(labels).tolist())",
           "test_confusion_matrix_labels_order_kept"),
    Mutant("labels_subset_raises", "confusion_matrix",
           "if t in index and p in index:", "if True:",
           "test_confusion_matrix_labels_subset"),
    Mutant("labels_as_indices", "confusion_matrix",
           "index = {label: i for i, label in enumerate(labels)}", "index = {label: label for label in labels}",
           "test_confusion_matrix_labels_are_not_indices"),
    Mutant("numbers_only", "confusion_matrix",
           "    y_true = np.asarray(y_true)\n    y_pred = np.asarray(y_pred)\n    if labels is None:",
           "    y_true = np.asarray(y_true, dtype=int)\n    y_pred = np.asarray(y_pred, dtype=int)\n"
           "    if labels is None:",
           "test_confusion_matrix_string_labels"),
    Mutant("float_counts", "confusion_matrix",
           "cm = np.zeros((len(labels), len(labels)), dtype=int)", "cm = np.zeros((len(labels), len(labels)))",
           "test_confusion_matrix_integer_counts"),
    Mutant("counts_fp_fn_swapped", "binary_counts",
           "    return tp, fp, fn, tn\n", "    return tp, fn, fp, tn\n",
           "test_binary_counts_binary"),
    Mutant("counts_from_binary_matrix", "binary_counts",
           "    is_pos_true = np.asarray(y_true) == positive\n",
           "    tn, fp, fn, tp = confusion_matrix(y_true, y_pred).ravel()\n"
           "    return int(tp), int(fp), int(fn), int(tn)\n"
           "    is_pos_true = np.asarray(y_true) == positive\n",
           "test_binary_counts_multiclass"),
    Mutant("accuracy_from_binary_counts", "accuracy",
           "    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))\n",
           "    tp, fp, fn, tn = binary_counts(y_true, y_pred)\n    return (tp + tn) / (tp + fp + fn + tn)\n",
           "test_accuracy_numbers"),
    Mutant("precision_is_recall", "precision",
           "    return tp / (tp + fp)\n", "    return tp / (tp + fn)\n",
           "test_precision_binary"),
    Mutant("precision_divides_by_zero", "precision",
           "    if tp + fp == 0:\n        return float(zero_division)\n", "",
           "test_precision_zero_division"),
    Mutant("precision_ignores_zero_division", "precision",
           "    if tp + fp == 0:\n        return float(zero_division)\n", "    if tp + fp == 0:\n        return 0.0\n",
           "test_precision_zero_division"),
    Mutant("recall_nan", "recall",
           "    if tp + fn == 0:\n        return float(zero_division)\n    return tp / (tp + fn)\n",
           "    with np.errstate(invalid='ignore'):\n        return float(np.divide(tp, tp + fn))\n",
           "test_recall_zero_division"),
    Mutant("f1_from_precision_and_recall", "f1_score",
           "    tp, fp, fn, tn = binary_counts(y_true, y_pred, positive)\n    if 2 * tp + fp + fn == 0:\n",
           "    p = precision(y_true, y_pred, positive, zero_division)\n"
           "    r = recall(y_true, y_pred, positive, zero_division)\n"
           "    if p + r == 0:\n        return float(zero_division)\n"
           "    return 2 * p * r / (p + r)\n"
           "    tp, fp, fn, tn = binary_counts(y_true, y_pred, positive)\n    if 2 * tp + fp + fn == 0:\n",
           "test_f1_no_true_positive"),
    Mutant("f1_is_jaccard", "f1_score",
           "    return 2 * tp / (2 * tp + fp + fn)\n", "    return tp / (tp + fp + fn)\n",
           "test_f1_binary"),
)

#: A correct implementation written differently from the solution, by solution cell grade_id.
ALTERNATIVE = {
    "confusion-matrix": '''
def confusion_matrix(y_true, y_pred, labels=None):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if labels is None:
        labels = np.union1d(y_true, y_pred)
    labels = np.asarray(labels)
    # one-hot rows: true_hits[n, i] says whether sample n has the true label labels[i]
    true_hits = (y_true[:, None] == labels[None, :]).astype(np.int64)
    pred_hits = (y_pred[:, None] == labels[None, :]).astype(np.int64)
    return true_hits.T @ pred_hits
''',
    "binary-counts": '''
def binary_counts(y_true, y_pred, positive=1):
    tp = fp = fn = tn = 0
    for t, p in zip(list(y_true), list(y_pred)):
        if t == positive and p == positive:
            tp += 1
        elif p == positive:
            fp += 1
        elif t == positive:
            fn += 1
        else:
            tn += 1
    return (tp, fp, fn, tn)
''',
    "accuracy": '''
def accuracy(y_true, y_pred):
    hits = sum(1 for t, p in zip(list(y_true), list(y_pred)) if t == p)
    return hits / len(y_true)
''',
    "precision-recall-code": '''
def _ratio(numerator, denominator, zero_division):
    return float(zero_division) if denominator == 0 else float(numerator) / float(denominator)


def precision(y_true, y_pred, positive=1, zero_division=0.0):
    said_yes = np.asarray(y_pred) == positive
    right = said_yes & (np.asarray(y_true) == positive)
    return _ratio(right.sum(), said_yes.sum(), zero_division)


def recall(y_true, y_pred, positive=1, zero_division=0.0):
    really_yes = np.asarray(y_true) == positive
    found = really_yes & (np.asarray(y_pred) == positive)
    return _ratio(found.sum(), really_yes.sum(), zero_division)
''',
    "f1-score": '''
def f1_score(y_true, y_pred, positive=1, zero_division=0.0):
    tp, fp, fn, _ = binary_counts(y_true, y_pred, positive)
    if tp == 0:
        return float(zero_division) if fp + fn == 0 else 0.0
    p, r = tp / (tp + fp), tp / (tp + fn)
    return 2 * p * r / (p + r)
''',
}


# -- building the class ---------------------------------------------------------------------


def solution_notebook() -> nbformat.NotebookNode:
    path = assignments.solution_dir(SLUG) / f"{SLUG}.ipynb"
    return nbformat.read(path, as_version=nbformat.NO_CONVERT)


def mutate(nb: nbformat.NotebookNode, old: str, new: str) -> nbformat.NotebookNode:
    """A copy of ``nb`` with ``old`` replaced by ``new`` in the one code cell holding it once."""
    nb = nbformat.from_dict(nb)
    holders = [c for c in nb.cells if c.cell_type == "code" and old in c.source]
    if len(holders) != 1 or holders[0].source.count(old) != 1:
        raise AssertionError(f"mutation target {old!r} is not found exactly once in the solution")
    holders[0].source = holders[0].source.replace(old, new)
    return nb


def alternative_notebook() -> nbformat.NotebookNode:
    nb = nbformat.from_dict(solution_notebook())
    replaced = set()
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in ALTERNATIVE:
            cell.source = ALTERNATIVE[grade_id].strip("\n")
            replaced.add(grade_id)
    if replaced != set(ALTERNATIVE):
        raise AssertionError(f"solution cells not found: {sorted(set(ALTERNATIVE) - replaced)}")
    return nb


def write_class(directory: Path) -> dict[str, Path]:
    """Every notebook of the batch as ``<student>.ipynb`` in ``directory``."""
    notebooks = {
        "solution": solution_notebook(),
        "alternative": alternative_notebook(),
        **{f"mutant-{m.name}": mutate(solution_notebook(), m.old, m.new) for m in MUTANTS},
    }
    paths = {}
    for student, nb in notebooks.items():
        paths[student] = directory / f"{student}.ipynb"
        nbformat.write(nb, paths[student])
    paths["stub"] = directory / "stub.ipynb"
    shutil.copyfile(assignments.assignment_dir(SLUG) / f"{SLUG}.ipynb", paths["stub"])
    return paths


def hidden_test_titles() -> dict[str, str]:
    """Hidden test function name -> the title results carry (first docstring line).

    Read from the source, not imported: importing it here would run the graders' module
    under this session's --strict-markers, where the points marker is not registered.
    """
    tree = ast.parse(assignments.hidden_tests(SLUG).read_text())
    return {node.name: (ast.get_docstring(node) or "").strip().splitlines()[0]
            for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


def function_of(title: str) -> str:
    """Which student function a hidden test grades: its title starts with the name."""
    name = title.split(":")[0].strip()
    if name not in FUNCTIONS:
        raise AssertionError(f"hidden test title {title!r} does not start with one of {FUNCTIONS}")
    return name


def sandbox_ok() -> bool:
    from grader.sandbox import sandbox_problem

    return not sandbox_problem()


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SubmissionResult]:
    """The whole class graded in ONE batch (sandboxed where this machine can sandbox)."""
    base = tmp_path_factory.mktemp(f"{SLUG}-class")
    submissions = base / "submissions"
    submissions.mkdir()
    write_class(submissions)
    results = grade_paths([submissions], assignment=SLUG, out=base / "grades", jobs=2,
                          unsafe=not sandbox_ok())
    return {r.student: r for r in results}


def failures(result: SubmissionResult) -> dict[str, str]:
    return {t.name: t.output for t in result.tests if t.status != "passed"}


# -- the tests ---------------------------------------------------------------------------------


def test_every_notebook_was_graded(graded):
    expected = {"solution", "alternative", "stub", *(f"mutant-{m.name}" for m in MUTANTS)}
    assert set(graded) == expected
    for student, result in graded.items():
        assert result.status == "graded", (student, result.status, result.output)
        assert not result.grader_broke, (student, [t.name for t in result.tests if t.grader_error])
        assert result.max_score == MAX_SCORE, (student, result.max_score)


def test_solution_scores_full(graded):
    result = graded["solution"]
    assert result.score == result.max_score, failures(result)


def test_alternative_implementation_scores_full(graded):
    result = graded["alternative"]
    assert result.score == result.max_score, failures(result)


def test_released_stub_scores_zero(graded):
    result = graded["stub"]
    assert result.score == 0
    assert all(t.status == "failed" for t in result.tests)
    assert all("NotImplementedError" in t.output for t in result.tests), [t.output for t in result.tests]


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_mutant_scores_below_full(graded, mutant):
    result = graded[f"mutant-{mutant.name}"]
    failed = failures(result)
    assert 0 < result.score < result.max_score, (result.score, failed)
    assert hidden_test_titles()[mutant.caught_by] in failed, (mutant.caught_by, failed)
    # Partial credit: only tests of the broken function (and of the solution's functions that call it) fail.
    allowed = {mutant.function, *CALLERS.get(mutant.function, ())}
    others = {name: out for name, out in failed.items() if function_of(name) not in allowed}
    assert not others, others


def test_feedback_names_the_case_without_dumping_inputs(graded):
    """Failure messages are short, name the function, and never print an array."""
    for student, result in graded.items():
        for test in result.tests:
            if test.status == "passed":
                continue
            assert len(test.output) < 400, (student, test.name, test.output)
            assert "[[" not in test.output and "array(" not in test.output, (student, test.output)
            assert function_of(test.name) in test.output or "labels" in test.output, (student, test.output)


def test_feedback_explains_the_classic_mistakes(graded):
    """The messages of the classic mistakes say what the mistake is, in the student's terms."""
    titles = hidden_test_titles()
    expectations = {
        ("transposed", "test_confusion_matrix_binary"): "transposed",
        ("labels_resorted", "test_confusion_matrix_labels_order_kept"): "order of labels as given",
        ("absent_labels_dropped", "test_confusion_matrix_labels_with_absent_class"): "expected a 5x5 matrix",
        ("counts_fp_fn_swapped", "test_binary_counts_binary"): "wrong order",
        ("precision_is_recall", "test_precision_binary"): "which is the recall",
        ("recall_nan", "test_recall_zero_division"): "got NaN",
        ("precision_divides_by_zero", "test_precision_zero_division"): "ZeroDivisionError",
        ("f1_from_precision_and_recall", "test_f1_no_true_positive"): "only for a zero denominator",
        ("float_counts", "test_confusion_matrix_integer_counts"): "integer array",
    }
    for (mutant, test), phrase in expectations.items():
        message = failures(graded[f"mutant-{mutant}"])[titles[test]]
        assert phrase in message, (mutant, message)


def dl101_check(notebook: Path) -> subprocess.CompletedProcess:
    """`dl101 check` as a student runs it (its own process: one pytest session per check)."""
    return subprocess.run([sys.executable, "-c", "from grader.cli import main; main()", "check", str(notebook),
                           "-a", SLUG], capture_output=True, text=True, timeout=120)


def test_public_checks_pass_on_the_solution_and_fail_on_the_stub():
    """`dl101 check` (no sandbox) passes the solution and fails every check of the stub."""
    solution = dl101_check(assignments.solution_dir(SLUG) / f"{SLUG}.ipynb")
    assert solution.returncode == 0, solution.stdout + solution.stderr
    assert "6/6 public checks passed" in solution.stdout, solution.stdout
    stub = dl101_check(assignments.assignment_dir(SLUG) / f"{SLUG}.ipynb")
    assert stub.returncode == 1, stub.stdout + stub.stderr
    assert "0/6 public checks passed" in stub.stdout, stub.stdout
