"""Finite-difference gradient checks that run on any array-API library.

:func:`gradcheck` compares the gradient a function returns with centred finite
differences of its cost, every entry (``mode="full"``) or along a few random directions
(``mode="fast"``), names the wrong weight, and returns a :class:`GradcheckResult`.
:func:`gradcheck_naive` is the seed exercise's check, printed as the seed printed it.

Numeric derivatives are gathered on the device and compared there; the host reads a short
summary at a fixed number of points, so a check on a GPU makes the same number of
device-to-host transfers whatever the size of ``x``.
"""

from __future__ import annotations

import math
import numbers
import operator
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import array_api_extra as xpx
from array_api_compat import array_namespace, device, is_array_api_obj, is_dask_array, is_numpy_namespace

from ._common import Array, describe, dtype_name, has_known_shape, odd_array
from ._host import frozen_global_random_state, random_unit_directions
from .layout import ParamLayout, unravel_index

__all__ = [
    "GradcheckEntry",
    "GradcheckError",
    "GradcheckResult",
    "GradcheckWarning",
    "gradcheck",
    "gradcheck_naive",
]

Function = Callable[[Array], tuple[Array, Array]]
#: ``progress(done, total)``: called after each entry of a full check.
Progress = Callable[[int, int], object]

#: (machine epsilon at most, default eps, default tol); float64 keeps the seed's 1e-4 and 1e-5.
#: float32 takes a step near cbrt(machine epsilon), the optimum of centred differences; the
#: true gradient of the network then shows errors up to 6e-4, so tol is 1e-2.
_DTYPE_DEFAULTS = ((1e-15, 1e-4, 1e-5), (2.0**-23, 1e-2, 1e-2))
#: The coarsest machine epsilon gradcheck accepts, float32's. float16 (2**-10) and bfloat16
#: (2**-7) are refused: a cost near 100 is rounded to 0.06 in float16 (0.5 in bfloat16), so
#: a derivative from a difference of two costs is off by about 0.06 / (2 eps) for any step
#: eps, while a step large enough to shrink that has a truncation error as large. The seed's
#: network in float16 at eps = tol = 0.1: 54 of its 115 true gradient entries fail.
COARSEST_EPS = 2.0**-23

#: Default number of random directions in fast mode (see gradcheck's docstring for why).
DEFAULT_DIRECTIONS = 6


class GradcheckError(AssertionError):
    """Raised by ``gradcheck(..., raise_exception=True)`` on a failure; ``.result`` has the details."""

    def __init__(self, result: GradcheckResult):
        super().__init__(str(result))
        self.result = result


class GradcheckWarning(UserWarning):
    """A check in float32, where finite differences are coarse."""


@dataclass(frozen=True)
class GradcheckEntry:
    """One entry of ``x``: where it is, and both derivatives there.

    ``index`` is the multi-index in ``x``; ``name`` is e.g. ``'W2[1, 2]'`` with a layout,
    else ``'x[1, 0]'``. ``error`` is ``|numeric - analytic| / max(1, |numeric|, |analytic|)``.
    """

    index: tuple[int, ...]
    name: str
    analytic: float
    numeric: float
    error: float


