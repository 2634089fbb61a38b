"""Submissions in, plain Python cells out. Nothing here runs student code: it only reads.

    subs = discover([Path("downloads/class.zip")], workdir=tmp, assignment="convolution")
    notebook = load_cells(subs[0].read_bytes(), name=subs[0].path.name)
    notebook.cells  # one str of plain Python per code cell, magics and shell lines neutralised

What ``discover`` accepts (any mix of PATHs; the result is sorted by student, then assignment):

- a file: ``.ipynb`` or ``.py`` (or a quiz answers file ``.json``/``.yaml``/``.yml``); the
  student id comes from its name (rules below). A file inside an nbgrader tree
  (``submitted/<student>/<assignment>/x.ipynb``) takes its identity from the tree instead.
- a directory of ``<student>.ipynb`` / ``.py`` (or answers) files, ``<student>/`` folders, and
  student ``.zip`` files (``<student>.zip``, an LMS-named zip...), in any mix. Other files
  (``.csv``, ``.pdf``, ``.html``...) are ignored.
- an nbgrader tree: a ``submitted/`` directory, the course root that contains it, one
  ``submitted/<student>/`` or one ``submitted/<student>/<assignment>/`` folder. A student folder
  whose subfolders hold a ``timestamp.txt`` is read the nbgrader way wherever it is.
  ``timestamp.txt`` gives ``submitted_at``. With ``assignment=`` only that assignment's folders
  are taken and a student without one is reported missing; without it every assignment
  folder becomes its own submission.
- a ``.zip`` of any of these. It is extracted (safely, see below) under ``workdir`` and read as
  a directory; a zip whose root holds a single folder with two or more entries (or a
  ``submitted/`` folder, or LMS-named files) is unwrapped first, so ``zip -r class.zip hw3/``
  works. A zip inside a class directory or archive is one student's upload: every
  notebook in it (any depth) is a candidate for that student; zips are not expanded deeper.

Skipped everywhere: hidden files and folders (``.ipynb_checkpoints``, ``._x`` AppleDouble files),
``__MACOSX``, ``__pycache__``, ``~$`` lock files, ``*-checkpoint.ipynb``; symlinked folders
are not followed, and a symlinked file found in a folder is an unreadable submission (only the
files named as PATHs are read through a link).

Student id from a file or folder name (the name without its extension):

- Canvas: ``<name>_<userid>_<submissionid>_<file>`` and ``<name>_LATE_<userid>_...`` -> the
  numeric Canvas user id (``smithjohn_12345_67890_conv.ipynb`` -> ``12345``); the LATE flag goes
  into ``Submission.note``.
- Moodle: ``<Full Name>_<id>_assignsubmission_<plugin>_<file>`` (a file or a folder) -> ``<id>``.
- Blackboard: ``<title>_<user>_attempt_<YYYY-MM-DD-HH-MM-SS>[_<file>]`` -> ``<user>``, and the
  attempt time becomes ``submitted_at``.
- otherwise the name itself (``smith.ipynb`` -> ``smith``, ``smith/`` -> ``smith``).

Ids are made safe as one path component (``/``, ``\\``, ``:`` and control characters become
``_``, leading dots and spaces are dropped).

Several candidate files for one student (a folder with several notebooks, several Canvas
files of one user, ``smith.ipynb`` next to ``smith/``): readable before unreadable,
``.ipynb`` before ``.py`` before answers files; then, if the assignment is known, the file
whose name (LMS prefix and Canvas ``-1`` resubmission suffix removed) is the assignment; then
the notebook whose release metadata names the assignment (or, when the assignment is not known,
any released notebook); then not ``Untitled*``; then the newest (modification time; zip
entries keep their archive time), ties broken by name. ``Submission.note`` says which file was
graded and which were ignored.

A folder with no submission file is a ``Submission`` with ``problem`` set (status ``missing``).
The same student found twice across PATHs (or as a folder and as an nbgrader student inside
one PATH) for the same assignment (or one of them without an assignment) is a
``GraderError`` naming both files: ids must be unique and guessing would misfile a grade. The
same file reached twice is taken once.

Zip safety: at most ``MAX_ARCHIVE_MEMBERS`` entries; only the files we could grade (and
``timestamp.txt``) are extracted, and together at most ``MAX_ARCHIVE_BYTES``; an absolute
name, a drive letter or a ``..`` component refuses the whole archive (GraderError; for a
student's own zip: that student is unreadable); symlink entries are ignored; an entry larger
than ``MAX_FILE_BYTES`` (``MAX_NESTED_ZIP_BYTES`` for a student zip), compressed more than
``MAX_RATIO`` times (above 1 MiB), encrypted or corrupt becomes an unreadable submission
with the reason (``read_bytes`` raises ``UnreadableSubmission``). Extraction goes to
``workdir/unzipped/<name>-<sha256>/`` and is reused when complete.

``load_cells`` reads a notebook with the stdlib ``json`` (nbformat is imported only to upgrade
nbformat 1-3 notebooks); cell ids, cell metadata and outputs are ignored, so edited notebooks
(duplicated or missing ids, odd outputs) load. Each code cell becomes plain Python:

- a cell that is valid Python is kept as is; only other cells go through IPython's
  ``TransformerManager`` (imported then: it costs ~0.1 s);
- statements that use ``get_ipython()`` (line magics, ``!shell``, ``x = !cmd``, ``np.sum?``) become
  ``pass`` in place, line numbers kept; ``%time stmt`` runs ``stmt``;
- ``%%time`` and ``%%capture`` cells keep their body (itself neutralised); any other cell magic
  (``%%bash``, ``%%writefile``...) turns the cell into ``pass``; every such change is in
  ``LoadedNotebook.notes``;
- a cell that does not parse is still returned (the runner records it as a failed cell);
  ``problem`` lists such cells.

``.py`` files are one cell, or split on ``# %%`` (percent format, ``[markdown]`` cells skipped)
and ``# In[ ]:`` (nbconvert) markers; cells keep the file's line numbers.

Limits: ``MAX_FILE_BYTES`` per file, ``MAX_CELLS`` cells, ``MAX_CODE_CHARS`` characters of code.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from functools import cached_property
from pathlib import Path
from typing import Any

from grader.errors import GraderError

#: Largest notebook / .py / answers file read (outputs included).
MAX_FILE_BYTES = 20 * 1024 * 1024
#: Most cells (of any type) in a notebook.
MAX_CELLS = 5_000
#: Most characters of code, all code cells together.
MAX_CODE_CHARS = 2_000_000
#: Most entries in one zip archive.
MAX_ARCHIVE_MEMBERS = 20_000
#: Most bytes extracted from one archive (only the files we could grade are extracted).
MAX_ARCHIVE_BYTES = 2 * 1024**3
#: Largest student zip inside a class archive or directory.
MAX_NESTED_ZIP_BYTES = 200 * 1024 * 1024
#: Highest uncompressed/compressed ratio for an entry larger than RATIO_FLOOR (zip bombs).
MAX_RATIO = 200
RATIO_FLOOR = 1024 * 1024

NOTEBOOK_SUFFIXES = (".ipynb", ".py")
ANSWER_SUFFIXES = (".json", ".yaml", ".yml")
#: Preference when one student has several files: lower is better.
_RANK = {".ipynb": 0, ".py": 1, ".json": 2, ".yaml": 2, ".yml": 2}
_SKIP_NAMES = {"__macosx", "__pycache__", "node_modules"}
#: Files with a submission suffix that are never submissions.
_NOT_SUBMISSIONS = {"submission_metadata.yml", "timestamp.txt", "conftest.py", "setup.py"}
_TIMESTAMP = "timestamp.txt"
_MARKER = ".dl101-extracted.json"
#: Why a symlink found among the submissions is not read: it may point anywhere the grader
#: can read (the instructor's solution, another student's notebook).
_SYMLINK = "the submission is a symbolic link, not a file: submit the notebook itself"


class UnreadableSubmission(GraderError):
    """A submission that cannot be turned into cells; the message is for the student."""

    def __init__(self, reason: str, *, name: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.name = name


# --- submissions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Submission:
    """One student's submission of one assignment (or the fact that there is none)."""

    student: str
    #: The file to grade (inside ``workdir`` for zip entries); for a missing one, its folder.
    path: Path
    #: From the nbgrader layout when known; release metadata is read by ``load_cells``.
    assignment: str | None
    #: ISO 8601 when known (nbgrader ``timestamp.txt``, Blackboard attempt time), else "".
    submitted_at: str = ""
    #: Non-empty when nothing was submitted (result status ``missing``): the reason.
    problem: str = ""
    #: Non-empty when the file could not be taken (a zip entry too large, corrupt...):
    #: ``read_bytes`` raises ``UnreadableSubmission`` with this reason (status ``unreadable``).
    unreadable: str = ""
    #: Remarks worth showing: which of several files was graded, an LMS LATE flag.
    note: str = ""
    #: Where it came from, for people: the path, or ``class.zip!folder/file.ipynb``.
    source: str = ""

    @property
    def status(self) -> str:
        """``""`` when there is something to load, else the result status word."""
        return "missing" if self.problem else "unreadable" if self.unreadable else ""

    def read_bytes(self) -> bytes:
        """The file's content (at most MAX_FILE_BYTES); UnreadableSubmission otherwise."""
        if self.problem or self.unreadable:
            raise UnreadableSubmission(self.problem or self.unreadable, name=self.path.name)
        try:
            with open(self.path, "rb") as handle:
                data = handle.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise UnreadableSubmission(f"the file could not be read ({exc.strerror or exc})",
                                       name=self.path.name) from None
        if len(data) > MAX_FILE_BYTES:
            raise UnreadableSubmission(_too_large(os.path.getsize(self.path)), name=self.path.name)
        return data

    @cached_property
    def fingerprint(self) -> str:
        """sha256 of the content (for resuming a batch); of the reason when there is none."""
        digest = hashlib.sha256()
        if self.problem or self.unreadable:
            digest.update(f"{self.status}\0{self.problem or self.unreadable}".encode())
            return digest.hexdigest()
        try:
            with open(self.path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        except OSError as exc:
            digest.update(f"unreadable\0{exc}".encode())
        return digest.hexdigest()


def discover(paths: Sequence[Path], *, workdir: Path, assignment: str | None = None) -> list[Submission]:
    """Every submission under ``paths`` (see the module docstring for the accepted forms).

    ``workdir`` receives extracted archives. ``assignment``, when known, selects nbgrader
    assignment folders and helps choose between several notebooks of one student.
    Raises GraderError for a path that does not exist, a kind of file we cannot grade, a
    path with nothing in it, an unsafe or broken archive, and duplicate student ids.
    """
    finder = _Finder(Path(workdir), assignment)
    kept: list[Submission] = []
    seen: dict[str, list[Submission]] = {}
    conflicts: list[str] = []
    for raw in paths:
        path = Path(raw)
        found = finder.path(path)
        if not found:
            raise GraderError(f"{path}: no submissions found (looked for .ipynb/.py files, student "
                              f"folders, an nbgrader submitted/ tree and zips of these)")
        for sub in found:
            same = [old for old in seen.get(sub.student, [])
                    if old.assignment == sub.assignment or None in (old.assignment, sub.assignment)]
            if any(_same_file(old, sub) for old in same):
                continue
            if same:
                conflicts.append(f"{sub.student!r}: {same[0].source} and {sub.source}")
                continue
            seen.setdefault(sub.student, []).append(sub)
            kept.append(sub)
    if conflicts:
        shown = "; ".join(conflicts[:5]) + (f"; and {len(conflicts) - 5} more" if len(conflicts) > 5 else "")
        raise GraderError(f"the same student id appears twice ({shown}): grade these in separate "
                          f"runs or rename one, so that each student id is unique")
    return sorted(kept, key=lambda s: (s.student, s.assignment or "", str(s.path)))


def _same_file(a: Submission, b: Submission) -> bool:
    try:
        return a.status == b.status and os.path.samefile(a.path, b.path)
    except OSError:
        return a.path == b.path


@dataclass(frozen=True)
class _Name:
    """What a file or folder name says: the student id and more."""

    student: str
    #: The original file stem (LMS prefix removed), to match against the assignment.
    hint: str
    submitted_at: str = ""
    note: str = ""


_CANVAS = re.compile(r"^(?P<name>[^_\s]+)_(?P<late>LATE_)?(?P<id>\d+)_(?P<sub>\d+)_(?P<file>.+)$", re.I)
_MOODLE = re.compile(r"^(?P<name>.+?)_(?P<id>\d+)_assignsubmission_[a-z]+_(?P<file>.*)$", re.I)
_BLACKBOARD = re.compile(r"^(?P<title>.+)_(?P<user>[^_]+)_attempt_"
                         r"(?P<ts>\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2})(?:_(?P<file>.+))?$")


def student_from_name(name: str, *, folder: bool = False) -> str:
    """The student id a file (or folder) name gives, by the rules in the module docstring."""
    return _identify(name, folder=folder).student


def _identify(name: str, *, folder: bool = False) -> _Name:
    stem = name if folder else (Path(name).stem or name)
    if m := _CANVAS.match(stem):
        note = "submitted late (LMS LATE flag)" if m["late"] else ""
        return _Name(_clean_id(m["id"]), m["file"], note=note)
    if m := _MOODLE.match(stem):
        return _Name(_clean_id(m["id"]), m["file"])
    if m := _BLACKBOARD.match(stem):
        day, clock = m["ts"][:10], m["ts"][11:].replace("-", ":")
        return _Name(_clean_id(m["user"]), m["file"] or "", submitted_at=f"{day}T{clock}")
    return _Name(_clean_id(stem), stem)


def _clean_id(text: str) -> str:
    text = re.sub(r"[\x00-\x1f\x7f/\\:]", "_", text).strip().lstrip(". ").strip()
    return text or "unknown"


def _norm(text: str) -> str:
    """A name compared with an assignment slug: case, separators and ``-1`` suffixes ignored."""
    text = re.sub(r"(-\d+|\s*\(\d+\))$", "", text.strip().lower())
    return re.sub(r"[\s\-.]+", "_", text)


_TS = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}(?::\d{2})?)(?:\.(\d+))?\s*"
                 r"(Z|[A-Za-z]{2,5}|[+-]\d{2}:?\d{2})?$")


