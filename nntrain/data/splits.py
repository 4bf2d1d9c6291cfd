"""Deterministic row splits: hold-out fractions and k folds, optionally stratified by class."""

from __future__ import annotations

import numpy as np

from nntrain.errors import ConfigError


def _groups(n: int, stratify_labels, rng: np.random.Generator | None) -> list[np.ndarray]:
    """Row indices grouped by class (one group when not stratified), each shuffled when `rng` is given."""
    if stratify_labels is None:
        groups = [np.arange(n, dtype=np.int64)]
    else:
        labels = np.asarray(stratify_labels)
        if len(labels) != n:
            raise ConfigError(f"stratify_labels has {len(labels)} entries for {n} rows")
        _, codes = np.unique(labels, return_inverse=True)
        order = np.argsort(codes, kind="stable")
        bounds = np.flatnonzero(np.diff(codes[order])) + 1
        groups = np.split(order.astype(np.int64), bounds)
    if rng is not None:
        groups = [rng.permutation(g) for g in groups]
    return groups


def split_indices(
    n: int, fraction: float, shuffle: bool = True, stratify_labels=None, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Split `n` rows into a kept part and a held-out `fraction`.

    Without shuffling the held-out rows are the last ones, like Keras's `validation_split`. Stratified splits hold
    out round(fraction * class size) rows of each class (largest-remainder rounding so the total is
    round(fraction * n)), keeping class proportions.

    Args:
        n: number of rows.
        fraction: held-out share, 0 <= fraction < 1.
        shuffle: pick the held-out rows at random (seeded) instead of taking the last ones.
        stratify_labels: (n,) class of each row, or None.
        seed: seed of the shuffle; the same seed gives the same split.

    Returns:
        (kept, held_out): sorted int64 row indices, disjoint, together 0..n-1.
    """
    if not 0 <= fraction < 1:
        raise ConfigError(f"a split fraction must be in [0, 1), got {fraction!r}")
    n_out = int(round(fraction * n))
    if fraction > 0 and n_out == 0 and n > 1:
        n_out = 1
    if n_out >= n > 0:
        raise ConfigError(f"a split fraction of {fraction} leaves no row to train on out of {n}")
    if n_out == 0:
        return np.arange(n, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if not shuffle and stratify_labels is None:
        return np.arange(n - n_out, dtype=np.int64), np.arange(n - n_out, n, dtype=np.int64)

    rng = np.random.default_rng(seed) if shuffle else None
    groups = _groups(n, stratify_labels, rng)
    sizes = np.array([len(g) for g in groups], dtype=np.int64)
    exact = sizes * (n_out / n)
    take = np.floor(exact).astype(np.int64)
    # largest remainders get the rows left over by flooring; ties go to the larger class, then the first
    remainder_order = np.lexsort((-sizes, -(exact - take)))
    take[remainder_order[: n_out - take.sum()]] += 1
    # without shuffling, each class gives its last rows, like an unshuffled validation_split
    held = np.concatenate([g[len(g) - t :] if rng is None else g[:t] for g, t in zip(groups, take)])
    mask = np.zeros(n, dtype=bool)
    mask[held] = True
    return np.flatnonzero(~mask).astype(np.int64), np.flatnonzero(mask).astype(np.int64)


def kfold_indices(n: int, k: int, seed: int = 0, stratify_labels=None) -> list[tuple[np.ndarray, np.ndarray]]:
    """k folds over `n` shuffled rows: every row is in exactly one fold's validation part.

    Stratified folds deal each class's shuffled rows round-robin over the folds, so each fold keeps the class
    proportions to within one row per class.

    Args:
        n: number of rows.
        k: number of folds, 2 <= k <= n.
        seed: seed of the shuffle.
        stratify_labels: (n,) class of each row, or None.

    Returns:
        k pairs (train_idx, val_idx) of sorted int64 row indices.
    """
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 2:
        raise ConfigError(f"k-fold cross-validation needs k >= 2 folds, got k={k!r}")
    if k > n:
        raise ConfigError(f"k-fold cross-validation cannot make k={k} folds from {n} rows")
    rng = np.random.default_rng(seed)
    fold_of = np.empty(n, dtype=np.int64)
    offset = 0
    for group in _groups(n, stratify_labels, rng):
        # continue the round-robin where the previous class stopped, so fold sizes stay within one row
        fold_of[group] = (np.arange(len(group)) + offset) % k
        offset += len(group)
    folds = []
    for fold in range(k):
        val = np.flatnonzero(fold_of == fold).astype(np.int64)
        train = np.flatnonzero(fold_of != fold).astype(np.int64)
        folds.append((train, val))
    return folds
