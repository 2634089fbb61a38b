"""``dl101 report`` and ``dl101 export ...``: click wiring only (the work is imported lazily)."""

from __future__ import annotations

from pathlib import Path

import click

from grader.errors import click_errors

_CONTEXT = {"help_option_names": ["-h", "--help"]}


_grades_dir = click.argument("grades_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))


@click.command(context_settings=_CONTEXT)
@_grades_dir
@click.option("--no-plots", is_flag=True, help="Skip the matplotlib plots (faster).")
@click.option("--apply-late", is_flag=True,
              help="Apply the late policies (solutions/<slug>/assignment.toml) again, e.g. after an "
                   "extension, and rewrite each student's results.json and feedback.html.")
@click_errors()
def report(grades_dir: Path, no_plots: bool, apply_late: bool) -> None:
    """Rebuild grades.csv and report.html from the results already under GRADES_DIR.

    \b
    Example:
      dl101 report grades/
      dl101 report grades/ --apply-late    # after changing a due date or granting an extension
    """
    from grader.reports import load_results, write_class_reports, write_student_reports

    problems: list[str] = []
    results = load_results(grades_dir, problems=problems)
    for problem in problems:
        click.secho(problem, fg="yellow", err=True)
    if apply_late:
        from grader import late

        late.check_policies({r.assignment for r in results})
        for result in results:
            before = (result.score, result.extra.get("late"))
            late.apply_policy(result)
            if (result.score, result.extra.get("late")) != before:
                write_student_reports(result, grades_dir)
    write_class_reports(results, grades_dir, plots=not no_plots)
    click.echo(f"{len(results)} results: {grades_dir / 'report.html'}, {grades_dir / 'grades.csv'}")


@click.group(context_settings=_CONTEXT)
def export() -> None:
    """Export grades to Canvas, an nbgrader gradebook, or a Gradescope autograder.

    \b
    Examples:
      dl101 export canvas grades/ -o canvas.csv --roster canvas-gradebook.csv
      dl101 export gradebook grades/ --gradebook sqlite:///course/gradebook.db
      dl101 export gradescope -a convolution -o autograder.zip
    """


def _columns(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    columns = {}
    for value in values:
        slug, sep, header = value.partition("=")
        if not sep or not slug or not header:
            raise click.BadParameter(f"expected SLUG=HEADER, got {value!r}")
        columns[slug] = header
    return columns


@export.command(context_settings=_CONTEXT)
@_grades_dir
@click.option("-o", "--out", default="canvas.csv", show_default=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The CSV to write.")
@click.option("--roster", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Canvas gradebook export (Grades > Export): names, sections and ids are taken from it.")
@click.option("--id-column", default="auto", show_default=True,
              type=click.Choice(["auto", "ID", "SIS User ID", "SIS Login ID"]),
              help="Without a roster: the Canvas column that holds the dl101 student id "
                   "(auto: ID when all ids are numbers, else SIS User ID).")
@click.option("--column", "columns", multiple=True, callback=_columns, metavar="SLUG=HEADER",
              help='Canvas column header of an assignment, e.g. "convolution=Convolution (4321)". Repeatable.')
@click_errors()
def canvas(grades_dir: Path, out: Path, roster: Path | None, id_column: str, columns: dict[str, str]) -> None:
    """Write a Canvas gradebook import CSV from the results under GRADES_DIR.

    Scores are final (late deductions applied); results the grader failed on are left blank.

    \b
    Example:
      dl101 export canvas grades/ -o canvas.csv --roster canvas-gradebook.csv
    """
    from grader.exports.canvas import export_canvas

    done = export_canvas(grades_dir, out, roster=roster, id_column=id_column, columns=columns)
    if done.unmatched:
        click.secho(f"not in the roster, not exported: {', '.join(done.unmatched)}", fg="yellow", err=True)
    for student, slug in done.blank:
        click.secho(f"left blank (grader error, check by hand): {student} {slug}", fg="yellow", err=True)
    click.echo(f"wrote {out}")


@export.command(context_settings=_CONTEXT)
@_grades_dir
@click.option("--gradebook", "url", required=True, metavar="URL",
              help="nbgrader database, e.g. sqlite:///course/gradebook.db")
@click_errors()
def gradebook(grades_dir: Path, url: str) -> None:
    """Record the results under GRADES_DIR in an nbgrader gradebook.

    \b
    Example:
      dl101 export gradebook grades/ --gradebook sqlite:///course/gradebook.db
    """
    from grader.gradebook import record
    from grader.reports import load_results

    done = record(load_results(grades_dir), url)
    click.echo(f"recorded {done.submissions} submissions of {done.assignments} assignments in {url}")


@export.command(context_settings=_CONTEXT)
@click.option("-a", "--assignment", required=True, help="Assignment slug (solutions/<slug>/).")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path),
              help="The zip to write [default: <slug>-autograder.zip].")
@click.option("--sandbox", default="auto", show_default=True, type=click.Choice(["auto", "require", "unsafe"]),
              help="auto: dl101's sandbox when the container allows it, else --unsafe-no-sandbox.")
@click.option("--timeout", default=300.0, show_default=True, type=click.FloatRange(min=1),
              help="Seconds the submission may run.")
@click_errors()
def gradescope(assignment: str, out: Path | None, sandbox: str, timeout: float) -> None:
    """Build a Gradescope autograder zip (setup.sh, run_autograder, hidden tests) for one assignment.

    The zip holds the hidden tests: upload it to Gradescope, never to students.

    \b
    Example:
      dl101 export gradescope -a convolution -o autograder.zip
    """
    from grader.exports.autograder import build_zip

    path = build_zip(assignment, out or Path(f"{assignment}-autograder.zip"), sandbox=sandbox, timeout=timeout)
    click.echo(f"wrote {path} (instructor-only: it contains the hidden tests)")
