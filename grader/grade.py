"""`dl101 grade` as a library call: discover, skip what is done, grade, write reports.

    results = grade_paths([Path("submissions/")], assignment="convolution", out=Path("grades"))

Reports are written atomically as each result arrives, so a killed batch loses nothing
and a re-run resumes where it stopped (unless ``force``).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from grader import assignments
from grader.errors import GraderError
from grader.results import SubmissionResult
from grader.runner import Job

if TYPE_CHECKING:
    from grader.distributed import DaskPool

Progress = Callable[[SubmissionResult, int, int], None]
DEFAULT_TIMEOUT = 60.0
#: Where results go when a submission cannot even say which assignment it is for.
UNKNOWN = "unknown"


@dataclass
class Plan:
    """What a batch will do: jobs for the sandbox, results known without running anything."""

    jobs: list[Job]
    ready: list[SubmissionResult]
    skipped: list[SubmissionResult]


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)))


def grade_paths(paths: Sequence[Path], *, assignment: str | None = None, out: Path = Path("grades"),
                jobs: int | None = None, timeout: float | None = None, force: bool = False,
                unsafe: bool = False, progress: Progress | None = None,
                gradebook: str | None = None, scheduler: str | None = None) -> list[SubmissionResult]:
    """Grade every submission under ``paths``; return this batch's results (skipped ones included).

    Late policies (solutions/<slug>/assignment.toml) are applied as results arrive. After the
    batch: nbgrader feedback for a course/submitted tree, and the results recorded in the
    nbgrader ``gradebook`` (a database URL) when given.
    """
    from grader.loading import discover
    from grader.reports import load_results, write_class_reports
    from grader.reports.atomic import remove_stale_temps

    if assignment is not None:
        check_assignment(assignment)
    if gradebook:
        from grader.gradebook import check_url

        check_url(gradebook)
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(out)
    with tempfile.TemporaryDirectory(prefix="dl101-") as workdir:
        submissions = discover(list(paths), workdir=Path(workdir), assignment=assignment)
        plan = make_plan(submissions, assignment=assignment, out=out, force=force, unsafe=unsafe,
                         timeout=timeout)
        results = run_plan(plan, out=out, jobs=jobs or default_jobs(), timeout=timeout or DEFAULT_TIMEOUT,
                           unsafe=unsafe, progress=progress, scheduler=scheduler)
    write_class_reports(load_results(out), out)
    batch = sorted(results + plan.skipped, key=lambda r: (r.assignment, r.student))
    from grader.gradebook import record, write_course_feedback

    write_course_feedback(batch, paths)
    if gradebook:
        record(batch, gradebook)
    return batch


def check_assignment(slug: str) -> None:
    from grader import quiz

    if not quiz.is_quiz(slug):
        assignments.hidden_tests(slug)  # raises a GraderError naming the known ones


def require_sandbox() -> None:
    from grader.sandbox import sandbox_problem

    problem = sandbox_problem()
    if problem:
        raise GraderError(f"cannot sandbox student code here: {problem}")


def make_plan(submissions: list, *, assignment: str | None, out: Path, force: bool, unsafe: bool,
              timeout: float | None = None) -> Plan:
    from grader.reports import load_results

    done = {} if force else {(r.assignment, r.student): r for r in load_results(out)}
    plan = Plan([], [], [])
    for sub in submissions:
        item = plan_one(sub, assignment=assignment, unsafe=unsafe, timeout=timeout)
        previous = done.get((item.assignment, item.student))
        if previous and previous.extra.get("fingerprint") == sub.fingerprint:
            plan.skipped.append(previous)
        elif isinstance(item, Job):
            plan.jobs.append(item)
        else:
            plan.ready.append(item)
    return plan


def plan_one(sub, *, assignment: str | None, unsafe: bool, timeout: float | None = None) -> Job | SubmissionResult:
    """A job for the sandbox, or the result itself when nothing needs to run."""
    from grader.loading import UnreadableSubmission, load_cells

    slug = assignment or sub.assignment
    meta = {"source": sub.source, "submitted_at": sub.submitted_at, "fingerprint": sub.fingerprint,
            "note": sub.note}

    def result(status: str, reason: str) -> SubmissionResult:
        return SubmissionResult(student=sub.student, assignment=slug or UNKNOWN, status=status, output=reason,
                                source=sub.source, submitted_at=sub.submitted_at, unsafe=unsafe,
                                extra={"fingerprint": sub.fingerprint})

    if sub.status:
        return result(sub.status, sub.problem or sub.unreadable)
    try:
        if slug and _is_quiz(slug):
            return grade_quiz(sub, slug)
        notebook = load_cells(sub.read_bytes(), name=sub.path.name)
    except UnreadableSubmission as exc:
        return result("unreadable", str(exc))
    if not slug and notebook.assignment:
        # The notebook's own claim: its metadata is the student's to edit. Never a path, and
        # a claim we cannot honour is this submission's problem, not the batch's.
        claimed = notebook.assignment
        if _is_quiz(claimed):
            slug = claimed
            try:
                return grade_quiz(sub, claimed)
            except UnreadableSubmission as exc:
                return result("unreadable", str(exc))
            except GraderError as exc:  # e.g. no course secret here: this one cannot be graded
                return result("unreadable", f"the notebook's metadata says it is the quiz {claimed!r}, which "
                                            f"cannot be graded here: {exc}")
        if claimed not in assignments.list_assignments():
            return result("unreadable", f"the notebook's metadata says it is for the assignment {claimed[:80]!r}, "
                                        f"which this course does not have (known: "
                                        f"{', '.join(assignments.list_assignments())}): grade it with "
                                        f"-a/--assignment SLUG")
        slug = claimed
    if not slug:
        raise GraderError(f"cannot tell which assignment {sub.source} is for: pass -a/--assignment SLUG "
                          f"(known: {', '.join(assignments.list_assignments())})")
    check_assignment(slug)
    return Job(student=sub.student, assignment=slug, cells=notebook.cells, meta=meta,
               timeout=timeout or assignments.timeout(slug))


def _is_quiz(slug: str) -> bool:
    from grader import quiz

    return quiz.is_quiz(slug)


def grade_quiz(sub, slug: str) -> SubmissionResult:
    """A quiz runs no code. Its key is in the feedback only once the quiz is due (if it has a
    due date in solutions/<quiz>/assignment.toml)."""
    from grader import late, quiz

    policy = late.load_policy(slug)
    reveal = policy is None or datetime.now(UTC) >= policy.due_for(sub.student)
    result = quiz.grade_quiz_submission(sub.read_bytes(), name=sub.path.name, student=sub.student, quiz_id=slug,
                                        reveal=reveal)
    result.source, result.submitted_at = sub.source, sub.submitted_at
    result.extra["fingerprint"] = sub.fingerprint
    return result


def run_plan(plan: Plan, *, out: Path, jobs: int, timeout: float, unsafe: bool,
             progress: Progress | None, scheduler: str | None = None) -> list[SubmissionResult]:
    from grader import late
    from grader.pool import RunnerPool
    from grader.reports import write_student_reports
    from grader.reports.classreport import preload_plotting

    if plan.jobs and not unsafe and not scheduler:  # a Dask cluster's workers check their own
        require_sandbox()  # only student code needs one: quizzes and unreadable files do not
    total = len(plan.jobs) + len(plan.ready)
    results: list[SubmissionResult] = []
    late.check_policies({j.assignment for j in plan.jobs} | {r.assignment for r in plan.ready})

    def finish(result: SubmissionResult) -> None:
        late.apply_policy(result)
        write_student_reports(result, out)
        results.append(result)
        if progress:
            progress(result, len(results), total)

    max_scores: dict[str, float] = {}
    if plan.jobs:
        slugs = sorted({job.assignment for job in plan.jobs})
        fingerprints = {(j.student, j.assignment): j.meta["fingerprint"] for j in plan.jobs}
        pool: RunnerPool | DaskPool
        if scheduler:  # grader.distributed: the same jobs and results, graded on a Dask cluster
            from grader.distributed import DaskPool

            pool = DaskPool(slugs, scheduler=scheduler, unsafe=unsafe, timeout=timeout, log_path=out / "grader.log")
        else:
            pool = RunnerPool(slugs, jobs=jobs, unsafe=unsafe, timeout=timeout, log_path=out / "grader.log")
        with pool:
            for n, result in enumerate(pool.grade(plan.jobs)):
                if n == 0:  # the runners are warm: report.html's matplotlib loads meanwhile
                    preload_plotting()
                result.extra["fingerprint"] = fingerprints[(result.student, result.assignment)]
                if not result.max_score:
                    result.max_score = pool.max_scores.get(result.assignment, 0.0)
                finish(result)
            max_scores = pool.max_scores
    for result in plan.ready:  # after the runners, who know each assignment's total
        result.max_score = result.max_score or max_scores.get(result.assignment, 0.0)
        finish(result)
    return results
