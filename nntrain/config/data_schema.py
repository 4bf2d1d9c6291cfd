"""DATA_SCHEMA: the JSON Schema (draft 2020-12 subset) of a config's `data:` section (config/schema.py holds the rest).

Pure data, no imports: the config validator walks it (unknown keys, types, ranges, defaults) and `nntrain schema`
prints it. Keys without a `default` are optional and stay absent when not given; their meaning when absent depends
on the data source and is described in `description`.
"""

from __future__ import annotations

# Names of the preprocessing steps; nntrain.data.preprocessing registers exactly these (a test checks it).
STEP_NAMES = ("standardize", "minmax", "rescale", "flatten", "reshape", "one_hot", "multi_hot", "pad_sequences",
              "impute")

_INT_OR_NULL_MIN1 = {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "null"}]}


def _step(name: str, description: str, properties: dict | None = None, required: tuple = ()) -> dict:
    """The `{name: {args}}` form of one step."""
    args: dict = {"type": "object", "additionalProperties": False, "properties": properties or {}}
    if required:
        args["required"] = list(required)
    if not required:
        args["default"] = {}
    return {
        "type": "object",
        "description": description,
        "properties": {name: args},
        "required": [name],
        "additionalProperties": False,
    }


_STEP_FORMS = [
    _step(
        "impute",
        "Fill missing values (empty, NA, NaN, ?) with a value fitted on the training rows; on CSV columns before "
        "they are encoded (text columns take the most frequent category unless `constant`).",
        {
            "strategy": {"type": "string", "enum": ["mean", "median", "most_frequent", "constant"], "default": "mean"},
            "fill_value": {"anyOf": [{"type": "number"}, {"type": "string"}, {"type": "null"}], "default": None,
                           "description": "The constant: default 0 (numbers) or \"missing\" (text)."},
            "add_indicator": {"type": "boolean", "default": False,
                              "description": "Add a 0/1 `<column>_missing` feature per column with missing values."},
        },
    ),
    _step("standardize", "Per-feature (x - mean) / std, mean and std fitted on the training rows only."),
    _step("minmax", "Per-feature (x - min) / (max - min) into [0, 1], fitted on the training rows only."),
    _step(
        "rescale",
        "x * scale + offset (e.g. scale: 0.00392156862745098 for 8-bit pixels).",
        {
            "scale": {"type": "number", "description": "Multiplier."},
            "offset": {"type": "number", "default": 0.0, "description": "Added after scaling."},
        },
        required=("scale",),
    ),
    _step("flatten", "(n, d1, d2, ...) -> (n, d1 * d2 * ...)."),
    _step(
        "reshape",
        "Reshape each sample (batch dimension excluded); one entry may be -1.",
        {"shape": {"type": "array", "items": {"type": "integer", "minimum": -1}, "description": "Sample shape."}},
        required=("shape",),
    ),
    _step(
        "one_hot",
        "Class indices (n,) -> float32 (n, num_classes).",
        {"num_classes": {**_INT_OR_NULL_MIN1, "default": None, "description": "Default: inferred from train."}},
    ),
    _step(
        "multi_hot",
        "Integer sequences -> sparse 0/1 MultiHot (n, dimension); ids >= dimension are dropped.",
        {
            "dimension": {
                **_INT_OR_NULL_MIN1,
                "default": None,
                "description": "Vocabulary size. Default: the tokenizer's, or the largest training id + 1.",
            }
        },
    ),
    _step(
        "pad_sequences",
        "Integer sequences -> int32 (n, maxlen), as keras pad_sequences: the padded form Embedding + LSTM models "
        "read (mask_zero: true masks the padding); stored in the checkpoint, so predict pads new rows alike.",
        {
            "maxlen": {**_INT_OR_NULL_MIN1, "default": None, "description": "Default: longest training sequence."},
            "padding": {"type": "string", "enum": ["pre", "post"], "default": "pre"},
            "truncating": {"type": "string", "enum": ["pre", "post"], "default": "pre"},
            "value": {"type": "integer", "default": 0, "description": "Padding id."},
        },
    ),
]

STEP_SCHEMA = {
    "description": "A preprocessing step: its name, or {name: {arguments}}.",
    "oneOf": [{"type": "string", "enum": list(STEP_NAMES)}, *_STEP_FORMS],
}

STEPS_SCHEMA = {"type": "array", "items": STEP_SCHEMA}

_COLUMNS = {
    "description": "A column name, a list of column names (CSV), a column index or list of them (NPY, and the x of "
    "california_housing), or an array key (NPZ/HDF5; `x` / `y` for a catalogue dataset).",
    "anyOf": [
        {"type": "string"},
        {"type": "integer"},
        {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
    ],
}

_PATH = {"type": "string", "description": "Relative paths are relative to the config file's folder."}

_UNKNOWN = {
    "type": "string",
    "enum": ["ignore", "indicator", "error"],
    "description": "A category the training rows never had (validation, test, predict): `ignore` encodes it as all "
    "zeros, `indicator` sets an extra `COLUMN=<unknown>` feature, `error` stops. Either way it is counted and "
    "reported.",
}
_MAX_CATEGORIES = {
    "anyOf": [{"type": "integer", "minimum": 1}, {"type": "null"}],
    "description": "A categorical column with more distinct training values stops (an ID or free text?), as does one "
    "with more than 20 values most of which occur once; null encodes any number.",
}
_CATEGORICAL = {
    "type": "object",
    "description": "Text (categorical) columns of CSV/TSV files: one 0/1 feature per category of the training rows "
    "(values stripped of surrounding spaces; case kept, so `Red` is not `red`).",
    "additionalProperties": False,
    "properties": {
        "handle_unknown": {**_UNKNOWN, "default": "ignore"},
        "max_categories": {**_MAX_CATEGORIES, "default": 50},
        "columns": {
            "type": "object",
            "description": "Per column: {handle_unknown, max_categories} overriding the defaults above.",
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "properties": {"handle_unknown": _UNKNOWN, "max_categories": _MAX_CATEGORIES},
            },
            "default": {},
        },
    },
    "default": {"handle_unknown": "ignore", "max_categories": 50, "columns": {}},
}

