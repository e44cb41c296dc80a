"""The estimators' host side: moving arrays to and from X's device, and the random draws.

The array API has no random numbers and no way to read an array back to NumPy, so the
estimators do both here. Initial weights and shuffles are drawn with NumPy from
``random_state``, in scikit-learn's order, and then moved: every library sees the same
numbers. Each function knows which library it is handed (CuPy, torch, JAX, Dask,
array-api-strict): the maths in ``estimators`` never does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from itertools import pairwise
from typing import Any

import numpy as np
from array_api_compat import (
    device,
    is_array_api_strict_namespace,
    is_cupy_array,
    is_dask_array,
    is_jax_array,
    is_numpy_array,
    is_torch_array,
)

from ._common import Array, namespace

__all__ = ["compiled", "glorot_params", "host_indices", "is_foreign_array", "library_name", "persist",
           "take_rows", "to_device", "to_host"]


def is_foreign_array(x: Any) -> bool:
    """Whether ``x`` is an array of an array-API library other than NumPy (kept as it is).

    Examples
    --------
    >>> is_foreign_array(np.ones(2)), is_foreign_array([1.0, 2.0])
    (False, False)
    """
    if is_numpy_array(x):
        return False
    try:
        namespace(x)
    except TypeError:
        return False
    return True


def library_name(x: Any) -> str:
    """``'numpy'``, ``'torch'``, ``'array_api_strict'``, ...: the library ``x`` belongs to.

    Examples
    --------
    >>> library_name(np.ones(2)), library_name([1.0])
    ('numpy', 'list')
    """
    if is_numpy_array(x):
        return "numpy"
    if not is_foreign_array(x):
        return type(x).__name__
    return type(x).__module__.split(".")[0].replace("jaxlib", "jax")


def to_host(x: Any) -> Any:
    """``x`` as host NumPy data (anything that is no array is returned as it is).

    Examples
    --------
    >>> to_host(np.arange(2.0))
    array([0., 1.])
    """
    if is_numpy_array(x) or not is_foreign_array(x):
        return x
    if is_torch_array(x):
        return x.detach().cpu().numpy()
    if is_cupy_array(x):
        return x.get()
    if is_dask_array(x):
        return np.asarray(x.compute())
    if is_jax_array(x):
        return np.asarray(x)
    if is_array_api_strict_namespace(namespace(x)):
        return np.from_dlpack(x).copy()
    return np.asarray(x)


def to_device(a: np.ndarray, like: Array, dtype: Any = None, *, rows: bool = False) -> Array:
    """Host data ``a`` as an array of ``like``'s namespace and device (``like.dtype`` by default).

    On Dask, ``rows=True`` gives ``a`` (as many rows as ``like``) ``like``'s row chunks, so the
    two line up chunk by chunk; anything else is one chunk.

    Examples
    --------
    >>> to_device(np.arange(3), like=np.zeros(2))
    array([0., 1., 2.])
    """
    xp = namespace(like)
    dtype = like.dtype if dtype is None else dtype
    if is_numpy_array(like):
        return np.asarray(a, dtype=dtype)
    if is_dask_array(like):
        import dask.array as da  # only reached with a Dask array in hand

        a = np.asarray(a, dtype=dtype)
        chunks = (like.chunks[0] if rows else -1, *(-1,) * (a.ndim - 1)) if a.ndim else ()
        return da.from_array(a, chunks=chunks)
    if isinstance(dtype, np.dtype):  # a host dtype (of labels): the library's own of that name
        dtype = getattr(xp, dtype.name)
    return xp.asarray(np.ascontiguousarray(a), dtype=dtype, device=device(like))


def glorot_params(random_state: np.random.RandomState, dimensions: list[int], factor: float) -> np.ndarray:
    """Initial ``W1, b1, ..., WL, bL`` as one float64 vector, drawn as scikit-learn draws them.

    For each layer, in order: ``Wl`` then ``bl``, uniform on ``[-bound, bound]`` with
    ``bound = sqrt(factor / (fan_in + fan_out))`` (Glorot and Bengio, 2010; ``factor`` is 2
    for logistic layers, 6 otherwise), from the same ``RandomState`` calls.

    Examples
    --------
    >>> glorot_params(np.random.RandomState(0), [2, 3, 1], 6.0).shape
    (13,)
    """
    blocks = []
    for fan_in, fan_out in pairwise(dimensions):
        bound = np.sqrt(factor / (fan_in + fan_out))
        blocks.append(random_state.uniform(-bound, bound, (fan_in, fan_out)).ravel())
        blocks.append(random_state.uniform(-bound, bound, fan_out))
    return np.concatenate(blocks)


def host_indices(idx: np.ndarray, like: Array) -> Any:
    """Row indices for :func:`take_rows` on ``like``: moved to its device (kept NumPy on Dask,
    whose ``take`` of a Dask index would not know the result's size)."""
    if is_numpy_array(like) or is_dask_array(like):
        return idx
    # the namespace's default index dtype: int32 on JAX without x64, where int64 would warn
    info = namespace(like).__array_namespace_info__()
    return to_device(idx, like, dtype=info.default_dtypes(device=device(like))["indexing"])


def take_rows(x: Array, idx: Any) -> Array:
    """The rows ``idx`` (from :func:`host_indices`) of ``x``, in ``x``'s namespace.

    Examples
    --------
    >>> take_rows(np.arange(6.0).reshape(3, 2), host_indices(np.array([2, 0]), np.zeros(1)))
    array([[4., 5.],
           [0., 1.]])
    """
    if is_dask_array(x):
        return x[idx]  # a NumPy index: the sizes stay known
    return namespace(x).take(x, idx, axis=0)


def compiled(f: Callable[..., Any], like: Array, static_argnames: tuple[str, ...] = ()) -> Callable[..., Any]:
    """``jax.jit(f, static_argnames=...)`` when ``like`` is a JAX array, else ``f`` itself. The jitted
    function is made once per ``f`` and kept, so that its compiles (one per batch shape and
    static arguments) serve every later fit, where eager JAX would dispatch each operation.

    Examples
    --------
    >>> compiled(abs, like=np.ones(1)) is abs
    True
    """
    if is_jax_array(like):
        return _jitted(f, static_argnames)
    return f


@functools.lru_cache(maxsize=16)
def _jitted(f: Callable[..., Any], static_argnames: tuple[str, ...]) -> Callable[..., Any]:
    import jax  # only reached with a JAX array in hand

    return jax.jit(f, static_argnames=static_argnames)


def persist(*arrays: Array) -> tuple[Array, ...]:
    """The arrays computed and kept, on Dask, in one go (so that the next epoch's graph starts
    from them, not from the first epoch); other arrays as they are.

    Examples
    --------
    >>> persist(np.ones(1), np.zeros(1))
    (array([1.]), array([0.]))
    """
    if any(is_dask_array(x) for x in arrays):
        import dask  # only reached with a Dask array in hand

        return tuple(dask.persist(*arrays))
    return arrays
