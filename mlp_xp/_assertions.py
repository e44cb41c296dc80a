"""``assert_close`` and ``assert_equal``: same library, device, dtype and shape, then the values.

The values are compared by array-api-extra's testing helpers (``numpy.testing`` on host
copies); what this adds is the order of the checks and messages that say which property
differs and how to make ``desired`` match. Reads made here are not counted by
``max_host_reads``: comparing arrays is the test's business, not the code's under test.
"""

from __future__ import annotations

import importlib
import inspect
import math
import numbers
from collections.abc import Callable
from typing import Any

import array_api_extra.testing as xpx_testing
from array_api_compat import array_namespace, device

from ._common import Array, describe, dtype_name, has_known_shape
from ._host_reads import paused

__all__ = ["assert_close", "assert_equal", "default_rtol"]


def _xpx(name: str, old_name: str) -> Callable[..., None]:
    # array-api-extra >= 0.9 has them public; 0.8 (the lowest allowed) only privately
    found = getattr(xpx_testing, name, None)
    if found is None:
        found = getattr(importlib.import_module("array_api_extra._lib._testing"), old_name)
    return found


_xpx_close = _xpx("assert_close", "xp_assert_close")
_xpx_equal = _xpx("assert_equal", "xp_assert_equal")


def _settled(helper: Callable[..., None]) -> dict[str, Any]:
    """What ``helper`` need not check again (done above, each with its own message): only the
    options this array-api-extra release has. A NumPy scalar still equals a 0-d array, since
    NumPy's reductions give scalars (also through array-api-compat)."""
    wanted = {"check_dtype": False, "check_device": False}  # shapes: a Dask array may not know its own
    return {k: v for k, v in wanted.items() if k in inspect.signature(helper).parameters}


_CLOSE_OPTIONS, _EQUAL_OPTIONS = _settled(_xpx_close), _settled(_xpx_equal)
#: array-api-extra >= 0.9 takes the namespace, found once here, instead of finding it again
_TAKES_XP = "xp" in inspect.signature(_xpx_close).parameters


def default_rtol(xp: Any, dtype: Any) -> float:
    """``4 * sqrt(eps)`` of a floating dtype (6e-8 for float64, 1.4e-3 for float32), else 1e-7.

    array-api-extra's default, halfway (on a log scale) between the ``sqrt(eps)`` a
    computation with rounding keeps and ``numpy.testing``'s 1e-7.

    Examples
    --------
    >>> import array_api_compat.numpy as xp
    >>> f"{default_rtol(xp, xp.float64):.1e}", f"{default_rtol(xp, xp.float32):.1e}"
    ('6.0e-08', '1.4e-03')
    """
    if xp.isdtype(dtype, ("real floating", "complex floating")):
        return float(xp.finfo(dtype).eps) ** 0.5 * 4
    return 1e-7


def _tolerance(caller: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):  # NumPy's scalars are Real
        raise TypeError(f"{caller}: {name} must be a real number >= 0; got {describe(value)}; "
                        f"pass e.g. {name}=1e-6")
    tolerance = float(value)
    if not (math.isfinite(tolerance) and tolerance >= 0):
        raise ValueError(f"{caller}: {name} must be a finite number >= 0; got {value!r}; "
                         f"pass e.g. {name}=1e-6")
    return tolerance


def _namespace(caller: str, name: str, x: Any) -> Any:
    try:
        return array_namespace(x)
    except TypeError:
        raise TypeError(
            f"{caller}: {name} must be an array of an array-API library; got {describe(x)}; "
            "make it with backend.asarray(values, dtype) on the test's backend"
        ) from None


def _check_alike(caller: str, actual: Array, desired: Array) -> Any:
    """Namespace, device, dtype and shape, in that order; the namespace."""
    __tracebackhide__ = True
    xp, desired_xp = _namespace(caller, "actual", actual), _namespace(caller, "desired", desired)
    how = "make desired with the test's backend: backend.asarray(values, dtype)"
    if xp is not desired_xp:
        raise AssertionError(f"{caller}: the arrays are of different libraries: actual is "
                             f"{xp.__name__}, desired is {desired_xp.__name__}; {how}")
    if device(actual) != device(desired):
        raise AssertionError(f"{caller}: the arrays are on different devices: actual is on "
                             f"{device(actual)}, desired on {device(desired)}; {how}")
    if actual.dtype != desired.dtype:
        raise AssertionError(f"{caller}: the dtypes differ: actual is {dtype_name(actual.dtype)}, "
                             f"desired {dtype_name(desired.dtype)}; {how}")
    # a Dask array of unknown shape (NaN rows) is left to the value comparison, which computes it
    if has_known_shape(actual) and has_known_shape(desired) and tuple(actual.shape) != tuple(desired.shape):
        raise AssertionError(f"{caller}: the shapes differ: actual has shape {tuple(actual.shape)}, "
                             f"desired {tuple(desired.shape)}")
    return xp


