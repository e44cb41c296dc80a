"""Random problems to run the network on: the seed's, and one scaled for large networks.

Drawn on the host with NumPy (the array API has no random numbers) and moved onto a backend
by the caller, so every backend sees the same values::

    from mlp_xp import seed_problem
    from mlp_xp.backends import get_backend

    b = get_backend("torch")
    data, labels, params = (b.asarray(a, "float64") for a in seed_problem(20, (10, 5, 10)))
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._common import describe
from .layout import check_dimensions

__all__ = ["random_problem", "seed_problem"]


def random_problem(
    M: int, dimensions: Sequence[int], seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A problem for a large network of any depth: weights scaled by ``1/sqrt(fan-in)``.

    ``data`` is standard normal, ``labels`` one-hot of uniform classes; every ``Wl`` is
    standard normal divided by the square root of its fan-in, so that large networks stay
    in the sigmoid's working range; every ``bl`` is standard normal. The benchmarks use it;
    the seed's check uses :func:`seed_problem`.

    Parameters
    ----------
    M : int
        Rows (examples).
    dimensions : (Dx, H1, ..., Hk, Dy)
        As for :func:`mlp_xp.forward_backward_prop`; the seed's network is ``(Dx, H, Dy)``.
    seed : int
        Seeds ``numpy.random.default_rng``. The weights are drawn first, then the biases,
        each in layer order.

    Returns
    -------
    data, labels, params : numpy.ndarray
        float64, M x Dx, M x Dy and 1-D in the layout of :func:`mlp_xp.param_layout`.

    Examples
    --------
    >>> data, labels, params = random_problem(4, (784, 16, 10))
    >>> data.shape, labels.shape, params.shape
    ((4, 784), (4, 10), (12730,))
    >>> random_problem(4, (784, 16, 16, 10))[2].shape
    (13002,)
    """
    dims = check_dimensions(dimensions, where="random_problem")
    rng = _rng("random_problem", M, seed)
    data, labels = _data_labels(rng, M, dims[0], dims[-1])
    W = [rng.standard_normal((a, b)) / np.sqrt(a) for a, b in itertools.pairwise(dims)]
    b = [rng.standard_normal(d) for d in dims[1:]]
    params = np.concatenate([x for Wb in zip(W, b, strict=True) for x in (Wb[0].ravel(), Wb[1])])
    return data, labels, params


def seed_problem(
    M: int, dimensions: tuple[int, int, int], seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The seed exercise's problem: data and params all standard normal, one-hot labels.

    Parameters
    ----------
    M : int
        Rows (examples); the seed's sanity check uses 20.
    dimensions : (Dx, H, Dy)
        The seed's is ``(10, 5, 10)``.
    seed : int
        Seeds ``numpy.random.default_rng``.

    Returns
    -------
    data, labels, params : numpy.ndarray
        float64, M x Dx, M x Dy (one 1 per row) and 1-D in the layout of
        :func:`mlp_xp.param_layout`. Move them onto a backend with its ``asarray``.

    Examples
    --------
    >>> data, labels, params = seed_problem(20, (10, 5, 10))
    >>> data.shape, labels.sum(axis=1).tolist() == [1.0] * 20, params.shape
    ((20, 10), True, (115,))
    """
    dims = check_dimensions(dimensions, where="seed_problem")
    if len(dims) != 3:
        raise ValueError(f"seed_problem: dimensions must be the seed's (Dx, H, Dy), got {len(dims)} "
                         f"entries; random_problem draws a network of any depth")
    Dx, H, Dy = dims
    rng = _rng("seed_problem", M, seed)
    data, labels = _data_labels(rng, M, Dx, Dy)
    params = rng.standard_normal((Dx + 1) * H + (H + 1) * Dy)
    return data, labels, params


def _rng(where: str, M: Any, seed: Any) -> np.random.Generator:
    """The generator of ``seed``, once ``M`` and ``seed`` are checked to be non-negative ints."""
    for name, value in (("M", M), ("seed", seed)):
        message = f"{where}: {name} must be a non-negative integer, got {describe(value)}"
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
            raise TypeError(message)
        if value < 0:
            raise ValueError(message)
    return np.random.default_rng(seed)


def _data_labels(rng: np.random.Generator, M: int, Dx: int, Dy: int) -> tuple[np.ndarray, np.ndarray]:
    """Standard normal ``data`` (M x Dx) and one-hot ``labels`` (M x Dy) of uniform classes."""
    return rng.standard_normal((M, Dx)), np.eye(Dy)[rng.integers(0, Dy, M)]
