"""`nntrain export`: a trained run's model as a file other tools open: Keras (.keras, or the legacy .h5 of
`model.save("model.h5")`, with the preprocessing as JSON beside it) or ONNX (nntrain.interop.onnx_export, the
preprocessing folded into the graph as an option).

    export("runs/iris", Path("iris.keras"))                 # -> what was written, for the report
"""

from __future__ import annotations

from pathlib import Path

from nntrain import __version__
from nntrain.errors import ConfigError
from nntrain.runs.folder import timestamp, write_json
from nntrain.runs.trained import load_trained

FORMATS = {"keras": (".keras", ".h5"), "onnx": (".onnx",)}


def export_format(out: Path, fmt: str | None) -> str:
    """keras or onnx: `fmt` when given, else from the file's suffix; the suffix must fit the format."""
    by_suffix = {suffix: name for name, suffixes in FORMATS.items() for suffix in suffixes}
    if fmt is None:
        fmt = by_suffix.get(out.suffix.lower())
        if fmt is None:
            raise ConfigError(f"{out}: give --format keras or onnx, or a file name ending in "
                              f"{', '.join(by_suffix)}")
    if fmt not in FORMATS:
        raise ConfigError(f"--format expects one of {', '.join(FORMATS)}, got {fmt!r}")
    if out.suffix.lower() not in FORMATS[fmt]:
        raise ConfigError(f"{out}: a {fmt} file ends in {' or '.join(FORMATS[fmt])}")
    return fmt


def provenance(trained) -> dict:
    """What exported files record of where they came from."""
    source = Path(trained.run_dir or trained.checkpoint_path).resolve()
    return {"nntrain_version": __version__, "source_run": str(source), "checkpoint": trained.which,
            "checkpoint_path": str(Path(trained.checkpoint_path).resolve()), "epoch": trained.checkpoint.epoch,
            "created": timestamp()}


def export(target, out, fmt: str | None = None, checkpoint: str = "best", preprocessing: bool = True) -> dict:
    """Export a run's model to `out`.

    Args:
        target: a run folder or checkpoint file. fmt: "keras" or "onnx" (default: from out's suffix).
        preprocessing: ONNX only: fold the fitted preprocessing into the graph (raw feature values in).

    Returns:
        What was written: format, file(s), layers, versions, the source run and checkpoint epoch.

    Raises:
        ConfigError: a format or file name that does not fit, a model with no equivalent in the format, the onnx
            extra missing; CheckpointError: see load_trained; StorageError: a file that cannot be written.
    """
    out = Path(out)
    fmt = export_format(out, fmt)
    trained = load_trained(target, checkpoint)
    if fmt == "onnx":
        return _onnx(trained, out, preprocessing)
    from nntrain.interop.keras_write import write_h5, write_keras
    from nntrain.interop.preprocessing import preprocessing_document, preprocessing_path

    source = provenance(trained)
    written = (write_keras if out.suffix.lower() == ".keras" else write_h5)(out, trained.model, source)
    beside = preprocessing_path(out)
    write_json(beside, preprocessing_document(trained, source))
    return {"format": "keras", "file": str(out), "preprocessing": str(beside), **written, **source}


def _onnx(trained, out: Path, preprocessing: bool) -> dict:
    try:
        from nntrain.interop.onnx_export import export_onnx
    except ModuleNotFoundError as exc:
        missing = exc.name or "onnx"
        if missing.startswith("nntrain"):
            raise ConfigError("--format onnx is not available in this nntrain build (no nntrain.interop."
                              "onnx_export); export --format keras instead") from None
        raise ConfigError(f"--format onnx needs the onnx extra ({missing} is not installed): "
                          f"pip install 'nntrain[onnx]'") from None
    written = export_onnx(trained, out, checkpoint=trained.which, preprocessing=preprocessing)
    # the keys the Keras export reports too (the report and --json read one shape); "preprocessing" is a file there
    folded = written.pop("preprocessing")
    return {**written, "file": written["path"], "checkpoint": trained.which, "epoch": written["checkpoint_epoch"],
            "preprocessing_folded": folded}
