"""The stochastic solvers' update rules, on the flat parameter vector, in its own namespace.

scikit-learn's ``SGDOptimizer`` and ``AdamOptimizer`` (``sklearn/neural_network/
_stochastic_optimizers.py``), with the same arithmetic in the same order, so that on NumPy
the same gradients give the same steps. They act on one 1-D array (``W1, b1, ..., WL, bL``,
see :func:`~mlp_xp.param_layout`) instead of a list of blocks: one pass per step instead of
one per block. The learning rate and the step count are Python numbers on the host; the
vectors stay on the device. A leaf apart from ``_common``.
"""

from __future__ import annotations

import math
from typing import Any

from ._common import Array, namespace

__all__ = ["SGD", "Adam"]


class SGD:
    """Gradient descent with (Nesterov's) momentum and scikit-learn's learning-rate schedules.

    ``v <- momentum v - lr g``; the step is ``v`` or, with Nesterov, ``momentum v - lr g``.

    Examples
    --------
    >>> import array_api_compat.numpy as xp
    >>> sgd = SGD(xp.zeros(2), learning_rate_init=0.1, lr_schedule="constant", momentum=0.0,
    ...           nesterov=False, power_t=0.5)
    >>> sgd.step(xp.ones(2), xp.asarray([1.0, -2.0]))
    array([0.9, 1.2])
    """

    def __init__(self, params: Array, learning_rate_init: float, lr_schedule: str, momentum: float,
                 nesterov: bool, power_t: float):
        self.learning_rate_init = learning_rate_init
        self.learning_rate = float(learning_rate_init)
        self.lr_schedule = lr_schedule
        self.momentum = momentum
        self.nesterov = nesterov
        self.power_t = power_t
        self.velocity = params * 0.0  # zeros of params' dtype and device, on every library

    def step(self, params: Array, grad: Array) -> Array:
        """The parameters after one step (in place where the library allows; use the result)."""
        v = self.momentum * self.velocity - self.learning_rate * grad
        self.velocity = v
        update = self.momentum * v - self.learning_rate * grad if self.nesterov else v
        params += update
        return params

    @property
    def state(self) -> list[Array]:
        """The vectors the solver carries from step to step."""
        return [self.velocity]

    @state.setter
    def state(self, vectors: list[Array]) -> None:
        (self.velocity,) = vectors

    def iteration_ends(self, time_step: int) -> None:
        """After an epoch: ``invscaling`` sets ``lr = lr_init / (t + 1) ** power_t``."""
        if self.lr_schedule == "invscaling":
            self.learning_rate = float(self.learning_rate_init) / (time_step + 1) ** self.power_t

    def trigger_stopping(self, msg: str, verbose: bool) -> bool:
        """No improvement: stop, or (``adaptive``) divide the learning rate by 5 until 1e-6."""
        if self.lr_schedule != "adaptive":
            if verbose:
                print(msg + " Stopping.")
            return True
        if self.learning_rate <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(msg + f" Setting learning rate to {self.learning_rate:f}")
        return False


class Adam:
    """Adam (Kingma and Ba, 2014), with scikit-learn's bias correction folded into the rate.

    ``m <- b1 m + (1 - b1) g``, ``v <- b2 v + (1 - b2) g**2``,
    ``lr_t = lr sqrt(1 - b2**t) / (1 - b1**t)``, step ``-lr_t m / (sqrt(v) + eps)``.

    Examples
    --------
    >>> import array_api_compat.numpy as xp
    >>> adam = Adam(xp.zeros(2), learning_rate_init=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8)
    >>> adam.step(xp.zeros(2), xp.asarray([3.0, -0.5])).round(6)  # the first step: about -lr * sign(g)
    array([-0.1,  0.1])
    """

    def __init__(self, params: Array, learning_rate_init: float, beta_1: float, beta_2: float,
                 epsilon: float):
        self.learning_rate_init = learning_rate_init
        self.learning_rate = float(learning_rate_init)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.t = 0
        self.m = params * 0.0
        self.v = params * 0.0

    def step(self, params: Array, grad: Array) -> Array:
        """The parameters after one step (in place where the library allows; use the result)."""
        xp: Any = namespace(params)
        self.t += 1
        # m and v are the solver's own: updated in place (JAX rebinds), with scikit-learn's
        # operations in its order, so the rounding is the same as b1 m + (1 - b1) g etc.
        m, v = self.m, self.v
        m *= self.beta_1
        m += (1 - self.beta_1) * grad
        g2 = grad * grad
        g2 *= 1 - self.beta_2
        v *= self.beta_2
        v += g2
        self.m, self.v = m, v
        self.learning_rate = (self.learning_rate_init * math.sqrt(1 - self.beta_2**self.t)
                              / (1 - self.beta_1**self.t))
        # -lr m / (sqrt(v) + eps)
        denominator = xp.sqrt(v)
        denominator += self.epsilon
        update = -self.learning_rate * m
        update /= denominator
        params += update
        return params

    @property
    def state(self) -> list[Array]:
        """The vectors the solver carries from step to step."""
        return [self.m, self.v]

    @state.setter
    def state(self, vectors: list[Array]) -> None:
        self.m, self.v = vectors

    def iteration_ends(self, time_step: int) -> None:
        """Adam keeps its rate: nothing to do after an epoch."""

    def trigger_stopping(self, msg: str, verbose: bool) -> bool:
        """No improvement: stop."""
        if verbose:
            print(msg + " Stopping.")
        return True

