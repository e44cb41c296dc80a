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

__all__ = ["MATERIAL_BUGS", "PLANTED_BUGS", "planted_forward_backward"]

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
    cost = -xp.sum(labels * (z2 - xp.log(row_sum)))

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
