"""The quiz bank and per-student variants: keys accepted, mistakes refused, determinism, variety."""

import json

import numpy as np
import pytest

from grader.errors import GraderError
from grader.quiz import answers, variants
from grader.quiz.bank import QUESTIONS, QUIZZES
from grader.quiz.model import KINDS

SECRET = b"test-course-secret"
STUDENTS = [f"s{i:03d}" for i in range(100)]


@pytest.fixture(scope="module")
def class_variants():
    return [variants.student_variant("cnn-week", s, SECRET) for s in STUDENTS]


def test_every_question_is_in_the_full_quiz_and_every_kind_is_used():
    assert set(QUIZZES["cnn-week"].qids) == set(QUESTIONS)
    for quiz in QUIZZES.values():
        assert len(set(quiz.qids)) == len(quiz.qids)
        assert set(quiz.qids) <= set(QUESTIONS)
    kinds = {q.kind for q in variants.student_variant("cnn-week", "s000", SECRET).questions}
    assert kinds == set(KINDS)


@pytest.mark.parametrize("qid", sorted(QUESTIONS))
def test_key_is_accepted_and_known_mistakes_are_not(qid):
    for seed in range(25):
        q = QUESTIONS[qid].build(np.random.default_rng(seed))
        assert answers.check(q, q.answer).correct, (seed, q.answer)
        assert answers.check(q, json.loads(json.dumps(q.answer))).correct
        for mistake in q.mistakes:
            verdict = answers.check(q, mistake.answer)
            assert verdict.status == "wrong" and verdict.why == mistake.why
        assert q.title and q.prompt and q.explanation and q.points > 0
        json.dumps(q.params)  # plain data


def test_same_student_same_variant_and_key():
    a = variants.student_variant("cnn-week", "s001", SECRET)
    b = variants.student_variant("cnn-week", "s001", SECRET)
    assert a == b and a.fingerprint == b.fingerprint and a.key() == b.key()


def test_variant_depends_on_secret_quiz_and_student():
    base = variants.student_variant("cnn-week-conv", "s001", SECRET)
    assert variants.student_variant("cnn-week-conv", "s002", SECRET).fingerprint != base.fingerprint
    assert variants.student_variant("cnn-week-conv", "s001", b"other").fingerprint != base.fingerprint
    full = variants.student_variant("cnn-week", "s001", SECRET)
    assert full.questions[0].params != base.questions[0].params


def test_seed_is_a_keyed_hash_not_python_hash():
    import hashlib
    import hmac

    seed = variants.variant_seed(SECRET, "cnn-week", "s001")
    expected = hmac.new(SECRET, json.dumps(["dl101-quiz-seed", 1, "cnn-week", "s001"]).encode(),
                        hashlib.sha256).digest()
    assert seed == expected


def test_questions_sharing_a_group_describe_the_same_model():
    v = variants.student_variant("cnn-week", "s007", SECRET)
    by_id = {q.qid: q for q in v.questions}
    assert by_id["flatten_size"].params == by_id["params_model"].params
    layers = variants.student_variant("cnn-week-layers", "s007", SECRET)
    assert {q.qid: q for q in layers.questions}["params_model"].params["layers"]  # built in the smaller quiz too


def test_parametric_questions_differ_across_a_class(class_variants):
    for index, qid in enumerate(QUIZZES["cnn-week"].qids):
        params = {json.dumps(v.questions[index].params, sort_keys=True) for v in class_variants}
        if QUESTIONS[qid].small_space:
            assert len(params) >= 3, qid  # a handful of scenarios, still spread over the class
        else:
            assert len(params) >= 95, (qid, len(params))


def test_keys_differ_across_a_class(class_variants):
    keys = {json.dumps(v.key(), sort_keys=True) for v in class_variants}
    assert len(keys) == len(class_variants)
    choice_positions = {v.key()["priority_metric"] for v in class_variants}
    assert len(choice_positions) == 3  # the right letter moves between students


def test_practice_variants_are_fresh_unless_seeded():
    assert variants.practice_variant("cnn-week-conv").key() != variants.practice_variant("cnn-week-conv").key()
    assert variants.practice_variant("cnn-week-conv", 5) == variants.practice_variant("cnn-week-conv", 5)


def test_unknown_quiz_is_a_clear_error():
    with pytest.raises(GraderError, match="unknown quiz 'nope'; known quizzes: cnn-week"):
        variants.student_variant("nope", "s001", SECRET)


def test_secret_order_file_then_env_then_default_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(variants.SECRET_ENV, raising=False)
    with pytest.raises(GraderError, match="no course secret"):
        variants.load_secret()
    created = variants.load_secret(create=True)
    path = tmp_path / variants.DEFAULT_SECRET_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(created) == 64 and variants.load_secret() == created
    monkeypatch.setenv(variants.SECRET_ENV, "from-env")
    assert variants.load_secret() == b"from-env"
    other = tmp_path / "other-secret"
    other.write_text("from-file\n")
    assert variants.load_secret(other) == b"from-file"
    with pytest.raises(GraderError, match="not overwriting"):
        variants.create_secret_file(path)


def test_slide_template_question_reads_like_the_lecture():
    q = QUESTIONS["conv_step"].build(np.random.default_rng(3))
    assert "3x3" in q.prompt and "kernel" in q.prompt
    assert any("flipped the kernel" in m.why for m in q.mistakes)
