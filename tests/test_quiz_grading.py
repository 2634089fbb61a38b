"""Grading quiz submissions: full marks from the key, exact point losses, formats, tampering."""

import json
from fractions import Fraction
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from grader.errors import GraderError
from grader.quiz import grade_quiz_submission, is_quiz, variants
from grader.quiz.release import release_quiz

SECRET = b"grading-test-secret-0123456789"
QUIZ = "cnn-week"


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("quiz")
    roster = tmp / "roster.csv"
    roster.write_text("student_id\ns001\ns002\n")
    release_quiz(QUIZ, roster, tmp / "out", secret=SECRET)
    return tmp / "out"


def released_notebook(release, student):
    return json.loads((release / student / f"{QUIZ}.ipynb").read_text())


def fill(nb, answers_by_qid):
    """Type answers into the answer cells, as a student would (``{qid: source text}``)."""
    for cell in nb["cells"]:
        qid = cell["metadata"].get("dl101", {}).get("question")
        if cell["cell_type"] == "code" and qid in answers_by_qid:
            cell["source"] = cell["source"].replace(f"{qid} = ...", f"{qid} = {answers_by_qid[qid]}")
    return nb


def key_of(student):
    return variants.student_variant(QUIZ, student, SECRET).key()


def grade(data, name="s001.ipynb", student="s001", **kw):
    if isinstance(data, dict):
        data = json.dumps(data).encode()
    return grade_quiz_submission(data, name=name, student=student, quiz_id=QUIZ, secret=SECRET, **kw)


def test_is_quiz():
    assert is_quiz("cnn-week") and is_quiz("cnn-week-metrics")
    assert not is_quiz("convolution") and not is_quiz("")


def test_done_when_the_key_typed_into_the_released_notebook_gets_full_marks(release):
    key = key_of("s001")
    result = grade(fill(released_notebook(release, "s001"), {q: repr(a) for q, a in key.items()}))
    assert result.status == "graded"
    assert result.score == result.max_score == variants.student_variant(QUIZ, "s001", SECRET).max_score
    assert [t.name for t in result.tests] == list(key)
    assert all(t.status == "passed" and t.score == t.max_score for t in result.tests)
    assert result.output.startswith("Quiz cnn-week: 25 of 25 questions correct")


def test_done_when_wrong_answers_lose_exactly_their_points(release):
    variant = variants.student_variant(QUIZ, "s001", SECRET)
    key = variant.key()
    points = {q.qid: q.points for q in variant.questions}
    wrong = {"conv_valid": "[1, 2, 3]", "conv_step": "99", "dropout_facts": '"A, B, C, D, E"',
             "error_name": '"nothing"', "cm_labels": "[[0, 0, 0], [0, 0, 0], [0, 0, 0]]"}
    answers = {q: repr(a) for q, a in key.items()} | wrong
    result = grade(fill(released_notebook(release, "s001"), answers))
    assert result.score == result.max_score - sum(points[q] for q in wrong)
    assert {t.name for t in result.tests if t.status == "failed"} == set(wrong)


def test_a_blank_notebook_scores_zero_and_says_unanswered(release):
    result = grade(released_notebook(release, "s002"), name="s002.ipynb", student="s002")
    assert result.status == "graded" and result.score == 0
    assert "25 unanswered" in result.output
    assert all(t.output.splitlines()[1] == "No answer." for t in result.tests)


def test_answers_files_json_and_yaml():
    key = key_of("s002")
    full = grade(json.dumps(key).encode(), name="s002.json", student="s002")
    assert full.status == "graded" and full.score == full.max_score
    as_yaml = grade(yaml.safe_dump(key).encode(), name="s002.yaml", student="s002")
    assert as_yaml.score == as_yaml.max_score
    wrapped = grade(json.dumps({"answers": key}).encode(), name="s002.json", student="s002")
    assert wrapped.score == wrapped.max_score
    partial = grade(yaml.safe_dump({"conv_valid": key["conv_valid"], "extra_key": 1}).encode(),
                    name="s002.yml", student="s002")
    assert partial.score == 1 and "Ignored (not questions of this quiz): extra_key" in partial.output


def text_forms(variant):
    """Each key answer typed the way students do: fractions, percentages, numpy, loose text."""
    forms = {}
    for q in variant.questions:
        a = q.answer
        if q.kind == "numeric" and isinstance(a, float):
            frac = Fraction(a).limit_denominator(100000)
            forms[q.qid] = f"{a * 100!r}%" if q.qid != "conv_step" else f"{frac.numerator}/{frac.denominator}"
        elif q.kind == "numeric":
            forms[q.qid] = f'"{a:,}"'
        elif q.kind == "matrix" and isinstance(a[0], list):
            forms[q.qid] = f"np.array({a!r})"
        elif q.kind == "matrix":
            forms[q.qid] = '"' + " x ".join(map(str, a)) + '"' if all(isinstance(v, int) for v in a) else repr(tuple(a))
        elif q.kind == "choice":
            forms[q.qid] = f"'{a.lower()})'"
        elif q.kind == "multi":
            forms[q.qid] = '"' + " ".join(a) + '"'
        else:
            forms[q.qid] = f'"  {a.upper()}. "'
    return forms