@dataclass(frozen=True)
class GradcheckResult:
    """The outcome of :func:`gradcheck`; ``bool(result)`` is ``passed``, ``str(result)`` a report.

    Attributes
    ----------
    passed : bool
    mode : {"full", "fast"}
    max_error : float
        Largest error measure seen: over the entries (full) or the random directions (fast).
    worst : GradcheckEntry or None
        Full mode: the entry with the largest error. Fast mode: the entry a failure was narrowed
        down to (None when it passed, or when narrowing down would not be far cheaper than a
        full scan, or when the entry found does not fail on its own).
    first : GradcheckEntry or None
        Full mode only: the first failing entry in row-major order (what the seed printed).
    failing_blocks : tuple of str
        With a layout, the blocks found wrong: all of them in full mode; in fast mode those
        whose restriction of the worst direction fails.
    n_failing : int
        Failing entries (full) or failing random directions (fast).
    n_checked : int
        Entries (full) or random directions (fast) checked.
    n_evaluations : int
        Calls of ``f``, including ``n_localize``.
    n_localize : int
        Calls of ``f`` spent narrowing a fast-mode failure down (0 otherwise).
    seconds : float
        Wall time of the check.
    eps, tol : float
        Step and tolerance used.
    dtype : str
        The dtype of ``x``.
    """

    passed: bool
    mode: str
    max_error: float
    worst: GradcheckEntry | None
    first: GradcheckEntry | None
    failing_blocks: tuple[str, ...]
    n_failing: int
    n_checked: int
    n_evaluations: int
    n_localize: int
    seconds: float
    eps: float
    tol: float
    dtype: str

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        what = "entries" if self.mode == "full" else "random directions"
        head = (
            f"gradcheck {'passed' if self.passed else 'FAILED'} ({self.mode} mode, {self.dtype}, "
            f"{self.n_evaluations} calls of f, {self.seconds:.2f} s)"
        )
        lines = [head]
        if self.passed:
            lines.append(
                f"  largest error {self.max_error:.1e} <= tol {self.tol:.0e} over {self.n_checked} {what}"
            )
            return "\n".join(lines)
        lines.append(
            f"  {self.n_failing} of {self.n_checked} {what} disagree "
            f"(largest error {self.max_error:.1e} > tol {self.tol:.0e})"
        )
        if self.failing_blocks:
            lines.append(f"  wrong block(s): {', '.join(self.failing_blocks)}")
        if self.worst is not None:
            e = self.worst
            lines.append(
                f"  {'worst' if self.mode == 'full' else 'a wrong'} entry {e.name}: your gradient "
                f"{e.analytic:.6g}, numerical gradient {e.numeric:.6g} (error {e.error:.1e})"
            )
        elif self.mode == "fast":
            lines.append("  run mode='full' to name the wrong entries")
        if self.n_localize:
            lines.append(
                f"  (found in {self.n_evaluations - self.n_localize} calls of f, "
                f"narrowed down in {self.n_localize} more)"
            )
        return "\n".join(lines)


