"""Preprocessing: fitted on train only, state round-trips without pickle, Keras semantics of the sequence steps."""

from pathlib import Path

import numpy as np
import pytest

from nntrain.config.data_schema import STEP_NAMES
from nntrain.data import STEPS, Preprocessor, build_step, load_raw, make_bundle
from nntrain.engine.sparse import MultiHot
from nntrain.errors import ConfigError, DataError, ShapeError
from tests.data_helpers import data_bundle

HERE = Path(".")


def pad(seqs, **kw):
    step = STEPS.build("pad_sequences", **kw)
    step.fit(seqs, {})
    return step.transform(seqs)


def test_pad_sequences_keras_semantics():
    seqs = [[1], [1, 2], [1, 2, 3]]
    # maxlen defaults to the longest sequence; padding and truncating default to 'pre'
    np.testing.assert_array_equal(pad(seqs), [[0, 0, 1], [0, 1, 2], [1, 2, 3]])
    np.testing.assert_array_equal(pad(seqs, padding="post"), [[1, 0, 0], [1, 2, 0], [1, 2, 3]])
    np.testing.assert_array_equal(pad(seqs, maxlen=2), [[0, 1], [1, 2], [2, 3]])
    np.testing.assert_array_equal(pad(seqs, maxlen=2, truncating="post"), [[0, 1], [1, 2], [1, 2]])
    np.testing.assert_array_equal(pad(seqs, maxlen=2, value=9, padding="post"), [[1, 9], [1, 2], [2, 3]])
    np.testing.assert_array_equal(pad([[], [5, 6, 7, 8]], maxlen=3), [[0, 0, 0], [6, 7, 8]])
    assert pad(seqs).dtype == np.int32


def test_pad_sequences_fits_maxlen_on_train_only():
    step = STEPS.build("pad_sequences")
    step.fit([[1, 2], [3]], {})
    np.testing.assert_array_equal(step.transform([[1, 2, 3, 4]]), [[3, 4]])


def test_multi_hot_equals_dense_reference():
    rng = np.random.default_rng(1)
    seqs = [rng.integers(0, 30, size=rng.integers(0, 12)).tolist() for _ in range(40)]
    step = STEPS.build("multi_hot", dimension=25)
    step.fit(seqs, {})
    got = step.transform(seqs)
    assert isinstance(got, MultiHot) and got.shape == (40, 25)
    dense = np.zeros((40, 25), dtype=np.float32)
    for i, s in enumerate(seqs):
        for w in s:
            if w < 25:
                dense[i, w] = 1.0  # ids >= dimension are dropped, repeats count once
    np.testing.assert_array_equal(got.toarray(), dense)


def test_multi_hot_dimension_from_train_or_tokenizer_hint():
    step = STEPS.build("multi_hot")
    step.fit([[1, 7], [2]], {})
    assert step.transform([[9, 3]]).shape == (1, 8)
    step = STEPS.build("multi_hot")
    step.fit([[1, 7]], {"vocab_size": 100})
    assert step.transform([[99]]).toarray()[0, 99] == 1


