"""The `cnn_lab` graders: real training in the sandbox separates right from wrong.

One batch (`grade_paths`, the code path of `dl101 grade`, two runners, each with one warm
TensorFlow zygote) grades:
- the solution notebook, unmodified (must score full);
- the released stub notebook (must score zero);
- variants of the solution, each with one problem, that must lose exactly the points named for
  it: a model without the required layers, a model that never trains (learning rate 0), a
  preprocessing bug (no scaling), a model over the parameter budget, and a model far too slow
  to train in the budget (stopped early with a clear message, not a hung batch).
The variants' own training cells are cut down to one epoch on 64 images: the grader trains
every model itself, with its fixed budget, whatever the notebook did; this keeps the batch short.

Cheap in-process tests (no TensorFlow) check the hidden graders' plumbing with a fake student:
the held-out labels are never sent, the harness runs once per submission, a malformed report
is the student's failure and not the grader's.

Marked slow (it trains models), and it runs in `make test`.
"""

from __future__ import annotations

import gc
import importlib.util
import inspect
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any

import nbformat
import numpy as np
import pytest

from grader import assignments
from grader.grade import grade_paths
from grader.results import SubmissionResult

pytestmark = pytest.mark.slow

SLUG = "cnn_lab"
MAX_SCORE = 22
#: Generous: the batch shares two cores with the rest of the test suite (timing is the benchmark's job).
TIMEOUT = 300.0

LAYER_OF_TEST = {"test_layer_conv2d": "Conv2D", "test_layer_max_pooling": "MaxPooling2D",
                 "test_layer_batch_norm": "BatchNormalization", "test_layer_dropout": "Dropout"}
LAYER_TESTS = set(LAYER_OF_TEST)
ACCURACY_TESTS = {"test_accuracy_tier_1", "test_accuracy_tier_2", "test_accuracy_tier_3", "test_accuracy_tier_4",
                  "test_every_digit_recognised"}
TRAINING_TESTS = {"test_training_lowers_the_loss", *ACCURACY_TESTS}

MLP = '''
def build_cnn(input_shape=(8, 8, 1), num_classes=10):
    """A dense network: none of the four layer types of the lab."""
    model = keras.Sequential([
        keras.Input(shape=input_shape),
        keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(num_classes, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
'''

TOO_LARGE = '''
def build_cnn(input_shape=(8, 8, 1), num_classes=10):
    """All four layer types, but a Dense(512) after Flatten: about 540,000 parameters."""
    model = keras.Sequential([
        keras.Input(shape=input_shape),
        keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
        keras.layers.BatchNormalization(),
        keras.layers.MaxPooling2D(2),
        keras.layers.Dropout(0.25),
        keras.layers.Flatten(),
        keras.layers.Dense(512, activation="relu"),
        keras.layers.Dense(num_classes, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
'''

TOO_SLOW = '''
def build_cnn(input_shape=(8, 8, 1), num_classes=10):
    """Few parameters, but every image blown up to 64 x 64 first: ~100x the solution's work."""
    model = keras.Sequential([
        keras.Input(shape=input_shape),
        keras.layers.UpSampling2D(size=8),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.BatchNormalization(),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(4),
        keras.layers.Dropout(0.25),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(num_classes, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
'''

#: The variants' own training: one epoch on 64 images (the grader trains the model itself).
QUICK_TRAINING = (("EPOCHS = 10", "EPOCHS = 1"),
                  ("model.fit(x_train, y_train,", "model.fit(x_train[:64], y_train[:64],"))

#: variant -> (edits: grade_id -> [(old, new)] or grade_id -> new source; hidden tests it must fail)
VARIANTS: dict[str, tuple[dict[str, Any], set[str]]] = {
    "no-required-layers": ({"build-cnn": MLP}, LAYER_TESTS),
    "never-trains": ({"build-cnn": [("Adam(learning_rate=1e-3)", "Adam(learning_rate=0.0)")]}, TRAINING_TESTS),
    "no-scaling": ({"preprocess": [("np.asarray(images, dtype=np.float32) / np.float32(16.0)",
                                    "np.asarray(images, dtype=np.float32)")]},
                   {"test_preprocess_range"}),
    "too-large": ({"build-cnn": TOO_LARGE}, {"test_parameter_budget", *TRAINING_TESTS}),
}
TOO_SLOW_VARIANT = "too-slow"


# -- building the class ------------------------------------------------------------------------


def solution_notebook() -> nbformat.NotebookNode:
    return nbformat.read(assignments.solution_dir(SLUG) / f"{SLUG}.ipynb", as_version=nbformat.NO_CONVERT)


