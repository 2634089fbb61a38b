#!/usr/bin/env bash
# Idempotent set-up: system packages (as root), the .venv, the project with its test extras.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v bwrap >/dev/null 2>&1 || need_apt+=(bubblewrap)
# Headless Chromium: tests open report.html in a real browser (tests/test_report_browser.py).
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "setup: installing ${need_apt[*]} (Debian packages)"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null \
            || echo "setup: WARNING could not install ${need_apt[*]}; without bubblewrap 'dl101 grade' refuses to run, without chromium the browser test fails" >&2
    else
        echo "setup: WARNING ${need_apt[*]} missing and not root: install it (apt-get install ${need_apt[*]}) for sandboxed grading and the browser test" >&2
    fi
fi

# The interpreter: the real binary, not a pyenv shim (the sandbox binds its prefix read-only).
PYTHON=${PYTHON:-$(command -v python3)}
PYTHON=$("$PYTHON" -c 'import os, sys; print(os.path.realpath(sys.executable))')
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]"
echo "setup: ready (.venv)"
