"""Optimizers against their published update rules, written out again here step by step (Keras 3's formulas).

The reference functions below share no code with nntrain: plain NumPy, no in-place tricks, one line per formula.
"""

import math
import tracemalloc

import numpy as np
import pytest

from nntrain.engine.optimizers import OPTIMIZERS
from nntrain.errors import CheckpointError, ConfigError

W0 = {
    "dense_1/kernel": np.array([[0.5, -1.0], [1.5, 0.25]]),
    "dense_1/bias": np.array([0.1, -0.2]),
}
# Gradients of five steps: mixed signs, a zero, one large step followed by small ones (so AMSGrad's max matters).
GRADS = [
    {"dense_1/kernel": np.array([[0.2, -0.4], [1.0, -0.05]]), "dense_1/bias": np.array([0.3, -0.1])},
    {"dense_1/kernel": np.array([[-0.3, 0.6], [0.05, 0.0]]), "dense_1/bias": np.array([-0.2, 0.4])},
    {"dense_1/kernel": np.array([[0.1, 0.2], [-0.07, 0.3]]), "dense_1/bias": np.array([0.05, -0.6])},
    {"dense_1/kernel": np.array([[0.4, -0.1], [0.2, 0.1]]), "dense_1/bias": np.array([-0.3, 0.2])},
    {"dense_1/kernel": np.array([[-0.2, 0.3], [0.6, -0.4]]), "dense_1/bias": np.array([0.1, 0.0])},
]


# ----- reference rules: (w, g, state dict, t = 1-based step) -> new w


def ref_sgd(w, g, s, t, learning_rate, momentum=0.0, nesterov=False):
    if momentum == 0:
        return w - learning_rate * g
    s["m"] = momentum * s.get("m", 0.0) - learning_rate * g
    if nesterov:
        return w + momentum * s["m"] - learning_rate * g
    return w + s["m"]


def ref_adagrad(w, g, s, t, learning_rate, initial_accumulator_value=0.1, epsilon=1e-7):
    s["acc"] = s.get("acc", initial_accumulator_value) + g**2
    return w - learning_rate * g / np.sqrt(s["acc"] + epsilon)


def ref_rmsprop(w, g, s, t, learning_rate, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False):
    s["v"] = rho * s.get("v", 0.0) + (1 - rho) * g**2
    if centered:
        s["a"] = rho * s.get("a", 0.0) + (1 - rho) * g
        denominator = s["v"] - s["a"] ** 2 + epsilon
    else:
        denominator = s["v"] + epsilon
    increment = learning_rate * g / np.sqrt(denominator)
    if momentum > 0:
        s["mom"] = momentum * s.get("mom", 0.0) + increment
        return w - s["mom"]
    return w - increment


def ref_adam(w, g, s, t, learning_rate, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, weight_decay=0.0):
    w = w - w * weight_decay * learning_rate  # AdamW: decoupled decay first
    s["m"] = beta_1 * s.get("m", 0.0) + (1 - beta_1) * g
    s["v"] = beta_2 * s.get("v", 0.0) + (1 - beta_2) * g**2
    v = s["v"]
    if amsgrad:
        s["v_hat"] = np.maximum(s.get("v_hat", 0.0), s["v"])
        v = s["v_hat"]
    alpha = learning_rate * math.sqrt(1 - beta_2**t) / (1 - beta_1**t)
    return w - alpha * s["m"] / (np.sqrt(v) + epsilon)


