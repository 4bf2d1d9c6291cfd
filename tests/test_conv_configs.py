"""The convnet configs end to end on tiny data: configs/fashion_mnist_cnn.yaml on a few Fashion-MNIST-format
images (IDX files in the cache, as Keras keeps them) through fit -> checkpoint -> evaluate -> predict from .npy
images -> exact resume, and configs/digits_cnn.yaml one epoch on the bundled digits."""

from __future__ import annotations

import csv
import hashlib
import json

import numpy as np
import pytest

from nntrain.data.sources import catalogue
from tests.data_helpers import idx_bytes
from tests.hardening import assert_user_error
from tests.helpers import ROOT, invoke
from tests.test_fit_cli import history_rows, weights_of

FASHION = ROOT / "configs" / "fashion_mnist_cnn.yaml"


@pytest.fixture(scope="module")
def fashion(tmp_path_factory):
    """A working folder whose cache holds 48 training and 16 test images of Fashion-MNIST's format (28x28 uint8,
    labels 0-9): a bright square whose position gives the label, so even two epochs learn something."""
    root = tmp_path_factory.mktemp("fashion")
    rng = np.random.default_rng(0)

    def images(labels):
        x = rng.integers(0, 40, (len(labels), 28, 28))
        for i, label in enumerate(labels):
            r, c = divmod(int(label), 5)
            x[i, 4 + 10 * r:12 + 10 * r, 1 + 5 * c:5 + 5 * c] = 250
        return x

    y_train, y_test = np.arange(48) % 10, np.arange(16) % 10
    arrays = {"train-labels-idx1-ubyte.gz": y_train, "train-images-idx3-ubyte.gz": images(y_train),
              "t10k-labels-idx1-ubyte.gz": y_test, "t10k-images-idx3-ubyte.gz": images(y_test)}
    folder = root / "cache" / "fashion-mnist"
    folder.mkdir(parents=True)
    hashes = {}
    for name, a in arrays.items():
        data = idx_bytes(a)
        (folder / name).write_bytes(data)
        hashes[name] = hashlib.sha256(data).hexdigest()
    env = {"NNTRAIN_CACHE_DIR": str(root / "cache"), "NNTRAIN_DATASETS_URL": "http://127.0.0.1:9/unreachable"}
    with pytest.MonkeyPatch.context() as mp:
        for name, digest in hashes.items():
            mp.setitem(catalogue.SHA256, name, digest)
        yield root, env, arrays


