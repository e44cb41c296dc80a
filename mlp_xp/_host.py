"""Host-side helpers that need NumPy itself (kept out of the maths modules).

Random numbers are drawn here, with NumPy, and then moved onto a backend: the array API
has no random numbers, and drawing on the host makes every backend see the same values.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

__all__ = ["frozen_global_random_state", "random_problem", "random_unit_directions", "seed_problem"]


@contextmanager
def frozen_global_random_state() -> Iterator[Callable[[], None]]:
    """Yield ``restore()``, which resets Python's and NumPy's global random state to entry's.

    A function that samples (word2vec's negative sampling, dropout) then sees the same
    draws on every call. The state is restored once more on exit.
    """
    py_state, np_state = random.getstate(), np.random.get_state()

    def restore() -> None:
        random.setstate(py_state)
        np.random.set_state(np_state)

    try:
        yield restore
    finally:
        restore()


def random_problem(
    M: int, dimensions: tuple[int, int, int], seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Host float64 ``data`` (M x Dx, standard normal), one-hot ``labels`` (M x Dy), ``params``.

    ``params`` is standard normal scaled by ``1/sqrt(fan-in)`` for ``W1`` and ``W2`` so that
    large networks stay in the sigmoid's working range; the seed's 20 x (10, 5, 10) check
    uses :func:`seed_problem` instead.
    """
    Dx, H, Dy = dimensions
    rng = np.random.default_rng(seed)
    data, labels = _data_labels(rng, M, Dx, Dy)
    W1 = rng.standard_normal((Dx, H)) / np.sqrt(Dx)
    W2 = rng.standard_normal((H, Dy)) / np.sqrt(H)
    params = np.concatenate([W1.ravel(), rng.standard_normal(H), W2.ravel(), rng.standard_normal(Dy)])
    return data, labels, params


def seed_problem(
    M: int, dimensions: tuple[int, int, int], seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The seed exercise's problem: data and params all standard normal, one-hot labels."""
    Dx, H, Dy = dimensions
    rng = np.random.default_rng(seed)
    data, labels = _data_labels(rng, M, Dx, Dy)
    params = rng.standard_normal((Dx + 1) * H + (H + 1) * Dy)
    return data, labels, params


def _data_labels(rng: np.random.Generator, M: int, Dx: int, Dy: int) -> tuple[np.ndarray, np.ndarray]:
    """Standard normal ``data`` (M x Dx) and one-hot ``labels`` (M x Dy) of uniform classes."""
    return rng.standard_normal((M, Dx)), np.eye(Dy)[rng.integers(0, Dy, M)]


def random_unit_directions(k: int, n: int, seed: int) -> np.ndarray:
    """``k`` directions in ``R^n``, uniform on the unit sphere, as a float64 ``(k, n)`` array.

    Examples
    --------
    >>> u = random_unit_directions(3, 5, seed=0)
    >>> u.shape, bool(np.allclose(np.linalg.norm(u, axis=1), 1.0))
    ((3, 5), True)
    """
    u = np.random.default_rng(seed).standard_normal((k, n))
    norms = np.linalg.norm(u, axis=1, keepdims=True)
    return u / np.where(norms > 0, norms, 1.0)