def test_answer_formats_in_notebook_cells(release):
    variant = variants.student_variant(QUIZ, "s001", SECRET)
    forms = text_forms(variant)
    assert any(v.endswith("%") for v in forms.values())  # not valid Python: read line by line
    result = grade(fill(released_notebook(release, "s001"), forms))
    assert result.score == result.max_score, [t.output for t in result.tests if t.status == "failed"]


def test_notebook_cells_are_read_never_run(release, tmp_path):
    marker = tmp_path / "ran"
    nb = fill(released_notebook(release, "s001"), {
        "conv_valid": f"__import__('pathlib').Path({str(marker)!r}).touch()",
        "conv_same": "[1, 2] * 10**9",
    })
    result = grade(nb)
    assert not marker.exists()
    assert result.status == "graded" and result.score == 0
    assert "could not read the answer" in result.tests[0].output


def test_the_last_assignment_in_notebook_order_counts(release):
    key = key_of("s001")
    nb = fill(released_notebook(release, "s001"), {"conv_pad": "[0, 0, 0]"})
    nb["cells"].append({"cell_type": "code", "metadata": {}, "source": f"conv_pad = {key['conv_pad']!r}\n",
                        "outputs": [], "execution_count": 3, "id": "extra"})
    result = grade(nb)
    assert next(t for t in result.tests if t.name == "conv_pad").status == "passed"


def test_feedback_reveals_the_key_only_when_asked(release):
    nb = fill(released_notebook(release, "s001"), {"same_split": "[[9, 9], [9, 9]]"})
    hidden = next(t for t in grade(nb, reveal=False).tests if t.name == "same_split")
    shown = next(t for t in grade(nb, reveal=True).tests if t.name == "same_split")
    expected = str(key_of("s001")["same_split"])
    assert hidden.output.endswith("Incorrect (read as [[9, 9], [9, 9]]).") and expected not in hidden.output
    assert f"Expected: {expected}." in shown.output and "TensorFlow's SAME" in shown.output


def test_known_mistakes_are_named_after_the_due_date(release):
    variant = variants.student_variant(QUIZ, "s001", SECRET)
    q = next(q for q in variant.questions if q.qid == "conv_step")
    flipped = next(m for m in q.mistakes if "flipped" in m.why)
    nb = fill(released_notebook(release, "s001"), {"conv_step": repr(flipped.answer)})
    test = next(t for t in grade(nb).tests if t.name == "conv_step")
    assert "you flipped the kernel" in test.output


def edit_metadata(nb, **changes):
    meta = nb["metadata"]["dl101"]
    for key, value in changes.items():
        if value is None:
            meta.pop(key)
        else:
            meta[key] = value
    return nb


@pytest.mark.parametrize("changes, reason", [
    ({"student": "s002"}, "integrity tag does not match"),
    ({"variant": "0" * 32}, "integrity tag does not match"),
    ({"quiz": "cnn-week-conv"}, "integrity tag does not match"),
    ({"tag": "0" * 64}, "integrity tag does not match"),
    ({"assignment": "cnn-week-conv"}, "integrity tag does not match"),
    ({"tag": None}, "metadata is missing"),
    ({"scheme": 2, "tag": 12}, "metadata is missing"),
])
def test_edited_quiz_metadata_is_tampering(release, changes, reason):
    nb = fill(released_notebook(release, "s001"), {q: repr(a) for q, a in key_of("s001").items()})
    result = grade(edit_metadata(nb, **changes))
    assert result.status == "tampered" and result.score == 0 and result.tests == []
    assert reason in result.output
    assert result.max_score > 0


def test_missing_metadata_and_someone_elses_notebook_are_tampering(release):
    nb = released_notebook(release, "s001")
    del nb["metadata"]["dl101"]
    assert grade(nb).status == "tampered"
    other = fill(released_notebook(release, "s002"), {q: repr(a) for q, a in key_of("s002").items()})
    result = grade(other, name="s001.ipynb", student="s001")
    assert result.status == "tampered" and "released to another student (s002)" in result.output


