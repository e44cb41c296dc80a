"""pytest plugin: every test of array code, on every backend, device and dtype.

Load it with ``pytest_plugins = ["mlp_xp.testing"]`` in a root ``conftest.py``. Then::

    def test_sum(xp, backend):
        x = backend.asarray([1.0, 2.0], dtype="float64")
        assert_close(xp.sum(x), backend.asarray(3.0, "float64"))

runs once per backend and device, with ids ``numpy``, ``array_api_strict``,
``array_api_strict:device1``, ``torch``, ``jax``, ``dask``, ``cupy``, ... Choose the set
with ``pytest --backend NAME`` (repeatable) or ``MLP_XP_BACKENDS=numpy,cupy``. A backend
that is *named* but unavailable is a usage error, not a skip, so a GPU job that lost CuPy
fails loudly. Without a selection, unavailable backends show as skipped with the reason.

Fixtures: ``backend``, ``xp`` (with array-api-extra's lazy-function patching), ``dtype``.
Markers: ``skip_backends``, ``xfail_backends``, ``max_host_reads`` and ``array_backend``
(set by the plugin). Assertions: :func:`assert_close`, :func:`assert_equal`; counting:
:func:`count_host_reads`. How to use each: the docs' page on the plugin.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Generator, Iterator
from functools import cache
from typing import Any

import pytest
from array_api_extra.testing import patch_lazy_xp_functions

from ._assertions import assert_close, assert_equal, default_rtol
from ._common import describe
from ._devices import on_devices
from ._host_reads import HostReads, count_host_reads
from .backends import BACKEND_NAMES, Backend, BackendUnavailable, _load, get_backend, known_backends

__all__ = [
    "CATEGORIES",
    "DTYPES",
    "ENV_VAR",
    "MARKERS",
    "HostReads",
    "assert_close",
    "assert_equal",
    "backend",
    "backend_params",
    "count_host_reads",
    "default_rtol",
    "dtype",
    "pytest_addoption",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_generate_tests",
    "pytest_report_header",
    "pytest_runtest_call",
    "reads_are_counted",
    "xp",
]

ENV_VAR = "MLP_XP_BACKENDS"

#: The real floating dtypes of the ``dtype`` fixture, by name.
DTYPES = ("float32", "float64")

#: Names that ``skip_backends`` and ``xfail_backends`` accept besides backend names.
CATEGORIES = {
    "gpu": "backends on a GPU (cupy, torch-cuda, jax-gpu)",
    "cpu": "backends on the CPU",
    "lazy": "JAX and Dask, whose arrays are computed later (jit, graphs)",
    "no_float64": "backends whose device has no float64 (Backend.supports_float64 is false)",
}

#: The plugin's markers and what each means (registered, so --strict-markers accepts them).
MARKERS = {
    "skip_backends": "skip_backends(*names, reason): skip the test on these backends or categories "
                     f"({', '.join(CATEGORIES)})",
    "xfail_backends": "xfail_backends(*names, reason, strict=None): expect the test to fail on these "
                      "backends or categories; it still runs, and strict=True fails an XPASS",
    "max_host_reads": "max_host_reads(n): fail if the test body reads data back from the device "
                      "more than n times",
    "array_backend": "array_backend: set by mlp_xp.testing on every test parametrized by backend "
                     "(select them with -m array_backend)",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend",
        action="append",
        default=[],
        metavar="NAME",
        help=f"run array tests on this backend only (repeatable; also ${ENV_VAR}=a,b). "
        f"Known: {', '.join(BACKEND_NAMES)}.",
    )


def _requested(config: pytest.Config) -> list[str]:
    names = list(config.getoption("--backend"))
    if not names and os.environ.get(ENV_VAR, "").strip():
        names = [n.strip() for n in os.environ[ENV_VAR].split(",") if n.strip()]
    return names


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", text if text.startswith(name) else f"{name}: {text}")
    for name in _requested(config):
        try:
            get_backend(name)
        except (ValueError, BackendUnavailable) as exc:
            raise pytest.UsageError(f"--backend {name}: {exc}") from None


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = []
    for name in _requested(config) or BACKEND_NAMES:  # load only the backends that will run
        try:
            b: Backend | BackendUnavailable = get_backend(name)
        except BackendUnavailable as exc:
            b = exc
        if isinstance(b, Backend):
            devices = on_devices(name)
            more = f" (and {', '.join(label for label, _ in devices[1:])})" if len(devices) > 1 else ""
            state = f"{b.version} on {b.device_name}{more}"
        else:
            state = b.reason
        lines.append(f"mlp_xp backend {name}: {state}")
    return lines


def backend_params(requested: list[str] | None = None) -> list[Any]:
    """``pytest.param`` for each backend and device: the requested backends, else all known.

    A backend with more than one device gets one parameter per device, with ids like
    ``array_api_strict:device1`` or ``cupy:1``. Without ``requested``, the backends that
    cannot run here are parameters marked skipped, with the reason.

    Parameters
    ----------
    requested : list of str, optional
        Backend names, as ``--backend`` takes them; by default every known backend.

    Returns
    -------
    list of pytest.param
        For ``metafunc.parametrize("backend", params, indirect=True)``.

    Examples
    --------
    >>> [p.id for p in backend_params(["numpy", "array_api_strict"])]
    ['numpy', 'array_api_strict', 'array_api_strict:device1']
    """
    if requested is not None and (not isinstance(requested, list)
                                  or not all(isinstance(n, str) for n in requested)):
        raise TypeError(f"backend_params: requested must be a list of backend names; "
                        f"got {describe(requested)}; pass e.g. ['numpy', 'torch'] "
                        f"(known: {', '.join(BACKEND_NAMES)})")
    for name in requested or ():
        if name not in BACKEND_NAMES:
            raise ValueError(f"backend_params: unknown backend {name!r} in requested; "
                             f"known backends: {', '.join(BACKEND_NAMES)}")
    params = []
    # only the requested backends are loaded: importing a library has effects (JAX's imports
    # replace importlib's metadata finder, which an in-process pytester run then loses)
    found = {name: _load(name) for name in requested} if requested else known_backends()
    for name, b in found.items():
        if isinstance(b, BackendUnavailable):
            params.append(pytest.param(name, id=name, marks=pytest.mark.skip(reason=b.reason)))
            continue
        for label, _ in on_devices(name):
            ident = f"{name}:{label}" if label else name
            params.append(pytest.param(ident, id=ident))
    return params


def _parametrized_by_user(metafunc: pytest.Metafunc, argname: str) -> bool:
    for marker in metafunc.definition.iter_markers("parametrize"):
        names = marker.args[0] if marker.args else marker.kwargs.get("argnames", ())
        names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
        if argname in names:
            return True
    return False


def _ours(metafunc: pytest.Metafunc, argname: str) -> bool:
    """Whether ``argname`` is this plugin's fixture there (not overridden, not parametrized)."""
    if argname not in metafunc.fixturenames or _parametrized_by_user(metafunc, argname):
        return False
    defs = getattr(metafunc, "_arg2fixturedefs", {}).get(argname)  # the closest definition last
    return not defs or getattr(defs[-1].func, "__module__", __name__) == __name__


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if _ours(metafunc, "backend"):
        metafunc.parametrize("backend", backend_params(_requested(metafunc.config) or None), indirect=True)
    if _ours(metafunc, "dtype"):
        metafunc.parametrize("dtype", [pytest.param(n, id=n) for n in DTYPES], indirect=True)


