"""`nntrain schema` is what editors lint configs with: it must be a valid JSON Schema that accepts every
example config and rejects a misspelled key, checked here with the reference `jsonschema` library."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from nntrain.config.schema import config_schema

jsonschema = pytest.importorskip("jsonschema")
CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


@pytest.fixture(scope="module")
def validator():
    schema = config_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_every_example_config_is_valid_for_editors(validator, path):
    errors = [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
    assert errors == []


def test_a_misspelled_key_is_flagged_for_editors(validator):
    config = yaml.safe_load((CONFIGS[0]).read_text())
    config["trainig"] = {"epochs": 3}
    config.setdefault("training", {})["batch_sise"] = 3
    messages = " ".join(e.message for e in validator.iter_errors(config))
    assert "trainig" in messages and "batch_sise" in messages


def test_every_written_form_is_accepted_and_typos_inside_are_flagged(validator):
    config = yaml.safe_load((CONFIGS[0]).read_text())
    config["loss"] = {"huber": {"delta": 2.0}}
    config["optimizer"] = {"name": "sgd", "learning_rate": 0.1, "schedule": {"cosine_decay": {"decay_steps": 100}}}
    config["callbacks"] = [{"early_stopping": {"patience": 3}}, {"name": "reduce_lr_on_plateau", "factor": 0.5},
                           "terminate_on_nan", {"mycallbacks:Count": {"start": 1}}, {"name": "mycallbacks:Count"}]
    assert [e.message for e in validator.iter_errors(config)] == []
    config["callbacks"].append({"early_stopping": {"patiense": 3}})
    assert [list(e.path) for e in validator.iter_errors(config)] == [["callbacks", 5]]
