"""DATA_SCHEMA: only the agreed JSON Schema subset, closed objects, and the documented configs validate."""

import subprocess
import sys

import pytest

from nntrain.config.data_schema import DATA_SCHEMA, STEP_NAMES

KEYWORDS = {"type", "properties", "additionalProperties", "required", "enum", "minimum", "maximum",
            "exclusiveMinimum", "exclusiveMaximum", "items", "oneOf", "anyOf", "default", "description"}


def walk(schema, path="data"):
    yield path, schema
    for key, sub in schema.get("properties", {}).items():
        yield from walk(sub, f"{path}.{key}")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from walk(schema["additionalProperties"], f"{path}.*")
    if "items" in schema:
        yield from walk(schema["items"], f"{path}[]")
    for key in ("oneOf", "anyOf"):
        for i, sub in enumerate(schema.get(key, [])):
            yield from walk(sub, f"{path}<{key}{i}>")


def test_schema_uses_the_subset_and_closes_objects():
    for path, node in walk(DATA_SCHEMA):
        assert set(node) <= KEYWORDS, (path, set(node) - KEYWORDS)
        if node.get("type") == "object":
            assert "additionalProperties" in node, path


def test_top_level_keys():
    assert set(DATA_SCHEMA["properties"]) == {
        "dataset", "options", "train", "test", "validation", "test_split", "target", "features", "inputs",
        "outputs", "classes", "tokenizer", "preprocessing", "target_preprocessing", "categorical", "sample_weight", "drop"}
    assert DATA_SCHEMA["additionalProperties"] is False
    assert DATA_SCHEMA["properties"]["preprocessing"]["default"] == []


EXAMPLES = [
    {"dataset": "iris", "preprocessing": ["standardize"], "target_preprocessing": ["one_hot"]},
    {"dataset": "imdb", "options": {"num_words": 10000}, "preprocessing": ["multi_hot"]},
    {"dataset": "mnist", "preprocessing": [{"rescale": {"scale": 0.00392156862745098}}, "flatten"]},
    {"train": "a.csv", "test": "b.csv", "target": "species", "features": ["a", "b"]},
    {"train": "a.csv", "inputs": {"wide": ["a", "b"], "deep": ["c", "d"]}, "outputs": {"main": "price",
     "aux": "price"}, "preprocessing": {"wide": ["standardize"], "deep": ["minmax"]}},
    {"train": "aclImdb/train", "classes": ["neg", "pos"], "tokenizer": {"num_words": 10000, "lowercase": True},
     "preprocessing": [{"pad_sequences": {"maxlen": 200, "padding": "post"}}]},
    {"train": "d.npy", "target": -1, "test_split": 0.2},
]

BAD = [
    {"datset": "iris"},
    {"dataset": "iris", "preprocessing": ["standardise"]},
    {"dataset": "iris", "preprocessing": [{"rescale": {}}]},
    {"dataset": "iris", "preprocessing": [{"pad_sequences": {"padding": "middle"}}]},
    {"dataset": "iris", "test_split": 1.0},
    {"dataset": "imdb", "options": {"num_word": 5}},
    {"dataset": "iris", "tokenizer": {"num_words": 0}},
]


@pytest.mark.parametrize("config", EXAMPLES)
def test_documented_configs_validate(config):
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator(DATA_SCHEMA).validate(config)


@pytest.mark.parametrize("config", BAD)
def test_bad_configs_are_rejected(config):
    jsonschema = pytest.importorskip("jsonschema")
    assert not jsonschema.Draft202012Validator(DATA_SCHEMA).is_valid(config)


def test_step_names_in_schema():
    enum = DATA_SCHEMA["properties"]["preprocessing"]["anyOf"][0]["items"]["oneOf"][0]["enum"]
    assert enum == list(STEP_NAMES)


def test_import_is_light():
    code = "import sys, nntrain.data; print(sorted(m for m in ('numpy', 'h5py', 'rich') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
