"""Property: whatever a config file holds, the config pipeline (load_config, then building and compiling the model,
the way `nntrain check` does, no data downloaded and nothing trained) either accepts it or raises nntrain's own
NNTrainError, which the CLI prints as one `error:` paragraph. Never another exception, which would be a traceback.

Each example takes one config of configs/ and applies one to three structure or type mutations at random places:
a value replaced by one of another type, a key deleted, renamed or added, a value wrapped in a list or a mapping,
nested deeply, a list item duplicated, a value moved from elsewhere in the file.

A few things keep 2,000 examples within seconds without changing what is tested: the YAML text of 39 examples in
40 is parsed by libyaml (the same YAML, at C speed; the 40th goes through nntrain's own pure-Python parser), the
resolved config is written by libyaml's emitter, and `describe`, a pure function of the data section, is computed
once per distinct data section. The budget is split in two tests that the suite's two processes run side by side.

    NNTRAIN_FUZZ_EXAMPLES=50000 python -m pytest -q tests/test_config_fuzz.py -n 0 -s   # the release budget
"""

from __future__ import annotations

import copy
import functools
import os
import shutil
import time
from contextlib import nullcontext
from pathlib import Path
from unittest import mock

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from yaml.cyaml import CParser

from nntrain.config.loader import ConfigLoader
from nntrain.errors import NNTrainError
from tests.helpers import ROOT

EXAMPLES = int(os.environ.get("NNTRAIN_FUZZ_EXAMPLES", "2000"))
CONFIGS = {p.name: yaml.safe_load(p.read_text()) for p in sorted((ROOT / "configs").glob("*.yaml"))}

# Values a mutation puts in place of another. Integers stay small or absurd (absurd ones fail to allocate at once),
# never a middling 10**7 that a machine can allocate for minutes; strings look like names, paths and formats.
# (sampled from lists rather than drawn from st.floats / st.text: a draw is most of an example's cost)
SCALARS = st.sampled_from([
    None, True, False, -3, -1, 0, 1, 2, 3, 7, 2**31, 10**12, 2**64, -2**63,
    0.0, -0.5, 0.5, 1.5, 1e-9, 1e300, -1e300, float("nan"), float("inf"), float("-inf"),
    "", " ", "é", "名前", "[5]", "{0}", "relu", "softmax", "adam", "sgd", "mse", "accuracy", "Dense", "wide",
    "main", "hidden1", "val_loss", "y", "full", "auto", "balanced", "standardize", "x:y", "math:pi",
    "nomodule:Thing", "../x", "a/b", "ck-{epoch}-{0}.h5", "ck-{val_loss:.2f}.h5", "1e-3", "float16", "sparse",
    "~", "\x00", "null", "yes"])
OPS = ["scalar", "empty_list", "empty_map", "wrap_list", "wrap_map", "nest", "delete", "rename", "add_key",
       "duplicate", "move"]


def _paths(tree, path=()):
    """Every key path of a tree (the root too), mapping keys and list indices alike."""
    yield path
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from _paths(v, path + (k,))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            yield from _paths(v, path + (i,))


PATHS = {name: list(_paths(tree)) for name, tree in CONFIGS.items()}


def _get(tree, path):
    for p in path:
        tree = tree[p]
    return tree


def _set(tree, path, value):
    if not path:
        return value
    _get(tree, path[:-1])[path[-1]] = value
    return tree


@functools.cache
def _index(n: int):
    """A strategy for an index below n, built once (building strategies costs more than drawing from them)."""
    return st.integers(0, n - 1)


_OPS, _NAMES, _KEYS, _LEVELS = (st.sampled_from(OPS), st.sampled_from(sorted(CONFIGS)),
                                st.sampled_from(["name", "type", "inputs", "units", "shape", "extra", "seed"]),
                                st.integers(2, 25))


