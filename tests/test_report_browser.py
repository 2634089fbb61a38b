"""report.html and feedback.html open in a real browser (headless Chromium) with their plots
and without a single console error, CSP violation or broken image.

Chromium is driven over the DevTools protocol through a pipe (``--remote-debugging-pipe``:
fd 3 in, fd 4 out, NUL-terminated JSON), so no port, no websocket and no extra package.
`make setup` installs Debian's ``chromium`` (as root).
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from grader import late
from grader.cli import main
from grader.reports import write_class_reports, write_student_reports
from grader.results import SubmissionResult, TestResult

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-extensions", "--disable-dev-shm-usage", "--mute-audio", "--hide-scrollbars",
    "--remote-debugging-pipe",
]  # fmt: skip
TIMEOUT = 60.0
HOSTILE = '<script>console.error("pwned")</script><img src=x onerror=alert(1)>'

INSPECT = """(() => {
  const imgs = [...document.images];
  return JSON.stringify({
    title: document.title,
    h1: (document.querySelector("h1") || {}).textContent || "",
    images: imgs.length,
    plots: document.querySelectorAll("img.plot").length,
    decoded: imgs.filter(i => i.complete && i.naturalWidth > 0).length,
    widths: imgs.map(i => i.getBoundingClientRect().width),
    sections: document.querySelectorAll("section.assignment").length,
    scripts: document.scripts.length,
    text: document.body.innerText,
  });
})()"""


class Chromium:
    """Just enough of the DevTools protocol: commands, events, one page session."""

    def __init__(self, profile: Path) -> None:
        exe = next((shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)), None)
        if exe is None:
            pytest.fail("chromium is not installed: run `make setup` as root (apt-get install chromium)")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # bash, not sh: dash only redirects fds 0-9 and pytest's capture uses more.
        shell = f'exec "$0" "$@" 3<&{to_browser_r} 4>&{from_browser_w}'
        self.proc = subprocess.Popen(
            ["bash", "-c", shell, exe, *FLAGS, f"--user-data-dir={profile}"],
            pass_fds=(to_browser_r, from_browser_w), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buf = b""
        self._next = 0
        self.events: list[dict[str, Any]] = []
        self.session = ""

    def send(self, method: str, params: dict | None = None, *, browser: bool = False) -> dict:
        """A command to the page session (or, with ``browser``, to the browser itself)."""
        self._next += 1
        message = {"id": self._next, "method": method, "params": params or {}}
        if self.session and not browser:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        reply = self._wait(lambda m: m.get("id") == self._next)
        if "error" in reply:
            raise AssertionError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def _wait(self, done, timeout: float = TIMEOUT) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self._buf:
                raw, self._buf = self._buf.split(b"\0", 1)
                message = json.loads(raw)
                if "method" in message:
                    self.events.append(message)
                if done(message):
                    return message
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise AssertionError(f"chromium did not answer in {timeout:.0f} s")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise AssertionError("chromium exited")
            self._buf += chunk

    def open_page(self) -> None:
        target = self.send("Target.createTarget", {"url": "about:blank"}, browser=True)["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 browser=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False})

    def visit(self, path: Path) -> tuple[dict[str, Any], list[str], bytes]:
        """Load ``path``; (what the page shows, console errors, a full-page PNG screenshot)."""
        self.events.clear()
        self.send("Page.navigate", {"url": path.resolve().as_uri()})
        self._wait(lambda m: m.get("method") == "Page.loadEventFired" and m.get("sessionId") == self.session)
        info = json.loads(self.send("Runtime.evaluate", {"expression": INSPECT, "returnByValue": True})
                          ["result"]["value"])
        shot = base64.b64decode(self.send("Page.captureScreenshot",
                                          {"format": "png", "captureBeyondViewport": True})["data"])
        return info, errors(self.events), shot

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                self.send("Browser.close", browser=True)
        except AssertionError:  # it closed before answering
            pass
        finally:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()
            os.close(self._to_browser)
            os.close(self._from_browser)


def errors(events: list[dict[str, Any]]) -> list[str]:
    """Console errors, uncaught exceptions and browser log errors (CSP violations, failed loads)."""
    found = []
    for e in events:
        method, params = e.get("method"), e.get("params", {})
        if method == "Runtime.exceptionThrown":
            found.append(json.dumps(params.get("exceptionDetails", {}))[:300])
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            found.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            found.append(params["entry"].get("text", ""))
    return found


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chromium = Chromium(tmp_path_factory.mktemp("chromium-profile"))
    try:
        chromium.open_page()
        yield chromium
    finally:
        chromium.close()


def t(name: str, ok: bool, points: float = 2.0, visibility: str = "visible") -> TestResult:
    return TestResult(name=name, score=points if ok else 0.0, max_score=points,
                      status="passed" if ok else "failed",
                      output="" if ok else f"{name}: expected shape (2, 3, 3, 4), got (2, 4, 4, 4)",
                      visibility=visibility)


def a_class() -> list[SubmissionResult]:
    """Two assignments, 25 students, every status, a late policy, hostile text."""
    rng = np.random.default_rng(7)
    policy = late.parse_policy({"due": "2026-12-01T23:59:00+00:00", "late_per_day": 0.1, "max_late_days": 3})
    out = []
    for slug in ("convolution", "pooling_norm"):
        for i in range(25):
            status = "graded" if i % 8 else ["timeout", "crashed", "unreadable", "missing"][i // 8]
            tests = [t(f"test_{k}", bool(rng.random() < 0.3 + k / 8), visibility="hidden" if k > 5 else "visible")
                     for k in range(8)] if status == "graded" else []
            hours = float(rng.uniform(-48, 72))
            when = f"2026-12-0{2 + int(hours // 24)}T{int(hours % 24):02d}:00:00+00:00" if hours > 0 else \
                "2026-11-30T12:00:00+00:00"
            r = SubmissionResult(student=f"s{i:02d}", assignment=slug, status=status,
                                 score=sum(x.score for x in tests), max_score=16.0, tests=tests,
                                 output="" if tests else "killed after 60 s", submitted_at=when,
                                 execution_time=float(rng.uniform(0.2, 9)))
            out.append(late.apply(r, policy))
    out.append(SubmissionResult(student=HOSTILE, assignment="convolution", status="graded", score=0.0,
                                max_score=16.0, tests=[t(HOSTILE, False, 16.0)], output=HOSTILE))
    return out


def test_report_renders_in_chromium_with_plots_and_no_console_errors(browser, tmp_path):
    results = a_class()
    for r in results:
        write_student_reports(r, tmp_path)
    write_class_reports(results, tmp_path)
    info, errs, shot = browser.visit(tmp_path / "report.html")
    assert errs == []
    assert info["title"] == "dl101 class report" and info["sections"] == 2
    assert info["scripts"] == 0  # the hostile student id stayed text
    # a histogram and a pass-rate chart per assignment, every one decoded and laid out
    assert info["plots"] == info["images"] == info["decoded"] == 4
    assert all(w > 200 for w in info["widths"])
    for words in ("Most missed", "late submissions", "Slowest 10", "timeout", HOSTILE):
        assert words in info["text"], words
    assert shot.startswith(b"\x89PNG") and len(shot) > 20_000
    (tmp_path / "report.png").write_bytes(shot)


def test_feedback_renders_in_chromium_with_what_to_work_on(browser, tmp_path):
    r = a_class()[3]
    assert any(x.status == "failed" for x in r.tests if x.visibility == "visible")
    folder = write_student_reports(r, tmp_path)
    info, errs, shot = browser.visit(folder / "feedback.html")
    assert errs == []
    assert info["images"] == 0 and info["scripts"] == 0
    assert "What to work on" in info["text"] and "expected shape" in info["text"]
    assert "hidden tests not shown" in info["text"] and "test_7" not in info["text"]
    assert shot.startswith(b"\x89PNG")


def test_the_checker_sees_console_errors_and_broken_images(browser, tmp_path):
    """The harness is not vacuous: a page that logs an error or has a broken image is caught."""
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><title>bad</title><img src="data:image/png;base64,AAAA">'
                   '<script>console.error("boom")</script>')
    info, errs, _ = browser.visit(bad)
    assert any("boom" in e for e in errs)
    assert info["images"] == 1 and info["decoded"] == 0


def test_dl101_report_rebuilds_the_class_report_from_results(browser, tmp_path):
    results = a_class()
    for r in results:
        write_student_reports(r, tmp_path)
    (tmp_path / "convolution" / "broken").mkdir()
    (tmp_path / "convolution" / "broken" / "results.json").write_text("{not json")
    outcome = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert outcome.exit_code == 0, outcome.output
    assert f"{len(results)} results" in outcome.stdout and "skipping corrupt" in outcome.stderr
    assert (tmp_path / "grades.csv").read_text().count("\n") == len(results) + 1
    info, errs, _ = browser.visit(tmp_path / "report.html")
    assert errs == [] and info["plots"] == info["decoded"] == 4