def ref_nadam(w, g, s, t, learning_rate, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    def u(k):
        return beta_1 * (1 - 0.5 * 0.96**k)

    u_product = math.prod(u(k) for k in range(1, t + 1))
    u_product_next = u_product * u(t + 1)
    s["m"] = beta_1 * s.get("m", 0.0) + (1 - beta_1) * g
    s["v"] = beta_2 * s.get("v", 0.0) + (1 - beta_2) * g**2
    m_hat = u(t + 1) * s["m"] / (1 - u_product_next) + (1 - u(t)) * g / (1 - u_product)
    v_hat = s["v"] / (1 - beta_2**t)
    return w - learning_rate * m_hat / (np.sqrt(v_hat) + epsilon)


# A large epsilon in the base cases checks where it enters each formula; the variants keep Keras's default.
CASES = {
    "sgd": ("sgd", {"learning_rate": 0.1}, ref_sgd),
    "sgd_momentum": ("sgd", {"learning_rate": 0.1, "momentum": 0.9}, ref_sgd),
    "sgd_nesterov": ("sgd", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}, ref_sgd),
    "adagrad": ("adagrad", {"learning_rate": 0.1, "epsilon": 0.05}, ref_adagrad),
    "rmsprop": ("rmsprop", {"learning_rate": 0.01, "epsilon": 0.01}, ref_rmsprop),
    "rmsprop_centered_momentum": (
        "rmsprop", {"learning_rate": 0.01, "rho": 0.8, "momentum": 0.5, "centered": True}, ref_rmsprop),
    "adam": ("adam", {"learning_rate": 0.1, "epsilon": 0.01}, ref_adam),
    "adam_amsgrad": ("adam", {"learning_rate": 0.1, "beta_2": 0.5, "amsgrad": True}, ref_adam),
    "adamw": ("adamw", {"learning_rate": 0.1, "weight_decay": 0.1}, ref_adam),
    "nadam": ("nadam", {"learning_rate": 0.1, "epsilon": 0.01}, ref_nadam),
}


def reference_trajectory(ref, kwargs, n_steps):
    """Parameters after each of the first n_steps, from the reference rule."""
    w = {k: v.copy() for k, v in W0.items()}
    states = {k: {} for k in W0}
    out = []
    for t in range(1, n_steps + 1):
        w = {k: ref(w[k], GRADS[t - 1][k], states[k], t, **kwargs) for k in w}
        out.append(w)
    return out


def run(opt, params, steps):
    """Apply GRADS[steps] to `params` (cast to their dtype); returns copies of the params after each step."""
    out = []
    for t in steps:
        opt.apply(params, {k: g.astype(params[k].dtype) for k, g in GRADS[t].items()})
        out.append({k: v.copy() for k, v in params.items()})
    return out


def fresh(dtype=np.float64):
    return {k: v.astype(dtype) for k, v in W0.items()}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-6), (np.float32, 1e-5)])
def test_first_three_steps_match_the_formula(case, dtype, tol):
    name, kwargs, ref = CASES[case]
    expected = reference_trajectory(ref, kwargs, 3)
    params = fresh(dtype)
    got = run(OPTIMIZERS.build(name, **kwargs), params, range(3))
    for step, (g, e) in enumerate(zip(got, expected)):
        for key in W0:
            assert g[key].dtype == dtype
            np.testing.assert_allclose(g[key], e[key], rtol=0, atol=tol, err_msg=f"{case}, step {step + 1}, {key}")
    # The steps are big enough that a wrong rule would show: every weight with a gradient has moved.
    assert all(not np.allclose(got[0][k], W0[k], atol=1e-4) for k in W0)


def test_variants_differ_from_their_base_rule():
    """The variant cases exercise their option: same problem, different trajectory."""
    def last(name, **kwargs):
        return run(OPTIMIZERS.build(name, **kwargs), fresh(), range(3))[-1]["dense_1/kernel"]

    pairs = [
        (last("sgd", learning_rate=0.1, momentum=0.9), last("sgd", learning_rate=0.1, momentum=0.9, nesterov=True)),
        (last("adam", learning_rate=0.1, beta_2=0.5), last("adam", learning_rate=0.1, beta_2=0.5, amsgrad=True)),
        (last("rmsprop", learning_rate=0.01, rho=0.8), last("rmsprop", learning_rate=0.01, rho=0.8, centered=True)),
        (last("adam", learning_rate=0.1), last("adamw", learning_rate=0.1)),
    ]
    for a, b in pairs:
        assert np.abs(a - b).max() > 1e-5


def test_first_adam_step_moves_each_weight_by_the_learning_rate():
    """Adam's first step is lr * g / (|g| + eps) = lr * sign(g): a number that can be checked by eye."""
    params = fresh()
    OPTIMIZERS.build("adam", learning_rate=0.1).apply(params, {k: g.copy() for k, g in GRADS[0].items()})
    np.testing.assert_allclose(params["dense_1/kernel"], [[0.4, -0.9], [1.4, 0.35]], atol=1e-5)
    np.testing.assert_allclose(params["dense_1/bias"], [0.0, -0.1], atol=1e-5)


