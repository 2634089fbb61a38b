"""Load: `dl101 grade -j 2` on 1,000 submissions, a tenth of them hostile, with memory watched.

The class (generated into a temporary directory):
- 900 ordinary students, in turn: the convolution solution (30/30), the solution with the
  kernel flipped (partly wrong), the released stub (0), wrong-but-plausible functions (0),
  the pooling_norm solution (full marks);
- 100 hostile students: the notebooks of tests/hostile/ (built by make_corpus.py) over and
  over, each starting from the stub, so each must score 0.

One `dl101 grade` process (a subprocess of this script) grades them all. While it runs, its
process tree is sampled every 0.25 s from /proc: the grader itself, its runner processes (the
trusted side) and the sandboxes (bubblewrap, zygotes, students). After it exits,
getrusage(RUSAGE_CHILDREN) gives the largest resident set of any process of the tree.

Checked (exit code 1 if not): every student has a result; every score is the one its kind
gets when graded alone (a small calibration batch first); hostile notebooks score 0 with an
allowed status; nothing is left running. Printed: wall time, submissions per second, peak RSS
of the grader and of its runners, peak PSS of the whole tree (shared pages divided among the
processes sharing them), and the grader's own RSS at each quarter of the batch: what it
keeps per student (the results, for grades.csv) is all that grows with the class.

    .venv/bin/python benchmarks/bench_load.py [--submissions 1000] [--hostile-share 0.1]
                                              [--jobs 2] [--timeout 10]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "hostile"
DL101 = Path(sys.executable).with_name("dl101")
PAGE = os.sysconf("SC_PAGE_SIZE")


# ---------------------------------------------------------------------------- the class


def student_notebook(slug: str, *, solution: bool, flip: bool = False, wrong: bool = False) -> dict:
    source = ROOT / ("solutions" if solution else "assignments") / slug / f"{slug}.ipynb"
    nb = json.loads(source.read_text())
    nb["metadata"]["dl101"] = {"assignment": slug}
    if flip:
        for cell in nb["cells"]:
            text = "".join(cell["source"])
            if "def conv2d" in text:
                text = text.replace("w = np.asarray(w, dtype=float)\n", "w = np.asarray(w, dtype=float)[::-1, ::-1]\n")
                cell["source"] = text.splitlines(keepends=True)
    if wrong:
        nb["cells"].append({"cell_type": "code", "execution_count": None, "id": "wrong", "metadata": {},
                            "outputs": [], "source": WRONG.splitlines(keepends=True)})
    return nb


WRONG = (CORPUS / "make_corpus.py").read_text().split("WRONG = '''", 1)[1].split("'''", 1)[0]
KINDS = {
    "solution": lambda: student_notebook("convolution", solution=True),
    "partial": lambda: student_notebook("convolution", solution=True, flip=True),
    "stub": lambda: student_notebook("convolution", solution=False),
    "wrong": lambda: student_notebook("convolution", solution=False, wrong=True),
    "pooling": lambda: student_notebook("pooling_norm", solution=True),
}


def build_class(folder: Path, total: int, hostile_share: float) -> dict[str, tuple[str, dict | None]]:
    """student -> (kind, hostile metadata or None); the notebooks are written into ``folder``."""
    corpus = sorted(CORPUS.glob("*.ipynb"))
    if not corpus:
        raise SystemExit("no hostile corpus: run tests/hostile/make_corpus.py")
    folder.mkdir(parents=True)
    n_hostile = round(total * hostile_share)
    plan: dict[str, tuple[str, dict | None]] = {}
    cache = {kind: json.dumps(make()) for kind, make in KINDS.items()}
    kinds = list(KINDS)
    for i in range(total - n_hostile):
        kind = kinds[i % len(kinds)]
        name = f"s{i:04}_{kind}"
        (folder / f"{name}.ipynb").write_text(cache[kind])
        plan[name] = (kind, None)
    for i in range(n_hostile):
        path = corpus[i % len(corpus)]
        name = f"h{i:03}_{path.stem}"
        shutil.copy(path, folder / f"{name}.ipynb")
        plan[name] = (path.stem, json.loads(path.read_text())["metadata"]["dl101_hostile"])
    return plan


# ---------------------------------------------------------------------------- watching memory


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(name))
    return children


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _pss(pid: int) -> int:
    """Proportional set size: shared pages divided among the processes that share them."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def _start(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class Sampler(threading.Thread):
    """Peak RSS of the grader, of its runners and of its whole process tree."""

    def __init__(self, root: int, out: Path, total: int, interval: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.root, self.out, self.total, self.interval = root, out, total, interval
        self.stop = threading.Event()
        self.peak_grader = self.peak_runner = self.peak_runners = self.peak_tree = 0
        self.most_processes = 0
        #: the grader's RSS when a quarter, half, three quarters of the class were graded, and at the end
        self.grader_at: dict[int, int] = {}
        self.grader_last = 0
        self.samples = 0
        #: pid -> start time of every process seen in the tree (to find survivors later)
        self.seen: dict[int, str] = {}

    def run(self) -> None:
        while not self.stop.is_set():
            children = _children_map()
            tree, stack = [], [self.root]
            while stack:
                pid = stack.pop()
                tree.append(pid)
                stack.extend(children.get(pid, []))
            for pid in tree:
                self.seen.setdefault(pid, _start(pid))
            runners = [p for p in children.get(self.root, []) if "grader.runner" in _cmdline(p)]
            grader = _rss(self.root)
            runner_rss = [_rss(p) for p in runners]
            self.peak_grader = max(self.peak_grader, grader)
            self.peak_runner = max([self.peak_runner, *runner_rss])
            self.peak_runners = max(self.peak_runners, sum(runner_rss))
            self.peak_tree = max(self.peak_tree, sum(_pss(p) for p in tree))
            self.most_processes = max(self.most_processes, len(tree))
            if grader:
                self.grader_last = grader
                done = self._done() * 100 // max(self.total, 1)
                for quarter in (25, 50, 75):
                    if done >= quarter and quarter not in self.grader_at:
                        self.grader_at[quarter] = grader
            self.samples += 1
            self.stop.wait(self.interval)

    def _done(self) -> int:
        return sum(1 for _ in self.out.glob("*/*/results.json"))


def mb(n: int) -> str:
    return f"{n / (1 << 20):.0f} MB"


# ---------------------------------------------------------------------------- running


def run_grade(subs: Path, out: Path, jobs: int, timeout: float, total: int) -> tuple[int, float, Sampler, str]:
    cmd = [str(DL101), "grade", str(subs), "-o", str(out), "-j", str(jobs), "--timeout", str(timeout), "--json"]
    start = time.monotonic()
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(cmd, stdout=stdout, stderr=stderr, cwd=subs.parent)
        sampler = Sampler(proc.pid, out, total)
        sampler.start()
        code = proc.wait()
        seconds = time.monotonic() - start
        sampler.stop.set()
        sampler.join()
        stderr.seek(0)
        tail = stderr.read().decode(errors="replace")[-3000:]
    return code, seconds, sampler, tail


def results(out: Path) -> dict[str, dict]:
    found = {}
    for path in out.glob("*/*/results.json"):
        result = json.loads(path.read_text())["dl101"]["result"]
        found[result["student"]] = result
    return found


def calibrate(work: Path, jobs: int, timeout: float) -> dict[str, float]:
    """Each ordinary kind graded alone: the score it must get in the big batch too."""
    subs = work / "calibration"
    subs.mkdir()
    for kind, make in KINDS.items():
        (subs / f"{kind}.ipynb").write_text(json.dumps(make()))
    out = work / "calibration-out"
    code, _, _, tail = run_grade(subs, out, jobs, timeout, len(KINDS))
    if code != 0:
        raise SystemExit(f"calibration batch failed ({code}):\n{tail}")
    return {kind: r["score"] for kind, r in results(out).items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=1000)
    parser.add_argument("--hostile-share", type=float, default=0.1)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="dl101-bench-load-") as tmp:
        work = Path(tmp)
        expected = calibrate(work, args.jobs, args.timeout)
        plan = build_class(work / "class", args.submissions, args.hostile_share)
        out = work / "out"
        load = os.getloadavg()[0]
        code, seconds, sampler, tail = run_grade(work / "class", out, args.jobs, args.timeout, len(plan))
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        time.sleep(3)
        leftover = [p for p, t in sampler.seen.items() if t and _start(p) == t]
        got = results(out)

        problems = []
        if code != 0:
            problems.append(f"dl101 grade exited with {code}:\n{tail}")
        missing = sorted(set(plan) - set(got))
        if missing:
            problems.append(f"{len(missing)} students without a result, e.g. {missing[:5]}")
        statuses: Counter[str] = Counter()
        hostile_time = 0.0
        for student, (kind, hostile) in plan.items():
            result = got.get(student)
            if result is None:
                continue
            statuses[result["status"]] += 1
            if hostile is None:
                if result["score"] != expected[kind] or result["status"] != "graded":
                    problems.append(f"{student}: {result['score']} {result['status']}, expected {expected[kind]} graded")
            else:
                hostile_time += result["execution_time"]
                if result["score"] != 0 or result["status"] not in hostile["statuses"]:
                    problems.append(f"{student}: {result['score']} {result['status']}, expected 0 "
                                    f"{'/'.join(hostile['statuses'])}")
        if leftover:
            problems.append(f"processes left running: {[_cmdline(p)[:80] for p in leftover]}")

    n = len(plan)
    print(f"dl101 grade -j {args.jobs} --timeout {args.timeout:g}: {n} submissions "
          f"({n - round(n * args.hostile_share)} ordinary, {round(n * args.hostile_share)} hostile), "
          f"load average {load:.1f} at start (2 cores, shared machine)")
    print(f"  wall time                 {seconds:8.1f} s   ({n / seconds:.1f} submissions/s, "
          f"{seconds / n * 1000:.0f} ms each)")
    print(f"  hostile share of the time {hostile_time / max(seconds * args.jobs, 1e-9) * 100:8.0f} %   "
          f"(sum of their execution times over {args.jobs} slots)")
    print(f"  statuses                  {dict(sorted(statuses.items()))}")
    at = sampler.grader_at
    print(f"  peak RSS, grader          {mb(sampler.peak_grader):>10}   (dl101 grade itself; at 25/50/75/100 % "
          f"of the class: {' / '.join(mb(at.get(q, 0)) for q in (25, 50, 75))} / {mb(sampler.grader_last)})")
    print(f"  peak RSS, one runner      {mb(sampler.peak_runner):>10}   (trusted pytest process)")
    print(f"  peak RSS, runners         {mb(sampler.peak_runners):>10}   (all runners together)")
    print(f"  peak PSS, whole tree      {mb(sampler.peak_tree):>10}   (grader + runners + sandboxes, shared "
          f"pages split among their sharers; at most {sampler.most_processes} processes; {sampler.samples} samples)")
    print(f"  max RSS (getrusage)       {mb(usage.ru_maxrss * 1024):>10}   (largest single process of the tree)")
    if problems:
        print(f"FAILED: {len(problems)} problems")
        for p in problems[:20]:
            print("  " + p)
        return 1
    print("OK: every score as expected, every hostile notebook at 0, nothing left running")
    return 0


if __name__ == "__main__":
    sys.exit(main())
