"""mlp_xp's estimators on synthetic problems: the speed of Adam on a large one, R² on a smooth one.

``speed``: the issue's 100,000 x 784 x 512 x 10 classification problem (float32, X standard
normal, the labels the argmax of a random linear map plus noise), one hidden layer of 512
relu units, Adam with scikit-learn's defaults (learning rate 1e-3, batches of 200,
alpha 1e-4). Three libraries train the same network: scikit-learn's MLPClassifier,
mlp_xp's MLPClassifier on NumPy, and a plain PyTorch loop (``nn.Linear``, ReLU,
``cross_entropy`` plus the same L2 penalty, ``torch.optim.Adam``, a ``randperm`` shuffle per
epoch). Each call is one epoch over the first ``--rows`` rows of the 100,000 (all of them
with ``--rows 100000``); the time of one epoch over all 100,000 is that times
``100000 / rows``: the batches are alike, so a subset of them times the epoch. Rounds take
one call of each in a shuffled order, CPU time at one thread (BLAS and torch set to 1);
the ratios come with a bootstrap interval (compare_peers.py's ``ratio_ci``).

``regression``: scikit-learn's ``make_friedman1`` (``10 sin(pi x1 x2) + 20 (x3 - 0.5)^2 + 10 x4
+ 5 x5``, smooth, with five more inputs that do not count), 2000 samples with noise 0.5, a
75/25 split, default hyperparameters of MLPRegressor (relu (100,), Adam, 200 epochs); the
test R² of scikit-learn's and of mlp_xp's on each backend, for ``random_state`` 0 to 4.

Usage (the figures in docs/estimators.md)::

    python scripts/estimator_synthetic.py speed        # writes benchmarks/results/estimator_speed.md
    python scripts/estimator_synthetic.py regression   # writes benchmarks/results/estimator_regression.md
"""

from __future__ import annotations

import pathlib
import platform
import warnings
from typing import Any

import click
import numpy as np
import sklearn
from compare_peers import CLOCKS, MIN_CI_ROUNDS, ratio_ci, time_interleaved  # this folder is on sys.path
from sklearn.datasets import make_friedman1
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SkClassifier
from sklearn.neural_network import MLPRegressor as SkRegressor
from threadpoolctl import threadpool_info, threadpool_limits

import mlp_xp
from mlp_xp.backends import BackendUnavailable, get_backend
from mlp_xp.cli import OneLineCommand, OneLineGroup

RESULTS = pathlib.Path(__file__).parents[1] / "benchmarks" / "results"
N, DX, H, DY = 100_000, 784, 512, 10
ALPHA, BATCH = 1e-4, 200


def classification_data(n: int = N, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n x 784`` float32 standard-normal rows and labels ``argmax(X W + noise)`` in 0..9.

    Examples
    --------
    >>> X, y = classification_data(5)
    >>> X.shape, X.dtype, y.shape
    ((5, 784), dtype('float32'), (5,))
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, DX), dtype=np.float32)
    W = rng.standard_normal((DX, DY), dtype=np.float32) / np.float32(np.sqrt(DX))
    y = np.argmax(X @ W + 0.5 * rng.standard_normal((n, DY), dtype=np.float32), axis=1)
    return X, y


def _fit_one_epoch(make: Any, X: Any, y: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # one epoch does not converge
        model = make().fit(X, y)
    if model.n_iter_ != 1:
        raise RuntimeError(f"{model!r} ran {model.n_iter_} epochs, not 1")


def torch_epoch(X: np.ndarray, y: np.ndarray) -> Any:
    """One epoch of a plain PyTorch loop: the same network, loss, penalty and Adam as scikit-learn's."""
    import torch

    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(DX, H), torch.nn.ReLU(), torch.nn.Linear(H, DY))
    weights = [model[0].weight, model[2].weight]

    def epoch() -> None:
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
        n = Xt.shape[0]
        for idx in torch.randperm(n).split(BATCH):
            Xb, yb = Xt[idx], yt[idx]
            optimizer.zero_grad(set_to_none=True)
            # scikit-learn's loss: mean cross-entropy plus alpha / 2 * |W|^2 / batch rows
            loss = torch.nn.functional.cross_entropy(model(Xb), yb)
            loss = loss + 0.5 * ALPHA * sum((W * W).sum() for W in weights) / Xb.shape[0]
            loss.backward()
            optimizer.step()
        float(loss.detach())  # read back, as the estimators do each epoch

    return epoch


