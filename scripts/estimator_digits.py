"""mlp_xp's MLPClassifier next to scikit-learn's on the digits data: test accuracy and time per epoch.

scikit-learn's bundled ``load_digits`` (1797 images of 8x8 pixels, 10 classes), stratified
75/25 splits with ``random_state`` 0 to 4, a StandardScaler fitted on the training part,
default hyperparameters (Adam, 200 epochs, batches of 200) and ``random_state=0``. For each
network (one hidden layer of 100 relu or logistic units, and two relu layers of 100) it
reports the mean test accuracy of scikit-learn's MLPClassifier and of mlp_xp's on every
backend asked for. Then the time per epoch on the first split: fits of ``--epochs`` epochs,
one of each library per round in a shuffled order, ``--rounds`` rounds (so that a noisy
machine slows all alike), CPU time at one thread; the median's ratio to scikit-learn's from
the same rounds, with a bootstrap interval (compare_peers.py's ``ratio_ci``). The first two
fits of each (JAX's compiles) are not timed.

Usage (the figures in docs/estimators.md)::

    python scripts/estimator_digits.py                                   # numpy, torch, jax
    python scripts/estimator_digits.py --backend numpy --splits 2 --rounds 15 --out -
"""

from __future__ import annotations

import pathlib
import platform
import sys
import warnings
from functools import partial
from typing import Any

import click
import numpy as np
import sklearn
from compare_peers import CLOCKS, MIN_CI_ROUNDS, ratio_ci, time_interleaved  # this folder is on sys.path
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SkClassifier
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_info as info
from threadpoolctl import threadpool_limits

import mlp_xp
from mlp_xp.backends import BackendUnavailable, get_backend
from mlp_xp.bench import Timing
from mlp_xp.cli import OneLineCommand


def threadpool_info() -> str:
    """The BLAS libraries and their thread counts, e.g. ``'openblas 2 threads'``."""
    return ", ".join(f"{p['internal_api']} {p['num_threads']} threads" for p in info()) or "no BLAS found"

NETWORKS = {"relu (100,)": ((100,), "relu"), "logistic (100,)": ((100,), "logistic"),
            "relu (100, 100)": ((100, 100), "relu")}
DEFAULT_OUT = pathlib.Path(__file__).parents[1] / "benchmarks" / "results" / "estimator_digits.md"


def splits(n_splits: int) -> list[tuple[np.ndarray, ...]]:
    """The stratified 75/25 splits ``random_state = 0 .. n_splits - 1``, scaled on their training part.

    Examples
    --------
    >>> X_train, X_test, y_train, y_test = splits(1)[0]
    >>> X_train.shape, X_test.shape
    ((1347, 64), (450, 64))
    """
    X, y = load_digits(return_X_y=True)
    out = []
    for seed in range(n_splits):
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y,
                                                            random_state=seed)
        scaler = StandardScaler().fit(X_train)
        out.append((scaler.transform(X_train), scaler.transform(X_test), y_train, y_test))
    return out


def fit_and_score(make: Any, backend: Any, X_train: np.ndarray, X_test: np.ndarray, y_train: np.ndarray,
                  y_test: np.ndarray) -> float:
    """Test accuracy of ``make()`` trained on the split (moved to ``backend``; ``None`` is NumPy as it is)."""
    if backend is not None:
        X_train, X_test = backend.asarray(X_train, "float64"), backend.asarray(X_test, "float64")
        y_train = backend.asarray(y_train, "int64")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a short run stops short of tol
        model = make().fit(X_train, y_train)
    return float(model.score(X_test, y_test))


def fit_call(make: Any, backend: Any, X_train: np.ndarray, y_train: np.ndarray, epochs: int) -> Any:
    """A call that fits ``make(max_iter=epochs)`` on data already on ``backend``; it checks all ran."""
    if backend is not None:
        X_train, y_train = backend.asarray(X_train, "float64"), backend.asarray(y_train, "int64")

    def call() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = make(max_iter=epochs).fit(X_train, y_train)  # ends with a value read back
        if model.n_iter_ != epochs:  # an early stop would make the time per epoch wrong
            raise RuntimeError(f"{model!r} stopped after {model.n_iter_} of {epochs} epochs")

    return call


def epoch_times(calls: dict[str, Any], epochs: int, min_rounds: int) -> dict[str, Timing]:
    """Seconds per epoch of each call (a fit of ``epochs`` epochs), in shuffled interleaved rounds,
    CPU time at one thread (torch's own pool too): steady on a shared machine."""
    if "torch" in sys.modules:
        import torch

        torch.set_num_threads(1)
    with threadpool_limits(1):
        timings = time_interleaved(calls, min_time=0.0, min_rounds=min_rounds, clock=CLOCKS["cpu"])
    return {name: Timing(t.first_s / epochs, tuple(r / epochs for r in t.runs_s))
            for name, t in timings.items()}


