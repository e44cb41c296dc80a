"""Planted backprop bugs: wrong gradients of the two-layer network, for testing gradient checkers.

A checker is only as good as the bugs it catches. Each variant returns the network's true
cost with a gradient broken the way hand-written backprop is typically broken. Written on
the array API, like :func:`mlp_xp.forward_backward_prop`, whose cost and gradient
``bug=None`` reproduces (the tests hold the two together).

Examples
--------
>>> import numpy as np
>>> from mlp_xp import gradcheck, param_layout
>>> from mlp_xp.problems import seed_problem
>>> dims = (10, 5, 10)
>>> data, labels, params = seed_problem(20, dims)
>>> f = lambda p: planted_forward_backward(data, labels, p, dims, bug="b2_sign_flipped")
>>> result = gradcheck(f, params, mode="fast", layout=param_layout(dims))
>>> result.passed, result.failing_blocks
(False, ('b2',))
"""

from __future__ import annotations

from collections.abc import Sequence

import array_api_extra as xpx
from array_api_compat import array_namespace

from ._common import Array
from .functions import sigmoid
from .layout import param_layout
from .network import _total

__all__ = [
    "DEEP_BUGS",
    "MATERIAL_BUGS",
    "PLANTED_BUGS",
    "planted_deep_forward_backward",
    "planted_forward_backward",
]

#: name -> (what is wrong, the blocks whose gradient it breaks)
PLANTED_BUGS: dict[str, tuple[str, tuple[str, ...]]] = {
    "sigmoid_grad_of_preactivation": (
        "sigmoid derivative applied to the pre-activation z1 instead of h", ("W1", "b1")),
    "sigmoid_factor_missing": ("the sigmoid factor h (1 - h) left out of delta3", ("W1", "b1")),
    "b1_from_wrong_delta": ("b1's gradient summed from delta1 W2^T, before the sigmoid factor", ("b1",)),
    "b2_sign_flipped": ("the sign of b2's gradient flipped", ("b2",)),
    "W1_transposed": ("the W1 gradient transposed (needs a square W1, Dx == H)", ("W1",)),
    "W2_entry_off": ("W2[1, 2]'s gradient 2% too large", ("W2",)),
    "mean_cost_gradient": (
        "the gradient of the mean cost returned for the summed cost", ("W1", "b1", "W2", "b2")),
    "b1_entry_off_1e-3": ("b1[2]'s gradient off by 1e-3 (subtle: full mode's job)", ("b1",)),
}

#: The bugs every checker mode is held to (the last of PLANTED_BUGS is for full mode only).
MATERIAL_BUGS: tuple[str, ...] = tuple(PLANTED_BUGS)[:-1]


def planted_forward_backward(
    data: Array, labels: Array, params: Array, dimensions: Sequence[int], bug: str | None = None
) -> tuple[Array, Array]:
    """The network's cost and a gradient with the planted ``bug`` (a key of ``PLANTED_BUGS``).

    ``bug=None`` gives the true gradient, computed here the same way as the bugs.
    """
    if bug is not None and bug not in PLANTED_BUGS:
        raise ValueError(f"unknown bug {bug!r}; planted bugs are {', '.join(PLANTED_BUGS)}")
    Dx, H, _ = (int(d) for d in dimensions)
    if bug == "W1_transposed" and Dx != H:
        raise ValueError(
            f"bug 'W1_transposed' needs a square W1 (Dx == H); got dimensions {tuple(dimensions)}"
        )
    xp = array_namespace(data, labels, params)
    W1, b1, W2, b2 = (xp.reshape(params[b.offset : b.stop], b.shape) for b in param_layout(dimensions))

    z1 = data @ W1 + b1
    h = sigmoid(z1)
    z2 = h @ W2 + b2
    z2 -= xp.max(z2, axis=1, keepdims=True)
    yhat = xp.exp(z2)
    row_sum = xp.sum(yhat, axis=1, keepdims=True)
    yhat /= row_sum
    cost = _total(xp, labels * (z2 - xp.log(row_sum)))  # a 0-d array, as the network's
    cost *= -1  # in place: NumPy's unary minus would give a scalar

    delta1 = yhat - labels
    gW2 = h.T @ delta1
    gb2 = xp.sum(delta1, axis=0)
    back = delta1 @ W2.T  # dCost/dh
    if bug == "sigmoid_grad_of_preactivation":
        delta3 = back * z1 * (1 - z1)
    elif bug == "sigmoid_factor_missing":
        delta3 = back
    else:
        delta3 = back * h * (1 - h)
    gW1 = data.T @ delta3
    gb1 = xp.sum(back if bug == "b1_from_wrong_delta" else delta3, axis=0)

    if bug == "b2_sign_flipped":
        gb2 = -gb2
    elif bug == "W1_transposed":
        gW1 = gW1.T
    elif bug == "W2_entry_off":
        gW2 = xpx.at(gW2, (1, 2)).multiply(1.02)
    elif bug == "b1_entry_off_1e-3":
        gb1 = xpx.at(gb1, 2).add(1e-3)
    grad = xp.concat([xp.reshape(g, (-1,)) for g in (gW1, gb1, gW2, gb2)])
    if bug == "mean_cost_gradient":
        grad = grad / data.shape[0]
    return cost, grad