def _mutate(draw, tree, paths: list):
    """One mutation of `tree` at a random place (one of its `paths`); returns the new tree."""
    path = paths[draw(_index(len(paths)))]
    op = draw(_OPS)
    value = _get(tree, path)
    if op == "scalar":
        return _set(tree, path, draw(SCALARS))
    if op in ("empty_list", "empty_map"):
        return _set(tree, path, [] if op == "empty_list" else {})
    if op == "wrap_list":
        return _set(tree, path, [value])
    if op == "wrap_map":
        return _set(tree, path, {draw(_KEYS): value})
    if op == "nest":  # a few levels here; hundreds in test_hostile_configs
        for level in range(draw(_LEVELS)):
            value = [value] if level % 2 else {"a": value}
        return _set(tree, path, value)
    if op == "move":
        return _set(tree, path, copy.deepcopy(_get(tree, paths[draw(_index(len(paths)))])))
    parent = _get(tree, path[:-1]) if path else None
    if op == "delete" and path:
        del parent[path[-1]]
    elif op == "rename" and path and isinstance(parent, dict):
        parent[path[-1] + "s" if isinstance(path[-1], str) else draw(SCALARS)] = parent.pop(path[-1])
    elif op == "add_key" and isinstance(value, dict):
        value[draw(_KEYS)] = draw(SCALARS)
    elif op == "duplicate" and path and isinstance(parent, list):
        parent.insert(path[-1], copy.deepcopy(value))
    return tree


@st.composite
def mutated_configs(draw):
    """(config file name, mutated tree)."""
    name = draw(_NAMES)
    tree = copy.deepcopy(CONFIGS[name])
    for i in range(draw(_index(3)) + 1):
        tree = _mutate(draw, tree, PATHS[name] if i == 0 else list(_paths(tree)))
    return name, tree


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A folder with what the example configs reference (their data/ folder), where mutated configs are written."""
    path = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(ROOT / "configs" / "data", path / "data")
    return path


class LibYAMLLoader(CParser, ConfigLoader):
    """nntrain's ConfigLoader (its resolvers and constructors) on libyaml's parser and composer: the same YAML at C
    speed, with the same positions."""

    def __init__(self, stream, file: str = "<config>"):
        CParser.__init__(self, stream)
        yaml.constructor.SafeConstructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)
        self.file, self._open = file, 0


def memoized(describe):
    """`describe` computed once per distinct (data section, folder); its result copied on every call."""
    cache: dict = {}

    def cached(spec, base_dir):
        key = repr((spec, str(base_dir)))
        if key not in cache:
            cache[key] = describe(spec, base_dir)
        return copy.deepcopy(cache[key])

    return cached


def run_pipeline(path: Path):
    """What `nntrain check` does with a file: load and validate it, build and compile the model, print both (the
    resolved config as `dump_yaml` writes it, through libyaml's emitter)."""
    from nntrain.commands.prepare import check

    cfg, model = check(path)
    yaml.dump(cfg.resolved, Dumper=yaml.CSafeDumper, sort_keys=False, default_flow_style=None, width=100)
    model.summary()


def check_example(folder: Path, name: str, tree, libyaml: bool) -> bool:
    """Write `tree` as configs/NAME into `folder` and run the pipeline on it: True if accepted, False if refused
    with an NNTrainError; anything else propagates."""
    path = folder / name
    path.unlink(missing_ok=True)  # a new file: rewriting one in place makes ext4 flush it to disk (2 ms each time)
    path.write_text(yaml.dump(tree, Dumper=yaml.CSafeDumper, sort_keys=False, allow_unicode=True), encoding="utf-8")
    try:
        with mock.patch("nntrain.config.loader.ConfigLoader", LibYAMLLoader) if libyaml else nullcontext():
            run_pipeline(path)
    except NNTrainError:
        return False
    return True


SHARDS = 2  # the budget in halves, so the suite's parallel test processes share it (each half draws its own configs)


@pytest.mark.parametrize("shard", range(SHARDS))
def test_mutated_configs_are_accepted_or_refused_cleanly(folder, monkeypatch, shard):
    import nntrain.data

    monkeypatch.setattr(nntrain.data, "describe", memoized(nntrain.data.describe))
    seen = {"examples": 0, "accepted": 0}
    started = time.perf_counter()

    budget = EXAMPLES // SHARDS + (shard < EXAMPLES % SHARDS)

    @settings(max_examples=budget, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(mutated_configs(), st.integers(0, 39))
    def property_(example, parser):
        seen["examples"] += 1
        seen["accepted"] += check_example(folder, *example, libyaml=parser > 0)

    property_()
    print(f"\nconfig fuzz: {seen['examples']} mutated configs ({seen['accepted']} accepted, "
          f"{seen['examples'] - seen['accepted']} refused with NNTrainError) in {time.perf_counter() - started:.1f} s")
    assert seen["examples"] >= budget