def gradcheck(
    f: Function,
    x: Array,
    *,
    mode: Literal["full", "fast"] = "full",
    eps: float | None = None,
    tol: float | None = None,
    n_directions: int = DEFAULT_DIRECTIONS,
    seed: int = 0,
    layout: ParamLayout | None = None,
    raise_exception: bool = False,
    progress: bool | Progress = False,
) -> GradcheckResult:
    """Check the gradient ``f`` returns against centred finite differences of its cost.

    Parameters
    ----------
    f : callable
        ``f(x) -> (cost, grad)``: a scalar cost (0-d array, Python or NumPy scalar) and its
        gradient, an array of ``x``'s shape.
    x : array
        Where to check: a float64 or float32 array of any array-API library (NumPy, CuPy,
        torch, JAX, array-api-strict, Dask). Never modified: ``f`` gets copies. ``f`` must
        return its cost in ``x``'s precision or finer, and its gradient in float32 or finer:
        a cost rounded more coarsely than ``x`` would make a true gradient fail.
    mode : {"full", "fast"}
        ``"full"``: every entry ``i``, ``numeric = (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)``,
        ``2 x.size + 1`` calls of ``f``. ``"fast"``: ``n_directions`` random unit directions
        ``u``, comparing ``(f(x + eps u) - f(x - eps u)) / (2 eps)`` with ``<grad, u>``,
        ``2 n_directions + 1`` calls whatever the size of ``x``.
    eps, tol : float, optional
        Step and tolerance; each check fails when
        ``|numeric - analytic| / max(1, |numeric|, |analytic|) > tol``. Defaults by dtype:
        float64 ``1e-4`` and ``1e-5`` (the seed's), float32 ``1e-2`` and ``1e-2``; checking
        in float32 warns (:class:`GradcheckWarning`). float16 and bfloat16 are refused
        (``TypeError``): their rounding swamps any finite difference, so a true gradient
        would fail.
    n_directions : int
        ``k``, the random directions of fast mode. The default 6: a wrong gradient ``g + e``
        escapes one direction ``u`` only if ``<e, u>``, about Gaussian with standard deviation
        ``|e| / sqrt(n)``, falls below the tolerance. Of the planted bugs
        (:mod:`mlp_xp.planted`) the hardest, one ``W2`` entry 2% off in the 784 x 128 x 10
        network (n = 101,770), escapes one direction with chance 0.097 (measured over 1,000
        directions); every other escapes under 0.01 (most never). Six independent directions
        all miss it with chance ``0.097**6 < 1e-6``, for 13 calls of ``f``. An error in one
        entry that is small against ``tol * sqrt(n)`` (``1e-3`` in one ``b1`` entry there) is
        full mode's job.
    seed : int
        Seeds the NumPy generator the directions are drawn from (the caller's random state is
        untouched).
    layout : ParamLayout, optional
        Names the entries of the flat ``x`` (see :func:`mlp_xp.param_layout`): a failure then
        reads ``W2[1, 2]`` and lists the wrong blocks; without it, the multi-index in ``x``.
    raise_exception : bool
        Raise :class:`GradcheckError` (carrying the report) instead of returning a failure.
    progress : bool or callable
        Over the entries of a full check (fast mode is over in a few dozen calls and reports
        none): ``True`` prints ``gradcheck: done/total`` on stderr; a callable is called as
        ``progress(done, total)`` after each entry, to drive a progress bar of your own
        (``tqdm``'s ``update``, ``click.progressbar``'s).

    Returns
    -------
    GradcheckResult

    Notes
    -----
    A fast-mode failure is narrowed down without a full scan: the worst direction is restricted
    to each block of the layout (two calls per block); then, in the block that fails most, the
    direction is restricted to one half, the error of the other half following by linearity,
    and the search goes on in the half that carries more of the error (two calls per halving);
    the entry reached is checked on its own (two calls). That is about ``2 log2(size)`` calls
    instead of ``2 size``, and is only done where it costs under a quarter of a full scan.
    The halving is decided on the device (``xp.where``), so it needs no transfer either.

    Python's and NumPy's global random state are restored before every call of ``f``, so a
    cost that samples (dropout, negative sampling) sees the same draws each time.

    On Dask the numeric derivatives stay lazy and are computed once, when the summary is read
    (intermediate results are persisted); ``f`` is still called once per perturbation, each
    call adding to the graph, so full mode suits small ``x`` only there.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.asarray([1.0, -2.0, 0.5])
    >>> bool(gradcheck(lambda x: (np.sum(x**2), 2 * x), x))
    True
    >>> wrong = lambda x: (np.sum(x**2), 2 * x + np.asarray([0.0, 0.1, 0.0]))
    >>> print(gradcheck(wrong, x).worst.name)
    x[1]
    """
    start = time.perf_counter()
    xp, dtype = _check_x(x)
    _check_arguments(f, mode, eps, tol, n_directions, seed, layout, raise_exception, progress)
    n_directions = operator.index(n_directions)  # a NumPy integer as a Python int
    eps, tol = _defaults(xp, x, eps, tol)
    n = math.prod(x.shape)
    if layout is not None and layout.size != n:
        raise ValueError(
            f"gradcheck: layout describes {layout.size} parameters ({layout}) but x has {n} entries; "
            "pass the layout of x's dimensions, e.g. param_layout(dims)"
        )
    with frozen_global_random_state() as restore:
        ctx = _Context(f, x, xp, eps, layout, restore)
        run = _full if mode == "full" else _fast
        fields = run(ctx, tol=tol, k=n_directions, seed=seed, progress=progress)
    result = GradcheckResult(
        mode=mode, n_evaluations=ctx.calls, seconds=time.perf_counter() - start,
        eps=eps, tol=tol, dtype=dtype, **fields,
    )
    if raise_exception and not result.passed:
        raise GradcheckError(result)
    return result


def gradcheck_naive(f: Function, x: Array) -> bool:
    """The seed's gradient check: :func:`gradcheck` in full mode, printed as the seed printed.

    ``f(x)`` returns ``(cost, grad)``. Entry ``i`` fails when
    ``|numeric - analytic| / max(1, |numeric|, |analytic|) > 1e-5`` with ``h = 1e-4``, in every
    dtype, as in the seed. Prints ``Gradient check passed!`` or the first failing index with
    both values, and returns the verdict. ``x`` is never modified.

    Examples
    --------
    >>> import numpy as np
    >>> gradcheck_naive(lambda x: ((x**2).sum(), 2 * x), np.asarray([1.0, -2.0]))
    Gradient check passed!
    True
    """
    try:
        result = gradcheck(f, x, mode="full", eps=1e-4, tol=1e-5)
    except (TypeError, ValueError) as error:
        # gradcheck's own errors, under the name the user called
        if type(error) in (TypeError, ValueError) and str(error).startswith("gradcheck:"):
            raise type(error)("gradcheck_naive:" + str(error)[len("gradcheck:"):]) from None
        raise
    if result.passed:
        print("Gradient check passed!")
        return True
    e = result.first
    assert e is not None  # a failed check always has a first failing entry
    print("Gradient check failed.")
    print(f"First gradient error found at index {e.index}")
    print(f"Your gradient: {e.analytic:f} \t Numerical gradient: {e.numeric:f}")
    return False


