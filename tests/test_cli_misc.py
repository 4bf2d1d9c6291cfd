"""Small CLI behaviours: help, datasets listing, unknown commands and options."""

from __future__ import annotations

import subprocess

from tests.helpers import invoke, run_process


def test_help_lists_the_commands():
    """A real `python -m nntrain`: the package's __main__ entry point starts the command line."""
    result = run_process("--help")
    assert result.returncode == 0
    for command in ("fit", "check", "schema", "datasets"):
        assert command in result.stdout


def test_datasets_lists_bundled_and_catalogue_sets(tmp_path):
    result = invoke("datasets", env={"NNTRAIN_CACHE_DIR": str(tmp_path), "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    for name in ("iris", "wine", "breast_cancer", "digits", "boston_housing", "mnist", "fashion_mnist", "imdb",
                 "reuters", "california_housing"):
        assert name in result.stdout
    assert "150" in result.stdout  # iris rows


def test_unknown_progress_mode_is_a_clear_error(tmp_path):
    result = invoke("fit", "whatever.yaml", "--progress", "fancy", cwd=tmp_path)
    assert result.returncode == 2
    assert "--progress expects one of auto, bar, line, none" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_config_file(tmp_path):
    """A real process: the shell gets exit status 2 and the message on stderr, not stdout."""
    result = run_process("fit", "nope.yaml", cwd=tmp_path)
    assert result.stdout == ""
    assert result.returncode == 2
    assert "nope.yaml: no such config file" in result.stderr
    assert not (tmp_path / "runs").exists()


def test_resume_of_a_folder_that_is_not_a_run(tmp_path):
    result = invoke("fit", "--resume", tmp_path, cwd=tmp_path)
    assert result.returncode == 2
    assert "not a run folder" in result.stderr


COMMANDS = ("fit", "check", "schema", "datasets", "evaluate", "predict", "kfold", "plot", "runs")


def test_version_and_every_help_names_its_values_and_shows_examples():
    from typer.testing import CliRunner

    from nntrain import __version__
    from nntrain.cli import app

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout == f"nntrain {__version__}\n"
    for command in COMMANDS:
        text = CliRunner().invoke(app, [command, "--help"]).stdout
        assert "Example" in text and f"nntrain {command}" in text.split("Example")[1], command
        assert "<" not in text.split("Options:")[1], (command, text)  # no <str>, <int>, <list[str]> placeholders
    fit_help = CliRunner().invoke(app, ["fit", "--help"]).stdout
    assert "--set KEY=VALUE" in fit_help and "--resume RUN_DIR" in fit_help


def test_shell_completion_installs_and_completes():
    import os
    import shutil

    script = shutil.which("nntrain")
    if script is None:
        import pytest

        pytest.skip("the nntrain console script is not installed")
    shown = subprocess.run([script, "--show-completion", "bash"], capture_output=True, text=True, timeout=60,
                           env={**os.environ, "SHELL": "/bin/bash"})
    assert shown.returncode == 0 and "_nntrain_completion" in shown.stdout
    env = {**os.environ, "_NNTRAIN_COMPLETE": "complete_bash", "COMP_WORDS": "nntrain fit --pro", "COMP_CWORD": "2"}
    completed = subprocess.run([script], capture_output=True, text=True, timeout=60, env=env)
    assert completed.stdout.split() == ["--progress"]