def speed_report(rows: int, rounds: int) -> str:
    import torch

    X_all, y_all = classification_data()
    X, y = X_all[:rows], y_all[:rows]
    del X_all
    sk = lambda: SkClassifier((H,), max_iter=1, random_state=0, shuffle=True)  # noqa: E731
    ours = lambda: mlp_xp.MLPClassifier((H,), max_iter=1, random_state=0, shuffle=True)  # noqa: E731
    calls = {
        "scikit-learn": lambda: _fit_one_epoch(sk, X, y),
        "mlp_xp on numpy": lambda: _fit_one_epoch(ours, X, y),
        "plain PyTorch loop": torch_epoch(X, y),
    }
    torch.set_num_threads(1)
    with threadpool_limits(1):
        timings = time_interleaved(calls, min_time=0.0, min_rounds=rounds, clock=CLOCKS["cpu"])
    scale = N / rows
    blas = ", ".join(f"{p['internal_api']} {p['num_threads']} threads" for p in threadpool_info())
    lines = [
        "# One epoch of Adam on 100,000 x 784 x 512 x 10: mlp_xp, scikit-learn and a plain PyTorch loop",
        "",
        f"`python scripts/estimator_synthetic.py speed --rows {rows} --rounds {rounds}` "
        f"on {platform.machine()}, "
        f"Python {platform.python_version()}, scikit-learn {sklearn.__version__}, torch {torch.__version__}, "
        f"NumPy {np.__version__}, mlp_xp {mlp_xp.__version__}; BLAS: {blas}.",
        "",
        f"float32, one hidden layer of {H} relu units, Adam (lr 1e-3), batches of {BATCH}, alpha {ALPHA}. "
        f"Each call is one epoch over the first {rows:,} rows ({rows // BATCH} batches); the epoch over "
        f"all {N:,} rows is that times {scale:g}. {rounds} rounds, one call of each per round in a "
        "shuffled order, CPU time at one thread (BLAS and torch at 1 thread); the ratios are mlp_xp's "
        "median over the other's, with a 95% bootstrap interval over the rounds.",
        "",
        "| library | one epoch of 100,000 rows (median) | IQR | mlp_xp / this | 95% interval |",
        "|---|---|---|---|---|",
    ]
    mine = timings["mlp_xp on numpy"]
    for name, t in timings.items():
        q1, q3 = np.percentile(t.runs_s, [25, 75])
        ratio, ci = mine.median_s / t.median_s, ratio_ci(mine, t) if name != "mlp_xp on numpy" else None
        shown = f"{ci[0]:.2f} to {ci[1]:.2f}" if ci else ""
        lines.append(f"| {name} | {scale * t.median_s:.1f} s | {scale * q1:.1f} to {scale * q3:.1f} s | "
                     f"{ratio:.2f} | {shown} |")
        click.echo(lines[-1], err=True)
    return "\n".join(lines) + "\n"


