"""HDF5 checkpoints: one file holds the model, its weights, the optimizer, the training state, the fitted
preprocessing and the history. Written atomically; loading never unpickles anything.

Layout (format version 1) is documented in docs/checkpoint-format.md.
"""

from __future__ import annotations

import json
import os
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nntrain import __version__
from nntrain.errors import CheckpointError
from nntrain.engine.limits import too_large, unbacked, weights_budget
from nntrain.runs.folder import check_free_space, free_space, storage_error, temporary_path, timestamp

FORMAT = "nntrain-checkpoint"
FORMAT_VERSION = 1
ROOMY = 64 * 2**20  # free bytes beyond twice a checkpoint's size at which HDF5 may write the file itself


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
            index = tree["__array__"]
            if not isinstance(index, int) or not 0 <= index < len(arrays):
                raise ValueError(f"array reference {index!r}, but {len(arrays)} arrays are stored")
            return arrays[index]
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


def estimated_size(snap: Snapshot) -> int:
    """An upper estimate of the file `write` makes, in bytes: the arrays, the JSON, and 1 KB of HDF5 bookkeeping per
    dataset and group (measured: 0.6-0.8 KB), plus 8 KB."""
    arrays: list = []
    text = json.dumps([_pack(t, arrays) for t in (snap.training_state, snap.preprocessing)])
    text += json.dumps([snap.model_config, snap.optimizer_config, snap.run_config])
    datasets = [a for w in snap.weights.values() for a in w.values()] + list(snap.optimizer_state.values()) + arrays
    groups = len(snap.weights) + len({k.rsplit("/", 1)[0] for k in snap.optimizer_state}) + 6
    return sum(np.asarray(a).nbytes for a in datasets) + len(text) + 1024 * (len(datasets) + groups) + 8192


def write(path, snap: Snapshot) -> Path:
    """Write a snapshot atomically: to a temporary file next to `path`, fsync, then rename over it.

    A crash or kill during the write leaves the previous file at `path` untouched. HDF5 can crash on a full disk, so
    a disk known to be too full is refused before HDF5 starts, and on a nearly full one HDF5 builds the file in
    memory and Python writes it out. Any failed write raises StorageError, the temporary file removed.
    """
    import h5py

    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise storage_error(exc, path) from None
    needed = estimated_size(snap)
    check_free_space(path.parent, needed, path)
    tmp = temporary_path(path)
    try:
        free = free_space(path.parent)
        if free is None or free > 2 * needed + ROOMY:
            with h5py.File(tmp, "w") as f:
                _fill(f, snap)
        else:
            with h5py.File(str(tmp), "w", driver="core", backing_store=False) as f:
                _fill(f, snap)
                f.flush()
                image = f.id.get_file_image()
            tmp.write_bytes(image)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        _replace(tmp, path)
    except (OSError, RuntimeError) as exc:  # h5py reports a failed write as either
        raise storage_error(exc, path) from None
    finally:
        with suppress(OSError):
            tmp.unlink(missing_ok=True)
    return path


def _fill(f, snap: Snapshot) -> None:
    """The content of a checkpoint file (docs/checkpoint-format.md) from a snapshot."""
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


def save(path, model, optimizer=None, training_state: dict | None = None, preprocessing: dict | None = None,
         run_config: dict | None = None) -> Path:
    """Checkpoint a model (and optionally its optimizer and training state) as it is now."""
    return write(path, snapshot(model, optimizer, training_state, preprocessing, run_config))


def _replace(tmp: Path, path: Path) -> None:
    # A separate function so tests can make the final rename fail and check the old file survives.
    os.replace(tmp, path)


