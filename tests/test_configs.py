"""Every example config passes `nntrain check` offline, and configs/README.md lists every one of them.

`check` runs with empty caches, an unreachable dataset server and a fresh working folder: it must validate and build
each model (shapes from dataset metadata for the catalogue sets) without downloading anything or creating a run
folder.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import ROOT, invoke

CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))


def test_there_are_configs():
    assert len(CONFIGS) >= 10


@pytest.mark.parametrize("config", CONFIGS, ids=[c.stem for c in CONFIGS])
def test_config_passes_check_offline(tmp_path, config: Path):
    cache = tmp_path / "cache"
    env = {"NNTRAIN_CACHE_DIR": str(cache), "HOME": str(tmp_path / "home"), "KERAS_HOME": str(tmp_path / "keras"),
           "NNTRAIN_DATASETS_URL": "http://127.0.0.1:9/unreachable"}
    result = invoke("check", config, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{config}: OK" in result.stdout
    assert "Total params:" in result.stdout
    assert not (tmp_path / "runs").exists()
    assert not cache.exists() or not any(p.is_file() for p in cache.rglob("*"))  # nothing downloaded


def test_readme_lists_every_config():
    readme = (ROOT / "configs" / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| \[([\w.-]+\.yaml)\]\(\1\) \|", readme, flags=re.MULTILINE)
    assert sorted(rows) == sorted(c.name for c in CONFIGS), "configs/README.md's table and configs/*.yaml differ"
    for row in readme.splitlines():
        if row.startswith("| [") and "measured" not in row:
            pytest.fail(f"a table row without a result: {row}")
