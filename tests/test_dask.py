"""The Dask backend: row chunks, laziness, chunk-by-chunk reductions, threads and a process cluster."""

import importlib.util

import dask
import dask.array as da
import distributed
import numpy as np
import pytest
from dask.callbacks import Callback

from mlp_xp import forward_backward_prop
from mlp_xp.backends import (
    DASK_CHUNK_ROWS_VAR,
    DASK_DEFAULT_CHUNK_ROWS,
    _load,
    dask_chunk_rows,
    dask_scheduler,
    get_backend,
)
from mlp_xp.problems import random_problem
from mlp_xp.testing import assert_close, count_host_reads

from ._reference import reference_forward_backward
from ._scripts import load_script

M, DIMS, CHUNK_ROWS = 200, (12, 7, 5), 16  # 13 chunks of rows
dask_scale = load_script("dask_scale")


@pytest.fixture
def dask_backend(monkeypatch):
    """The Dask backend, with CHUNK_ROWS rows per chunk."""
    monkeypatch.setenv(DASK_CHUNK_ROWS_VAR, str(CHUNK_ROWS))
    return get_backend("dask")


def _problem(backend):
    host = random_problem(M, DIMS, seed=7)
    arrays = [backend.asarray(a, "float64") for a in host]
    assert arrays[0].numblocks[0] >= 8 and arrays[0].chunks == (arrays[1].chunks[0], (DIMS[0],))
    return host, arrays


def _assert_matches_numpy(host, cost, grad):
    ref_cost, ref_grad = reference_forward_backward(*host, DIMS)
    assert isinstance(cost, np.ndarray) and isinstance(grad, np.ndarray)
    assert_close(cost, np.asarray(ref_cost), rtol=1e-10)
    assert_close(grad, ref_grad, rtol=1e-10, atol=1e-10 * float(np.abs(ref_grad).max()))


class LiveBytes(Callback):
    """Peak bytes held by the local scheduler between tasks, and the largest single task result."""

    def __init__(self):
        super().__init__()
        self.peak = self.largest = 0

    def _posttask(self, key, result, dsk, state, worker_id):
        self.largest = max(self.largest, getattr(result, "nbytes", 0))
        # state["cache"]: the results computed and still needed by some task
        self.peak = max(self.peak, sum(getattr(v, "nbytes", 0) for v in state["cache"].values()))


def test_dask_is_registered_and_says_why_when_not_installed(monkeypatch):
    assert isinstance(_load("dask").xp, type(da))  # a module: array_api_compat's dask namespace
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "dask" else real_find_spec(name, *a)
    )
    unavailable = _load.__wrapped__("dask")  # bypass the cache: a fresh look-up without Dask
    assert unavailable.reason == "dask is not installed"
    assert "backend 'dask' is not available" in str(unavailable)


def test_asarray_chunks_rows_and_keeps_vectors_whole(dask_backend, monkeypatch):
    x = dask_backend.asarray(np.ones((40, 3, 2)), "float32")
    assert x.chunks == ((16, 16, 8), (3,), (2,)) and x.dtype == np.float32
    assert dask_backend.asarray(np.ones(40), "float64").chunks == ((40,),)
    assert dask_backend.asarray(2.0, "float64").chunks == ()
    monkeypatch.delenv(DASK_CHUNK_ROWS_VAR)
    assert dask_backend.asarray(np.ones((3, 2)), "float64").chunks == ((3,), (2,))
    assert dask_backend.asarray(np.ones((40_000, 1)), "float64").chunks[0][0] == DASK_DEFAULT_CHUNK_ROWS
    for bad in ("0", "-3", "ten", "1.5"):
        monkeypatch.setenv(DASK_CHUNK_ROWS_VAR, bad)
        with pytest.raises(ValueError, match=rf"\$MLP_XP_DASK_CHUNK_ROWS must be a positive .* got '{bad}'"):
            dask_backend.asarray(np.ones((3, 2)), "float64")


def test_dask_chunk_rows_reads_the_variable(monkeypatch):
    monkeypatch.delenv(DASK_CHUNK_ROWS_VAR, raising=False)
    assert dask_chunk_rows() == DASK_DEFAULT_CHUNK_ROWS
    monkeypatch.setenv(DASK_CHUNK_ROWS_VAR, " 64 ")
    assert dask_chunk_rows() == 64


