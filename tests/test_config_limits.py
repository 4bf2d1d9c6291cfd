"""Untrusted config files: bounded in size, nesting and alias expansion (the "billion laughs" is refused in well
under a second, in bounded memory), duplicate keys an error naming both lines, odd encodings a clear message."""

from __future__ import annotations

import time

import pytest

from nntrain.config import load_config
from nntrain.config.loader import MAX_BYTES, MAX_BYTES_VARIABLE, MAX_DEPTH
from nntrain.errors import ConfigError
from tests.hardening import assert_user_error, invoke, peak_memory_cli, run_process
from tests.helpers import ROOT

BASE = """\
name: small
data: {dataset: iris}
model:
  layers:
    - Dense: {units: 3, activation: softmax}
loss: sparse_categorical_crossentropy
"""


def laughs(levels: int = 9, width: int = 9) -> str:
    """The YAML "billion laughs": each anchor a list of `width` aliases of the one before (width^levels values)."""
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("where", ["unknown_key", "metrics"])
def test_billion_laughs_is_refused_fast_in_bounded_memory(tmp_path, where):
    bomb = laughs()
    text = BASE + bomb + ("metrics: *l8\n" if where == "metrics" else "")
    if where == "unknown_key":
        text = BASE + "junk:\n" + "".join("  " + line + "\n" for line in bomb.splitlines())
    (tmp_path / "bomb.yaml").write_text(text)
    assert len(text) < 1500
    start = time.perf_counter()
    with pytest.raises(ConfigError, match="more than 100,000 values"):
        load_config(tmp_path / "bomb.yaml")
    assert time.perf_counter() - start < 0.5
    result, seconds, mib = peak_memory_cli("check", "bomb.yaml", cwd=tmp_path)
    assert_user_error(result, "bomb.yaml:", "more than 100,000 values (each use of an alias counts in full)")
    assert mib < 150, f"peak memory {mib} MiB"  # starting nntrain alone takes ~50 MiB
    print(f"billion laughs ({where}): check refused it in {seconds:.2f}s wall (process included), peak {mib} MiB")


def test_deep_nesting_is_refused_not_a_recursion_error(tmp_path):
    (tmp_path / "deep.yaml").write_text(BASE + "loss_weights: " + "[" * 500 + "]" * 500 + "\n")
    assert_user_error(invoke("check", "deep.yaml", cwd=tmp_path), f"deep.yaml:7:{14 + MAX_DEPTH}  nested more "
                                                                  f"than {MAX_DEPTH} levels deep")


def test_nesting_hidden_in_a_chain_of_anchors_is_counted(tmp_path):
    chain = "a0: &a0 [1]\n" + "".join(f"a{i}: &a{i} [*a{i - 1}]\n" for i in range(1, 80))
    (tmp_path / "chain.yaml").write_text(BASE + "junk:\n" + "".join("  " + line + "\n" for line in chain.splitlines()))
    assert_user_error(invoke("check", "chain.yaml", cwd=tmp_path), "levels deep once the alias", "is expanded")


def test_an_alias_inside_its_own_anchor_is_refused(tmp_path):
    (tmp_path / "self.yaml").write_text(BASE + "junk: &me {again: [*me]}\n")
    assert_user_error(invoke("check", "self.yaml", cwd=tmp_path), "self.yaml:7:20  the alias *me is used inside "
                                                                  "its own anchor &me")


def test_ordinary_anchors_still_work(tmp_path):
    text = BASE.replace("model:\n", "defaults: &d {units: 3, activation: softmax}\nmodel:\n")
    (tmp_path / "ok.yaml").write_text(text.replace("{units: 3, activation: softmax}}", "*d}"))
    with pytest.raises(ConfigError, match="unknown section `defaults`"):  # anchors are read; the key is unknown
        load_config(tmp_path / "ok.yaml")


def test_the_set_option_is_bounded_too(tmp_path):
    (tmp_path / "ok.yaml").write_text(BASE)
    bomb = "&a [" + ", ".join(["1"] * 400) + "]"
    bomb = f"[{bomb}, [" + ", ".join(["*a"] * 400) + "]]"
    assert_user_error(invoke("check", "ok.yaml", "--set", f"loss_weights={bomb}", cwd=tmp_path),
                      "--set loss_weights:1:", "more than 100,000 values")