def parse_timestamp(text: str) -> str:
    """nbgrader's ``timestamp.txt`` (``2024-02-15 13:45:12.123456 UTC`` and ISO forms) -> ISO 8601,
    or "" when it cannot be read. A zone other than UTC/GMT/Z/an offset is dropped."""
    lines = text.strip().splitlines()
    m = _TS.match(lines[0].strip()) if lines else None
    if not m:
        return ""
    day, clock, frac, zone = m.groups()
    if len(clock) == 5:
        clock += ":00"
    try:
        when = datetime.fromisoformat(f"{day}T{clock}")
    except ValueError:
        return ""
    if frac:
        when = when.replace(microsecond=int(frac[:6].ljust(6, "0")))
    if zone and zone.upper() in ("Z", "UTC", "GMT"):
        when = when.replace(tzinfo=UTC)
    elif zone and zone[0] in "+-":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:])
        if hours > 23 or minutes > 59:
            return ""
        when = when.replace(tzinfo=timezone(sign * timedelta(hours=hours, minutes=minutes)))
    return when.isoformat()


def _read_timestamp(folder: Path) -> str:
    path = folder / _TIMESTAMP
    try:
        with open(path, "rb") as handle:
            return parse_timestamp(handle.read(1024).decode("utf-8", "replace"))
    except OSError:
        return ""


