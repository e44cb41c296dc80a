"""Host side of :func:`mlp_xp.gradcheck`'s fast mode: random unit directions drawn with NumPy.

The array API has no random numbers; drawing on the host from a private generator makes
every backend check the same directions and leaves the caller's random state alone.
"""

from __future__ import annotations

import numpy as np

__all__ = ["random_unit_directions"]


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
