"""The in-process runner (`tests.helpers.invoke`) shows what a user's process shows, so the CLI tests that use it
prove what they claim: the same stdout, stderr and exit code as a real `nntrain` process, an escaping exception and
a warning reported as the interpreter reports them, and nothing of one command left behind for the next."""

from __future__ import annotations

import os
import re
import signal
import sys
import warnings
from pathlib import Path

import pytest

import nntrain.cli
from tests.helpers import invoke, run_process

CONFIGS = Path(__file__).resolve().parent / "configs"


def _without_timings(text: str) -> str:
    """Epoch durations and dates differ between two runs; all else must not."""
    return re.sub(r"\d+\.\d\ds|\d{4}-\d\d-\d\d \d\d:\d\d", "T", text)


def test_in_process_output_and_exit_codes_equal_a_real_process(tmp_path):
    """fit (plain epoch lines), evaluate and runs (rich tables sized by COLUMNS), a user error (exit 2, stderr)."""
    commands = [("fit", CONFIGS / "iris_small.yaml", "--runs-dir", "runs"),
                ("evaluate", "runs/iris_small"),
                ("runs", "runs"),
                ("predict", "runs/iris_small", "absent.csv")]
    for where, run in (("process", run_process), ("in-process", invoke)):
        (tmp_path / where).mkdir()
        seen = [run(*args, cwd=tmp_path / where) for args in commands]
        if where == "process":
            expected = seen
    for args, want, got in zip(commands, expected, seen):
        assert got.returncode == want.returncode, args
        assert _without_timings(got.stdout) == _without_timings(want.stdout), args
        assert _without_timings(got.stderr) == _without_timings(want.stderr), args
    assert expected[0].stdout.count("Epoch ") == 12 and "no such" not in expected[3].stdout
    assert expected[3].returncode == 2 and "absent.csv" in expected[3].stderr


def test_an_escaping_exception_is_exit_1_with_a_traceback_on_stderr(monkeypatch):
    def main():  # stands in for the console script's entry point
        raise RuntimeError("a bug, not a user error")

    monkeypatch.setattr(nntrain.cli, "main", main)
    result = invoke("fit", "x.yaml")
    assert result.returncode == 1 and result.stdout == ""
    assert "Traceback" in result.stderr and "RuntimeError: a bug, not a user error" in result.stderr


def test_warnings_print_to_stderr_as_in_a_process(monkeypatch):
    def main():  # stands in for the console script's entry point
        warnings.warn("overflow in exp", RuntimeWarning)
        warnings.warn("old API", DeprecationWarning)  # hidden by Python's default filters
        raise SystemExit(0)

    monkeypatch.setattr(nntrain.cli, "main", main)
    result = invoke("fit", "x.yaml")
    assert result.returncode == 0
    assert "RuntimeWarning: overflow in exp" in result.stderr and "old API" not in result.stderr


def test_a_command_leaves_nothing_behind(tmp_path):
    """Working folder, sys.argv, the custom callback module of a config, signal handlers, environment."""
    (tmp_path / "my_callbacks.py").write_text("from nntrain.training.callbacks import Callback\n"
                                              "class Noop(Callback):\n    pass\n")
    (tmp_path / "cb.yaml").write_text((CONFIGS / "iris_small.yaml").read_text() +
                                      "callbacks:\n  - my_callbacks:Noop: {}\n")
    cwd, argv, handlers, env = os.getcwd(), list(sys.argv), signal.getsignal(signal.SIGINT), dict(os.environ)
    result = invoke("fit", "cb.yaml", "--set", "training.epochs=1", "-q", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (os.getcwd(), sys.argv, signal.getsignal(signal.SIGINT), dict(os.environ)) == (cwd, argv, handlers, env)
    assert "my_callbacks" not in sys.modules  # the next config's my_callbacks.py is imported afresh


@pytest.mark.parametrize("leak", ["environment", "sys.path"])
def test_a_command_that_leaks_state_fails_the_test(monkeypatch, leak):
    def main():  # stands in for the console script's entry point
        if leak == "environment":
            os.environ["NNTRAIN_LEAKED"] = "1"
        else:
            sys.path.append("/nntrain-leaked")
            signal.signal(signal.SIGTERM, lambda *a: None)  # restored as a process's would end: never a leak
        raise SystemExit(0)

    monkeypatch.setattr(nntrain.cli, "main", main)
    monkeypatch.delenv("NNTRAIN_LEAKED", raising=False)
    old = signal.getsignal(signal.SIGTERM)
    try:
        with pytest.raises(AssertionError, match=leak):
            invoke("fit", "x.yaml")
    finally:
        signal.signal(signal.SIGTERM, old)
        if "/nntrain-leaked" in sys.path:
            sys.path.remove("/nntrain-leaked")
