import re

import numpy as np
import pytest

from mlp_xp.backends import BACKEND_NAMES, COMPILED_BACKENDS, BackendUnavailable, get_backend, known_backends


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


class _Device:
    """A stand-in for ``cupy.cuda.Device``: a context manager that synchronises."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def synchronize(self):
        pass


def test_the_cupy_probe_passes_where_a_kernel_and_a_matmul_work():
    from mlp_xp import backends

    backends._probe_cupy(np, _Device())  # NumPy has CuPy's interface: the probe's arithmetic holds


@pytest.mark.parametrize(("broken", "reason"), [
    ("exp", "CuPy cannot run a tiny kernel and a matmul: RuntimeError: nvrtc: error: failed to open "
            "libnvrtc-builtins.so"),
    ("matmul", "CuPy's tiny kernel and matmul gave"),
])
def test_a_cupy_without_nvrtc_or_a_working_matmul_is_unavailable_with_the_reason(broken, reason):
    # CuPy without NVRTC imports and sees the device, then fails every elementwise kernel
    from mlp_xp import backends

    class Cupy:
        float32, arange = np.float32, staticmethod(np.arange)

        @staticmethod
        def exp(a):
            if broken == "exp":
                raise RuntimeError("nvrtc: error: failed to open libnvrtc-builtins.so\nmore")
            return np.exp(a)

    class Wrong(np.ndarray):
        def __matmul__(self, other):
            return np.zeros((2, 2))

    if broken == "matmul":
        Cupy.arange = staticmethod(lambda *a, **k: np.arange(*a, **k).view(Wrong))
    with pytest.raises(BackendUnavailable, match=re.escape(reason)) as info:
        backends._probe_cupy(Cupy, _Device())
    assert info.value.name == "cupy"


def test_compile_exists_only_where_the_library_has_a_compiler(backend):
    if backend.name in COMPILED_BACKENDS:
        assert backend.compiler == ("jax.jit" if backend.library == "jax" else "torch.compile")
        return
    assert backend.compiler is None
    with pytest.raises(ValueError, match=rf"^Backend.compile: backend '{backend.name}' has no compiler; it "
                                         r"runs eagerly only \(backends with one: torch, jax, torch-cuda, "
                                         r"jax-gpu\)$"):
        backend.compile(abs)
