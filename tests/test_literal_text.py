"""User-supplied text (run names, paths, module:Class specs, metric names) prints exactly as typed: rich never reads
it as markup (`[bold]`) or as an emoji code (`:fire:`), on a terminal or off one."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

from typer.testing import CliRunner

from nntrain.cli import app, render
from nntrain.training.progress import ProgressDisplay

MARKED = "[bold]x:fire:"


def test_an_error_naming_a_custom_callback_keeps_its_colons(tmp_path):
    config = Path(__file__).parent / "configs" / "iris_small.yaml"
    result = CliRunner().invoke(app, ["fit", str(config), "--runs-dir", str(tmp_path),
                                      "--set", "callbacks=[{mycb:Fire: {}}]"])
    assert result.exit_code == 2
    assert "callbacks.0.mycb:Fire:" in result.stderr and "🔥" not in result.stderr
    result = CliRunner().invoke(app, ["fit", str(config), "--runs-dir", str(tmp_path),
                                      "--set", "callbacks=[{'[bold]mod:Fire': {}}]"])
    assert result.exit_code == 2 and "`[bold]mod`" in result.stderr


def test_the_runs_table_prints_names_and_files_literally(tmp_path):
    run = tmp_path / MARKED
    run.mkdir()
    (run / "config.yaml").write_text(json.dumps({"name": MARKED, "data": {"train": "/data/[red]d:smile:.csv"}}))
    (run / "run.json").write_text(json.dumps({"status": "finished", "started": "2024-01-02T03:04:05"}))
    result = CliRunner().invoke(app, ["runs", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert MARKED in result.stdout and "[red]d:smile:.csv" in result.stdout


def test_run_names_on_a_terminal_and_warnings_print_as_typed(capsys):
    class Model:
        def summary(self):
            return "Total params: 1 [dim]"

    render.fit_started(render.Shown("bar", sys.stdout), Path("runs") / MARKED, {"name": MARKED}, Model())
    out = capsys.readouterr().out
    assert f"{MARKED}: run folder runs/{MARKED}" in out and "[dim]" in out
    buffer = io.StringIO()
    display = ProgressDisplay("bar", console=None, stream=buffer)
    display.warn("metric [bold]m:fire: looks odd")
    assert "warning: metric [bold]m:fire: looks odd" in buffer.getvalue()