def _skipped(name: str) -> bool:
    return (not name or name.startswith((".", "~$")) or name.lower() in _SKIP_NAMES
            or name.endswith("-checkpoint.ipynb"))


def _entries(folder: Path) -> list[Path]:
    """The folder's entries worth looking at, sorted by name."""
    try:
        names = sorted(os.listdir(folder))
    except OSError as exc:
        raise GraderError(f"{folder}: cannot list the folder ({exc.strerror or exc})") from None
    return [folder / name for name in names if not _skipped(name)]


def _is_dir(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()


def _submission_file(path: Path) -> bool:
    return (path.suffix.lower() in _RANK and path.name.lower() not in _NOT_SUBMISSIONS
            and path.is_file())


@dataclass(frozen=True)
class _Candidate:
    path: Path
    hint: str
    submitted_at: str = ""
    note: str = ""


class _Finder:
    def __init__(self, workdir: Path, assignment: str | None) -> None:
        self.workdir = workdir
        self.assignment = assignment
        #: Extracted placeholders of zip entries we refused -> the reason.
        self.bad: dict[Path, str] = {}
        #: Files named on the command line: the instructor's, followed even if symlinks.
        self.given: set[Path] = set()
        #: Extraction folder -> what to call it in ``source`` (``class.zip``).
        self.labels: dict[Path, str] = {}

    # -- entry points --

    def path(self, path: Path) -> list[Submission]:
        if not os.path.lexists(path):
            raise GraderError(f"{path}: no such file or directory")
        if path.is_dir():
            return self.given_dir(path)
        if not path.is_file():
            raise GraderError(f"{path}: not a file or directory")
        suffix = path.suffix.lower()
        if suffix == ".zip":
            root = self.extract(path, label=str(path), nested=False)
            return self.folder(self.unwrap(root))
        if suffix in _RANK:
            self.given.add(path)
            return [self.single_file(path)]
        raise GraderError(f"{path}: cannot grade a {suffix or 'suffix-less'} file; give a .ipynb or .py "
                          f"file, a folder of them, an nbgrader submitted/ tree or a .zip")

    def single_file(self, path: Path) -> Submission:
        absolute = path.absolute()
        if absolute.parent.parent.parent.name == "submitted":
            folder = path.parent
            return self.make(_clean_id(absolute.parent.parent.name), [_Candidate(path, path.stem)],
                             assignment=absolute.parent.name, submitted_at=_read_timestamp(folder))
        name = _identify(path.name)
        return self.make(name.student, [_Candidate(path, name.hint, name.submitted_at, name.note)],
                         assignment=None)

    def given_dir(self, folder: Path) -> list[Submission]:
        absolute = folder.absolute()
        has_files = any(_submission_file(e) for e in _entries(folder))
        if absolute.parent.name == "submitted" and not has_files:
            return self.nbgrader_student(folder, _clean_id(absolute.name))
        if absolute.parent.parent.name == "submitted" and has_files:
            return [self.nbgrader_assignment(folder, _clean_id(absolute.parent.name), absolute.name)]
        return self.folder(folder)

    def folder(self, folder: Path) -> list[Submission]:
        if _is_dir(folder / "submitted"):
            return self.nbgrader_tree(folder / "submitted")
        if folder.absolute().name == "submitted":
            return self.nbgrader_tree(folder)
        return self.class_dir(folder)

    # -- nbgrader --

    def nbgrader_tree(self, submitted: Path) -> list[Submission]:
        found: list[Submission] = []
        for entry in _entries(submitted):
            if _is_dir(entry):
                found += self.nbgrader_student(entry, _clean_id(entry.name))
        return found

    def nbgrader_student(self, folder: Path, student: str) -> list[Submission]:
        folders = [e for e in _entries(folder) if _is_dir(e)]
        if self.assignment is not None:
            chosen = [f for f in folders if f.name == self.assignment]
            chosen = chosen or [f for f in folders if _norm(f.name) == _norm(self.assignment)]
            if not chosen:
                return [self.missing(student, folder, self.assignment,
                                     f"no submission of {self.assignment!r} in {self.where(folder)}")]
            folders = chosen[:1]
        if not folders:
            files = [e for e in _entries(folder) if _submission_file(e)]
            if files:
                name = _identify(folder.name, folder=True)
                candidates = [_Candidate(f, f.stem, name.submitted_at, name.note) for f in files]
                return [self.make(student, candidates, assignment=None,
                                  submitted_at=_read_timestamp(folder))]
            return [self.missing(student, folder, None, f"no assignment folder in {self.where(folder)}")]
        return [self.nbgrader_assignment(f, student, f.name) for f in folders]

    def nbgrader_assignment(self, folder: Path, student: str, assignment: str) -> Submission:
        files = [e for e in _entries(folder) if _submission_file(e)] or list(self.search(folder, depth=2))
        if not files:
            return self.missing(student, folder, assignment, _nothing_in(folder, self.where(folder)))
        return self.make(student, [_Candidate(f, f.stem) for f in files], assignment=assignment,
                         submitted_at=_read_timestamp(folder))

    @staticmethod
    def nbgrader_like(folder: Path) -> bool:
        """A student folder of assignment folders with nbgrader's timestamp.txt."""
        entries = _entries(folder)
        if any(_submission_file(e) for e in entries):
            return False
        return any(_is_dir(e) and (e / _TIMESTAMP).is_file() for e in entries)

    # -- class folders --

    def class_dir(self, folder: Path) -> list[Submission]:
        groups: dict[str, list[_Candidate]] = {}
        empty: dict[str, Path] = {}
        found: list[Submission] = []
        for entry in _entries(folder):
            if _is_dir(entry):
                name = _identify(entry.name, folder=True)
                if self.nbgrader_like(entry):
                    found += self.nbgrader_student(entry, name.student)
                    continue
                candidates = self.student_folder(entry, name)
            elif entry.suffix.lower() == ".zip" and entry.is_file():
                name = _identify(entry.name)
                candidates = self.student_zip(entry, name)
            elif _submission_file(entry):
                name = _identify(entry.name)
                candidates = [_Candidate(entry, name.hint, name.submitted_at, name.note)]
            else:
                continue
            groups.setdefault(name.student, []).extend(candidates)
            if not candidates:
                empty.setdefault(name.student, entry)
        for student, candidates in groups.items():
            if candidates:
                found.append(self.make(student, candidates, assignment=None))
            else:
                place = empty[student]
                found.append(self.missing(student, place, None, _nothing_in(place, self.where(place))))
        return found

    def student_folder(self, folder: Path, name: _Name) -> list[_Candidate]:
        """Candidates in one student's folder: its files, else any found below (zips opened)."""
        stamp = _read_timestamp(folder) or name.submitted_at
        files = [e for e in _entries(folder) if _submission_file(e)]
        candidates = [_Candidate(f, f.stem, stamp, name.note) for f in files]
        if candidates:
            return candidates
        for path in self.search(folder, depth=3, zips=True):
            if path.suffix.lower() == ".zip":
                candidates += self.student_zip(path, _Name(name.student, path.stem, stamp, name.note))
            else:
                candidates.append(_Candidate(path, path.stem, stamp, name.note))
        return candidates

    def student_zip(self, path: Path, name: _Name) -> list[_Candidate]:
        """One student's own zip: every file we could grade inside it is a candidate."""
        def refused(reason: str) -> list[_Candidate]:
            self.bad[path] = reason
            return [_Candidate(path, name.hint, name.submitted_at, name.note)]

        try:
            size = path.stat().st_size
        except OSError as exc:
            return refused(f"the zip {path.name} could not be read ({exc.strerror or exc})")
        if size > MAX_NESTED_ZIP_BYTES:
            return refused(f"the zip {path.name} is {_mb(size)}; the limit is {_mb(MAX_NESTED_ZIP_BYTES)}")
        try:
            root = self.extract(path, label=self.where(path), nested=True)
        except GraderError as exc:
            return refused(str(exc))
        files = [p for p in self.search(root, depth=6) if p.suffix.lower() != ".zip"]
        stamp = name.submitted_at
        return [_Candidate(f, f.stem, stamp, name.note) for f in files]

    def search(self, folder: Path, *, depth: int, zips: bool = False) -> Iterator[Path]:
        """Submission files below ``folder`` (not in it), breadth first, sorted."""
        level = [e for e in _entries(folder) if _is_dir(e)]
        for _ in range(depth):
            following: list[Path] = []
            for sub in level:
                for entry in _entries(sub):
                    if _is_dir(entry):
                        following.append(entry)
                    elif _submission_file(entry) or (zips and entry.suffix.lower() == ".zip"
                                                     and entry.is_file()):
                        yield entry
            level = following

    # -- building results --

    def make(self, student: str, candidates: list[_Candidate], *, assignment: str | None,
             submitted_at: str = "") -> Submission:
        for candidate in candidates:
            if candidate.path not in self.given and candidate.path.is_symlink():
                self.bad.setdefault(candidate.path, _SYMLINK)
        chosen, why = self.pick(candidates, assignment or self.assignment)
        notes = [n for n in (chosen.note, why) if n]
        return Submission(student=student, path=chosen.path, assignment=assignment,
                          submitted_at=submitted_at or chosen.submitted_at,
                          unreadable=self.bad.get(chosen.path, ""), note="; ".join(notes),
                          source=self.where(chosen.path))

    def missing(self, student: str, place: Path, assignment: str | None, reason: str) -> Submission:
        return Submission(student=student, path=place, assignment=assignment, problem=reason,
                          source=self.where(place))

    def pick(self, candidates: list[_Candidate], assignment: str | None) -> tuple[_Candidate, str]:
        """The file to grade among one student's candidates, and a note when there was a choice."""
        unique = list({c.path: c for c in candidates}.values())
        if len(unique) == 1:
            return unique[0], ""
        pool = [c for c in unique if c.path not in self.bad] or unique
        best = min(_RANK.get(c.path.suffix.lower(), 9) for c in pool)
        pool = [c for c in pool if _RANK.get(c.path.suffix.lower(), 9) == best]
        if assignment and len(pool) > 1:
            named = [c for c in pool if _norm(c.hint) == _norm(assignment)]
            pool = named or pool
        if len(pool) > 1:
            released = {c.path: _peek_assignment(c.path) for c in pool}
            if assignment:
                match = [c for c in pool if released[c.path] == assignment]
            else:
                match = [c for c in pool if released[c.path]]
            pool = match or pool
        if len(pool) > 1:
            pool = [c for c in pool if not re.fullmatch(r"untitled\d*", _norm(c.hint))] or pool
        chosen = sorted(pool, key=lambda c: (-_mtime(c.path), str(c.path)))[0]
        others = [c.path.name for c in unique if c is not chosen]
        shown = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
        return chosen, f"graded {chosen.path.name} of {len(unique)} files (ignored: {shown})"

    def where(self, path: Path) -> str:
        """``path`` for people: the archive and the entry for extracted files."""
        for root, label in self.labels.items():
            try:
                rel = path.relative_to(root)
            except ValueError:
                continue
            return f"{label}!{rel.as_posix()}" if str(rel) != "." else label
        return str(path)

    # -- archives --

    def unwrap(self, root: Path) -> Path:
        """Step into a zip's single top folder when it is a wrapper rather than a student."""
        while root.name != "submitted" and not _is_dir(root / "submitted"):
            entries = _entries(root)
            if len(entries) != 1 or not _is_dir(entries[0]):
                break
            inner = entries[0]
            items = [e for e in _entries(inner) if _is_dir(e) or e.suffix.lower() in (*_RANK, ".zip")]
            lms = any(_identify(e.name, folder=_is_dir(e)).student != _clean_id(
                e.name if _is_dir(e) else e.stem) for e in items)
            if inner.name == "submitted" or _is_dir(inner / "submitted") or len(items) >= 2 or lms:
                root = inner
            else:
                break
        return root

    def extract(self, archive: Path, *, label: str, nested: bool) -> Path:
        """Extract what we could grade from ``archive`` into the workdir (safely); reuse a
        complete earlier extraction of the same content."""
        digest = hashlib.sha256()
        try:
            with open(archive, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        except OSError as exc:
            raise GraderError(f"{label}: cannot read the archive ({exc.strerror or exc})") from None
        stem = re.sub(r"[^\w.-]+", "_", archive.stem)[:40] or "archive"
        dest = self.workdir / "unzipped" / f"{stem}-{digest.hexdigest()[:16]}"
        if not (dest / _MARKER).is_file():
            _extract_into(archive, dest, label=label, nested=nested)
        try:
            bad = json.loads((dest / _MARKER).read_text())["bad"]
        except (OSError, ValueError, KeyError, TypeError):
            bad = {}
        for rel, reason in bad.items():
            self.bad[dest / rel] = reason
        self.labels[dest] = label
        return dest


def _nothing_in(folder: Path, where: str) -> str:
    others = [e.name for e in _entries(folder) if e.is_file() and e.name != _TIMESTAMP] \
        if _is_dir(folder) else []
    found = f" (found only: {', '.join(others[:3])}{', ...' if len(others) > 3 else ''})" if others else ""
    return f"no notebook (.ipynb or .py) in {where}{found}"


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _peek_assignment(path: Path) -> str | None:
    """The release metadata slug of a notebook file, or None (never raises)."""
    if path.suffix.lower() != ".ipynb":
        return None
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            return None
        meta = json.loads(data.decode("utf-8-sig")).get("metadata", {})
        slug = meta.get("dl101", {}).get("assignment")
    except (OSError, ValueError, AttributeError, RecursionError):
        return None
    return slug if isinstance(slug, str) and slug else None


def _member_parts(name: str, label: str) -> list[str]:
    """The safe path components of a zip entry name; GraderError for an unsafe one."""
    clean = name.replace("\\", "/")
    if clean.startswith("/") or re.match(r"^[A-Za-z]:", clean) or "\0" in clean:
        raise GraderError(f"{label}: refusing an archive with an absolute path entry ({name!r})")
    parts = [p for p in clean.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise GraderError(f"{label}: refusing an archive whose entry {name!r} points outside it")
    return parts


def _extract_into(archive: Path, dest: Path, *, label: str, nested: bool) -> None:
    import shutil
    import stat
    import tempfile
    import time
    import zipfile
    import zlib

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".partial-", dir=dest.parent))
    try:
        try:
            zf = zipfile.ZipFile(archive)
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise GraderError(f"{label}: not a readable zip archive ({exc})") from None
        with zf:
            infos = zf.infolist()
            if len(infos) > MAX_ARCHIVE_MEMBERS:
                raise GraderError(f"{label}: the archive has {len(infos)} entries; the limit is "
                                  f"{MAX_ARCHIVE_MEMBERS}")
            wanted = []
            for info in infos:
                parts = _member_parts(info.filename, label)
                if info.is_dir() or not parts or any(_skipped(p) for p in parts):
                    continue
                if stat.S_ISLNK(info.external_attr >> 16):
                    continue  # symlinks are never followed nor created
                suffix = Path(parts[-1]).suffix.lower()
                if not (suffix in _RANK or parts[-1] == _TIMESTAMP or (suffix == ".zip" and not nested)):
                    continue
                wanted.append((info, parts))
            total = sum(info.file_size for info, _ in wanted)
            if total > MAX_ARCHIVE_BYTES:
                raise GraderError(f"{label}: the archive would extract to {_mb(total)}; the limit is "
                                  f"{_mb(MAX_ARCHIVE_BYTES)}")
            bad: dict[str, str] = {}
            for info, parts in wanted:
                target = tmp.joinpath(*parts)
                if os.path.lexists(target):
                    continue  # an entry repeated in the archive: the first one wins
                limit = MAX_NESTED_ZIP_BYTES if parts[-1].lower().endswith(".zip") else MAX_FILE_BYTES
                reason = _member_problem(info, limit)
                data = b""
                if not reason:
                    try:
                        with zf.open(info) as member:
                            data = member.read(limit + 1)
                        if len(data) > limit:
                            reason, data = f"{parts[-1]} is larger than {_mb(limit)}", b""
                    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError,
                            RuntimeError, ValueError) as exc:
                        reason = f"{parts[-1]} could not be extracted from the archive ({exc})"
                try:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(data)
                except OSError:
                    continue  # a name clash between a file and a folder: keep the first
                try:  # keep the archive's time: "newest" picks by it
                    stamp = time.mktime((*info.date_time, 0, 0, -1))
                    os.utime(target, (stamp, stamp))
                except (OSError, OverflowError, ValueError):
                    pass
                if reason:
                    bad["/".join(parts)] = reason
        (tmp / _MARKER).write_text(json.dumps({"archive": label, "bad": bad}))
        try:
            os.replace(tmp, dest)
        except OSError:
            if not (dest / _MARKER).is_file():  # a stale half-made folder: replace it
                shutil.rmtree(dest, ignore_errors=True)
                os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _member_problem(info: Any, limit: int) -> str:
    name = info.filename.replace("\\", "/").rsplit("/", 1)[-1]
    if info.flag_bits & 0x1:
        return f"{name} is encrypted (password-protected zip)"
    if info.file_size > limit:
        return f"{name} is {_mb(info.file_size)}; the limit is {_mb(limit)}"
    if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        return (f"{name} expands {info.file_size // max(info.compress_size, 1)} times when unzipped "
                f"(a zip bomb?); refused")
    return ""


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB" if size < 1024**3 else f"{size / 1024**3:.1f} GB"


