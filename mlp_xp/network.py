"""The network: forward and backward pass of a multilayer perceptron of any depth, by hand.

For ``dimensions = (D0, D1, ..., DL)`` (``D0 = Dx``, ``DL = Dy``), ``L`` layers:

    a0 = data
    al = act_l(a(l-1) Wl + bl)        l = 1 .. L-1 (hidden layers: sigmoid, tanh, relu, identity)
    zL = a(L-1) WL + bL               the logits
    cost:  softmax   -sum(labels * log_softmax(zL))            cross-entropy summed over rows
           sigmoid   sum(softplus(zL) - labels * zL)           binary cross-entropy, every entry
           identity  0.5 * sum((zL - labels)**2)               squared error

Backward (``delta_l`` is dCost/dzl):

    delta_L = yhat - labels           (yhat = softmax(zL), sigmoid(zL) or zL)
    dWl = a(l-1)^T delta_l,  dbl = sum_rows(delta_l)
    delta_(l-1) = (delta_l Wl^T) * act'(a(l-1))
    dCost/d data = delta_1 W1^T

The seed's network, ``(Dx, H, Dy)`` with a sigmoid hidden layer and softmax output, is
dispatched in a few comparisons to :func:`_seed_network`: the same steps, without the lists
of a network of any depth, which cost more than the products at the seed's tiny size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal, overload

from array_api_compat import device

from ._common import Array, describe, namespace
from .layout import ParamLayout, param_layout
from .validation import check_network_inputs

__all__ = ["ACTIVATIONS", "OUTPUTS", "forward_backward_prop"]

#: The hidden layers' activations. ReLU's derivative at 0 is 0, as in torch and scikit-learn.
ACTIVATIONS = ("sigmoid", "tanh", "relu", "identity")
#: The output layers and their costs (see the module docstring).
OUTPUTS = ("softmax", "sigmoid", "identity")


@overload
def forward_backward_prop(
    data: Array, labels: Array, params: Array, dimensions: Sequence[int], *,
    activation: str | Sequence[str] = ..., output: str = ..., input_grad: Literal[False] = ...,
) -> tuple[Array, Array]: ...
@overload
def forward_backward_prop(
    data: Array, labels: Array, params: Array, dimensions: Sequence[int], *,
    activation: str | Sequence[str] = ..., output: str = ..., input_grad: Literal[True],
) -> tuple[Array, Array, Array]: ...
def forward_backward_prop(
    data: Array,
    labels: Array,
    params: Array,
    dimensions: Sequence[int],
    *,
    activation: str | Sequence[str] = "sigmoid",
    output: str = "softmax",
    input_grad: bool = False,
) -> tuple[Array, Array] | tuple[Array, Array, Array]:
    """Cost and gradient of the network (see the module docstring), computed by hand.

    Parameters
    ----------
    data : array, M x Dx
        One example per row.
    labels : array, M x Dy
        ``"softmax"``: one-hot rows (any rows of non-negative weights summing to one also
        work); ``"sigmoid"``: entries in [0, 1] (binary or multi-label targets);
        ``"identity"``: any real targets.
    params : array, 1-D
        ``W1, b1, ..., WL, bL`` flattened row-major and concatenated (see :func:`param_layout`).
    dimensions : (Dx, H1, ..., Hk, Dy)
        ``k >= 0`` hidden layers; the seed's ``(Dx, H, Dy)`` is ``k = 1``, ``(Dx, Dy)`` is
        softmax (or logistic, or linear) regression.
    activation : str or sequence of str
        One of :data:`ACTIVATIONS` for every hidden layer, or one per hidden layer.
    output : str
        One of :data:`OUTPUTS`: the output layer and its cost.
    input_grad : bool
        Also return ``dCost/d data``.

    Returns
    -------
    cost : 0-d array
        The cost summed over the rows, in the namespace and on the device of the inputs.
    grad : 1-D array
        Gradient of ``cost`` with respect to ``params``, same layout.
    grad_data : array, M x Dx
        Only with ``input_grad=True``: gradient of ``cost`` with respect to ``data``.

    Notes
    -----
    The work is the ``3L - 1`` matrix products (``3L`` with ``input_grad``); everything else
    is a few passes over each layer's activations, made in place on this function's own
    temporaries (on JAX and Dask the in-place operators simply rebind). The activations are
    kept for the backward pass and each is freed as soon as it is spent; the inputs are never
    modified. Logits and pre-activations as large as ±1e4 (tested) give a finite cost and
    gradient with no warning, in float32 and float64. The gradient is
    computed by hand, so the result is not meant to be differentiated again by torch's
    autograd (the in-place passes would stop it).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> data, params = rng.standard_normal((3, 2)), rng.standard_normal(param_layout((2, 4, 3)).size)
    >>> labels = np.eye(3)[[0, 2, 1]]
    >>> cost, grad = forward_backward_prop(data, labels, params, (2, 4, 3))
    >>> grad.shape
    (27,)

    A deeper network with ReLU layers, and the gradient with respect to the data:

    >>> dims = (2, 8, 8, 3)
    >>> params = rng.standard_normal(param_layout(dims).size)
    >>> cost, grad, grad_data = forward_backward_prop(
    ...     data, labels, params, dims, activation="relu", input_grad=True)
    >>> grad.shape, grad_data.shape
    ((123,), (3, 2))
    """
    check_network_inputs(data, labels, params, dimensions)
    xp = namespace(params)  # the check saw that all three come from one library
    if data.shape[0] == 0:  # no rows: a cost of 0 and zero gradients (Dask cannot reduce none)
        return _no_rows(xp, data, params, activation, output, input_grad, len(dimensions) - 2)
    if type(activation) is str and activation == "sigmoid" and output == "softmax" and input_grad is False \
            and len(dimensions) == 3:
        # the seed's call, decided in a few comparisons: it costs about 40 us in all
        return _seed_network(xp, data, labels, params, param_layout(dimensions))
    activations = _check_options(activation, output, input_grad, len(dimensions) - 2)
    return _backprop(xp, data, labels, params, param_layout(dimensions), activations, output, input_grad)


def _backprop(xp: Any, data: Array, labels: Array, params: Array, layout: ParamLayout,
              activations: tuple[str, ...], output: str, input_grad: bool) -> tuple[Array, ...]:
    """:func:`forward_backward_prop` once its arguments are checked (at least one row): the
    seed's network on its own path, any other on the general one."""
    if activations == ("sigmoid",) and output == "softmax" and not input_grad:
        return _seed_network(xp, data, labels, params, layout)
    return _network(xp, data, labels, params, layout, activations, output, input_grad)


