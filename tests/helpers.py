"""Shared helpers for tests that run the real `nntrain` command."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args, cwd=None, timeout=300, env=None) -> subprocess.CompletedProcess:
    """Run `nntrain ARGS...` in a subprocess (stdout is a pipe: not a terminal)."""
    full_env = {**os.environ, "COLUMNS": "120", **(env or {})}
    return subprocess.run([sys.executable, "-m", "nntrain.cli", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=full_env)


def invoke(*args, cwd=None):
    """Run `nntrain ARGS...` in this process through typer's CliRunner (faster than `run_cli`; use the real process
    only for what a process shows: signals, memory, time). Returns click's Result: exit_code, stdout, stderr."""
    from typer.testing import CliRunner

    from nntrain.cli.app import app

    old = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        return CliRunner().invoke(app, [str(a) for a in args])
    finally:
        os.chdir(old)


def assert_user_error(result, *fragments: str) -> str:
    """The command refused its input as a user error: exit code 2, one `error:` paragraph on stderr holding every
    fragment, no traceback. Returns the message (one line: soft-wrapped)."""
    code = getattr(result, "exit_code", getattr(result, "returncode", None))
    assert code == 2, (code, result.stdout, result.stderr)
    err = result.stderr
    assert err.count("error:") == 1 and "Traceback" not in err + result.stdout, err
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    return err


def peak_memory_cli(*args, cwd=None, timeout=120) -> tuple[subprocess.CompletedProcess, float, int]:
    """(result, wall seconds, peak resident memory in MiB) of `nntrain ARGS...` in a real process of its own: for
    the tests that bound what hostile input may cost."""
    # VmHWM is this process's own high-water mark (ru_maxrss would include the test process it was forked from)
    code = ("import runpy, sys\n"
            "try:\n    runpy.run_module('nntrain.cli', run_name='__main__')\n"
            "finally:\n    hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
            "    print('\\nmaxrss', hwm, file=sys.stderr)\n")
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                            timeout=timeout, env={**os.environ, "COLUMNS": "120"})
    seconds = time.perf_counter() - start
    result.stderr, _, rss = result.stderr.rpartition("\nmaxrss ")
    return result, seconds, int(rss.split()[0]) // 1024  # Linux reports KiB