def test_defaults_are_keras_3_defaults():
    expected = {
        "sgd": {"learning_rate": 0.01, "momentum": 0.0, "nesterov": False},
        "adagrad": {"learning_rate": 0.001, "initial_accumulator_value": 0.1, "epsilon": 1e-7},
        "rmsprop": {"learning_rate": 0.001, "rho": 0.9, "momentum": 0.0, "epsilon": 1e-7, "centered": False},
        "adam": {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "amsgrad": False},
        "adamw": {"learning_rate": 0.001, "weight_decay": 0.004, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7,
                  "amsgrad": False},
        "nadam": {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7},
    }
    assert set(expected) == set(OPTIMIZERS.names())
    for name, defaults in expected.items():
        config = OPTIMIZERS.build(name).get_config()
        assert {k: config[k] for k in defaults} == defaults, name
        assert config["clipnorm"] is config["clipvalue"] is config["global_clipnorm"] is None


# ----- clipping: SGD with lr 1 makes the step equal to the clipped gradient


def sgd_step(grads, **clip):
    params = {"a": np.zeros((2, 2)), "b": np.zeros(2)}
    OPTIMIZERS.build("sgd", learning_rate=1.0, **clip).apply(params, grads)
    return -params["a"], -params["b"]


def test_clipnorm_clips_each_gradient_to_the_norm():
    a, b = sgd_step({"a": np.array([[3.0, 4.0], [0.0, 0.0]]), "b": np.array([0.3, -0.4])}, clipnorm=1.0)
    np.testing.assert_allclose(a, [[0.6, 0.8], [0.0, 0.0]], atol=1e-12)  # norm 5 -> 1
    np.testing.assert_allclose(b, [0.3, -0.4], atol=1e-12)  # norm 0.5: left alone


def test_clipvalue_clips_elementwise():
    a, b = sgd_step({"a": np.array([[3.0, -4.0], [0.2, -0.1]]), "b": np.array([0.5, -0.7])}, clipvalue=0.5)
    np.testing.assert_allclose(a, [[0.5, -0.5], [0.2, -0.1]], atol=1e-12)
    np.testing.assert_allclose(b, [0.5, -0.5], atol=1e-12)


def test_global_clipnorm_scales_all_gradients_together():
    grads = {"a": np.array([[3.0, 4.0], [0.0, 0.0]]), "b": np.array([0.0, 12.0])}  # joint norm 13
    a, b = sgd_step(grads, global_clipnorm=1.0)
    np.testing.assert_allclose(a, [[3 / 13, 4 / 13], [0.0, 0.0]], atol=1e-12)
    np.testing.assert_allclose(b, [0.0, 12 / 13], atol=1e-12)
    a, b = sgd_step(grads, global_clipnorm=20.0)  # under the limit: untouched
    np.testing.assert_allclose(b, [0.0, 12.0], atol=1e-12)


def test_clipping_comes_before_the_rule():
    """clipnorm acts on the gradient Adam sees: a 100x gradient clipped to norm 1 moves m by 0.1 * clipped."""
    opt = OPTIMIZERS.build("adam", learning_rate=0.1, clipnorm=1.0)
    params = {"w": np.zeros(2)}
    opt.apply(params, {"w": np.array([300.0, 400.0])})
    np.testing.assert_allclose(opt.get_state()["w/momentum"], [0.1 * 0.6, 0.1 * 0.8], atol=1e-12)


