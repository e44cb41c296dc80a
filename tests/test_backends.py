import numpy as np
import pytest

from mlp_xp.backends import BACKEND_NAMES, BackendUnavailable, get_backend, known_backends


def test_registry_names():
    assert {"numpy", "array_api_strict", "torch", "jax", "cupy", "torch-cuda", "jax-gpu"} <= set(
        BACKEND_NAMES
    )


def test_unknown_backend_lists_known_ones():
    with pytest.raises(ValueError, match=r"unknown backend 'nope'; known backends: numpy, "):
        get_backend("nope")


def test_unavailable_backends_say_why():
    for name, b in known_backends().items():
        if isinstance(b, BackendUnavailable):
            assert b.reason and name in str(b)
            with pytest.raises(BackendUnavailable, match=name):
                get_backend(name)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_asarray_uses_the_given_dtype_and_round_trips(backend, xp, dtype):
    host = np.asarray([[1.5, -2.0], [0.25, 3.0]])
    x = backend.asarray(host, dtype)
    assert x.dtype == getattr(xp, dtype)  # never the library's default dtype
    back = backend.to_numpy(backend.wait(xp.sum(x, axis=0)))
    assert back.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(back, host.sum(axis=0).astype(dtype))
    backend.synchronize()


def test_backend_facts(backend):
    assert backend.version
    assert backend.supports_float64
    assert backend.is_accelerator == (backend.device_name != "cpu")


def test_version_does_not_depend_on_the_distributions_name(monkeypatch):
    # CuPy installs as cupy-cuda12x: importlib.metadata knows no "cupy"
    import importlib.metadata

    b = get_backend("numpy")

    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", missing)
    assert b.version == np.__version__


def test_asarray_copies_the_callers_host_array(backend):
    host = np.ones(3)
    x = backend.asarray(host, "float64")
    host[0] = 7.0
    assert backend.to_numpy(x)[0] == 1.0


def test_a_backend_that_fails_to_start_is_reported_unavailable(monkeypatch):
    from mlp_xp import backends

    def broken():
        raise RuntimeError("CUDA driver version is insufficient")

    monkeypatch.setitem(backends._REGISTRY, "numpy", ("numpy", broken))
    backends._load.cache_clear()
    try:
        with pytest.raises(BackendUnavailable, match="failed to start: RuntimeError: CUDA driver"):
            get_backend("numpy")
    finally:
        monkeypatch.undo()
        backends._load.cache_clear()
