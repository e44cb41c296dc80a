"""Why ``jax.jit`` of a backprop can be slow at some batch sizes on the CPU, and mlp_xp's way out.

Run: ``flock /tmp/mlp_xp_bench.lock python scripts/jax_jit_concat.py [--rows M ...]``

In the bench's sweep at (784, 512, 10), compiled JAX took up to 13 times eager JAX's time at
some M (2 to 32, 128, 256) and not at others, when ``forward_backward_prop`` returned its
gradient as one concatenation of the four flattened blocks. This times, under ``jax.jit`` on
the JAX CPU backend, in float64, at each M:

- ``mlp_xp``: :func:`mlp_xp.forward_backward_prop`;
- ``flat``: the same cost and gradient written plainly with ``jax.numpy``, the gradient one
  concatenation of the flattened ``dW1, db1, dW2, db2``;
- ``rows``: the same, each layer's ``[dW; db]`` concatenated by rows first, then flattened,
  then the layers concatenated (the same vector; what mlp_xp does);
- ``blocks``: the same function returning the four blocks, not concatenated.

Where ``flat`` is much slower than ``blocks``, XLA's CPU compiler has fused the concatenation
with the products that feed it. Medians of ``--rounds`` calls after a warm-up, wall clock.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import click
import numpy as np

from mlp_xp import forward_backward_prop, param_layout
from mlp_xp.backends import BackendUnavailable, get_backend
from mlp_xp.cli import OneLineCommand

DIMENSIONS = (784, 512, 10)


FORMS = ("flat", "rows", "blocks")


def plain(data: Any, labels: Any, params: Any, form: str) -> Any:
    """The seed's network in plain ``jax.numpy``: the cost, and the gradient in one of ``FORMS``."""
    import jax
    import jax.numpy as jnp

    W1, b1, W2, b2 = (params[b.offset : b.stop].reshape(b.shape) for b in param_layout(DIMENSIONS))
    h = jax.nn.sigmoid(data @ W1 + b1)
    log_yhat = jax.nn.log_softmax(h @ W2 + b2)
    cost = -(labels * log_yhat).sum()
    delta1 = jnp.exp(log_yhat) - labels
    delta2 = (delta1 @ W2.T) * h * (1 - h)
    blocks = [data.T @ delta2, delta2.sum(0), h.T @ delta1, delta1.sum(0)]
    if form == "flat":
        return cost, jnp.concatenate([b.ravel() for b in blocks])
    if form == "rows":
        layers = [jnp.concatenate([dW, db[None, :]], axis=0).ravel() for dW, db in (blocks[:2], blocks[2:])]
        return cost, jnp.concatenate(layers)
    return cost, blocks


def median_seconds(f: Callable[[], Any], rounds: int) -> float:
    import jax

    jax.block_until_ready(f())  # compiles
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        jax.block_until_ready(f())
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(M: int, rounds: int) -> dict[str, float]:
    """Median seconds of the four jitted functions at batch size ``M``."""
    import jax

    b = get_backend("jax")
    rng = np.random.default_rng(0)
    data = b.asarray(rng.standard_normal((M, DIMENSIONS[0])), "float64")
    labels = b.asarray(np.eye(DIMENSIONS[-1])[rng.integers(0, DIMENSIONS[-1], M)], "float64")
    params = b.asarray(0.05 * rng.standard_normal(param_layout(DIMENSIONS).size), "float64")
    functions = {"mlp_xp": jax.jit(lambda d, y, p: forward_backward_prop(d, y, p, DIMENSIONS))}
    for form in FORMS:
        functions[form] = jax.jit(lambda d, y, p, form=form: plain(d, y, p, form))
    return {name: median_seconds(lambda f=f: f(data, labels, params), rounds)
            for name, f in functions.items()}


def _jax_or_exit(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    try:
        get_backend("jax")
    except BackendUnavailable as error:
        raise click.BadParameter(f"this probe needs JAX: {error.reason}", ctx, param) from None
    return value


@click.command(cls=OneLineCommand, help=__doc__.split("\n\n")[0],
               context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--rows", "rows", multiple=True, type=click.IntRange(min=1), default=(16, 32, 64, 128),
              show_default=True, help="Batch sizes M, repeatable.", callback=_jax_or_exit)
@click.option("--rounds", type=click.IntRange(min=3), default=7, show_default=True,
              help="Timed calls of each function per M, after one that compiles.")
def main(rows: tuple[int, ...], rounds: int) -> None:
    print(f"jax.jit on the CPU, float64, (Dx, H, Dy) = {DIMENSIONS}; medians of {rounds} calls")
    names = ("mlp_xp", *FORMS)
    print(f"{'M':>6}  " + "  ".join(f"{name:>10}" for name in names) + "  flat / blocks  rows / blocks")
    for M in rows:
        t = measure(M, rounds)
        times = "  ".join(f"{t[name] * 1e3:>7.2f} ms" for name in names)
        print(f"{M:>6}  {times}  {t['flat'] / t['blocks']:>13.2f}  {t['rows'] / t['blocks']:>12.2f}")


if __name__ == "__main__":
    main()