def _too_large(size: int) -> str:
    return (f"the file is {_mb(size)}; the limit is {_mb(MAX_FILE_BYTES)}. Clear the outputs "
            f"(Kernel > Restart & Clear Output), save and submit again")


# --- notebooks -> cells -----------------------------------------------------------------------


@dataclass
class LoadedNotebook:
    """A submission as plain Python: what the sandbox runs, cell by cell."""

    #: Plain Python per code cell, in order (a cell may not parse: the runner records that).
    cells: list[str]
    #: ``metadata.dl101.assignment`` (written by ``dl101 release``) when present.
    assignment: str | None
    #: The notebook-level metadata ({} for .py files).
    metadata: dict
    #: "" if fine; else a short student-facing summary (cells that do not parse, no code cells).
    problem: str = ""
    #: What was changed to make the cells safe to run (magics, shell commands) and other remarks.
    notes: list[str] = field(default_factory=list)


def load_cells(data: bytes, *, name: str) -> LoadedNotebook:
    """A notebook (or ``.py`` file, chosen by ``name``'s suffix) -> plain Python cells.

    Raises UnreadableSubmission with a short, student-facing reason when there is nothing
    sensible to run (empty, not JSON, not a notebook, unsupported format, too large...).
    """
    _sniff(data, name)
    notes: list[str] = []
    if name.lower().endswith(".py"):
        sources = _split_python(_decode_python(data, name))
        metadata: dict = {}
        if not sources:
            raise UnreadableSubmission("the file has no code", name=name)
    else:
        notebook = _parse_notebook(data, name)
        metadata = notebook.get("metadata")
        metadata = metadata if isinstance(metadata, dict) else {}
        sources = _code_sources(notebook["cells"], notes)
        language = _language(metadata)
        if language and language != "python":
            notes.append(f"the notebook's kernel language is {language!r}, not Python")
    total = sum(len(s) for s in sources)
    if total > MAX_CODE_CHARS:
        raise UnreadableSubmission(f"the code cells hold {total:,} characters; the limit is "
                                   f"{MAX_CODE_CHARS:,} (is data pasted into a cell?)", name=name)
    cells: list[str] = []
    broken: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SyntaxWarnings from parsing student code
        for number, source in enumerate(sources, start=1):
            code, error = _to_python(source, number, notes)
            cells.append(code)
            if error:
                broken.append(f"code cell {number} does not parse ({error})")
    problems = broken if cells else ["the notebook has no code cells"]
    dl101 = metadata.get("dl101")
    slug = dl101.get("assignment") if isinstance(dl101, dict) else None
    return LoadedNotebook(cells=cells, assignment=slug if isinstance(slug, str) and slug.strip() else None,
                          metadata=metadata, problem="; ".join(problems), notes=notes)