# ----- state, identity, allocation


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("build_first", [False, True])
def test_resume_from_state_is_bit_identical(case, dtype, build_first):
    name, kwargs, _ = CASES[case]
    straight = fresh(dtype)
    expected = run(OPTIMIZERS.build(name, **kwargs), straight, range(5))[-1]

    params = fresh(dtype)
    first = OPTIMIZERS.build(name, **kwargs)
    run(first, params, range(3))
    state = first.get_state()
    assert all(isinstance(v, np.ndarray) for v in state.values())
    assert int(state["iterations"]) == 3

    resumed_params = {k: v.copy() for k, v in params.items()}
    second = OPTIMIZERS.build(name, **first.get_config())
    if build_first:
        second.build(resumed_params)
    second.set_state(state)
    got = run(second, resumed_params, range(3, 5))[-1]
    for key in W0:
        assert np.array_equal(got[key], expected[key]), key
    run(first, params, range(3, 5))  # get_state() handed out copies: the first optimizer is unaffected
    assert all(np.array_equal(params[k], expected[k]) for k in W0)


def test_state_names_slots_by_parameter_and_keeps_a_fixed_learning_rate():
    opt = OPTIMIZERS.build("adam", learning_rate=0.1, amsgrad=True)
    run(opt, fresh(), range(2))
    opt.set_learning_rate(0.01)
    state = opt.get_state()
    assert set(state) == {
        f"dense_1/{p}/{slot}" for p in ("kernel", "bias") for slot in ("momentum", "velocity", "velocity_hat")
    } | {"iterations", "learning_rate"}
    assert state["dense_1/kernel/momentum"].shape == (2, 2)
    other = OPTIMIZERS.build("adam", learning_rate=0.1, amsgrad=True)
    other.set_state(state)
    assert other.learning_rate == 0.01 and other.iterations == 2


def test_scheduled_learning_rate_is_not_frozen_by_state():
    schedule = {"name": "step_decay", "initial_learning_rate": 0.1, "step_size": 2, "factor": 0.5}
    opt = OPTIMIZERS.build("sgd", learning_rate=schedule)
    run(opt, fresh(), range(3))
    state = opt.get_state()
    assert "learning_rate" not in state
    other = OPTIMIZERS.build("sgd", learning_rate=schedule)
    other.set_state(state)
    assert other.learning_rate == 0.05


def test_state_from_another_optimizer_or_model_is_refused():
    adam = OPTIMIZERS.build("adam")
    run(adam, fresh(), range(1))
    sgd = OPTIMIZERS.build("sgd", momentum=0.9)
    sgd.build(fresh())
    with pytest.raises(CheckpointError, match="unexpected"):
        sgd.set_state(adam.get_state())
    other_shape = OPTIMIZERS.build("adam")
    other_shape.build({"dense_1/kernel": np.zeros((3, 2)), "dense_1/bias": np.zeros(2)})
    with pytest.raises(CheckpointError, match="shape"):
        other_shape.set_state(adam.get_state())
    with pytest.raises(CheckpointError, match="u_product"):
        OPTIMIZERS.build("nadam").set_state(adam.get_state())


@pytest.mark.parametrize("case", sorted(CASES))
def test_params_are_updated_in_place(case):
    name, kwargs, _ = CASES[case]
    params = fresh()
    arrays = dict(params)
    run(OPTIMIZERS.build(name, **kwargs), params, range(2))
    for key in W0:
        assert params[key] is arrays[key]
        assert not np.array_equal(arrays[key], W0[key])


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_step_allocates_nothing_the_size_of_a_parameter(case):
    name, kwargs, _ = CASES[case]
    params = {"big": np.zeros((500, 200), np.float32), "small": np.zeros(200, np.float32)}
    grads = {k: np.full(v.shape, 0.1, np.float32) for k, v in params.items()}
    opt = OPTIMIZERS.build(name, clipnorm=1.0, **kwargs)
    opt.apply(params, grads)  # builds
    tracemalloc.start()
    try:
        opt.apply(params, grads)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < params["big"].nbytes / 10


def test_apply_with_other_parameters_than_built_raises():
    opt = OPTIMIZERS.build("adam")
    run(opt, fresh(), range(1))
    with pytest.raises(ValueError, match="new optimizer"):
        opt.apply({"w": np.zeros(2)}, {"w": np.zeros(2)})


# ----- configuration


