import random

import numpy as np
import pytest

from mlp_xp import gradcheck_naive


def _quad(xp):
    return lambda x: (xp.sum(x**2), 2 * x)

@pytest.mark.parametrize("shape", [(), (4,), (3, 2)])
def test_gradcheck_naive_passes_quadratic(backend, xp, shape, capsys):
    host = np.arange(1.0, 1.0 + np.prod(shape, dtype=int)).reshape(shape) * 0.3
    x = backend.asarray(host, "float64")
    assert gradcheck_naive(_quad(xp), x) is True
    assert capsys.readouterr().out == "Gradient check passed!\n"
    np.testing.assert_array_equal(backend.to_numpy(x), host)

@pytest.mark.parametrize(("shape", "index"), [((), "()"), ((4,), "(2,)"), ((3, 2), "(1, 0)")])
def test_gradcheck_naive_rejects_wrong_gradient(backend, xp, shape, index, capsys):
    host = np.ones(shape)
    x = backend.asarray(host, "float64")
    n = int(np.prod(shape, dtype=int))
    wrong = np.zeros(n)
    wrong[{"()": 0, "(2,)": 2, "(1, 0)": 2}[index]] = 0.5  # one entry off by 0.5
    wrong = backend.asarray(wrong.reshape(shape), "float64")
    assert gradcheck_naive(lambda x: (xp.sum(x**2), 2 * x + wrong), x) is False
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Gradient check failed."
    assert out[1] == f"First gradient error found at index {index}"
    assert out[2] == "Your gradient: 2.500000 \t Numerical gradient: 2.000000"

def test_gradcheck_naive_freezes_global_random_state(backend, xp):
    # f samples from both global generators; without restoring, its cost would jump between calls
    x = backend.asarray([0.5, -1.0], "float64")

    def f(x):
        c = random.random() + np.random.rand()
        return xp.sum(x**2) + c, 2 * x

    random.seed(1)
    np.random.seed(1)
    expected = (random.random(), np.random.rand())
    random.seed(1)
    np.random.seed(1)
    assert gradcheck_naive(f, x)
    assert (random.random(), np.random.rand()) == expected  # caller's state as it was

def test_gradcheck_naive_leaves_x_intact_when_f_raises(backend, xp):
    host = np.asarray([1.0, 2.0, 3.0])
    x = backend.asarray(host, "float64")
    calls = []

    def f(y):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("boom")
        return xp.sum(y**2), 2 * y

    with pytest.raises(RuntimeError, match="boom"):
        gradcheck_naive(f, x)
    np.testing.assert_array_equal(backend.to_numpy(x), host)