def regression_report(backends: list[str], seeds: int) -> str:
    X, y = make_friedman1(n_samples=2000, noise=0.5, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    scores: dict[str, list[float]] = {"scikit-learn": []}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 200 epochs stop short of tol
        for seed in range(seeds):
            scores["scikit-learn"].append(SkRegressor(random_state=seed).fit(X_train, y_train)
                                          .score(X_test, y_test))
            for name in backends:
                b = get_backend(name)
                model = mlp_xp.MLPRegressor(random_state=seed).fit(b.asarray(X_train, "float64"),
                                                                   b.asarray(y_train, "float64"))
                scores.setdefault(f"mlp_xp on {name}", []).append(
                    model.score(b.asarray(X_test, "float64"), b.asarray(y_test, "float64")))
    lines = [
        "# MLPRegressor on make_friedman1: mlp_xp next to scikit-learn",
        "",
        f"`python scripts/estimator_synthetic.py regression {' '.join(f'--backend {b}' for b in backends)} "
        f"--seeds {seeds}` on {platform.machine()}, Python {platform.python_version()}, scikit-learn "
        f"{sklearn.__version__}, NumPy {np.__version__}, mlp_xp {mlp_xp.__version__}.",
        "",
        "`make_friedman1(n_samples=2000, noise=0.5, random_state=0)`, a 75/25 split (`random_state=0`), "
        "default hyperparameters (relu (100,), Adam, 200 epochs), float64; test R² for "
        f"`random_state` 0 to {seeds - 1}. The target: mlp_xp's mean at least scikit-learn's minus 0.02.",
        "",
        "| library | mean test R² | min | max | vs scikit-learn | target |",
        "|---|---|---|---|---|---|",
    ]
    sk_mean = float(np.mean(scores["scikit-learn"]))
    for name, s in scores.items():
        mean = float(np.mean(s))
        verdict = "" if name == "scikit-learn" else ("met" if mean >= sk_mean - 0.02 else "missed")
        lines.append(f"| {name} | {mean:.4f} | {min(s):.4f} | {max(s):.4f} | {mean - sk_mean:+.4f} "
                     f"| {verdict} |")
        click.echo(lines[-1], err=True)
    return "\n".join(lines) + "\n"


def _write(text: str, out: str) -> None:
    if out == "-":
        click.echo(text, nl=False)
    else:
        pathlib.Path(out).write_text(text)
        click.echo(f"wrote {out}", err=True)


@click.group(cls=OneLineGroup, help=__doc__.split("\n\n")[0])
def main() -> None:
    pass


@main.command(cls=OneLineCommand)
@click.option("--rows", type=click.IntRange(BATCH, N), default=20_000, show_default=True,
              help="rows of the 100,000 in each timed epoch (the epoch's time is scaled up)")
@click.option("--rounds", type=click.IntRange(MIN_CI_ROUNDS, 100), default=MIN_CI_ROUNDS, show_default=True,
              help="timed rounds (one epoch of each library per round, shuffled)")
@click.option("--out", default=str(RESULTS / "estimator_speed.md"), show_default=True,
              help="file for the Markdown report, or - for stdout")
def speed(rows: int, rounds: int, out: str) -> None:
    """One epoch of Adam on 100,000 x 784 x 512 x 10 against scikit-learn and a plain PyTorch loop."""
    try:
        import torch  # noqa: F401
    except ImportError:
        raise click.UsageError("speed needs torch for its plain PyTorch loop: pip install torch") from None
    _write(speed_report(rows, rounds), out)


@main.command(cls=OneLineCommand)
@click.option("--backend", "backends", multiple=True, default=("numpy", "torch"), show_default=True,
              help="mlp_xp backend to train on (repeatable)")
@click.option("--seeds", type=click.IntRange(1, 20), default=5, show_default=True,
              help="random_state 0 .. seeds-1 of both estimators")
@click.option("--out", default=str(RESULTS / "estimator_regression.md"), show_default=True,
              help="file for the Markdown report, or - for stdout")
def regression(backends: tuple[str, ...], seeds: int, out: str) -> None:
    """Test R² of MLPRegressor on make_friedman1, against scikit-learn's."""
    for name in backends:  # refuse before any work
        try:
            get_backend(name)
        except (ValueError, BackendUnavailable) as exc:
            raise click.BadParameter(str(exc), param_hint="--backend") from None
    _write(regression_report(list(backends), seeds), out)


if __name__ == "__main__":
    main()
