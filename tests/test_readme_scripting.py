"""The README's "Scripting nntrain" examples run as written: every ```bash block of the section, in order, in one
bash process (so `$run` carries over), with `nntrain` being this checkout's command, from a folder beside configs/."""

from __future__ import annotations

import ast
import csv
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="the examples are bash")


def scripting_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Scripting nntrain\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)```", section, flags=re.S)


def test_the_scripting_examples_run_as_written(tmp_path):
    blocks = scripting_blocks()
    assert len(blocks) >= 2
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "nntrain"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m nntrain.cli "$@"\n')
    shim.chmod(0o755)
    (tmp_path / "configs").symlink_to(ROOT / "configs")
    script = "set -euo pipefail\n" + "\n".join(blocks)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout.splitlines()
    fit = json.loads((tmp_path / "fit.json").read_text())
    assert out[0] == f"finished {fit['kept']['epoch']} {fit['kept']['metrics']['val_accuracy']}"
    evaluation = json.loads((tmp_path / "runs" / "iris" / "evaluation-test-best.json").read_text())
    assert out[1] == str(evaluation["metrics"]["accuracy"])
    predictions = list(csv.DictReader((tmp_path / "predictions.csv").open()))
    assert [p["id"] for p in predictions] == ["A", "B"] and list(predictions[0])[:3] == ["row", "id", "prediction"]
    assert json.loads(out[2]) == {"row": 0, "id": "A", "prediction": predictions[0]["prediction"]}
    assert sorted(ast.literal_eval(out[3])) == ["iris", "iris-2"]  # the runs `nntrain runs --json` lists