def _comparable(xp: Any, x: Array) -> Array:
    """``x`` as the host comparison can read it (its library and device are checked alike already).

    A torch tensor that requires grad, detached (torch refuses to copy it to NumPy otherwise).
    An array-api-strict array on its CPU device: array-api-strict 2.3's ``to_device`` fails
    under NumPy 1 (``np.asarray(copy=True)``), and array-api-extra 0.8 moves arrays that way;
    ``asarray(x, device=...)`` works on both.
    """
    if getattr(x, "requires_grad", False):
        return x.detach()
    if getattr(xp, "__name__", "") != "array_api_strict" or device(x) == xp.Device("CPU_DEVICE"):
        return x
    return xp.asarray(x, device=xp.Device("CPU_DEVICE"), copy=True)


def assert_close(actual: Array, desired: Array, *, rtol: float | None = None, atol: float = 0) -> None:
    """Assert that ``actual`` is ``desired`` up to ``atol + rtol * |desired|``, on the same terms.

    First the two must be arrays of the same library (namespace), on the same device, of
    the same dtype and shape, each checked in turn with its own message; then the values
    are compared (array-api-extra's ``assert_close``; NaNs in the same places are equal). A
    NumPy scalar equals a 0-d array (NumPy's reductions give scalars); a torch tensor that
    requires grad is compared detached.

    Parameters
    ----------
    actual : array
        The array the code under test gave.
    desired : array
        The expected values, made on the same backend (``backend.asarray(values, dtype)``).
    rtol : float, optional
        Relative tolerance; by default ``4 * sqrt(eps)`` of the dtype: 6e-8 for float64,
        1.4e-3 for float32 (:func:`default_rtol`).
    atol : float, default 0
        Absolute tolerance, for values that should be near zero.

    Raises
    ------
    AssertionError
        Naming the first property that differs, or the values that are not close.
    TypeError, ValueError
        If an argument is not an array, or a tolerance not a finite number >= 0.

    Examples
    --------
    >>> import array_api_strict as xp
    >>> assert_close(xp.asarray([1.0, 2.0]), xp.asarray([1.0, 2.0 + 1e-9]))
    >>> assert_close(xp.asarray([1.0, 2.0]), xp.asarray([1.0, 2.0], dtype=xp.float32))
    Traceback (most recent call last):
    AssertionError: assert_close: the dtypes differ: actual is float64, desired float32; ...
    """
    __tracebackhide__ = True
    rtol = None if rtol is None else _tolerance("assert_close", "rtol", rtol)
    atol = _tolerance("assert_close", "atol", atol)
    xp = _check_alike("assert_close", actual, desired)
    actual, desired = _comparable(xp, actual), _comparable(xp, desired)
    with paused():
        _xpx_close(actual, desired, rtol=default_rtol(xp, actual.dtype) if rtol is None else rtol, atol=atol,
                   **_CLOSE_OPTIONS, **({"xp": xp} if _TAKES_XP else {}))


def assert_equal(actual: Array, desired: Array) -> None:
    """Assert that ``actual`` equals ``desired`` exactly, on the same terms as :func:`assert_close`.

    Same library, device, dtype and shape, checked in turn, then every value equal (NaNs
    in the same places count as equal).

    Parameters
    ----------
    actual : array
        The array the code under test gave.
    desired : array
        The expected values, made on the same backend.

    Raises
    ------
    AssertionError
        Naming the first property that differs, or the values that differ.
    TypeError
        If an argument is not an array.

    Examples
    --------
    >>> import array_api_strict as xp
    >>> assert_equal(xp.asarray([1, 2]), xp.asarray([1, 2]))
    >>> assert_equal(xp.asarray([1, 2]), xp.asarray([1, 2, 3]))
    Traceback (most recent call last):
    AssertionError: assert_equal: the shapes differ: actual has shape (2,), desired (3,)
    """
    __tracebackhide__ = True
    xp = _check_alike("assert_equal", actual, desired)
    actual, desired = _comparable(xp, actual), _comparable(xp, desired)
    with paused():
        _xpx_equal(actual, desired, **_EQUAL_OPTIONS, **({"xp": xp} if _TAKES_XP else {}))
