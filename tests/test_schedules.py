"""Learning-rate schedules against values worked out by hand from Keras 3's formulas."""

import math

import numpy as np
import pytest

from nntrain.engine.optimizers import OPTIMIZERS
from nntrain.engine.schedules import SCHEDULES, serialize
from nntrain.errors import ConfigError


def values_at(schedule, steps):
    return [schedule(s) for s in steps]


def test_constant():
    assert values_at(SCHEDULES.build("constant", learning_rate=0.3), [0, 1, 10**6]) == [0.3, 0.3, 0.3]


def test_exponential_decay_is_smooth():
    s = SCHEDULES.build("exponential_decay", initial_learning_rate=0.1, decay_steps=10, decay_rate=0.5)
    # 0.1 * 0.5 ** (step / 10)
    expected = [0.1, 0.1 * 0.5**0.5, 0.05, 0.1 * 0.5**2.5]
    assert values_at(s, [0, 5, 10, 25]) == pytest.approx(expected, rel=1e-12)


def test_exponential_decay_staircase_drops_only_at_multiples_of_decay_steps():
    s = SCHEDULES.build("exponential_decay", initial_learning_rate=0.1, decay_steps=10, decay_rate=0.5, staircase=True)
    assert values_at(s, [0, 9, 10, 19, 20, 25]) == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025, 0.025], rel=1e-12)


def test_piecewise_constant_keeps_the_earlier_value_at_a_boundary():
    s = SCHEDULES.build("piecewise_constant", boundaries=[10, 20], values=[1.0, 0.5, 0.1])
    steps = [0, 9, 10, 11, 20, 21, 1000]
    assert values_at(s, steps) == [1.0, 1.0, 1.0, 0.5, 0.5, 0.1, 0.1]


def test_step_is_an_alias_of_piecewise_constant():
    s = SCHEDULES.build({"name": "step", "boundaries": [2], "values": [0.2, 0.02]})
    assert type(s) is SCHEDULES.get("piecewise_constant")
    assert values_at(s, [2, 3]) == [0.2, 0.02]


def test_step_decay_multiplies_by_factor_every_step_size_steps():
    s = SCHEDULES.build("step_decay", initial_learning_rate=1.0, step_size=3, factor=0.5)
    assert values_at(s, [0, 2, 3, 5, 6, 7, 9]) == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.125]


def test_cosine_decay():
    s = SCHEDULES.build("cosine_decay", initial_learning_rate=1.0, decay_steps=10)
    # 0.5 * (1 + cos(pi * step / 10)); cos(0.2 pi) = 0.80901699...; held at 0 after decay_steps
    expected = [1.0, 0.5 * (1 + 0.8090169943749475), 0.5, 0.0, 0.0]
    assert values_at(s, [0, 2, 5, 10, 15]) == pytest.approx(expected, abs=1e-12)


def test_cosine_decay_alpha_is_the_floor_as_a_fraction():
    s = SCHEDULES.build("cosine_decay", initial_learning_rate=2.0, decay_steps=10, alpha=0.1)
    # 2 * ((1 - 0.1) * cosine + 0.1)
    expected = [2.0, 2 * (0.9 * 0.5 * (1 + 0.8090169943749475) + 0.1), 2 * (0.9 * 0.5 + 0.1), 0.2, 0.2]
    assert values_at(s, [0, 2, 5, 10, 50]) == pytest.approx(expected, abs=1e-12)


def test_cosine_decay_with_linear_warmup():
    s = SCHEDULES.build("cosine_decay", initial_learning_rate=0.0, decay_steps=10, alpha=0.2,
                        warmup_target=1.0, warmup_steps=4)
    # warmup 0 -> 1 over 4 steps, then 1 * (0.8 * cosine + 0.2) over the next 10
    steps = [0, 1, 3, 4, 9, 14, 100]
    expected = [0.0, 0.25, 0.75, 1.0, 0.8 * 0.5 + 0.2, 0.2, 0.2]
    assert values_at(s, steps) == pytest.approx(expected, abs=1e-12)


SAMPLES = {
    "constant": {"learning_rate": 0.05},
    "exponential_decay": {"initial_learning_rate": 0.1, "decay_steps": 100, "decay_rate": 0.9, "staircase": True},
    "piecewise_constant": {"boundaries": [5, 50], "values": [0.1, 0.01, 0.001]},
    "step_decay": {"initial_learning_rate": 0.1, "step_size": 7, "factor": 0.5},
    "cosine_decay": {"initial_learning_rate": 0.0, "decay_steps": 30, "alpha": 0.1, "warmup_target": 0.1,
                     "warmup_steps": 5},
}


