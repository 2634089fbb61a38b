"""nbgrader integration: record results in an nbgrader gradebook, put feedback where nbgrader does.

    record(results, "sqlite:///course/gradebook.db")

How dl101 results map onto nbgrader's gradebook (``nbgrader.api.Gradebook``):

==========================  =============================================================
nbgrader                    dl101
==========================  =============================================================
Student                     the student id (names, emails already there are kept)
Assignment                  the assignment slug; ``duedate`` from its late policy, if any
Notebook                    one per assignment, named like the slug (``<slug>.ipynb``)
GradeCell (code)            one per hidden test: :func:`cell_name` of the test name,
                            ``max_score`` = the test's points
SubmittedAssignment         ``timestamp`` = submitted_at, ``extension`` from the late policy
Grade.auto_score            the test's score (raw: before any late deduction)
SubmittedNotebook           ``late_submission_penalty`` = ``extra["late"]["penalty"]``;
                            ``flagged`` when the grader itself failed on the submission
==========================  =============================================================

So nbgrader's ``score - late_submission_penalty`` (what ``nbgrader export`` writes) is
dl101's final score. A test whose grader broke gets ``needs_manual_grade`` so it shows up
in formgrader's to-do list. Manual scores and extra credit given in formgrader are kept
when dl101 records the same submission again. Grade cells whose test no longer exists
(a renamed test) are removed, but only cells dl101 created (their names start ``dl101-``).

nbgrader is imported only when :func:`record` runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import sysconfig
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from grader import late
from grader.errors import GraderError
from grader.results import GRADED, SubmissionResult

log = logging.getLogger(__name__)

CELL_PREFIX = "dl101-"
#: Results for this "assignment" could not say what they were for: not recorded.
UNKNOWN = "unknown"


@dataclass
class Recorded:
    """What :func:`record` wrote."""

    assignments: int = 0
    submissions: int = 0
    skipped: int = 0


def cell_name(test_name: str) -> str:
    """The nbgrader grade-cell name of a test: stable, unique, short, ``[a-z0-9_-]`` only."""
    stem = re.sub(r"[^a-z0-9_]+", "-", test_name.lower()).strip("-")[:80] or "test"
    digest = hashlib.sha256(test_name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{CELL_PREFIX}{stem}-{digest}"


def notebook_name(slug: str) -> str:
    """nbgrader's notebook name: the file stem of ``source/<slug>/<slug>.ipynb``."""
    return slug


def check_url(url: str) -> None:
    """A GraderError unless ``url`` looks like a database URL (checked before a batch starts)."""
    if not re.match(r"^[a-z][a-z0-9+]*://", url or ""):
        raise GraderError(f"--gradebook wants a database URL such as sqlite:///gradebook.db, not {url!r}")


def open_gradebook(url: str, *, course_id: str = "default_course") -> Any:
    """An ``nbgrader.api.Gradebook`` (the caller closes it); a GraderError if it cannot open."""
    check_url(url)
    if url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
        Path(url[len("sqlite:///"):]).expanduser().parent.mkdir(parents=True, exist_ok=True)
    try:
        from nbgrader.api import Gradebook
    except ImportError as exc:
        raise GraderError(f"recording a gradebook needs nbgrader (pip install 'dl101[grade]'): {exc}") from None
    try:
        with _alembic_head_in_process(), _alembic_on_path():
            return Gradebook(url, course_id=course_id)
    except Exception as exc:  # SQLAlchemy errors: a bad URL, an unreadable file, a locked database
        raise GraderError(f"cannot open the gradebook {url}: {exc}") from None


@contextlib.contextmanager
def _alembic_head_in_process() -> Iterator[None]:
    """A new nbgrader database is stamped with its migration head, which nbgrader learns by
    running ``alembic heads`` in a subprocess (seconds). Read the same head from the same
    migration scripts in-process instead; if that fails, nbgrader's own way is used."""
    import nbgrader.api as api
    from nbgrader.dbutil import ALEMBIC_DIR

    try:
        from alembic.script import ScriptDirectory

        head = ScriptDirectory(ALEMBIC_DIR).get_current_head()
    except Exception:  # any problem: let nbgrader do it its own way
        head = None
    original = api.get_alembic_version
    if head:
        api.get_alembic_version = lambda: head
    try:
        yield
    finally:
        api.get_alembic_version = original


