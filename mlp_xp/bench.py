"""Timing that is honest on asynchronous devices, the FLOP model, and the benchmark report.

One measurement of a function ``f`` on a backend:

1. its inputs are drawn on the host with NumPy, moved onto the device, and waited for;
2. the first call is timed alone (it pays for kernel compilation, library handles and
   memory pools) and reported separately;
3. warm-up calls are made and thrown away until, with the first call, they take
   ``min_time / 4`` (at most ``MAX_WARMUP`` of them);
4. calls are then timed one by one until ``min_time`` seconds of calls (and at least
   ``MIN_RUNS`` calls) have been measured, or ``MAX_RUNS`` calls; the report is their
   median and interquartile range.

Every timed call starts on an idle device (``Backend.synchronize()``) and stops only when
its result is ready (``Backend.wait(result)``): a CUDA device synchronise for CuPy and
torch-CUDA, ``block_until_ready`` for JAX, ``compute`` for Dask. So every backend is
timed by the same code, and a GPU's asynchronous launch cannot make a call look free.

Each backend is timed as its users run it: in ``"eager"`` mode, operation by operation,
and in ``"compiled"`` mode where its library has a compiler (``jax.jit`` on JAX,
``torch.compile`` on torch; see :attr:`mlp_xp.backends.Backend.compiler`). A compiled
row's first call includes the tracing and compilation, and is reported apart from the
steady median; NumPy, array-api-strict, Dask and CuPy run eagerly only.

The work of one ``forward_backward_prop`` is counted as its matrix products,
``4*M*Dx*H + 6*M*H*Dy`` floating-point operations; the *floor* is those five products
timed alone, the same way, on the same device.

Examples
--------
>>> from mlp_xp.backends import get_backend
>>> row = bench_shape(get_backend("numpy"), Shape(20, 10, 5, 10), "float64", min_time=0.01)
>>> row.timing.n >= MIN_RUNS and row.time_over_floor > 0
True
>>> Shape.parse("4096x784x512x10").flops
6702497792
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import importlib.metadata
import math
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from threadpoolctl import threadpool_info

from .backends import Backend
from .network import forward_backward_prop
from .problems import random_problem
from .validation import check_values

__all__ = [
    "DEFAULT_SHAPES",
    "MAX_RUNS",
    "MIN_RUNS",
    "MODES",
    "SCHEMA",
    "SWEEP_BATCHES",
    "SWEEP_DIMENSIONS",
    "TIMING_VARIABLES",
    "Row",
    "Shape",
    "Timing",
    "available_memory",
    "bench_shape",
    "bytes_needed",
    "crossover",
    "describe_environment",
    "environment",
    "format_seconds",
    "matmul_floor",
    "plot_sweep",
    "report",
    "time_calls",
    "with_speedups",
]

#: Identifies the layout of :func:`report`'s JSON; bump it when a field changes meaning.
SCHEMA = "mlp_xp.bench/2"
#: How a backend runs: op by op, or compiled by its library's compiler (JAX, torch only).
MODES = ("eager", "compiled")
#: At least this many timed calls, however long one call takes, so that an IQR exists.
MIN_RUNS = 5
#: At most this many timed calls, however short ``min_time`` makes them: far more than a
#: median and an IQR need, and a bound on the loop even where a coarse clock reads 0 s.
MAX_RUNS = 100_000
#: At most this many warm-up calls; fewer once they (and the first call) pass ``min_time / 4``.
MAX_WARMUP = 10
#: ``--sweep`` batch sizes: powers of two from 1 to 65536.
SWEEP_BATCHES = tuple(2**k for k in range(17))


@dataclass(frozen=True)
class Shape:
    """A benchmark problem: ``M`` examples through a network of dimensions ``(Dx, H, Dy)``."""

    M: int
    Dx: int
    H: int
    Dy: int

    @classmethod
    def parse(cls, text: str) -> Shape:
        """``"4096x784x512x10"`` -> ``Shape(4096, 784, 512, 10)``.

        Raises
        ------
        ValueError
            Unless ``text`` is four positive integers joined by ``x``.
        """
        parts = text.lower().split("x")
        if len(parts) != 4 or not all(p.strip().isdecimal() and int(p) > 0 for p in parts):
            raise ValueError(
                f"expected M x Dx x H x Dy as four positive integers joined by 'x' "
                f"(e.g. 4096x784x512x10), got {text!r}"
            )
        return cls(*(int(p) for p in parts))

    @property
    def dimensions(self) -> tuple[int, int, int]:
        return (self.Dx, self.H, self.Dy)

    @property
    def flops(self) -> int:
        """Floating-point operations of the five matrix products of one forward+backward pass.

        Forward ``data @ W1`` and ``h @ W2``; backward ``h.T @ delta1``, ``delta1 @ W2.T``
        and ``data.T @ delta3`` (no gradient with respect to the data); 2 per multiply-add.
        """
        return 4 * self.M * self.Dx * self.H + 6 * self.M * self.H * self.Dy

    def __str__(self) -> str:
        return f"{self.M}x{self.Dx}x{self.H}x{self.Dy}"


#: The main job's shapes: the seed exercise, an MNIST-like batch, and a wide hidden layer.
DEFAULT_SHAPES = (Shape(20, 10, 5, 10), Shape(4096, 784, 512, 10), Shape(64, 1024, 4096, 1024))
#: ``--sweep``'s (Dx, H, Dy) unless one is given: the MNIST-like network.
SWEEP_DIMENSIONS = DEFAULT_SHAPES[1].dimensions


@dataclass(frozen=True)
class Timing:
    """Seconds per call: the first call's, and the timed calls' after warm-up."""

    first_s: float
    runs_s: tuple[float, ...]

    @functools.cached_property
    def _quartiles(self) -> np.ndarray:
        return np.percentile(self.runs_s, [25, 50, 75])

    @property
    def n(self) -> int:
        return len(self.runs_s)

    @property
    def median_s(self) -> float:
        return float(self._quartiles[1])

    @property
    def q1_s(self) -> float:
        return float(self._quartiles[0])

    @property
    def q3_s(self) -> float:
        return float(self._quartiles[2])

    @property
    def iqr_s(self) -> float:
        return self.q3_s - self.q1_s


def time_calls(
    backend: Backend, f: Callable[[], Any], min_time: float, clock: Callable[[], float] = time.perf_counter
) -> Timing:
    """Time ``f()`` on ``backend``: first call, warm-up, then calls until ``min_time`` has passed.

    Each timed interval runs from an idle device to a finished result. We time with the
    host clock after a device synchronise rather than with CUDA events: events would leave
    out the host's launch and dispatch overhead, which is exactly what decides whether a
    small batch is worth sending to a GPU.

    Parameters
    ----------
    backend : Backend
        Its ``synchronize`` and ``wait`` bracket every timed call.
    f : callable
        Takes no arguments and returns the array(s) to wait for; its inputs must already
        be on the device.
    min_time : float
        Keep timing calls until their times add up to this many seconds (and at least
        ``MIN_RUNS`` calls were timed), or ``MAX_RUNS`` calls were timed.
    clock : callable
        Seconds as a float; ``time.perf_counter`` unless a test fakes it.

    Raises
    ------
    ValueError
        If ``min_time`` is not a finite number > 0.

    Examples
    --------
    >>> from mlp_xp.backends import get_backend
    >>> t = time_calls(get_backend("numpy"), lambda: sum(range(1000)), min_time=0.001)
    >>> t.n >= MIN_RUNS and t.median_s > 0
    True
    """

    _check_min_time("time_calls", min_time)

    def one_call() -> float:
        backend.synchronize()
        start = clock()
        backend.wait(f())
        return clock() - start

    first = one_call()
    # the first call counts towards the warm-up: a call slower than min_time / 4 needs no more
    warmup_budget = min_time / 4 - first
    for _ in range(MAX_WARMUP):
        if warmup_budget <= 0:
            break
        warmup_budget -= one_call()
    runs: list[float] = []
    total = 0.0
    while len(runs) < MIN_RUNS or (total < min_time and len(runs) < MAX_RUNS):
        runs.append(one_call())
        total += runs[-1]
    return Timing(first, tuple(runs))


def _check_min_time(function: str, min_time: float) -> None:
    if not (math.isfinite(min_time) and min_time > 0):
        raise ValueError(f"{function}: min_time must be a finite number of seconds > 0, got {min_time!r}")


def _on_device(backend: Backend, arrays: Iterable[np.ndarray], dtype: str) -> list[Any]:
    """Move host arrays onto the backend and wait until they are there."""
    moved = [backend.asarray(a, dtype) for a in arrays]
    backend.wait(tuple(moved))  # JAX's device_put and CUDA copies are asynchronous
    backend.synchronize()
    return moved


def _products(data: Any, W1: Any, W2: Any, h: Any, delta1: Any, delta3: Any) -> tuple[Any, ...]:
    return (data @ W1, h @ W2, h.T @ delta1, delta1 @ W2.T, data.T @ delta3)


def _check_mode(function: str, backend: Backend, mode: str) -> None:
    if not (isinstance(mode, str) and mode in MODES):
        raise ValueError(f"{function}: mode must be one of {', '.join(map(repr, MODES))}, got {mode!r}")
    if mode == "compiled" and backend.compiler is None:
        raise ValueError(f"{function}: backend {backend.name!r} has no compiler, so no compiled mode; "
                         f"use mode='eager' (backends with a compiler: jax, torch and their GPU twins)")


def matmul_floor(
    backend: Backend, shape: Shape, dtype: str, seed: int, mode: str = "eager"
) -> Callable[[], Any]:
    """The five matrix products of ``forward_backward_prop``, alone, on random operands.

    Returns a function that computes them (the floor a forward and backward pass cannot beat);
    with ``mode="compiled"``, the five products compiled as one function by the backend's
    compiler, so that a compiled network is compared with compiled products.

    Raises
    ------
    ValueError
        If ``mode`` is not one of :data:`MODES`, or is ``"compiled"`` on a backend
        without a compiler.

    Examples
    --------
    >>> from mlp_xp.backends import get_backend
    >>> products = matmul_floor(get_backend("numpy"), Shape(8, 4, 3, 2), "float64", seed=0)
    >>> [p.shape for p in products()]  # data W1, h W2, h^T delta1, delta1 W2^T, data^T delta3
    [(8, 3), (8, 2), (3, 2), (8, 3), (4, 3)]
    """
    _check_mode("matmul_floor", backend, mode)
    M, Dx, H, Dy = shape.M, shape.Dx, shape.H, shape.Dy
    rng = np.random.default_rng(seed)
    operands = _on_device(
        backend,
        (rng.standard_normal(s) for s in ((M, Dx), (Dx, H), (H, Dy), (M, H), (M, Dy), (M, H))),
        dtype,
    )
    products = backend.compile(_products) if mode == "compiled" else _products
    return lambda: products(*operands)


@dataclass(frozen=True)
class Row:
    """One line of the report: one backend in one mode at one shape and dtype."""

    backend: str
    device: str
    version: str
    dtype: str
    shape: Shape
    timing: Timing | None = None
    floor: Timing | None = None
    speedup: float | None = None
    error: str | None = None
    #: ``"eager"`` or ``"compiled"`` (:data:`MODES`); a compiled row's ``timing.first_s``
    #: includes the compilation, by ``compiler`` (``"jax.jit"``, ``"torch.compile"``).
    mode: str = "eager"
    compiler: str | None = None

    @property
    def gflops(self) -> float | None:
        return self.shape.flops / self.timing.median_s / 1e9 if self.timing else None

    @property
    def time_over_floor(self) -> float | None:
        if self.timing is None or self.floor is None:
            return None
        return self.timing.median_s / self.floor.median_s


def _network_call(backend: Backend, shape: Shape, dtype: str, seed: int, mode: str) -> Callable[[], Any]:
    """``forward_backward_prop`` on :func:`mlp_xp.problems.random_problem`'s data, on the device.

    The data are drawn on the host from ``seed``, so every backend sees the same numbers,
    and their values are checked once (one-hot labels, finite entries) before the clock.
    Compiled, the dimensions are a constant of the compiled function and the three arrays
    its arguments, as a user would write ``jax.jit(lambda d, y, p: ...)``.
    """
    problem = random_problem(shape.M, shape.dimensions, seed)
    data, labels, params = _on_device(backend, problem, dtype)
    check_values(data, labels, params, shape.dimensions)
    dims = shape.dimensions

    def network(data: Any, labels: Any, params: Any) -> Any:
        return forward_backward_prop(data, labels, params, dims)

    compiled = backend.compile(network) if mode == "compiled" else network
    return lambda: compiled(data, labels, params)


#: Warnings that the compilers emit while tracing this library's (correct) code, on every
#: first call: (category, message regex). Dynamo notes that it traces through the
#: ``functools.cache`` of the namespace and layout look-ups (whose results depend on the
#: array's type and the dimensions alone, both guarded), and inductor's import uses a
#: deprecated part of TorchScript. Anything else the compilers warn about still shows.
COMPILER_NOISE = (
    (UserWarning, r"Dynamo detected a call to a `functools\.lru_cache`-wrapped function"),
    (DeprecationWarning, r"`torch\.jit\.script_method` is deprecated"),
)


@contextmanager
def _quiet_compilers(mode: str) -> Iterator[None]:
    with warnings.catch_warnings():
        if mode == "compiled":
            for category, message in COMPILER_NOISE:
                warnings.filterwarnings("ignore", message=message, category=category)
        yield


def _error_text(exc: BaseException) -> str:
    """``TypeName: message`` on one line: the first line, and the next one too when the first
    only introduces it (torch's ``backend='inductor' raised:``, then the reason)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()] or [""]
    text = lines[0]
    if text.endswith(":") and len(lines) > 1:
        text = f"{text} {lines[1]}"
    return f"{type(exc).__name__}: {text}"


def bench_shape(
    backend: Backend, shape: Shape, dtype: str, min_time: float, seed: int = 0, mode: str = "eager"
) -> Row:
    """Time ``forward_backward_prop`` and its matrix-product floor on one backend and shape.

    With ``mode="compiled"`` both are compiled by the backend's compiler (``jax.jit``,
    ``torch.compile``) and the first call, reported as ``Row.timing.first_s``, includes
    the tracing and compilation. An exception while timing (out of memory, a library bug,
    a compiler that fails, e.g. torch's inductor without a C++ compiler) is recorded in
    ``Row.error`` rather than raised, so one failing backend does not hide the others.

    Raises
    ------
    ValueError
        The caller's mistakes: a ``min_time`` that is not a finite number > 0, a ``mode``
        not in :data:`MODES`, or ``"compiled"`` on a backend without a compiler.
    """
    _check_min_time("bench_shape", min_time)
    _check_mode("bench_shape", backend, mode)
    row = Row(backend.name, backend.device_name, backend.version, dtype, shape, mode=mode,
              compiler=backend.compiler if mode == "compiled" else None)
    try:
        with _quiet_compilers(mode):
            # one set of operands on the device at a time: the first call's are freed on return
            timing = time_calls(backend, _network_call(backend, shape, dtype, seed, mode), min_time)
            floor = time_calls(backend, matmul_floor(backend, shape, dtype, seed, mode), min_time)
    except Exception as exc:  # reported per row; the run goes on
        return dataclasses.replace(row, error=_error_text(exc))
    return dataclasses.replace(row, timing=timing, floor=floor)


def bytes_needed(shape: Shape, dtype: str) -> int:
    """Bytes that :func:`bench_shape` needs at ``shape`` at its peak, about, in ``dtype``.

    The network's call holds its data ``M x Dx``, labels ``M x Dy`` and params
    ``(Dx+1) H + (H+1) Dy``, with at its peak two ``M x H`` temporaries, two ``M x Dy``
    ones and the gradient (each layer's rows, then their concatenation: twice the params).
    The floor (:func:`matmul_floor`) holds its six operands and its five products. The
    two are never alive together, so the larger counts. Small vectors and the host's
    copies while data move are left out: a sane first bound, not an exact peak.

    Parameters
    ----------
    shape : Shape
    dtype : str
        A NumPy dtype name, e.g. ``"float64"``.

    Returns
    -------
    int
        Bytes.

    Examples
    --------
    >>> round(bytes_needed(Shape(10, 100_000, 100_000, 10), "float64") / 2**30, 1)  # GiB
    223.6
    >>> bytes_needed(Shape(20, 10, 5, 10), "float32") * 2 == bytes_needed(Shape(20, 10, 5, 10), "float64")
    True
    """
    M, Dx, H, Dy = shape.M, shape.Dx, shape.H, shape.Dy
    params = (Dx + 1) * H + (H + 1) * Dy
    network = M * Dx + M * Dy + params + 2 * M * H + 2 * M * Dy + 2 * params
    floor_operands = M * Dx + Dx * H + H * Dy + 2 * M * H + M * Dy  # data, W1, W2, h, delta1, delta3
    floor_products = 2 * M * H + M * Dy + H * Dy + Dx * H
    return np.dtype(dtype).itemsize * max(network, floor_operands + floor_products)


def available_memory() -> int | None:
    """Bytes of memory this machine has available now, or ``None`` where that is unknown.

    Linux's ``MemAvailable`` (free memory and what the kernel can reclaim at once),
    else ``os.sysconf``'s free physical pages. A container's cgroup limit is not read.

    Examples
    --------
    >>> n = available_memory()
    >>> n is None or n > 0
    True
    """
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024  # given in kB
    except (OSError, ValueError, IndexError):
        pass
    try:
        pages, page_size = os.sysconf("SC_AVPHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # no os.sysconf (Windows), or no such name
        return None
    return pages * page_size if pages > 0 and page_size > 0 else None


def _baseline_medians(rows: Sequence[Row], baseline: str) -> dict[tuple[Shape, str], float]:
    """(shape, dtype) -> the baseline backend's eager median, from ``rows`` themselves."""
    return {
        (r.shape, r.dtype): r.timing.median_s
        for r in rows
        if r.backend == baseline and r.mode == "eager" and r.timing
    }


def with_speedups(rows: Sequence[Row], baseline: str = "numpy") -> list[Row]:
    """``rows`` with ``speedup`` = baseline's median / the row's median, same shape and dtype.

    The baseline is the backend ``baseline`` in eager mode, for rows of both modes. Both
    medians come from ``rows`` themselves, i.e. from the same run; rows without a
    baseline row (or with an error) get ``None``.
    """
    base = _baseline_medians(rows, baseline)
    return [
        dataclasses.replace(r, speedup=base[r.shape, r.dtype] / r.timing.median_s)
        if r.timing and (r.shape, r.dtype) in base
        else r
        for r in rows
    ]


def crossover(rows: Sequence[Row], baseline: str = "numpy") -> dict[tuple[str, str], int | None]:
    """For each (backend, mode) but the eager baseline, the smallest M from which on it beats it.

    "From which on": faster than the baseline (``baseline`` in eager mode) at that M and at
    every larger M measured, so one lucky point in the noise does not count. ``None`` when
    it is not faster at the largest M (or has no comparable row). Rows are compared at
    equal ``(Dx, H, Dy)`` and dtype, as in a ``--sweep``.

    Examples
    --------
    >>> t = lambda s: Timing(s, (s,) * MIN_RUNS)
    >>> rows = [Row(b, "cpu", "", "float64", Shape(M, 8, 8, 8), timing=t(s), mode=mode)
    ...         for b, mode, M, s in [("numpy", "eager", 1, 1.0), ("numpy", "eager", 2, 2.0),
    ...                               ("numpy", "eager", 4, 4.0), ("gpu", "eager", 1, 3.0),
    ...                               ("gpu", "eager", 2, 1.5), ("gpu", "eager", 4, 1.0),
    ...                               ("gpu", "compiled", 1, 0.5), ("gpu", "compiled", 4, 0.5)]]
    >>> crossover(rows)
    {('gpu', 'eager'): 2, ('gpu', 'compiled'): 1}
    """
    base = _baseline_medians(rows, baseline)
    result: dict[tuple[str, str], int | None] = {}
    for name, mode in dict.fromkeys((r.backend, r.mode) for r in rows):
        if (name, mode) == (baseline, "eager"):
            continue
        mine = sorted(
            (r for r in rows
             if (r.backend, r.mode) == (name, mode) and r.timing and (r.shape, r.dtype) in base),
            key=lambda r: r.shape.M,
        )
        result[name, mode] = None
        for r in reversed(mine):
            assert r.timing is not None  # only timed rows were kept
            if r.timing.median_s >= base[r.shape, r.dtype]:
                break
            result[name, mode] = r.shape.M
    return result


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


#: torch's TF32 switches, read as ``torch.<name>``: the legacy flags, and (torch >= 2.9) the
#: ``fp32_precision`` settings that replace them. Absent ones are left out.
TORCH_TF32_SWITCHES = (
    "backends.cuda.matmul.allow_tf32",
    "backends.cudnn.allow_tf32",
    "backends.cuda.matmul.fp32_precision",
    "backends.cudnn.fp32_precision",
)


def _torch_tf32(torch: Any) -> dict[str, Any]:
    """torch's TF32 switches, read without a warning escaping.

    Some torch releases warn when a legacy ``allow_tf32`` flag is read (it is being replaced
    by ``fp32_precision``); recording every warning while reading keeps that out of the
    caller's warnings (errors in this project's tests) without hiding anything else.
    """
    settings: dict[str, Any] = {}
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        for name in TORCH_TF32_SWITCHES:
            value: Any = torch
            try:
                for part in name.split("."):
                    value = getattr(value, part)
            except (AttributeError, RuntimeError):
                continue
            settings[f"torch.{name}"] = value if isinstance(value, (bool, str)) else str(value)
        settings["torch.float32_matmul_precision"] = torch.get_float32_matmul_precision()
    return settings


def _tf32_settings() -> dict[str, Any]:
    """TF32 switches of the GPU libraries already loaded (TF32 rounds float32 matmuls to 10 bits)."""
    settings: dict[str, Any] = {"CUPY_TF32": os.environ.get("CUPY_TF32", "0")}
    if "torch" in sys.modules:
        import torch

        settings.update(_torch_tf32(torch))
    if "jax" in sys.modules:
        import jax

        # None is JAX's default, which on NVIDIA GPUs since Ampere means TF32 for float32
        settings["jax_default_matmul_precision"] = jax.config.jax_default_matmul_precision  # type: ignore[attr-defined]
    return settings


#: Environment variables that change timings: thread pools, the allocator, XLA, the GPUs seen.
#: glibc's ``MALLOC_*`` decide whether a freed large array goes back to the kernel (and is
#: faulted in, zeroed, on the next allocation) or stays in the process for reuse.
TIMING_VARIABLES = (
    "OMP_NUM_THREADS", "OMP_WAIT_POLICY", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
    "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_",
    "MALLOC_ARENA_MAX", "GLIBC_TUNABLES", "NUMPY_MADVISE_HUGEPAGE",
    "XLA_FLAGS", "XLA_PYTHON_CLIENT_PREALLOCATE", "CUDA_VISIBLE_DEVICES", "CUPY_TF32",
)


def environment(backends: Iterable[Backend], dtype: str) -> dict[str, Any]:
    """Where the numbers came from: versions, CPU, BLAS and threads, devices, dtype, TF32, time."""
    return {
        "mlp_xp": importlib.metadata.version("mlp_xp"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "threadpools": [
            {k: info.get(k) for k in ("user_api", "internal_api", "version", "num_threads", "filepath")}
            for info in threadpool_info()
        ],
        "backends": {
            b.name: {"library": b.library, "version": b.version, "device": b.device_name} for b in backends
        },
        "dtype": dtype,
        "tf32": _tf32_settings(),
        "variables": {k: os.environ[k] for k in TIMING_VARIABLES if k in os.environ},
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def describe_environment(env: dict[str, Any]) -> str:
    """One line from :func:`environment`: versions, CPU, thread pools, backends and devices, dtype."""
    pools = ", ".join(
        " ".join(filter(None, (p["internal_api"], p["version"]))) + f" ({p['num_threads']} threads)"
        for p in env["threadpools"]
    )
    backends = ", ".join(f"{name} {b['version']} on {b['device']}" for name, b in env["backends"].items())
    variables = "".join(f"; {k}={v}" for k, v in env.get("variables", {}).items())  # older files: none
    return (
        f"mlp_xp {env['mlp_xp']}, Python {env['python']}, {env['cpu']} ({env['cpu_count']} CPUs), "
        f"{pools or 'no BLAS found'}; {backends}; {env['dtype']}{variables}"
    )


def format_seconds(seconds: float) -> str:
    """Three significant digits in s, ms, µs or ns.

    Examples
    --------
    >>> format_seconds(0.000123456), format_seconds(2.5), format_seconds(0.0)
    ('123 µs', '2.5 s', '0 ns')
    """
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _timing_json(t: Timing | None) -> dict[str, Any] | None:
    if t is None:
        return None
    return {
        "first_call_s": t.first_s,
        "median_s": t.median_s,
        "q1_s": t.q1_s,
        "q3_s": t.q3_s,
        "iqr_s": t.iqr_s,
        "n_runs": t.n,
        "runs_s": list(t.runs_s),
    }


def report(
    rows: Sequence[Row],
    env: dict[str, Any],
    min_time: float,
    sweep: dict[tuple[str, str], int | None] | None = None,
    modes: Sequence[str] = ("eager",),
) -> dict[str, Any]:
    """The JSON document of a run (schema :data:`SCHEMA`, documented in ``docs/bench-json.md``).

    ``sweep`` is :func:`crossover`'s result, written as a list of
    ``{"backend", "mode", "M"}`` objects; ``modes`` are the modes asked for.
    """
    return {
        "schema": SCHEMA,
        "environment": env,
        "settings": {"min_time_s": min_time, "min_runs": MIN_RUNS, "max_warmup": MAX_WARMUP,
                     "modes": list(modes)},
        "rows": [
            {
                "backend": r.backend,
                "mode": r.mode,
                "compiler": r.compiler,
                "device": r.device,
                "version": r.version,
                "dtype": r.dtype,
                "shape": str(r.shape),
                "M": r.shape.M,
                "Dx": r.shape.Dx,
                "H": r.shape.H,
                "Dy": r.shape.Dy,
                "flops": r.shape.flops,
                "fbp": _timing_json(r.timing),
                "floor": _timing_json(r.floor),
                "gflops": r.gflops,
                "time_over_floor": r.time_over_floor,
                "speedup_vs_numpy": r.speedup,
                "error": r.error,
            }
            for r in rows
        ],
        "crossover": None if sweep is None else [
            {"backend": name, "mode": mode, "M": M} for (name, mode), M in sweep.items()
        ],
    }


def plot_sweep(rows: Sequence[Row], crossovers: dict[tuple[str, str], int | None], path: str) -> None:
    """Time per call and GFLOP/s against M, one line per backend and mode, log-log; crossovers marked.

    A backend's compiled line has its eager line's colour, dashed; each crossover
    (:func:`crossover`) is a dotted vertical line of the same colour. Needs matplotlib
    (the ``plot`` extra); the figure is drawn without pyplot, so no display is needed.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.5), layout="constrained")
    ax_time, ax_rate = fig.subplots(1, 2)
    colours: dict[str, Any] = {}
    for name, mode in dict.fromkeys((r.backend, r.mode) for r in rows):
        mine = sorted((r for r in rows if (r.backend, r.mode) == (name, mode) and r.timing),
                      key=lambda r: r.shape.M)
        if not mine:
            continue
        M = [r.shape.M for r in mine]
        medians = [r.timing.median_s for r in mine if r.timing is not None]
        label = name if mode == "eager" else f"{name} {mode}"
        style = {"marker": "o", "ms": 3, "ls": "-" if mode == "eager" else "--", "label": label}
        if name in colours:
            style["color"] = colours[name]
        (line,) = ax_time.plot(M, medians, **style)
        colours[name] = line.get_color()
        ax_rate.plot(M, [r.gflops for r in mine], **{**style, "color": colours[name]})
        if crossovers.get((name, mode)) is not None:
            for ax in (ax_time, ax_rate):
                ax.axvline(crossovers[name, mode], color=colours[name], ls=":", lw=1)
    dims, dtypes = {r.shape.dimensions for r in rows}, {r.dtype for r in rows}
    title = f"(Dx, H, Dy) = {dims.pop()}" if len(dims) == 1 else "forward_backward_prop"
    title += f", {dtypes.pop()}" if len(dtypes) == 1 else ""
    for ax, ylabel in ((ax_time, "median time per call (s)"), (ax_rate, "GFLOP/s")):
        ax.set(xscale="log", yscale="log", xlabel="batch size M", ylabel=ylabel, title=title)
        ax.grid(True, which="both", alpha=0.3)
    ax_time.legend(title="dotted: crossover vs numpy eager", fontsize="small")
    fig.savefig(path, dpi=110)
