"""`dl101 quiz ...`: list, release, key and practice, through click and as a real terminal process."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.quiz import variants
from grader.quiz.answers import format_value
from grader.quiz.bank import QUIZZES
from grader.quiz.cli import quiz

ROOT = Path(__file__).resolve().parents[1]
SECRET = "cli-test-secret-0123456789abcdef"


def run(args, env=None, **kw):
    return CliRunner().invoke(quiz, args, env={variants.SECRET_ENV: SECRET, **(env or {})}, **kw)


def typed(q):
    """A key answer as a person types it at the prompt."""
    if q.kind == "multi":
        return ", ".join(q.answer)
    if q.kind == "matrix":
        return json.dumps(q.answer)
    return str(q.answer)


def test_list_prints_one_quiz_id_per_line():
    result = run(["list"])
    assert result.exit_code == 0
    assert result.output.splitlines() == list(QUIZZES)
    long = run(["list", "--long"]).output.splitlines()
    assert long[0].startswith("cnn-week\t25 questions\t")


@pytest.mark.parametrize("command", [[], ["list"], ["release"], ["key"], ["practice"]])
def test_every_command_has_help_with_an_example(command):
    result = run([*command, "--help"])
    assert result.exit_code == 0 and "Example" in result.output and "dl101 quiz" in result.output


def test_the_quiz_group_is_registered_in_dl101():
    from grader.cli import main

    assert CliRunner().invoke(main, ["quiz", "list"]).output.splitlines() == list(QUIZZES)


def test_key_json_is_the_students_key():
    result = run(["key", "cnn-week", "--student", "s001", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == variants.student_variant("cnn-week", "s001", SECRET.encode()).key()
    human = run(["key", "cnn-week-metrics", "--student", "s001"]).output
    assert human.startswith("Key for cnn-week-metrics, student s001") and "cm_layout (1 pt): " in human


def test_key_without_a_secret_or_for_an_unknown_quiz_fails_clearly(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(quiz, ["key", "cnn-week", "--student", "s1"], env={variants.SECRET_ENV: None})
    assert result.exit_code == 1 and "no course secret" in result.output
    result = run(["key", "nope", "--student", "s1"])
    assert result.exit_code == 1 and "unknown quiz 'nope'" in result.output


def test_release_creates_a_private_secret_once_and_keeps_it_out_of_the_release(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    Path("roster.csv").write_text("student_id,name\ns001,Ada\ns002,Alan\n")
    env = {variants.SECRET_ENV: None}
    first = runner.invoke(quiz, ["release", "cnn-week-conv", "--roster", "roster.csv", "--out", "out"], env=env)
    assert first.exit_code == 0, first.output
    assert "Created the course secret .dl101-secret" in first.stderr
    assert "Released cnn-week-conv for 2 students" in first.stdout
    secret = Path(".dl101-secret")
    assert secret.stat().st_mode & 0o777 == 0o600
    before = {p: p.read_bytes() for p in Path("out").rglob("*") if p.is_file()}
    token = secret.read_text().strip().encode()
    assert all(token not in data for data in before.values())
    assert not any(".dl101-secret" in str(p) for p in before)
    again = runner.invoke(quiz, ["release", "cnn-week-conv", "--roster", "roster.csv", "--out", "out"], env=env)
    assert again.exit_code == 0 and "Created" not in again.output
    assert before == {p: p.read_bytes() for p in Path("out").rglob("*") if p.is_file()}
    key = runner.invoke(quiz, ["key", "cnn-week-conv", "--student", "s002", "--json"], env=env)
    assert json.loads(key.stdout) == variants.student_variant("cnn-week-conv", "s002", token).key()
    inside = runner.invoke(quiz, ["release", "cnn-week-conv", "--roster", "roster.csv", "--out", ".",
                                  "--secret-file", ".dl101-secret"], env=env)
    assert inside.exit_code == 1 and "inside the release directory" in inside.output


def test_practice_all_right_gives_full_score():
    variant = variants.practice_variant("cnn-week", 11)
    answers = "\n".join(typed(q) for q in variant.questions) + "\n"
    result = run(["practice", "cnn-week", "--seed", "11"], input=answers)
    assert result.exit_code == 0, result.output
    assert result.output.count("Correct!") == len(variant.questions)
    assert f"Score: {variant.max_score:g}/{variant.max_score:g} (25 of 25 questions right)." in result.output


def test_practice_explains_wrong_answers_and_asks_again_when_unreadable():
    q = variants.practice_variant("cnn-week-conv", 4).questions[0]
    result = run(["practice", "cnn-week-conv", "--seed", "4", "-q", "conv_valid"], input="banana\n[1, 2, 3]\n")
    assert result.exit_code == 0
    out = result.output
    assert "Question 1/1 (1 point): Conv2D output shape, VALID padding" in out
    assert "Could not read the answer" in out and "Try again" in out
    assert f"Not quite: the answer is {format_value(q, q.answer)}" in out
    assert "Why: VALID adds no padding" in out
    assert "Score: 0/1 (0 of 1 question right)." in out


def test_practice_skip_quit_and_end_of_input_end_cleanly():
    skipped = run(["practice", "cnn-week-metrics", "--seed", "1", "-q", "cm_layout"], input="\n")
    assert skipped.exit_code == 0 and "Skipped. The answer is" in skipped.output
    quit_ = run(["practice", "cnn-week-metrics", "--seed", "1"], input="q\n")
    assert quit_.exit_code == 0 and "Score: 0/0 (0 of 0 questions right)." in quit_.output
    variant = variants.practice_variant("cnn-week-metrics", 1)
    two = "\n".join(typed(q) for q in variant.questions[:2]) + "\n"
    eof = run(["practice", "cnn-week-metrics", "--seed", "1"], input=two)
    assert eof.exit_code == 0 and "(2 of 2 questions right)" in eof.output
    assert "Traceback" not in eof.output


def test_practice_unknown_question_is_an_error():
    result = run(["practice", "cnn-week-conv", "-q", "nope"])
    assert result.exit_code == 1 and "has no question nope" in result.output


def test_practice_in_a_real_terminal_process_with_piped_stdin():
    variant = variants.practice_variant("cnn-week-metrics", 21)
    answers = [typed(q) for q in variant.questions]
    answers[0] = "[[0, 0, 0], [0, 0, 0], [0, 0, 0]]"
    proc = subprocess.run([sys.executable, "-m", "grader.quiz.cli", "practice", "cnn-week-metrics", "--seed", "21"],
                          input="\n".join(answers) + "\n", capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    total = variant.max_score
    first = variant.questions[0].points
    assert f"Score: {total - first:g}/{total:g} (7 of 8 questions right)." in proc.stdout
    assert "Not quite" in proc.stdout and proc.stdout.count("Correct!") == 7


def test_importing_the_cli_is_cheap():
    code = ("import sys, grader.quiz.cli, grader.quiz; "
            "heavy = {'numpy', 'cnn_ref', 'tensorflow', 'nbformat', 'yaml'} & set(sys.modules); "
            "print(sorted(heavy))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.stdout.strip() == "[]", proc.stderr


def test_without_the_bank_or_cnn_ref_the_commands_say_why(monkeypatch):
    """The student bundle ships grader/quiz without bank/ (and never cnn_ref)."""
    import grader.quiz
    from grader.quiz import is_quiz

    monkeypatch.setitem(sys.modules, "cnn_ref", None)
    result = run(["practice", "cnn-week-conv"])
    assert result.exit_code == 1 and "computed by cnn_ref, which is not installed here" in result.output
    monkeypatch.setitem(sys.modules, "grader.quiz.bank", None)
    monkeypatch.delattr(grader.quiz, "bank")
    result = run(["list"])
    assert result.exit_code == 1 and "the quiz bank is not installed here" in result.output
    assert not is_quiz("cnn-week")