@contextlib.contextmanager
def _alembic_on_path() -> Iterator[None]:
    """nbgrader runs the ``alembic`` command when it creates a database: find it beside
    this interpreter even when its environment is not activated (``.venv/bin/dl101``)."""
    if shutil.which("alembic"):
        yield
        return
    saved = os.environ.get("PATH")
    scripts = sysconfig.get_path("scripts")
    os.environ["PATH"] = scripts + (os.pathsep + saved if saved else "")
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("PATH", None)
        else:
            os.environ["PATH"] = saved


def record(results: Iterable[SubmissionResult], url: str, *, course_id: str = "default_course") -> Recorded:
    """Record ``results`` (the latest one per student and assignment wins) in the gradebook at ``url``."""
    latest: dict[tuple[str, str], SubmissionResult] = {}
    for r in results:
        latest[(r.assignment, r.student)] = r
    by_slug: dict[str, list[SubmissionResult]] = {}
    done = Recorded()
    for (slug, _), r in sorted(latest.items()):
        if slug == UNKNOWN or not slug:
            done.skipped += 1
            log.warning("not recording %s in the gradebook: its assignment is unknown", r.student)
            continue
        by_slug.setdefault(slug, []).append(r)
    if not by_slug:
        return done
    gb = open_gradebook(url, course_id=course_id)
    try:
        for slug, rs in by_slug.items():
            _record_assignment(gb, slug, rs)
            done.assignments += 1
            done.submissions += len(rs)
    except GraderError:
        raise
    except Exception as exc:  # nbgrader's InvalidEntry, SQLAlchemy errors (locked, read-only, ...)
        gb.db.rollback()
        raise GraderError(f"cannot record results in the gradebook {url}: {exc}") from None
    finally:
        gb.close()
    return done


def _tests_of(results: Sequence[SubmissionResult]) -> dict[str, float]:
    """Every test name seen (in order) -> its points."""
    tests: dict[str, float] = {}
    for r in results:
        for t in r.tests:
            tests.setdefault(t.name, float(t.max_score))
    return tests


def _record_assignment(gb: Any, slug: str, results: Sequence[SubmissionResult]) -> None:
    from nbgrader.api import Student, SubmittedAssignment

    policy = late.load_policy(slug) if _has_solutions(slug) else None
    assignment_kwargs = {"duedate": policy.due} if policy else {}
    assignment = gb.update_or_create_assignment(slug, **assignment_kwargs)
    nb_name = notebook_name(slug)
    notebook = gb.update_or_create_notebook(nb_name, slug)
    tests = _tests_of(results)
    names = {cell_name(t): t for t in tests}
    for name, test in names.items():
        gb.update_or_create_grade_cell(name, nb_name, slug, max_score=tests[test], cell_type="code")
    if any(r.status == GRADED and r.tests for r in results):
        _remove_stale_cells(gb, notebook, set(names))
    cells = {c.name: c for c in notebook.grade_cells}
    # One transaction for the whole class: nbgrader's add_student / add_submission commit
    # (and reload everything) once per call, which is seconds per hundred students.
    students = {s.id: s for s in gb.db.query(Student)}
    query = gb.db.query(SubmittedAssignment).filter(SubmittedAssignment.assignment_id == assignment.id)
    submissions = {s.student_id: s for s in query}
    mirror = _Mirror.of(assignment)
    with gb.db.no_autoflush:
        for r in results:
            if r.student not in students:
                students[r.student] = Student(id=r.student)
                gb.db.add(students[r.student])
            if r.student not in submissions:
                submissions[r.student] = mirror.new_submission(gb, students[r.student])
            _record_submission(gb, r, submissions[r.student], notebook, cells, policy)
    gb.db.commit()


@dataclass
class _Mirror:
    """The cells of an assignment's notebooks, to build a submission the way
    ``Gradebook.add_submission`` does: a SubmittedNotebook per notebook, a Grade per grade
    cell, a Comment per solution cell, a Comment and a Grade per task cell."""

    notebooks: list[tuple[Any, list[Any], list[Any], list[Any]]]

    @classmethod
    def of(cls, assignment: Any) -> _Mirror:
        return cls([(nb, nb.grade_cells, nb.solution_cells, nb.task_cells) for nb in assignment.notebooks])

    def new_submission(self, gb: Any, student: Any) -> Any:
        from nbgrader.api import Comment, Grade, SubmittedAssignment, SubmittedNotebook

        submission = SubmittedAssignment(assignment_id=self.notebooks[0][0].assignment_id, student=student)
        for notebook, grade_cells, solution_cells, task_cells in self.notebooks:
            nb = SubmittedNotebook(notebook=notebook, assignment=submission)
            for cell in grade_cells:
                Grade(cell_id=cell.id, notebook=nb)
            for cell in solution_cells:
                Comment(cell_id=cell.id, notebook=nb)
            for cell in task_cells:
                Comment(cell_id=cell.id, notebook=nb)
                Grade(cell_id=cell.id, notebook=nb)
        gb.db.add(submission)
        return submission


