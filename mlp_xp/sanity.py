"""The seed's sanity check, on any backend: a gradient check of a random (10, 5, 10) network.

Above the maths: it draws the seed's problem, moves it onto a backend, and checks the
gradient with :mod:`mlp_xp.gradcheck`.
"""

from __future__ import annotations

from typing import Any

from .backends import get_backend
from .gradcheck import gradcheck, gradcheck_naive
from .layout import param_layout
from .network import forward_backward_prop
from .problems import seed_problem
from .validation import check_values

__all__ = ["sanity_check"]


def sanity_check(backend: str = "numpy", dtype: str = "float64", seed: int = 0) -> bool:
    """The seed's sanity check: a gradient check of a random 20-example network (10, 5, 10).

    Data, one-hot labels and parameters are drawn with NumPy from ``seed`` and moved onto
    ``backend``, so every backend checks the same numbers; their values are checked first
    (:func:`~mlp_xp.check_values`). In float64 this is the seed's ``gradcheck_naive``
    (step 1e-4, tolerance 1e-5), printed as the seed printed it. In float32, where those are
    out of reach of the arithmetic, it is :func:`~mlp_xp.gradcheck` with that dtype's step
    and tolerance (it warns that float32 checks are coarse); a failure prints its report.

    Parameters
    ----------
    backend : str
        A name from :data:`mlp_xp.backends.BACKEND_NAMES` (``"numpy"``, ``"torch"``, ``"cupy"``, ...).
    dtype : {"float64", "float32"}
    seed : int
        Seeds the problem (:func:`~mlp_xp.seed_problem`).

    Returns
    -------
    bool
        The verdict.

    Examples
    --------
    >>> sanity_check("numpy")
    Running sanity check...
    Gradient check passed!
    True
    """
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
