"""Compare mlp_xp's ``forward_backward_prop`` with its peers on the CPU: time, peak memory, agreement.

On the same data, dtype and threads, one forward and backward pass of a network with sigmoid
hidden layers and a softmax output, ``M x D0 x D1 x ... x DL`` (the seed's two-layer network
is ``M x Dx x H x Dy``), by:

- ``mlp_xp``: :func:`mlp_xp.forward_backward_prop` on NumPy arrays;
- ``seed``: the seed exercise's plain NumPy code (:func:`seed_forward_backward_prop`, kept
  here as the baseline), for two-layer networks;
- ``products``: the network's ``3L - 1`` matrix products alone (for two layers ``data W1``,
  ``h W2``, ``h^T delta1``, ``delta1 W2^T``, ``data^T delta3``), the floor any
  implementation pays;
- ``torch``: PyTorch autograd of the same cost, with ``torch.set_num_threads`` set to the
  BLAS thread count that threadpoolctl reports;
- ``jax``: ``jax.jit(jax.value_and_grad(cost))``, where JAX is installed (its first call,
  which compiles, is reported apart).

Calls are interleaved: every round calls each implementation once, in a shuffled order, so
the drifts of a shared machine hit them all alike; ratios of medians measured in one run
are what the report compares. Each time ratio comes with a 95% bootstrap interval over the
rounds (:func:`ratio_ci`), and a target counts as met only when the whole interval is
within it: "on the line" when the interval straddles the limit (run more rounds). Below
``MIN_CI_ROUNDS`` rounds a time ratio gets no interval and no verdict.

Peak memory is what ``tracemalloc`` sees allocated during one call (NumPy reports its
buffers to it; PyTorch and JAX do not, so they have none). A two-layer network's is judged
against the seed's; a deeper one's against :func:`memory_bound`, the activations kept for
the backward pass plus one layer's temporaries. The agreement columns are each
peer's largest difference from mlp_xp: the cost's relative difference and the gradient's
largest absolute difference over its largest entry.

Thread pools: ``--threads`` limits NumPy's BLAS (threadpoolctl), PyTorch
(``torch.set_num_threads``) and, for one thread, XLA; without it the BLAS's own count is
used for all. PyTorch's OpenMP threads are made to sleep when idle (``OMP_WAIT_POLICY=PASSIVE``,
unless set): spinning threads of one library in the same process would slow the next
library's calls, and the interleaving puts them side by side.

Run it alone on the machine (other benchmarks take the same lock)::

    flock /tmp/mlp_xp_bench.lock python scripts/compare_peers.py --json peers.json
    flock /tmp/mlp_xp_bench.lock python scripts/compare_peers.py -s 2048x256x2048x256 -d float64 --min-time 3
    python scripts/compare_peers.py -s 4096x784x512x512x10 -s 2048x1024x1024x1024x1024 --clock cpu --threads 1
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads its OpenMP runtime

import gc
import itertools
import json
import math
import random
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import click
import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from mlp_xp import forward_backward_prop, param_layout
from mlp_xp.backends import BackendUnavailable, get_backend
from mlp_xp.bench import Timing, environment
from mlp_xp.problems import random_problem

SHAPES = ("20x10x5x10", "4096x784x512x10", "4096x1024x1024x1024", "2048x256x2048x256",
          "4096x784x512x512x10", "2048x1024x1024x1024x1024")
DTYPES = ("float64", "float32")
PEERS = ("torch", "jax")
#: The issues' targets: mlp_xp / products per dtype (two layers; deeper: DEEP_TARGET); peak
#: memory / seed's (two layers; deeper: / memory_bound, at most 1); small size / seed's.
PRODUCTS_TARGET = {"float64": 1.10, "float32": 1.15}
DEEP_TARGET = 1.10
MEMORY_TARGET = 0.65
SMALL_TARGET = 1.25
TORCH_TARGET = 1.0
#: Below this many floating-point operations a shape is "small": judged against the seed's time.
SMALL_FLOPS = 2 * 10**6
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
#: Fewer rounds than this give no interval (and no verdict) for a time ratio.
MIN_CI_ROUNDS = 15
#: Each timed sample lasts at least this long (tiny shapes repeat the call within a sample).
MIN_SAMPLE_S = 2e-3


@dataclass(frozen=True)
class Net:
    """``M`` examples through a network of dimensions ``(D0, ..., DL)``: sigmoid layers, softmax out."""

    M: int
    dimensions: tuple[int, ...]

    @classmethod
    def parse(cls, text: str) -> Net:
        parts = text.lower().split("x")
        if len(parts) < 3 or not all(p.strip().isdecimal() and int(p) > 0 for p in parts):
            raise ValueError(f"expected M x D0 x ... x DL, at least three positive integers joined by 'x' "
                             f"(e.g. 4096x784x512x10), got {text!r}")
        return cls(int(parts[0]), tuple(int(p) for p in parts[1:]))

    @property
    def layers(self) -> int:
        return len(self.dimensions) - 1

    @cached_property
    def flops(self) -> int:
        """Floating-point operations of the ``3L - 1`` products (2 per multiply-add)."""
        pairs = list(itertools.pairwise(self.dimensions))
        return 2 * self.M * (2 * sum(a * b for a, b in pairs) + sum(a * b for a, b in pairs[1:]))

    def __str__(self) -> str:
        return "x".join(map(str, (self.M, *self.dimensions)))


def memory_bound(net: Net, itemsize: int) -> int:
    """Bytes of the activations kept for backprop plus one layer's temporaries, and the gradient.

    The hidden activations ``M x D1, ..., M x D(L-1)``; two ``M x D`` arrays of the widest
    layer (a layer's pre-activation and its activation, or a delta and the next one); the
    gradient twice (each layer's rows, then their concatenation).
    """
    M, dims = net.M, net.dimensions
    return itemsize * (M * sum(dims[1:-1]) + 2 * M * max(dims[1:]) + 2 * param_layout(dims).size)


def products_floor(net: Net, dtype: str, seed: int) -> Callable[[], list[np.ndarray]]:
    """The network's ``3L - 1`` matrix products alone, on random NumPy operands of its shapes.

    Forward ``a(l-1) Wl`` for every layer; backward ``a(l-1)^T delta_l`` for every layer and
    ``delta_l Wl^T`` for every layer but the first (no gradient with respect to the data).
    """
    rng = np.random.default_rng(seed)
    dims = net.dimensions
    W = [rng.standard_normal(s).astype(dtype) for s in itertools.pairwise(dims)]
    a = [rng.standard_normal((net.M, d)).astype(dtype) for d in dims]  # a[l]: layer l's output or delta

    def call() -> list[np.ndarray]:
        out = [a[i] @ W[i] for i in range(len(W))]
        out += [a[i].T @ a[i + 1] for i in range(len(W))]
        return out + [a[i + 1] @ W[i].T for i in range(1, len(W))]

    return call


def seed_forward_backward_prop(data, labels, params, dimensions):
    """The seed's code (CS224n 2017 ``q2_neural``), with its ``sigmoid`` and ``softmax`` inlined."""
    ofs = 0
    Dx, H, Dy = (dimensions[0], dimensions[1], dimensions[2])
    W1 = np.reshape(params[ofs : ofs + Dx * H], (Dx, H))
    ofs += Dx * H
    b1 = np.reshape(params[ofs : ofs + H], (1, H))
    ofs += H
    W2 = np.reshape(params[ofs : ofs + H * Dy], (H, Dy))
    ofs += H * Dy
    b2 = np.reshape(params[ofs : ofs + Dy], (1, Dy))

    h = 1 / (1 + np.exp(-(np.dot(data, W1) + b1)))  # q2_sigmoid.sigmoid
    z = np.dot(h, W2) + b2  # q1_softmax.softmax, row-wise
    e = np.exp(z - np.max(z, axis=1, keepdims=True))
    yhat = e / np.sum(e, axis=1, keepdims=True)
    cost = np.sum(-np.log(yhat[labels == 1]))

    d1 = yhat - labels
    gradW2 = np.dot(h.T, d1)
    gradb2 = np.sum(d1, 0, keepdims=True)
    d2 = np.dot(d1, W2.T)
    d3 = h * (1 - h) * d2  # q2_sigmoid.sigmoid_grad(h) * d2
    gradW1 = np.dot(data.T, d3)
    gradb1 = np.sum(d3, 0)
    grad = np.concatenate((gradW1.flatten(), gradb1.flatten(), gradW2.flatten(), gradb2.flatten()))
    return cost, grad


def blas_threads() -> int:
    """Threads of NumPy's BLAS, as threadpoolctl sees them (1 if it sees none)."""
    return max([i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"], default=1)


def _pairs(p: Any, net: Net) -> list[tuple[Any, Any]]:
    """``(Wl, bl)`` of every layer, views into the flat parameters ``p`` (torch or JAX)."""
    blocks = list(param_layout(net.dimensions))
    return [(p[w.offset : w.stop].reshape(w.shape), p[b.offset : b.stop])
            for w, b in zip(blocks[0::2], blocks[1::2], strict=True)]


def _torch(net: Net, host: tuple[np.ndarray, ...], dtype: str) -> Callable[[], Any]:
    """PyTorch autograd of the same cost: Linear layers (``addmm``), sigmoid, cross-entropy."""
    import torch
    import torch.nn.functional as fn

    b = get_backend("torch")
    torch.set_num_threads(blas_threads())
    data, labels, params = (b.asarray(a, dtype) for a in host)

    def call() -> tuple[Any, Any]:
        p = params.detach().requires_grad_()
        *hidden, (WL, bL) = _pairs(p, net)
        a = data
        for W, bias in hidden:
            a = torch.sigmoid(torch.addmm(bias, a, W))
        # class-probability targets: -sum(labels * log_softmax(zL)), summed over rows
        cost = fn.cross_entropy(torch.addmm(bL, a, WL), labels, reduction="sum")
        (grad,) = torch.autograd.grad(cost, p)
        return cost.detach(), grad

    return call


def _jax(net: Net, host: tuple[np.ndarray, ...], dtype: str) -> Callable[[], Any]:
    """``jax.jit(jax.value_and_grad(cost))`` of the same cost (the backend turns on float64)."""
    b = get_backend("jax")
    import jax
    import jax.numpy as jnp

    data, labels, params = (b.asarray(a, dtype) for a in host)

    def cost(p, data, labels):
        *hidden, (WL, bL) = _pairs(p, net)
        a = data
        for W, bias in hidden:
            a = jax.nn.sigmoid(a @ W + bias)
        return -jnp.sum(labels * jax.nn.log_softmax(a @ WL + bL, axis=1))

    f = jax.jit(jax.value_and_grad(cost))
    return lambda: jax.block_until_ready(f(params, data, labels))


def peak_bytes(f: Callable[[], Any]) -> int:
    """Most bytes ``tracemalloc`` saw allocated at once during ``f()``, above what was there before."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        result = f()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    del result
    return peak - before


def time_interleaved(
    calls: dict[str, Callable[[], Any]],
    min_time: float,
    min_rounds: int,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, Timing]:
    """Median-ready timings of every call, measured in rounds that call each once, shuffled.

    The first call of each is timed alone (compilation, caches); a second is a warm-up.
    Calls that take less than ``MIN_SAMPLE_S`` are repeated within one sample. The rounds
    go on until ``min_time`` seconds of wall-clock time and ``min_rounds`` have passed.
    """
    first, number = {}, {}
    for name, f in calls.items():
        start = clock()
        f()
        first[name] = clock() - start
        start = clock()
        f()
        number[name] = max(1, math.ceil(MIN_SAMPLE_S / max(clock() - start, 1e-9)))
    runs: dict[str, list[float]] = {name: [] for name in calls}
    names = list(calls)
    start_all = time.perf_counter()
    while len(runs[names[0]]) < min_rounds or time.perf_counter() - start_all < min_time:
        random.shuffle(names)
        for name in names:
            f, n = calls[name], number[name]
            start = clock()
            for _ in range(n):
                f()
            runs[name].append((clock() - start) / n)
    return {name: Timing(first[name], tuple(runs[name])) for name in calls}


@dataclass
class Result:
    """One implementation at one shape and dtype."""

    shape: Net
    dtype: str
    impl: str
    timing: Timing
    peak_bytes: int | None
    cost_diff: float | None
    grad_diff: float | None


def _agreement(reference: tuple[np.ndarray, np.ndarray], other: tuple[Any, Any]) -> tuple[float, float]:
    cost0, grad0 = (np.asarray(a, dtype=np.float64) for a in reference)
    cost, grad = (np.asarray(a, dtype=np.float64) for a in other)
    return (
        float(abs(cost - cost0) / abs(cost0)),
        float(np.max(np.abs(grad - grad0)) / np.max(np.abs(grad0))),
    )


def compare(
    shape: Net, dtype: str, peers: tuple[str, ...], min_time: float, min_rounds: int,
    clock: Callable[[], float] = time.perf_counter,
) -> list[Result]:
    """Time, measure and cross-check every implementation at one shape and dtype."""
    host = random_problem(shape.M, shape.dimensions, seed=0)
    data, labels, params = (a.astype(dtype) for a in host)
    dims = shape.dimensions
    calls: dict[str, Callable[[], Any]] = {
        "mlp_xp": lambda: forward_backward_prop(data, labels, params, dims)}
    if shape.layers == 2:
        calls["seed"] = lambda: seed_forward_backward_prop(data, labels, params, dims)
    calls["products"] = products_floor(shape, dtype, seed=1)
    for peer, make in (("torch", _torch), ("jax", _jax)):
        if peer in peers:
            try:
                calls[peer] = make(shape, host, dtype)
            except BackendUnavailable as e:
                click.echo(f"# {peer} left out: {e.reason}", err=True)
    reference = calls["mlp_xp"]()
    timings = time_interleaved(calls, min_time, min_rounds, clock)
    results = []
    for name, f in calls.items():
        numpy_path = name in ("mlp_xp", "seed", "products")
        diff = (None, None) if name == "products" else _agreement(reference, f())
        results.append(
            Result(shape, dtype, name, timings[name], peak_bytes(f) if numpy_path else None, *diff)
        )
    return results


def _fmt(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def _by(results: list[Result]) -> dict[tuple[str, str, str], Result]:
    return {(str(r.shape), r.dtype, r.impl): r for r in results}


def results_table(results: list[Result]) -> str:
    """Markdown: one line per implementation, shape and dtype."""
    by = _by(results)
    lines = [
        "| M x D0 x ... x DL | dtype | implementation | median ms | IQR ms | / products | mlp_xp / it "
        "| peak MiB | cost diff | grad diff | first call ms |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        key = (str(r.shape), r.dtype)
        t = r.timing.median_s
        floor = by[(*key, "products")].timing.median_s
        ours = by[(*key, "mlp_xp")].timing.median_s
        mib = None if r.peak_bytes is None else r.peak_bytes / 2**20
        lines.append(
            f"| {r.shape} | {r.dtype} | {r.impl} | {t * 1e3:.3g} | {r.timing.iqr_s * 1e3:.2g} "
            f"| {t / floor:.2f} | {ours / t:.2f} | {_fmt(mib, '.3g')} "
            f"| {_fmt(r.cost_diff, '.1e')} | {_fmt(r.grad_diff, '.1e')} | {r.timing.first_s * 1e3:.3g} |"
        )
    return "\n".join(lines)


def summary_table(results: list[Result]) -> str:
    """Markdown: one line per shape and dtype, every time as a multiple of the products' time."""
    by = _by(results)
    impls = [i for i in ("mlp_xp", "seed", "torch", "jax") if any(r.impl == i for r in results)]
    lines = [
        "| M x D0 x ... x DL | dtype | products ms | " + " | ".join(f"{i} / products" for i in impls)
        + " | peak MiB: mlp_xp, seed or bound |",
        "| --- | --- | ---: | " + " | ".join("---:" for _ in impls) + " | ---: |",
    ]
    for shape, dtype in dict.fromkeys((str(r.shape), r.dtype) for r in results):
        floor = by[(shape, dtype, "products")].timing.median_s
        ratios = [by.get((shape, dtype, i)) for i in impls]
        seed = by.get((shape, dtype, "seed"))
        bound = seed.peak_bytes if seed else memory_bound(Net.parse(shape), np.dtype(dtype).itemsize)
        peaks = [by[(shape, dtype, "mlp_xp")].peak_bytes / 2**20, bound / 2**20]
        lines.append(
            f"| {shape} | {dtype} | {floor * 1e3:.3g} | "
            + " | ".join("-" if r is None else f"{r.timing.median_s / floor:.2f}" for r in ratios)
            + f" | {peaks[0]:.3g}, {peaks[1]:.3g} |"
        )
    return "\n".join(lines)


def ratio_ci(ours: Timing, theirs: Timing, level: float = 0.95,
             n_boot: int = 4000) -> tuple[float, float] | None:
    """Bootstrap interval of ``median(ours) / median(theirs)``, resampling whole rounds.

    Round ``i`` timed both calls side by side, so the pair ``(ours.runs_s[i], theirs.runs_s[i])``
    shares that moment's load; resampling pairs keeps what they share. The seed is fixed, so
    a saved run always prints the same interval. ``None`` below ``MIN_CI_ROUNDS`` rounds, where
    a bootstrap of a median is too coarse to mean much.
    """
    a, b = np.asarray(ours.runs_s), np.asarray(theirs.runs_s)
    if len(a) != len(b):
        raise ValueError(f"ratio_ci needs one run of each per round, got {len(a)} and {len(b)} runs")
    if len(a) < MIN_CI_ROUNDS:
        return None
    idx = np.random.default_rng(0).integers(0, len(a), size=(n_boot, len(a)))
    ratios = np.median(a[idx], axis=1) / np.median(b[idx], axis=1)
    lo, hi = np.quantile(ratios, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def verdict(value: float, limit: float, ci: tuple[float, float] | None) -> str:
    """``met`` or ``missed`` where the whole interval is on one side of the limit, else ``on the line``.

    ``ci=None`` means the value is exact (a byte count), so it alone decides.
    """
    lo, hi = ci if ci is not None else (value, value)
    return "met" if hi <= limit else "missed" if lo > limit else "on the line"


def _target(ours: Result, what: str, value: float, limit: float, ci: tuple[float, float] | None,
            judged: str | None = None) -> dict[str, Any]:
    judged = judged or verdict(value, limit, ci)
    return {"shape": str(ours.shape), "dtype": ours.dtype, "what": what, "value": value, "ci95": ci,
            "target": limit, "met": judged == "met", "verdict": judged}


def _time_target(ours: Result, what: str, other: Result, limit: float) -> dict[str, Any]:
    value = ours.timing.median_s / other.timing.median_s
    ci = ratio_ci(ours.timing, other.timing)
    return _target(ours, what, value, limit, ci, None if ci else "too few rounds")


def targets(results: list[Result]) -> list[dict[str, Any]]:
    """The issue's targets, each with its measured value, its 95% interval, and the verdict."""
    by = _by(results)
    out = []
    for shape, dtype in dict.fromkeys((str(r.shape), r.dtype) for r in results):
        net, ours, seed = Net.parse(shape), by[(shape, dtype, "mlp_xp")], by.get((shape, dtype, "seed"))
        if seed and net.flops < SMALL_FLOPS:
            out.append(_time_target(ours, "time / seed's", seed, SMALL_TARGET))
            continue
        products = by[(shape, dtype, "products")]
        limit = PRODUCTS_TARGET[dtype] if seed else DEEP_TARGET
        out.append(_time_target(ours, "time / products", products, limit))
        # tracemalloc counts bytes: exact, no interval
        if seed:
            out.append(_target(ours, "peak memory / seed's", ours.peak_bytes / seed.peak_bytes,
                               MEMORY_TARGET, None))
        else:
            bound = memory_bound(net, np.dtype(dtype).itemsize)
            out.append(_target(ours, "peak memory / bound", ours.peak_bytes / bound, 1.0, None))
        if (shape, dtype, "torch") in by:
            out.append(_time_target(ours, "time / torch's", by[(shape, dtype, "torch")], TORCH_TARGET))
    return out


def targets_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| M x D0 x ... x DL | dtype | mlp_xp's | measured | 95% interval | target | met |",
             "| --- | --- | --- | ---: | ---: | ---: | --- |"]
    for t in rows:
        ci = "-" if t["ci95"] is None else f"{t['ci95'][0]:.3f} to {t['ci95'][1]:.3f}"
        lines.append(f"| {t['shape']} | {t['dtype']} | {t['what']} | {t['value']:.3f} | {ci} "
                     f"| <= {t['target']:.2f} | {_VERDICTS.get(t['verdict'], t['verdict'])} |")
    return "\n".join(lines)


_VERDICTS = {"met": "yes", "missed": "NO"}  # "on the line" and "too few rounds" print as they are


def _parse_shape(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> list[Net]:
    try:
        return [Net.parse(v) for v in values]
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


def _finite(seconds: float) -> float:
    """A --min-time that is a number: click's range lets nan through (it compares false)."""
    if not math.isfinite(seconds):
        raise click.BadParameter(f"expected a finite number of seconds, got {seconds}")
    return seconds


@click.command(help=__doc__.split("\n\n")[0])
@click.option("-s", "--shape", "shapes", multiple=True, default=SHAPES, show_default=True,
              callback=_parse_shape, help="M x D0 x ... x DL (sigmoid hidden layers), repeatable.")
@click.option("-d", "--dtype", "dtypes", multiple=True, default=DTYPES, show_default=True,
              type=click.Choice(DTYPES), help="Repeatable.")
@click.option("--peer", "peers", multiple=True, default=PEERS, show_default=True,
              type=click.Choice(PEERS), help="Libraries to compare with, where installed; repeatable.")
@click.option("--min-time", default=10.0, show_default=True, type=click.FloatRange(min=0, max=3600),
              callback=lambda ctx, param, v: _finite(v),
              help="Seconds of interleaved rounds per shape and dtype (at most an hour).")
@click.option("--min-rounds", default=9, show_default=True, type=click.IntRange(min=3),
              help="At least this many rounds (timed calls of each implementation).")
@click.option("--threads", type=click.IntRange(min=1),
              help="Threads for every library (default: the BLAS's own count).")
@click.option("--clock", type=click.Choice(list(CLOCKS)), default="wall", show_default=True,
              help="wall: elapsed time. cpu: CPU time of the whole process, which a shared machine's "
              "other jobs hardly disturb; meaningful with --threads 1.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, writable=True),
              help="Also write the results, the targets and the environment to this JSON file.")
@click.option("--report", "report_path", type=click.Path(exists=True, dir_okay=False),
              help="Measure nothing: print the tables of a JSON file that --json wrote.")
def main(shapes: list[Net], dtypes: tuple[str, ...], peers: tuple[str, ...], min_time: float,
         min_rounds: int, threads: int | None, clock: str, json_path: str | None,
         report_path: str | None) -> None:
    if report_path:
        with open(report_path) as f:
            doc = json.load(f)
    else:
        doc = measure(shapes, dtypes, peers, min_time, min_rounds, threads, clock)
        if json_path:
            with open(json_path, "w") as f:
                json.dump(doc, f, indent=1)
    env = doc["environment"]
    blas = ", ".join(f"{i['internal_api']} {i['version']} ({i['num_threads']} threads)"
                     for i in env["threadpools"] if i["user_api"] == "blas")
    click.echo(f"{env['cpu']}, {env['cpu_count']} CPUs; BLAS {blas}, torch as many; {doc['clock']} clock; "
               + ", ".join(f"{k} {v['version']}" for k, v in env["backends"].items())
               + "".join(f"; {k}={v}" for k, v in env.get("variables", {}).items()) + "\n")
    results = [
        Result(Net.parse(r["shape"]), r["dtype"], r["implementation"],
               Timing(r["first_call_s"], tuple(r["runs_s"])), r["peak_bytes"], r["cost_diff"], r["grad_diff"])
        for r in doc["results"]
    ]
    click.echo(summary_table(results) + "\n")
    click.echo(results_table(results) + "\n")
    click.echo(targets_table(targets(results)))


def measure(shapes: list[Net], dtypes: tuple[str, ...], peers: tuple[str, ...], min_time: float,
            min_rounds: int, threads: int | None, clock: str) -> dict[str, Any]:
    """Run every comparison; the results, the targets and the environment, ready for JSON."""
    if threads == 1:  # XLA reads its thread pool's size once, when JAX starts
        os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    results = []
    with threadpool_limits(limits=threads):
        for dtype in dtypes:
            for shape in shapes:
                results += compare(shape, dtype, peers, min_time, min_rounds, CLOCKS[clock])
        env = environment([get_backend(n) for n in ("numpy", *peers) if _installed(n)], ",".join(dtypes))
    return {
        "environment": env,
        "min_time_s": min_time,
        "clock": clock,
        "results": [
            {"shape": str(r.shape), "dtype": r.dtype, "implementation": r.impl,
             "median_s": r.timing.median_s, "q1_s": r.timing.q1_s, "q3_s": r.timing.q3_s,
             "first_call_s": r.timing.first_s, "runs_s": list(r.timing.runs_s),
             "peak_bytes": r.peak_bytes, "cost_diff": r.cost_diff, "grad_diff": r.grad_diff}
            for r in results
        ],
        "targets": targets(results),
    }


def _installed(name: str) -> bool:
    try:
        get_backend(name)
    except BackendUnavailable:
        return False
    return True


if __name__ == "__main__":
    main()
