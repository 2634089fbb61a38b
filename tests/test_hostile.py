"""The hostile corpus (tests/hostile/) graded by `dl101 grade` in ONE batch with honest students.

One module-scoped batch (``-j 2``) grades every attack notebook of ``tests/hostile/`` (built
by ``tests/hostile/make_corpus.py``), a few attacks that need the file system (a symlink to
the instructor's solution, a planted ``tests/test_hidden.py`` reached through the notebook's
metadata, a student folder that shadows ``cnn_ref``, a zip-slip archive, names made of HTML
and spreadsheet formulas) and honest students. Then, for every attack and for the batch:

- no credit it did not earn: every attack starts from the stub, which scores 0;
- the honest students score exactly what they score when graded alone;
- no file outside the output directory changes (the submissions are hashed, the repository
  and /tmp are swept for what an attack would leave);
- no process outlives the batch (the grader runs in its own pids cgroup: it must be empty);
- nothing of the hidden tests, the solutions, ``cnn_ref``, another student or the grader's
  environment (a canary) appears in any output;
- no attack reports ``ESCAPED:`` (each one says so when it gets past a barrier).
"""

from __future__ import annotations

import csv
import hashlib
import html
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "tests" / "hostile"
DL101 = Path(sys.executable).with_name("dl101")
TIMEOUT = "10"
#: Sandbox uids (grader.sandbox.host.UID_BASE and up): nothing on the host may belong to them.
SANDBOX_UIDS = range(61000, 65534)
#: What the batch reads from the repository: no change at all is allowed there (elsewhere in
#: the repository, colleagues may be editing: only changes an attack would make count).
STRICT = ("cnn_ref", "tests/hostile", *(f"{top}/{slug}" for top in ("solutions", "assignments")
                                       for slug in ("convolution", "output_size", "pooling_norm",
                                                    "confusion_matrix", "recap")))
#: Where else an escaped attack would drop files (the first level only).
TOP_DIRS = ("/", "/root", "/dev/shm", "/var/tmp")
#: Students whose notebooks are honest: score exactly as when graded alone.
HONEST = ("aa_honest", "mm_partial", "pp_honest_pooling", "zz_honest")
#: Controls: the released stub and wrong-but-plausible functions score 0.
CONTROLS = ("stub_control", "wrong_control")


def _corpus() -> dict[str, dict]:
    found = {}
    for path in sorted(CORPUS.glob("*.ipynb")):
        meta = json.loads(path.read_text())["metadata"]["dl101_hostile"]
        found[path.stem] = meta
    return found


CORPUS_META = _corpus()
#: Attacks built at run time (they need paths of this run), with the statuses they may end with.
SPECIAL = {
    "symlink_to_solution": ("unreadable",),
    "traversal_planted_tests": ("unreadable",),
    "cnn_ref": ("graded",),  # a student folder named like the reference, grading from inside subs/
    "zip_slip": ("unreadable", "graded"),
    "=HYPERLINK(dl101pwn)": ("graded",),
    "<img src=x onerror=alert(1)>": ("graded",),
}


# ---------------------------------------------------------------------------- building the batch


def notebook(slug: str, *, solution: bool, marker: str = "", flip: bool = False, extra: str = "") -> dict:
    """A student notebook: the solution (honest) or the released stub, with release metadata."""
    source = REPO / ("solutions" if solution else "assignments") / slug / f"{slug}.ipynb"
    nb = json.loads(source.read_text())
    nb["metadata"]["dl101"] = {"assignment": slug}
    for cell in nb["cells"]:
        text = "".join(cell["source"])
        if cell["cell_type"] == "code" and "def conv2d" in text:
            if flip:  # the classic bug: true convolution (kernel flipped), not cross-correlation
                text = text.replace("w = np.asarray(w, dtype=float)\n", "w = np.asarray(w, dtype=float)[::-1, ::-1]\n")
            if marker:
                text = f"# {marker}\n{text}"
            cell["source"] = text.splitlines(keepends=True)
    if extra:
        nb["cells"].append({"cell_type": "code", "execution_count": None, "id": "extra", "metadata": {},
                            "outputs": [], "source": extra.splitlines(keepends=True)})
    return nb