def edited(edits: dict[str, Any]) -> nbformat.NotebookNode:
    """The solution with its cells edited (by grade_id): replaced, or ``old`` -> ``new`` found once."""
    nb = solution_notebook()
    cells = {c.metadata.nbgrader["grade_id"]: c for c in nb.cells}
    for grade_id, edit in {"train": list(QUICK_TRAINING), **edits}.items():
        cell = cells[grade_id]
        if isinstance(edit, str):
            cell.source = textwrap.dedent(edit).strip("\n")
            continue
        for old, new in edit:
            if cell.source.count(old) != 1:
                raise AssertionError(f"{old!r} is not found exactly once in cell {grade_id}")
            cell.source = cell.source.replace(old, new)
    return nb


def write_class(directory: Path) -> None:
    nbformat.write(solution_notebook(), directory / "solution.ipynb")
    shutil.copyfile(assignments.assignment_dir(SLUG) / f"{SLUG}.ipynb", directory / "stub.ipynb")
    for name, (edits, _) in VARIANTS.items():
        nbformat.write(edited(edits), directory / f"{name}.ipynb")
    nbformat.write(edited({"build-cnn": TOO_SLOW}), directory / f"{TOO_SLOW_VARIANT}.ipynb")


def hidden_module() -> ModuleType:
    path = assignments.hidden_tests(SLUG)
    name = f"{SLUG}_hidden_tests"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the class is made
        spec.loader.exec_module(module)
    return sys.modules[name]


def titles() -> dict[str, str]:
    """Hidden test function name -> the title its result carries (first docstring line)."""
    return {name: obj.__doc__.strip().splitlines()[0] for name, obj in vars(hidden_module()).items()
            if name.startswith("test_") and callable(obj)}


PUBLIC_CHECKS = """
import json, sys
import nbformat
from grader.check import run_cells, run_public_tests
out = {}
for name, path in json.loads(sys.argv[1]).items():
    nb = nbformat.read(path, as_version=4)
    keep = ("imports", "preprocess", "build-cnn")
    cells = [c.source for c in nb.cells if c.metadata["nbgrader"]["grade_id"] in keep]
    namespace, errors = run_cells(cells)
    out[name] = {"errors": errors,
                 "tests": [[t.name, t.status, t.output] for t in run_public_tests("cnn_lab", namespace)]}
print(json.dumps(out))
"""


def start_public_checks(notebooks: dict[str, Path], log: Path) -> subprocess.Popen:
    """The public checks, in-process as on a student's machine (`dl101 check`), but without the
    notebook's training cells; in a child process so that it overlaps the batch."""
    env = {**os.environ, "PYTHONPATH": str(assignments.repo_root()), "TF_CPP_MIN_LOG_LEVEL": "2",
           "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1", "OMP_NUM_THREADS": "1",
           "CUDA_VISIBLE_DEVICES": "", "MPLBACKEND": "Agg"}
    paths = json.dumps({name: str(path) for name, path in notebooks.items()})
    with open(log, "wb") as stderr:
        return subprocess.Popen([sys.executable, "-c", PUBLIC_CHECKS, paths], env=env, stdout=subprocess.PIPE,
                                stderr=stderr, text=True)


