"""A trained run back from its folder or checkpoint, and its raw model outputs decoded into classes and values.

    trained = load_trained("runs/iris")            # best.h5 (last.h5 when the run had no validation set)
    outs = trained.model.predict_on_batch(xs)      # one array per model output
    decoded = [decode(o, out) for o, out in zip(trained.outputs, outs)]

`nntrain predict` and `nntrain evaluate` both read model outputs through `decode`, so a class, a label set or a value
means the same in a predictions file as in an evaluation report.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nntrain.engine.ops import sigmoid, softmax
from nntrain.errors import CheckpointError, NNTrainError
from nntrain.runs.folder import read_json

CHECKPOINTS = ("best", "last")
CLASS_TASKS = ("binary", "multiclass")


@dataclass
class Output:
    """One output of a trained model, as predict and evaluate need it.

    Attributes:
        name: the output's name in the data section (the preprocessor's; the model's too when there are several).
        task: "binary", "multiclass", "multilabel" or "regression".
        pipeline: the fitted OutputPipeline (target encoder and target steps).
        logits: whether the run's loss read this output as logits (the model emits logits, not probabilities).
        width: values per row the model emits for it (1 for a single sigmoid unit).
        classes: one name per probability column (class or label names); None for regression.
    """

    name: str
    task: str
    pipeline: object
    logits: bool
    width: int
    classes: list[str] | None = None


@dataclass
class Trained:
    """A compiled model with its fitted preprocessing, and where it came from.

    Attributes:
        model: the engine Model, compiled with the run's loss and metrics.
        preprocessor: the Preprocessor fitted in training.
        config: the run's resolved config (data paths absolute).
        checkpoint: the loaded Checkpoint; checkpoint_path its file; which: "best", "last" or the file's stem.
        run_dir: the run folder, or None for a checkpoint file outside one.
        base_dir: where the run's relative data paths point.
        note: why another checkpoint than the one asked for was used, or "".
        kind: run.json's kind ("kfold-fold", "kfold-refit"), or "run".
    """

    model: object
    preprocessor: object
    config: dict
    checkpoint: object
    checkpoint_path: Path
    which: str
    run_dir: Path | None
    base_dir: Path
    note: str = ""
    kind: str = "run"

    @property
    def outputs(self) -> list[Output]:
        """The model's outputs in its own output order (the order of `predict_on_batch`'s arrays)."""
        pre, model = self.preprocessor, self.model
        single = len(pre.outputs) == 1
        # the preprocessor names outputs as the data section does; the model orders them by its output layers
        names = [next(iter(pre.outputs))] if single else list(model.output_names)
        result = []
        for name, model_name in zip(names, model.output_names):
            pipeline = pre.outputs[name]
            task = pipeline.encoder.task
            width = int(np.prod(model.shapes[model_name])) or 1
            classes = None
            if task in CLASS_TASKS or task == "multilabel":
                k = 2 if task in CLASS_TASKS and width == 1 else width  # one sigmoid unit: two classes
                classes = list(pipeline.encoder.class_names or [str(i) for i in range(k)])
            result.append(Output(name, task, pipeline, _from_logits(self.config, name, single), width, classes))
        return result


def _run_folder_of(path: Path) -> Path | None:
    """runs/NAME for runs/NAME/checkpoints/X.h5, else None."""
    folder = path.resolve().parent
    if folder.name == "checkpoints" and (folder.parent / "config.yaml").exists():
        return folder.parent
    return None


def find_checkpoint(target, which: str = "best") -> tuple[Path, Path | None, str, str]:
    """(checkpoint file, run folder or None, "best"/"last"/stem, note) for a run folder or a checkpoint file.

    A run folder gives checkpoints/<which>.h5; "best" falls back to last.h5 when the run had no validation set.
    """
    path = Path(target)
    if which not in CHECKPOINTS:
        raise CheckpointError(f"--checkpoint expects one of {', '.join(CHECKPOINTS)}, got {which!r}")
    if not path.exists():
        raise CheckpointError(f"{path}: no such run folder or checkpoint file; give a folder `nntrain fit` made "
                              f"(e.g. runs/NAME) or a checkpoint (.h5)")
    if path.is_file():
        return path, _run_folder_of(path), path.stem, ""
    if (path / "kfold.json").exists():
        raise CheckpointError(f"{path} is a k-fold folder; give one of its runs: {path / 'fold-1'}"
                              + (f" or {path / 'refit'}" if (path / "refit").exists() else ""))
    folder = path / "checkpoints"
    if not (path / "config.yaml").exists() or not folder.is_dir():
        raise CheckpointError(f"{path}: not a run folder (no config.yaml and checkpoints/); give a folder "
                              f"`nntrain fit` made, e.g. runs/NAME, or a checkpoint file")
    chosen = folder / f"{which}.h5"
    if chosen.exists():
        return chosen, path, which, ""
    last = folder / "last.h5"
    if which == "best" and last.exists():
        return last, path, "last", "no best.h5 (the run had no validation set): used last.h5"
    raise CheckpointError(f"{path}: no checkpoint {chosen.name} in {folder}")


def compile_from_config(model, config: dict, where: Path) -> None:
    """Attach the run's loss, optimizer and metrics, so evaluation computes exactly what training logged."""
    try:
        model.compile(loss=config["loss"], optimizer=dict(config["optimizer"]), metrics=config["metrics"],
                      loss_weights=config.get("loss_weights"))
    except (KeyError, NNTrainError) as exc:
        raise CheckpointError(f"{where}: cannot rebuild the training setup from the stored config ({exc})") from None