SAMPLES = {
    "sgd": {"learning_rate": 0.05, "momentum": 0.8, "nesterov": True, "clipnorm": 2.0},
    "adagrad": {"learning_rate": 0.2, "initial_accumulator_value": 0.5, "epsilon": 1e-6, "clipvalue": 0.5},
    "rmsprop": {"learning_rate": 0.01, "rho": 0.8, "momentum": 0.3, "epsilon": 1e-6, "centered": True,
                "global_clipnorm": 5.0},
    "adam": {"learning_rate": {"name": "cosine_decay", "initial_learning_rate": 0.1, "decay_steps": 100,
                               "alpha": 0.0, "warmup_target": None, "warmup_steps": 0},
             "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-6, "amsgrad": True, "weight_decay": 0.01},
    "adamw": {"learning_rate": 0.003, "weight_decay": 0.05, "beta_1": 0.85, "amsgrad": True},
    "nadam": {"learning_rate": 0.002, "beta_1": 0.95, "beta_2": 0.98, "epsilon": 1e-8},
}


def test_every_registered_optimizer_has_a_sample():
    assert set(SAMPLES) == set(OPTIMIZERS.names())


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_get_config_round_trips(name):
    opt = OPTIMIZERS.build(name, **SAMPLES[name])
    config = opt.get_config()
    for key, value in SAMPLES[name].items():
        assert config[key] == value, key
    rebuilt = OPTIMIZERS.build(name, **config)
    assert type(rebuilt) is type(opt)
    assert rebuilt.get_config() == config
    a, b = fresh(), fresh()
    run(opt, a, range(3))
    run(rebuilt, b, range(3))
    assert all(np.array_equal(a[k], b[k]) for k in W0)


@pytest.mark.parametrize("name, kwargs, words", [
    ("sgd", {"learning_rate": -0.1}, "learning_rate"),
    ("sgd", {"learning_rate": "1e-3"}, "learning_rate=.*write exponents with a dot"),
    ("sgd", {"learning_rate": "fast"}, "schedule mapping"),
    ("sgd", {"momentum": -0.1}, "momentum"),
    ("sgd", {"momentum": 1.5}, "momentum"),
    ("sgd", {"nesterov": "yes"}, "nesterov"),
    ("adagrad", {"initial_accumulator_value": -1.0}, "initial_accumulator_value"),
    ("rmsprop", {"rho": 1.0}, r"rho.*\[0, 1\)"),
    ("rmsprop", {"rho": -0.1}, "rho"),
    ("rmsprop", {"momentum": 1.0}, "momentum"),
    ("adam", {"beta_1": 1.0}, "beta_1"),
    ("adam", {"beta_2": -0.5}, "beta_2"),
    ("adam", {"epsilon": -1e-7}, "epsilon"),
    ("adam", {"clipnorm": 0.0}, "clipnorm"),
    ("adam", {"clipvalue": -1.0}, "clipvalue"),
    ("adam", {"clipnorm": 1.0, "clipvalue": 1.0}, "only one"),
    ("adam", {"weight_decay": -0.1}, "weight_decay"),
    ("adam", {"bet_1": 0.9}, "bet_1"),
    ("adamw", {"weight_decay": None}, "weight_decay"),
    ("nadam", {"beta_2": 1.2}, "beta_2"),
    ("sgd", {"learning_rate": {"name": "cosine_decay", "initial_learning_rate": 0.1}}, "decay_steps"),
])
def test_bad_arguments_raise_config_error_naming_the_argument(name, kwargs, words):
    with pytest.raises(ConfigError, match=words):
        OPTIMIZERS.build(name, **kwargs)


def test_unknown_optimizer_suggests_the_closest_name():
    with pytest.raises(ConfigError, match="did you mean `adam`"):
        OPTIMIZERS.build("adm")
    with pytest.raises(ConfigError, match="did you mean `rmsprop`"):
        OPTIMIZERS.build("rmsprob")


def test_centered_rmsprop_stays_finite_when_the_gradient_never_varies():
    """v - a^2 is 0 in exact arithmetic for a constant gradient; float32 rounding must not turn it into NaN."""
    opt = OPTIMIZERS.build("rmsprop", centered=True)
    params = {"w": np.zeros(1000, np.float32)}
    grads = {"w": np.linspace(-3, 3, 1000, dtype=np.float32)}
    for _ in range(300):
        opt.apply(params, grads)
    assert np.isfinite(params["w"]).all()