def _check_layout(f, path: Path) -> None:
    """The parts of the layout (docs/checkpoint-format.md) that loading relies on, without reading any array: the
    format version, one group of numeric datasets per layer, numeric optimizer slots, the dtype."""
    import h5py

    version = f.attrs.get("format_version", -1)
    if isinstance(version, (bytes, str)) or not np.issubdtype(np.asarray(version).dtype, np.integer):
        raise CheckpointError(f"{path}: damaged checkpoint (format_version {version!r} is not a version number)")
    if int(version) > FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format version {int(version)} is newer than this nntrain "
                              f"({__version__}) reads (version {FORMAT_VERSION}); upgrade nntrain")
    if f.attrs.get("dtype", "float32") not in ("float32", "float64"):
        raise CheckpointError(f"{path}: damaged checkpoint (dtype {f.attrs['dtype']!r}; expected float32 or float64)")
    if not isinstance(f.get("weights"), h5py.Group):
        raise CheckpointError(f"{path}: damaged checkpoint (no `weights` group)")
    found: list[tuple[str, object]] = []
    for name, layer in f["weights"].items():
        if not isinstance(layer, h5py.Group):
            raise CheckpointError(f"{path}: damaged checkpoint (weights/{name} is a dataset; each layer is a group "
                                  f"of arrays)")
        found += [(f"weights/{name}/{key}", obj) for key, obj in layer.items()]
    if isinstance(f.get("optimizer/state"), h5py.Group):
        f["optimizer/state"].visititems(lambda key, obj: found.append((f"optimizer/state/{key}", obj)))
    for where, obj in found:
        if isinstance(obj, h5py.Dataset) and obj.dtype.kind not in "biuf":
            raise CheckpointError(f"{path}: damaged checkpoint ({where} holds {obj.dtype} values, not numbers)")
        if not isinstance(obj, (h5py.Dataset, h5py.Group)) or (isinstance(obj, h5py.Group) and
                                                              where.startswith("weights/")):
            raise CheckpointError(f"{path}: damaged checkpoint ({where} is not an array)")


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
        _check_layout(f, path)
        try:
            weights = {name: {k: read_dataset(ds) for k, ds in g.items()}  # groups: _check_layout saw to it
                       for name, g in f["weights"].items()}
            opt_cfg, opt_state = None, {}
            if "optimizer" in f:
                opt_cfg = json.loads(f["optimizer"].attrs["config"])
                if "state" in f["optimizer"]:
                    f["optimizer/state"].visititems(
                        lambda k, obj: opt_state.__setitem__(k, read_dataset(obj)) if hasattr(obj, "shape") else None
                    )
            meta = {k: (v.item() if hasattr(v, "item") else v) for k, v in f.attrs.items()
                    if k in ("format", "format_version", "nntrain_version", "created", "dtype")}
            training = _read_tree(f["training"]) if "training" in f else None
            if training is not None and not (isinstance(training, dict) and isinstance(training.get("epoch"), int)):
                raise ValueError("the training state has no epoch number")
            return Checkpoint(
                path=path,
                model_config=json.loads(f.attrs["model_config"]),
                weights=weights,
                dtype=str(meta.get("dtype", "float32")),
                optimizer_config=opt_cfg,
                optimizer_state=opt_state,
                training_state=training,
                preprocessing=_read_tree(f["preprocessing"]) if "preprocessing" in f else None,
                run_config=json.loads(f.attrs["run_config"]) if "run_config" in f.attrs else None,
                meta=meta,
            )
        except CheckpointError as exc:
            raise CheckpointError(f"{path}: {exc}; the checkpoint is damaged or was not written by nntrain") from None
        except (KeyError, ValueError, TypeError, IndexError, AttributeError, RuntimeError, OSError,
                json.JSONDecodeError) as exc:  # a tampered or damaged file: whatever the layout check could not see
            raise CheckpointError(f"{path}: damaged checkpoint ({type(exc).__name__}: {exc})") from None


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
    """Load weights, optimizer slots and training state into a freshly built trainer.

    Raises:
        CheckpointError: a training state (epoch, generators, history, callback state) or optimizer state that
            cannot be restored: the file was damaged or edited.
    """
    try:
        trainer.model.set_weights(ckpt.weights)
        if ckpt.optimizer_state:
            trainer.model.optimizer.set_state(ckpt.optimizer_state)
        if ckpt.training_state is not None:
            trainer.set_state(ckpt.training_state)
    except (KeyError, ValueError, TypeError, IndexError, AttributeError, OverflowError) as exc:
        raise CheckpointError(f"{ckpt.path}: damaged checkpoint: its training state cannot be restored "
                              f"({type(exc).__name__}: {exc}); resume from another copy, or train anew") from None
