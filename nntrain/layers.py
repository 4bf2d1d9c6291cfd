"""The engine's layers under a short name: `from nntrain.layers import Dense` (see nntrain/engine/layers/)."""

from nntrain.engine.layers import (
    LAYERS,
    Activation,
    Add,
    BatchNormalization,
    Concatenate,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    GlobalAveragePooling1D,
    Input,
    Layer,
    Reshape,
)

__all__ = ["LAYERS", "Layer", "Input", "Dense", "Activation", "Dropout", "Flatten", "Reshape", "Concatenate", "Add",
           "BatchNormalization", "Embedding", "GlobalAveragePooling1D"]
