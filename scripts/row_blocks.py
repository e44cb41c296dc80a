"""Would row blocks on threads speed up NumPy at the machine's default thread count? A probe.

Run: ``flock /tmp/mlp_xp_bench.lock python scripts/row_blocks.py [--shape M x D0 x ... x DL ...]``

NumPy runs a product on every BLAS thread but an elementwise pass on one. For a batch of
rows, cost and gradient are sums over rows, so the rows could be cut into one block per BLAS
thread, each run on a thread of its own with a one-thread BLAS, and summed. This measures,
in one run of interleaved rounds (wall clock), the ratio blocks / whole with its 95%
bootstrap interval, for: the first layer's product ``data @ W1``, an ``exp`` over its M x H1
result, and ``forward_backward_prop`` itself. A ratio below 1 is what blocks would gain.

Two more lines bound the other way to use both cores, products whole on every BLAS thread
and only the elementwise passes split into row blocks: ``net/prod``, the whole call over its
``3L - 1`` products alone (both whole, in the same rounds), and ``bound``,
``1 + (net/prod - 1) * min(exp, 1)`` (a pass that loses in blocks would not be split). The
bound assumes that the products cost in the call what they cost alone, that no other pass
gains more than ``exp`` does (the passes that only stream memory gain less; not measured
here) and that the split costs nothing: under those assumptions such a path can do no better.
Its interval is a bootstrap of the bound itself, resampling whole rounds as the others do.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import click
import numpy as np
from compare_peers import (  # this folder is on sys.path
    MIN_CI_ROUNDS,
    Net,
    _parse_shape,
    products_floor,
    ratio_ci,
    time_interleaved,
)
from threadpoolctl import ThreadpoolController

from mlp_xp import forward_backward_prop, param_layout
from mlp_xp.cli import OneLineCommand


def measure(net: Net, dtype: str, min_rounds: int) -> list[tuple[str, float, tuple[float, float] | None]]:
    """``(what, ratio, interval)``: blocks / whole for the product, the exp and the whole call;
    then ``net/prod`` and the ``bound`` of a path that splits only the elementwise passes."""
    blas = ThreadpoolController().select(user_api="blas")
    threads = max((lib.num_threads for lib in blas.lib_controllers), default=1)
    pool = ThreadPoolExecutor(threads)
    rng = np.random.default_rng(0)
    M, dims = net.M, net.dimensions
    data = rng.standard_normal((M, dims[0])).astype(dtype)
    labels = np.eye(dims[-1], dtype=dtype)[rng.integers(0, dims[-1], M)]
    params = (0.05 * rng.standard_normal(param_layout(dims).size)).astype(dtype)
    W1 = params[: dims[0] * dims[1]].reshape(dims[0], dims[1])
    z1 = np.minimum(data @ W1, 50)  # exp stays finite
    rows = [slice(i * M // threads, (i + 1) * M // threads) for i in range(threads)]

    def in_blocks(f: Callable[[slice], Any]) -> Callable[[], Any]:
        def run() -> Any:
            with blas.limit(limits=1, user_api="blas"):
                return list(pool.map(f, rows))
        return run

    def network(r: slice) -> Any:
        return forward_backward_prop(data[r], labels[r], params, dims)

    def network_in_blocks() -> Any:  # the blocks' costs and gradients summed, as a block path would
        parts = in_blocks(network)()
        cost, grad = parts[0][0], parts[0][1]
        for part in parts[1:]:
            cost, grad = cost + part[0], grad + part[1]
        return cost, grad

    calls = {
        "product whole": lambda: data @ W1, "product blocks": in_blocks(lambda r: data[r] @ W1),
        "exp whole": lambda: np.exp(z1), "exp blocks": in_blocks(lambda r: np.exp(z1[r])),
        "network whole": lambda: network(slice(None)), "network blocks": network_in_blocks,
        "products": products_floor(net, dtype, seed=1),
    }
    timings = time_interleaved(calls, min_time=0.0, min_rounds=min_rounds)
    pool.shutdown()
    out = []
    for what, ours, theirs in [(w, f"{w} blocks", f"{w} whole") for w in ("product", "exp", "network")] + [
            ("net/prod", "network whole", "products")]:
        ratio = float(np.median(timings[ours].runs_s) / np.median(timings[theirs].runs_s))
        out.append((what, ratio, ratio_ci(timings[ours], timings[theirs])))
    return [*out, ("bound", *split_passes_bound(timings))]


def split_passes_bound(timings: dict[str, Any], level: float = 0.95,
                       n_boot: int = 4000) -> tuple[float, tuple[float, float] | None]:
    """``1 + (net/prod - 1) * min(exp, 1)`` from medians, and its bootstrap interval.

    Every round timed every call once, so the rounds are resampled whole, with the same seed
    as :func:`compare_peers.ratio_ci`; ``None`` below ``MIN_CI_ROUNDS`` rounds.
    """
    names = ("exp blocks", "exp whole", "network whole", "products")
    runs = np.asarray([timings[name].runs_s for name in names])  # one column per round

    def bound(med: np.ndarray) -> np.ndarray:
        exp_blocks, exp_whole, network, products = med
        return 1 + (network / products - 1) * np.minimum(exp_blocks / exp_whole, 1)

    value = float(bound(np.median(runs, axis=1)))
    n = runs.shape[1]
    if n < MIN_CI_ROUNDS:
        return value, None
    idx = np.random.default_rng(0).integers(0, n, size=(n_boot, n))
    lo, hi = np.quantile(bound(np.median(runs[:, idx], axis=2)), [(1 - level) / 2, (1 + level) / 2])
    return value, (float(lo), float(hi))


@click.command(cls=OneLineCommand, help=__doc__.split("\n\n")[0],
               context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--shape", "shapes", multiple=True, callback=_parse_shape,
              default=("4096x784x512x10", "2048x256x2048x256", "4096x784x512x512x10"), show_default=True,
              help="M x D0 x ... x DL (sigmoid hidden layers), repeatable.")
@click.option("--dtype", "dtypes", multiple=True, type=click.Choice(["float64", "float32"]),
              default=("float64", "float32"), show_default=True, help="Repeatable.")
@click.option("--min-rounds", type=click.IntRange(min=15), default=21, show_default=True,
              help="Interleaved rounds (each times every call once).")
def main(shapes: list[Net], dtypes: tuple[str, ...], min_rounds: int) -> None:
    blas = ThreadpoolController().select(user_api="blas")
    threads = max((lib.num_threads for lib in blas.lib_controllers), default=1)
    print(f"blocks / whole, wall clock: {threads} BLAS threads whole, against {threads} blocks of one "
          f"thread each; {min_rounds} rounds. net/prod: the whole call / its products alone; bound: the "
          "best a path with the products whole and the elementwise passes in blocks could do")
    for net in shapes:
        for dtype in dtypes:
            for what, ratio, ci in measure(net, dtype, min_rounds):
                shown = f"[{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "-"
                print(f"{net!s:>26} {dtype}  {what:<8} {ratio:.3f} {shown}")


if __name__ == "__main__":
    main()