def _check_options(activation: str | Sequence[str], output: str, input_grad: bool, k: int) -> tuple[str, ...]:
    """The activations, one per hidden layer, once ``output`` and ``input_grad`` are checked too."""
    activations = _check_activations(activation, k)
    if not (isinstance(output, str) and output in OUTPUTS):
        raise ValueError(f"forward_backward_prop: output must be one of {_listed(OUTPUTS)}, "
                         f"got {describe(output) if not isinstance(output, str) else repr(output[:40])}")
    if not isinstance(input_grad, bool):
        raise TypeError(f"forward_backward_prop: input_grad must be True or False, "
                        f"got {describe(input_grad)}")
    return activations


def _no_rows(xp: Any, data: Array, params: Array, activation: str | Sequence[str], output: str,
             input_grad: bool, k: int) -> tuple[Array, ...]:
    _check_options(activation, output, input_grad, k)
    cost, grad = xp.zeros_like(params[0]), xp.zeros_like(params)
    return (cost, grad, xp.zeros_like(data)) if input_grad else (cost, grad)


def _listed(names: Sequence[str]) -> str:
    return ", ".join(map(repr, names))


def _check_activations(activation: str | Sequence[str], k: int) -> tuple[str, ...]:
    """One activation name per hidden layer, or a clear error."""
    expected = (f"one of {_listed(ACTIVATIONS)}, or a sequence of k = {k} of them (one per hidden "
                f"layer)")
    if isinstance(activation, str):
        if activation not in ACTIVATIONS:
            raise ValueError(f"forward_backward_prop: activation must be {expected}, got {activation[:40]!r}")
        return (activation,) * k
    if not isinstance(activation, Sequence) or not all(isinstance(a, str) for a in activation):
        raise TypeError(f"forward_backward_prop: activation must be {expected}, got {describe(activation)}")
    if len(activation) != k:
        raise ValueError(f"forward_backward_prop: activation must be {expected}; got a sequence of "
                         f"{len(activation)} for dimensions with {k} hidden layer{'s' * (k != 1)}")
    for a in activation:
        if a not in ACTIVATIONS:
            raise ValueError(f"forward_backward_prop: activation must be {expected}, got {a[:40]!r} in it")
    return tuple(activation)


