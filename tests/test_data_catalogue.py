"""Keras catalogue datasets against a local HTTP server serving small files in the real formats.

The server runs on 127.0.0.1 in a thread; the catalogue's pinned hashes are swapped for the hashes of the small
files. Checked: loaders end to end with Keras's split and option semantics, caching, reuse of a Keras cache file,
a corrupt download rejected and retried, and a clear error when the server is unreachable.
"""

import hashlib
import http.server
import socket
import threading
from pathlib import Path

import numpy as np
import pytest

from nntrain.data import list_datasets, load_raw
from nntrain.data.sources import catalogue, download
from nntrain.engine.sparse import MultiHot
from nntrain.errors import DataError
from tests.data_helpers import data_bundle, idx_bytes


class _Handler(http.server.SimpleHTTPRequestHandler):
    corrupt_next = 0  # how many of the next responses get a flipped byte
    requests: list = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        type(self).requests.append(self.path)
        path = Path(self.directory) / self.path.lstrip("/")
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        if type(self).corrupt_next > 0:
            type(self).corrupt_next -= 1
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def object_array(lists):
    out = np.empty(len(lists), dtype=object)
    for i, item in enumerate(lists):
        out[i] = list(item)
    return out


def ragged(rng, n, vocab=40, max_len=12):
    return object_array([rng.integers(1, vocab, size=rng.integers(1, max_len)).tolist() for _ in range(n)])


