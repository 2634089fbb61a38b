"""Released quiz files: what a student receives, and what it must never contain."""

import hashlib
import json
from dataclasses import replace

import nbformat
import pytest

from grader.errors import GraderError
from grader.quiz import render, variants
from grader.quiz.model import Mistake
from grader.quiz.release import read_roster, release_quiz, render_student

SECRET = b"0123456789abcdef-release-test-secret"


def write_roster(path, ids, extra="name"):
    lines = [f"student_id,{extra},email"] + [f"{sid},Name {sid},{sid}@uni.example" for sid in ids]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def released(tmp_path):
    roster = write_roster(tmp_path / "roster.csv", ["s001", "s002", "alice@uni.edu"])
    out = tmp_path / "out"
    return out, release_quiz("cnn-week", roster, out, secret=SECRET)


def all_files(folder):
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_one_notebook_markdown_and_html_per_student(released):
    out, items = released
    assert [r.student for r in items] == ["s001", "s002", "alice@uni.edu"]
    for item in items:
        assert {p.name for p in (out / item.student).iterdir()} == {"cnn-week.ipynb", "cnn-week.md", "cnn-week.html"}
        nb = nbformat.read(item.notebook, as_version=4)
        nbformat.validate(nb)
        meta = nb.metadata["dl101"]
        assert set(meta) == {"assignment", "quiz", "student", "variant", "scheme", "tag"}
        assert (meta["quiz"], meta["assignment"], meta["student"]) == ("cnn-week", "cnn-week", item.student)
        answer_cells = [c for c in nb.cells if c.cell_type == "code"]
        variant = variants.student_variant("cnn-week", item.student, SECRET)
        assert [c.metadata["dl101"]["question"] for c in answer_cells] == [q.qid for q in variant.questions]
        for cell, q in zip(answer_cells, variant.questions, strict=True):
            assert f"\n{q.qid} = ...\n" in cell.source
        assert f"Name {item.student} ({item.student})" in item.markdown.read_text()
        page = item.html.read_text()
        assert page.startswith("<!DOCTYPE html>") and page.count('class="question"') == len(variant.questions)


def test_roster_columns_are_kept_in_the_release_index(released):
    out, items = released
    index = (out / "roster.csv").read_text().splitlines()
    assert index[0] == "student_id,name,email,quiz,variant,notebook"
    assert index[1].startswith("s001,Name s001,s001@uni.example,cnn-week,")
    assert index[1].endswith(",s001/cnn-week.ipynb")


def test_secret_and_seeds_never_appear_in_released_files(released):
    out, items = released
    needles = [SECRET, SECRET.hex().encode(), hashlib.sha256(SECRET).hexdigest().encode()]
    for item in items:
        seed = variants.variant_seed(SECRET, "cnn-week", item.student)
        needles += [seed.hex().encode(), str(int.from_bytes(seed, "big")).encode()]
    for path, data in all_files(out).items():
        for needle in needles:
            assert needle not in data, (path, needle)


def test_answers_never_reach_the_student_not_even_hashed():
    variant = variants.student_variant("cnn-week", "s001", SECRET)
    marked = tuple(replace(q, answer=f"ANSWER-{q.qid}", explanation=f"EXPLAIN-{q.qid}",
                           synonyms=(f"SYNONYM-{q.qid}",), mistakes=(Mistake(f"MISTAKE-{q.qid}", f"WHY-{q.qid}"),),
                           params={"secret_param": f"PARAM-{q.qid}"}) for q in variant.questions)
    fake = replace(variant, questions=marked)
    texts = [json.dumps(render.notebook(fake, title="T", name="", metadata={})),
             render.printable_markdown(fake, title="T", name=""), render.printable_html(fake, title="T", name="")]
    for q in marked:
        for needle in (q.answer, q.explanation, q.synonyms[0], q.mistakes[0].answer, q.mistakes[0].why,
                       "PARAM-" + q.qid):
            for text in texts:
                assert needle not in text
                assert hashlib.sha256(needle.encode()).hexdigest()[:16] not in text


def test_real_keys_are_not_in_the_files(released):
    out, items = released
    for item in items:
        data = b"".join(all_files(out / item.student).values()).decode()
        key = variants.student_variant("cnn-week", item.student, SECRET).key()
        for qid in ("precision_table", "recall_sklearn", "f1_counts"):
            assert f"{key[qid]:.4f}" not in data and repr(key[qid]) not in data
        for value in key["bn_output"] + key["bn_moving"]:
            assert repr(value) not in data


def test_a_students_files_do_not_depend_on_other_students(tmp_path):
    alone = release_quiz("cnn-week", write_roster(tmp_path / "a.csv", ["s001"]), tmp_path / "a", secret=SECRET)
    crowd = release_quiz("cnn-week", write_roster(tmp_path / "b.csv", ["s009", "s001", "s002"]), tmp_path / "b",
                         secret=SECRET)
    mine = next(r for r in crowd if r.student == "s001")
    for attr in ("notebook", "markdown", "html"):
        assert getattr(alone[0], attr).read_bytes() == getattr(mine, attr).read_bytes()


def test_other_students_get_other_questions(released):
    out, items = released
    first, second = (json.loads(i.notebook.read_text()) for i in items[:2])
    assert first["metadata"]["dl101"]["tag"] != second["metadata"]["dl101"]["tag"]
    prompts = [[c["source"] for c in nb["cells"] if c["cell_type"] == "markdown"] for nb in (first, second)]
    assert sum(a != b for a, b in zip(*prompts, strict=True)) >= 20


def test_release_refuses_a_secret_file_inside_the_release_directory(tmp_path):
    roster = write_roster(tmp_path / "roster.csv", ["s001"])
    with pytest.raises(GraderError, match="inside the release directory"):
        release_quiz("cnn-week", roster, tmp_path, secret=SECRET, secret_path=tmp_path / ".dl101-secret")


@pytest.mark.parametrize("content, message", [
    ("id,name\ns1,A\n", "needs a 'student_id' column"),
    ("student_id\ns1\ns1\n", "appears twice"),
    ("student_id\n../evil\n", "not usable as a file name"),
    ("student_id\n.hidden\n", "not usable as a file name"),
    ("student_id\n", "lists no students"),
])
def test_roster_problems_are_clear_errors(tmp_path, content, message):
    path = tmp_path / "roster.csv"
    path.write_text(content)
    with pytest.raises(GraderError, match=message):
        read_roster(path)


def test_roster_with_bom_blank_lines_and_spaces(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text("\ufeffstudent_id , name\n s1 , Ada \n,\n s2,Bob\n", encoding="utf-8")
    assert [(r["student_id"], r["name"]) for r in read_roster(path)] == [("s1", "Ada"), ("s2", "Bob")]


def test_rendering_is_deterministic():
    assert render_student("cnn-week-conv", "s001", SECRET) == render_student("cnn-week-conv", "s001", SECRET)
