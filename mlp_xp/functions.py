"""Elementwise and row-wise functions of the network: softmax, sigmoid and its derivative.

Each is written once against the array API: the namespace comes from the argument, and
the result is an array of the same library, device and dtype. None of them overflows
for any finite input.
"""

from __future__ import annotations

import math
from typing import Any

from array_api_compat import array_namespace, device

from ._common import Array
from .validation import check_float_array

__all__ = ["log_softmax", "sigmoid", "sigmoid_grad", "softmax"]


def softmax(x: Array) -> Array:
    """Softmax of a 1-D vector, or of each row of a 2-D array.

    ``softmax(x)_i = exp(x_i - max(x)) / sum_j exp(x_j - max(x))``: shifting by the row's
    maximum leaves the result unchanged and keeps ``exp`` from overflowing.

    Any real floating dtype the library has (float16 and bfloat16 included) gives a result in
    that dtype. Non-finite entries give the limit where there is one, never an error and never
    a warning (see :doc:`/trust`):

    - ``-inf`` entries get 0;
    - a row with ``+inf`` entries shares the mass equally among them, 0 elsewhere (the limit);
    - a row of only ``-inf`` has no limit: by the same rule (the entries equal to the row's
      maximum share the mass) it gets the uniform distribution, as a row of equal entries does;
    - a row with a NaN gives a row of NaN (each output depends on every entry of its row);
      other rows are unaffected.

    Rows of no entries (shape ``(M, 0)``) give an empty array of the same shape; zero rows
    (``(0, n)``) give zero rows.

    Examples
    --------
    >>> import numpy as np
    >>> softmax(np.asarray([[1001.0, 1002.0], [3.0, 4.0]]))
    array([[0.26894142, 0.73105858],
           [0.26894142, 0.73105858]])
    >>> softmax(np.asarray([[np.inf, 5.0, np.inf], [-np.inf, 0.0, -np.inf]]))
    array([[0.5, 0. , 0.5],
           [0. , 1. , 0. ]])
    """
    check_float_array(x, where="softmax", ndims=(1, 2))
    xp = array_namespace(x)
    if 0 in x.shape:  # no rows, or rows of no entries: nothing to normalise, an empty result
        return xp.asarray(x, copy=True)
    e = xp.exp(_shifted(xp, x))
    # not in place: torch's autograd of exp needs its output as it was
    return e / xp.sum(e, axis=-1, keepdims=True)


def log_softmax(x: Array) -> Array:
    """Logarithm of :func:`softmax`, computed without forming ``softmax`` (log-sum-exp).

    Finite for any finite input, where ``log(softmax(x))`` would give ``-inf``. Non-finite
    entries follow :func:`softmax`'s rules: ``-inf`` where softmax is 0, ``-log(k)`` for the
    ``k`` entries sharing a row's mass when its maximum is infinite, NaN for a row with a NaN.

    Examples
    --------
    >>> import numpy as np
    >>> log_softmax(np.asarray([0.0, 1e4]))
    array([-10000.,      0.])
    """
    check_float_array(x, where="log_softmax", ndims=(1, 2))
    xp = array_namespace(x)
    if 0 in x.shape:  # no rows, or rows of no entries: nothing to normalise, an empty result
        return xp.asarray(x, copy=True)
    shifted = _shifted(xp, x)
    shifted -= xp.log(xp.sum(xp.exp(shifted), axis=-1, keepdims=True))
    return shifted


def _shifted(xp: Any, x: Array) -> Array:
    """``x - max(x)`` per row, a new array; 0 and ``-inf`` in rows whose maximum is infinite.

    Finite rows get ``x - m`` itself, the expression autodiff goes through: it is right at
    ties whatever share of the maximum's gradient each tied entry gets, because softmax does
    not change when ``m`` does. A row whose maximum ``m`` is ``+-inf`` gets 0 where ``x == m``
    (the entries that share the mass) and ``-inf`` elsewhere; its ``m`` is replaced by 0
    before the subtraction, so that nothing computes ``inf - inf`` (NumPy would warn, even
    in the branch that ``where`` drops). A NaN maximum is not infinite: ``x - NaN`` makes the
    row NaN. The limits cost three passes over ``x`` (a comparison and two ``where``): no
    two of them give the three outcomes without an ``inf - inf`` or an overflow somewhere.
    """
    m = xp.max(x, axis=-1, keepdims=True)
    infinite = xp.isinf(m)  # one entry per row, as are m_infinite and the shift
    # 0-d arrays of x's dtype, not Python scalars: array-api-strict 2.3's where promotes a
    # Python float to float64
    zero, nan, minus_inf = (xp.asarray(v, dtype=x.dtype, device=device(x))
                            for v in (0.0, math.nan, -math.inf))
    shifted = x - xp.where(infinite, zero, m)
    m_infinite = xp.where(infinite, m, nan)  # x == NaN is false: finite rows keep x - m
    return xp.where(x == m_infinite, zero, xp.where(infinite, minus_inf, shifted))


def sigmoid(x: Array) -> Array:
    """Logistic sigmoid ``1 / (1 + exp(-x))``, elementwise.

    Computed as ``1 / (1 + exp(-x))`` where ``x >= 0`` and ``exp(x) / (1 + exp(x))`` where
    ``x < 0``, from one ``e = exp(-|x|)``: neither ``exp`` can overflow, tiny values keep
    their relative precision, and autodiff (``jax.grad``, ``torch.autograd``) gives the true
    derivative everywhere, ``0.25`` at ``0`` and ``-0.0`` included: each branch is the smooth
    formula of its side, and both are finite at every point.

    Examples
    --------
    >>> import numpy as np
    >>> sigmoid(np.asarray([[1.0, 2.0], [-1.0, -2.0]]))
    array([[0.73105858, 0.88079708],
           [0.26894142, 0.11920292]])
    """
    check_float_array(x, where="sigmoid")
    xp = array_namespace(x)
    positive = x >= 0
    # -|x| written as a choice, not abs: abs's derivative at 0 is 0 (JAX), which is wrong here.
    # The exp output is not changed in place: torch's autograd of exp needs it as it was.
    e = xp.exp(xp.where(positive, -x, x))
    return xp.where(positive, xp.ones_like(e), e) / (e + 1)


def sigmoid_grad(s: Array) -> Array:
    """Derivative of the sigmoid, given ``s = sigmoid(x)`` (not ``x``): ``s * (1 - s)``.

    Examples
    --------
    >>> import numpy as np
    >>> sigmoid_grad(sigmoid(np.asarray([1.0, -2.0])))
    array([0.19661193, 0.10499359])
    """
    check_float_array(s, where="sigmoid_grad", name="s")
    g = 1 - s
    g *= s
    return g
