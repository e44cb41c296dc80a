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