@pytest.fixture
def served(tmp_path, monkeypatch):
    """A folder of small Keras-format files behind a local server; caches pointed into tmp_path."""
    rng = np.random.default_rng(0)
    root = tmp_path / "www"
    root.mkdir()
    files = {}
    files["mnist"] = dict(x_train=rng.integers(0, 256, (12, 28, 28)), y_train=np.arange(12) % 10,
                          x_test=rng.integers(0, 256, (4, 28, 28)), y_test=np.arange(4))
    np.savez(root / "mnist.npz", **{k: v.astype(np.uint8) for k, v in files["mnist"].items()})
    files["fashion"] = {"train-labels-idx1-ubyte.gz": np.arange(10) % 10,
                        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (10, 28, 28)),
                        "t10k-labels-idx1-ubyte.gz": np.arange(3),
                        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (3, 28, 28))}
    for name, a in files["fashion"].items():
        (root / name).write_bytes(idx_bytes(a))
    files["imdb"] = dict(x_train=ragged(rng, 30), y_train=np.arange(30) % 2, x_test=ragged(rng, 20),
                         y_test=np.arange(20) % 2)
    np.savez(root / "imdb.npz", **files["imdb"])
    files["reuters"] = dict(x=ragged(rng, 50), y=np.arange(50) % 46)
    np.savez(root / "reuters.npz", **files["reuters"])
    files["california"] = dict(x=rng.normal(size=(700, 8)), y=rng.uniform(1e4, 5e5, size=700))
    np.savez(root / "california_housing.npz", **files["california"])
    for f in root.iterdir():
        monkeypatch.setitem(catalogue.SHA256, f.name, hashlib.sha256(f.read_bytes()).hexdigest())

    handler = lambda *a, **kw: _Handler(*a, directory=str(root), **kw)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    _Handler.requests = []
    _Handler.corrupt_next = 0
    monkeypatch.setenv("NNTRAIN_DATASETS_URL", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("NNTRAIN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    yield root, files
    server.shutdown()
    server.server_close()


def keras_sequences(xs, labels, num_words=None, skip_top=0, maxlen=None, start_char=1, oov_char=2, index_from=3):
    """Plain-Python reference of keras.datasets imdb/reuters post-processing (after the shuffle)."""
    if start_char is not None:
        xs = [[start_char] + [w + index_from for w in x] for x in xs]
    elif index_from:
        xs = [[w + index_from for w in x] for x in xs]
    if maxlen:
        kept = [(x, y) for x, y in zip(xs, labels) if len(x) < maxlen]
        xs, labels = [x for x, _ in kept], [y for _, y in kept]
    if not num_words:
        num_words = max(max(x) for x in xs)
    if oov_char is not None:
        xs = [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]
    else:
        xs = [[w for w in x if skip_top <= w < num_words] for x in xs]
    return xs, labels


def shuffled(n, rng):
    idx = np.arange(n)
    rng.shuffle(idx)
    return idx


def test_mnist_end_to_end_and_cached(served, tmp_path):
    _, files = served
    calls = []
    b = data_bundle({"dataset": "mnist", "preprocessing": [{"rescale": {"scale": 1 / 255}}, "flatten"]}, tmp_path,
                    progress=lambda done, total, what: calls.append((done, total, what)))
    assert b.train.x.shape == (12, 784) and b.test.x.shape == (4, 784)
    np.testing.assert_allclose(b.train.x[0], files["mnist"]["x_train"][0].reshape(-1) / 255, rtol=1e-6)
    np.testing.assert_array_equal(b.train.y, files["mnist"]["y_train"])
    assert calls[-1][0] == calls[-1][1] > 0 and calls[-1][2] == "mnist.npz"
    assert (tmp_path / "cache" / "mnist.npz").is_file()
    assert not list((tmp_path / "cache").glob("*.part*"))
    n = len(_Handler.requests)
    load_raw({"dataset": "mnist"}, tmp_path)
    assert len(_Handler.requests) == n  # second load: no download
    assert {d["name"]: d["cached"] for d in list_datasets()}["mnist"]


def test_fashion_mnist_idx_files(served, tmp_path):
    _, files = served
    b = data_bundle({"dataset": "fashion_mnist"}, tmp_path)
    assert b.train.x.shape == (10, 28, 28) and b.train.x.dtype == np.float32
    np.testing.assert_array_equal(b.test.x, files["fashion"]["t10k-images-idx3-ubyte.gz"])
    assert b.class_names["output"][9] == "Ankle boot"
    assert (tmp_path / "cache" / "fashion-mnist" / "train-images-idx3-ubyte.gz").is_file()


@pytest.mark.parametrize(
    "options",
    [{}, {"num_words": 20}, {"num_words": 20, "skip_top": 5, "maxlen": 8},
     {"oov_char": None, "num_words": 15, "index_from": 2}, {"start_char": None, "seed": 7}],
)
def test_imdb_matches_keras_semantics(served, tmp_path, options):
    _, files = served
    raw = load_raw({"dataset": "imdb", "options": options}, tmp_path)
    seed = options.get("seed", 113)
    rng = np.random.RandomState(seed)
    f = files["imdb"]
    tr, te = shuffled(30, rng), shuffled(20, rng)
    kw = {k: v for k, v in options.items() if k != "seed"}
    xs_tr, _ = keras_sequences(list(f["x_train"][tr]), list(f["y_train"][tr]), **{**kw, "num_words": None})
    # num_words and the oov cut apply to train and test together, as in Keras
    all_x, all_y = keras_sequences(list(f["x_train"][tr]) + list(f["x_test"][te]),
                                   list(f["y_train"][tr]) + list(f["y_test"][te]), **kw)
    n_train = len(xs_tr)
    got = [list(s) for s in raw.train.x["input"]] + [list(s) for s in raw.test.x["input"]]
    assert len(raw.train) == n_train
    assert got == all_x
    np.testing.assert_array_equal(np.concatenate([raw.train.y["output"], raw.test.y["output"]]), all_y)


def test_imdb_multi_hot_and_reuters_split(served, tmp_path):
    b = data_bundle({"dataset": "imdb", "options": {"num_words": 25}, "preprocessing": ["multi_hot"]}, tmp_path)
    assert isinstance(b.train.x, MultiHot) and b.train.x.shape == (30, 25)
    _, files = served
    raw = load_raw({"dataset": "reuters", "options": {"test_split": 0.3}}, tmp_path)
    order = shuffled(50, np.random.RandomState(113))
    xs, ys = keras_sequences(list(files["reuters"]["x"][order]), list(files["reuters"]["y"][order]))
    assert len(raw.train) == int(50 * 0.7)
    assert [list(s) for s in raw.train.x["input"]] == xs[:35]
    np.testing.assert_array_equal(raw.test.y["output"], ys[35:])
    np.testing.assert_array_equal(raw.train.rows, order[:35])


def test_california_housing_versions(served, tmp_path):
    _, files = served
    raw = load_raw({"dataset": "california_housing", "options": {"version": "small"}}, tmp_path)
    order = shuffled(600, np.random.RandomState(113))
    np.testing.assert_array_equal(raw.train.x["input"], files["california"]["x"][:600][order[:480]])
    assert len(raw.test) == 120
    b = data_bundle({"dataset": "california_housing"}, tmp_path)
    assert len(b.train) == int(700 * 0.8) and b.info["task"] == "regression"


def test_corrupt_download_is_retried_once(served, tmp_path):
    _Handler.corrupt_next = 1
    raw = load_raw({"dataset": "mnist"}, tmp_path)
    assert len(raw.train) == 12
    assert _Handler.requests.count("/mnist.npz") == 2


def test_corrupt_twice_is_an_error_and_leaves_nothing(served, tmp_path):
    _Handler.corrupt_next = 2
    with pytest.raises(DataError, match=r"mnist\.npz arrived corrupt twice .*put it at .*cache/mnist\.npz"):
        load_raw({"dataset": "mnist"}, tmp_path)
    assert not any((tmp_path / "cache").iterdir())


def test_keras_cache_file_is_used_without_download(served, tmp_path, monkeypatch):
    root, _ = served
    monkeypatch.delenv("KERAS_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    keras_dir = tmp_path / "home" / ".keras" / "datasets"
    keras_dir.mkdir(parents=True)
    (keras_dir / "mnist.npz").write_bytes((root / "mnist.npz").read_bytes())
    monkeypatch.setenv("NNTRAIN_DATASETS_URL", "http://127.0.0.1:9/")  # nothing listens there
    assert len(load_raw({"dataset": "mnist"}, tmp_path).train) == 12
    # $KERAS_HOME wins over ~/.keras, and Fashion-MNIST sits in its sub-folder there
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    sub = tmp_path / "kh" / "datasets" / "fashion-mnist"
    sub.mkdir(parents=True)
    for name in catalogue.FASHION_FILES:
        (sub / name).write_bytes((root / name).read_bytes())
    assert len(load_raw({"dataset": "fashion_mnist"}, tmp_path).test) == 3
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.gz"))


def test_unreachable_server_names_url_and_path(served, tmp_path, monkeypatch):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("NNTRAIN_DATASETS_URL", f"http://127.0.0.1:{port}/base")
    with pytest.raises(DataError) as exc:
        load_raw({"dataset": "imdb"}, tmp_path)
    msg = str(exc.value)
    assert f"http://127.0.0.1:{port}/base/imdb.npz" in msg
    assert str(tmp_path / "cache" / "imdb.npz") in msg and "by hand" in msg


def test_catalogue_option_errors(served, tmp_path):
    from nntrain.errors import ConfigError

    with pytest.raises(ConfigError, match=r"no option 'num_word' \(did you mean `num_words`\?\)"):
        load_raw({"dataset": "imdb", "options": {"num_word": 10}}, tmp_path)
    with pytest.raises(ConfigError, match="predefined test split"):
        load_raw({"dataset": "mnist", "test_split": 0.1}, tmp_path)


def test_download_helpers_paths(monkeypatch, tmp_path):
    monkeypatch.delenv("NNTRAIN_CACHE_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert download.cache_dir() == tmp_path / ".cache" / "nntrain" / "datasets"
    monkeypatch.delenv("NNTRAIN_DATASETS_URL", raising=False)
    assert download.base_url() == "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
