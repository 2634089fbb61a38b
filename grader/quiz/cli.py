"""``dl101 quiz ...``: click wiring only (the work lives in the quiz modules, imported lazily).

Also runnable on its own: ``python -m grader.quiz.cli practice cnn-week``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..errors import click_errors

SECRET_HELP = ("File holding the course secret. Default: $DL101_COURSE_SECRET, else ./.dl101-secret "
               "(created by the first release).")


@click.group(name="quiz", context_settings={"help_option_names": ["-h", "--help"]})
def quiz() -> None:
    """Randomized per-student quizzes on the CNN-week lecture.

    Every student gets their own variant (keyed by a course secret), graded by
    `dl101 grade -a QUIZ`.

    \b
    Example:
      dl101 quiz list
      dl101 quiz release cnn-week --roster roster.csv --out quiz-out
      dl101 quiz key cnn-week --student s001 --json
      dl101 quiz practice cnn-week-conv
    """


@quiz.command("list")
@click.option("-l", "--long", "long_", is_flag=True, help="Also print each quiz's question count and title.")
def list_quizzes(long_: bool) -> None:
    """Print the quiz ids, one per line.

    \b
    Example:
      dl101 quiz list
    """
    with click_errors():
        from .variants import get_quiz, quiz_ids

        for quiz_id in quiz_ids():
            if long_:
                q = get_quiz(quiz_id)
                click.echo(f"{quiz_id}\t{len(q.qids)} questions\t{q.title}")
            else:
                click.echo(quiz_id)


@quiz.command("release")
@click.argument("quiz_id", metavar="QUIZ")
@click.option("--roster", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CSV with a student_id column (other columns are kept; a 'name' column is printed).")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory to write <student_id>/<QUIZ>.ipynb, .md and .html into.")
@click.option("--secret-file", type=click.Path(dir_okay=False, path_type=Path), help=SECRET_HELP)
def release(quiz_id: str, roster: Path, out: Path, secret_file: Path | None) -> None:
    """Write one quiz notebook (plus printable Markdown and HTML) per student.

    Each student's directory under --out is what you hand them: it holds no answer and no
    secret. The course secret must stay the same until the quiz is graded.

    \b
    Example:
      dl101 quiz release cnn-week --roster roster.csv --out quiz-out
    """
    with click_errors():
        from .release import release_quiz
        from .variants import load_secret, secret_source

        source = secret_source(secret_file)
        created = isinstance(source, Path) and not source.exists()
        secret = load_secret(secret_file, create=True)
        if created:
            click.echo(f"Created the course secret {source} (mode 0600). Keep it private and keep it: "
                       "grading needs it. Never commit or hand it out.", err=True)
        released = release_quiz(quiz_id, roster, out, secret=secret,
                                secret_path=source if isinstance(source, Path) else None)
        click.echo(f"Released {quiz_id} for {len(released)} students into {out}/ "
                   f"(<student_id>/{quiz_id}.ipynb, .md, .html; index in {out / 'roster.csv'}).")


@quiz.command("key")
@click.argument("quiz_id", metavar="QUIZ")
@click.option("--student", required=True, help="The student id (as in the roster).")
@click.option("--json", "as_json", is_flag=True, help='Print only a JSON object {"question_id": answer}.')
@click.option("--secret-file", type=click.Path(dir_okay=False, path_type=Path), help=SECRET_HELP)
def key(quiz_id: str, student: str, as_json: bool, secret_file: Path | None) -> None:
    """Print one student's answer key (instructor only).

    The JSON form is also a valid answers file: saved as <student>.json it grades full marks.

    \b
    Example:
      dl101 quiz key cnn-week --student s001
      dl101 quiz key cnn-week --student s001 --json > s001.json
    """
    with click_errors():
        from .answers import format_value
        from .variants import load_secret, student_variant

        variant = student_variant(quiz_id, student, load_secret(secret_file))
        if as_json:
            click.echo(json.dumps(variant.key(), indent=2))
            return
        click.echo(f"Key for {quiz_id}, student {student} (variant {variant.fingerprint[:12]}):")
        for number, q in enumerate(variant.questions, start=1):
            click.echo(f"{number:>3}. {q.qid} ({q.points:g} pt): {format_value(q, q.answer)}")


@quiz.command("practice")
@click.argument("quiz_id", metavar="QUIZ")
@click.option("--seed", type=int, help="Replay a variant (default: a new random one each time).")
@click.option("-q", "--question", "only", multiple=True, metavar="QID",
              help="Only this question (repeatable).")
def practice(quiz_id: str, seed: int | None, only: tuple[str, ...]) -> None:
    """Practice in the terminal: a fresh random variant, feedback and a worked explanation.

    Type your answer after each question; Enter skips, q quits.

    \b
    Example:
      dl101 quiz practice cnn-week-conv
      dl101 quiz practice cnn-week -q conv_step -q same_split
    """
    with click_errors():
        from .practice import run_practice

        def ask(prompt: str) -> str:
            try:
                return click.prompt(prompt, default="", show_default=False)
            except click.Abort:
                raise EOFError from None

        run_practice(quiz_id, ask=ask, say=click.echo, seed=seed, only=only)


if __name__ == "__main__":  # pragma: no cover - exercised by a subprocess test
    sys.exit(quiz(prog_name="dl101 quiz"))
