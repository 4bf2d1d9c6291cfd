"""Nothing escapes the runs folder: one run-name rule for `--name`, `name:` and `--set name=` (fit and kfold), and
callback files (csv_logger, model_checkpoint, tensorboard) inside the run folder unless a callback says otherwise."""

from __future__ import annotations

import pytest
import yaml

from nntrain.runs.folder import MAX_NAME, name_problem, new_run_dir
from nntrain.errors import ConfigError
from tests.hardening import assert_user_error, invoke, iris_config

IRIS = iris_config()

BAD_NAMES = ["../escaped", "/abs/dir", "sub/dir", "~/x", "a\\b", "..", ".", ".hidden", "x..y", "a" * 300,
             "nul\x00byte", "tab\there", "line\nbreak", "", "   "]


@pytest.mark.parametrize("name", BAD_NAMES, ids=repr)
def test_the_name_rule_refuses_anything_but_a_plain_folder_name(name):
    assert name_problem(name) is not None


@pytest.mark.parametrize("name", ["iris", "iris-2024_v1.5", "résumé run", "a" * MAX_NAME, "~x", "x.y"])
def test_the_name_rule_keeps_ordinary_names(name):
    assert name_problem(name) is None


def test_new_run_dir_creates_only_direct_children(tmp_path):
    with pytest.raises(ConfigError, match="path separator"):
        new_run_dir(tmp_path / "runs", "../out")
    assert not (tmp_path / "out").exists() and not (tmp_path / "runs").exists()
    assert new_run_dir(tmp_path / "runs", "ok").parent == tmp_path / "runs"


def _no_folder_outside(tmp_path):
    made = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")}
    assert made <= {"iris.yaml", "configs", "configs/iris.yaml"}, made


@pytest.mark.parametrize("name", ["../escaped", "/abs/dir", "sub/dir", "~/x", "a" * 300, "nul\x00byte"], ids=repr)
@pytest.mark.parametrize("command", ["fit", "kfold"])
def test_bad_name_option_is_refused_before_anything_is_written(tmp_path, command, name):
    (tmp_path / "iris.yaml").write_text(IRIS)
    extra = ["--folds", "2"] if command == "kfold" else []
    result = invoke(command, "iris.yaml", *extra, "--name", name, "--runs-dir", "runs", cwd=tmp_path)
    assert_user_error(result, "--name: a run name")
    _no_folder_outside(tmp_path)


@pytest.mark.parametrize("how", ["config", "set"])
def test_bad_name_in_the_config_or_set_points_at_its_entry(tmp_path, how):
    text = IRIS.replace("name: iris", "name: ../up") if how == "config" else IRIS
    (tmp_path / "iris.yaml").write_text(text)
    extra = ["--set", "name=../up"] if how == "set" else []
    result = invoke("fit", "iris.yaml", *extra, "--runs-dir", "runs", cwd=tmp_path)
    assert_user_error(result, "iris.yaml:1:7  name: a run name cannot hold a path separator")
    if how == "set":
        assert "(from --set name)" in result.stderr
    _no_folder_outside(tmp_path)


def test_a_file_name_that_cannot_name_a_run_needs_name(tmp_path):
    (tmp_path / ".hidden.yaml").write_text(IRIS.replace("name: iris\n", ""))
    result = invoke("check", ".hidden.yaml", cwd=tmp_path)
    assert_user_error(result, "no `name:` is given and the file name cannot name the run", "add `name: NAME`")


# --- callback files ------------------------------------------------------------------------------------
CALLBACK_FILES = [
    ("csv_logger", "filename", "/tmp/nntrain-escape.csv"),
    ("csv_logger", "filename", "../log.csv"),
    ("model_checkpoint", "filepath", "sub/../../ck-{epoch}.h5"),
    ("tensorboard", "log_dir", "/tmp/nntrain-escape-tb"),
]


@pytest.mark.parametrize("callback, key, path", CALLBACK_FILES)
def test_callback_files_outside_the_run_folder_are_refused(tmp_path, callback, key, path):
    entry = f"  - {callback}: {{{key}: '{path}'}}"
    (tmp_path / "iris.yaml").write_text(IRIS + f"callbacks:\n{entry}\n")
    result = invoke("fit", "iris.yaml", "--runs-dir", "runs", cwd=tmp_path)
    line = IRIS.count("\n") + 2
    assert_user_error(result, f"iris.yaml:{line}:{entry.index(chr(39)) + 1}  callbacks.0.{callback}.{key}: ",
                      "is outside the run folder", "outside_run_folder: true")
    _no_folder_outside(tmp_path)


def test_a_callback_may_write_outside_when_it_says_so(tmp_path):
    log = tmp_path / "shared" / "log.csv"
    log.parent.mkdir()
    (tmp_path / "iris.yaml").write_text(IRIS + f"callbacks:\n  - csv_logger: {{filename: '{log}', "
                                                f"outside_run_folder: true}}\n")
    result = invoke("fit", "iris.yaml", "--runs-dir", "runs", "-q", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert log.read_text().startswith("epoch,")
    written = yaml.safe_load((tmp_path / "runs" / "iris" / "config.yaml").read_text())
    assert written["callbacks"][0]["outside_run_folder"] is True  # the opt-out shows in the run's own config


def test_relative_callback_files_land_in_the_run_folder(tmp_path):
    (tmp_path / "iris.yaml").write_text(IRIS + "callbacks:\n  - csv_logger: {filename: logs/../log.csv}\n")
    result = invoke("fit", "iris.yaml", "--runs-dir", "runs", "-q", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "runs" / "iris" / "log.csv").is_file()
    assert "outside_run_folder" not in (tmp_path / "runs" / "iris" / "config.yaml").read_text()


@pytest.mark.parametrize("entry, message", [
    ("early_stopping: {outside_run_folder: true}", "belongs to a callback given a file path"),
    ("csv_logger: {filename: a.csv, outside_run_folder: 1}", "expected true or false"),
])
def test_outside_run_folder_is_checked(tmp_path, entry, message):
    (tmp_path / "iris.yaml").write_text(IRIS + f"callbacks:\n  - {entry}\n")
    assert_user_error(invoke("check", "iris.yaml", cwd=tmp_path), "outside_run_folder", message)
