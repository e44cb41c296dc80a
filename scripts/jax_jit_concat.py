"""Why ``jax.jit`` of a backprop can be slow at some batch sizes on the CPU, and mlp_xp's way out.

Run: ``flock /tmp/mlp_xp_bench.lock python scripts/jax_jit_concat.py [--rows M ...]``

In the bench's sweep at (784, 512, 10), compiled JAX took up to 13 times eager JAX's time at
some M (2 to 32, 128, 256) and not at others, when ``forward_backward_prop`` returned its
gradient as one concatenation of the four flattened blocks. This times, under ``jax.jit`` on
the JAX CPU backend, in float64, at each M:

- ``mlp_xp``: :func:`mlp_xp.forward_backward_prop` (its gradient joined as ``rows`` is);
- ``flat``: the same cost and gradient written plainly with ``jax.numpy``, the gradient one
  concatenation of the flattened ``dW1, db1, dW2, db2``;
- ``rows``: the same, each layer's ``[dW; db]`` concatenated by rows first, then flattened,
  then the layers concatenated (the same vector; what mlp_xp does);
- ``blocks``: the same function returning the four blocks, not concatenated.

Where ``flat`` is much slower than ``blocks``, the one concatenation is what costs; why is not
known (in the compiled program the products stay separate ``dot`` operations in both forms).
Median and IQR of ``--rounds`` calls of each after a warm-up, wall clock, the functions
called in turn within each round so that a drift of the machine hits them all alike.
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


def interleaved_seconds(calls: dict[str, Callable[[], Any]], rounds: int) -> dict[str, tuple[float, float]]:
    """``(median, IQR)`` seconds of each call, timed once per round in turn, after one call that compiles."""
    import jax

    for f in calls.values():
        jax.block_until_ready(f())
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, f in calls.items():
            start = time.perf_counter()
            jax.block_until_ready(f())
            times[name].append(time.perf_counter() - start)
    out = {}
    for name, t in times.items():
        q1, _, q3 = statistics.quantiles(t, n=4)
        out[name] = (statistics.median(t), q3 - q1)
    return out


def measure(M: int, rounds: int) -> dict[str, tuple[float, float]]:
    """``(median, IQR)`` seconds of the four jitted functions at batch size ``M``."""
    import jax

    b = get_backend("jax")
    rng = np.random.default_rng(0)
    data = b.asarray(rng.standard_normal((M, DIMENSIONS[0])), "float64")
    labels = b.asarray(np.eye(DIMENSIONS[-1])[rng.integers(0, DIMENSIONS[-1], M)], "float64")
    params = b.asarray(0.05 * rng.standard_normal(param_layout(DIMENSIONS).size), "float64")
    functions = {"mlp_xp": jax.jit(lambda d, y, p: forward_backward_prop(d, y, p, DIMENSIONS))}
    for form in FORMS:
        functions[form] = jax.jit(lambda d, y, p, form=form: plain(d, y, p, form))
    return interleaved_seconds({name: lambda f=f: f(data, labels, params) for name, f in functions.items()},
                               rounds)


def _jax_or_exit(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    try:
        get_backend("jax")
    except BackendUnavailable as error:
        raise click.UsageError(f"this probe needs JAX: {error.reason}", ctx) from None
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
    print(f"{'M':>6}  " + "  ".join(f"{name + ' ms (IQR)':>18}" for name in names)
          + "  flat / blocks  rows / blocks")
    for M in rows:
        t = measure(M, rounds)
        times = "  ".join(f"{t[name][0] * 1e3:>9.2f} ({t[name][1] * 1e3:>6.2f})" for name in names)
        median = {name: t[name][0] for name in names}
        print(f"{M:>6}  {times}  {median['flat'] / median['blocks']:>13.2f}  "
              f"{median['rows'] / median['blocks']:>12.2f}")


if __name__ == "__main__":
    main()
