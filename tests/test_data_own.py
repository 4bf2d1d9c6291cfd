"""Issue 18, points 2-6: a user's own CSV files. Categories come from the training rows only and unseen ones are
handled as configured and reported; missing values are imputed by a fitted, saved step; integer labels that are
not 0..K-1 are mapped like text labels; class weights by name, index or `balanced`; a sample weight column weights
loss and metrics as Keras does; text folders are as wide in `check` as in `fit`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nntrain.commands.fit import fit
from nntrain.data import load_raw, make_bundle
from nntrain.errors import DataError
from nntrain.runs.trained import load_trained
from nntrain.training.loop import predict
from tests.helpers import invoke

COLORS = ["red", "green", "blue"]


def write(path, header: str, rows: list) -> None:
    path.write_text(header + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))


def config(train: str, data: str = "", layers: str = "    - Dense: {units: 1, activation: sigmoid}\n",
           loss: str = "binary_crossentropy", metrics: str = "[accuracy]", training: str = "{epochs: 1}") -> str:
    return (f"name: own\nseed: 1\ndata:\n  train: {train}\n{data}model:\n  layers:\n{layers}loss: {loss}\n"
            f"metrics: {metrics}\noptimizer: {{name: sgd, learning_rate: 0.1}}\ntraining: {training}\n")


@pytest.fixture(scope="module")
def colors(tmp_path_factory):
    """A run trained on x and color (red/green/blue) with a validation file holding a category training lacks."""
    root = tmp_path_factory.mktemp("colors")
    rng = np.random.default_rng(0)
    write(root / "train.csv", "x,color,label", [[f"{rng.normal():.3f}", COLORS[i % 3], i % 2] for i in range(30)])
    write(root / "val.csv", "x,color,label", [[0.5, "red", 1], [0.1, "rare", 0], [0.2, "blue", 1]])
    write(root / "new.csv", "x,color", [[0.1, "red"], [0.2, "purple"], [0.3, " Red "], [0.4, "purple"]])
    (root / "c.yaml").write_text(config("train.csv", "  target: label\n  validation: val.csv\n"))
    with pytest.warns(UserWarning, match=r"column color: 1 validation row with categories not seen in training "
                                         r"\(rare\)"):
        result = fit(root / "c.yaml", runs_dir=root / "runs")
    return root, result


def test_a_category_only_in_validation_rows_trains_and_is_reported(colors):
    """The model is as wide as the training categories (x + 3 colors); the validation file's `rare` is counted."""
    root, result = colors
    assert result.status == "finished"
    trained = load_trained(result.run_dir)
    assert trained.preprocessor.inputs["input"].feature_names == ["x", "color=blue", "color=green", "color=red"]
    run = json.loads((result.run_dir / "run.json").read_text())
    assert run["status"] == "finished"


def test_predict_warns_once_per_column_with_counts_and_values(colors):
    """`purple` twice and `Red` (case is kept, spaces are not) are unseen: all-zero color features, one warning."""
    root, result = colors
    out = invoke("predict", result.run_dir, root / "new.csv", "--format", "jsonl")
    assert out.returncode == 0, out.stderr
    assert ("warning: column color: 3 rows with categories not seen in training (purple, Red); case matters: 'Red' "
            "is not 'red'") in out.stderr
    pre = load_trained(result.run_dir).preprocessor
    from nntrain.data.tables import read_table

    x = pre.transform_x(read_table(root / "new.csv", kinds={"x": "numeric", "color": "categorical"}))
    assert x[:, 1:].tolist() == [[0, 0, 1], [0, 0, 0], [0, 0, 0], [0, 0, 0]]
    with pytest.warns(UserWarning, match="3 rows"):
        pre.warn_unseen()


def _bundle(tmp_path, train_rows, test_rows, categorical: dict):
    write(tmp_path / "train.csv", "x,color,label", train_rows)
    write(tmp_path / "test.csv", "x,color,label", test_rows)
    spec = {"train": "train.csv", "test": "test.csv", "target": "label", "categorical": categorical}
    return make_bundle(load_raw(spec, tmp_path), spec)


def test_handle_unknown_indicator_and_error_per_column(tmp_path):
    train = [[i, COLORS[i % 3], i % 2] for i in range(12)]
    test = [[1, "red", 0], [2, "teal", 1]]
    with pytest.warns(UserWarning, match="column color: 1 test row with categories not seen in training \\(teal\\)"):
        bundle = _bundle(tmp_path, train, test, {"handle_unknown": "indicator"})
    assert bundle.info["feature_names"]["input"][-1] == "color=<unknown>"
    assert bundle.test.x[:, 1:].tolist() == [[0, 0, 1, 0], [0, 0, 0, 1]]
    with pytest.raises(DataError, match=r"column 'color' has 1 value\(s\) the training rows never had \('teal' at "
                                        r"line 3 \(data row 2\)\)"):
        _bundle(tmp_path, train, test, {"columns": {"color": {"handle_unknown": "error"}}})


