"""The update rules, as Keras 3 writes them: SGD (with momentum, Nesterov), Adagrad, RMSprop, Adam, AdamW and
Nadam. Each declares its slots and writes its rule once, over the flat buffer of all parameters (base.py)."""

from __future__ import annotations

import math

import numpy as np

from nntrain.engine import kernels
from nntrain.engine.optimizers.base import OPTIMIZERS, Optimizer
from nntrain.engine.schedules import Schedule, check_bool, check_number
from nntrain.errors import ConfigError


@OPTIMIZERS.register("sgd")
class SGD(Optimizer):
    """Gradient descent with optional momentum, as Keras 3's `SGD`.

        momentum == 0:    w -= lr * g
        otherwise:        m = momentum * m - lr * g
                          w += m                          (nesterov=False)
                          w += momentum * m - lr * g      (nesterov=True)
    """

    def __init__(self, learning_rate: float | dict | Schedule = 0.01, momentum: float = 0.0, nesterov: bool = False,
                 clipnorm: float | None = None, clipvalue: float | None = None, global_clipnorm: float | None = None,
                 weight_decay: float | None = None):
        super().__init__(learning_rate, clipnorm, clipvalue, global_clipnorm, weight_decay)
        self.momentum = check_number("SGD", "momentum", momentum, 0, 1)
        self.nesterov = check_bool("SGD", "nesterov", nesterov)
        self.n_scratch = 2 if self.nesterov else 1

    def slots(self):
        return {"momentum": 0.0} if self.momentum else {}

    def _plain(self) -> bool:
        """Whether a step is exactly w -= lr * g, with no state, clipping or decay."""
        return not (self.momentum or self.weight_decay or self.clipnorm or self.clipvalue or self.global_clipnorm)

    def fused_products(self, offered):
        if not self._plain():
            return []
        return [key for key, p in offered.items() if p.size >= kernels.FUSED_STEP_FROM]

    def _apply_products(self, params, grads, products):
        """Plain SGD: w -= lr * a.T @ b in one matrix product for each (engine/kernels.py), and the usual
        w -= lr * g over the ranges of the flat weights that hold the rest."""
        if not self._plain() or self._groups is None or self._groups[0].param is None:
            return super()._apply_products(params, grads, products)
        lr = self.learning_rate
        for key, (a, b) in products.items():
            kernels.add_at_b(params[key], a, b, -lr)
        (group,) = self._groups
        for r in group.ranges_without(tuple(products)):
            delta = group.scratch[0][r]
            self._update(group.grad[r], (), (delta,), lr)
            group.param[r] -= delta
        self.iterations += 1
        return True

    def _update(self, g, slots, scratch, lr):
        delta = scratch[0]
        np.multiply(g, lr, out=delta)
        if not self.momentum:
            return
        m = slots[0]
        m *= self.momentum
        m -= delta
        if self.nesterov:  # delta = lr * g - momentum * m
            delta -= np.multiply(m, self.momentum, out=scratch[1])
        else:
            np.negative(m, out=delta)


@OPTIMIZERS.register("adagrad")
class Adagrad(Optimizer):
    """Adagrad, as Keras 3's `Adagrad`: each weight's step shrinks with the sum of its past squared gradients.

        acc += g^2                        (acc starts at initial_accumulator_value)
        w -= lr * g / sqrt(acc + epsilon)
    """

    def __init__(self, learning_rate: float | dict | Schedule = 0.001, initial_accumulator_value: float = 0.1,
                 epsilon: float = 1e-7, clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None, weight_decay: float | None = None):
        super().__init__(learning_rate, clipnorm, clipvalue, global_clipnorm, weight_decay)
        self.initial_accumulator_value = check_number(
            "Adagrad", "initial_accumulator_value", initial_accumulator_value, 0
        )
        self.epsilon = check_number("Adagrad", "epsilon", epsilon, 0)

    def slots(self):
        return {"accumulator": self.initial_accumulator_value}

    def _update(self, g, slots, scratch, lr):
        acc, delta = slots[0], scratch[0]
        np.square(g, out=delta)
        acc += delta
        np.add(acc, self.epsilon, out=delta)
        np.sqrt(delta, out=delta)
        np.divide(g, delta, out=delta)
        delta *= lr


