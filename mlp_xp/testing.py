"""pytest plugin: ``backend`` and ``xp`` fixtures parametrized over every available backend.

Load it with ``pytest_plugins = ["mlp_xp.testing"]`` in a ``conftest.py``. Then::

    def test_sum(xp, backend):
        x = backend.asarray([1.0, 2.0], dtype="float64")
        assert backend.to_numpy(xp.sum(x)) == 3.0

runs once per backend, with ids ``numpy``, ``array_api_strict``, ``torch``, ``jax``, ``dask``,
``cupy``, ... Choose the set with
``pytest --backend NAME`` (repeatable) or ``MLP_XP_BACKENDS=numpy,cupy``. A backend that
is *named* but unavailable is a usage error, not a skip, so a GPU job that lost CuPy
fails loudly. Without a selection, unavailable backends show as skipped with the reason.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from .backends import BACKEND_NAMES, Backend, BackendUnavailable, get_backend, known_backends

__all__ = [
    "ENV_VAR",
    "backend",
    "backend_params",
    "pytest_addoption",
    "pytest_configure",
    "pytest_generate_tests",
    "pytest_report_header",
    "xp",
]

ENV_VAR = "MLP_XP_BACKENDS"


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
        state = f"{b.version} on {b.device_name}" if isinstance(b, Backend) else b.reason
        lines.append(f"mlp_xp backend {name}: {state}")
    return lines


def backend_params(requested: list[str] | None = None) -> list[Any]:
    """``pytest.param`` for each backend: the requested ones, else all known (unavailable skipped)."""
    if requested:
        return [pytest.param(name, id=name) for name in requested]
    params = []
    for name, b in known_backends().items():
        marks = () if isinstance(b, Backend) else pytest.mark.skip(reason=b.reason)
        params.append(pytest.param(name, id=name, marks=marks))
    return params


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        params = backend_params(_requested(metafunc.config))
        metafunc.parametrize("backend", params, indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> Backend:
    """The :class:`~mlp_xp.backends.Backend` under test."""
    return get_backend(request.param)


@pytest.fixture
def xp(backend: Backend) -> Any:
    """The array-API namespace of the backend under test."""
    return backend.xp
