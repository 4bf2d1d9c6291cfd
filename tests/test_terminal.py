"""nntrain on a real terminal (a pseudo-terminal of 80 and 150 columns): the live bar keeps the epoch, the bar, the
step counter and the ETA whole and in place at any width, shortening the metrics to fit; `predict` prints a table
there (and CSV everywhere else)."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")

CONFIG = """\
name: bar
seed: 1
data: {train: big.npz}
model:
  layers:
    - Dense: {units: 32, activation: relu}
    - Dense: {units: 2, activation: softmax}
loss: sparse_categorical_crossentropy
metrics: [accuracy, {name: sparse_top_k_categorical_accuracy, k: 1}]
optimizer: adam
training: {epochs: 1, batch_size: 1, validation_split: 0.1}
"""
BAR = re.compile(r"^Epoch 1/1 ━{10,40} +\d+/14400 ETA [\d.:]+s? *( |$)")


def in_terminal(args, columns: int, cwd: Path) -> tuple[int, list[str]]:
    """Run `nntrain ARGS` with a pseudo-terminal of `columns` columns as stdin/stdout/stderr. Returns the exit code
    and every line as the terminal last showed it, escape codes removed, split at carriage returns too."""
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {**os.environ, "COLUMNS": str(columns), "LINES": "24", "TERM": "xterm"}
    proc = subprocess.Popen([sys.executable, "-m", "nntrain.cli", *map(str, args)], cwd=cwd, env=env,
                            stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    out = b""
    while select.select([master], [], [], 120)[0]:
        try:
            chunk = os.read(master, 1 << 16)
        except OSError:  # the terminal closed: the process ended
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    code = proc.wait(timeout=60)
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.decode("utf-8", errors="replace"))
    return code, [line for line in re.split(r"[\r\n]+", plain) if line.strip()]


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """An epoch long enough (14,400 steps of batch 1, a second or so) for the bar to be drawn several times."""
    root = tmp_path_factory.mktemp("terminal")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16000, 20)).astype(np.float32)
    np.savez(root / "big.npz", x=x, y=(x[:, 0] > 0).astype(np.int64))
    np.save(root / "three.npy", x[:3])
    (root / "bar.yaml").write_text(CONFIG)
    return root


@pytest.mark.parametrize("columns", [80, 150])
def test_the_live_bar_fits_the_terminal(folder, columns):
    code, lines = in_terminal(["fit", "bar.yaml", "--name", f"w{columns}"], columns, folder)
    assert code == 0, "\n".join(lines)
    bars = [line for line in lines if "━" in line and line.startswith("Epoch")]
    assert bars, "\n".join(lines)
    for line in bars:
        assert BAR.match(line) and len(line) < columns, line  # epoch, bar, counter, ETA whole, in place
    assert all(len(line) <= columns for line in lines)
    drawn = [line for line in bars if "loss: " in line]
    assert drawn and all(line.rstrip().endswith("…") for line in drawn)  # the metrics shortened, not the bar
    assert any("samples/s" in line for line in drawn) == (columns == 150)
    assert any(line.startswith("Epoch 1/1 - ") for line in lines)  # the epoch's summary line


def test_predict_prints_a_table_on_a_terminal(folder):
    from tests.helpers import invoke

    # its own run (tests may run in any order, or in parallel processes): big batches, a fraction of a second
    assert invoke("fit", "bar.yaml", "--name", "table", "--set", "training.batch_size=1000", "--progress", "none",
                  cwd=folder).returncode == 0
    code, lines = in_terminal(["predict", "runs/table", "three.npy"], 80, folder)
    assert code == 0, "\n".join(lines)
    assert lines[0].startswith("3 predictions") and any(re.match(r"^│ +2 │ [01] +│$", line) for line in lines)
