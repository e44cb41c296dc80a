"""Deep networks on NumPy: forward_backward_prop against its own matrix products and torch autograd.

For each shape ``M x D0 x D1 x ... x DL`` (sigmoid hidden layers, softmax cross-entropy), one
run times, in interleaved rounds:

- mlp_xp: ``forward_backward_prop`` on NumPy arrays;
- floor: the network's ``3L - 1`` matrix products alone, on the same arrays;
- torch: autograd of the same loss (``torch.sigmoid``, ``log_softmax``), backward included.

It prints the medians and the ratios mlp_xp/floor and mlp_xp/torch with 95% bootstrap
intervals over the rounds (resampled whole). By default one BLAS thread and CPU time (steady on
a shared machine); ``--threads 0`` keeps the machine's default and times the wall clock::

    python scripts/deep_costs.py                       # about 3 minutes
    python scripts/deep_costs.py --threads 0 --rounds 15
"""

from __future__ import annotations

import time

import click
import numpy as np
from threadpoolctl import threadpool_limits

from mlp_xp import forward_backward_prop, param_layout

SHAPES = ("4096x784x512x512x10", "2048x1024x1024x1024x1024")


def _parse(text: str) -> tuple[int, ...]:
    parts = text.split("x")
    if len(parts) < 3 or not all(p.isdecimal() and int(p) > 0 for p in parts):
        raise click.BadParameter(f"expected M x D0 x ... x DL, positive integers joined by 'x', got {text!r}")
    return tuple(int(p) for p in parts)


def problem(M: int, dims: tuple[int, ...], dtype: str):
    rng = np.random.default_rng(0)
    data = rng.standard_normal((M, dims[0])).astype(dtype)
    labels = np.eye(dims[-1], dtype=dtype)[rng.integers(0, dims[-1], M)]
    blocks = [rng.standard_normal(b.shape) / (np.sqrt(b.shape[0]) if len(b.shape) == 2 else 1.0)
              for b in param_layout(dims)]
    params = np.concatenate([b.ravel() for b in blocks]).astype(dtype)
    return data, labels, params


def floor_call(data, labels, params, dims):
    """The 3L - 1 products: a(l-1) Wl forward, a(l-1)^T delta_l and delta_l Wl^T backward (not for l = 1)."""
    blocks = list(param_layout(dims))
    W = [params[b.offset : b.stop].reshape(b.shape) for b in blocks[0::2]]
    rng = np.random.default_rng(1)
    acts = [data] + [rng.standard_normal((data.shape[0], w.shape[1])).astype(data.dtype) for w in W]

    def run():
        out = [acts[i] @ W[i] for i in range(len(W))]
        out += [acts[i].T @ acts[i + 1] for i in range(len(W))]
        out += [acts[i + 1] @ W[i].T for i in range(1, len(W))]
        return out

    return run


def torch_call(data, labels, params, dims):
    import torch

    blocks = list(param_layout(dims))
    p = torch.from_numpy(params.copy()).requires_grad_(True)
    x, y = torch.from_numpy(data), torch.from_numpy(labels)

    def run():
        p.grad = None
        a = x
        for i in range(0, len(blocks) - 2, 2):
            W, b = (p[blk.offset : blk.stop].reshape(blk.shape) for blk in blocks[i : i + 2])
            a = torch.sigmoid(a @ W + b)
        W, b = (p[blk.offset : blk.stop].reshape(blk.shape) for blk in blocks[-2:])
        cost = -(y * torch.log_softmax(a @ W + b, dim=1)).sum()
        cost.backward()
        return cost

    return run


def interval(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """Median of per-round ratios a/b and its 95% bootstrap interval (rounds resampled whole)."""
    ratios = a / b
    boot = np.random.default_rng(0).choice(ratios, (2000, len(ratios)))
    lo, hi = np.percentile(np.median(boot, axis=1), [2.5, 97.5])
    return float(np.median(ratios)), float(lo), float(hi)


@click.command(help=__doc__.split("\n\n")[0])
@click.option("--shape", "shapes", multiple=True, default=SHAPES, show_default=True, metavar="MxD0x...xDL",
              help="Repeatable.")
@click.option("--dtype", "dtypes", multiple=True, type=click.Choice(["float64", "float32"]),
              default=("float64", "float32"), show_default=True, help="Repeatable.")
@click.option("--rounds", type=click.IntRange(min=3), default=15, show_default=True,
              help="Interleaved rounds; each times every contender once.")
@click.option("--threads", type=click.IntRange(min=0), default=1, show_default=True,
              help="BLAS and torch threads; 0 keeps the machine's default and times the wall clock.")
def main(shapes: tuple[str, ...], dtypes: tuple[str, ...], rounds: int, threads: int) -> None:
    import torch

    parsed = [_parse(s) for s in shapes]
    clock = time.perf_counter if threads == 0 else time.process_time
    if threads:
        torch.set_num_threads(threads)
    how = "wall clock, default threads" if threads == 0 else f"CPU time, {threads} thread(s)"
    click.echo(f"{how}; {rounds} interleaved rounds; sigmoid hidden layers, softmax output; "
               f"torch {torch.__version__}")
    with threadpool_limits(threads or None):
        for shape in parsed:
            M, dims = shape[0], shape[1:]
            for dtype in dtypes:
                data, labels, params = problem(M, dims, dtype)
                calls = {
                    "mlp_xp": lambda d=data, y=labels, p=params, n=dims: forward_backward_prop(d, y, p, n),
                    "floor": floor_call(data, labels, params, dims),
                    "torch": torch_call(data, labels, params, dims),
                }
                for f in calls.values():
                    f()  # warm-up
                times = {name: [] for name in calls}
                for _ in range(rounds):
                    for name, f in calls.items():
                        t = clock()
                        f()
                        times[name].append(clock() - t)
                t = {k: np.asarray(v) for k, v in times.items()}
                r_floor, r_torch = interval(t["mlp_xp"], t["floor"]), interval(t["mlp_xp"], t["torch"])
                click.echo(
                    f"{'x'.join(map(str, shape))} {dtype}: mlp_xp {np.median(t['mlp_xp']) * 1e3:.1f} ms, "
                    f"floor ({3 * len(dims) - 4} products) {np.median(t['floor']) * 1e3:.1f} ms, "
                    f"torch {np.median(t['torch']) * 1e3:.1f} ms; mlp_xp/floor {r_floor[0]:.3f} "
                    f"[{r_floor[1]:.3f}, {r_floor[2]:.3f}], mlp_xp/torch {r_torch[0]:.3f} "
                    f"[{r_torch[1]:.3f}, {r_torch[2]:.3f}]"
                )


if __name__ == "__main__":
    main()
