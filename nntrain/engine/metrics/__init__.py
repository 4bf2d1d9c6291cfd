"""Metrics: the streaming base classes, input checks and `resolve_metric` (base.py), accuracy-like metrics
(accuracy.py), regression metrics (regression.py) and confusion-matrix metrics (confusion.py). Importing this package
registers every metric in METRICS."""

from nntrain.engine.metrics.accuracy import (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
)
from nntrain.engine.metrics.base import METRICS, MeanMetric, Metric, resolve_metric
from nntrain.engine.metrics.confusion import AUC, Precision, Recall
from nntrain.engine.metrics.regression import MeanAbsoluteError, MeanSquaredError, R2Score, RootMeanSquaredError

__all__ = ["METRICS", "Metric", "MeanMetric", "resolve_metric", "Accuracy", "BinaryAccuracy", "CategoricalAccuracy",
           "SparseCategoricalAccuracy", "TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy",
           "MeanAbsoluteError", "MeanSquaredError", "RootMeanSquaredError", "R2Score", "Precision", "Recall", "AUC"]
