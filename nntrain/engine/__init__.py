"""nntrain's NumPy engine: layers, losses, metrics, optimizers and models. No YAML, files or terminals here."""