def test_the_vocabulary_is_saved_and_restored_with_the_checkpoint(colors):
    _, result = colors
    pre = load_trained(result.run_dir).preprocessor
    encoder = pre.inputs["input"].encoder
    assert encoder.categories == {"color": ["blue", "green", "red"]} and encoder.handle_unknown == {"color": "ignore"}


def test_a_high_cardinality_column_stops_unless_allowed(tmp_path):
    rows = [[i, f"user{i}", i % 2] for i in range(40)]
    write(tmp_path / "t.csv", "x,user,label", rows)
    spec = {"train": "t.csv", "target": "label"}
    with pytest.raises(DataError, match=r"column 'user' has 40 distinct values in 40 training rows .*data.drop: "
                                        r"\[user\].*data.categorical.columns.user.max_categories: 40"):
        make_bundle(load_raw(spec, tmp_path), spec)
    dropped = {**spec, "drop": ["user"]}
    assert make_bundle(load_raw(dropped, tmp_path), dropped).info["feature_names"]["input"] == ["x"]
    spec["categorical"] = {"columns": {"user": {"max_categories": None}}}
    assert make_bundle(load_raw(spec, tmp_path), spec).train.x.shape == (40, 41)


MISSING = [[1.0, "red", 0], ["", "blue", 1], [4.0, "NA", 0], [7.0, "red", 1], ["?", "red", 0], [3.0, "blue", 1]]


@pytest.mark.parametrize("strategy,number,text", [("mean", 15 / 4, "red"), ("median", 3.5, "red"),
                                                  ("most_frequent", 1.0, "red"), ("constant", -1.0, "none")])
def test_impute_fills_with_training_statistics_and_flags_them(tmp_path, strategy, number, text):
    write(tmp_path / "t.csv", "x,color,label", MISSING)
    fill = -1 if strategy == "constant" else None
    spec = {"train": "t.csv", "target": "label",
            "preprocessing": [{"impute": {"strategy": strategy, "fill_value": fill, "add_indicator": True}}]}
    if strategy == "constant":  # one constant for numbers and one for text: two steps would both fill; use numbers
        spec["preprocessing"][0]["impute"]["fill_value"] = -1
    bundle = make_bundle(load_raw(spec, tmp_path), spec)
    names = bundle.info["feature_names"]["input"]
    x = dict(zip(names, bundle.train.x.T.tolist()))
    assert x["x"] == pytest.approx([1.0, number, 4.0, 7.0, number, 3.0])
    assert x["x_missing"] == [0, 1, 0, 0, 1, 0] and x["color_missing"] == [0, 0, 1, 0, 0, 0]
    filled = "missing" if strategy == "constant" else text
    assert x.get(f"color={filled}", [0] * 6)[2] == 1


def test_impute_is_reapplied_by_predict_from_the_checkpoint(tmp_path):
    write(tmp_path / "t.csv", "x,color,label", MISSING * 3)
    (tmp_path / "c.yaml").write_text(config("t.csv", "  target: label\n  preprocessing: [{impute: {strategy: "
                                                     "median}}]\n"))
    run = fit(tmp_path / "c.yaml", runs_dir=tmp_path / "runs").run_dir
    write(tmp_path / "new.csv", "x,color", [["", "NA"], [3.5, "red"]])
    out = invoke("predict", run, tmp_path / "new.csv", "--format", "jsonl", "--proba")
    assert out.returncode == 0, out.stderr
    first, second = [json.loads(line) for line in out.stdout.splitlines()]
    assert first == {**second, "row": 0}  # median 3.5 and most frequent "red" filled in


def test_missing_values_without_impute_name_column_and_lines(tmp_path):
    write(tmp_path / "t.csv", "x,color,label", MISSING)
    spec = {"train": "t.csv", "target": "label"}
    with pytest.raises(DataError, match=r"column 'x' has 2 missing values \(empty, NA, NaN or \?\) at line 3 "
                                        r"\(data row 2\), line 6 \(data row 5\); .*impute"):
        make_bundle(load_raw(spec, tmp_path), spec)


