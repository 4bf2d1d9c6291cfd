"""The README's "Your own data" example runs as written: its files (```csv / ```yaml blocks with a title) are
written to a folder and each `nntrain` line of its ```bash block runs there (in-process), printing what the
comments say."""

from __future__ import annotations

import re
import shlex

from tests.helpers import ROOT, invoke


def section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split("\n## Your own data\n", 1)[1].split("\n## ", 1)[0]


def test_the_own_data_example_runs_as_written(tmp_path):
    text = section()
    files = re.findall(r'```\w+ title="([^"]+)"\n(.*?)```', text, flags=re.S)
    assert {name for name, _ in files} == {"customers.csv", "churn.yaml", "new.csv"}
    for name, body in files:
        (tmp_path / name).write_text(body)
    (bash,) = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    lines = [line for line in bash.splitlines() if line.strip()]
    assert len(lines) == 3
    results = []
    for line in lines:
        command, _, comment = line.partition("#")
        args = shlex.split(command)
        assert args[0] == "nntrain"
        result = invoke(*args[1:], cwd=tmp_path)
        assert result.returncode == 0, (line, result.stdout, result.stderr)
        results.append((result, comment.strip()))
    (check, _), (fit, folder), (predict, warning) = results
    assert "nothing written" in check.stdout
    assert fit.stdout.strip() == folder == "runs/churn"
    assert warning in predict.stderr
    rows = predict.stdout.strip().splitlines()
    assert rows[0] == "row,prediction" and len(rows) == 3
    assert all(r.split(",")[1] in ("left", "stayed") for r in rows[1:])