def _fit(fashion, name: str, *args):
    root, env, _ = fashion
    result = invoke("fit", FASHION, "--set", f"name={name}", *args, cwd=root, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return root / "runs" / name


@pytest.fixture(scope="module")
def trained(fashion):
    return _fit(fashion, "cnn", "--set", "training.epochs=2")


def test_fashion_convnet_trains_evaluates_and_predicts_npy_images(fashion, trained):
    root, env, arrays = fashion
    run = trained
    assert "(None, 13, 13, 32)" in (run / "summary.txt").read_text()
    assert "34,826" in (run / "summary.txt").read_text()
    evaluated = invoke("evaluate", run, "--json", cwd=root, env=env)
    assert evaluated.returncode == 0, evaluated.stderr
    accuracy = json.loads(evaluated.stdout)["metrics"]["accuracy"]

    # new images as a user has them: raw 0-255 pixels, (n, 28, 28) as the dataset or (n, 28, 28, 1) as the model
    test_images = arrays["t10k-images-idx3-ubyte.gz"].astype(np.uint8)
    np.save(root / "flat.npy", test_images)
    np.save(root / "channels.npy", test_images[..., None])
    predicted = []
    for name in ("flat", "channels"):
        out = root / f"{name}.csv"
        result = invoke("predict", run, root / f"{name}.npy", "-o", out, "--proba", cwd=root, env=env)
        assert result.returncode == 0, result.stderr
        with open(out, newline="") as f:
            predicted.append(list(csv.DictReader(f)))
    assert predicted[0] == predicted[1] and len(predicted[0]) == 16
    classes = catalogue.FASHION_CLASSES
    labels = [classes.index(row["prediction"]) for row in predicted[0]]
    # the stored rescale and reshape were applied: predictions agree with evaluate's accuracy on the same images
    assert np.mean(np.array(labels) == arrays["t10k-labels-idx1-ubyte.gz"]) == pytest.approx(accuracy)
    probabilities = np.array([[float(row[f"p_{c}"]) for c in classes] for row in predicted[0]])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_fashion_convnet_resumes_bit_for_bit(fashion, trained):
    cut = _fit(fashion, "cut", "--set", "training.epochs=1")
    root, env, _ = fashion
    resumed = invoke("fit", "--resume", cut, "--set", "training.epochs=2", cwd=root, env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert history_rows(cut) == history_rows(trained)
    a, b = weights_of(trained / "checkpoints" / "last.h5"), weights_of(cut / "checkpoints" / "last.h5")
    assert a.keys() == b.keys() and any("conv2d_1" in k for k in a)
    for key in a:
        assert np.array_equal(a[key], b[key]), key


def test_digits_convnet_trains_one_epoch(tmp_path):
    result = invoke("fit", ROOT / "configs" / "digits_cnn.yaml", "--set", "training.epochs=1", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    (row,) = history_rows(tmp_path / "runs" / "digits_cnn")
    assert float(row["val_accuracy"]) > 0.3  # ten classes: one epoch of a convnet is far above chance


@pytest.mark.parametrize("change,fragments", [
    ("model.layers.0.Conv2D.data_format=channels_first",
     ["digits_cnn.yaml:", "model.layers.0", "Conv2D(data_format=...) supports 'channels_last' only"]),
    ("model.layers.0.Conv2D.kernel_size=[3, 3, 3]", ["model.layers.0", "Conv2D(kernel_size=...)"]),
    ("data.preprocessing.1.reshape.shape=[64]",
     ["digits_cnn.yaml:", "(Conv2D) cannot take input of shape (None, 64)", "(None, height, width, channels)"]),
    ("model.layers.3.MaxPooling2D.pool_size=5", ["(MaxPooling2D) cannot take input of shape (None, 4, 4, 64)",
                                                 "at least as large as the window"]),
])
def test_config_mistakes_are_one_located_error(tmp_path, change, fragments):
    result = invoke("check", ROOT / "configs" / "digits_cnn.yaml", "--set", change, cwd=tmp_path)
    assert_user_error(result, *fragments)


def test_fashion_convnet_predicts_image_files(fashion, trained):
    image = pytest.importorskip("PIL.Image")
    root, env, arrays = fashion
    pixels = arrays["t10k-images-idx3-ubyte.gz"][:2].astype(np.uint8)
    np.save(root / "two.npy", pixels)
    image.fromarray(pixels[0]).save(root / "grey.png")
    image.fromarray(np.repeat(pixels[1][..., None], 3, axis=2)).save(root / "colour.png")  # RGB: read as grey
    image.fromarray(pixels[0][:20]).save(root / "small.png")

    def predict(name):
        result = invoke("predict", trained, root / name, "--format", "jsonl", "--proba", cwd=root, env=env)
        return result, [json.loads(line) for line in result.stdout.splitlines()]

    _, from_array = predict("two.npy")
    for i, name in enumerate(("grey.png", "colour.png")):
        result, rows = predict(name)
        assert result.returncode == 0, result.stderr
        (row,) = rows
        assert row["prediction"] == from_array[i]["prediction"]
        # the same pixels as the array's row i (a batch of one sums in another order: float32 rounding)
        assert {k: pytest.approx(v, abs=1e-6) for k, v in row.items() if k.startswith("p_")} == {
            k: v for k, v in from_array[i].items() if k.startswith("p_")}
    assert_user_error(predict("small.png")[0], "small.png", "expects samples of shape (28, 28)", "got (20, 28)")
