"""What jax.jit of the training step gains: MLPClassifier's epoch on digits, on JAX, with and without it.

The estimators run their loss-and-gradient step under ``jax.jit`` when X is a JAX array
(``mlp_xp._estimator_host.compiled``). This script times the default Adam fit on digits
(split 0 of scripts/estimator_digits.py, relu (100,), batches of 200, float64) with the
step compiled and with ``compiled`` replaced by the identity (eager JAX), in interleaved
rounds, CPU time (JAX's threads all counted); the first two fits of each (the compiles)
are not timed. The ratio comes with a bootstrap interval (compare_peers.py's ``ratio_ci``).

Usage::

    python scripts/estimator_jax_jit.py     # writes benchmarks/results/estimator_jax_jit.md
"""

from __future__ import annotations

import pathlib
import platform
from functools import partial

import click
import jax
from compare_peers import CLOCKS, MIN_CI_ROUNDS, ratio_ci, time_interleaved  # this folder is on sys.path
from estimator_digits import fit_call, splits

import mlp_xp
import mlp_xp.estimators as estimators
from mlp_xp.backends import get_backend
from mlp_xp.cli import OneLineCommand

OUT = pathlib.Path(__file__).parents[1] / "benchmarks" / "results" / "estimator_jax_jit.md"


@click.command(cls=OneLineCommand, help=__doc__.split("\n\n")[0])
@click.option("--epochs", type=click.IntRange(1, 200), default=5, show_default=True,
              help="epochs per timed fit")
@click.option("--rounds", type=click.IntRange(MIN_CI_ROUNDS, 200), default=MIN_CI_ROUNDS, show_default=True,
              help="timed rounds (one fit of each per round, shuffled)")
@click.option("--out", default=str(OUT), show_default=True,
              help="file for the Markdown report, or - for stdout")
def main(epochs: int, rounds: int, out: str) -> None:
    b = get_backend("jax")
    X_train, _, y_train, _ = splits(1)[0]
    make = partial(mlp_xp.MLPClassifier, (100,), random_state=0)
    jitted = fit_call(make, b, X_train, y_train, epochs)
    compiled = estimators.compiled

    def eager() -> None:
        estimators.compiled = lambda f, like, **kw: f  # the step as eager JAX calls
        try:
            fit_call(make, b, X_train, y_train, epochs)()
        finally:
            estimators.compiled = compiled

    calls = {"jit": jitted, "eager": eager}
    t = time_interleaved(calls, min_time=0.0, min_rounds=rounds, clock=CLOCKS["cpu"])
    jit_s, eager_s = t["jit"].median_s / epochs, t["eager"].median_s / epochs
    lo, hi = ratio_ci(t["jit"], t["eager"]) or (float("nan"), float("nan"))
    text = "\n".join([
        "# MLPClassifier on JAX: the training step under jax.jit, and eager",
        "",
        f"`python scripts/estimator_jax_jit.py --epochs {epochs} --rounds {rounds}` on {platform.machine()}, "
        f"Python {platform.python_version()}, JAX {jax.__version__}, mlp_xp {mlp_xp.__version__}.",
        "",
        f"Digits split 0 (1347 x 64), relu (100,), Adam, batches of 200, float64, fits of {epochs} epochs, "
        f"{rounds} interleaved rounds, CPU time; first fit (compile) of the jitted step: "
        f"{t['jit'].first_s:.2f} s.",
        "",
        "| step | time per epoch (median) | jit / eager | 95% interval |",
        "|---|---|---|---|",
        f"| jax.jit | {1e3 * jit_s:.1f} ms | {jit_s / eager_s:.2f} | {lo:.2f} to {hi:.2f} |",
        f"| eager | {1e3 * eager_s:.1f} ms | 1.00 | |",
        "",
    ])
    click.echo(text, err=True)
    if out != "-":
        pathlib.Path(out).write_text(text)


if __name__ == "__main__":
    main()