def load_trained(target, which: str = "best") -> Trained:
    """The model, preprocessing and config of a run folder or checkpoint file, ready to predict and evaluate.

    Raises:
        CheckpointError: no such folder/file, not a run folder, a checkpoint without config or preprocessing.
    """
    from nntrain.data import Preprocessor
    from nntrain.runs.checkpoint import check_finite, load, model_from_checkpoint

    path, run_dir, used, note = find_checkpoint(target, which)
    ckpt = load(path)
    check_finite(ckpt)
    config = ckpt.run_config
    if config is None and run_dir is not None:
        import yaml

        config = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
    if not config:
        raise CheckpointError(f"{path}: the checkpoint holds no run config; was it written by `nntrain fit`?")
    if not ckpt.preprocessing:
        raise CheckpointError(f"{path}: the checkpoint holds no preprocessing state; was it written by `nntrain fit`?")
    try:
        model = model_from_checkpoint(ckpt, seed=int(config.get("seed") or 0))
    except Exception as exc:  # a config this nntrain cannot rebuild: name the file, not a traceback
        raise CheckpointError(f"{path}: cannot rebuild the model ({exc})") from None
    compile_from_config(model, config, path)
    base_dir = run_dir if run_dir is not None else path.parent
    info_path = run_dir / "run.json" if run_dir is not None else None
    info = read_json(info_path) if info_path is not None and info_path.exists() else {}
    base_dir = Path(info.get("config_dir") or base_dir)
    pre = Preprocessor.from_state(ckpt.preprocessing)
    return Trained(model, pre, config, ckpt, path, used, run_dir, base_dir, note, str(info.get("kind") or "run"))


def _from_logits(config: dict, output: str, single: bool) -> bool:
    """Whether the loss of `output` was computed from logits (so the model emits logits, not probabilities)."""
    loss = config.get("loss")
    if isinstance(loss, dict) and "name" not in loss:
        loss = loss.get(output) if not single else next(iter(loss.values()), None)
    return bool(isinstance(loss, dict) and loss.get("from_logits"))


# --- from model outputs to classes, label sets and values ------------------------------------------------
@dataclass
class Decoded:
    """What one output's model values say, in the terms of its task.

    Attributes:
        probs: binary/multiclass (rows, classes) class probabilities; multilabel (rows, labels) per-label
            probabilities; None for regression.
        index: binary/multiclass (rows,) the most likely class; else None.
        on: multilabel (rows, labels) bool, the labels whose probability is over 0.5; else None.
        values: regression float64 (rows, ...) values, in raw target units when `raw_units`, else as the model
            emits them (a target step that cannot be undone); None for the other tasks.
        raw_units: whether `values` are in the units of the raw target.
    """

    probs: np.ndarray | None = None
    index: np.ndarray | None = None
    on: np.ndarray | None = None
    values: np.ndarray | None = None
    raw_units: bool = False


def decode_classes(out: np.ndarray, logits: bool = False) -> Decoded:
    """Class probabilities and the most likely class of a binary/multiclass output.

    Args:
        out: (rows, k) softmax outputs, or (rows,)/(rows, 1) sigmoid outputs: a single unit p gives the two
            classes [1 - p, p]. logits: `out` holds logits (softmax/sigmoid are applied here).
    """
    out = np.asarray(out, np.float64)
    if out.ndim == 1 or out.shape[-1] == 1:
        p = out.reshape(len(out))
        if logits:
            p = sigmoid(p)
        probs = np.stack([1.0 - p, p], axis=1)
    else:
        probs = softmax(out, axis=-1) if logits else out
    return Decoded(probs=probs, index=probs.argmax(axis=1))


def decode_labels(out: np.ndarray, logits: bool = False) -> Decoded:
    """Per-label probabilities of a multilabel output (rows, labels), and the labels that are on (over 0.5)."""
    probs = np.asarray(out, np.float64)
    if logits:
        probs = sigmoid(probs)
    return Decoded(probs=probs, on=probs > 0.5)


def decode_values(pipeline, out: np.ndarray) -> Decoded:
    """Regression outputs back in the units of the raw target, undoing the target steps (standardize, minmax,
    rescale); left as the model emits them (raw_units False) when a step cannot be undone."""
    raw = pipeline.inverse_transform(out)
    if raw is None:
        return Decoded(values=np.asarray(out, np.float64), raw_units=False)
    return Decoded(values=raw, raw_units=True)


def decode(output: Output, out: np.ndarray) -> Decoded:
    """One model output (rows, ...) decoded by its task (see `decode_classes`, `decode_labels`, `decode_values`)."""
    if output.task in CLASS_TASKS:
        return decode_classes(out, output.logits)
    if output.task == "multilabel":
        return decode_labels(out, output.logits)
    return decode_values(output.pipeline, out)


def require_training(trained: Trained) -> None:
    """CheckpointError when the checkpoint holds a model that never finished an epoch (a run stopped or failed in
    its first epoch keeps its initial weights in last.h5, so it can be resumed): scoring it would score chance."""
    if int(trained.checkpoint.epoch or 0) > 0:
        return
    where = trained.run_dir or trained.checkpoint_path
    resume = f"; train it further with: nntrain fit --resume {trained.run_dir}" if trained.run_dir else ""
    raise CheckpointError(f"{where}: the run never finished an epoch ({trained.checkpoint_path.name} holds its initial "
                          f"weights), so there is nothing trained to use{resume}")