# --- validation and defaults -------------------------------------------------------------


def _is_real_floating(xp: Any, dtype: Any) -> bool:
    try:
        return bool(xp.isdtype(dtype, "real floating"))
    except TypeError:  # a dtype the namespace does not know: ml_dtypes' bfloat16 in NumPy
        return False


def _finer_than(xp: Any, dtype: Any, machine_eps: float) -> bool:
    """Whether ``dtype`` rounds no more coarsely than ``machine_eps`` (a real floating dtype)."""
    return float(xp.finfo(dtype).eps) <= machine_eps


def _check_x(x: Any) -> tuple[Any, str]:
    if (odd := odd_array(x)) is not None:
        raise TypeError(f"gradcheck: x must be a plain array, not {odd}")
    if not is_array_api_obj(x):
        raise TypeError(
            f"gradcheck: x must be an array of an array-API library (NumPy, CuPy, torch, JAX, ...); "
            f"got {describe(x)}"
        )
    xp = array_namespace(x)
    if not _is_real_floating(xp, x.dtype):
        try:
            why = "finite differences need a real, continuous x" if xp.isdtype(
                x.dtype, ("integral", "bool", "complex floating")) else ""
        except TypeError:
            why = ""
        raise TypeError(
            f"gradcheck: x must have a real floating dtype (float64 is best); got {dtype_name(x.dtype)}"
            + (f": {why}" if why else f", which {xp.__name__} does not know; convert it, e.g. "
               "xp.astype(x, xp.float64)")
        )
    if float(xp.finfo(x.dtype).eps) > COARSEST_EPS:
        raise TypeError(
            f"gradcheck: x must be float64 or float32, got {dtype_name(x.dtype)}, whose rounding "
            f"swamps any finite difference (a true gradient would fail); check in float64: "
            f"xp.astype(x, xp.float64), with f computing in x's dtype"
        )
    if not has_known_shape(x):
        raise ValueError(
            f"gradcheck: x must have a known shape; got {tuple(x.shape)} (for a Dask array, say after "
            "boolean indexing, call x.compute_chunk_sizes() first)"
        )
    return xp, dtype_name(x.dtype)


#: The most random directions fast mode takes: the directions are drawn as one float64 host
#: array of n_directions x size entries (1024 directions of a million entries: 8 GiB).
MAX_DIRECTIONS = 1024


def _is_int(v: Any) -> bool:
    try:
        operator.index(v)
    except TypeError:
        return False
    return not isinstance(v, bool)


def _check_step(name: str, v: Any) -> None:
    """``eps`` and ``tol``: None (the dtype's default), or a finite real number > 0."""
    if v is None:
        return
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"gradcheck: {name} must be a real number > 0 or None (the dtype's default); "
                        f"got {describe(v)}")
    try:
        finite = math.isfinite(v)
    except OverflowError:  # an int beyond float's range
        finite = False
    if not (finite and float(v) > 0):
        raise ValueError(f"gradcheck: {name} must be finite and > 0, or None for the dtype's default; "
                         f"got {v!r}")


def _check_arguments(f: Any, mode: Any, eps: Any, tol: Any, n_directions: Any, seed: Any, layout: Any,
                     raise_exception: Any, progress: Any) -> None:
    """Every argument of :func:`gradcheck` but ``x``, before ``f`` is ever called."""
    if not callable(f):
        raise TypeError(f"gradcheck: f must be a function f(x) -> (cost, grad); got {describe(f)}")
    if not isinstance(mode, str):
        raise TypeError(f"gradcheck: mode must be 'full' or 'fast'; got {describe(mode)}")
    if mode not in ("full", "fast"):
        raise ValueError(f"gradcheck: mode must be 'full' or 'fast'; got {mode[:40]!r}")
    _check_step("eps", eps)
    _check_step("tol", tol)
    if not _is_int(n_directions) or not 1 <= operator.index(n_directions) <= MAX_DIRECTIONS:
        shown = n_directions if _is_int(n_directions) else describe(n_directions)
        raise ValueError(f"gradcheck: n_directions must be a positive int of at most {MAX_DIRECTIONS}; "
                         f"got {shown}")
    if not _is_int(seed) or operator.index(seed) < 0:
        raise ValueError(f"gradcheck: seed must be an int >= 0 (it seeds numpy.random.default_rng); "
                         f"got {seed if _is_int(seed) else describe(seed)}")
    if layout is not None and not isinstance(layout, ParamLayout):
        raise TypeError(f"gradcheck: layout must be a ParamLayout (from param_layout(dims)) or None; "
                        f"got {describe(layout)}")
    if not isinstance(raise_exception, bool):
        raise TypeError(f"gradcheck: raise_exception must be True or False; got {describe(raise_exception)}")
    if not (isinstance(progress, bool) or callable(progress)):
        raise TypeError(f"gradcheck: progress must be True, False or a function progress(done, total); "
                        f"got {describe(progress)}")