def test_config_size_is_limited_and_the_limit_can_be_raised(tmp_path, monkeypatch):
    text = BASE + "# " + "x" * MAX_BYTES + "\n"
    (tmp_path / "big.yaml").write_text(text)
    assert_user_error(invoke("check", "big.yaml", cwd=tmp_path), f"larger than {MAX_BYTES:,} bytes",
                      f"${MAX_BYTES_VARIABLE}")
    monkeypatch.setenv(MAX_BYTES_VARIABLE, str(2 * MAX_BYTES))
    assert load_config(tmp_path / "big.yaml")["name"] == "small"
    monkeypatch.setenv(MAX_BYTES_VARIABLE, "lots")
    with pytest.raises(ConfigError, match="must be a positive number of bytes"):
        load_config(tmp_path / "big.yaml")


def test_a_huge_config_costs_no_time_or_memory(tmp_path):
    with open(tmp_path / "huge.yaml", "w") as f:
        f.write(BASE + "metrics: [" + ", ".join(["accuracy"] * 6_000_000) + "]\n")  # ~60 MB
    result, seconds, mib = peak_memory_cli("check", "huge.yaml", cwd=tmp_path)
    assert_user_error(result, "huge.yaml: the config file is larger than")
    assert mib < 150, f"peak memory {mib} MiB"


def test_a_long_list_within_the_size_limit_stops_at_the_value_limit(tmp_path):
    (tmp_path / "long.yaml").write_text(BASE + "metrics: [" + ",".join(["1"] * 400_000) + "]\n")
    start = time.perf_counter()
    with pytest.raises(ConfigError, match="long.yaml:7:.*more than 100,000 values"):
        load_config(tmp_path / "long.yaml")
    assert time.perf_counter() - start < 5  # libyaml's events: about 0.5 s here


# --- duplicate keys and encodings ---------------------------------------------------------------------
@pytest.mark.parametrize("text, where, first", [
    (BASE + "loss: mse\n", "dup.yaml:7:1  duplicate key `loss`", "(first at line 6, column 1)"),
    (BASE.replace("{units: 3, activation: softmax}", "{units: 3, units: 4}"), "dup.yaml:5:25  duplicate key `units`",
     "(first at line 5, column 15)"),
    (BASE + "training:\n  epochs: 3\n  batch_size: 8\n  epochs: 4\n", "dup.yaml:10:3  duplicate key `epochs`",
     "(first at line 8, column 3)"),
])
def test_duplicate_keys_name_both_lines(tmp_path, text, where, first):
    (tmp_path / "dup.yaml").write_text(text)
    assert_user_error(invoke("check", "dup.yaml", cwd=tmp_path), where, first)


def test_merge_keys_may_be_overridden(tmp_path):
    text = BASE.replace("loss:", "training: {<<: {epochs: 3, batch_size: 8}, epochs: 5}\nloss:")
    (tmp_path / "merge.yaml").write_text(text)
    assert load_config(tmp_path / "merge.yaml")["training"]["epochs"] == 5


def test_utf16_with_a_byte_order_mark_is_read(tmp_path):
    (tmp_path / "u16.yaml").write_bytes(BASE.encode("utf-16"))
    assert load_config(tmp_path / "u16.yaml")["name"] == "small"


@pytest.mark.parametrize("data, where", [
    (BASE.encode("utf-16-le"), "bin.yaml:1:2  a NUL byte"),
    (BASE.encode() + b"seed: 1\x00\n", "bin.yaml:7:8  a NUL byte"),
])
def test_nul_bytes_name_their_line_and_hint_at_the_encoding(tmp_path, data, where):
    (tmp_path / "bin.yaml").write_bytes(data)
    assert_user_error(invoke("check", "bin.yaml", cwd=tmp_path), where, "UTF-16 without a byte-order mark")


def test_example_configs_are_far_inside_the_limits():
    for path in sorted((ROOT / "configs").glob("*.yaml")):
        assert path.stat().st_size < MAX_BYTES // 100, path
        load_config(path)


def test_real_process_refuses_a_bad_config_with_one_paragraph(tmp_path):
    (tmp_path / "dup.yaml").write_text(BASE + "loss: mse\n")
    assert_user_error(run_process("check", "dup.yaml", cwd=tmp_path), "dup.yaml:7:1  duplicate key `loss`")