def sandbox_ok() -> bool:
    from grader.sandbox import sandbox_problem

    return not sandbox_problem()


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, SubmissionResult], dict[str, Any]]:
    """The whole class graded in ONE batch, and the public checks run meanwhile."""
    base = tmp_path_factory.mktemp(f"{SLUG}-class")
    submissions = base / "submissions"
    submissions.mkdir()
    write_class(submissions)
    log = base / "public-checks.log"
    public = start_public_checks({"solution": submissions / "solution.ipynb", "stub": submissions / "stub.ipynb"},
                                 log)
    try:
        results = grade_paths([submissions], assignment=SLUG, out=base / "grades", jobs=2, timeout=TIMEOUT,
                              unsafe=not sandbox_ok())
        stdout, _ = public.communicate(timeout=300)
    finally:
        if public.poll() is None:
            public.kill()
            public.wait()
    assert public.returncode == 0, log.read_text()[-3000:]
    return {r.student: r for r in results}, json.loads(stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def graded(batch) -> dict[str, SubmissionResult]:
    return batch[0]


def failures(result: SubmissionResult) -> dict[str, str]:
    return {t.name: t.output for t in result.tests if t.status != "passed"}


# -- the batch ---------------------------------------------------------------------------------


def test_every_notebook_was_graded(graded):
    assert set(graded) == {"solution", "stub", TOO_SLOW_VARIANT, *VARIANTS}
    for student, result in graded.items():
        assert result.status == "graded", (student, result.status, result.output)
        assert not result.grader_broke, (student, [(t.name, t.output) for t in result.tests if t.grader_error])
        assert result.max_score == MAX_SCORE, (student, result.max_score)


def test_solution_scores_full(graded):
    result = graded["solution"]
    assert result.score == MAX_SCORE, failures(result)
    assert not result.output, result.output  # every cell of the notebook ran


def test_released_stub_scores_zero(graded):
    result = graded["stub"]
    assert result.score == 0
    assert all("NotImplementedError" in t.output for t in result.tests), failures(result)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_variant_loses_exactly_its_points(graded, variant):
    result = graded[variant]
    expected = {titles()[name] for name in VARIANTS[variant][1]}
    assert set(failures(result)) == expected, (sorted(failures(result)), sorted(expected))
    lost = sum(t.max_score for t in result.tests if t.name in expected)
    assert result.score == MAX_SCORE - lost


def test_preprocessing_bug_is_explained(graded):
    message = failures(graded["no-scaling"])[titles()["test_preprocess_range"]]
    assert "values go up to 16" in message and "divid" in message, message


def test_missing_layers_are_named(graded):
    failed = failures(graded["no-required-layers"])
    for test, layer in LAYER_OF_TEST.items():
        message = failed[titles()[test]]
        assert f"no {layer} layer" in message and "its layers: Flatten, Dense, Dense" in message, message


def test_never_trains_feedback_shows_the_matrix_and_the_cause(graded):
    """Accuracy feedback: the student's confusion matrix, the weakest digits, and why."""
    failed = failures(graded["never-trains"])
    message = failed[titles()["test_accuracy_tier_4"]]
    assert "Confusion matrix (row = true digit, column = predicted digit)" in message, message
    assert "Weakest digits:" in message and "learning rate 0" in message, message
    assert len(message.splitlines()) >= 13 and len(message) < 3000, message
    assert "hardly went down" in failed[titles()["test_training_lowers_the_loss"]]


def test_full_marks_still_show_the_students_confusion_matrix(graded):
    recall = next(t for t in graded["solution"].tests if t.name == titles()["test_every_digit_recognised"])
    assert recall.status == "passed"
    assert "Confusion matrix (row = true digit, column = predicted digit)" in recall.output, recall.output


def test_too_large_model_is_not_trained(graded):
    failed = failures(graded["too-large"])
    assert "parameters, over the budget of 100,000" in failed[titles()["test_parameter_budget"]]
    assert "was not trained" in failed[titles()["test_accuracy_tier_1"]]


def test_too_slow_model_is_stopped_early_with_a_clear_message(graded):
    result = graded[TOO_SLOW_VARIANT]
    failed = failures(result)
    structure = {titles()[n] for n in ("test_build_cnn_compiled", "test_parameter_budget",
                                       "test_outputs_class_probabilities", *LAYER_TESTS)}
    assert not structure & set(failed), failed
    assert titles()["test_accuracy_tier_4"] in failed and titles()["test_training_lowers_the_loss"] in failed
    message = failed[titles()["test_accuracy_tier_4"]]
    assert "too slow to train" in message and "CPU seconds" in message, message
    assert result.execution_time < TIMEOUT / 2, result.execution_time  # stopped early, not at a timeout


def test_feedback_never_shows_hidden_labels_wholesale(graded):
    """Feedback shows the student's own confusion matrix, never the held-out labels."""
    y_test = hidden_module().lab_data().y_test
    for student, result in graded.items():
        for test in result.tests:
            assert "".join(map(str, y_test[:30])) not in test.output.replace(" ", ""), (student, test.name)
            assert len(test.output) < 3000, (student, test.name)


# -- the public checks (dl101 check) -------------------------------------------------------------


def test_public_checks_pass_on_the_solution_and_fail_on_the_stub(batch):
    public = batch[1]
    solution, stub = public["solution"], public["stub"]
    assert not solution["errors"], solution["errors"]
    assert len(solution["tests"]) == 5 and all(status == "passed" for _, status, _ in solution["tests"]), solution
    assert len(stub["tests"]) == 5 and all(status == "failed" for _, status, _ in stub["tests"]), stub
    assert all("NotImplementedError" in output for _, _, output in stub["tests"]), stub


# -- the hidden graders' plumbing, with a fake student (no TensorFlow) ---------------------------------


class FakeStudent:
    """Records harness calls and answers with a canned report."""

    def __init__(self, report: Any) -> None:
        self.report = report
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def harness(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append((args, kwargs))
        return self.report


def perfect_report() -> dict[str, Any]:
    hidden = hidden_module()
    return {"preprocess": {"fallback": ""},
            "model": {"error": "", "compiled": True, "loss": "sparse_categorical_crossentropy", "params": 1000,
                      "output_shape": [2, 10], "sample_min": 0.0, "sample_row_sums": [1.0, 1.0],
                      "layers": ["Conv2D"], "required": {"Conv2D": True}},
            "training": {"error": "", "seconds": 1.0, "loss": [2.0, 0.1]},
            "output": {"error": ""},
            "predictions": hidden.lab_data().y_test.copy()}


def test_held_out_labels_never_enter_the_sandbox():
    hidden = hidden_module()
    data = hidden.lab_data()
    student = FakeStudent(perfect_report())
    hidden.lab_report(student)
    ((args, kwargs),) = student.calls
    sent = [v for v in (*args, *kwargs.values()) if isinstance(v, np.ndarray)]
    assert any(v is data.x_test or np.array_equal(v, data.x_test) for v in sent)
    labels_sent = [v for v in sent if v.dtype.kind in "iu"]
    assert len(labels_sent) == 1 and np.array_equal(labels_sent[0], data.y_train)
    assert not any(v.size == data.y_test.size and v.dtype.kind in "iu" for v in sent)
    # the split: every digit held out in proportion, no image in both parts
    assert len(data.y_test) == 359 and np.bincount(data.y_test).min() >= 35
    train_rows = {img.tobytes() for img in data.x_train}
    assert sum(img.tobytes() in train_rows for img in data.x_test) <= 5  # load_digits has a few exact duplicates


def test_harness_runs_once_per_submission():
    hidden = hidden_module()
    first, second = FakeStudent(perfect_report()), FakeStudent(perfect_report())
    for _ in range(3):
        hidden.lab_report(first)
    hidden.lab_report(second)
    assert len(first.calls) == 1 and len(second.calls) == 1
    entries = len(hidden._REPORTS)
    del first
    gc.collect()
    assert len(hidden._REPORTS) == entries - 1  # an entry never outlives its submission


def test_a_grader_bug_is_not_retried_per_test():
    """A failure of the grader itself is cached like a result: one training per submission."""
    hidden = hidden_module()

    class Broken(FakeStudent):
        def harness(self, *args: Any, **kwargs: Any) -> Any:
            super().harness(*args, **kwargs)
            raise TypeError("a grader bug")

    student = Broken(None)
    for _ in range(3):
        with pytest.raises(TypeError, match="a grader bug"):
            hidden.test_layer_dropout(student)
    assert len(student.calls) == 1


@pytest.mark.parametrize("garbage", [
    "not a dict",
    {"model": "not a dict"},
    {"model": {"params": "many"}},
    {"training": {"loss": ["a", "b"]}},
    {"predictions": np.zeros(3, dtype=np.int64)},
    {"predictions": np.zeros(359, dtype=np.float64)},
    {"model": {"required": {"Conv2D": "yes"}}},
], ids=lambda g: str(g)[:30])
def test_malformed_report_is_the_students_failure(garbage):
    """Whatever the sandbox sends back, the graders fail with a message, never crash."""
    hidden = hidden_module()
    student = FakeStudent(garbage)
    with pytest.raises(AssertionError, match="malformed"):
        hidden.lab_report(student)
    graded_by_harness = [obj for name, obj in vars(hidden).items()
                         if name.startswith("test_") and not name.startswith("test_preprocess")]
    assert len(graded_by_harness) == 13
    for test in graded_by_harness:
        needs = inspect.signature(test).parameters
        extra = {"record_property": lambda *_: None} if "record_property" in needs else {}
        with pytest.raises(AssertionError, match="malformed"):
            test(student, **extra)
    assert len(student.calls) == 1


def test_points_and_docstrings_agree():
    hidden = hidden_module()
    marks = {name: obj.pytestmark[0].args[0] for name, obj in vars(hidden).items()
             if name.startswith("test_") and callable(obj)}
    assert sum(marks.values()) == MAX_SCORE
    assert f"Total {MAX_SCORE}." in hidden.__doc__
    for tier, threshold in enumerate(hidden.TIERS, start=1):
        assert f"at least {threshold:.2f}" in getattr(hidden, f"test_accuracy_tier_{tier}").__doc__
    assert f"at least {hidden.RECALL_FLOOR:.2f}" in hidden.test_every_digit_recognised.__doc__
