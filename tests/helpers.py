"""Shared helpers for tests that run the real `nntrain` command."""

from __future__ import annotations

import os
import subprocess
import sys
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
