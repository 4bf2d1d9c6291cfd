"""Losses: the contract and shared helpers (base.py), regression losses (regression.py) and cross-entropies
(crossentropy.py). Importing this package registers every loss in LOSSES."""

from nntrain.engine.losses.base import LOSSES, Loss
from nntrain.engine.losses.crossentropy import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    SparseCategoricalCrossentropy,
)
from nntrain.engine.losses.regression import Huber, MeanAbsoluteError, MeanSquaredError

__all__ = ["LOSSES", "Loss", "MeanSquaredError", "MeanAbsoluteError", "Huber", "BinaryCrossentropy",
           "CategoricalCrossentropy", "SparseCategoricalCrossentropy"]
