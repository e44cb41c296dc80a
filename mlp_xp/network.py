"""The two-layer sigmoidal network: parameter layout, forward and backward pass, sanity check.

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

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from array_api_compat import array_namespace

from .validation import check_dimensions, check_network_inputs

__all__ = ["Block", "ParamLayout", "forward_backward_prop", "param_layout", "sanity_check"]


def unravel_index(k: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The multi-index of flat (row-major) index ``k`` in an array of ``shape``.

    Examples
    --------
    >>> unravel_index(5, (2, 3))
    (1, 2)
    """
    idx = []
    for d in reversed(shape):
        k, r = divmod(k, d)
        idx.append(r)
    return tuple(reversed(idx))


@dataclass(frozen=True)
class Block:
    """One named block of the flat parameter vector: ``params[offset:offset + size]``."""

    name: str
    shape: tuple[int, ...]
    offset: int

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def stop(self) -> int:
        return self.offset + self.size

    def entry_name(self, flat_index: int) -> str:
        """Name of the entry at ``flat_index`` (an index into the whole vector), e.g. ``W2[1, 2]``."""
        k = flat_index - self.offset
        if not 0 <= k < self.size:
            raise IndexError(f"flat index {flat_index} is not in block {self.name}")
        return f"{self.name}[{', '.join(map(str, unravel_index(k, self.shape)))}]"


@dataclass(frozen=True)
class ParamLayout:
    """The blocks ``W1`` (Dx x H), ``b1`` (H), ``W2`` (H x Dy), ``b2`` (Dy), row-major, in order."""

    blocks: tuple[Block, ...]

    @property
    def size(self) -> int:
        """Total number of parameters, ``(Dx + 1) * H + (H + 1) * Dy``."""
        return self.blocks[-1].stop

    def __iter__(self) -> Iterator[Block]:
        return iter(self.blocks)

    def __len__(self) -> int:
        return len(self.blocks)

    def __getitem__(self, name: str) -> Block:
        for b in self.blocks:
            if b.name == name:
                return b
        raise KeyError(f"no block {name!r}; blocks are {[b.name for b in self.blocks]}")

    def block_of(self, flat_index: int) -> Block:
        """The block holding entry ``flat_index`` of the flat vector."""
        for b in self.blocks:
            if b.offset <= flat_index < b.stop:
                return b
        raise IndexError(f"flat index {flat_index} is outside 0..{self.size - 1}")

    def entry_name(self, flat_index: int) -> str:
        """``'W2[1, 2]'`` for the entry at ``flat_index`` of the flat vector."""
        return self.block_of(flat_index).entry_name(flat_index)

    def __str__(self) -> str:
        return ", ".join(f"{b.name} {'x'.join(map(str, b.shape))}" for b in self.blocks)


def param_layout(dimensions: Sequence[int]) -> ParamLayout:
    """Layout of the flat parameter vector for ``dimensions = (Dx, H, Dy)``.

    Examples
    --------
    >>> layout = param_layout((10, 5, 10))
    >>> layout.size
    115
    >>> [(b.name, b.shape, b.offset) for b in layout]
    [('W1', (10, 5), 0), ('b1', (5,), 50), ('W2', (5, 10), 55), ('b2', (10,), 105)]
    >>> layout.entry_name(57)
    'W2[0, 2]'
    """
    return _param_layout(*check_dimensions(dimensions, where="param_layout"))


@lru_cache(maxsize=64)
def _param_layout(Dx: int, H: int, Dy: int) -> ParamLayout:
    # cached: forward_backward_prop asks on every call, and building it costs more than a
    # small network's arithmetic; layouts are immutable, so sharing one is safe
    blocks, offset = [], 0
    for name, shape in (("W1", (Dx, H)), ("b1", (H,)), ("W2", (H, Dy)), ("b2", (Dy,))):
        blocks.append(Block(name, shape, offset))
        offset = blocks[-1].stop
    return ParamLayout(tuple(blocks))


#: Array type -> its namespace: ``array_namespace`` costs microseconds, a small network's
#: whole pass about fifty, and the namespace depends on the type alone.
_NAMESPACES: dict[type, Any] = {}


def _namespace(x: Any) -> Any:
    """``array_namespace(x)``, looked up once per array type."""
    xp = _NAMESPACES.get(type(x))
    if xp is None:
        xp = _NAMESPACES[type(x)] = array_namespace(x)
    return xp


def forward_backward_prop(
    data: Any, labels: Any, params: Any, dimensions: Sequence[int]
) -> tuple[Any, Any]:
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
    xp = _namespace(params)  # the check saw that all three come from one library
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


def sanity_check(backend: str = "numpy", dtype: str = "float64", seed: int = 0) -> bool:
    """The seed's sanity check: a gradient check of a random 20-example network (10, 5, 10).

    Data, one-hot labels and parameters are drawn with NumPy from ``seed`` and moved onto
    ``backend``, so every backend checks the same numbers; their values are checked first
    (:func:`~mlp_xp.check_values`). In float64 this is the seed's ``gradcheck_naive``
    (step 1e-4, tolerance 1e-5), printed as the seed printed it. In float32, where those are
    out of reach of the arithmetic, it is :func:`~mlp_xp.gradcheck` with that dtype's step
    and tolerance (it warns that float32 checks are coarse); a failure prints its report.
    Returns the verdict.

    Examples
    --------
    >>> sanity_check("numpy")
    Running sanity check...
    Gradient check passed!
    True
    """
    from ._host import seed_problem
    from .backends import get_backend
    from .gradcheck import gradcheck, gradcheck_naive
    from .validation import check_values

    b = get_backend(backend)
    print("Running sanity check...")
    dimensions = (10, 5, 10)
    data, labels, params = (b.asarray(a, dtype) for a in seed_problem(20, dimensions, seed))
    check_values(data, labels, params, dimensions)

    def f(p: Any) -> tuple[Any, Any]:
        return forward_backward_prop(data, labels, p, dimensions)

    if dtype == "float64":
        return gradcheck_naive(f, params)
    result = gradcheck(f, params, layout=param_layout(dimensions))
    print("Gradient check passed!" if result else str(result))
    return result.passed
