"""The benchmark workloads: shapes, hyperparameters and the random data every framework trains on.

Each workload is a Keras-textbook model on random data of the real data set's shape. Every framework gets the same
arrays (the multi-hot inputs as nntrain's sparse MultiHot and, for the peers, the same matrix as dense float32) and
the same extra validation set of 10% of the training rows, evaluated after every epoch with the training batch
size (Keras's default for `validation_batch_size`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

VALIDATION_FRACTION = 0.1


@dataclass
class Workload:
    """One benchmark model. `optimizer` is (name, learning rate); `task` says which loss and metric go with it.

    task: "sparse_cce" (integer labels, softmax), "cce" (one-hot labels, softmax), "bce" (0/1 labels, sigmoid),
    "mse" (regression, mae metric), "wide_deep" (two inputs, main and aux mse outputs weighted 0.9 / 0.1).
    """

    key: str
    name: str
    n_train: int
    input_width: int
    hidden: tuple[int, ...]
    outputs: int
    task: str
    optimizer: tuple[str, float]
    batch_size: int
    multi_hot: int = 0  # mean ones per row of a multi-hot input; 0 for dense inputs
    description: str = ""
    peers: tuple[str, ...] = ("torch", "keras")  # sklearn joins where it can express the model
    extra: dict = field(default_factory=dict)
    image: tuple[int, ...] = ()  # (height, width, channels) of a convnet's input; `hidden` are then its filters

    @property
    def n_val(self) -> int:
        return int(round(self.n_train * VALIDATION_FRACTION))

    @property
    def steps_per_epoch(self) -> int:
        return -(-self.n_train // self.batch_size)


WORKLOADS = {
    w.key: w
    for w in [
        Workload("W1", "fashion_mlp", 55_000, 784, (300, 100), 10, "sparse_cce", ("sgd", 0.01), 32,
                 description="784 -> 300 relu -> 100 relu -> 10 softmax, sparse CCE, SGD 0.01, batch 32",
                 peers=("torch", "keras", "sklearn")),
        Workload("W2", "imdb_mlp", 15_000, 10_000, (16, 16), 1, "bce", ("rmsprop", 0.001), 512, multi_hot=120,
                 description="10,000-wide multi-hot (~120 ones) -> 16 relu -> 16 relu -> 1 sigmoid, BCE, RMSprop, "
                             "batch 512"),
        Workload("W3", "boston_batch1", 404, 13, (64, 64), 1, "mse", ("rmsprop", 0.001), 1,
                 description="13 -> 64 relu -> 64 relu -> 1, mse (mae metric), RMSprop, batch 1",
                 peers=("torch", "keras", "sklearn")),
        Workload("W4", "reuters_mlp", 8_982, 10_000, (64, 64), 46, "cce", ("rmsprop", 0.001), 512, multi_hot=100,
                 description="10,000-wide multi-hot (~100 ones) -> 64 relu -> 64 relu -> 46 softmax, CCE, RMSprop, "
                             "batch 512"),
        Workload("W5", "wide_deep", 11_610, 8, (30, 30), 1, "wide_deep", ("sgd", 0.001), 32,
                 description="inputs of 5 and 6 features; 30 relu -> 30 relu on the second, concatenated with the "
                             "first; main + aux mse outputs (weights 0.9 / 0.1), SGD, batch 32"),
        Workload("W7", "fashion_cnn", 6_000, 784, (32, 64), 10, "sparse_cce", ("adam", 0.001), 64, image=(28, 28, 1),
                 description="28x28x1 images -> Conv2D 32 3x3 relu -> MaxPool 2 -> Conv2D 64 3x3 relu -> MaxPool 2 -> "
                             "Flatten -> 10 softmax, sparse CCE, Adam, batch 64 (6,000 of Fashion-MNIST's rows)"),
    ]
}


def multi_hot_indices(rng: np.random.Generator, rows: int, width: int, mean_ones: int):
    """CSR (indptr, indices) of a random multi-hot matrix: row lengths around `mean_ones`, word ids drawn with
    Zipf-like frequencies (a few ids are in most rows, as common words are), unique and sorted within a row."""
    ranks = np.arange(1, width + 1)
    p = 1.0 / (ranks + 10.0)
    p /= p.sum()
    counts, chunks = [], []
    for lo in range(0, rows, 1000):  # in chunks, so making the data costs little memory beside the result
        n = min(1000, rows - lo)
        lengths = np.clip(rng.poisson(mean_ones * 1.05, n), 1, width)  # collapsing repeats loses ~5%
        draws = rng.choice(width, size=int(lengths.sum()), p=p)
        keys = np.unique(np.repeat(np.arange(n, dtype=np.int64), lengths) * width + draws)  # sorted, no repeats
        row, col = np.divmod(keys, width)
        counts.append(np.bincount(row, minlength=n))
        chunks.append(col.astype(np.int32))
    indptr = np.zeros(rows + 1, np.int64)
    np.cumsum(np.concatenate(counts), out=indptr[1:])
    return indptr, np.concatenate(chunks)


def to_dense(indptr: np.ndarray, indices: np.ndarray, width: int) -> np.ndarray:
    out = np.zeros((len(indptr) - 1, width), np.float32)
    out[np.repeat(np.arange(len(indptr) - 1), np.diff(indptr)), indices] = 1.0
    return out


def make_data(w: Workload, seed: int = 0) -> dict:
    """Training and validation arrays for every framework.

    Returns a dict with "train" and "val", each {"x": ..., "y": ...}: x is a float32 array, a dict of two arrays
    (W5: "wide", "deep") or, for multi-hot workloads, {"indptr", "indices", "dense"}; y is int64 class ids
    (sparse_cce), one-hot float32 (cce), or float32 (n, 1).
    """
    rng = np.random.default_rng(seed)
    n = w.n_train + w.n_val
    if w.multi_hot:
        indptr, indices = multi_hot_indices(rng, n, w.input_width, w.multi_hot)
        x_all = {"indptr": indptr, "indices": indices}
    elif w.task == "wide_deep":
        feats = rng.standard_normal((n, 8)).astype(np.float32)  # California housing's 8 standardized features
        x_all = {"wide": feats[:, :5].copy(), "deep": feats[:, 2:].copy()}
    elif w.key == "W1" or w.image:
        x_all = (rng.integers(0, 256, (n, *(w.image or (w.input_width,)))) / np.float32(255)).astype(np.float32)
    else:
        x_all = rng.standard_normal((n, w.input_width)).astype(np.float32)

    if w.task == "sparse_cce":
        y_all = rng.integers(0, w.outputs, n).astype(np.int64)
    elif w.task == "cce":
        y_all = np.eye(w.outputs, dtype=np.float32)[rng.integers(0, w.outputs, n)]
    elif w.task == "bce":
        y_all = rng.integers(0, 2, (n, 1)).astype(np.float32)
    else:
        y_all = (rng.standard_normal((n, 1)) * 2 + 5).astype(np.float32)

    def rows(sl: slice) -> dict:
        if w.multi_hot:
            lo, hi = sl.start or 0, sl.stop if sl.stop is not None else n
            ptr = indptr[lo:hi + 1] - indptr[lo]
            ind = indices[indptr[lo]:indptr[hi]]
            x = {"indptr": ptr, "indices": ind, "dense": to_dense(ptr, ind, w.input_width)}
        elif isinstance(x_all, dict):
            x = {k: v[sl] for k, v in x_all.items()}
        else:
            x = x_all[sl]
        return {"x": x, "y": y_all[sl]}

    return {"train": rows(slice(0, w.n_train)), "val": rows(slice(w.n_train, n))}
