"""gradcheck's host-side helpers, which need NumPy itself (kept out of the maths modules).

Random numbers are drawn here, with NumPy, and then moved onto a backend: the array API
has no random numbers, and drawing on the host makes every backend see the same values.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

__all__ = ["frozen_global_random_state", "random_unit_directions"]


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