WRONG = (CORPUS / "make_corpus.py").read_text().split("WRONG = '''", 1)[1].split("'''", 1)[0]


def write(path: Path, nb: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb))


def build_honest(folder: Path, markers: dict[str, str]) -> None:
    write(folder / "aa_honest.ipynb", notebook("convolution", solution=True, marker=markers["aa_honest"]))
    write(folder / "mm_partial.ipynb", notebook("convolution", solution=True, flip=True, marker=markers["mm_partial"]))
    write(folder / "zz_honest.ipynb", notebook("convolution", solution=True, marker=markers["zz_honest"]))
    write(folder / "pp_honest_pooling.ipynb", notebook("pooling_norm", solution=True))
    write(folder / "stub_control.ipynb", notebook("convolution", solution=False))
    write(folder / "wrong_control.ipynb", notebook("convolution", solution=False, extra=WRONG))


def build_specials(subs: Path, root: Path) -> None:
    # The instructor's solution notebook, outside the submissions; a student submits a link to it.
    instructor = root / "instructor"
    write(instructor / "convolution.ipynb", notebook("convolution", solution=True))
    (subs / "symlink_to_solution.ipynb").symlink_to(instructor / "convolution.ipynb")
    # A student folder that carries a tests/test_hidden.py and names itself as the assignment.
    folder = subs / "traversal_planted_tests"
    nb = notebook("convolution", solution=False, extra=WRONG)
    nb["metadata"]["dl101"] = {"assignment": str(folder)}
    write(folder / "traversal_planted_tests.ipynb", nb)
    (folder / "tests").mkdir()
    (folder / "tests" / "test_hidden.py").write_text(PLANTED.format(where=folder / "dl101pwn-planted"))
    # A student folder named cnn_ref with an __init__.py: a package in the grader's working directory.
    folder = subs / "cnn_ref"
    write(folder / "cnn_ref.ipynb", notebook("convolution", solution=False, extra=WRONG))
    (folder / "__init__.py").write_text(PLANTED.format(where=folder / "dl101pwn-shadow"))
    # A zip whose members climb out of the extraction folder, or are absolute, or are links.
    with zipfile.ZipFile(subs / "zip_slip.zip", "w") as z:
        z.writestr("../../dl101pwn-zipslip.ipynb", json.dumps(notebook("convolution", solution=True)))
        z.writestr("/tmp/dl101pwn-zipslip-abs.ipynb", json.dumps(notebook("convolution", solution=True)))
        link = zipfile.ZipInfo("link.ipynb")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        z.writestr(link, str(instructor / "convolution.ipynb"))
        z.writestr("zip_slip.ipynb", json.dumps(notebook("convolution", solution=False, extra=WRONG)))
    # Names a spreadsheet or a browser would execute.
    for name in ("=HYPERLINK(dl101pwn)", "<img src=x onerror=alert(1)>"):
        write(subs / f"{name}.ipynb", notebook("convolution", solution=False, extra=WRONG))


#: Planted as tests/test_hidden.py or cnn_ref/__init__.py: if the grader ever imports it, it
#: leaves a file and makes every comparison pass.
PLANTED = '''
import numpy as np
open("{where}", "w").write("imported by the grader")
try:
    import grader.expect as expect
    expect.expect_close = expect.fail = lambda *a, **k: None
except Exception:
    pass
conv2d = lambda *a, **k: np.zeros((1, 1, 1, 1))
zero_pad = lambda x, pad: np.asarray(x)
conv_single_step = lambda *a, **k: 0.0
'''


# ---------------------------------------------------------------------------- watching the batch