def _sniff(data: bytes, name: str) -> None:
    """Refuse what is clearly not a notebook / Python file, with a useful reason."""
    def refuse(reason: str) -> UnreadableSubmission:
        return UnreadableSubmission(reason, name=name)

    if len(data) > MAX_FILE_BYTES:
        raise refuse(_too_large(len(data)))
    if not data.strip():
        raise refuse("the file is empty")
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"):
        raise refuse("this looks like a zip archive, not a notebook: unzip it and submit the .ipynb "
                     "file inside")
    if data[:2] == b"\x1f\x8b":
        raise refuse("this looks like a compressed (gzip) file, not a notebook")
    if data[:5] == b"%PDF-":
        raise refuse("this is a PDF, not a notebook: submit the .ipynb file (File > Download > .ipynb)")
    head = data[:256].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")):
        raise refuse("this is a web page (an HTML export?), not a notebook: submit the .ipynb file")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise refuse("the file is saved as UTF-16 text; notebooks are UTF-8: save it again from Jupyter")


def _parse_notebook(data: bytes, name: str) -> dict:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableSubmission(f"the file is not UTF-8 text (bad byte at offset {exc.start}); "
                                   f"a notebook is UTF-8 JSON: save it again from Jupyter", name=name) from None
    try:
        notebook = json.loads(text)
    except json.JSONDecodeError as exc:
        stripped = text.lstrip()
        if not stripped.startswith(("{", "[")):
            hint = " (it looks like Python source: submit it as a .py file)" if _looks_like_python(stripped) else ""
            raise UnreadableSubmission(f"the file is not a notebook: it is not JSON{hint}", name=name) from None
        ends = " (the file ends too early: was it cut off while saving?)" if exc.pos >= len(text.rstrip()) else ""
        raise UnreadableSubmission(f"the notebook is damaged: invalid JSON at line {exc.lineno}, column "
                                   f"{exc.colno} ({exc.msg}){ends}; was it edited outside Jupyter?",
                                   name=name) from None
    except RecursionError:
        raise UnreadableSubmission("the notebook is damaged: its JSON is nested too deeply", name=name) from None
    if not isinstance(notebook, dict):
        raise UnreadableSubmission(f"the file is JSON but not a notebook (its top level is a "
                                   f"{_json_kind(notebook)}, not an object)", name=name)
    if "cells" not in notebook and "worksheets" not in notebook:
        raise UnreadableSubmission("the file is JSON but not a Jupyter notebook (it has no 'cells')", name=name)
    version = notebook.get("nbformat", 4 if "cells" in notebook else 3)
    if isinstance(version, str) and version.strip().isdigit():
        version = int(version)
    if not isinstance(version, int) or isinstance(version, bool):
        raise UnreadableSubmission(f"the notebook's format version is not a number ({version!r})", name=name)
    if version > 4:
        raise UnreadableSubmission(f"the notebook uses format version {version}, newer than this grader "
                                   f"reads (4): save it as a version 4 notebook", name=name)
    if version < 4:
        notebook = _upgrade(text, version, name)
    cells = notebook.get("cells")
    if not isinstance(cells, list):
        raise UnreadableSubmission("the notebook is damaged: 'cells' is not a list", name=name)
    if not cells:
        raise UnreadableSubmission("the notebook has no cells", name=name)
    if len(cells) > MAX_CELLS:
        raise UnreadableSubmission(f"the notebook has {len(cells):,} cells; the limit is {MAX_CELLS:,}",
                                   name=name)
    return notebook


