"""A non-editable install carries the bundled tables: `pip install . --target DIR` puts datasets/ at
nntrain/datasets, and `dataset: iris` works from there with the source checkout nowhere on the path."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed_in_pyproject():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "nntrain").rglob("__init__.py")}
    assert found - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    assert "nntrain.datasets" in listed


def test_non_editable_install_reads_bundled_tables_from_the_package(tmp_path):
    src = tmp_path / "src"  # a copy, so the build leaves nothing in the checkout
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for name in ("nntrain", "datasets"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    target = tmp_path / "site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", str(src), "--target", str(target), "--no-deps",
                              "--no-build-isolation", "--no-index", "-q"], capture_output=True, text=True, timeout=300,
                             check=False)
    assert install.returncode == 0, install.stderr
    assert {p.name for p in (target / "nntrain" / "datasets").iterdir()} >= {"iris.csv.gz", "iris.md", "README.md"}
    shutil.rmtree(src)  # the tables must come from the install

    code = ("from pathlib import Path; import nntrain.data.sources.bundled as b; "
            "from nntrain.data import load_raw, make_bundle; "
            "d = make_bundle(load_raw({'dataset': 'iris'}, Path('.')), {}); "
            "print(b.DATASETS_DIR, d.train.x.shape, d.test.x.shape)")
    env = {**os.environ, "PYTHONPATH": str(target)}
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(target / "nntrain" / "datasets"), "(120,", "4)", "(30,", "4)"]