@pytest.mark.parametrize("labels,names", [([1, 2, 3], ["1", "2", "3"]), ([10, 20, 30], ["10", "20", "30"])])
def test_integer_labels_not_from_zero_are_mapped_and_named(tmp_path, labels, names):
    rows = [[i * 0.1, labels[i % 3]] for i in range(30)]
    write(tmp_path / "t.csv", "x,label", rows)
    (tmp_path / "c.yaml").write_text(config("t.csv", "  target: label\n", "    - Dense: {units: 3, activation: "
                                            "softmax}\n", "sparse_categorical_crossentropy"))
    run = fit(tmp_path / "c.yaml", runs_dir=tmp_path / "runs").run_dir
    pre = load_trained(run).preprocessor
    assert pre.class_names["output"] == names
    assert pre.transform_y(np.array(labels, float)).tolist() == [0, 1, 2]
    write(tmp_path / "new.csv", "x", [[0.1]])
    out = invoke("predict", run, tmp_path / "new.csv", "--format", "jsonl")
    assert json.loads(out.stdout)["prediction"] in names


def _weights_run(tmp_path, training: str, data: str = ""):
    rows = [[i % 5 * 0.5 - 1, ["low", "high"][i % 2], 1 + i % 3] for i in range(24)]
    tmp_path.mkdir(exist_ok=True)
    write(tmp_path / "t.csv", "x,label,w", rows)
    (tmp_path / "c.yaml").write_text(config("t.csv", "  target: label\n  features: [x]\n" + data,
                                            training=training).replace("learning_rate: 0.1", "learning_rate: 0.0"))
    run = fit(tmp_path / "c.yaml", runs_dir=tmp_path / "runs").run_dir
    trained = load_trained(run, "last")
    history = [line.split(",") for line in (run / "history.csv").read_text().splitlines()]
    logged = dict(zip(history[0], map(float, history[1])))
    x = np.array([r[0] for r in rows], np.float32)[:, None]
    y = np.array([r[1] == "low" for r in rows], np.float64)  # classes sorted: high = 0, low = 1
    p = np.clip(predict(trained.model, x)[:, 0].astype(np.float64), 1e-7, 1 - 1e-7)
    return logged, y, p, np.array([r[2] for r in rows], np.float64)


def test_sample_weight_weights_loss_and_metrics_as_keras(tmp_path):
    """With learning rate 0 the weights stay initial: the logged loss is sum(w * bce) / n and the accuracy
    sum(w * hit) / sum(w), computed here from the checkpoint's predictions."""
    logged, y, p, w = _weights_run(tmp_path, "{epochs: 1, batch_size: 8, shuffle: false}", "  sample_weight: w\n")
    bce = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert logged["loss"] == pytest.approx(float((w * bce).sum() / len(y)), rel=1e-5)
    assert logged["accuracy"] == pytest.approx(float((w * ((p > 0.5) == y)).sum() / w.sum()), rel=1e-6)


def test_class_weight_by_name_equals_by_index_and_balanced_is_n_over_k_count(tmp_path):
    by_name, y, p, _ = _weights_run(tmp_path / "a", "{epochs: 1, class_weight: {low: 3.0, high: 1.0}}")
    by_index, *_ = _weights_run(tmp_path / "b", "{epochs: 1, class_weight: {1: 3.0, 0: 1.0}}")
    assert by_name["loss"] == by_index["loss"]
    bce = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert by_name["loss"] == pytest.approx(float((np.where(y == 1, 3.0, 1.0) * bce).mean()), rel=1e-5)
    balanced, *_ = _weights_run(tmp_path / "c", "{epochs: 1, class_weight: balanced}")
    assert balanced["loss"] == pytest.approx(float(bce.mean()), rel=1e-5)  # 12 and 12 rows: both weights 1


def _texts(root):
    for cls, words in (("neg", "bad awful dull boring"), ("pos", "good great fine lovely")):
        (root / "texts" / cls).mkdir(parents=True)
        for i in range(4):
            (root / "texts" / cls / f"{i}.txt").write_text(f"{words} film {i}")


@pytest.mark.parametrize("tokenizer,steps", [("{num_words: 10}", "[multi_hot]"), ("{}", "[multi_hot]"),
                                             ("{num_words: 10}", "[{multi_hot: {dimension: 7}}]"),
                                             ("{}", "[{multi_hot: {dimension: 30}}]"),
                                             ("{num_words: 10}", "[{pad_sequences: {maxlen: 6}}]"),
                                             ("{}", "[pad_sequences]")])