def test_standardize_fitted_on_train_only():
    raw = load_raw({"dataset": "wine"}, HERE)
    b = make_bundle(raw, {"preprocessing": ["standardize"]})
    np.testing.assert_allclose(b.train.x.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(b.train.x.std(axis=0), 1, atol=1e-4)
    # the test rows were transformed with the training statistics, not their own
    assert np.abs(b.test.x.mean(axis=0)).max() > 0.05
    train_raw = np.column_stack([raw.train.x["input"].columns[c] for c in raw.train.x["input"].names])
    state = b.preprocessor.get_state()["inputs"]["input"]["steps"][0]["state"]
    np.testing.assert_allclose(state["shift"], train_raw.mean(axis=0), rtol=1e-5)
    test_raw = np.column_stack([raw.test.x["input"].columns[c] for c in raw.test.x["input"].names])
    assert not np.allclose(state["shift"], np.concatenate([train_raw, test_raw]).mean(axis=0), rtol=1e-5)


def test_validation_rows_are_not_fitted_on():
    raw = load_raw({"dataset": "iris"}, HERE)
    b = make_bundle(raw, {"preprocessing": ["minmax"]}, validation_split=0.25, seed=3)
    assert b.train.x.min() == 0 and b.train.x.max() == 1
    assert len(b.val) == 30 and len(b.train) == 90
    assert not set(b.indices["train"]) & set(b.indices["val"])


def assert_plain(obj, path="state"):
    """Only what HDF5 can hold: dicts, lists, str, int, float, numpy arrays/scalars."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            assert isinstance(k, str), path
            assert_plain(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            assert_plain(v, f"{path}[{i}]")
    else:
        assert isinstance(obj, (str, int, float, np.ndarray, np.generic)), f"{path}: {type(obj)}"
        if isinstance(obj, np.ndarray):
            assert obj.dtype != object, path


def test_state_round_trip_table_inputs(tmp_path):
    (tmp_path / "t.csv").write_text("a,b,color,label\n1,2,red,yes\n2,3,blue,no\n3,5,red,yes\n4,4,green,no\n")
    spec = {"train": "t.csv", "target": "label", "preprocessing": ["standardize", {"rescale": {"scale": 2.0}}],
            "target_preprocessing": ["one_hot"]}
    b = data_bundle(spec, tmp_path)
    state = b.preprocessor.get_state()
    assert_plain(state)
    again = Preprocessor.from_state(state)
    raw = load_raw(spec, tmp_path)
    np.testing.assert_array_equal(again.transform_x(raw.train.x), b.train.x)
    np.testing.assert_array_equal(again.transform_y(raw.train.y), b.train.y)
    assert again.class_names == {"output": ["no", "yes"]}


def test_state_round_trip_text_and_sequences(tmp_path):
    for label, texts in {"neg": ["bad bad film", "awful"], "pos": ["good film", "great good fun"]}.items():
        (tmp_path / label).mkdir()
        for i, t in enumerate(texts):
            (tmp_path / label / f"{i}.txt").write_text(t)
    for steps in (["multi_hot"], [{"pad_sequences": {"maxlen": 4}}]):
        spec = {"train": ".", "tokenizer": {"num_words": 3}, "preprocessing": steps}
        b = data_bundle(spec, tmp_path)
        state = b.preprocessor.get_state()
        assert_plain(state)
        again = Preprocessor.from_state(state)
        docs = np.array(["good bad unknownword", "film"], dtype=object)
        x1, x2 = b.preprocessor.transform_x(docs), again.transform_x(docs)
        if isinstance(x1, MultiHot):
            x1, x2 = x1.toarray(), x2.toarray()
        np.testing.assert_array_equal(x1, x2)


def test_sequences_need_a_sequence_step(tmp_path):
    import h5py

    with h5py.File(tmp_path / "s.h5", "w") as f:  # ragged sequences without pickling: HDF5 variable-length ints
        x = f.create_dataset("x", (2,), dtype=h5py.vlen_dtype(np.int64))
        x[0], x[1] = [1, 2], [3]
        f["y"] = np.array([0, 1])
    with pytest.raises(ConfigError, match="add a `multi_hot` step"):
        data_bundle({"train": "s.h5"}, tmp_path)
    with pytest.raises(ConfigError, match="needs numeric arrays"):
        data_bundle({"train": "s.h5", "preprocessing": ["multi_hot", "standardize"]}, tmp_path)


def test_one_hot_and_images_steps(tmp_path):
    x = np.arange(4 * 2 * 2, dtype=np.uint8).reshape(4, 2, 2)
    np.savez(tmp_path / "img.npz", x=x, y=np.array([0, 2, 1, 2]))
    b = data_bundle({"train": "img.npz", "preprocessing": [{"rescale": {"scale": 0.5, "offset": 1}}, "flatten"],
                     "target_preprocessing": [{"one_hot": {"num_classes": 4}}]}, tmp_path)
    np.testing.assert_allclose(b.train.x[1], x[1].reshape(-1) * 0.5 + 1)
    assert b.train.x.dtype == np.float32
    np.testing.assert_array_equal(b.train.y, np.eye(4, dtype=np.float32)[[0, 2, 1, 2]])
    assert b.info["outputs"]["output"]["width"] == 4
    with pytest.raises(ShapeError, match="cannot hold samples of shape"):
        data_bundle({"train": "img.npz", "preprocessing": [{"reshape": {"shape": [3, 3]}}]}, tmp_path)


def test_steps_registry_matches_schema_and_rejects_bad_configs():
    assert STEPS.names() == list(STEP_NAMES)
    with pytest.raises(ConfigError, match="did you mean `standardize`"):
        build_step("standardise")
    with pytest.raises(ConfigError, match="rescale"):
        build_step({"rescale": {"scal": 1}})
    with pytest.raises(ConfigError, match="padding 'pre' or 'post'"):
        build_step({"pad_sequences": {"padding": "middle"}})
    with pytest.raises(ConfigError, match="a name or"):
        build_step({"standardize": {}, "flatten": {}})


def test_one_hot_rejects_out_of_range_labels():
    step = build_step("one_hot")
    step.fit(np.array([0, 1, 2]), {"n_classes": 3})
    with pytest.raises(DataError, match="row 2 has class 3"):
        step.transform(np.array([0, 3]))


def _h5_write(group, state):
    """A plain HDF5 layout for nested state: dicts and lists as groups (list items keyed 0, 1, ...)."""
    import h5py

    items = state.items() if isinstance(state, dict) else ((str(i), v) for i, v in enumerate(state))
    group.attrs["__list__"] = int(isinstance(state, list))
    for key, value in items:
        if isinstance(value, (dict, list)) and not (isinstance(value, list) and value and
                                                     all(isinstance(v, str) for v in value)):
            _h5_write(group.create_group(key), value)
        elif isinstance(value, list):  # list of str
            group.create_dataset(key, data=value, dtype=h5py.string_dtype())
        else:
            group.create_dataset(key, data=value)


def _h5_read(group):
    import h5py

    out = {}
    for key, item in group.items():
        out[key] = _h5_read(item) if isinstance(item, h5py.Group) else item[()]
    return out  # lists come back as dicts keyed "0", "1", ...; strings as bytes


def test_state_survives_an_hdf5_round_trip(tmp_path):
    import h5py

    (tmp_path / "t.csv").write_text("a,color,label\n1,red,yes\n2,blue,no\n3,red,yes\n4,green,no\n")
    b = data_bundle({"train": "t.csv", "target": "label", "preprocessing": ["standardize"],
                     "target_preprocessing": ["one_hot"]}, tmp_path)
    with h5py.File(tmp_path / "s.h5", "w") as f:
        _h5_write(f.create_group("pre"), b.preprocessor.get_state())
    with h5py.File(tmp_path / "s.h5", "r") as f:
        state = _h5_read(f["pre"])
    again = Preprocessor.from_state(state)
    raw = load_raw({"train": "t.csv", "target": "label"}, tmp_path)
    np.testing.assert_array_equal(again.transform_x(raw.train.x), b.train.x)
    np.testing.assert_array_equal(again.transform_y(raw.train.y), b.train.y)
    assert again.class_names == {"output": ["no", "yes"]}


def test_target_steps_are_undone_in_the_targets_units(tmp_path):
    y = [10.5, 12.0, 20.25, 7.0, 15.5]
    (tmp_path / "t.csv").write_text("x,y\n" + "".join(f"{i},{v}\n" for i, v in enumerate(y)))
    steps = ["minmax", {"rescale": {"scale": 2, "offset": -1}}]
    spec = {"train": "t.csv", "target": "y", "target_preprocessing": steps}
    b = data_bundle(spec, tmp_path)
    assert b.train.y.min() == -1 and b.train.y.max() == 1
    back = b.preprocessor.outputs["output"].inverse_transform(b.train.y)
    assert back.dtype == np.float64
    np.testing.assert_allclose(back, y, rtol=1e-6)
    (tmp_path / "c.csv").write_text("x,y\n1,0\n2,1\n3,2\n")
    b = data_bundle({"train": "c.csv", "target": "y", "target_preprocessing": ["one_hot"]}, tmp_path)
    assert b.preprocessor.outputs["output"].inverse_transform(b.train.y) is None  # class indices are not undone