@pytest.mark.parametrize("bad", ["", " ", "abc", "0", "-3", "1.5", "+7", "\u00b2"])
def test_dask_chunk_rows_refuses_what_is_not_a_positive_whole_number(bad, monkeypatch):
    monkeypatch.setenv(DASK_CHUNK_ROWS_VAR, bad)
    message = (f"$MLP_XP_DASK_CHUNK_ROWS must be a positive whole number of rows, got {bad!r}; "
               f"set it to one (e.g. {DASK_DEFAULT_CHUNK_ROWS}, the default) or unset it")
    with pytest.raises(ValueError) as info:
        dask_chunk_rows()
    assert str(info.value) == message


def test_asarray_is_a_snapshot_of_the_host_array(dask_backend):
    host = np.arange(6.0).reshape(3, 2)
    x = dask_backend.asarray(host, "float64")
    host[0, 0] = 99.0
    assert dask_backend.to_numpy(x)[0, 0] == 0.0


def test_forward_backward_prop_is_lazy_and_matches_numpy_on_threads(dask_backend):
    host, arrays = _problem(dask_backend)
    with count_host_reads() as computes, dask.config.set(scheduler="threads"):
        cost, grad = forward_backward_prop(*arrays, DIMS)
        assert isinstance(cost, da.Array) and isinstance(grad, da.Array)
        assert cost.shape == () and grad.shape == host[2].shape
        assert computes.n == 0  # building the graph computed nothing
        assert dask_scheduler() == "threads"
        result = dask_backend.wait((cost, grad))
    assert computes.by_kind == {"dask: compute": 1}  # the tuple is computed in one go
    _assert_matches_numpy(host, *result)
    _assert_matches_numpy(host, dask_backend.to_numpy(cost), dask_backend.to_numpy(grad))


def test_reductions_over_rows_run_chunk_by_chunk():
    # Memory held while computing depends on the chunk size, not on M: 4x the rows,
    # same peak. The data is drawn lazily, so no full array exists at any point.
    dims, rows = (64, 32, 10), 256

    def held(M):
        cost, grad = forward_backward_prop(*dask_scale.lazy_problem(M, dims, rows), dims)
        live = LiveBytes()
        with live, dask.config.set(scheduler="synchronous"):
            dask.compute(cost, grad)
        return live

    chunk_bytes = rows * (dims[0] + dims[2]) * 8
    small, large = held(16 * rows), held(64 * rows)
    assert small.largest <= rows * dims[0] * 8 and large.largest == small.largest
    assert large.peak <= 8 * chunk_bytes  # the full arrays are 64 chunks
    assert large.peak <= 1.25 * small.peak


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0"
    )
    client = distributed.Client(cluster)
    client.wait_for_workers(2)  # the test that both took part must not race a late start
    yield client
    client.close()
    cluster.close()


def test_forward_backward_prop_on_a_cluster_of_processes_matches_numpy(dask_backend, client):
    host, arrays = _problem(dask_backend)
    assert dask_scheduler() == f"distributed {client.scheduler.address}"
    with distributed.get_task_stream(client) as tasks:
        cost, grad = dask_backend.wait(forward_backward_prop(*arrays, DIMS))
    assert len({t["worker"] for t in tasks.data}) == 2  # both worker processes took part
    _assert_matches_numpy(host, cost, grad)


def test_scale_script_reports_worker_memory_on_a_cluster(client, capsys):
    dims = (16, 8, 4)
    r = dask_scale.measure(client, 4096, dims, 512)
    assert r["n_chunks"] == 8 and r["full_bytes"] == 4096 * (16 + 4) * 8
    assert set(r["peak_rss"]) == set(client.scheduler_info()["workers"])
    assert all(peak >= r["idle_rss"][addr] > 0 for addr, peak in r["peak_rss"].items())
    host = (np.asarray(a) for a in dask_scale.lazy_problem(4096, dims, 512))  # the same seed
    ref_cost, _ = reference_forward_backward(*host, dims)
    np.testing.assert_allclose(r["cost"], ref_cost, rtol=1e-10)
    dask_scale.report(r, "test cluster")
    out = capsys.readouterr().out
    assert "M = 4,096 rows" in out and "rows/s" in out and "of the full arrays" in out


def test_gradcheck_refuses_an_array_of_unknown_shape_and_says_how_to_fix_it():
    from mlp_xp import gradcheck

    x = da.from_array(np.arange(1.0, 7.0), chunks=3)
    x = x[x > 2]  # boolean indexing: Dask no longer knows the length

    def f(p):
        return da.sum(p * p), 2 * p

    with pytest.raises(ValueError, match=r"x must have a known shape; got \(nan,\).*compute_chunk_sizes"):
        gradcheck(f, x)
    assert gradcheck(f, x.compute_chunk_sizes()).passed
