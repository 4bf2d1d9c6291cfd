"""Metrics at the edges where Keras 3 has a rule of its own: thresholds compared in float32, AUC buckets of
predictions lying on a threshold, soft labels, PR-AUC and its summation methods, `accuracy` on multi-label
outputs and R² of a constant target (docs/metrics.md).

Each expected value is computed here from Keras 3's rule, written out in plain NumPy/Python (not with nntrain), and
the KERAS constants are what Keras 3.15.1 (torch backend, float32) printed for the same inputs fed over the same
uneven batches (benchmarks/keras_metrics.py prints them again): `keras.metrics.Precision(thresholds=0.3)`,
`AUC(curve=..., summation_method=...)`, a model compiled with `loss="binary_crossentropy", metrics=["accuracy"]`,
`R2Score`. The reference computations must agree with those to float32 rounding, so the tests cannot drift into
checking nntrain against itself."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

from nntrain.engine.metrics import METRICS, Accuracy, resolve_metric

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "metrics.md"


def _inputs():
    """benchmarks/keras_metrics.py, which printed KERAS: the inputs are shared with it, not the computations."""
    spec = importlib.util.spec_from_file_location("keras_metrics", ROOT / "benchmarks" / "keras_metrics.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


INPUTS = _inputs()
_data = INPUTS.data
MULTI_LABEL_Y, MULTI_LABEL_P = INPUTS.MULTI_LABEL_Y, INPUTS.MULTI_LABEL_P
KERAS = {  # printed by Keras 3.15.1 for `data()` over BATCHES: python benchmarks/keras_metrics.py
    ("precision", False): 0.3513513505458832, ("precision", True): 0.375,
    ("recall", False): 0.5416666865348816, ("recall", True): 0.6341463327407837,
    ("ROC", "interpolation", True): 0.3836494982242584, ("ROC", "interpolation", False): 0.4010416567325592,
    ("ROC", "minoring", True): 0.3836494982242584, ("ROC", "minoring", False): 0.3229166567325592,
    ("ROC", "majoring", True): 0.3836494982242584, ("ROC", "majoring", False): 0.4791666567325592,
    ("PR", "interpolation", True): 0.3740878701210022, ("PR", "interpolation", False): 0.3548545241355896,
    ("PR", "minoring", True): 0.3353238105773926, ("PR", "minoring", False): 0.2802491784095764,
    ("PR", "majoring", True): 0.3878677487373352, ("PR", "majoring", False): 0.3682996928691864,
}


def _streamed(metric, y, p, w=None) -> float:
    INPUTS.feed(metric.update, y, p, w)
    return metric.result()


# ---------------------------------------------------------------------------------------------------------------------
# precision and recall: y_pred > threshold in float32


def _reference_precision_recall(y, p, w, threshold: float, dtype=np.float32) -> tuple[float, float]:
    tp = fp = fn = 0.0
    for label, pred, weight in zip(y, p, w):
        positive = dtype(pred) > dtype(threshold)  # Keras casts both to its float32 variables
        tp += weight * (label != 0 and positive)
        fp += weight * (label == 0 and positive)
        fn += weight * (label != 0 and not positive)
    return tp / (tp + fp), tp / (tp + fn)


@pytest.mark.parametrize("weighted", [False, True])
def test_precision_and_recall_compare_a_float32_prediction_with_a_float32_threshold(weighted):
    y, p, _, w = _data()
    weights = w if weighted else np.ones_like(w)
    precision, recall = _reference_precision_recall(y, p, weights, 0.3)
    assert precision == pytest.approx(KERAS["precision", weighted], abs=1e-7)
    assert recall == pytest.approx(KERAS["recall", weighted], abs=1e-7)
    # float32(0.3) is 0.30000001 > 0.3 in float64: the old float64 comparison counted those 9 rows as positive
    assert _reference_precision_recall(y, p, weights, 0.3, np.float64) != pytest.approx((precision, recall))

    for name, expected in (("precision", precision), ("recall", recall)):
        metric = METRICS.build(name, threshold=0.3)
        assert _streamed(metric, y, p, w if weighted else None) == pytest.approx(expected, rel=1e-12)


def test_binary_accuracy_decides_a_prediction_on_the_threshold_as_precision_does():
    y, p = np.array([1.0, 0.0]), np.full(2, np.float32(0.3))
    accuracy, precision = METRICS.build("binary_accuracy", threshold=0.3), METRICS.build("precision", threshold=0.3)
    accuracy.update(y, p)
    precision.update(y, p)
    assert accuracy.result() == 0.5 and precision.result() == 0.0  # both call float32(0.3) negative at 0.3


# ---------------------------------------------------------------------------------------------------------------------
# AUC: Keras's buckets, boolean labels, ROC and PR curves, three summation methods


def _reference_counts(y, p, w, n: int) -> dict[str, np.ndarray]:
    """Keras's evenly-spaced-thresholds update, one prediction at a time: bucket ceil(p * (n-1)) - 1 rounded in
    float32 (at least 0, as the -eps first threshold makes it), positive at thresholds 0..bucket."""
    counts = {k: np.zeros(n) for k in ("tp", "fp", "tn", "fn")}
    for label, pred, weight in zip(y, p, w):
        pred = min(max(np.float32(pred), np.float32(0)), np.float32(1))
        bucket = max(math.ceil(pred * np.float32(n - 1)) - 1, 0)
        for t in range(n):
            positive = t <= bucket and t < n - 1  # the last threshold, 1 + eps, has nothing above it
            key = ("tp" if positive else "fn") if label != 0 else ("fp" if positive else "tn")
            counts[key][t] += weight
    return counts


def _rate(a, b):
    return np.array([x / (x + y) if x + y else 0.0 for x, y in zip(a, b)])


def _pr_interpolated(c) -> float:
    """Area under precision over recall with TP and P = TP + FP linear in each interval, by a fine midpoint sum
    (not Keras's closed form): between thresholds A < B, TP = tp_B + slope * (P - P_B), recall = TP / positives."""
    tp, p = c["tp"], c["tp"] + c["fp"]
    area = 0.0
    for a in range(len(tp) - 1):
        dp, dtp = p[a] - p[a + 1], tp[a] - tp[a + 1]
        if dp <= 0 or dtp == 0:
            continue  # recall does not move
        slope, steps = dtp / dp, 4000
        big_p = p[a + 1] + (np.arange(steps) + 0.5) * dp / steps  # midpoints of P's interval
        true_p = tp[a + 1] + slope * (big_p - p[a + 1])
        area += np.sum(true_p / big_p) * slope * (dp / steps) / (tp[a + 1] + c["fn"][a + 1])
    return area


def _reference_auc(c, curve: str, summation: str) -> float:
    recall = _rate(c["tp"], c["fn"])
    if curve == "PR" and summation == "interpolation":
        return _pr_interpolated(c)
    x, heights_of = (_rate(c["fp"], c["tn"]), recall) if curve == "ROC" else (recall, _rate(c["tp"], c["fp"]))
    pick = {"interpolation": lambda a, b: (a + b) / 2, "minoring": min, "majoring": max}[summation]
    return sum((x[i] - x[i + 1]) * pick(heights_of[i], heights_of[i + 1]) for i in range(len(x) - 1))


def test_auc_buckets_a_prediction_on_a_threshold_as_keras():
    y, p = np.array([1.0, 0.0]), np.array([142 / 199, 143 / 199], np.float32)
    c = _reference_counts(y, p, np.ones(2), 200)
    assert _reference_auc(c, "ROC", "interpolation") == 0.0  # Keras: 0.0 (float64 buckets tied them: 0.5)
    metric = METRICS.build("auc")
    metric.update(y, p)
    assert metric.result() == 0.0


@pytest.mark.parametrize("summation", ["interpolation", "minoring", "majoring"])
@pytest.mark.parametrize("curve", ["ROC", "PR"])
@pytest.mark.parametrize("weighted", [True, False])
def test_auc_curves_and_summations_match_keras(curve, summation, weighted):
    y, _, grid, w = _data()
    n = 200 if weighted else 7  # predictions on the 200-grid's thresholds; 7 thresholds make wide buckets
    weights = w if weighted else np.ones_like(w)
    expected = _reference_auc(_reference_counts(y, grid, weights, n), curve, summation)
    assert expected == pytest.approx(KERAS[curve, summation, weighted], abs=1e-6)

    metric = METRICS.build("auc", num_thresholds=n, curve=curve, summation_method=summation)
    assert _streamed(metric, y, grid, w if weighted else None) == pytest.approx(expected, abs=1e-9)


def test_auc_reads_soft_labels_as_positives():
    y, p = np.array([0.2, 1.0, 0.0]), np.array([0.5, 0.9, 0.1], np.float32)
    c = _reference_counts(y, p, np.ones(3), 200)
    assert _reference_auc(c, "ROC", "interpolation") == pytest.approx(1.0)  # Keras 3.15.1: 1.0
    metric = METRICS.build("auc")
    metric.update(y, p)
    assert metric.result() == pytest.approx(1.0)


def test_auc_arguments_are_checked_and_round_trip():
    metric = METRICS.build("auc", curve="pr", summation_method="Minoring")
    assert metric.get_config() == {"name": "auc", "num_thresholds": 200, "curve": "PR", "summation_method": "minoring"}
    assert METRICS.build("auc", **metric.get_config()).get_config() == metric.get_config()
    from nntrain.errors import ConfigError

    with pytest.raises(ConfigError, match=r"auc\(curve=...\) expects one of ROC, PR, got curve='PRC'"):
        METRICS.build("auc", curve="PRC")
    with pytest.raises(ConfigError, match="did you mean `majoring`"):
        METRICS.build("auc", summation_method="majorin")


# ---------------------------------------------------------------------------------------------------------------------
# Differences kept on purpose, and said where the metrics are documented

def test_accuracy_with_binary_crossentropy_on_a_wide_output_is_per_label_and_documented():
    per_label = np.mean((MULTI_LABEL_P > 0.5) == (MULTI_LABEL_Y == 1))  # 5 of 9 label decisions
    keras_3 = np.mean(MULTI_LABEL_P.argmax(axis=1) == MULTI_LABEL_Y.argmax(axis=1))  # its shape rule: categorical
    assert (per_label, keras_3) == (pytest.approx(5 / 9), pytest.approx(0.6666666865348816))  # Keras 3.15.1

    resolved = resolve_metric("accuracy", "binary_crossentropy", (None, 3))
    resolved.update(MULTI_LABEL_Y, MULTI_LABEL_P)
    assert resolved.result() == pytest.approx(per_label)
    unresolved = Accuracy()  # no loss to go by: Keras 3's shape rule
    unresolved.update(MULTI_LABEL_Y, MULTI_LABEL_P)
    assert unresolved.result() == pytest.approx(keras_3)

    doc = " ".join(DOC.read_text(encoding="utf-8").split())
    assert "`accuracy` follows the loss, as tf.keras 2 did; Keras 3 follows the shapes." in doc
    assert "nntrain reports 0.5556 (5 of 9 decisions), Keras 3 0.6667" in doc


def test_r2_of_a_constant_target_predicted_exactly_is_one_and_documented():
    r2 = METRICS.build("r2")
    r2.update(np.full((4, 1), 3.0), np.full((4, 1), 3.0))
    assert r2.result() == 1.0  # Keras 3.15.1: nan (0 / 0)
    r2.reset()
    r2.update(np.full((4, 1), 3.0), np.full((4, 1), 3.5))
    assert r2.result() == 0.0  # Keras 3.15.1: 0.0
    doc = " ".join(DOC.read_text(encoding="utf-8").split())
    assert "is 1.0 when the column is predicted exactly, where Keras 3 gives NaN" in doc


def test_the_metric_list_names_every_registered_metric_with_its_aliases():
    doc = DOC.read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip() for line in doc.splitlines() if line.startswith("| `")}
    for name in METRICS.names():
        aliases = [a for a in METRICS.names(aliases=True) if METRICS.get(a) is METRICS.get(name) and a != name]
        assert f"`{name}`" + (f" ({', '.join(f'`{a}`' for a in aliases)})" if aliases else "") in rows, name


def test_a_config_that_measures_one_metric_name_twice_is_refused_where_it_says_so(tmp_path):
    from tests.hardening import assert_user_error
    from tests.helpers import invoke

    config = (Path(__file__).resolve().parents[1] / "configs" / "breast_cancer.yaml").read_text(encoding="utf-8")
    assert "metrics: [accuracy, auc, precision, recall]" in config
    (tmp_path / "two_aucs.yaml").write_text(config.replace(
        "metrics: [accuracy, auc, precision, recall]", "metrics: [accuracy, auc, {auc: {curve: PR}}]"))
    assert_user_error(invoke("check", tmp_path / "two_aucs.yaml"),
                      "two_aucs.yaml:13:26  metrics.2: metric 'auc' is already measured by metrics.1")
