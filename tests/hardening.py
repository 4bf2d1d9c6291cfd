"""For the tests of hostile input: a small iris config, a real process whose time and peak memory are measured
(`peak_memory_cli`), and the one check every refusal passes (`assert_user_error`: exit 2, one `error:` paragraph,
no traceback). Commands run through tests/helpers.py's `invoke` (in this process) and `run_process` (a real one),
re-exported here."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from tests.helpers import ENV, invoke, run_process

__all__ = ["ENV", "assert_user_error", "invoke", "iris_config", "peak_memory_cli", "run_process"]


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