class ProcessTracker:
    """Every process the grader starts, wherever it goes (setsid, PID namespaces): a pids cgroup
    when this machine lets us make one (root), else a poll of the grader's descendants."""

    def __init__(self) -> None:
        self.cgroup: Path | None = None
        for base in ("/sys/fs/cgroup/pids", "/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
            candidate = Path(base) / f"dl101-hostile-{uuid.uuid4().hex[:12]}"
            try:
                candidate.mkdir()
            except OSError:
                continue
            if (candidate / "cgroup.procs").exists():
                self.cgroup = candidate
                break
            candidate.rmdir()
        self.seen: dict[int, str] = {}  # pid -> start time (fallback mode)
        self.uids: set[int] = set()
        self.most = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.root_pid = 0

    def preexec(self) -> None:  # runs in the child before exec
        if self.cgroup is not None:
            (self.cgroup / "cgroup.procs").write_text(str(os.getpid()))

    def start(self, pid: int) -> None:
        self.root_pid = pid
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            pids = self.pids()
            self.most = max(self.most, len(pids))
            for pid in pids:
                uid = _uid(pid)
                if uid is not None:
                    self.uids.add(uid)
            time.sleep(0.2)

    def pids(self) -> list[int]:
        if self.cgroup is not None:
            try:
                return [int(p) for p in (self.cgroup / "cgroup.procs").read_text().split()]
            except OSError:
                return []
        found = _descendants(self.root_pid)
        for pid in found:
            self.seen.setdefault(pid, _start_time(pid) or "")
        return [pid for pid, start in self.seen.items() if start and _start_time(pid) == start]

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()

    def close(self) -> None:
        if self.cgroup is not None:
            for _ in range(50):
                try:
                    self.cgroup.rmdir()
                    return
                except OSError:
                    time.sleep(0.1)


def _uid(pid: int) -> int | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    m = re.search(r"^Uid:\s+\d+\s+(\d+)", text, re.M)
    return int(m.group(1)) if m else None


def _start_time(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                ppid = int(Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(name))
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, []))
    return found


def _describe(pid: int) -> str:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        cmd = "?"
    return f"pid {pid} uid {_uid(pid)}: {cmd[:120]}"


# ---------------------------------------------------------------------------- file snapshots

_SKIP_DIRS = {".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", "node_modules"}


def snapshot(top: Path, *, hashes: bool, max_depth: int = 12, skip: tuple[Path, ...] = ()) -> dict[str, tuple]:
    """path -> (kind, size, mtime_ns, uid, sha256 or link target) for everything below ``top``."""
    found: dict[str, tuple] = {}
    level = [top]
    for _ in range(max_depth):
        following = []
        for folder in level:
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue
            for entry in entries:
                path = Path(entry.path)
                if entry.name in _SKIP_DIRS or any(path == s for s in skip):
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISDIR(st.st_mode):
                    following.append(path)
                    found[entry.path] = ("dir", 0, 0, st.st_uid, "")
                elif stat.S_ISLNK(st.st_mode):
                    found[entry.path] = ("link", 0, st.st_mtime_ns, st.st_uid, os.readlink(path))
                else:
                    digest = ""
                    if hashes and stat.S_ISREG(st.st_mode):
                        try:
                            digest = hashlib.sha256(path.read_bytes()).hexdigest()
                        except OSError:
                            digest = "unreadable"
                    found[entry.path] = ("file", st.st_size, st.st_mtime_ns, st.st_uid, digest)
        level = following
    return found


def changed(before: dict[str, tuple], after: dict[str, tuple]) -> list[str]:
    """Paths added, removed or modified (dirs: added/removed only)."""
    out = []
    for path in sorted(set(before) | set(after)):
        a, b = before.get(path), after.get(path)
        if a is None or b is None:
            out.append(f"{'added' if a is None else 'removed'} {path}")
        elif a[0] != "dir" and a != b:
            out.append(f"modified {path}")
    return out


#: What attacks write (tests/hostile/make_corpus.py): in a file's name or content.
ATTACK_MARKERS = ("dl101pwn", "forge_results", "FAKE-PASS-MARKER", "ESCAPED:")