def _has_solutions(slug: str) -> bool:
    from grader import assignments

    return assignments.solution_dir(slug).is_dir()


def _remove_stale_cells(gb: Any, notebook: Any, current: set[str]) -> None:
    for cell in list(notebook.grade_cells):
        if cell.name.startswith(CELL_PREFIX) and cell.name not in current:
            log.info("removing grade cell %s (its test is gone)", cell.name)
            for grade in list(cell.grades):
                gb.db.delete(grade)
            for comment in list(cell.comments):
                gb.db.delete(comment)
            gb.db.delete(cell)
    gb.db.commit()
    gb.db.expire(notebook)


def _record_submission(gb: Any, r: SubmissionResult, submission: Any, notebook: Any, cells: dict[str, Any],
                       policy: late.LatePolicy | None) -> None:
    from nbgrader.api import Grade, SubmittedNotebook

    submitted = late.parse_time(r.submitted_at)
    submission.timestamp = submitted.replace(tzinfo=None) if submitted else None
    if policy and policy.extensions.get(r.student):
        submission.extension = timedelta(days=policy.extensions[r.student])
    nb = next((n for n in submission.notebooks if n.notebook is notebook), None)
    if nb is None:  # the submission predates this notebook
        nb = SubmittedNotebook(notebook=notebook, assignment=submission)
        gb.db.add(nb)  # SQLAlchemy 2 does not cascade new objects into the session along backrefs
    grades = {g.cell_id: g for g in nb.grades}
    by_cell = {cell_name(t.name): t for t in r.tests}
    for name, cell in cells.items():
        grade = grades.get(cell.id)
        if grade is None:  # a cell added after the submission was first recorded
            grade = Grade(cell_id=cell.id, notebook=nb)
            gb.db.add(grade)
        test = by_cell.get(name)
        if test is None and not name.startswith(CELL_PREFIX):
            continue  # a cell nbgrader itself manages (e.g. a manually graded answer)
        grade.auto_score = float(test.score) if test else 0.0
        grade.needs_manual_grade = bool(test.grader_error) if test else r.status == "error"
    info = late.late_info(r)
    nb.late_submission_penalty = float(info.get("penalty") or 0.0) if info else 0.0
    nb.flagged = r.grader_broke


# ---------------------------------------------------------------- course feedback


def course_roots(paths: Iterable[Path]) -> list[Path]:
    """nbgrader course directories among the graded PATHs: ``course/submitted`` or ``course``."""
    roots = []
    for p in map(Path, paths):
        if p.is_dir() and p.name == "submitted":
            roots.append(p.resolve().parent)
        elif p.is_dir() and (p / "submitted").is_dir():
            roots.append(p.resolve())
    return list(dict.fromkeys(roots))


def write_course_feedback(results: Iterable[SubmissionResult], paths: Iterable[Path]) -> list[Path]:
    """For results from ``<course>/submitted/<student>/<assignment>/``, write nbgrader's
    ``<course>/feedback/<student>/<assignment>/feedback.html`` (and copy ``timestamp.txt``)."""
    from grader.reports import atomic_write_bytes, encode, feedback_html

    roots = course_roots(paths)
    written: list[Path] = []
    if not roots:
        return written
    for r in results:
        place = _course_place(r.source, roots)
        if place is None:
            continue
        root, student, assignment = place
        folder = root / "feedback" / student / assignment
        atomic_write_bytes(folder / "feedback.html", encode(feedback_html(r)))
        stamp = root / "submitted" / student / assignment / "timestamp.txt"
        if stamp.is_file():
            atomic_write_bytes(folder / "timestamp.txt", stamp.read_bytes())
        written.append(folder / "feedback.html")
    return written


def _course_place(source: str, roots: list[Path]) -> tuple[Path, str, str] | None:
    if not source:
        return None
    path = Path(source).resolve()
    for root in roots:
        try:
            parts = path.relative_to(root / "submitted").parts
        except ValueError:
            continue
        if len(parts) >= 3 and all(part not in ("", ".", "..") for part in parts[:2]):
            return root, parts[0], parts[1]
    return None
