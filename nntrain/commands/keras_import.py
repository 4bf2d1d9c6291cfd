"""`nntrain import`: a Keras model file (.keras, or legacy .h5) as an nntrain config's `model:` section, checked by
building the model and loading the file's weights into it, so the config trains (and `fit --weights FILE` starts
from the Keras weights) without surprises.

    result = import_model("model.keras", "config.yaml")
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nntrain import __version__
from nntrain.runs.folder import atomic_write_text


@dataclass
class ImportResult:
    """What `import_model` read and wrote: the YAML text, the file written (None: the caller prints it), the layer
    count and the Keras version that saved the model."""

    text: str
    output: Path | None
    layers: int
    keras_version: str


def import_model(source, output=None) -> ImportResult:
    """Read a Keras model file and write its architecture as a config's model section to `output` (None: return
    the text only).

    Raises:
        CheckpointError: not a readable Keras model file; ConfigError: a layer or argument nntrain has no
            equivalent for, naming the layer; StorageError: `output` cannot be written.
    """
    import yaml

    from nntrain.interop.keras_read import engine_model, model_section, read_keras

    source = Path(source)
    km = read_keras(source)
    section = model_section(km)
    engine_model(km)  # the weights fit the layers: refused here, not at `fit --weights`
    saved = f"Keras {km.keras_version}" if km.keras_version else "Keras"
    header = (f"# The model of {source.name} ({saved}), imported by nntrain {__version__}: the model section only.\n"
              f"# Add data:, loss:, optimizer: and training:, then start from the Keras weights with\n"
              f"#   nntrain fit CONFIG --weights {source}\n")
    text = header + yaml.safe_dump({"model": section}, sort_keys=False, default_flow_style=None, width=118)
    if output is not None:
        atomic_write_text(Path(output), text)
    return ImportResult(text, None if output is None else Path(output), len(km.layers), km.keras_version)