def suspicious(line: str, after: dict[str, tuple]) -> bool:
    """A change an attack would make (rather than a colleague editing the repository)."""
    path = line.split(" ", 1)[1]
    info = after.get(path)
    if info is not None and info[3] in SANDBOX_UIDS:
        return True
    if any(m in path for m in ATTACK_MARKERS):
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(1 << 20).decode("utf-8", "replace")
    except OSError:
        return False
    return any(m in head for m in ATTACK_MARKERS)


# ---------------------------------------------------------------------------- canaries


def canary_lines(path: Path, public: str, per_file: int = 8) -> list[str]:
    """Distinctive ASCII lines of an instructor-only file that appear in nothing public."""
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text())["cells"]
        text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    else:
        text = path.read_text()
    lines = []
    for raw in text.splitlines():
        line = raw.strip()
        if (len(line) >= 30 and line.isascii() and not any(ch in line for ch in "\"'<>&\\")
                and line not in public and line not in lines):
            lines.append(line)
    step = max(1, len(lines) // per_file)
    return lines[::step][:per_file]


def public_text(baseline_out: Path) -> str:
    """Everything a student may legitimately see: released notebooks, public tests, the
    grader package (students get it), and what the graders say (test titles, messages)."""
    parts = []
    for path in [*REPO.glob("assignments/*/*.ipynb"), *REPO.glob("assignments/*/tests/*.py"),
                 *REPO.glob("grader/**/*.py"), *baseline_out.rglob("*.json")]:
        parts.append(path.read_text(errors="replace"))
    return "\n".join(parts)


# ---------------------------------------------------------------------------- the batch


@dataclass
class Batch:
    root: Path
    subs: Path
    out: Path
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    results: dict[str, dict]
    alone: dict[str, dict]
    survivors: list[str]
    tracked: str
    file_changes: list[str]
    submissions_changed: list[str]
    grader_tmp_left: list[str]
    canaries: dict[str, str]
    outputs: dict[str, str] = field(default_factory=dict)


def run_grade(paths: list[Path], out: Path, *, cwd: Path, env: dict[str, str],
              tracker: ProcessTracker | None = None) -> tuple[subprocess.CompletedProcess, float]:
    cmd = [str(DL101), "grade", *map(str, paths), "-o", str(out), "-j", "2", "--timeout", TIMEOUT, "--json"]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=tracker.preexec if tracker else None)
    if tracker:
        tracker.start(proc.pid)
    try:
        stdout, stderr = proc.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
    seconds = time.monotonic() - start
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout.decode(errors="replace"),
                                       stderr.decode(errors="replace")), seconds


