"""HDF5 checkpoints: one file holds the model, its weights, the optimizer, the training state, the fitted
preprocessing and the history. Written atomically; loading never unpickles anything.

Layout (format version 1) is documented in docs/checkpoint-format.md.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nntrain import __version__
from nntrain.errors import CheckpointError
from nntrain.engine.limits import too_large, unbacked, weights_budget
from nntrain.runs.folder import temporary_path, timestamp

FORMAT = "nntrain-checkpoint"
FORMAT_VERSION = 1


# --- nested trees of JSON values and arrays ------------------------------------------------------------
def _pack(tree, arrays: list):
    """JSON-able copy of `tree` with every numpy array replaced by {"__array__": index}."""
    if isinstance(tree, np.ndarray):
        arrays.append(tree)
        return {"__array__": len(arrays) - 1}
    if isinstance(tree, dict):
        return {str(k): _pack(v, arrays) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return [_pack(v, arrays) for v in tree]
    if isinstance(tree, np.generic):
        return tree.item()
    if isinstance(tree, float) and not np.isfinite(tree):
        return {"__float__": repr(tree)}
    return tree


def _unpack(tree, arrays):
    if isinstance(tree, dict):
        if set(tree) == {"__array__"}:
            return arrays[tree["__array__"]]
        if set(tree) == {"__float__"}:
            return float(tree["__float__"])
        return {k: _unpack(v, arrays) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_unpack(v, arrays) for v in tree]
    return tree


def _write_tree(group, tree) -> None:
    arrays: list = []
    group.attrs["json"] = json.dumps(_pack(tree, arrays))
    for i, a in enumerate(arrays):
        a = np.asarray(a)
        if a.dtype.kind in "US":
            group.create_dataset(str(i), data=a.astype("S"))
            group[str(i)].attrs["str"] = True
        else:
            group.create_dataset(str(i), data=a)


def _read_tree(group):
    arrays = []
    i = 0
    while str(i) in group:
        ds = group[str(i)]
        a = read_dataset(ds)
        if ds.attrs.get("str", False):
            a = np.asarray(a).astype(str)
        arrays.append(np.asarray(a))
        i += 1
    return _unpack(json.loads(group.attrs["json"]), arrays)


def read_dataset(ds) -> np.ndarray:
    """A dataset's values, its declared shape checked first: against the bytes the file stores for it (a crafted
    file declares gigabytes in kilobytes) and this machine's memory. CheckpointError (without the file's name,
    which `load` adds) when it does not fit."""
    import h5py

    if not isinstance(ds, h5py.Dataset):
        raise CheckpointError(f"`{ds.name}` is a group where an array belongs")
    problem = None if h5py.check_vlen_dtype(ds.dtype) is not None else unbacked(ds.shape, ds.dtype,
                                                                                  ds.id.get_storage_size())
    problem = problem or too_large(ds.shape, ds.dtype)
    if problem is not None:
        raise CheckpointError(f"`{ds.name}` {problem}")
    return np.asarray(ds[()])


@dataclass
class Snapshot:
    """What a checkpoint holds, as plain Python / numpy values: captured from a model (arrays copied) to be
    written, or read back from a file (`Checkpoint`)."""

    model_config: dict
    weights: dict[str, dict[str, np.ndarray]]
    dtype: str = "float32"
    optimizer_config: dict | None = None
    optimizer_state: dict[str, np.ndarray] = field(default_factory=dict)
    training_state: dict | None = None
    preprocessing: dict | None = None
    run_config: dict | None = None


@dataclass
class Checkpoint(Snapshot):
    """A snapshot read from a checkpoint file: its path and root attributes (format, versions, created, dtype)."""

    path: Path | None = None
    meta: dict = field(default_factory=dict)

    @property
    def epoch(self) -> int:
        return int(self.training_state["epoch"]) if self.training_state else 0


def _copy_tree(tree):
    if isinstance(tree, np.ndarray):
        return tree.copy()
    if isinstance(tree, dict):
        return {k: _copy_tree(v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_copy_tree(v) for v in tree]
    return tree


def snapshot(model, optimizer=None, training_state: dict | None = None, preprocessing: dict | None = None,
             run_config: dict | None = None) -> Snapshot:
    """Copy the model's weights, the optimizer's slots and the training state as they are now."""
    return Snapshot(
        model_config=model.get_config(),
        dtype=str(model.dtype),
        weights=model.get_weights(),
        optimizer_config=None if optimizer is None else {"name": optimizer.registered_name,
                                                         **_pack(optimizer.get_config(), [])},
        optimizer_state={} if optimizer is None else _copy_tree(dict(optimizer.get_state())),
        training_state=_copy_tree(training_state),
        preprocessing=preprocessing,
        run_config=run_config,
    )


def write(path, snap: Snapshot) -> Path:
    """Write a snapshot atomically: to a temporary file next to `path`, fsync, then rename over it.

    A crash or kill during the write leaves the previous file at `path` untouched.
    """
    import h5py

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = FORMAT
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["nntrain_version"] = __version__
            f.attrs["created"] = timestamp()
            f.attrs["model_config"] = json.dumps(snap.model_config)
            f.attrs["dtype"] = snap.dtype
            w = f.create_group("weights")
            for layer_name, arrays in snap.weights.items():
                g = w.create_group(layer_name)
                for key, value in arrays.items():
                    g.create_dataset(key, data=value)
            if snap.optimizer_config is not None:
                og = f.create_group("optimizer")
                og.attrs["config"] = json.dumps(snap.optimizer_config)
                for key, value in snap.optimizer_state.items():
                    og.create_dataset(f"state/{key}", data=np.asarray(value))
            if snap.training_state is not None:
                _write_tree(f.create_group("training"), snap.training_state)
            if snap.preprocessing is not None:
                _write_tree(f.create_group("preprocessing"), snap.preprocessing)
            if snap.run_config is not None:
                f.attrs["run_config"] = json.dumps(snap.run_config)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        _replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def save(path, model, optimizer=None, training_state: dict | None = None, preprocessing: dict | None = None,
         run_config: dict | None = None) -> Path:
    """Checkpoint a model (and optionally its optimizer and training state) as it is now."""
    return write(path, snapshot(model, optimizer, training_state, preprocessing, run_config))


def _replace(tmp: Path, path: Path) -> None:
    # A separate function so tests can make the final rename fail and check the old file survives.
    os.replace(tmp, path)


def load(path) -> Checkpoint:
    """Read a checkpoint; CheckpointError for a missing, corrupt or foreign file."""
    import h5py

    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder; give a checkpoint file (.h5) or a run folder")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise CheckpointError(f"{path}: not a readable HDF5 checkpoint ({exc})") from None
    with f:
        if f.attrs.get("format") != FORMAT:
            raise CheckpointError(f"{path}: not an nntrain checkpoint (no `format={FORMAT}` attribute)")
        version = int(f.attrs.get("format_version", -1))
        if version > FORMAT_VERSION:
            raise CheckpointError(f"{path}: checkpoint format version {version} is newer than this nntrain "
                                  f"({__version__}) reads (version {FORMAT_VERSION}); upgrade nntrain")
        try:
            weights = {name: {k: read_dataset(ds) for k, ds in _group(g).items()}
                       for name, g in _group(f["weights"]).items()}
            opt_cfg, opt_state = None, {}
            if "optimizer" in f:
                opt_cfg = json.loads(f["optimizer"].attrs["config"])
                if "state" in f["optimizer"]:
                    f["optimizer/state"].visititems(
                        lambda k, obj: opt_state.__setitem__(k, read_dataset(obj)) if hasattr(obj, "shape") else None
                    )
            meta = {k: (v.item() if hasattr(v, "item") else v) for k, v in f.attrs.items()
                    if k in ("format", "format_version", "nntrain_version", "created", "dtype")}
            return Checkpoint(
                path=path,
                model_config=json.loads(f.attrs["model_config"]),
                weights=weights,
                dtype=str(meta.get("dtype", "float32")),
                optimizer_config=opt_cfg,
                optimizer_state=opt_state,
                training_state=_read_tree(f["training"]) if "training" in f else None,
                preprocessing=_read_tree(f["preprocessing"]) if "preprocessing" in f else None,
                run_config=json.loads(f.attrs["run_config"]) if "run_config" in f.attrs else None,
                meta=meta,
            )
        except CheckpointError as exc:
            raise CheckpointError(f"{path}: {exc}; the checkpoint is damaged or was not written by nntrain") from None
        except (KeyError, ValueError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"{path}: damaged checkpoint ({exc})") from None


def _group(obj):
    import h5py

    if not isinstance(obj, h5py.Group):
        raise CheckpointError(f"`{obj.name}` is an array where a layer's group of weights belongs")
    return obj


def model_from_checkpoint(ckpt: Checkpoint, seed: int = 0):
    """Rebuild the model of a checkpoint and load its weights. The model may not take more memory for its weights
    than the checkpoint holds, so a crafted model config cannot allocate more than the file itself."""
    from nntrain.engine.model import Model

    held = sum(int(a.nbytes) for arrays in ckpt.weights.values() for a in arrays.values())
    with weights_budget(cap=held):
        model = Model.from_config(ckpt.model_config, seed=seed, dtype=ckpt.dtype)
    model.set_weights(ckpt.weights)
    return model


def check_finite(ckpt: Checkpoint) -> None:
    """CheckpointError when a weight holds NaN or infinite values (a run that diverged): its outputs mean nothing."""
    bad = [f"{layer}/{key}" for layer, arrays in ckpt.weights.items() for key, a in arrays.items()
           if a.dtype.kind in "fc" and not np.isfinite(a).all()]
    if bad:
        shown = ", ".join(bad[:4]) + (f" and {len(bad) - 4} more" if len(bad) > 4 else "")
        raise CheckpointError(f"{ckpt.path}: weights {shown} hold NaN or infinite values: the run diverged before "
                              f"this checkpoint was written, and its outputs would mean nothing. Use an earlier "
                              f"checkpoint (--checkpoint best or last) or train again (a lower learning rate, "
                              f"clipnorm)")


def snapshot_trainer(trainer) -> Snapshot:
    """Everything a Trainer needs to resume exactly (extras: run config and preprocessing), copied now."""
    model = trainer.model
    return snapshot(model, optimizer=model.optimizer, training_state=trainer.get_state(),
                    preprocessing=trainer.extras.get("preprocessing"), run_config=trainer.extras.get("config"))


def save_trainer(path, trainer) -> Path:
    """Checkpoint a Trainer as it is now (see `snapshot_trainer`), atomically."""
    return write(path, snapshot_trainer(trainer))


def restore_trainer(trainer, ckpt: Checkpoint) -> None:
    """Load weights, optimizer slots and training state into a freshly built trainer."""
    trainer.model.set_weights(ckpt.weights)
    if ckpt.optimizer_state:
        trainer.model.optimizer.set_state(ckpt.optimizer_state)
    if ckpt.training_state is not None:
        trainer.set_state(ckpt.training_state)