#: Bugs of deep networks (ReLU hidden layers, softmax output, two hidden layers of equal
#: width): name -> (what is wrong, the blocks whose gradient it breaks).
DEEP_BUGS: dict[str, tuple[str, tuple[str, ...]]] = {
    "W2_product_skipped": ("delta1 taken as delta2 * relu'(a1): the product with W2^T skipped", ("W1", "b1")),
    "derivative_of_wrong_layer": ("delta1 multiplied by the derivative of the next layer's activation",
                                  ("W1", "b1")),
    "relu_derivative_one": ("ReLU's derivative taken as 1 at z <= 0 too", ("W1", "b1", "W2", "b2")),
    "bias_from_next_layer": ("b1's gradient summed from the next layer's delta2", ("b1",)),
}


def planted_deep_forward_backward(
    data: Array, labels: Array, params: Array, dimensions: Sequence[int], bug: str | None = None
) -> tuple[Array, Array]:
    """A ReLU network of two hidden layers ``(Dx, H, H, Dy)``, with the planted ``bug`` (of ``DEEP_BUGS``).

    ``bug=None`` gives the true cost and gradient of
    ``forward_backward_prop(..., activation="relu")``, written plainly here, layer by layer.

    Examples
    --------
    >>> import numpy as np
    >>> from mlp_xp import gradcheck, param_layout
    >>> rng = np.random.default_rng(0)
    >>> dims = (4, 5, 5, 3)
    >>> data, labels = rng.standard_normal((8, 4)), np.eye(3)[rng.integers(0, 3, 8)]
    >>> params = rng.standard_normal(param_layout(dims).size)
    >>> f = lambda p: planted_deep_forward_backward(data, labels, p, dims, bug="bias_from_next_layer")
    >>> gradcheck(f, params, layout=param_layout(dims)).failing_blocks
    ('b1',)
    """
    if bug is not None and bug not in DEEP_BUGS:
        raise ValueError(f"unknown bug {bug!r}; planted deep bugs are {', '.join(DEEP_BUGS)}")
    if len(dimensions) != 4 or dimensions[1] != dimensions[2]:
        raise ValueError(
            f"planted_deep_forward_backward needs dimensions (Dx, H, H, Dy); got {tuple(dimensions)}")
    xp = array_namespace(data, labels, params)
    layout = param_layout(dimensions)
    W1, b1, W2, b2, W3, b3 = (xp.reshape(params[b.offset : b.stop], b.shape) for b in layout)

    def relu_grad(a: Array) -> Array:
        ones = xp.ones_like(a)
        return ones if bug == "relu_derivative_one" else xp.where(a > 0, ones, xp.zeros_like(a))

    a1 = xp.maximum(data @ W1 + b1, xp.zeros_like(b1))
    a2 = xp.maximum(a1 @ W2 + b2, xp.zeros_like(b2))
    z3 = a2 @ W3 + b3
    z3 = z3 - xp.max(z3, axis=1, keepdims=True)
    log_yhat = z3 - xp.log(xp.sum(xp.exp(z3), axis=1, keepdims=True))
    cost = _total(xp, labels * log_yhat)
    cost *= -1

    delta3 = xp.exp(log_yhat) - labels
    delta2 = (delta3 @ W3.T) * relu_grad(a2)
    if bug == "W2_product_skipped":
        delta1 = delta2 * relu_grad(a1)
    elif bug == "derivative_of_wrong_layer":
        delta1 = (delta2 @ W2.T) * relu_grad(a2)
    else:
        delta1 = (delta2 @ W2.T) * relu_grad(a1)
    grads = [data.T @ delta1, xp.sum(delta2 if bug == "bias_from_next_layer" else delta1, axis=0),
             a1.T @ delta2, xp.sum(delta2, axis=0), a2.T @ delta3, xp.sum(delta3, axis=0)]
    return cost, xp.concat([xp.reshape(g, (-1,)) for g in grads])
