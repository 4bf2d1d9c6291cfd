"""Distributed `nntrain tune`: two worker processes against one study on a real PostgreSQL server.

The test starts Debian's PostgreSQL (initdb and pg_ctl from /usr/lib/postgresql/VERSION/bin) on a temporary data
folder and a free port on 127.0.0.1, as the `postgres` user when run as root (the server refuses root). It runs
with NNTRAIN_TUNE_TESTS=1 (about 20 s), and is skipped, saying why, where no server is installed.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.helpers import ENV, invoke
from tests.test_tune import write_config

pytest.importorskip("optuna")
pytest.importorskip("psycopg2", reason="the tune extra's PostgreSQL driver (psycopg2-binary) is not installed")
pytestmark = pytest.mark.skipif(not os.environ.get("NNTRAIN_TUNE_TESTS"),
                                reason="starts a PostgreSQL server (about 20 s): set NNTRAIN_TUNE_TESTS=1")
TRIALS = 6


def _bin() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return os.path.dirname(found[-1]) if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres():
    """postgresql://postgres@127.0.0.1:PORT/postgres on a server of its own, stopped afterwards."""
    bin_dir = _bin()
    if bin_dir is None:
        pytest.skip("no PostgreSQL server installed (/usr/lib/postgresql/*/bin/pg_ctl); apt-get install postgresql")
    # pytest's tmp folders are private to root; the postgres user must reach this one
    root = Path(tempfile.mkdtemp(prefix="nntrain-pg-"))
    os.chmod(root, 0o755)
    data = root / "data"
    data.mkdir()
    as_user = []
    if os.geteuid() == 0:  # the server refuses to run as root
        shutil.chown(data, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    subprocess.run([*as_user, f"{bin_dir}/initdb", "-D", str(data), "--auth=trust", "-U", "postgres"], check=True,
                   capture_output=True)
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1"
    subprocess.run([*as_user, f"{bin_dir}/pg_ctl", "-D", str(data), "-o", options, "-l", str(data / "log"), "-w",
                    "start"], check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, f"{bin_dir}/pg_ctl", "-D", str(data), "-m", "fast", "stop"], check=False,
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def test_two_workers_share_one_study_without_duplicates(tmp_path, postgres):
    config = write_config(tmp_path, epochs=4, trials=TRIALS)
    workers = [subprocess.Popen([sys.executable, "-m", "nntrain", "tune", str(config), "--storage", postgres,
                                 "--study", "shared", "--runs-dir", str(tmp_path / f"machine-{i}"), "--no-plots",
                                 "--progress", "line"], text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env={**os.environ, **ENV}) for i in (1, 2)]
    outputs = [w.communicate(timeout=300) for w in workers]
    for w, (out, err) in zip(workers, outputs):
        print(out, err)  # the report quotes this output
        assert w.returncode == 0, err
    shown = invoke("tune", "--show", tmp_path / "machine-1" / "search", "--storage", postgres, "--json")
    doc = json.loads(shown.stdout)
    finished = [r for r in doc["trials"] if r["state"] in ("complete", "pruned")]
    assert len(finished) == TRIALS, doc["counts"]
    assert sorted(r["trial"] for r in finished) == list(range(TRIALS))  # each number once: no duplicates
    assert len({json.dumps(r["params"], sort_keys=True) for r in finished}) == TRIALS  # workers propose apart
    folders = {i: sorted(p.name for p in (tmp_path / f"machine-{i}" / "search" / "trials").iterdir()) for i in (1, 2)}
    assert folders[1] and folders[2], f"each worker should have run trials: {folders}"
    assert sorted(folders[1] + folders[2]) == [f"{n:03d}" for n in range(TRIALS)]
    for r in finished:  # the leaderboard says where each trial's run folder is, on either worker
        machine = 1 if f"{r['trial']:03d}" in folders[1] else 2
        where = r["where"] if machine == 1 else r["where"].split(":", 1)[-1]
        assert where.endswith(f"trials/{r['trial']:03d}") and (f"machine-{machine}" in where or machine == 1)
