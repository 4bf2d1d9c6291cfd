"""The layers, Keras's names, arguments and defaults, by family:

    core.py           Input, Dense, Activation, Dropout, SpatialDropout1D, SpatialDropout2D
    reshaping.py      Flatten, Reshape, Concatenate, Add, ZeroPadding2D, UpSampling2D
    normalization.py  BatchNormalization, LayerNormalization
    embedding.py      Embedding, GlobalAveragePooling1D
    convolution.py    Conv1D, Conv2D (im2col + one matmul; windows.py holds the window geometry)
    pooling.py        MaxPooling1D/2D, AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling1D/2D
    recurrent.py      the loop over steps, SimpleRNN
    gated.py          LSTM, GRU
    bidirectional.py  Bidirectional

Importing this package registers every class in LAYERS (the registry itself lives beside the base class, in
engine/layer.py).
"""

from nntrain.engine.layer import LAYERS, Layer
from nntrain.engine.layers.bidirectional import Bidirectional
from nntrain.engine.layers.convolution import Conv1D, Conv2D
from nntrain.engine.layers.core import Activation, Dense, Dropout, Input, SpatialDropout1D, SpatialDropout2D
from nntrain.engine.layers.embedding import Embedding, GlobalAveragePooling1D
from nntrain.engine.layers.gated import GRU, LSTM
from nntrain.engine.layers.normalization import BatchNormalization, LayerNormalization
from nntrain.engine.layers.pooling import (
    AveragePooling2D,
    GlobalAveragePooling2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    MaxPooling1D,
    MaxPooling2D,
)
from nntrain.engine.layers.recurrent import SimpleRNN
from nntrain.engine.layers.reshaping import Add, Concatenate, Flatten, Reshape, UpSampling2D, ZeroPadding2D

__all__ = ["LAYERS", "Layer", "Input", "Dense", "Activation", "Dropout", "Flatten", "Reshape", "Concatenate", "Add",
           "BatchNormalization", "Embedding", "GlobalAveragePooling1D"]
__all__ += ["Conv1D", "Conv2D", "MaxPooling1D", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D",
            "GlobalMaxPooling1D", "GlobalMaxPooling2D", "SpatialDropout1D", "SpatialDropout2D", "LayerNormalization",
            "ZeroPadding2D", "UpSampling2D"]
__all__ += ["SimpleRNN", "LSTM", "GRU", "Bidirectional"]
