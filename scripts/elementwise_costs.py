"""What NumPy's elementwise passes over an M x H array cost, against the five matrix products.

``forward_backward_prop`` does, over M x H, what the array API leaves to do besides the
products: one ``tanh`` into a fresh array, one row-broadcast bias add, one scalar add, one
scalar subtract, two multiplies by an array (all in place) and one column sum. This script
times each of those NumPy operations alone on arrays of the right shape, side by side with
the five products, and prints each as a share of the products' time, with the sum for
mlp_xp's list. It also times what the array API cannot express: ``tanh`` into an existing
array (NumPy's ``out=``), to show what a fresh array costs (the kernel zeroes its pages).

Run it alone on the machine (the other benchmarks take the same lock)::

    flock /tmp/mlp_xp_bench.lock python scripts/elementwise_costs.py --threads 1 --rounds 41
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
import numpy as np
from compare_peers import CLOCKS, time_interleaved  # this folder is on sys.path when run as a script
from threadpoolctl import threadpool_limits

from mlp_xp.backends import get_backend
from mlp_xp.bench import Shape, matmul_floor

#: forward_backward_prop's passes over M x H: operation -> how many times one call does it.
MLP_XP_PASSES = {
    "tanh into a fresh array": 1,
    "row-broadcast add (z += b1)": 1,
    "scalar add (h += 1)": 2,  # h2 += 1, then h2 -= 2
    "multiply by an array (delta *= h)": 2,
    "column sum (b1's gradient)": 1,
}


def operations(shape: Shape, dtype: str) -> dict[str, Callable[[], Any]]:
    """Each operation on fresh random operands; in-place ones add 0 or multiply by 1, so values stay put."""
    rng = np.random.default_rng(0)
    M, H = shape.M, shape.H
    z = rng.uniform(-1, 1, (M, H)).astype(dtype)
    out, ones = np.tanh(z), np.ones_like(z)  # values in (-1, 1): nothing drifts into subnormals
    zero_row = np.zeros(H, dtype=dtype)
    return {
        "five products": matmul_floor(get_backend("numpy"), shape, dtype, seed=0),
        "tanh into a fresh array": lambda: np.tanh(z),
        "tanh into an existing array (out=)": lambda: np.tanh(z, out=out),
        "row-broadcast add (z += b1)": lambda: np.add(out, zero_row, out=out),
        "scalar add (h += 1)": lambda: np.add(out, 0.0, out=out),
        "multiply by an array (delta *= h)": lambda: np.multiply(out, ones, out=out),
        "column sum (b1's gradient)": lambda: np.sum(z, axis=0),
    }


@click.command(help=__doc__.split("\n\n")[0])
@click.option("-s", "--shape", default="2048x256x2048x256", show_default=True, help="M x Dx x H x Dy.")
@click.option("-d", "--dtype", type=click.Choice(["float64", "float32"]), default="float64",
              show_default=True)
@click.option("--rounds", type=click.IntRange(min=3), default=41, show_default=True,
              help="Interleaved rounds: each calls every operation once, in a shuffled order.")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="BLAS threads. The clock is the process's CPU time, which adds up every thread's.")
def main(shape: str, dtype: str, rounds: int, threads: int) -> None:
    try:
        parsed = Shape.parse(shape)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--shape") from None
    with threadpool_limits(limits=threads):
        timings = time_interleaved(operations(parsed, dtype), 0.0, rounds, CLOCKS["cpu"])
    products = timings["five products"].median_s
    mib = parsed.M * parsed.H * np.dtype(dtype).itemsize / 2**20
    click.echo(f"{parsed} {dtype}: M x H is {mib:.3g} MiB; CPU time, median of {rounds} rounds, "
               f"{threads} BLAS thread(s)\n")
    click.echo("| operation | median ms | IQR ms | / products |\n| --- | ---: | ---: | ---: |")
    for name, t in timings.items():
        click.echo(f"| {name} | {t.median_s * 1e3:.3g} | {t.iqr_s * 1e3:.2g} | {t.median_s / products:.1%} |")
    ours = sum(n * timings[name].median_s for name, n in MLP_XP_PASSES.items())
    click.echo(f"\nmlp_xp's passes over M x H ({', '.join(f'{n} {k}' for k, n in MLP_XP_PASSES.items())}): "
               f"{ours * 1e3:.3g} ms, {ours / products:.1%} of the products")
    fresh = (timings["tanh into a fresh array"].median_s
             - timings["tanh into an existing array (out=)"].median_s)
    click.echo(f"of which a fresh array for tanh's result: {fresh * 1e3:.3g} ms, {fresh / products:.1%}")


if __name__ == "__main__":
    main()
