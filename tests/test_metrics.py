"""Metrics: streaming equals all-at-once, hand-computed values, Keras's accuracy resolution, AUC, config and state."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nntrain.engine.metrics import (
    METRICS,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    resolve_metric,
)
from nntrain.errors import CheckpointError, ConfigError, ShapeError

# The kind of data each registered metric reads. A new metric must be added here (test_every_metric_has_data).
KIND = {
    "binary_accuracy": "binary",
    "accuracy": "binary",
    "categorical_accuracy": "one_hot",
    "sparse_categorical_accuracy": "sparse",
    "top_k_categorical_accuracy": "one_hot",
    "sparse_top_k_categorical_accuracy": "sparse",
    "mae": "regression",
    "mse": "regression",
    "rmse": "regression",
    "r2": "regression",
    "precision": "binary",
    "recall": "binary",
    "auc": "binary",
}


def _data(kind: str, n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    if kind == "binary":
        y_true = rng.integers(0, 2, (n, 1))
        y_pred = np.clip(0.3 * y_true + rng.uniform(0, 0.7, (n, 1)), 0, 1)  # informative, not perfect
    elif kind in ("one_hot", "sparse"):
        labels = rng.integers(0, 10, n)
        logits = rng.normal(size=(n, 10))
        logits[np.arange(n), labels] += 1.0
        y_pred = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        y_true = np.eye(10)[labels] if kind == "one_hot" else labels
    else:
        y_true = rng.normal(size=(n, 3))
        y_pred = y_true + rng.normal(0, 0.5, (n, 3))
    return y_true, y_pred.astype(np.float32)


def test_every_metric_has_data():
    assert set(METRICS.names()) == set(KIND)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("name", METRICS.names())
def test_streaming_equals_all_at_once(name, weighted):
    rng = np.random.default_rng(7)
    y_true, y_pred = _data(KIND[name], 100, rng)
    w = rng.uniform(0, 2, 100) if weighted else None

    whole = METRICS.build(name)
    whole.update(y_true, y_pred, sample_weight=w)

    streamed = METRICS.build(name)
    for start in range(0, 100, 32):  # 32, 32, 32, 4
        part = slice(start, start + 32)
        streamed.update(y_true[part], y_pred[part], sample_weight=None if w is None else w[part])
    assert streamed.result() == pytest.approx(whole.result(), rel=1e-12, abs=1e-12)
    assert 0 < abs(whole.result())  # the data makes every metric non-trivial

    streamed.reset()
    assert streamed.result() == 0.0


@pytest.mark.parametrize("name", METRICS.names())
def test_state_survives_a_checkpoint(name):
    rng = np.random.default_rng(3)
    y_true, y_pred = _data(KIND[name], 60, rng)
    reference = METRICS.build(name)
    reference.update(y_true, y_pred)

    first = METRICS.build(name)
    first.update(y_true[:25], y_pred[:25])
    second = METRICS.build(name)
    second.set_state(first.get_state())
    second.update(y_true[25:], y_pred[25:])
    assert second.result() == pytest.approx(reference.result(), rel=1e-12)


def test_set_state_rejects_foreign_state():
    with pytest.raises(CheckpointError, match="keys"):
        METRICS.build("auc").set_state({"total": np.zeros(())})
    with pytest.raises(CheckpointError, match="shape"):
        METRICS.build("auc", num_thresholds=10).set_state(METRICS.build("auc").get_state())


@pytest.mark.parametrize("name", METRICS.names())
def test_get_config_round_trips(name):
    metric = METRICS.build(name)
    rebuilt = METRICS.build(type(metric).registered_name, **metric.get_config())
    assert type(rebuilt) is type(metric) and rebuilt.get_config() == metric.get_config()
    renamed = resolve_metric(name)
    assert renamed.name == name
    assert METRICS.build(type(renamed).registered_name, **renamed.get_config()).get_config() == renamed.get_config()


def test_unknown_name_lists_the_closest_match():
    with pytest.raises(ConfigError, match=r"unknown metric 'accuarcy' \(did you mean `accuracy`\?\)"):
        resolve_metric("accuarcy", "categorical_crossentropy", (None, 10))
    with pytest.raises(ConfigError, match="did you mean `precision`"):
        METRICS.build("precison")


def test_bad_arguments():
    with pytest.raises(ConfigError, match="num_thresholds"):
        METRICS.build("auc", num_thresholds=1)
    with pytest.raises(ConfigError, match="k="):
        METRICS.build("top_k", k=0)
    with pytest.raises(ConfigError, match="threshold"):
        resolve_metric({"name": "precision", "threshold": 2})
    with pytest.raises(ConfigError, match="metric 'mae'"):
        resolve_metric({"name": "mae", "k": 3})


def test_labels_that_do_not_fit():
    with pytest.raises(ShapeError, match=r"\(4, 3\).*\(4, 2\)"):
        METRICS.build("mae").update(np.zeros((4, 3)), np.zeros((4, 2)))
    with pytest.raises(ShapeError, match="one-hot"):
        METRICS.build("categorical_accuracy").update(np.zeros(4), np.zeros((4, 3)))
    with pytest.raises(ShapeError, match="sample_weight"):
        METRICS.build("mse").update(np.zeros((4, 1)), np.zeros((4, 1)), sample_weight=np.ones(3))


# ---------------------------------------------------------------------------------------------------------------------
# Accuracy resolution (Keras: the loss, then the output width, decides)


@pytest.mark.parametrize(
    "spec,loss,shape,expected",
    [
        ("accuracy", "binary_crossentropy", (None, 1), BinaryAccuracy),
        ("accuracy", "bce", (None, 5), BinaryAccuracy),  # multi-label outputs
        ("accuracy", "mse", (None, 1), BinaryAccuracy),  # 1-wide output
        ("accuracy", "sparse_categorical_crossentropy", (None, 10), SparseCategoricalAccuracy),
        ("acc", "scce", (10,), SparseCategoricalAccuracy),
        ("accuracy", "categorical_crossentropy", (None, 10), CategoricalAccuracy),
        ("accuracy", None, (None, 4), CategoricalAccuracy),
    ],
)
def test_accuracy_resolution(spec, loss, shape, expected):
    metric = resolve_metric(spec, loss, shape)
    assert type(metric) is expected and metric.name == spec
    if expected is BinaryAccuracy:
        assert metric.threshold == 0.5


def test_accuracy_without_a_loss_goes_by_shapes():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.5, 0.4, 0.1], [0.2, 0.5, 0.3]])
    labels = np.array([0, 2, 1, 1])  # right, right, wrong, right
    for y_true in (labels, labels[:, None], np.eye(3)[labels]):
        metric = METRICS.build("accuracy")
        metric.update(y_true, probs)
        assert metric.result() == 0.75
    metric = METRICS.build("acc")
    metric.update(np.array([1, 0, 1]), np.array([[0.6], [0.5], [0.2]]))  # 0.5 is not above the threshold
    assert metric.result() == pytest.approx(2 / 3)


# ---------------------------------------------------------------------------------------------------------------------
# Values by hand


def test_binary_accuracy_by_hand():
    metric = BinaryAccuracy()
    metric.update(np.array([[1, 0], [0, 0], [1, 1]]), np.array([[0.8, 0.6], [0.1, 0.5], [0.51, 0.2]]))
    assert metric.result() == pytest.approx((1 / 2 + 2 / 2 + 1 / 2) / 3)


def test_weighted_accuracy_over_uneven_batches():
    metric = SparseCategoricalAccuracy()
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    metric.update(np.array([0, 0]), probs[:2], sample_weight=np.array([1.0, 3.0]))  # right (1), wrong (3)
    metric.update(np.array([0]), probs[2:], sample_weight=np.array([2.0]))  # right (2)
    assert metric.result() == pytest.approx(3 / 6)


def test_top_k_by_hand():
    probs = np.array([[0.1, 0.5, 0.3, 0.1], [0.4, 0.3, 0.2, 0.1], [0.25, 0.25, 0.25, 0.25]])
    labels = np.array([2, 3, 0])  # 2nd best (in), last (out), a four-way tie (in, like Keras)
    sparse = METRICS.build("sparse_top_k", k=2)
    sparse.update(labels, probs)
    dense = METRICS.build("top_k_categorical_accuracy", k=2)
    dense.update(np.eye(4)[labels], probs)
    assert sparse.result() == dense.result() == pytest.approx(2 / 3)
    default = METRICS.build("top_k")  # k=5 >= 4 classes: always in
    default.update(np.eye(4)[labels], probs)
    assert default.result() == 1.0


def test_regression_metrics_by_hand():
    y = np.array([[1.0, 2.0], [3.0, 4.0], [0.0, -1.0]])
    p = np.array([[1.5, 2.0], [2.0, 5.0], [0.0, 1.0]])
    errors = [[0.5, 0.0], [-1.0, 1.0], [0.0, 2.0]]
    expected_mae = sum(abs(e) for row in errors for e in row) / 6
    expected_mse = sum(e * e for row in errors for e in row) / 6
    results = {}
    for name in ("mae", "mse", "rmse"):
        metric = METRICS.build(name)
        metric.update(y[:2], p[:2])
        metric.update(y[2:], p[2:])
        results[name] = metric.result()
    assert results["mae"] == pytest.approx(expected_mae)
    assert results["mse"] == pytest.approx(expected_mse)
    assert results["rmse"] == pytest.approx(math.sqrt(expected_mse))
    # Not the mean of the two batches' roots:
    batch_roots = [
        math.sqrt(sum(e * e for row in rows for e in row) / (2 * len(rows)))
        for rows in (errors[:2], errors[2:])
    ]
    assert results["rmse"] != pytest.approx(sum(batch_roots) / 2)


def test_r2_by_hand():
    y = [[1.0, 10.0], [2.0, 20.0], [4.0, 30.0], [5.0, 40.0]]
    p = [[1.5, 12.0], [2.0, 18.0], [3.0, 33.0], [5.5, 40.0]]
    w = [1.0, 2.0, 1.0, 0.5]
    scores = []
    for col in range(2):
        t = [row[col] for row in y]
        q = [row[col] for row in p]
        mean = sum(wi * ti for wi, ti in zip(w, t)) / sum(w)
        ss_res = sum(wi * (ti - qi) ** 2 for wi, ti, qi in zip(w, t, q))
        ss_tot = sum(wi * (ti - mean) ** 2 for wi, ti in zip(w, t))
        scores.append(1 - ss_res / ss_tot)
    metric = METRICS.build("r2")
    metric.update(np.array(y[:3]), np.array(p[:3]), sample_weight=np.array(w[:3]))
    metric.update(np.array(y[3:]), np.array(p[3:]), sample_weight=np.array(w[3:]))
    assert metric.result() == pytest.approx(sum(scores) / 2)

    constant = METRICS.build("r2")
    constant.update(np.full(4, 0.1), np.full(4, 0.1))
    assert constant.result() == 1.0


def test_precision_and_recall_by_hand():
    y_true = np.array([1, 0, 1, 1, 1, 0])
    y_pred = np.array([0.9, 0.6, 0.8, 0.5, 0.3, 0.1])  # 0.5 is not above the 0.5 threshold
    # tp: 0.9, 0.8; fp: 0.6; fn: 0.5, 0.3
    precision, recall = METRICS.build("precision"), METRICS.build("recall")
    for metric in (precision, recall):
        metric.update(y_true[:4], y_pred[:4])
        metric.update(y_true[4:], y_pred[4:])
    assert precision.result() == pytest.approx(2 / 3)
    assert recall.result() == pytest.approx(2 / 4)

    w = np.array([1.0, 2.0, 1.0, 1.0, 3.0, 1.0])  # tp 2, fp 2, fn 4
    precision.reset(), recall.reset()
    precision.update(y_true, y_pred, sample_weight=w)
    recall.update(y_true, y_pred, sample_weight=w)
    assert precision.result() == pytest.approx(2 / 4)
    assert recall.result() == pytest.approx(2 / 6)

    nothing = METRICS.build("precision")
    nothing.update(np.array([1, 0]), np.array([0.1, 0.2]))
    assert nothing.result() == 0.0


# ---------------------------------------------------------------------------------------------------------------------
# AUC


def _exact_roc_auc(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Trapezoidal area under the exact ROC curve, one point per distinct score."""
    cuts = np.concatenate([[np.inf], np.unique(scores)[::-1]])
    tpr = np.array([np.sum((scores >= c) & (y_true == 1)) for c in cuts]) / np.sum(y_true == 1)
    fpr = np.array([np.sum((scores >= c) & (y_true == 0)) for c in cuts]) / np.sum(y_true == 0)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def test_auc_matches_exact_roc_within_discretization():
    rng = np.random.default_rng(11)
    y_true = rng.integers(0, 2, 300)
    scores = np.clip(rng.normal(0.4 + 0.2 * y_true, 0.2), 0, 1)
    metric = METRICS.build("auc")
    for start in range(0, 300, 64):
        metric.update(y_true[start : start + 64], scores[start : start + 64, None])
    exact = _exact_roc_auc(y_true, scores)
    assert 0.6 < exact < 0.9
    assert metric.result() == pytest.approx(exact, abs=1e-2)


