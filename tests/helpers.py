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


def refused(*args) -> str:
    """`nntrain ARGS` in-process: exit 2 and one `error:` paragraph, no traceback. Returns the message on one line."""
    from typer.testing import CliRunner

    from nntrain.cli.app import app

    result = CliRunner().invoke(app, [*map(str, args)])
    assert result.exit_code == 2, (result.output, result.exception)
    err = result.stderr.strip()
    assert err.startswith("error:") and "Traceback" not in result.output and "\n\n" not in err, err
    return " ".join(err.split())
