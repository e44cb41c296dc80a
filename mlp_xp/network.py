"""The two-layer sigmoidal network: forward and backward pass.

    h    = sigmoid(data W1 + b1)                  (M x H)
    yhat = softmax(h W2 + b2)                     (M x Dy)
    cost = -sum(labels * log(yhat))               cross-entropy summed over rows

Backward (``delta1`` is dCost/dz2, ``delta3`` is dCost/dz1):

    delta1 = yhat - labels
    dW2 = h^T delta1,  db2 = sum_rows(delta1)
    delta3 = (delta1 W2^T) * h * (1 - h)
    dW1 = data^T delta3,  db1 = sum_rows(delta3)
"""

from __future__ import annotations

from collections.abc import Sequence

from ._common import Array, namespace
from .layout import param_layout
from .validation import check_network_inputs

__all__ = ["forward_backward_prop"]


def forward_backward_prop(
    data: Array, labels: Array, params: Array, dimensions: Sequence[int]
) -> tuple[Array, Array]:
    """Cost and gradient of the two-layer sigmoidal network (see the module docstring).

    Parameters
    ----------
    data : array, M x Dx
        One example per row.
    labels : array, M x Dy
        One-hot rows (any rows of non-negative weights summing to one also work).
    params : array, 1-D
        ``W1, b1, W2, b2`` flattened row-major and concatenated (see :func:`param_layout`).
    dimensions : (Dx, H, Dy)

    Returns
    -------
    cost : 0-d array
        Cross-entropy summed over the rows, in the namespace and on the device of the inputs.
    grad : 1-D array
        Gradient of ``cost`` with respect to ``params``, same layout.

    Notes
    -----
    The work is five matrix products; everything else is a few passes over the M x H and
    M x Dy arrays, made in place on this function's own temporaries (on JAX and Dask the
    in-place operators simply rebind). At most two M x H arrays are alive at once; the
    inputs are never modified. Logits of any finite size give a finite cost and gradient.
    The gradient is computed by hand, so the result is not meant to be differentiated again
    by torch's autograd (the in-place passes would stop it).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> data, params = rng.standard_normal((3, 2)), rng.standard_normal(param_layout((2, 4, 3)).size)
    >>> labels = np.eye(3)[[0, 2, 1]]
    >>> cost, grad = forward_backward_prop(data, labels, params, (2, 4, 3))
    >>> grad.shape
    (27,)
    """
    check_network_inputs(data, labels, params, dimensions)
    xp = namespace(params)  # the check saw that all three come from one library
    blocks = param_layout(dimensions).blocks
    W1, b1, W2, b2 = (params[b.offset : b.stop] for b in blocks)
    W1, W2 = xp.reshape(W1, blocks[0].shape), xp.reshape(W2, blocks[2].shape)  # b1, b2: 1-D already

    # Forward. h = sigmoid(z1) = (1 + tanh(z1 / 2)) / 2: one transcendental pass over M x H,
    # which cannot overflow. We keep h2 = 2 h and put the factors 1/2 into the weights, which
    # are smaller than the activations (scaling by a power of 2 is exact).
    h2 = data @ (0.5 * W1)
    h2 += 0.5 * b1
    h2 = xp.tanh(h2)
    h2 += 1
    z2 = h2 @ (0.5 * W2)
    z2 += b2

    # Cost from the logits (log-sum-exp): finite even where yhat underflows to 0.
    z2 -= xp.max(z2, axis=1, keepdims=True)
    yhat = xp.exp(z2)
    row_sum = xp.sum(yhat, axis=1, keepdims=True)
    z2 -= xp.log(row_sum)  # log yhat: every entry <= 0, so the sum below cannot cancel
    z2 *= labels
    # keepdims + reshape: a 0-d array on every backend (NumPy's plain sum gives a scalar, and
    # xp.asarray would warn on a torch tensor that requires grad)
    cost = xp.reshape(xp.sum(z2, axis=None, keepdims=True), ())
    cost *= -1
    del z2  # M x Dy, no longer needed: free it before the backward pass allocates

    # Backward.
    yhat /= row_sum
    yhat -= labels
    delta1 = yhat
    gb2 = xp.sum(delta1, axis=0)
    gW2 = h2.T @ delta1
    gW2 *= 0.5  # h^T delta1
    delta3 = delta1 @ (-0.25 * W2).T
    delta3 *= h2
    h2 -= 2
    delta3 *= h2  # -(delta1 W2^T) / 4 * 2h * (2h - 2) = (delta1 W2^T) * h (1 - h)
    del h2  # free each M x H array as soon as it is spent: it lowers the peak
    gW1 = data.T @ delta3
    gb1 = xp.sum(delta3, axis=0)
    del delta3

    grad = xp.concat([xp.reshape(gW1, (-1,)), gb1, xp.reshape(gW2, (-1,)), gb2])
    return cost, grad
