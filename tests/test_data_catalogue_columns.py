"""Column selection for Keras-catalogue arrays: data.inputs picks columns of california_housing's x by index,
data.outputs feeds its y to several outputs.

A local HTTP server on 127.0.0.1 serves a small california-format npz (x (700, 8) float, y (700,) dollars), with
the catalogue's pinned hash swapped for the small file's, as in test_data_catalogue.py. The wide & deep configs
run end to end through `nntrain fit`.
"""

import hashlib
import http.server
import json
import threading
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from nntrain.data import Preprocessor, describe, load_raw, read_inputs
from nntrain.data.sources import catalogue
from nntrain.errors import ConfigError
from tests.data_helpers import data_bundle
from tests.helpers import invoke

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = {"wide": [0, 1, 2, 3, 4], "deep": [2, 3, 4, 5, 6, 7]}


class _Handler(http.server.SimpleHTTPRequestHandler):
    requests: ClassVar[list] = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        type(self).requests.append(self.path)
        super().do_GET()


@pytest.fixture
def california(tmp_path, monkeypatch):
    """(x, y, environment) of a small california_housing.npz behind a local server; caches inside tmp_path."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(700, 8)) * np.arange(1, 9) + np.arange(8) * 10  # columns told apart by scale and mean
    y = 2e5 + 5e4 * np.tanh((x - x.mean(0)) / x.std(0) @ rng.normal(size=8) / 3)  # dollars, about 1.5e5-2.5e5
    root = tmp_path / "www"
    root.mkdir()
    np.savez(root / "california_housing.npz", x=x, y=y)
    digest = hashlib.sha256((root / "california_housing.npz").read_bytes()).hexdigest()
    monkeypatch.setitem(catalogue.SHA256, "california_housing.npz", digest)

    handler = lambda *a, **kw: _Handler(*a, directory=str(root), **kw)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    _Handler.requests = []
    env = {"NNTRAIN_DATASETS_URL": f"http://127.0.0.1:{server.server_address[1]}",
           "NNTRAIN_CACHE_DIR": str(tmp_path / "cache"), "KERAS_HOME": str(tmp_path / "keras"),
           "HOME": str(tmp_path / "home")}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    yield x, y, env
    server.shutdown()
    server.server_close()


def keras_split(x, y, test_split=0.2, seed=113):
    order = np.arange(len(x))
    np.random.RandomState(seed).shuffle(order)
    cut = int(len(x) * (1 - test_split))
    return x[order[:cut]], y[order[:cut]], x[order[cut:]], y[order[cut:]]


def test_inputs_are_columns_of_x_and_outputs_share_y(california, tmp_path):
    x, y, _ = california
    x_train, y_train, x_test, y_test = keras_split(x, y)
    raw = load_raw({"dataset": "california_housing", "inputs": COLUMNS, "outputs": {"main": "y", "aux": "target"}},
                   tmp_path)
    assert list(raw.train.x) == ["wide", "deep"] and list(raw.train.y) == ["main", "aux"]
    np.testing.assert_array_equal(raw.train.x["wide"], x_train[:, :5])
    np.testing.assert_array_equal(raw.test.x["deep"], x_test[:, 2:])
    for out in ("main", "aux"):
        np.testing.assert_array_equal(raw.train.y[out], y_train)
        np.testing.assert_array_equal(raw.test.y[out], y_test)
    assert raw.tasks == {"main": "regression", "aux": "regression"}


def test_each_input_is_standardized_with_its_own_columns(california, tmp_path):
    x, y, _ = california
    x_train, _, x_test, _ = keras_split(x, y)
    spec = {"dataset": "california_housing", "inputs": COLUMNS, "outputs": {"main": "y", "aux": "y"},
            "preprocessing": {"wide": ["standardize"], "deep": ["standardize"]},
            "target_preprocessing": [{"rescale": {"scale": 1e-5}}]}
    b = data_bundle(spec, tmp_path)
    assert b.info["inputs"] == {"wide": (5,), "deep": (6,)}
    assert b.train.x["wide"].shape == (560, 5) and b.train.x["deep"].shape == (560, 6)
    deep = x_train[:, 2:]
    np.testing.assert_allclose(b.test.x["deep"], (x_test[:, 2:] - deep.mean(0)) / deep.std(0), rtol=1e-4, atol=1e-5)
    # column 2 is in both inputs: standardized the same way in each
    np.testing.assert_allclose(b.train.x["wide"][:, 2], b.train.x["deep"][:, 0], rtol=1e-6)
    np.testing.assert_allclose(b.train.y["aux"], b.train.y["main"])
    assert 1.4 < b.train.y["main"].mean() < 2.6  # dollars -> $100,000s


def test_features_negative_and_single_indices(california, tmp_path):
    x, y, _ = california
    x_train, _, _, _ = keras_split(x, y)
    raw = load_raw({"dataset": "california_housing", "features": [-1, 0]}, tmp_path)
    np.testing.assert_array_equal(raw.train.x["input"], x_train[:, [7, 0]])
    raw = load_raw({"dataset": "california_housing", "inputs": {"income": 7, "rest": "x"}}, tmp_path)
    assert raw.train.x["income"].shape == (560, 1) and raw.train.x["rest"].shape == (560, 8)


def test_describe_gives_shapes_without_downloading(california, tmp_path):
    spec = {"dataset": "california_housing", "inputs": COLUMNS, "outputs": {"main": "y", "aux": "y"},
            "preprocessing": {"deep": ["standardize"]}}
    d = describe(spec, tmp_path)
    assert d["inputs"] == {"wide": (5,), "deep": (6,)}
    assert set(d["outputs"]) == {"main", "aux"} and d["outputs"]["aux"]["task"] == "regression"
    assert describe({"dataset": "california_housing"}, tmp_path)["inputs"] == {"input": (8,)}
    assert _Handler.requests == [] and not (tmp_path / "cache").exists()


BAD = [
    ({"inputs": {"wide": [0, 8]}}, ("data", "inputs", "wide", 1), "column index 8 is out of range"),
    ({"inputs": {"wide": [-9, 1]}}, ("data", "inputs", "wide", 0), "column index -9 is out of range"),
    ({"inputs": {"wide": 12}}, ("data", "inputs", "wide"), "out of range for california_housing's x of 8"),
    ({"inputs": {"wide": ["median_income"]}}, ("data", "inputs", "wide", 0), "give column indices 0-7"),
    ({"inputs": {"wide": [True, 1]}}, ("data", "inputs", "wide", 0), "no column names"),
    ({"inputs": {"wide": []}}, ("data", "inputs", "wide"), "no columns given"),
    ({"inputs": {"wide": [1, 2, 1]}}, ("data", "inputs", "wide", 2), "column 1 is listed twice"),
    ({"features": [0, 20]}, ("data", "features", 1), "out of range"),
    ({"outputs": {"main": "price"}}, ("data", "outputs", "main"), "name it `y` (or `target`)"),
    ({"target": 8}, ("data", "target"), "one target array"),
    ({"dataset": "mnist", "inputs": {"a": [0]}}, ("data", "inputs", "a"), "samples of shape (28, 28)"),
]


@pytest.mark.parametrize("extra,path,message", BAD, ids=[".".join(map(str, b[1][1:])) + f"-{i}"
                                                         for i, b in enumerate(BAD)])
def test_bad_columns_are_config_errors_before_any_download(california, tmp_path, extra, path, message):
    spec = {"dataset": "california_housing", **extra}
    for call in (describe, load_raw):
        with pytest.raises(ConfigError) as info:
            call(spec, tmp_path)
        assert info.value.path == path
        assert message in str(info.value)
    assert _Handler.requests == []


def test_predict_takes_the_columns_from_a_full_array(california, tmp_path):
    x, _, _ = california
    spec = {"dataset": "california_housing", "inputs": COLUMNS, "outputs": {"main": "y"},
            "preprocessing": ["standardize"]}
    b = data_bundle(spec, tmp_path)
    state = b.preprocessor.get_state()
    for name in COLUMNS:  # what an HDF5 checkpoint hands back
        state["inputs"][name]["source"]["indices"] = np.asarray(state["inputs"][name]["source"]["indices"])
    pre = Preprocessor.from_state(state)
    np.save(tmp_path / "new.npy", x[:50])
    np.savez(tmp_path / "new.npz", x=x[:50])
    expected = b.preprocessor.transform_x({"wide": x[:50, :5], "deep": x[:50, 2:]})
    for path in (tmp_path / "new.npy", tmp_path / "new.npz"):
        chunks = list(read_inputs(path, pre, batch_size=20))
        assert len(chunks) == 3
        for name in COLUMNS:
            np.testing.assert_allclose(np.concatenate([c[name] for c in chunks]), expected[name], rtol=1e-6)


@pytest.mark.parametrize("name", ["wide_deep", "wide_deep_aux", "california_housing"])
def test_wide_deep_configs_train_end_to_end(california, tmp_path, name):
    result = invoke("fit", ROOT / "configs" / f"{name}.yaml", cwd=tmp_path)  # the fixture's hash and environment
    assert result.returncode == 0, result.stdout + result.stderr
    assert _Handler.requests == ["/california_housing.npz"]
    run = tmp_path / "runs" / name
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["epochs"] == 20
    history = (run / "history.csv").read_text().splitlines()
    header = history[0].split(",")
    first, last = (dict(zip(header, row.split(","))) for row in (history[1], history[-1]))
    assert float(last["loss"]) < 0.5 * float(first["loss"]), (first, last)
    if name == "wide_deep_aux":
        assert {"main_loss", "aux_loss", "val_main_loss", "val_aux_loss", "main_mae"} <= set(header)
    else:
        assert "mae" in header and "val_loss" in header
