"""The layers, Keras's names, arguments and defaults, by family:

    core.py           Input, Dense, Activation, Dropout
    reshaping.py      Flatten, Reshape, Concatenate, Add
    normalization.py  BatchNormalization
    embedding.py      Embedding, GlobalAveragePooling1D
    recurrent.py      the loop over steps, SimpleRNN
    gated.py          LSTM, GRU
    bidirectional.py  Bidirectional

Importing this package registers every class in LAYERS (the registry itself lives beside the base class, in
engine/layer.py).
"""

from nntrain.engine.layer import LAYERS, Layer
from nntrain.engine.layers.core import Activation, Dense, Dropout, Input
from nntrain.engine.layers.embedding import Embedding, GlobalAveragePooling1D
from nntrain.engine.layers.normalization import BatchNormalization
from nntrain.engine.layers.reshaping import Add, Concatenate, Flatten, Reshape
from nntrain.engine.layers.gated import GRU, LSTM
from nntrain.engine.layers.recurrent import SimpleRNN
from nntrain.engine.layers.bidirectional import Bidirectional

__all__ = ["LAYERS", "Layer", "Input", "Dense", "Activation", "Dropout", "Flatten", "Reshape", "Concatenate", "Add",
           "BatchNormalization", "Embedding", "GlobalAveragePooling1D",
           "SimpleRNN", "LSTM", "GRU", "Bidirectional"]
