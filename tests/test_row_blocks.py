"""Large NumPy batches run in row blocks side by side (mlp_xp._row_blocks): the same numbers."""

import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info

import mlp_xp._row_blocks as row_blocks_module
from mlp_xp import forward_backward_prop, param_layout
from mlp_xp._row_blocks import row_blocks
from mlp_xp.network import _network

# 1536 rows of widths 300 + 200 + 20: three blocks of 512 rows at three BLAS threads
DIMS, M = (300, 200, 20), 1536
CASES = [("sigmoid", "softmax", False),  # the seed's path
         ("relu", "sigmoid", True), ("tanh", "identity", True)]


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    data = rng.standard_normal((M, DIMS[0]))
    labels = np.eye(DIMS[-1])[rng.integers(0, DIMS[-1], M)]
    return data, labels, 0.1 * rng.standard_normal(param_layout(DIMS).size)


def _numpy_blas_threads():
    return max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")


@pytest.mark.parametrize(("activation", "output", "input_grad"), CASES)
def test_blocks_give_the_whole_batchs_cost_and_gradient(monkeypatch, activation, output, input_grad):
    data, labels, params = _problem()
    import array_api_compat.numpy as xp

    whole = _network(xp, data, labels, params, param_layout(DIMS), (activation,), output, input_grad)
    monkeypatch.setattr(row_blocks_module, "_blas_threads", lambda: 3)
    calls = []
    real = row_blocks_module.in_row_blocks
    monkeypatch.setattr("mlp_xp.network.in_row_blocks",
                        lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    blocked = forward_backward_prop(data, labels, params, DIMS, activation=activation, output=output,
                                    input_grad=input_grad)
    assert calls == [3]
    assert len(blocked) == len(whole)
    for got, expected in zip(blocked, whole, strict=True):
        assert type(got) is np.ndarray and got.shape == expected.shape and got.dtype == expected.dtype
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12 * np.abs(expected).max())


def test_each_block_runs_under_a_one_thread_blas_which_is_restored_after():
    data, labels, params = _problem(1)
    import array_api_compat.numpy as xp

    before = _numpy_blas_threads()
    seen = []

    def backprop(data, labels, *args):
        seen.append((data.shape[0], _numpy_blas_threads(), threading.current_thread().name))
        return _network(xp, data, labels, *args)

    layout = param_layout(DIMS)
    *_, grad_data = row_blocks_module.in_row_blocks(
        backprop, 3, data, labels, params, layout, ("relu",), "softmax", True, input_grad=True)
    assert sorted(s[:2] for s in seen) == [(512, 1)] * 3
    assert all(name.startswith("mlp_xp-rows") for *_, name in seen)
    assert _numpy_blas_threads() == before
    assert grad_data.shape == data.shape
    middle = _network(xp, data[512:1024], labels[512:1024], params, layout, ("relu",), "softmax", True)[2]
    np.testing.assert_allclose(grad_data[512:1024], middle, rtol=1e-12, atol=1e-15)


def test_a_concurrent_call_runs_whole():
    data, labels, _ = _problem(2)
    with row_blocks_module._lock:  # another call holds the blocks
        assert row_blocks_module.in_row_blocks(
            lambda *a: pytest.fail("ran in blocks"), 2, data, labels, input_grad=False) is None


@pytest.mark.parametrize(("threads", "rows", "expected"), [
    (1, 4096, 1),  # a one-thread BLAS (threadpoolctl, OPENBLAS_NUM_THREADS=1): whole, as before
    (2, 511, 1),  # fewer than two blocks of 256 rows
    (3, 1536, 3),
    (8, 1536, 3),  # blocks of at least 2**18 entries: 1536 * 520 / 2**18 = 3.05
    (8, 4096, 8),
])
def test_the_number_of_blocks(monkeypatch, threads, rows, expected):
    monkeypatch.setattr(row_blocks_module, "_blas_threads", lambda: threads)
    assert row_blocks(rows, param_layout(DIMS)) == expected


def test_other_libraries_run_whole(monkeypatch):
    # only NumPy's passes are single-threaded: torch's and Dask's have threads of their own
    array_api_strict = pytest.importorskip("array_api_strict")
    monkeypatch.setattr(row_blocks_module, "_blas_threads", lambda: 3)
    monkeypatch.setattr("mlp_xp.network.in_row_blocks", lambda *a, **k: pytest.fail("ran in blocks"))
    data, labels, params = (array_api_strict.asarray(a) for a in _problem(3))
    forward_backward_prop(data, labels, params, DIMS)