def _upgrade(text: str, version: int, name: str) -> dict:
    """nbformat 1-3 -> 4, with nbformat (imported only here: it is slow to import)."""
    try:
        from nbformat import converter, reader

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return dict(converter.convert(reader.reads(text), 4))
    except Exception as exc:  # nbformat raises many kinds for broken old notebooks
        raise UnreadableSubmission(f"the notebook uses the old format version {version} and could not be "
                                   f"upgraded ({type(exc).__name__}): open it in a current Jupyter, save "
                                   f"it and submit again", name=name) from None


def _json_kind(value: Any) -> str:
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}.get(
        type(value), "null" if value is None else type(value).__name__)


def _looks_like_python(text: str) -> bool:
    return bool(re.match(r"(import |from \S+ import |def |class |#|print\()", text))


def _language(metadata: dict) -> str:
    for key in ("kernelspec", "language_info"):
        section = metadata.get(key)
        if isinstance(section, dict):
            value = section.get("language") if key == "kernelspec" else section.get("name")
            if isinstance(value, str) and value:
                return value.lower()
    return ""


def _code_sources(cells: list, notes: list[str]) -> list[str]:
    sources = []
    for index, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict):
            notes.append(f"cell {index} is not a cell object; ignored")
            continue
        if cell.get("cell_type") != "code":
            continue  # markdown, raw and unknown cells are not run
        source = cell.get("source", "")
        if isinstance(source, list):
            if not all(isinstance(part, str) for part in source):
                notes.append(f"cell {index}: parts of its source are not text; those were ignored")
            source = "".join(part for part in source if isinstance(part, str))
        elif source is None:
            source = ""
        elif not isinstance(source, str):
            notes.append(f"cell {index}: its source is not text; the cell was ignored")
            continue
        sources.append(source)
    return sources