DATA_SCHEMA: dict = {
    "type": "object",
    "description": "Where the data comes from and how it is prepared. Give `dataset` or `train`.",
    "additionalProperties": False,
    "properties": {
        "dataset": {
            "type": "string",
            "description": "A bundled dataset (iris, wine, breast_cancer, digits, boston_housing) or a Keras "
            "catalogue one (mnist, fashion_mnist, imdb, reuters, california_housing); see `nntrain datasets`.",
        },
        "options": {
            "type": "object",
            "description": "Loader arguments of `dataset`, with Keras's meanings and defaults.",
            "additionalProperties": False,
            "properties": {
                "num_words": {**_INT_OR_NULL_MIN1, "description": "imdb/reuters: keep the most frequent words."},
                "skip_top": {"type": "integer", "minimum": 0, "description": "imdb/reuters: drop the top ids."},
                "maxlen": {**_INT_OR_NULL_MIN1,
                           "description": "imdb/reuters: drop longer sequences (Keras's load_data filter); to pad "
                                          "and cut them all to one length: the pad_sequences step."},
                "index_from": {"type": "integer", "minimum": 0, "description": "imdb/reuters: first word id."},
                "start_char": {
                    "anyOf": [{"type": "integer", "minimum": 0}, {"type": "null"}],
                    "description": "imdb/reuters: id marking a sequence start (1).",
                },
                "oov_char": {
                    "anyOf": [{"type": "integer", "minimum": 0}, {"type": "null"}],
                    "description": "imdb/reuters: id of cut-out words (2).",
                },
                "test_split": {
                    "type": "number",
                    "minimum": 0,
                    "exclusiveMaximum": 1,
                    "description": "reuters/boston_housing/california_housing: test fraction (0.2).",
                },
                "seed": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "Shuffle seed (Keras sets: 113; other bundled sets' test split: 0).",
                },
                "version": {
                    "type": "string",
                    "enum": ["small", "large"],
                    "description": "california_housing: 600 or 20,640 rows.",
                },
            },
        },
        "train": {
            **_PATH,
            "description": "Training data: .csv(.gz), .npy, .npz, .h5/.hdf5, or a folder with one sub-folder of "
            ".txt files per class. Relative to the config file's folder.",
        },
        "test": {**_PATH, "description": "Test data, same format as `train`."},
        "validation": {**_PATH, "description": "Explicit validation data, same format as `train`."},
        "test_split": {
            "type": "number",
            "minimum": 0,
            "exclusiveMaximum": 1,
            "description": "Fraction of `train` held out as test when there is no test file and no predefined "
            "split (stratified for classification). Default: 0.2 for bundled sets, none for own files.",
        },
        "target": {
            **_COLUMNS,
            "description": "Target column(s) (CSV, required there), column index (NPY), or key (NPZ/HDF5, default "
            "'y').",
        },
        "features": {
            **_COLUMNS,
            "description": "Feature columns (CSV/NPY; default: all but the target) or key (NPZ/HDF5, default 'x').",
        },
        "inputs": {
            "type": "object",
            "description": "Multi-input models: input name -> its columns or key (california_housing: column "
            "indices of x, e.g. wide: [0, 1, 2, 3, 4]).",
            "additionalProperties": _COLUMNS,
        },
        "outputs": {
            "type": "object",
            "description": "Multi-output models: output name -> its target column(s) or key (a catalogue "
            "dataset's one target: `y`, which several outputs may share).",
            "additionalProperties": _COLUMNS,
        },
        "drop": {
            "type": "array",
            "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            "description": "CSV/TSV/NPY: columns left out of the default features (all but the target), such as "
            "an ID or free text. Not with `features` or `inputs`.",
        },
        "categorical": _CATEGORICAL,
        "sample_weight": {
            "type": "string",
            "description": "CSV/TSV: a numeric column weighting each example's loss and metrics, training and "
            "validation rows (as Keras's sample_weight); finite, non-negative, not all zero. It is not a feature.",
        },
        "classes": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Text folders: the class sub-folders to read, in label order (default: every "
            "sub-folder holding .txt files, sorted). aclImdb/train needs [neg, pos] to skip `unsup`.",
        },
        "tokenizer": {
            "type": "object",
            "description": "Text: words -> ids. 0 is padding, 1 out-of-vocabulary, words start at 2.",
            "additionalProperties": False,
            "properties": {
                "num_words": {
                    **_INT_OR_NULL_MIN1,
                    "default": None,
                    "description": "Keep the most frequent words of the training texts (default: all).",
                },
                "lowercase": {"type": "boolean", "default": True},
            },
            "default": {"num_words": None, "lowercase": True},
        },
        "preprocessing": {
            "description": "Steps on x, fitted on the training rows: a list, or input name -> list.",
            "anyOf": [STEPS_SCHEMA, {"type": "object", "additionalProperties": STEPS_SCHEMA}],
            "default": [],
        },
        "target_preprocessing": {
            "description": "Steps on y (one_hot for categorical_crossentropy): a list, or output name -> list.",
            "anyOf": [STEPS_SCHEMA, {"type": "object", "additionalProperties": STEPS_SCHEMA}],
            "default": [],
        },
    },
}