def test_auc_exact_cases():
    y_true = np.array([0, 0, 1, 1, 0, 1])
    separated = METRICS.build("auc")
    separated.update(y_true, np.where(y_true == 1, 0.8, 0.3))
    assert separated.result() == 1.0
    reversed_ = METRICS.build("auc")
    reversed_.update(y_true, np.where(y_true == 1, 0.3, 0.8))
    assert reversed_.result() == 0.0
    constant = METRICS.build("auc")
    constant.update(y_true, np.full(6, 0.5))
    assert constant.result() == 0.5


def test_auc_by_hand_with_few_thresholds():
    # Thresholds -eps, 0.5, 1+eps. Scores 0.2 (neg), 0.7 (neg), 0.6 (pos), 0.9 (pos), 0.4 (pos):
    # at 0.5 the positives above are 0.6, 0.9 -> tpr 2/3; negatives above: 0.7 -> fpr 1/2.
    metric = METRICS.build("auc", num_thresholds=3)
    metric.update(np.array([0, 0, 1, 1, 1]), np.array([0.2, 0.7, 0.6, 0.9, 0.4]))
    # Points (fpr, tpr): (1, 1), (1/2, 2/3), (0, 0).
    expected = (1 - 0.5) * (1 + 2 / 3) / 2 + (0.5 - 0) * (2 / 3 + 0) / 2
    assert metric.result() == pytest.approx(expected)