def read_results(out: Path) -> dict[str, dict]:
    """student -> results.json document (with the raw text under "_text")."""
    found = {}
    for path in out.glob("*/*/results.json"):
        text = path.read_text()
        doc = json.loads(text)
        doc["_text"] = text
        found[doc["dl101"]["result"]["student"]] = doc
    return found


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> Batch:
    assert os.geteuid() == 0, "the hostile batch runs the real sandbox, as root (see notes/sandbox.md)"
    root = tmp_path_factory.mktemp("hostile")
    subs, alone_dir = root / "subs", root / "alone"
    markers = {name: f"dl101-honest-marker-{uuid.uuid4().hex}" for name in HONEST}
    for name in CORPUS_META:
        (subs / f"{name}.ipynb").parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(CORPUS / f"{name}.ipynb", subs / f"{name}.ipynb")
    build_honest(subs, markers)
    build_honest(alone_dir, markers)
    build_specials(subs, root)
    env_canary = f"dl101-env-canary-{uuid.uuid4().hex}"
    grader_tmp = root / "grader-tmp"
    grader_tmp.mkdir()
    env = {**os.environ, "DL101_HOSTILE_CANARY": env_canary, "TMPDIR": str(grader_tmp)}
    env.pop("DL101_ROOT", None)

    alone_run, _ = run_grade([alone_dir], root / "alone-out", cwd=root, env=env)
    assert alone_run.returncode == 0, alone_run.stderr[-3000:]
    alone = read_results(root / "alone-out")

    repo_before = snapshot(REPO, hashes=True)
    subs_before = snapshot(subs, hashes=True)
    tmp_before = snapshot(Path("/tmp"), hashes=False, max_depth=3, skip=(root,))
    top_before = {d: snapshot(Path(d), hashes=False, max_depth=1) for d in TOP_DIRS}

    tracker = ProcessTracker()
    try:
        run, seconds = run_grade([subs], root / "out", cwd=subs, env=env, tracker=tracker)
        deadline = time.monotonic() + 3
        while tracker.pids() and time.monotonic() < deadline:
            time.sleep(0.1)
        survivors = [_describe(pid) for pid in tracker.pids()]
        for pid in tracker.pids():  # do not leave them to the next test
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        tracker.stop()
    finally:
        tracker.close()
    tracked = f"{'cgroup ' + str(tracker.cgroup) if tracker.cgroup else 'descendant polling'}, " \
              f"at most {tracker.most} processes, uids {sorted(tracker.uids)}"

    repo_after = snapshot(REPO, hashes=True)
    file_changes = [c for c in changed(repo_before, repo_after) if suspicious(c, repo_after)
                    or any(f"{REPO}/{part}/" in c for part in STRICT)]
    tmp_after = snapshot(Path("/tmp"), hashes=False, max_depth=3, skip=(root,))
    file_changes += [c for c in changed(tmp_before, tmp_after) if suspicious(c, tmp_after)]
    top_after = {d: snapshot(Path(d), hashes=False, max_depth=1) for d in TOP_DIRS}
    for d in TOP_DIRS:
        file_changes += [c for c in changed(top_before[d], top_after[d]) if suspicious(c, top_after[d])]

    out = root / "out"
    outputs = {str(p.relative_to(out)): p.read_bytes().decode("utf-8", "replace")
               for p in out.rglob("*") if p.is_file()}
    outputs["<stdout>"], outputs["<stderr>"] = run.stdout, run.stderr

    public = public_text(root / "alone-out")
    canaries = {"env canary": env_canary}
    canaries.update({f"marker of {name}": marker for name, marker in markers.items()})
    secret_files = [*REPO.glob("solutions/*/tests/test_hidden.py"), *REPO.glob("solutions/*/*.ipynb"),
                    *REPO.glob("cnn_ref/*.py")]
    for path in secret_files:
        if "cnn_lab" in path.parts:
            continue
        for line in canary_lines(path, public):
            canaries[f"{path.relative_to(REPO)}: {line}"] = line

    return Batch(root=root, subs=subs, out=out, returncode=run.returncode, stdout=run.stdout,
                 stderr=run.stderr, seconds=seconds, results=read_results(out), alone=alone,
                 survivors=survivors, tracked=tracked, file_changes=file_changes,
                 submissions_changed=changed(subs_before, snapshot(subs, hashes=True)),
                 grader_tmp_left=sorted(os.listdir(grader_tmp)), canaries=canaries, outputs=outputs)


# ---------------------------------------------------------------------------- one test per attack


def _tests_brief(doc: dict) -> str:
    return f"status {doc['dl101']['result']['status']}, score {doc['score']}, output {doc['output'][:400]!r}"


@pytest.mark.parametrize("name", sorted(CORPUS_META))
def test_attack_is_contained(batch: Batch, name: str):
    meta = CORPUS_META[name]
    doc = batch.results.get(name)
    assert doc is not None, f"{name} has no result (status lost?): {sorted(batch.results)}"
    result = doc["dl101"]["result"]
    assert result["score"] == 0, f"{name} gained credit: {_tests_brief(doc)}"
    assert result["status"] in meta["statuses"], f"{name}: {_tests_brief(doc)}"
    assert "ESCAPED:" not in doc["_text"], f"{name} got past a barrier: {_tests_brief(doc)}"
    if meta["probe"]:
        assert f"probe {meta['probe']}: contained" in doc["_text"], f"{name} did not run to its end: {_tests_brief(doc)}"


