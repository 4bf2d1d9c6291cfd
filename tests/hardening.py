"""Running the `nntrain` command on hostile input: in this process (`invoke`), in a real process (`run_process`),
or in a real process whose time and peak memory are measured (`peak_memory_cli`); and the one check every refusal
passes (`assert_user_error`: exit 2, one `error:` paragraph, no traceback).

`invoke` and `run_process` take and return what tests/helpers.py's runners of the same names do elsewhere
(`returncode`, `stdout`, `stderr`), so these tests read the same with either."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass

ENV = {"COLUMNS": "120"}


def iris_config(units: int = 8, epochs: int = 1, batch_size: int = 32) -> str:
    """A small iris config (run name `iris`, seed 1), trained in a second or less."""
    return f"""\
name: iris
seed: 1
data: {{dataset: iris, preprocessing: [standardize]}}
model:
  layers:
    - Dense: {{units: {units}, activation: relu}}
    - Dense: {{units: 3, activation: softmax}}
loss: sparse_categorical_crossentropy
optimizer: {{name: adam, learning_rate: 0.01}}
training: {{epochs: {epochs}, batch_size: {batch_size}, validation_split: 0.2}}
"""


@dataclass
class CliResult:
    """What a user sees of one command: exit status and the two streams."""

    returncode: int
    stdout: str
    stderr: str


def invoke(*args, cwd=None, env=None) -> CliResult:
    """`nntrain ARGS...` in this process through typer's CliRunner (stdout and stderr apart, not terminals); the
    working folder and environment hold only for the call."""
    from typer.testing import CliRunner

    from nntrain.cli import app

    old = os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        result = CliRunner().invoke(app, [str(a) for a in args], env={**ENV, **(env or {})})
    finally:
        os.chdir(old)
    return CliResult(result.exit_code, result.stdout, result.stderr)


def run_process(*args, cwd=None, timeout=300, env=None) -> subprocess.CompletedProcess:
    """`nntrain ARGS...` in a real child process: only where a process is the point (two processes, signals)."""
    return subprocess.run([sys.executable, "-m", "nntrain", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **ENV, **(env or {})})


def peak_memory_cli(*args, cwd=None, timeout=120) -> tuple[subprocess.CompletedProcess, float, int]:
    """(result, wall seconds, peak resident memory in MiB) of `nntrain ARGS...` in a real process of its own: for
    the tests that bound what hostile input may cost."""
    # VmHWM is this process's own high-water mark (ru_maxrss would include the test process it was forked from)
    code = ("import runpy, sys\n"
            "try:\n    runpy.run_module('nntrain', run_name='__main__')\n"
            "finally:\n    hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
            "    print('\\nmaxrss', hwm, file=sys.stderr)\n")
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                            timeout=timeout, env={**os.environ, **ENV})
    seconds = time.perf_counter() - start
    result.stderr, _, rss = result.stderr.rpartition("\nmaxrss ")
    return result, seconds, int(rss.split()[0]) // 1024  # /proc reports KiB


def assert_user_error(result, *fragments: str) -> str:
    """The command refused its input as a user error: exit code 2, one `error:` paragraph on stderr holding every
    fragment, no traceback. Returns stderr."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    err = result.stderr
    assert err.count("error:") == 1 and "Traceback" not in err + result.stdout, err
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    return err