def _defaults(xp: Any, x: Any, eps: float | None, tol: float | None) -> tuple[float, float]:
    machine_eps = float(xp.finfo(x.dtype).eps)  # float64 or float32: _check_x refused coarser
    eps0, tol0 = next((e, t) for bound, e, t in _DTYPE_DEFAULTS if machine_eps <= bound)
    if machine_eps > 1e-15:
        low = f"; tol={tol:g} is below that: expect false failures" if tol is not None and tol < tol0 else ""
        warnings.warn(
            f"gradcheck in {x.dtype}: finite differences in this precision carry errors near "
            f"{tol0:g}{low}; check in float64 where you can",
            GradcheckWarning,
            stacklevel=3,
        )
    return (eps0 if eps is None else float(eps)), (tol0 if tol is None else float(tol))


# --- calling f ---------------------------------------------------------------------------


class _Context:
    """``f``, ``x`` and what every check needs: counted, validated calls of ``f`` on copies."""

    def __init__(self, f: Function, x: Any, xp: Any, eps: float, layout: Any, restore: Any):
        self.f, self.x, self.xp, self.eps, self.layout, self.restore = f, x, xp, eps, layout, restore
        self.shape = tuple(x.shape)
        self.n = math.prod(self.shape)
        self.device = device(x)
        # the library's own integer and float types: JAX without x64 has no int64 / float64
        defaults = xp.__array_namespace_info__().default_dtypes(device=self.device)
        floats = xp.__array_namespace_info__().dtypes(device=self.device, kind="real floating")
        # values and indices are read back in float64 where the library has it (torch's default
        # float32 would round indices above 2**24 and every reported value)
        self.index_dtype = defaults["indexing"]
        self.real_dtype = floats.get("float64", defaults["real floating"])
        self.machine_eps = float(xp.finfo(x.dtype).eps)
        self.calls = 0
        # f gets a copy even here, so an f that writes into its argument cannot touch x
        cost, grad = self._call(xp.asarray(x, copy=True))
        self.cost0 = cost
        # a copy: an f that reuses its gradient buffer (torch's .grad) must not change it later
        self.grad = _persist(xp.reshape(xp.asarray(self._grad(grad), copy=True), (-1,)))

    def _call(self, y: Any) -> tuple[Any, Any]:
        self.restore()
        self.calls += 1
        out = self.f(y)
        if not (isinstance(out, tuple | list) and len(out) == 2):
            raise ValueError(f"gradcheck: f(x) must return a pair (cost, grad); got {describe(out)}")
        return self._cost(out[0]), out[1]

    def cost(self, y: Any) -> Any:
        """The cost at ``y`` as a 0-d array of ``x``'s namespace."""
        return self._call(y)[0]

    def _cost(self, cost: Any) -> Any:
        xp = self.xp
        if is_array_api_obj(cost):
            if tuple(cost.shape) != ():
                raise ValueError(f"gradcheck: f(x) must return a scalar cost; got an array of shape "
                                 f"{tuple(cost.shape)} ({describe(cost)})")
            cost_xp = array_namespace(cost)
            if not _is_real_floating(cost_xp, cost.dtype):
                raise ValueError(f"gradcheck: f(x) must return a real floating cost; got {describe(cost)}")
            if not _finer_than(cost_xp, cost.dtype, self.machine_eps):
                raise ValueError(
                    f"gradcheck: f(x) must return its cost in x's precision ({dtype_name(self.x.dtype)}) or "
                    f"finer; got {describe(cost)}: differences of a cost rounded more coarsely would make "
                    "a true gradient fail"
                )
            if array_namespace(cost) is xp:
                return xp.asarray(cost, copy=True)  # f may reuse its buffer on the next call
            if not is_numpy_namespace(array_namespace(cost)):
                raise ValueError(f"gradcheck: f(x) must return its cost in x's library ({xp.__name__}) or "
                                 f"as a Python or NumPy scalar; got one of {array_namespace(cost).__name__}")
        elif isinstance(cost, bool) or not isinstance(cost, numbers.Real):
            raise ValueError(f"gradcheck: f(x) must return a real scalar cost; got {describe(cost)}")
        # a Python or host NumPy scalar: already on the host, so float() moves nothing
        return xp.asarray(float(cost), dtype=self.x.dtype, device=self.device)

    def _grad(self, grad: Any) -> Any:
        xp = self.xp
        if not is_array_api_obj(grad) and not is_numpy_namespace(xp):
            raise ValueError(f"gradcheck: f(x) must return grad as an array of x's library "
                             f"({xp.__name__}); got {describe(grad)}")
        if is_array_api_obj(grad) and array_namespace(grad) is not xp:
            raise ValueError(f"gradcheck: f(x) must return grad as an array of x's library "
                             f"({xp.__name__}); got one of {array_namespace(grad).__name__}: move it "
                             "with that library's asarray, or compute it from x")
        if not is_array_api_obj(grad):  # a SciPy-style function's list, for NumPy's x
            if grad is None or isinstance(grad, str | bytes | dict):
                raise ValueError(f"gradcheck: f(x) must return grad as an array like x; got {describe(grad)}")
            try:
                grad = xp.asarray(grad)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"gradcheck: f(x) must return grad as an array like x; "
                                 f"got {describe(grad)}") from exc
        try:
            real = xp.isdtype(grad.dtype, ("real floating", "signed integer", "unsigned integer"))
        except TypeError:  # a dtype the namespace does not know: ml_dtypes' bfloat16 in NumPy
            real = False
        if not real:
            raise ValueError(f"gradcheck: f(x) must return a real gradient; got {describe(grad)} "
                             "(a complex or boolean gradient is never cast to real)")
        if xp.isdtype(grad.dtype, "real floating") and not _finer_than(xp, grad.dtype, COARSEST_EPS):
            raise ValueError(f"gradcheck: f(x) must return grad in float32 or finer; got {describe(grad)}, "
                             "whose rounding alone would fail the check")
        if tuple(grad.shape) != self.shape:
            raise ValueError(
                f"gradcheck: f(x) returned grad of shape {tuple(grad.shape)}, but x has shape {self.shape}"
            )
        return grad if grad.dtype == self.x.dtype else xp.astype(grad, self.x.dtype)

    def directional(self, u: Any) -> tuple[Any, Any]:
        """Numeric and analytic derivatives along the flat direction ``u`` (2 calls of f)."""
        xp = self.xp
        step = self.eps * xp.reshape(u, self.shape)
        numeric = (self.cost(self.x + step) - self.cost(self.x - step)) / (2 * self.eps)
        # where, not just a product: a NaN of grad outside u's support must not leak in
        return numeric, xp.sum(xp.where(u == 0, xp.zeros_like(u), self.grad * u))

    def name(self, flat: int) -> tuple[tuple[int, ...], str]:
        index = unravel_index(flat, self.shape)
        if self.layout is not None:
            return index, self.layout.entry_name(flat)
        return index, f"x[{', '.join(map(str, index))}]" if index else "x"

    def entry(self, flat: float, analytic: float, numeric: float, error: float) -> GradcheckEntry:
        index, name = self.name(int(flat))
        return GradcheckEntry(index, name, analytic, numeric, error)

    def blocks(self) -> list[tuple[str, int, int]]:
        """``(name, start, stop)`` of each block; one unnamed block without a layout."""
        if self.layout is None:
            return [("", 0, self.n)]
        return [(b.name, b.offset, b.stop) for b in self.layout]


