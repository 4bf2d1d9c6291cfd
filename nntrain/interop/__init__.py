"""Other tools' model files: Keras (.keras and legacy .h5, written and read) and ONNX (written).

    keras_layers.py   each nntrain layer and its Keras counterpart: config both ways, weights in Keras's order
    keras_write.py    an engine model as a .keras zip (config.json, metadata.json, model.weights.h5) or legacy .h5
    keras_read.py     a Keras model file's architecture and weights by layer name; the engine model it describes
    preprocessing.py  the fitted preprocessing as JSON beside an exported model
    onnx_export.py    an ONNX graph of a trained run, the preprocessing folded in as an option

Used by commands/export.py, commands/keras_import.py and `fit --weights`; imports runs, data and engine only.
"""
