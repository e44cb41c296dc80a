"""Run ``forward_backward_prop`` on a million rows of Dask arrays, on a cluster of worker processes.

The data is generated lazily, chunk by chunk, on the workers (``dask.array.random``), so
neither the client nor any worker ever holds the full arrays. Reports the time of one
``compute`` of ``(cost, grad)``, the throughput in rows/s (next to NumPy's in one process
on a few chunks' worth of rows, measured in the same run), and each worker's peak resident
memory next to the size of the full arrays.

Usage (the figures in docs/dask.md)::

    flock /tmp/mlp_xp_bench.lock python scripts/dask_scale.py
    python scripts/dask_scale.py --rows 4000000 --workers 4        # more rows, more workers
    python scripts/dask_scale.py --address tcp://scheduler:8786    # an existing cluster
"""

from __future__ import annotations

import resource
import time
from typing import Any

import click
import dask
import dask.array as da
from click.core import ParameterSource
from distributed import Client, LocalCluster
from distributed.comm import parse_address, parse_host_port
from distributed.comm.registry import get_backend as get_comm_backend

from mlp_xp import forward_backward_prop
from mlp_xp.backends import DASK_DEFAULT_CHUNK_ROWS, get_backend
from mlp_xp.cli import OneLineCommand
from mlp_xp.problems import random_problem

MiB = 2**20


def lazy_problem(
    M: int, dimensions: tuple[int, int, int], chunk_rows: int, seed: int = 0
) -> tuple[Any, Any, Any]:
    """Dask ``data`` (M x Dx, standard normal), one-hot ``labels`` (M x Dy) and ``params``.

    ``data`` and ``labels`` are chunked by ``chunk_rows`` rows and exist only as a graph
    until computed; each chunk is drawn where it is needed. ``params`` is one NumPy-backed
    chunk, drawn on the client as :func:`mlp_xp.problems.random_problem` draws it.

    Examples
    --------
    >>> data, labels, params = lazy_problem(10, (4, 3, 2), chunk_rows=4)
    >>> data.chunks, labels.shape, params.shape
    (((4, 4, 2), (4,)), (10, 2), (23,))
    """
    Dx, _, Dy = dimensions
    rng = da.random.default_rng(seed)
    data = rng.standard_normal((M, Dx), chunks=(chunk_rows, Dx))
    classes = rng.integers(0, Dy, M, chunks=chunk_rows)
    labels = (classes[:, None] == da.arange(Dy)).astype("float64")
    params = get_backend("dask").asarray(random_problem(1, dimensions, seed)[2], "float64")
    return data, labels, params


def worker_peak_rss(client: Client) -> dict[str, int]:
    """Each worker process's peak resident memory since it started, in bytes (Linux ``ru_maxrss``)."""
    usage = client.run(resource.getrusage, resource.RUSAGE_SELF)
    return {addr: u.ru_maxrss * 1024 for addr, u in usage.items()}


def worker_rss(client: Client) -> dict[str, int]:
    """Each worker process's resident memory now, in bytes, as the workers report it."""
    workers = client.scheduler_info(n_workers=-1)["workers"]
    return {addr: w["metrics"]["memory"] for addr, w in workers.items()}


def measure(client: Client, M: int, dimensions: tuple[int, int, int], chunk_rows: int) -> dict[str, Any]:
    """Time generating the data alone, then generating it and running the network; read worker memory.

    Returns the figures :func:`report` prints.
    """
    data, labels, params = lazy_problem(M, dimensions, chunk_rows)
    backend = get_backend("dask")
    # warm-up on a few rows: workers import NumPy and Dask and load the task code first
    backend.wait(forward_backward_prop(data[: 2 * chunk_rows], labels[: 2 * chunk_rows], params, dimensions))
    idle = worker_rss(client)

    start = time.perf_counter()
    dask.compute(data.sum(), labels.sum())
    t_generate = time.perf_counter() - start

    start = time.perf_counter()
    cost, grad = backend.wait(forward_backward_prop(data, labels, params, dimensions))
    t_total = time.perf_counter() - start

    numpy_rows = min(M, 4 * chunk_rows)
    host = random_problem(numpy_rows, dimensions)
    start = time.perf_counter()
    forward_backward_prop(*host, dimensions)
    t_numpy = time.perf_counter() - start

    return {
        "numpy_rows": numpy_rows, "t_numpy": t_numpy,
        "M": M, "dimensions": dimensions, "chunk_rows": chunk_rows, "n_chunks": data.numblocks[0],
        "full_bytes": data.nbytes + labels.nbytes,
        "chunk_bytes": data.blocks[0].nbytes + labels.blocks[0].nbytes,
        "t_generate": t_generate, "t_total": t_total,
        "idle_rss": idle, "peak_rss": worker_peak_rss(client),
        "cost": float(cost), "grad_norm": float((grad**2).sum() ** 0.5),
    }