def test_every_registered_schedule_has_a_sample():
    assert set(SAMPLES) == set(SCHEDULES.names())


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_get_config_round_trips(name):
    s = SCHEDULES.build(name, **SAMPLES[name])
    config = s.get_config()
    assert config == SAMPLES[name]
    rebuilt = SCHEDULES.build(name, **config)
    assert rebuilt.get_config() == config
    steps = [0, 3, 5, 6, 20, 40, 60, 500]
    assert values_at(rebuilt, steps) == values_at(s, steps)
    # and the {"name": ...} form a YAML file uses
    assert values_at(SCHEDULES.build(serialize(s)), steps) == values_at(s, steps)


def test_optimizer_reads_its_schedule_at_its_iterations():
    schedule = {"name": "piecewise_constant", "boundaries": [1], "values": [0.1, 0.01]}
    opt = OPTIMIZERS.build("sgd", learning_rate=schedule)
    w = np.array([1.0, -2.0])
    g = np.array([1.0, -1.0])
    expected_w = w.copy()
    for lr in [0.1, 0.1, 0.01, 0.01]:  # steps 0 and 1 (the boundary) use 0.1, later steps 0.01
        assert opt.learning_rate == lr
        opt.apply({"w": w}, {"w": g.copy()})
        expected_w = expected_w - lr * g
        np.testing.assert_allclose(w, expected_w, rtol=0, atol=1e-15)
    assert opt.get_config()["learning_rate"] == schedule


def test_set_learning_rate_replaces_the_schedule():
    opt = OPTIMIZERS.build(
        "sgd", learning_rate={"name": "exponential_decay", "initial_learning_rate": 1.0, "decay_steps": 1,
                              "decay_rate": 0.5})
    w = np.array([0.0])
    opt.apply({"w": w}, {"w": np.array([1.0])})  # lr 1.0
    assert opt.learning_rate == 0.5
    opt.set_learning_rate(0.125)
    opt.apply({"w": w}, {"w": np.array([1.0])})
    opt.apply({"w": w}, {"w": np.array([1.0])})
    assert opt.learning_rate == 0.125
    assert w[0] == pytest.approx(-1.0 - 2 * 0.125)
    assert opt.get_config()["learning_rate"] == 0.125
    with pytest.raises(ConfigError):
        opt.set_learning_rate(-1.0)


@pytest.mark.parametrize("name, kwargs, words", [
    ("exponential_decay", {"initial_learning_rate": 0.1, "decay_steps": 0, "decay_rate": 0.9}, "decay_steps"),
    ("exponential_decay", {"initial_learning_rate": -0.1, "decay_steps": 10, "decay_rate": 0.9},
     "initial_learning_rate"),
    ("exponential_decay", {"initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.9, "staircase": "yes"},
     "staircase"),
    ("piecewise_constant", {"boundaries": [10, 20], "values": [1.0, 0.5]}, "one more value"),
    ("piecewise_constant", {"boundaries": [20, 10], "values": [1.0, 0.5, 0.1]}, "strictly increasing"),
    ("piecewise_constant", {"boundaries": 10, "values": [1.0, 0.5]}, "lists"),
    ("step_decay", {"initial_learning_rate": 0.1, "step_size": 0}, "step_size"),
    ("step_decay", {"initial_learning_rate": 0.1, "step_size": 2.5}, "integer"),
    ("step_decay", {"initial_learning_rate": 0.1, "step_size": 10, "factor": 10}, "factor=0.1"),
    ("step_decay", {"initial_learning_rate": 0.1, "step_size": 10, "factor": 0}, "factor"),
    ("cosine_decay", {"initial_learning_rate": 0.1, "decay_steps": 10, "alpha": 1.5}, "alpha"),
    ("cosine_decay", {"initial_learning_rate": 0.1, "decay_steps": 10, "warmup_steps": 5}, "warmup_target"),
    ("cosine_decay", {"initial_learning_rate": 0.1, "decay_steps": -10}, "decay_steps"),
    ("cosine_decay", {"initial_learning_rate": "0.1", "decay_steps": 10}, "initial_learning_rate"),
    ("cosine_decay", {"initial_learning_rate": 0.1, "decay_steps": 10, "warmup": 5}, "warmup"),
    ("constant", {"learning_rate": math.nan}, "learning_rate"),
])
def test_bad_arguments_raise_config_error_naming_the_argument(name, kwargs, words):
    with pytest.raises(ConfigError, match=words):
        SCHEDULES.build(name, **kwargs)


def test_unknown_schedule_suggests_the_closest_name():
    with pytest.raises(ConfigError, match="did you mean `cosine_decay`"):
        SCHEDULES.build("cosine", initial_learning_rate=0.1, decay_steps=10)
    with pytest.raises(ConfigError, match="did you mean `exponential_decay`"):
        OPTIMIZERS.build("adam", learning_rate={"name": "exponential_decy", "initial_learning_rate": 0.1})
