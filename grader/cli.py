"""The `dl101` command line: click wiring only; the work lives in importable modules.

Heavy imports stay inside the commands, so `dl101 --help` is instant.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from grader.errors import click_errors
from grader.exports.cli import export, report
from grader.quiz.cli import quiz

#: Exit code when the batch finished but the grader itself failed somewhere (not the students).
EXIT_GRADER_BROKE = 3


@click.group(context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": "DL101"})
@click.version_option(package_name="dl101")
def main() -> None:
    """Autograded assignments and quizzes for Deep Learning 101 (CNN week).

    \b
    Instructors:  dl101 grade submissions/ -a convolution
    Students:     dl101 check convolution.ipynb
    """


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("-a", "--assignment", help="Assignment or quiz slug (default: from the notebook or the nbgrader layout).")
@click.option("-o", "--out", default="grades", show_default=True, type=click.Path(path_type=Path),
              help="Directory for grades.csv, report.html and per-student results.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), help="Submissions graded in parallel [default: CPU count].")
@click.option("--timeout", type=click.FloatRange(min=1),
              help="Seconds one submission may run in the sandbox [default: the assignment's "
                   "`timeout` in solutions/<slug>/assignment.toml, else 60].")
@click.option("--force", is_flag=True, help="Grade again submissions that already have results.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with every result on stdout.")
@click.option("--scheduler", metavar="ADDRESS",
              help="Grade on this Dask cluster (e.g. tcp://10.0.0.5:8786) instead of local processes; -j is then ignored.")
@click.option("--unsafe-no-sandbox", "unsafe", is_flag=True,
              help="Run student code without the sandbox (rlimits only). Every report says so.")
@click.option("--gradebook", metavar="URL",
              help="Also record the results in this nbgrader gradebook, e.g. sqlite:///course/gradebook.db.")
@click_errors()
def grade(paths: tuple[Path, ...], assignment: str | None, out: Path, jobs: int | None, timeout: float | None,
          force: bool, as_json: bool, unsafe: bool, gradebook: str | None = None,
          scheduler: str | None = None) -> None:
    """Grade notebook submissions with the hidden tests, in a sandbox, in parallel.

    PATHS are notebooks or .py files, directories of <student>.ipynb or <student>/*.ipynb,
    an nbgrader submitted/ tree, or a .zip of these (LMS downloads included).

    \b
    Example:
      dl101 grade submissions/ -a convolution -o grades/ -j 2
      dl101 grade submissions/ -a convolution --scheduler tcp://10.0.0.5:8786
    """
    from grader.grade import grade_paths

    if unsafe:
        click.secho("WARNING: --unsafe-no-sandbox: student code runs without isolation.", fg="red", err=True)
    results = grade_paths(list(paths), assignment=assignment, out=out, jobs=jobs, timeout=timeout,
                          force=force, unsafe=unsafe, progress=_progress, gradebook=gradebook,
                          scheduler=scheduler)
    if as_json:
        click.echo(json.dumps({"results": [_summary(r) for r in results]}))
    else:
        _print_table(results)
        click.echo(f"Reports: {out / 'grades.csv'}, {out / 'report.html'}")
    if any(r.grader_broke for r in results):
        click.secho(f"The grader failed on some tests; details in {out / 'grader.log'}", fg="red", err=True)
        sys.exit(EXIT_GRADER_BROKE)


def _progress(result: Any, done: int, total: int) -> None:
    score = f"{result.score:g}/{result.max_score:g}"
    click.echo(f"[{done}/{total}] {result.student} {result.assignment}: {score} {result.status}", err=True)


def _summary(result: Any) -> dict[str, Any]:
    keys = ("student", "assignment", "score", "max_score", "status")
    test_keys = ("name", "score", "max_score", "status", "output")
    summary = {k: getattr(result, k) for k in keys}
    summary["tests"] = [{k: getattr(t, k) for k in test_keys} for t in result.tests]
    return summary


def _print_table(results: list[Any]) -> None:
    if not results:
        click.echo("No submissions found.")
        return
    width = max(len(r.student) for r in results)
    click.echo(f"{'student':<{width}}  {'assignment':<16} {'score':>11}  status")
    for r in results:
        click.echo(f"{r.student:<{width}}  {r.assignment:<16} {r.score:>5g}/{r.max_score:<5g}  {r.status}")


@main.command()
@click.argument("notebook", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-a", "--assignment", help="Assignment slug (default: from the notebook's metadata).")
@click_errors()
def check(notebook: Path, assignment: str | None) -> None:
    """Run the public checks on your own notebook, with hints.

    \b
    Example:
      dl101 check assignments/convolution/convolution.ipynb
    """
    from grader.check import check_notebook

    report = check_notebook(notebook, assignment=assignment)
    sys.exit(0 if report.ok else 1)


@main.command()
@click.argument("slugs", nargs=-1)
@click_errors()
def release(slugs: tuple[str, ...]) -> None:
    """Build assignments/<slug>/ (student notebooks and public tests) from solutions/<slug>/.

    With no SLUG, every assignment is released.

    \b
    Example:
      dl101 release convolution
    """
    from grader import assignments
    from grader.release import release as release_one

    root = assignments.repo_root()
    for slug in slugs or assignments.list_assignments(root=root):
        click.echo(f"released {release_one(slug, root=root)}")


main.add_command(quiz)
main.add_command(report)
main.add_command(export)
