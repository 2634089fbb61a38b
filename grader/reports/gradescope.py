"""results.json: Gradescope's results schema, plus everything needed to read it back.

Gradescope fields (contract): ``score``, ``execution_time``, ``output``, ``tests[]`` with
``name``, ``score``, ``max_score``, ``status``, ``output``, ``visibility``. We add the top
``max_score``, ``output_format: "text"`` everywhere (student text is never rendered as
HTML or Markdown by Gradescope), a short ``extra_data`` summary, and under ``"dl101"`` the
complete :class:`SubmissionResult` so :func:`load_results` rebuilds it exactly.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from pathlib import Path
from typing import Any

from grader.reports.common import (
    UNSAFE_TEXT,
    clean,
    is_graded,
    late_text,
    num,
    result_dir,
    sort_key,
)
from grader.results import SubmissionResult, TestResult

log = logging.getLogger(__name__)

#: Bumped when the "dl101" block changes incompatibly.
SCHEMA_VERSION = 1

_RESULT_FIELDS = {f.name for f in dataclasses.fields(SubmissionResult)}
_TEST_FIELDS = {f.name for f in dataclasses.fields(TestResult)}


def submission_output(result: SubmissionResult) -> str:
    """The submission-level text shown to the student (and to Gradescope)."""
    parts = []
    if result.unsafe:
        parts.append(f"!!! {UNSAFE_TEXT} !!!")
    if not is_graded(result):
        parts.append(f"Not graded: {clean(result.status)}.")
    lateness = late_text(result)
    if lateness:
        parts.append(lateness)
    if result.output:
        parts.append(clean(result.output).rstrip())
    return "\n\n".join(parts)


def results_json(result: SubmissionResult) -> dict[str, Any]:
    """The Gradescope results document of one submission (JSON-ready)."""
    tests = []
    for i, t in enumerate(result.tests, 1):
        tests.append(
            {
                "name": clean(t.name),
                "number": str(i),
                "score": num(t.score),
                "max_score": num(t.max_score),
                "status": "passed" if t.status == "passed" else "failed",
                "output": clean(t.output),
                "output_format": "text",
                "visibility": t.visibility,
                **({"extra_data": {"grader_error": True}} if t.grader_error else {}),
            }
        )
    return {
        "score": num(result.score),
        "max_score": num(result.max_score),
        "execution_time": round(num(result.execution_time), 3),
        "output": submission_output(result),
        "output_format": "text",
        "test_output_format": "text",
        "test_name_format": "text",
        "extra_data": {
            "student": clean(result.student),
            "assignment": clean(result.assignment),
            "status": clean(result.status),
            "unsafe": bool(result.unsafe),
        },
        "tests": tests,
        "dl101": _dl101_block(result),
    }


def dumps(result: SubmissionResult) -> str:
    return json.dumps(results_json(result), indent=1, allow_nan=False) + "\n"


def _dl101_block(result: SubmissionResult) -> dict[str, Any]:
    data = result.to_dict()
    for obj in (data, *data["tests"]):
        for key in ("score", "max_score", "execution_time"):
            if key in obj:
                obj[key] = _finite(obj[key])
    return {"schema": SCHEMA_VERSION, "result": _jsonable(data)}


def _finite(x: Any) -> Any:
    if isinstance(x, bool):
        return x
    try:
        return float(x) if math.isfinite(x) else 0.0
    except TypeError:
        return x


def _jsonable(obj: Any) -> Any:
    """Plain JSON data: numpy values become Python ones, NaN/inf become null (strict JSON
    has neither), sets become sorted lists, anything else its str()."""
    if obj is None or isinstance(obj, bool | int | str):
        return obj
    if isinstance(obj, float):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, set | frozenset):
        return sorted((_jsonable(v) for v in obj), key=repr)
    if hasattr(obj, "tolist"):  # numpy scalars and arrays
        return _jsonable(obj.tolist())
    return str(obj)


def from_results_json(doc: Any) -> SubmissionResult:
    """Rebuild a SubmissionResult from a results.json document; ValueError if it is not ours."""
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    block = doc.get("dl101")
    if not isinstance(block, dict) or not isinstance(block.get("result"), dict):
        raise ValueError('no "dl101" block (not written by dl101)')
    if block.get("schema") != SCHEMA_VERSION:
        raise ValueError(f"unsupported dl101 schema {block.get('schema')!r}")
    data = {k: v for k, v in block["result"].items() if k in _RESULT_FIELDS}
    tests = data.get("tests", [])
    if not isinstance(tests, list) or not all(isinstance(t, dict) for t in tests):
        raise ValueError("tests is not a list of objects")
    data["tests"] = [{k: v for k, v in t.items() if k in _TEST_FIELDS} for t in tests]
    try:
        result = SubmissionResult.from_dict(data)
    except TypeError as exc:
        raise ValueError(f"missing or unexpected fields: {exc}") from None
    for key in ("student", "assignment", "status"):
        if not isinstance(getattr(result, key), str):
            raise ValueError(f"{key} is not a string")
    for obj in (result, *result.tests):
        for key in ("score", "max_score"):
            value = getattr(obj, key)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{key} is not a number")
            setattr(obj, key, float(value))
        if isinstance(obj, TestResult) and not isinstance(obj.name, str):
            raise ValueError("a test name is not a string")
    if not isinstance(result.extra, dict):
        result.extra = {}
    return result


def load_results(out: Path | str, *, problems: list[str] | None = None) -> list[SubmissionResult]:
    """Every ``out/<assignment>/<student>/results.json``, sorted by (student, assignment).

    Files that cannot be read, are not valid dl101 results, or sit in a folder that does
    not belong to the student/assignment they name are skipped: each one is logged as a
    warning and, when ``problems`` is given, described there (so a resumed batch grades
    those submissions again and ``dl101 report`` can say what it left out).
    """
    out = Path(out)
    found: list[SubmissionResult] = []
    if not out.is_dir():
        return found
    for path in sorted(out.glob("*/*/results.json")):
        try:
            doc = json.loads(path.read_bytes())
            result = from_results_json(doc)
        except (OSError, ValueError) as exc:  # JSONDecodeError and UnicodeDecodeError too
            _flag(problems, f"skipping corrupt {path}: {exc}")
            continue
        expected = result_dir(out, result.assignment, result.student)
        if expected != path.parent:
            _flag(
                problems,
                f"skipping {path}: it holds {result.student!r}/{result.assignment!r}, "
                f"whose results belong in {expected}",
            )
            continue
        found.append(result)
    found.sort(key=sort_key)
    return found


def _flag(problems: list[str] | None, message: str) -> None:
    log.warning("%s", message)
    if problems is not None:
        problems.append(message)
