"""One module per framework, each with `available() -> str | None` (its version, or None when not installed) and
`train(workload, data, epochs) -> {"epoch_seconds": [...], "final": {...}}`.

Every implementation does the same work per epoch: shuffle, train on mini-batches while accumulating the loss and
the metric, then evaluate the validation set with the training batch size.
"""

FRAMEWORKS = ("nntrain", "torch", "keras", "sklearn")


def load(name: str):
    import importlib

    return importlib.import_module(f"benchmarks.frameworks.{name}_impl")