def test_text_folder_check_and_fit_agree_on_the_width(tmp_path, tokenizer, steps):
    _texts(tmp_path)
    (tmp_path / "c.yaml").write_text(config("texts", f"  tokenizer: {tokenizer}\n  preprocessing: {steps}\n"))
    checked = invoke("check", tmp_path / "c.yaml")
    with_data = invoke("check", tmp_path / "c.yaml", "--data")
    assert with_data.returncode == 0, with_data.stderr
    width = with_data.stdout.split("inputs {'input': (")[1].split(",")[0]
    run = fit(tmp_path / "c.yaml", runs_dir=tmp_path / "runs").run_dir
    assert load_trained(run).model.shapes["input"] == (int(width),)
    if checked.returncode == 0:  # check without data knows the width: it must be fit's
        assert "Param #" in checked.stdout and f"(None, 1)" in checked.stdout
        params = int(checked.stdout.split("Total params: ")[1].split()[0])
        assert params == int(width) + 1
    else:  # no num_words, no dimension: the message says what fixes it
        assert "multi_hot: {dimension: N}" in checked.stderr and "check --data" in checked.stderr


def test_a_run_failing_in_its_first_epoch_is_failed_not_killed_and_cannot_be_scored(tmp_path):
    """A custom callback (module:Class from the config's folder) raising in epoch 1: run.json says failed with the
    message, `nntrain runs` shows failed, evaluate and predict refuse the initial weights."""
    write(tmp_path / "t.csv", "x,label", [[i * 0.1, i % 2] for i in range(20)])
    (tmp_path / "boom.py").write_text(
        "from nntrain.training.callbacks import Callback\n\n\nclass Boom(Callback):\n"
        "    def on_train_batch_end(self, step):\n        raise RuntimeError('sensor offline')\n")
    (tmp_path / "c.yaml").write_text(config("t.csv", "  target: label\n") + "callbacks:\n  - boom:Boom: {}\n")
    fitted = invoke("fit", tmp_path / "c.yaml", "--runs-dir", tmp_path / "runs", "-q")
    assert fitted.returncode == 1
    run = tmp_path / "runs" / "own"
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "failed" and "sensor offline" in info["stop_reason"]
    listed = invoke("runs", tmp_path / "runs")
    assert "failed" in listed.stdout and "killed" not in listed.stdout
    for command in (("evaluate", run), ("predict", run, tmp_path / "t.csv")):
        out = invoke(*command)
        assert out.returncode == 2 and "never finished an epoch" in out.stderr, out.stderr
        assert "nntrain fit --resume" in out.stderr


def test_validation_rows_are_weighted_like_training_rows(tmp_path):
    """The val_ loss of a weighted run is sum(w * bce) / n over the validation rows (learning rate 0)."""
    rows = [[i % 5 * 0.5 - 1, ["low", "high"][i % 2], 1 + i % 3] for i in range(24)]
    write(tmp_path / "t.csv", "x,label,w", rows)
    write(tmp_path / "v.csv", "x,label,w", rows[:6])
    (tmp_path / "c.yaml").write_text(config("t.csv", "  target: label\n  features: [x]\n  sample_weight: w\n"
                                            "  validation: v.csv\n").replace("learning_rate: 0.1", "learning_rate: 0.0"))
    run = fit(tmp_path / "c.yaml", runs_dir=tmp_path / "runs").run_dir
    history = [line.split(",") for line in (run / "history.csv").read_text().splitlines()]
    logged = dict(zip(history[0], map(float, history[1])))
    x = np.array([r[0] for r in rows[:6]], np.float32)[:, None]
    y = np.array([r[1] == "low" for r in rows[:6]], np.float64)
    w = np.array([r[2] for r in rows[:6]], np.float64)
    p = np.clip(predict(load_trained(run, "last").model, x)[:, 0].astype(np.float64), 1e-7, 1 - 1e-7)
    assert logged["val_loss"] == pytest.approx(float((w * -(y * np.log(p) + (1 - y) * np.log(1 - p))).sum() / 6),
                                               rel=1e-5)


def test_more_output_units_than_classes_train_as_in_keras(tmp_path):
    """Fewer units than classes stop before training; more train (Keras allows it: the extra units are never the
    label, and softmax learns to give them nothing)."""
    from tests.hardening import iris_config
    from tests.helpers import invoke

    (tmp_path / "iris.yaml").write_text(iris_config().replace("units: 3, activation: softmax",
                                                              "units: 5, activation: softmax"))
    result = invoke("fit", "iris.yaml", "-q", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (tmp_path / "two.yaml").write_text(iris_config().replace("units: 3, activation: softmax",
                                                             "units: 2, activation: softmax"))
    result = invoke("check", "two.yaml", "--data", cwd=tmp_path)
    assert result.returncode == 2 and "has 2 units, but its labels have 3 classes" in result.stderr