def _decode_python(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        import io
        import tokenize

        try:
            encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
            if encoding not in ("utf-8", "utf-8-sig"):
                return data.decode(encoding)
        except (SyntaxError, LookupError, UnicodeDecodeError):
            pass
        raise UnreadableSubmission(f"the file is not UTF-8 text (bad byte at offset {exc.start}): save "
                                   f"it as UTF-8", name=name) from None


_PY_MARKER = re.compile(r"#\s*%%(?P<rest>.*)|#\s*In\[[ \d]*\]:?\s*")


def _split_python(text: str) -> list[str]:
    """A .py file -> cells: split on ``# %%`` / ``# In[ ]:`` markers (the file's line numbers are
    kept by padding each cell with empty lines); one cell when there are none."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cells: list[str] = []
    start, markdown = 0, False

    def flush(end: int) -> None:
        body = "\n".join(lines[start:end])
        if body.strip() and not markdown:
            cells.append("\n" * start + body)

    for index, line in enumerate(lines):
        m = _PY_MARKER.fullmatch(line.rstrip())
        if m:
            flush(index)
            start = index + 1
            markdown = bool(re.search(r"\[(markdown|md)\]", m["rest"] or ""))
    flush(len(lines))
    return cells


# --- one cell -> plain Python -----------------------------------------------------------------

#: Cell magics whose body still runs (it defines things the rest of the notebook uses).
KEEP_BODY_MAGICS = ("time", "capture")
_NOT_RUN = "was not run (magics and shell commands are ignored when grading)"
_transformer: Any = None


def _to_python(source: str, number: int, notes: list[str]) -> tuple[str, str]:
    """(plain Python, syntax error or "") for one code cell."""
    source = source.replace("\r\n", "\n").replace("\r", "\n")
    lines = source.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        magic = re.match(r"%%\s*([\w.-]*)", lines[first].lstrip())[1]  # type: ignore[index]
        if magic in KEEP_BODY_MAGICS:
            lines[first] = ""
            return _to_python("\n".join(lines), number, notes)
        notes.append(f"code cell {number}: the %%{magic} cell {_NOT_RUN}")
        return f"pass  # dl101: %%{magic} cell not run when grading\n", ""
    text = source
    tree, error = _parse(text)
    if tree is None:  # IPython drops leading empty lines: keep them, and so the line numbers
        text = "\n" * first + _ipython_transform("\n".join(lines[first:])) if first else _ipython_transform(source)
        tree, error = _parse(text)
        if tree is None:  # returned as is: it cannot compile, so nothing in it runs
            return re.sub(r"(?m)^([ \t]*).*\bget_ipython\(\).*$", r"\1pass", text), error
    if "get_ipython" in text:
        text = _neutralise(tree, text, lines, number, notes)
    return text, ""


def _parse(text: str) -> tuple[ast.Module | None, str]:
    try:
        return ast.parse(text), ""
    except SyntaxError as exc:
        return None, f"line {exc.lineno}: {exc.msg}" if exc.lineno else str(exc.msg)
    except (ValueError, MemoryError, RecursionError) as exc:
        return None, str(exc) or type(exc).__name__


def _ipython_transform(text: str) -> str:
    """IPython's own cell transform (magics, ``!``, ``?``, prompts, indentation); imported lazily."""
    global _transformer
    if _transformer is None:
        try:
            from IPython.core.inputtransformer2 import TransformerManager
        except ImportError:
            return text
        _transformer = TransformerManager()
    try:
        return _transformer.transform_cell(text)
    except Exception:  # IPython gave up: the cell is returned as written
        return text


def _mentions_ipython(node: ast.AST) -> bool:
    return any((isinstance(n, ast.Name) and n.id == "get_ipython")
               or (isinstance(n, ast.Attribute) and n.attr == "get_ipython") for n in ast.walk(node))


_BLOCK_FIELDS = ("body", "orelse", "finalbody", "handlers", "cases")


def _header_mentions(stmt: ast.stmt) -> bool:
    """Does the statement itself (not the statements nested in its blocks) use get_ipython?"""
    for name, value in ast.iter_fields(stmt):
        if name in _BLOCK_FIELDS:
            continue
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, ast.AST) and _mentions_ipython(item):
                return True
    for handler in getattr(stmt, "handlers", None) or []:
        if handler.type is not None and _mentions_ipython(handler.type):
            return True
    for case in getattr(stmt, "cases", None) or []:
        if _mentions_ipython(case.pattern) or (case.guard is not None and _mentions_ipython(case.guard)):
            return True
    return False


