"""The seed's sanity check, on any backend: a gradient check of a random (10, 5, 10) network.

Above the maths: it draws the seed's problem, moves it onto a backend, and checks the
gradient with :mod:`mlp_xp.gradcheck`.
"""

from __future__ import annotations

import numbers
from typing import Any

from ._common import describe
from .backends import BACKEND_NAMES, get_backend
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
    float16 and bfloat16 are refused with a ``TypeError``: no finite-difference check in
    them can tell a true gradient from a wrong one (see :func:`~mlp_xp.gradcheck`).

    Parameters
    ----------
    backend : str
        A name from :data:`mlp_xp.backends.BACKEND_NAMES` (``"numpy"``, ``"torch"``, ``"cupy"``, ...).
    dtype : {"float64", "float32"}
    seed : int
        Seeds the problem (:func:`~mlp_xp.seed_problem`), ``>= 0``.

    Returns
    -------
    bool
        The verdict.

    Raises
    ------
    TypeError
        An argument of the wrong type, or ``dtype`` ``"float16"`` or ``"bfloat16"``.
    ValueError
        An unknown backend or dtype name, or a negative ``seed``.
    mlp_xp.backends.BackendUnavailable
        A known backend that cannot run here (its ``reason`` says why).

    Examples
    --------
    >>> sanity_check("numpy")
    Running sanity check...
    Gradient check passed!
    True
    """
    _check_arguments(backend, dtype, seed)
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


#: The dtypes a gradient check can be trusted in, and those it is refused in (see gradcheck).
_DTYPES = ("float64", "float32")
_COARSE_DTYPES = ("float16", "bfloat16")


def _check_arguments(backend: Any, dtype: Any, seed: Any) -> None:
    where = "sanity_check"
    names = ", ".join(BACKEND_NAMES)
    if not isinstance(backend, str):
        raise TypeError(f"{where}: backend must be a backend name ({names}), got {describe(backend)}")
    if backend not in BACKEND_NAMES:
        raise ValueError(f"{where}: backend must be one of {names}, got {backend[:40]!r}")
    if not isinstance(dtype, str):
        raise TypeError(f"{where}: dtype must be 'float64' or 'float32', got {describe(dtype)}")
    if dtype in _COARSE_DTYPES:
        raise TypeError(
            f"{where}: dtype must be 'float64' or 'float32', got {dtype!r}: in {dtype} rounding swamps "
            "any finite difference, so a true gradient would fail; run it in float32 or float64"
        )
    if dtype not in _DTYPES:
        raise ValueError(f"{where}: dtype must be 'float64' or 'float32', got {dtype[:40]!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{where}: seed must be an int >= 0 (it seeds numpy.random.default_rng), "
                        f"got {describe(seed)}")
    if seed < 0:
        raise ValueError(f"{where}: seed must be an int >= 0 (it seeds numpy.random.default_rng), got {seed}")
