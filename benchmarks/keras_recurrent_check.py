"""nntrain's recurrent layers against Keras 3's, with the same weights: Embedding (with and without mask_zero, on
pre-padded ids) -> SimpleRNN / LSTM / GRU / Bidirectional, return_sequences and go_backwards. Prints the largest
difference of the outputs per case (float32; Keras on the torch backend unless KERAS_BACKEND says otherwise).

    KERAS_BACKEND=torch /work/venv-bench/bin/python benchmarks/keras_recurrent_check.py
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from nntrain.engine.layers import GRU, LSTM, Bidirectional, Embedding, Input, SimpleRNN  # noqa: E402
from nntrain.engine.model import Sequential  # noqa: E402

ids = np.array([[0, 0, 3, 5, 2, 7], [1, 4, 4, 2, 9, 3], [0, 0, 0, 0, 6, 8]])
cases = [("SimpleRNN", {}), ("LSTM", {}), ("GRU", {}), ("LSTM", {"return_sequences": True}),
         ("GRU", {"go_backwards": True}), ("SimpleRNN", {"go_backwards": True, "return_sequences": True})]
for bidi in (False, True):
    for kind, kw in cases:
        if bidi and kw.get("go_backwards"):
            continue  # Keras 3.15 refuses a Bidirectional around a layer that reads backwards
        for mask in (False, True):
            inner = {"type": kind, "units": 3, "bias_initializer": "random_normal", **kw}
            layer = Bidirectional(dict(inner), merge_mode="concat") if bidi else \
                {"SimpleRNN": SimpleRNN, "LSTM": LSTM, "GRU": GRU}[kind](3, bias_initializer="random_normal", **kw)
            m = Sequential([Input([6], dtype="int64"), Embedding(10, 4, mask_zero=mask), layer], seed=1)
            (ours,), _ = m.forward([ids], training=False)
            kl = getattr(keras.layers, kind)(3, **kw)
            if bidi:
                kl = keras.layers.Bidirectional(kl)
            k = keras.Sequential([keras.Input((6,), dtype="int32"), keras.layers.Embedding(10, 4, mask_zero=mask), kl])
            w = m.get_weights()
            k.layers[0].set_weights([w["embedding"]["embeddings"]])
            if bidi:
                lw = w["bidirectional"]
                k.layers[1].set_weights([lw[f"{d}_{n}"] for d in ("forward", "backward")
                                         for n in ("kernel", "recurrent_kernel", "bias")])
            else:
                lw = w[m.layers[-1].name]
                k.layers[1].set_weights([lw["kernel"], lw["recurrent_kernel"], lw["bias"]])
            theirs = np.asarray(k.predict(ids, verbose=0))
            name = f"{'Bidirectional ' if bidi else ''}{kind} {kw} mask={mask}"
            print(f"{name}: max |diff| = {np.abs(theirs - ours).max():.2e}")