def _blocks(stmt: ast.stmt) -> Iterator[list[ast.stmt]]:
    for name in ("body", "orelse", "finalbody"):
        block = getattr(stmt, name, None)
        if isinstance(block, list):
            yield block
    for holder in (getattr(stmt, "handlers", None) or []) + (getattr(stmt, "cases", None) or []):
        yield holder.body


def _targets(block: list[ast.stmt], found: list[tuple[list[ast.stmt], int]]) -> None:
    for index, stmt in enumerate(block):
        if _header_mentions(stmt):
            found.append((block, index))
        else:
            for inner in _blocks(stmt):
                _targets(inner, found)


def _time_statement(stmt: ast.stmt) -> str | None:
    """``get_ipython().run_line_magic('time', 'x = f()')`` -> ``x = f()``."""
    call = stmt.value if isinstance(stmt, ast.Expr) else None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
            and call.func.attr == "run_line_magic" and len(call.args) == 2 and not call.keywords
            and isinstance(call.func.value, ast.Call) and isinstance(call.func.value.func, ast.Name)
            and call.func.value.func.id == "get_ipython"):
        return None
    magic, line = (a.value if isinstance(a, ast.Constant) else None for a in call.args)
    if magic != "time" or not isinstance(line, str) or "\n" in line or not line.strip():
        return None
    tree, _ = _parse(line.strip())
    if tree is None or not tree.body or any(_mentions_ipython(s) for s in tree.body):
        return None
    return line.strip()


def _neutralise(tree: ast.Module, text: str, original: list[str], number: int, notes: list[str]) -> str:
    """Statements that use get_ipython() -> ``pass``, in place (line numbers kept)."""
    found: list[tuple[list[ast.stmt], int]] = []
    _targets(tree.body, found)
    if not found:
        return text
    lines = [line.encode() for line in text.split("\n")]
    spans = []
    for block, index in found:
        stmt = block[index]
        start = min([stmt.lineno] + [d.lineno for d in getattr(stmt, "decorator_list", [])])
        replacement = _time_statement(stmt)
        if replacement is None:
            where = original[start - 1].strip() if start - 1 < len(original) else ""
            where = where if len(where) <= 60 else where[:57] + "..."
            notes.append(f"code cell {number}, line {start}: `{where}` {_NOT_RUN}")
        spans.append((start, stmt.col_offset, stmt.end_lineno or stmt.lineno,
                      stmt.end_col_offset or 0, replacement or "pass"))
    for start, col, end, end_col, replacement in sorted(spans, reverse=True):
        head, tail = lines[start - 1][:col], lines[end - 1][end_col:]
        lines[start - 1:end] = [head + replacement.encode() + tail] + [b""] * (end - start)
    result = b"\n".join(lines).decode()
    check, _ = _parse(result)
    if check is not None and not _flat_targets(check):
        return result
    # Unusual layout (a continuation line after the statement...): rebuild from the tree.
    for block, index in found:
        block[index] = ast.copy_location(ast.Pass(), block[index])
    return ast.unparse(tree) + "\n"


def _flat_targets(tree: ast.Module) -> list[ast.stmt]:
    found: list[tuple[list[ast.stmt], int]] = []
    _targets(tree.body, found)
    return [block[index] for block, index in found]