@OPTIMIZERS.register("rmsprop")
class RMSprop(Optimizer):
    """RMSprop, as Keras 3's `RMSprop` (plain momentum, optionally centered).

        v = rho * v + (1 - rho) * g^2
        centered:     a = rho * a + (1 - rho) * g;   denominator = v - a^2 + epsilon
        otherwise:    denominator = v + epsilon
        step = lr * g / sqrt(denominator)
        momentum > 0: mom = momentum * mom + step;   w -= mom
        otherwise:    w -= step

    One departure: centered, v - a^2 is clamped at 0 before epsilon is added. It is >= 0 in exact arithmetic, but
    rounding can make it slightly negative when the gradient barely varies, where Keras would produce NaN.
    """

    def __init__(self, learning_rate: float | dict | Schedule = 0.001, rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-7, centered: bool = False, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None,
                 weight_decay: float | None = None):
        super().__init__(learning_rate, clipnorm, clipvalue, global_clipnorm, weight_decay)
        self.rho = check_number("RMSprop", "rho", rho, 0, 1, high_open=True)
        self.momentum = check_number("RMSprop", "momentum", momentum, 0, 1, high_open=True)
        self.epsilon = check_number("RMSprop", "epsilon", epsilon, 0)
        self.centered = check_bool("RMSprop", "centered", centered)

    def slots(self):
        names = ["velocity"] + ["momentum"] * (self.momentum > 0) + ["average_gradient"] * self.centered
        return dict.fromkeys(names, 0.0)

    def _update(self, g, slots, scratch, lr):
        v, delta = slots[0], scratch[0]  # slots: velocity[, momentum][, average_gradient]
        v *= self.rho
        np.square(g, out=delta)
        delta *= 1.0 - self.rho
        v += delta
        if self.centered:
            a = slots[-1]
            a *= self.rho
            np.multiply(g, 1.0 - self.rho, out=delta)
            a += delta
            np.square(a, out=delta)
            np.subtract(v, delta, out=delta)
            np.maximum(delta, 0.0, out=delta)
            delta += self.epsilon
        else:
            np.add(v, self.epsilon, out=delta)
        np.sqrt(delta, out=delta)
        np.divide(g, delta, out=delta)
        delta *= lr
        if self.momentum > 0:
            mom = slots[1]
            mom *= self.momentum
            mom += delta
            delta[...] = mom


def _update_moments(g, m, v, beta_1: float, beta_2: float, tmp) -> None:
    """Adam's and Nadam's moment estimates, in place: m += (g - m)(1 - beta_1), v += (g^2 - v)(1 - beta_2)."""
    np.subtract(g, m, out=tmp)
    tmp *= 1.0 - beta_1
    m += tmp
    np.square(g, out=tmp)
    tmp -= v
    tmp *= 1.0 - beta_2
    v += tmp


@OPTIMIZERS.register("adam")
class Adam(Optimizer):
    """Adam, as Keras 3's `Adam` (optionally AMSGrad). With t = iterations + 1:

        m += (g - m) * (1 - beta_1)
        v += (g^2 - v) * (1 - beta_2)
        amsgrad:  v_hat = max(v_hat, v), used in place of v below
        w -= alpha * m / (sqrt(v) + epsilon),   alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)

    `alpha` folds the bias corrections of both moments into the step size, so epsilon is added to the
    uncorrected sqrt(v) ("epsilon hat" in the paper), exactly as Keras does.
    """

    def __init__(self, learning_rate: float | dict | Schedule = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, amsgrad: bool = False, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None,
                 weight_decay: float | None = None):
        super().__init__(learning_rate, clipnorm, clipvalue, global_clipnorm, weight_decay)
        owner = type(self).__name__
        self.beta_1 = check_number(owner, "beta_1", beta_1, 0, 1, high_open=True)
        self.beta_2 = check_number(owner, "beta_2", beta_2, 0, 1, high_open=True)
        self.epsilon = check_number(owner, "epsilon", epsilon, 0)
        self.amsgrad = check_bool(owner, "amsgrad", amsgrad)

    def slots(self):
        return dict.fromkeys(["momentum", "velocity"] + ["velocity_hat"] * self.amsgrad, 0.0)

    def _begin_step(self, lr):
        t = self.iterations + 1
        return lr * math.sqrt(1.0 - self.beta_2**t) / (1.0 - self.beta_1**t)

    def _update(self, g, slots, scratch, alpha):
        m, v, delta = slots[0], slots[1], scratch[0]
        _update_moments(g, m, v, self.beta_1, self.beta_2, delta)
        if self.amsgrad:
            v = np.maximum(slots[2], v, out=slots[2])
        np.sqrt(v, out=delta)
        delta += self.epsilon
        np.divide(m, delta, out=delta)
        delta *= alpha