# --- the two modes -----------------------------------------------------------------------


def _full(ctx: _Context, *, tol: float, progress: bool | Progress, **_: Any) -> dict[str, Any]:
    xp, x, h = ctx.xp, ctx.x, ctx.eps
    diffs = []
    report = _stderr_progress if progress is True else progress or None
    for k in range(ctx.n):
        ix = unravel_index(k, ctx.shape)
        f_plus = ctx.cost(xpx.at(x, ix).add(h, copy=True))
        f_minus = ctx.cost(xpx.at(x, ix).add(-h, copy=True))
        diffs.append(f_plus - f_minus)
        if report is not None:
            report(k + 1, ctx.n)
    if not diffs:
        return _passed(0.0, 0)
    numeric = xp.astype(xp.stack(diffs), x.dtype) / (2 * h)
    error = _error(xp, numeric, ctx.grad)
    bad = error > tol
    worst, first = xp.argmax(error), xp.argmax(xp.astype(bad, xp.int8))
    per_block = [xp.sum(xp.astype(bad[a:b], ctx.index_dtype)) for _, a, b in ctx.blocks()]
    pick = [_take(xp, v, i) for i in (worst, first) for v in (ctx.grad, numeric, error)]
    values = _fetch(ctx, [worst, first, *pick, *per_block])
    i_worst, i_first, values = values[0], values[1], values[2:]
    counts = [int(c) for c in values[6:]]
    worst_entry = ctx.entry(i_worst, *values[0:3])
    if sum(counts) == 0:
        return {**_passed(worst_entry.error, ctx.n), "worst": worst_entry}
    return {
        "passed": False,
        "max_error": worst_entry.error,
        "worst": worst_entry,
        "first": ctx.entry(i_first, *values[3:6]),
        "failing_blocks": _named(ctx, [c > 0 for c in counts]),
        "n_failing": sum(counts),
        "n_checked": ctx.n,
        "n_localize": 0,
    }


