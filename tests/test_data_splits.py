"""split_indices and kfold_indices: deterministic, disjoint, stratified when asked; make_bundle's validation."""

from pathlib import Path

import numpy as np
import pytest

from nntrain.data import kfold_indices, load_raw, make_bundle, split_indices
from nntrain.errors import ConfigError


def test_split_is_a_partition_and_deterministic():
    keep, held = split_indices(100, 0.3, seed=4)
    assert len(held) == 30 and len(keep) == 70
    np.testing.assert_array_equal(np.sort(np.concatenate([keep, held])), np.arange(100))
    _, held2 = split_indices(100, 0.3, seed=4)
    np.testing.assert_array_equal(held, held2)
    assert not np.array_equal(held, split_indices(100, 0.3, seed=5)[1])
    assert keep.dtype == np.int64


def test_unshuffled_split_holds_out_the_last_rows_like_keras():
    keep, held = split_indices(10, 0.2, shuffle=False)
    np.testing.assert_array_equal(held, [8, 9])
    np.testing.assert_array_equal(keep, np.arange(8))


def test_stratified_split_keeps_proportions():
    labels = np.array([0] * 60 + [1] * 30 + [2] * 10)
    keep, held = split_indices(100, 0.2, stratify_labels=labels, seed=1)
    np.testing.assert_array_equal(np.bincount(labels[held]), [12, 6, 2])
    np.testing.assert_array_equal(np.bincount(labels[keep]), [48, 24, 8])


def test_stratified_split_rounds_to_the_requested_total():
    labels = np.array([0] * 7 + [1] * 7 + [2] * 7)
    _, held = split_indices(21, 0.5, stratify_labels=labels)
    assert len(held) == round(0.5 * 21)
    assert np.bincount(labels[held]).max() - np.bincount(labels[held]).min() <= 1


def test_split_fraction_errors():
    with pytest.raises(ConfigError):
        split_indices(10, 1.0)
    assert len(split_indices(10, 0.0)[1]) == 0
    assert len(split_indices(10, 0.01)[1]) == 1  # a non-zero fraction holds out at least one row


@pytest.mark.parametrize("stratified", [False, True])
def test_kfold_covers_every_row_once(stratified):
    labels = np.array([0] * 13 + [1] * 7) if stratified else None
    folds = kfold_indices(20, 3, seed=2, stratify_labels=labels)
    assert len(folds) == 3
    val_all = np.concatenate([v for _, v in folds])
    np.testing.assert_array_equal(np.sort(val_all), np.arange(20))
    for train, val in folds:
        assert not set(train) & set(val)
        assert len(train) + len(val) == 20
        assert len(val) in (6, 7)
        if stratified:
            counts = np.bincount(labels[val], minlength=2)
            assert 4 <= counts[0] <= 5 and 2 <= counts[1] <= 3
    again = kfold_indices(20, 3, seed=2, stratify_labels=labels)
    for (a, b), (c, d) in zip(folds, again):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)


@pytest.mark.parametrize("k", [1, 0, 21])
def test_kfold_rejects_bad_k(k):
    with pytest.raises(ConfigError, match="k"):
        kfold_indices(20, k, seed=0)


def test_make_bundle_with_fold_indices_and_stratified_validation():
    raw = load_raw({"dataset": "iris"}, Path("."))
    folds = kfold_indices(len(raw.train), 4, seed=0, stratify_labels=raw.stratify_labels())
    train_idx, val_idx = folds[1]
    b = make_bundle(raw, {}, train_idx=train_idx, val_idx=val_idx)
    np.testing.assert_array_equal(b.indices["val"], raw.train.rows[val_idx])
    np.testing.assert_array_equal(b.indices["train"], raw.train.rows[train_idx])
    np.testing.assert_array_equal(np.bincount(b.val.y), [10, 10, 10])
    b = make_bundle(raw, {}, validation_split=0.25, stratify=True, seed=9)
    np.testing.assert_array_equal(np.bincount(b.val.y), [10, 10, 10])


def test_explicit_validation_file(tmp_path):
    (tmp_path / "train.csv").write_text("x,y\n" + "".join(f"{i},{i % 2}\n" for i in range(10)))
    (tmp_path / "val.csv").write_text("x,y\n100,1\n200,0\n")
    raw = load_raw({"train": "train.csv", "validation": "val.csv", "target": "y"}, tmp_path)
    b = make_bundle(raw, {"preprocessing": ["standardize"]}, validation_split=0.5)  # the file wins
    assert len(b.train) == 10 and len(b.val) == 2
    np.testing.assert_array_equal(b.indices["val"], [0, 1])
    assert b.val.x[0, 0] > 10  # scaled with the training statistics
