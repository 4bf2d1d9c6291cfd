"""Other tools' model files: Keras 3 (.keras written; .keras and legacy .h5 read) and ONNX (written).

    keras_layers.py   each nntrain layer and its Keras counterpart: config both ways, weights in Keras's order
    keras_layers_more.py  the same for convolution, pooling, normalization, recurrent layers, Bidirectional
    keras_write.py    an engine model as a .keras zip (config.json, metadata.json, model.weights.h5)
    keras_read.py     a Keras model file's architecture and weights by layer name; the engine model it describes
    preprocessing.py  the fitted preprocessing as JSON beside an exported model
    onnx_export.py    an ONNX graph of a trained run, the preprocessing folded in as an option
    onnx_graph.py     layers and activations as ONNX nodes (onnx_layers_more.py, onnx_recurrent.py: the newer
                      layers, masks, recurrent layers)

Used by commands/export.py, commands/keras_import.py and `fit --weights`; imports runs, data and engine only.
"""