def report(r: dict[str, Any], where: str) -> None:
    """Print the figures of :func:`measure`."""
    M, (Dx, H, Dy) = r["M"], r["dimensions"]
    t_net = r["t_total"] - r["t_generate"]
    print(f"forward_backward_prop on Dask: M = {M:,} rows, (Dx, H, Dy) = ({Dx}, {H}, {Dy}), float64")
    print(f"chunks: {r['n_chunks']} of {r['chunk_rows']:,} rows "
          f"({r['chunk_bytes'] / MiB:.1f} MiB of data + labels each)")
    print(f"full arrays: data + labels = {r['full_bytes'] / MiB:,.0f} MiB (never held anywhere)")
    print(f"cluster: {where}")
    print(f"generate data + labels only:         {r['t_generate']:7.2f} s")
    print(f"generate + forward_backward_prop:    {r['t_total']:7.2f} s   "
          f"{M / r['t_total']:,.0f} rows/s")
    print(f"forward_backward_prop (difference):  {t_net:7.2f} s   {M / t_net:,.0f} rows/s")
    print(f"NumPy, one process, {r['numpy_rows']:,} rows in memory: {r['t_numpy']:7.2f} s   "
          f"{r['numpy_rows'] / r['t_numpy']:,.0f} rows/s")
    for addr, peak in sorted(r["peak_rss"].items()):
        idle = r["idle_rss"].get(addr, 0)
        print(f"worker {addr}: peak RSS {peak / MiB:6.0f} MiB (idle {idle / MiB:.0f} MiB) = "
              f"{peak / r['full_bytes']:.1%} of the full arrays")
    print(f"cost = {r['cost']:.6e}, |grad| = {r['grad_norm']:.6e}")


def _check_address(ctx: click.Context, param: click.Parameter, address: str | None) -> str | None:
    """A scheduler address Dask can parse: a known scheme (tcp:// if none) and, but for inproc://, a port.

    Only parsed here; connecting is left to ``main``, which makes a failure one line too.
    """
    if address is None:
        return None
    try:
        scheme, location = parse_address(address)
        get_comm_backend(scheme)  # ValueError: unknown address scheme
        if scheme != "inproc":
            parse_host_port(location)  # ValueError: no port, or not a number
    except ValueError as exc:
        raise click.BadParameter(f"not a scheduler address ({exc}); e.g. tcp://scheduler:8786") from None
    return address


positive = click.IntRange(min=1)


@click.command(cls=OneLineCommand, help=__doc__.split("\n\n")[0],
               context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--rows", type=positive, default=1_000_000, show_default=True,
              help="M: rows of data and labels.")
@click.option("--dims", type=positive, nargs=3, default=(256, 128, 10), show_default=True,
              metavar="DX H DY", help="The network's dimensions (Dx, H, Dy).")
@click.option("--chunk-rows", type=positive, default=DASK_DEFAULT_CHUNK_ROWS, show_default=True,
              help="Rows per chunk.")
@click.option("--workers", type=positive, default=2, show_default=True,
              help="LocalCluster worker processes, one thread each (not with --address).")
@click.option("--address", callback=_check_address, show_default=True,
              help="Scheduler of an existing cluster to use instead of a LocalCluster, e.g. "
              "tcp://scheduler:8786.")
@click.pass_context
def main(ctx: click.Context, rows: int, dims: tuple[int, int, int], chunk_rows: int, workers: int,
         address: str | None) -> None:
    if address and ctx.get_parameter_source("workers") is not ParameterSource.DEFAULT:
        raise click.UsageError("--workers sizes the LocalCluster this script starts; with --address "
                               "the existing cluster's workers run it")
    if address:
        try:
            client = Client(address)
        except OSError as exc:  # nothing answered there
            raise click.BadParameter(f"cannot connect: {exc}", param_hint="--address") from None
        with client:
            # peak RSS of long-running workers includes whatever they did before this run
            report(measure(client, rows, dims, chunk_rows), f"{address} (existing cluster)")
        return
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      host="127.0.0.1", dashboard_address=":0") as cluster, Client(cluster) as client:
        where = f"LocalCluster, {workers} worker processes x 1 thread, on 127.0.0.1"
        report(measure(client, rows, dims, chunk_rows), where)


if __name__ == "__main__":
    main()
