"""`nntrain plot`: the expected PNGs appear, are valid PNG files of a sensible size, and a missing matplotlib is a
clear exit-2 message."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import pytest

from tests.helpers import invoke

pytest.importorskip("matplotlib")

CONFIGS = Path(__file__).resolve().parent / "configs"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from the IHDR chunk, after checking the signature."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def assert_image(path: Path) -> None:
    assert path.exists(), path
    width, height = png_size(path)
    assert 300 <= width <= 2000 and 250 <= height <= 2000, (path, width, height)
    assert path.stat().st_size > 5000  # drawn content, not an empty canvas


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """An iris run whose learning rate halves every other epoch, evaluated on its test split."""
    root = tmp_path_factory.mktemp("plot")
    r = invoke("fit", CONFIGS / "iris_small.yaml", "--runs-dir", root, "-q", "--set", "training.epochs=6",
               "--set", "callbacks=[{reduce_lr_on_plateau: {monitor: loss, factor: 0.5, patience: 1, min_delta: 100}}]",
               cwd=root)
    assert r.returncode == 0, r.stderr
    assert invoke("evaluate", root / "iris_small", cwd=root).returncode == 0
    return root / "iris_small"


def test_run_folder_charts(run):
    r = invoke("plot", run, cwd=run)
    assert r.returncode == 0, r.stderr
    names = {"curve-loss.png", "curve-accuracy.png", "learning-rate.png", "confusion-test-best.png"}
    assert set(Path(line).name for line in r.stdout.split()) == names
    for name in names:
        assert_image(run / name)


def test_no_learning_rate_chart_when_it_stays_constant(tmp_path):
    r = invoke("fit", CONFIGS / "iris_small.yaml", "--runs-dir", tmp_path, "-q", "--set", "training.epochs=2",
               cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = invoke("plot", tmp_path / "iris_small", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "iris_small").glob("*.png")) == ["curve-accuracy.png", "curve-loss.png"]


def test_kfold_folder_charts(tmp_path):
    r = invoke("kfold", CONFIGS / "iris_small.yaml", "--folds", "2", "--runs-dir", tmp_path, "-q",
               "--set", "training.epochs=3", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    folder = tmp_path / "iris_small"
    r = invoke("plot", folder, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert_image(folder / f"kfold-{key}.png")


def test_missing_matplotlib_says_how_to_install_it(run, tmp_path, monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` raises ImportError, as when missing
    r = invoke("plot", run, cwd=tmp_path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "pip install 'nntrain[plot]'" in r.stderr and "Traceback" not in r.stderr


def test_not_a_run_folder(tmp_path):
    r = invoke("plot", tmp_path / "nothing", cwd=tmp_path)
    assert r.returncode == 2 and "no such run folder" in r.stderr and "Traceback" not in r.stderr
    r = invoke("plot", tmp_path, cwd=tmp_path)
    assert r.returncode == 2 and "not a run folder" in r.stderr
