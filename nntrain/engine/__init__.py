"""nntrain's NumPy engine: layers, losses, metrics, optimizers and models. No YAML, files or terminals here, and no
import of anything in nntrain above the engine but errors and registry (tests/test_engine_imports.py).

    layer.py, layers/           the Layer base class and registry; the layers by family
    activations.py, ops.py      activations; the stable sigmoid / softplus / softmax / log-softmax they all use
    initializers.py, regularizers.py, schedules.py
    losses/, metrics/           per-sample losses with their gradients; streaming metrics; monitor.py: which way is up
    optimizers/                 the shared step machinery (base.py) and the update rules (rules.py)
    graph.py, model.py          layers wired into a graph; the compiled model and its train / test step on a batch
    summary.py, sparse.py       the summary table; MultiHot, multi-hot rows kept sparse
    kernels.py                  the optional speed-ups (fused SGD gemm, scipy CSR kernels), each with its plain twin
"""