@cache
def _backend_on(ident: str) -> Backend:
    name, _, label = ident.partition(":")
    return dict(on_devices(name))[label]


def _matches(ident: str, name: str) -> bool:
    """Whether the backend of parameter ``ident`` is the backend or in the category ``name``."""
    b = _backend_on(ident)
    if name in ("gpu", "cpu"):
        return b.is_accelerator == (name == "gpu")
    if name == "lazy":
        return b.library in ("jax", "dask")
    if name == "no_float64":
        return not b.supports_float64
    return b.name == name


# --- markers: checked before any test runs, applied by the backend fixture ----------------


def _marker_error(marker: pytest.Mark) -> str | None:
    """What is wrong with one of the plugin's markers, or None."""
    known = f"backend names ({', '.join(BACKEND_NAMES)}) or categories ({', '.join(CATEGORIES)})"
    if marker.name in ("skip_backends", "xfail_backends"):
        allowed = {"reason", "strict"} if marker.name == "xfail_backends" else {"reason"}
        if not marker.args:
            return f"give at least one of the {known}"
        for name in marker.args:
            if not isinstance(name, str) or (name not in BACKEND_NAMES and name not in CATEGORIES):
                return f"{describe(name)} is none of the {known}"
        if set(marker.kwargs) - allowed:
            unknown = ", ".join(sorted(set(marker.kwargs) - allowed))
            return f"unknown argument(s) {unknown}; it takes {', '.join(sorted(allowed))}"
        if not isinstance(marker.kwargs.get("reason"), str) or not marker.kwargs["reason"].strip():
            return "give a reason='...' saying why (it is shown in the report)"
        if not isinstance(marker.kwargs.get("strict", False), bool):
            return f"strict must be True or False; got {describe(marker.kwargs['strict'])}"
    elif marker.name == "max_host_reads":
        n = marker.args[0] if len(marker.args) == 1 and not marker.kwargs else None
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            return (f"takes one whole number >= 0, the reads allowed; got args {marker.args!r}, "
                    f"kwargs {marker.kwargs!r}; write e.g. @pytest.mark.max_host_reads(1)")
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for name in ("skip_backends", "xfail_backends", "max_host_reads"):
            for marker in item.iter_markers(name):
                error = _marker_error(marker)
                if error:
                    raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.{name}: {error}")
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "backend" in callspec.params:
            item.add_marker(pytest.mark.array_backend)


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> Backend:
    """The :class:`~mlp_xp.backends.Backend` under test, on the device under test.

    Applies the test's ``skip_backends`` (skipped here, with the reason) and
    ``xfail_backends`` markers (the test runs, and is reported XFAIL or XPASS).
    """
    ident = request.param
    b = _backend_on(ident)
    for marker in request.node.iter_markers("skip_backends"):
        if any(_matches(ident, name) for name in marker.args):
            pytest.skip(f"skip_backends on {ident}: {marker.kwargs['reason']}")
    for marker in request.node.iter_markers("xfail_backends"):
        if any(_matches(ident, name) for name in marker.args):
            strict = {"strict": marker.kwargs["strict"]} if "strict" in marker.kwargs else {}
            # a mark, not pytest.xfail(): the test still runs, so a fix upstream shows as XPASS
            request.node.add_marker(pytest.mark.xfail(reason=f"xfail_backends on {ident}: "
                                                      f"{marker.kwargs['reason']}", **strict))
    return b