def _total(xp: Any, x: Array) -> Array:
    """``sum(x)`` as a 0-d array on every backend (NumPy's plain sum gives a scalar, and
    xp.asarray would warn on a torch tensor that requires grad)."""
    return xp.reshape(xp.sum(x, axis=None, keepdims=True), ())


def _network(xp: Any, data: Array, labels: Array, params: Array, layout: ParamLayout,
             activations: tuple[str, ...], output: str, input_grad: bool) -> tuple[Array, ...]:
    """Any depth, activations and output: the module docstring's equations, in order."""
    blocks = layout.blocks
    W = [xp.reshape(params[b.offset : b.stop], b.shape) for b in blocks[0::2]]
    bias = [params[b.offset : b.stop] for b in blocks[1::2]]
    L = len(W)

    a = [data]  # a[i] is the input of layer i + 1; kept for its weight gradient
    for i in range(L - 1):
        a.append(_hidden_layer(xp, activations[i], a[i], W[i], bias[i]))
    z = a[L - 1] @ W[L - 1]
    z += bias[L - 1]
    cost, delta = _cost_and_delta(xp, output, z, labels)
    del z

    grads: list[Array] = []  # per layer, last first
    for i in reversed(range(L)):  # layer i + 1
        grads.append(_layer_grad(xp, a[i].T @ delta, xp.sum(delta, axis=0, keepdims=True)))
        if i == 0 and not input_grad:
            break
        # dCost/d data for the first layer, else the previous layer's delta
        delta = delta @ W[0].T if i == 0 else _back_through(xp, activations[i - 1], delta, W[i], a[i])
        a[i] = None  # spent: free it before the next layer's product allocates
    grad = xp.concat(grads[::-1])
    return (cost, grad, delta) if input_grad else (cost, grad)


def _hidden_layer(xp: Any, name: str, a: Array, W: Array, b: Array) -> Array:
    """``act(a W + b)``: one product and as few passes over its M x H result as the activation allows."""
    if name == "sigmoid":
        # 1 / (1 + exp(-z)): the product gives -z from -W (a pass over the weights, not the
        # activations), and -z is cut where exp would overflow; that moves h by less than
        # exp(1 - log(max)), below the dtype's smallest normal number (a saturated h is that
        # small, not 0). exp is half the cost of tanh in float64 NumPy.
        negative_z = a @ -W
        negative_z -= b
        negative_z = xp.minimum(negative_z, _exp_limit(xp, negative_z))  # two M x H arrays at most
        e = xp.exp(negative_z)
        del negative_z
        e += 1
        e **= -1
        return e
    z = a @ W
    z += b
    if name == "tanh":
        return xp.tanh(z)
    if name == "relu":  # 0 at 0; a NaN stays NaN. maximum is a fast pass, where is not
        return xp.maximum(z, xp.zeros((), dtype=z.dtype, device=device(z)))
    return z


def _exp_limit(xp: Any, x: Array) -> Array:
    """The 0-d array ``log(max) - 1`` of ``x``'s dtype: exp of anything up to it is finite."""
    return xp.asarray(math.log(xp.finfo(x.dtype).max) - 1, dtype=x.dtype, device=device(x))


