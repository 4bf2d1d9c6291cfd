"""nntrain: train Keras-style neural networks from one YAML file, on a small NumPy engine."""

__version__ = "0.1.0"
