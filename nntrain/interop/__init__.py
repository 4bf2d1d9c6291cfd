"""Other tools' model files: Keras (.keras and legacy .h5, written and read) and ONNX (written).

    keras_layers.py   each nntrain layer and its Keras counterpart: config both ways, weights in Keras's order
    keras_layers_more.py  the same for convolution, pooling, normalization, recurrent layers, Bidirectional
    keras_write.py    an engine model as a .keras zip (config.json, metadata.json, model.weights.h5) or legacy .h5
    keras_read.py     a Keras model file's architecture and weights by layer name; the engine model it describes
    preprocessing.py  the fitted preprocessing as JSON beside an exported model
    onnx_export.py    an ONNX graph of a trained run, the preprocessing folded in as an option
    onnx_graph.py     the graph builder and the activations as ONNX nodes
    onnx_layers.py    each layer as ONNX nodes, and the masks of Embedding(mask_zero=True)
    onnx_spatial.py   convolutions, poolings, padding, upsampling, LayerNormalization (native ops, channels first)
    onnx_recurrent.py SimpleRNN, LSTM, GRU, Bidirectional: ONNX's own operators, or a Scan over the steps with a mask
    onnx_preprocessing.py  the fitted preprocessing as nodes before the network, decoded outputs after it

Used by commands/export.py, commands/keras_import.py and `fit --weights`; imports runs, data and engine only.
"""