def _back_through(xp: Any, name: str, delta: Array, W: Array, a: Array) -> Array:
    """``delta_(l-1) = (delta_l Wl^T) * act'(a(l-1))``, act' from the activation's output ``a``
    (spent afterwards: used in place). The signs of the derivatives go into the weights."""
    if name == "sigmoid":  # a (1 - a) = -a (a - 1)
        back = delta @ (-W).T
        back *= a
        a -= 1
        back *= a
        return back
    if name == "tanh":  # 1 - a^2 = -(a^2 - 1)
        back = delta @ (-W).T
        a *= a
        a -= 1
        back *= a
        return back
    back = delta @ W.T
    if name == "relu":  # 1 where z > 0 (a > 0), else 0: 0 at z = 0
        back *= xp.astype(a > 0, back.dtype)
    return back


def _cost_and_delta(xp: Any, output: str, z: Array, labels: Array) -> tuple[Array, Array]:
    """The cost and ``delta_L = dCost/dzL`` from the logits ``z`` (used in place)."""
    if output == "softmax":
        z -= xp.max(z, axis=1, keepdims=True)
        yhat = xp.exp(z)
        row_sum = xp.sum(yhat, axis=1, keepdims=True)
        z -= xp.log(row_sum)  # log yhat: every entry <= 0, so the sum below cannot cancel
        z *= labels
        cost = _total(xp, z)
        cost *= -1  # in place: NumPy's unary minus would turn the 0-d array into a scalar
        yhat /= row_sum
        yhat -= labels
        return cost, yhat
    if output == "sigmoid":
        # softplus(z) - y z = max(z, 0) - y z + log1p(exp(-|z|)): no exp of a positive number
        e = xp.abs(z)
        e *= -1
        e = xp.exp(e)
        # one sum of terms that are each >= 0 for labels in [0, 1]: nothing cancels, and no
        # partial sum of huge logits overflows
        terms = xp.where(z > 0, z, xp.zeros_like(z))
        terms -= labels * z
        terms += xp.log1p(e)
        cost = _total(xp, terms)
        del terms
        delta = xp.where(z >= 0, xp.ones_like(e), e)  # sigmoid(z) = delta / (1 + e)
        e += 1
        delta /= e
        delta -= labels
        return cost, delta
    z -= labels  # identity: yhat - labels
    cost = _total(xp, z * z)
    cost *= 0.5
    return cost, z


def _seed_network(
    xp: Any, data: Array, labels: Array, params: Array, layout: ParamLayout
) -> tuple[Array, Array]:
    """The seed's (Dx, H, Dy) network, sigmoid and softmax: :func:`_network`'s steps without its lists."""
    blocks = layout.blocks
    W1, b1, W2, b2 = (params[b.offset : b.stop] for b in blocks)
    W1, W2 = xp.reshape(W1, blocks[0].shape), xp.reshape(W2, blocks[2].shape)  # b1, b2: 1-D already

    h = _hidden_layer(xp, "sigmoid", data, W1, b1)
    z2 = h @ W2
    z2 += b2
    cost, delta1 = _cost_and_delta(xp, "softmax", z2, labels)
    del z2  # M x Dy, spent: free it before the backward pass allocates

    grad2 = _layer_grad(xp, h.T @ delta1, xp.sum(delta1, axis=0, keepdims=True))
    delta2 = _back_through(xp, "sigmoid", delta1, W2, h)  # (delta1 W2^T) * h (1 - h)
    del h  # free each M x H array as soon as it is spent: it lowers the peak
    gW1, gb1 = data.T @ delta2, xp.sum(delta2, axis=0, keepdims=True)
    del delta2
    grad1 = _layer_grad(xp, gW1, gb1)
    del gW1  # at most twice the params alive: the rows and their copy, then both layers and the whole
    return cost, xp.concat([grad1, grad2])


def _layer_grad(xp: Any, dW: Array, db: Array) -> Array:
    """One layer's gradient as the layout has it: ``[dW; db]`` (``db`` a 1 x Dl row), flattened
    row-major, so ``dW``'s rows and then ``db``.

    Joined by rows per layer, not in one concatenation of the flattened blocks: under
    ``jax.jit`` on the CPU that one took up to 69 times as long as returning the blocks at
    some batch sizes, for a cause not found (``scripts/jax_jit_concat.py``)."""
    return xp.reshape(xp.concat([dW, db], axis=0), (-1,))