def test_a_notebook_of_another_quiz_is_unreadable(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id\ns001\n")
    release_quiz("cnn-week-conv", roster, tmp_path / "out", secret=SECRET)
    data = (tmp_path / "out" / "s001" / "cnn-week-conv.ipynb").read_bytes()
    result = grade(data)
    assert result.status == "unreadable" and "for the quiz 'cnn-week-conv'" in result.output


def test_a_quiz_bank_change_since_release_is_the_graders_problem(release):
    nb = released_notebook(release, "s001")
    old = "f" * 32
    edit_metadata(nb, variant=old, tag=variants.notebook_tag(SECRET, QUIZ, "s001", old))
    result = grade(nb)
    assert result.status == "error" and "quiz bank changed" in result.output and result.grader_broke


@pytest.mark.parametrize("data, name, reason", [
    (b"\x00\xff garbage", "s001.ipynb", "not UTF-8"),
    (b"{not json", "s001.ipynb", "not valid JSON"),
    (b"[1, 2]", "s001.json", "must map question ids"),
    (b"key: [unclosed", "s001.yaml", "YAML file cannot be read"),
    (b"conv_valid = 1", "s001.py", "expected a quiz notebook"),
    (b" " * (17 * 2**20), "s001.json", "larger than 16 MB"),
    (b"[" * 100_000, "s001.json", "not valid JSON"),
    (b"[" * 100_000, "s001.yaml", "too large or too deeply nested"),
])
def test_unreadable_submissions_are_results_not_crashes(data, name, reason):
    result = grade(data, name=name)
    assert result.status == "unreadable" and reason in result.output and result.score == 0


def test_grading_is_deterministic(release):
    nb = fill(released_notebook(release, "s001"), {"conv_valid": "[1, 1, 1]", "f1_counts": "0.5"})
    first, second = grade(nb).to_dict(), grade(nb).to_dict()
    first.pop("execution_time"), second.pop("execution_time")
    assert first == second


def test_grader_problems_raise(tmp_path, monkeypatch):
    with pytest.raises(GraderError, match="unknown quiz"):
        grade_quiz_submission(b"{}", name="s.json", student="s", quiz_id="nope", secret=SECRET)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(variants.SECRET_ENV, raising=False)
    with pytest.raises(GraderError, match="no course secret"):
        grade_quiz_submission(b"{}", name="s.json", student="s", quiz_id=QUIZ)
    monkeypatch.setenv(variants.SECRET_ENV, SECRET.decode())
    assert grade_quiz_submission(b"{}", name="s.json", student="s", quiz_id=QUIZ).status == "graded"


def test_dl101_grade_end_to_end(release, tmp_path, monkeypatch):
    """The Done-when path through the real `dl101 grade -a QUIZ` command."""
    from grader.cli import main

    subs = tmp_path / "subs"
    subs.mkdir()
    key = key_of("s001")
    (subs / "s001.ipynb").write_text(json.dumps(fill(released_notebook(release, "s001"),
                                                     {q: repr(a) for q, a in key.items()})))
    wrong = key_of("s002") | {"conv_valid": [0, 0, 0]}
    (subs / "s002.json").write_text(json.dumps(wrong))
    monkeypatch.setenv(variants.SECRET_ENV, SECRET.decode())
    result = CliRunner().invoke(main, ["grade", str(subs), "-a", QUIZ, "-o", str(tmp_path / "grades"),
                                       "--json", "--unsafe-no-sandbox"])
    assert result.exit_code == 0, result.output
    rows = {r["student"]: r for r in json.loads(result.stdout)["results"]}
    total = variants.student_variant(QUIZ, "s001", SECRET).max_score
    assert rows["s001"]["score"] == rows["s001"]["max_score"] == total
    assert rows["s002"]["score"] == total - 1 and rows["s002"]["status"] == "graded"
    assert Path(tmp_path / "grades" / "grades.csv").exists()


@pytest.mark.parametrize(("due", "revealed"), [("2999-01-01T00:00:00+00:00", False),
                                                ("2000-01-01T00:00:00+00:00", True)])
def test_dl101_grade_reveals_the_key_only_after_the_quiz_is_due(release, tmp_path, monkeypatch, due, revealed):
    from grader.cli import main

    course = tmp_path / "course"
    (course / "solutions" / QUIZ).mkdir(parents=True)
    (course / "solutions" / QUIZ / "assignment.toml").write_text(f'due = "{due}"\n')
    monkeypatch.setenv("DL101_ROOT", str(course))
    monkeypatch.setenv(variants.SECRET_ENV, SECRET.decode())
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "s001.json").write_text(json.dumps(key_of("s001") | {"conv_valid": [0, 0, 0]}))
    result = CliRunner().invoke(main, ["grade", str(subs), "-a", QUIZ, "-o", str(tmp_path / "grades"), "--json"])
    assert result.exit_code == 0, result.output
    wrong = [t for t in json.loads(result.stdout)["results"][0]["tests"] if t["status"] == "failed"]
    assert len(wrong) == 1
    assert ("Expected:" in wrong[0]["output"]) == revealed, wrong[0]["output"]