def _fast(ctx: _Context, *, tol: float, k: int, seed: int, **_: Any) -> dict[str, Any]:
    xp = ctx.xp
    if ctx.n == 0:
        return _passed(0.0, 0)
    U = xp.asarray(random_unit_directions(k, ctx.n, seed), dtype=ctx.x.dtype, device=ctx.device)
    numeric, analytic = zip(*(ctx.directional(U[j, :]) for j in range(k)), strict=True)
    numeric, analytic = _persist(xp.stack(numeric)), xp.stack(analytic)
    error = _error(xp, numeric, analytic)
    j = xp.argmax(error)
    n_failing = xp.sum(xp.astype(error > tol, ctx.index_dtype))
    max_error, j_host, n_failing = _fetch(ctx, [_take(xp, error, j), j, n_failing])
    if n_failing == 0:
        return _passed(max_error, k)
    calls_before = ctx.calls
    u = U[int(j_host), :]
    d = _take(xp, numeric, j) - _take(xp, analytic, j)  # the error along u
    failing, start, stop, d = _worst_block(ctx, u, d, tol)
    worst = _bisect(ctx, u, d, start, stop, tol)
    return {
        "passed": False,
        "max_error": max_error,
        "worst": worst,
        "first": None,
        "failing_blocks": failing,
        "n_failing": int(n_failing),
        "n_checked": k,
        "n_localize": ctx.calls - calls_before,
    }


def _worst_block(ctx: _Context, u: Any, d: Any, tol: float) -> tuple[tuple[str, ...], int, int, Any]:
    """Restrict ``u`` to each block; return the failing blocks, the worst one's span and error."""
    blocks = ctx.blocks()
    if len(blocks) == 1:
        return (), 0, ctx.n, d
    xp = ctx.xp
    idx = xp.arange(ctx.n, dtype=ctx.index_dtype, device=ctx.device)
    errors, diffs = [], []
    for _, a, b in blocks:
        v = xp.where((idx >= a) & (idx < b), u, xp.zeros_like(u))
        norm = xp.sqrt(xp.sum(v * v))
        numeric, analytic = ctx.directional(v / norm)
        errors.append(_error(xp, numeric, analytic))
        diffs.append((numeric - analytic) * norm)  # the error along v, for bisection
    diffs = _persist(xp.stack(diffs))
    errors = _fetch(ctx, errors)
    worst = max(range(len(blocks)), key=errors.__getitem__)
    _, a, b = blocks[worst]
    return _named(ctx, [e > tol for e in errors]), a, b, diffs[worst]


