"""The preprocessing a Keras file cannot hold, as JSON beside it: the fitted Preprocessor state exactly as the
checkpoint stores it (per input its columns, categories, tokenizer vocabulary and steps with their fitted values,
e.g. standardize's `shift` and `scale`), what each model output means (task, class names, logits or not), and where
the model came from. README "Export to Keras" shows how to apply it in a few lines."""

from __future__ import annotations

from pathlib import Path

FORMAT = "nntrain.preprocessing/1"


def preprocessing_path(model_path: Path) -> Path:
    """iris.keras -> iris.preprocessing.json, beside it."""
    return model_path.with_name(f"{model_path.stem}.preprocessing.json")


def preprocessing_document(trained, provenance: dict) -> dict:
    """The JSON document for a trained run (arrays as lists by runs.folder.json_text when written)."""
    model = trained.model
    inputs = {i.name: {"shape": list(i.shape), "dtype": i.input_dtype,
                       "multi_hot": bool(i.sparse)} for i in model.inputs}
    outputs = {o.name: {"task": o.task, "class_names": o.classes, "logits": o.logits, "width": o.width}
               for o in trained.outputs}
    return {"format": FORMAT, "nntrain": provenance, "model_inputs": inputs, "outputs": outputs,
            "preprocessor": trained.preprocessor.get_state()}