def report(backends: list[str], n_splits: int, epochs: int, rounds: int) -> str:
    data = splits(n_splits)
    lines = [
        "# MLPClassifier on load_digits: mlp_xp next to scikit-learn",
        "",
        f"`python scripts/estimator_digits.py {' '.join(f'--backend {b}' for b in backends)} "
        f"--splits {n_splits} --epochs {epochs} --rounds {rounds}`",
        f"on {platform.machine()} ({platform.processor() or 'cpu'}), Python {platform.python_version()}, "
        f"scikit-learn {sklearn.__version__}, mlp_xp {mlp_xp.__version__}, NumPy {np.__version__}.",
        "",
        f"Mean test accuracy over {n_splits} stratified 75/25 splits (random_state 0..{n_splits - 1}), "
        "default hyperparameters, float64. Time per epoch on split 0: fits of "
        f"{epochs} epochs, one of each library per round in a shuffled order, {rounds} rounds after a "
        "warm-up, CPU time at one thread (BLAS and torch limited to 1; JAX's XLA threads are all "
        f"counted, as CPU time); BLAS: {threadpool_info()}. The ratio is the median's to scikit-learn's "
        "median from the same rounds, with a 95% bootstrap interval over the rounds.",
        "",
        "| network | library | mean accuracy | vs scikit-learn | time per epoch (median) "
        "| vs scikit-learn | 95% interval |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, (hidden, activation) in NETWORKS.items():
        sk = partial(SkClassifier, hidden, activation=activation, random_state=0)
        ours = partial(mlp_xp.MLPClassifier, hidden, activation=activation, random_state=0)

        accuracy = {"scikit-learn": np.mean([fit_and_score(sk, None, *split) for split in data])}
        X_train, _, y_train, _ = data[0]
        calls = {"scikit-learn": fit_call(sk, None, X_train, y_train, epochs)}
        for name in backends:
            b = get_backend(name)
            accuracy[f"mlp_xp on {name}"] = np.mean([fit_and_score(ours, b, *split) for split in data])
            calls[f"mlp_xp on {name}"] = fit_call(ours, b, X_train, y_train, epochs)
        times = epoch_times(calls, epochs, rounds)
        sk_acc, sk_time = accuracy["scikit-learn"], times["scikit-learn"]
        for name, acc in accuracy.items():
            t = times[name]
            ratio = t.median_s / sk_time.median_s
            ci = ratio_ci(t, sk_time) if name != "scikit-learn" else None
            shown = f"{ci[0]:.2f} to {ci[1]:.2f}" if ci else ""
            lines.append(f"| {label} | {name} | {acc:.4f} | {100 * (acc - sk_acc):+.2f} points | "
                         f"{1e3 * t.median_s:.2f} ms | {ratio:.2f} | {shown} |")
            click.echo(lines[-1], err=True)
    return "\n".join(lines) + "\n"


@click.command(cls=OneLineCommand, help=__doc__.split("\n\n")[0])
@click.option("--backend", "backends", multiple=True, default=("numpy", "torch", "jax"), show_default=True,
              help="mlp_xp backend to train on (repeatable)")
@click.option("--splits", "n_splits", type=click.IntRange(1, 20), default=5, show_default=True,
              help="number of splits (random_state 0 .. splits-1)")
@click.option("--epochs", type=click.IntRange(1, 200), default=20, show_default=True,
              help="epochs of each timed fit")
@click.option("--rounds", type=click.IntRange(MIN_CI_ROUNDS, 200), default=21, show_default=True,
              help="timed rounds (one fit of each library per round, shuffled)")
@click.option("--out", default=str(DEFAULT_OUT), show_default=True,
              help="file for the Markdown report, or - for stdout")
def main(backends: tuple[str, ...], n_splits: int, epochs: int, rounds: int, out: str) -> None:
    for name in backends:  # refuse before any work
        try:
            get_backend(name)
        except (ValueError, BackendUnavailable) as exc:
            raise click.BadParameter(str(exc), param_hint="--backend") from None
    text = report(list(backends), n_splits, epochs, rounds)
    if out == "-":
        click.echo(text, nl=False)
    else:
        pathlib.Path(out).write_text(text)
        click.echo(f"wrote {out}", err=True)


if __name__ == "__main__":
    main()