@pytest.mark.parametrize("name", sorted(SPECIAL))
def test_file_system_attack_is_contained(batch: Batch, name: str):
    doc = batch.results.get(name)
    assert doc is not None, f"{name} has no result: {sorted(batch.results)}"
    result = doc["dl101"]["result"]
    assert result["score"] == 0, f"{name} gained credit: {_tests_brief(doc)}"
    assert result["status"] in SPECIAL[name], f"{name}: {_tests_brief(doc)}"


# ---------------------------------------------------------------------------- the batch as a whole


def test_batch_completes_with_every_submission(batch: Batch):
    assert batch.returncode == 0, batch.stderr[-3000:]
    printed = {r["student"] for r in json.loads(batch.stdout)["results"]}
    expected = set(CORPUS_META) | set(SPECIAL) | set(HONEST) | set(CONTROLS)
    assert printed == expected == set(batch.results), (printed ^ expected, set(batch.results) ^ expected)
    assert batch.seconds < 300, f"the batch took {batch.seconds:.0f} s"
    print(f"hostile batch: {len(batch.results)} submissions in {batch.seconds:.1f} s; {batch.tracked}")


def test_honest_students_score_as_when_graded_alone(batch: Batch):
    for name in (*HONEST, *CONTROLS):
        mine, alone = batch.results[name]["dl101"]["result"], batch.alone[name]["dl101"]["result"]
        assert (mine["status"], mine["score"], mine["max_score"]) == (alone["status"], alone["score"], alone["max_score"]), name
        assert [(t["name"], t["score"], t["status"], t["output"]) for t in mine["tests"]] == \
               [(t["name"], t["score"], t["status"], t["output"]) for t in alone["tests"]], name
    scores = {name: batch.results[name]["score"] for name in (*HONEST, *CONTROLS)}
    assert scores["aa_honest"] == scores["zz_honest"] == 30.0
    assert 0 < scores["mm_partial"] < 30
    assert scores["pp_honest_pooling"] == batch.results["pp_honest_pooling"]["max_score"] > 0
    assert scores["stub_control"] == scores["wrong_control"] == 0


def test_no_attack_gets_past_a_barrier(batch: Batch):
    escaped = {name: text[text.find("ESCAPED:"):][:200] for name, text in batch.outputs.items() if "ESCAPED:" in text}
    assert not escaped


def test_nothing_secret_appears_in_any_output(batch: Batch):
    assert len(batch.canaries) > 30
    leaks = []
    for where, text in batch.outputs.items():
        variants = (text, html.unescape(text))
        for label, canary in batch.canaries.items():
            if any(canary in v for v in variants):
                leaks.append(f"{where}: {label}")
    assert not leaks


def test_no_file_outside_the_output_directory_changes(batch: Batch):
    assert batch.submissions_changed == []
    assert batch.file_changes == []
    assert batch.grader_tmp_left == []  # the grader's own temporary files are gone too


def test_output_directory_holds_only_reports(batch: Batch):
    allowed = {"grades.csv", "report.html", "grader.log"}
    for rel in batch.outputs:
        if rel.startswith("<"):
            continue
        parts = rel.split("/")
        assert rel in allowed or (len(parts) == 3 and parts[2] in ("results.json", "feedback.html")), rel
    for doc in batch.results.values():
        result = doc["dl101"]["result"]
        assert result["score"] <= result["max_score"]


def test_no_process_outlives_the_batch(batch: Batch):
    assert batch.survivors == [], batch.tracked


def test_reports_neutralise_student_text(batch: Batch):
    for rel, text in batch.outputs.items():
        if rel.endswith(".html"):
            assert '<script>alert("dl101pwn' not in text and "<img src=x" not in text, rel
    with (batch.out / "grades.csv").open(newline="") as f:
        for row in csv.reader(f):
            for cell in row:
                assert not cell.startswith(("=", "+", "@", "\t", "\r")), cell