@pytest.fixture
def xp(backend: Backend, request: pytest.FixtureRequest) -> Iterator[Any]:
    """The array-API namespace of the backend under test.

    Functions that the test module tags with ``array_api_extra.testing.lazy_xp_function``
    run under ``jax.jit`` on JAX, and on Dask with no compute (or ``allow_dask_compute=N``),
    for this test (array-api-extra's ``patch_lazy_xp_functions``).
    """
    # array-api-extra 0.8 patches through monkeypatch; later ones are a context manager
    takes_monkeypatch = inspect.signature(patch_lazy_xp_functions).parameters["monkeypatch"].default
    if takes_monkeypatch is inspect.Parameter.empty:
        patch_lazy_xp_functions(request, request.getfixturevalue("monkeypatch"), xp=backend.xp)
        yield backend.xp
    else:
        with patch_lazy_xp_functions(request, xp=backend.xp):
            yield backend.xp


@pytest.fixture
def dtype(backend: Backend, request: pytest.FixtureRequest) -> Any:
    """A real floating dtype of the backend's namespace: ``xp.float32``, then ``xp.float64``.

    Ids like ``torch-float32``. float64 is skipped, with the reason, where the device has
    none (:attr:`~mlp_xp.backends.Backend.supports_float64`).
    """
    name = request.param
    if name == "float64" and not backend.supports_float64:
        pytest.skip(f"{backend.name} on {backend.device_name} has no float64")
    return getattr(backend.xp, name)


# --- max_host_reads ------------------------------------------------------------------------


def reads_are_counted(backend: Backend) -> bool:
    """Whether ``max_host_reads`` and :func:`count_host_reads` see reads back from ``backend``.

    True on torch, array-api-strict, Dask and CuPy, and on JAX off the CPU (JAX on the CPU
    makes no transfer); NumPy arrays are on the host already.

    Examples
    --------
    >>> from mlp_xp.backends import get_backend
    >>> reads_are_counted(get_backend("array_api_strict")), reads_are_counted(get_backend("numpy"))
    (True, False)
    """
    if not isinstance(backend, Backend):
        raise TypeError(f"reads_are_counted: backend must be a mlp_xp.backends.Backend; "
                        f"got {describe(backend)}; pass the backend fixture, or get_backend(name)")
    return backend.library in ("torch", "array-api-strict", "dask", "cupy") or (
        backend.library == "jax" and backend.is_accelerator)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    marker = item.get_closest_marker("max_host_reads")
    if marker is None:
        return (yield)
    allowed = marker.args[0]
    with count_host_reads() as reads:
        result = yield
    if reads.n > allowed:
        kinds = ", ".join(f"{kind} x{k}" for kind, k in reads.by_kind.most_common())
        pytest.fail(f"max_host_reads({allowed}): the test read data back from the device {reads.n} times "
                    f"({kinds}); keep values on the device until the end, or allow more reads",
                    pytrace=False)
    return result
