"""Optimizers: the shared machinery (step counter, schedules, clipping, weight decay, flat slot buffers, checkpoint
state) in base.py, and the update rules in rules.py. Importing this package registers every rule in OPTIMIZERS."""

from nntrain.engine.optimizers.base import OPTIMIZERS, Optimizer
from nntrain.engine.optimizers.rules import SGD, Adagrad, Adam, AdamW, Nadam, RMSprop

__all__ = ["OPTIMIZERS", "Optimizer", "SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "Nadam"]