@OPTIMIZERS.register("adamw")
class AdamW(Adam):
    """Adam with decoupled weight decay, as Keras 3's `AdamW`: before each Adam step,
    w -= w * weight_decay * lr (the base class applies it)."""

    def __init__(self, learning_rate: float | dict | Schedule = 0.001, weight_decay: float = 0.004, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7, amsgrad: bool = False, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None):
        if weight_decay is None:
            raise ConfigError("AdamW(weight_decay=...) expects a number >= 0, got weight_decay=None")
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, clipnorm, clipvalue, global_clipnorm,
                         weight_decay)


@OPTIMIZERS.register("nadam")
class Nadam(Optimizer):
    """Nadam (Adam with Nesterov momentum), as Keras 3's `Nadam`. With t = iterations + 1:

        u_t = beta_1 * (1 - 0.5 * 0.96^t)            momentum schedule; u_{t+1} likewise
        U_t = u_1 * u_2 * ... * u_t                  running product (`u_product`, saved in the state)
        m += (g - m) * (1 - beta_1)
        v += (g^2 - v) * (1 - beta_2)
        m_hat = u_{t+1} * m / (1 - U_t * u_{t+1}) + (1 - u_t) * g / (1 - U_t)
        v_hat = v / (1 - beta_2^t)
        w -= lr * m_hat / (sqrt(v_hat) + epsilon)

    m_hat is the Nesterov look-ahead: next step's momentum term plus this step's gradient term, each divided by its
    own bias correction; v_hat is v's bias correction. (Keras 2 used 0.96^(0.004 t); Keras 3 uses 0.96^t.)
    """

    n_scratch = 2
    scalar_state = ("u_product",)

    def __init__(self, learning_rate: float | dict | Schedule = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None, weight_decay: float | None = None):
        super().__init__(learning_rate, clipnorm, clipvalue, global_clipnorm, weight_decay)
        self.beta_1 = check_number("Nadam", "beta_1", beta_1, 0, 1, high_open=True)
        self.beta_2 = check_number("Nadam", "beta_2", beta_2, 0, 1, high_open=True)
        self.epsilon = check_number("Nadam", "epsilon", epsilon, 0)
        self.u_product = 1.0

    def slots(self):
        return {"momentum": 0.0, "velocity": 0.0}

    def _begin_step(self, lr):
        t = self.iterations + 1
        u_t = self.beta_1 * (1.0 - 0.5 * 0.96**t)
        u_next = self.beta_1 * (1.0 - 0.5 * 0.96 ** (t + 1))
        self.u_product *= u_t
        m_coef = u_next / (1.0 - self.u_product * u_next)
        g_coef = (1.0 - u_t) / (1.0 - self.u_product)
        return lr, m_coef, g_coef, 1.0 - self.beta_2**t

    def _update(self, g, slots, scratch, c):
        lr, m_coef, g_coef, v_correction = c
        m, v = slots
        delta, denominator = scratch
        _update_moments(g, m, v, self.beta_1, self.beta_2, delta)
        np.multiply(m, m_coef, out=delta)  # delta = m_hat
        np.multiply(g, g_coef, out=denominator)
        delta += denominator
        np.divide(v, v_correction, out=denominator)
        np.sqrt(denominator, out=denominator)
        denominator += self.epsilon
        delta /= denominator
        delta *= lr