def _bisect(ctx: _Context, u: Any, d: Any, start: int, stop: int, tol: float) -> GradcheckEntry | None:
    """Halve ``[start, stop)`` towards the entry carrying the error ``d`` along ``u``; check it alone.

    Each halving measures the error along ``u`` restricted to the left half (2 calls of f);
    the right half's is ``d`` minus it, by linearity. The choice is made on the device.
    """
    levels = max(0, math.ceil(math.log2(stop - start)))
    if 2 * levels + 2 > 2 * ctx.n / 4:  # not far below a full scan: stop at the block
        return None
    xp = ctx.xp
    idx = xp.arange(ctx.n, dtype=ctx.index_dtype, device=ctx.device)
    lo = xp.asarray(start, dtype=ctx.index_dtype, device=ctx.device)
    hi = xp.asarray(stop, dtype=ctx.index_dtype, device=ctx.device)
    zero = xp.zeros_like(u)
    for _ in range(levels):
        mid = (lo + hi) // 2
        v = xp.where((idx >= lo) & (idx < mid), u, zero)
        norm = xp.sqrt(xp.sum(v * v))
        numeric, analytic = ctx.directional(v / xp.where(norm > 0, norm, xp.ones_like(norm)))
        d_left = (numeric - analytic) * norm
        d_right = d - d_left
        # a NaN error (NaN or inf in f's output) is followed like the largest one
        left = (mid > lo) & (~xp.isfinite(d_left) | (xp.abs(d_left) >= xp.abs(d_right)))
        lo, hi, d = xp.where(left, lo, mid), xp.where(left, mid, hi), xp.where(left, d_left, d_right)
    e = xp.astype(idx == lo, ctx.x.dtype)
    numeric, analytic = ctx.directional(e)
    flat, analytic, numeric, error = _fetch(ctx, [lo, analytic, numeric, _error(xp, numeric, analytic)])
    return ctx.entry(flat, analytic, numeric, error) if error > tol else None


# --- small helpers -----------------------------------------------------------------------


def _error(xp: Any, numeric: Any, analytic: Any) -> Any:
    """The seed's error measure ``|numeric - analytic| / max(1, |numeric|, |analytic|)``.

    NaN (from a NaN or infinite cost or gradient) becomes ``inf``: a comparison with NaN is
    false, and a check must not pass because nothing could be compared.
    """
    scale = xp.maximum(xp.maximum(xp.abs(numeric), xp.abs(analytic)), xp.ones_like(analytic))
    error = xp.abs(numeric - analytic) / scale
    return xp.where(xp.isnan(error), xp.full_like(error, math.inf), error)


def _take(xp: Any, v: Any, i: Any) -> Any:
    """``v[i]`` for a 0-d integer array ``i`` on the device, as a 0-d array."""
    return xp.reshape(xp.take(v, xp.reshape(i, (1,))), ())


def _fetch(ctx: _Context, values: list[Any]) -> list[float]:
    """The one place data leaves the device: 0-d arrays, stacked, read as Python floats.

    Integer indices ride along in float64 where the library has it: exactly below 2**53
    (2**24 where it has only float32, as JAX without x64). A Dask stack is
    computed once here rather than once per value.
    """
    xp = ctx.xp
    stacked = xp.stack([xp.astype(xp.asarray(v), ctx.real_dtype) for v in values])
    if is_dask_array(stacked):
        stacked = stacked.compute()
    # one copy to the host where the library offers it (NumPy, CuPy, torch, JAX), rather
    # than a transfer and a device sync per value
    tolist = getattr(stacked, "tolist", None)
    if tolist is not None:
        return [float(v) for v in tolist()]
    return [float(stacked[i]) for i in range(len(values))]


def _persist(a: Any) -> Any:
    """Keep a lazy (Dask) intermediate computed once, however many later results use it."""
    return a.persist() if is_dask_array(a) else a


def _passed(max_error: float, n_checked: int) -> dict[str, Any]:
    return {
        "passed": True, "max_error": max_error, "worst": None, "first": None, "failing_blocks": (),
        "n_failing": 0, "n_checked": n_checked, "n_localize": 0,
    }


def _named(ctx: _Context, flags: list[bool]) -> tuple[str, ...]:
    return tuple(name for (name, _, _), bad in zip(ctx.blocks(), flags, strict=True) if bad and name)


def _stderr_progress(done: int, total: int) -> None:
    """``gradcheck: done/total`` on one line of stderr, about a hundred updates in all."""
    if done == total or done % max(1, total // 100) == 0:
        print(f"\rgradcheck: {done}/{total}", end="\n" if done == total else "", file=sys.stderr, flush=True)
