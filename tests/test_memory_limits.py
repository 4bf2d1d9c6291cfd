"""Bounded memory for untrusted sizes: a Dense of absurd width, NPY/NPZ headers, HDF5 data files and checkpoints are
checked BEFORE anything is allocated, and object arrays are refused without unpickling anything. Each through the
CLI: exit 2, one `error:` paragraph, no traceback; the crafted files through a real process, with time and memory."""

from __future__ import annotations

import json
import shutil
import zipfile

import h5py
import numpy as np
import pytest

from nntrain.engine import limits
from nntrain.config import load_config
from nntrain.config.build import build_model
from nntrain.errors import ShapeError
from tests.hardening import assert_user_error, invoke, iris_config, peak_memory_cli

@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small iris run (runs/iris) to craft checkpoints from."""
    root = tmp_path_factory.mktemp("trained")
    (root / "iris.yaml").write_text(iris_config())
    assert invoke("fit", "iris.yaml", "-q", cwd=root).returncode == 0
    (root / "new.csv").write_text("sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n")
    return root


def crafted_run(root, name: str, edit) -> str:
    """runs/<name>: a copy of runs/iris whose checkpoints `edit(h5py.File)` changed."""
    run = root / "runs" / name
    shutil.copytree(root / "runs" / "iris", run)
    for ckpt in ("best.h5", "last.h5"):
        with h5py.File(run / "checkpoints" / ckpt, "a") as f:
            edit(f)
    return f"runs/{name}"


# --- the model --------------------------------------------------------------------------------------------
def test_a_dense_of_absurd_width_is_a_config_error_naming_its_memory(tmp_path):
    (tmp_path / "wide.yaml").write_text(iris_config(units=2_000_000_000))
    err = assert_user_error(invoke("check", "wide.yaml", cwd=tmp_path), "wide.yaml:6:7  model.layers.0: layer "
                            "`dense` (Dense): a weight of shape (4, 2000000000) (float32) needs 29.8 GiB")
    assert "2,147,483,648 values" in err


def test_weights_are_counted_together_against_memory(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "physical_memory", lambda: 4 * 100_000 * 4 + 1000)  # room for 100,000 values
    (tmp_path / "two.yaml").write_text(iris_config(units=15000))  # 75,000 + 45,003 values: each fits alone
    cfg = load_config(tmp_path / "two.yaml")
    with pytest.raises(ShapeError, match=r"layer `dense_1` \(Dense\): a weight of shape \(15000, 3\) .* with the "
                                         r"293.0 KiB of weights before it, training needs .*more than this machine"):
        build_model(cfg, {"input": {"shape": [4]}})


# --- NPY / NPZ ----------------------------------------------------------------------------------------------
def huge_npy_bytes(shape=(10**12, 4)) -> bytes:
    """An .npy header declaring `shape` float64, followed by 64 bytes."""
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": shape})
    return buf.getvalue() + b"\0" * 64


@pytest.mark.parametrize("suffix", ["npy", "npz"])
def test_a_huge_npy_header_is_refused_before_allocating(trained, suffix):
    path = trained / f"huge.{suffix}"
    if suffix == "npy":
        path.write_bytes(huge_npy_bytes())
    else:
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("x.npy", huge_npy_bytes())
            z.writestr("y.npy", huge_npy_bytes((10**12,)))
    result, seconds, mib = peak_memory_cli("predict", "runs/iris", path.name, cwd=trained)
    assert_user_error(result, "its header declares shape (1000000000000, 4) (float64, 29.1 TiB), but only 64 B of "
                              "data follow it")
    assert mib < 150, mib
    print(f"huge .{suffix} header (10^12, 4): predict refused it in {seconds:.2f}s, peak {mib} MiB")
    (trained / "train.yaml").write_text(iris_config().replace("dataset: iris", f"train: {path.name}"))
    assert_user_error(invoke("fit", "train.yaml", cwd=trained), "train.yaml:3:15  data.train: ", "header declares")


@pytest.mark.parametrize("suffix", ["npy", "npz"])
def test_object_arrays_are_refused_without_unpickling(trained, suffix, capsys):
    class Loud:
        def __reduce__(self):
            return (print, ("unpickled!",))

    bad = np.empty(2, dtype=object)
    bad[:] = [Loud(), [1, 2]]
    if suffix == "npy":
        np.save(trained / "obj.npy", bad)
    else:
        np.savez(trained / "obj.npz", x=bad, y=np.array([0, 1]))
    result = invoke("predict", "runs/iris", f"obj.{suffix}", cwd=trained)
    assert_user_error(result, "holds Python objects (dtype object), which nntrain never reads")
    assert "unpickled!" not in capsys.readouterr().out + result.stdout


def test_no_unpickler_is_left():
    import nntrain.data.formats.npy as npy

    source = open(npy.__file__).read()
    assert "Unpickler" not in source and "import pickle" not in source


# --- HDF5 data files ------------------------------------------------------------------------------------
def test_an_hdf5_dataset_declaring_more_than_it_stores_is_refused(trained):
    with h5py.File(trained / "crafted.h5", "w") as f:
        f.create_dataset("x", shape=(10**9, 4), dtype="float64", chunks=(1024, 4), compression="gzip")
        f["y"] = np.zeros(3)
    result, seconds, mib = peak_memory_cli("predict", "runs/iris", "crafted.h5", cwd=trained)
    assert_user_error(result, "crafted.h5: dataset 'x' declares shape (1000000000, 4) (float64, 29.8 GiB) but stores "
                              "only 0 B")
    assert mib < 150, mib
    (trained / "h5.yaml").write_text(iris_config().replace("dataset: iris", "train: crafted.h5"))
    assert_user_error(invoke("fit", "h5.yaml", cwd=trained), "data.train: ", "declares shape (1000000000, 4)")


def test_an_hdf5_group_where_a_dataset_belongs(trained):
    with h5py.File(trained / "group.h5", "w") as f:
        f.create_group("x")
        f["y"] = np.zeros(3)
    assert_user_error(invoke("predict", "runs/iris", "group.h5", cwd=trained), "'x' is a group, not a dataset")


# --- checkpoints ----------------------------------------------------------------------------------------
def _huge_kernel(f):
    del f["weights/dense/kernel"]
    ds = f.create_dataset("weights/dense/kernel", shape=(32768, 32768), dtype="float32", chunks=(1024, 1024),
                          compression="gzip")
    ds[:1024, :1024] = np.zeros((1024, 1024), np.float32)


@pytest.mark.parametrize("command", ["evaluate", "predict", "weights", "resume"])
def test_a_checkpoint_declaring_a_huge_shape_is_refused_at_once(trained, command):
    run = crafted_run(trained, f"huge-{command}", _huge_kernel)
    args = {"evaluate": ["evaluate", run], "predict": ["predict", run, "new.csv"],
            "weights": ["fit", "iris.yaml", "--weights", f"{run}/checkpoints/best.h5", "-q"],
            "resume": ["fit", "--resume", run, "-q"]}[command]
    result, seconds, mib = peak_memory_cli(*args, cwd=trained)
    assert_user_error(result, "`/weights/dense/kernel` declares shape (32768, 32768) (float32, 4.0 GiB) but stores "
                              "only", "the checkpoint is damaged or was not written by nntrain")
    assert mib < 150 and seconds < 30, (mib, seconds)
    print(f"crafted checkpoint (32768, 32768) via {command}: refused in {seconds:.2f}s, peak {mib} MiB")


def test_a_checkpoint_model_larger_than_its_weights_is_not_built(trained):
    def wider(f):
        cfg = json.loads(f.attrs["model_config"])
        cfg["layers"][0]["config"]["units"] = 30_000_000
        f.attrs["model_config"] = json.dumps(cfg)

    run = crafted_run(trained, "wider", wider)
    assert_user_error(invoke("evaluate", run, cwd=trained), "cannot rebuild the model", "a weight of shape "
                      "(4, 30000000) (float32) needs 457.8 MiB: with the weights before it, more than the 268 B the "
                      "checkpoint holds")


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_nan_or_inf_weights_are_refused_by_evaluate_and_predict(trained, value):
    def poison(f):
        kernel = f["weights/dense_1/kernel"]
        kernel[0, 0] = value

    run = crafted_run(trained, f"poisoned-{value}", poison)
    for args in (["evaluate", run], ["predict", run, "new.csv"]):
        assert_user_error(invoke(*args, cwd=trained), "weights dense_1/kernel hold NaN or infinite values: the run "
                          "diverged", "--checkpoint best or last")


def test_a_layer_stored_as_an_array_is_a_damaged_checkpoint(trained):
    def flatten(f):
        del f["weights/dense"]
        f["weights/dense"] = np.zeros(3)

    run = crafted_run(trained, "flat", flatten)
    assert_user_error(invoke("evaluate", run, cwd=trained), "damaged checkpoint", "weights/dense is a dataset")
