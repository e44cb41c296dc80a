"""The registry of array backends: name -> namespace, device, moving data in and out, waiting.

This is the one module (besides the CLI and benchmark edges) that imports array
libraries; the maths modules only ever see ``array_namespace(...)``. Libraries are
imported lazily, the first time a backend is asked for, so ``import mlp_xp`` stays cheap.

Examples
--------
>>> import numpy as np
>>> from mlp_xp.backends import get_backend
>>> b = get_backend("numpy")
>>> x = b.asarray(np.arange(3.0), dtype="float64")
>>> b.to_numpy(b.xp.sum(x))
array(3.)
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, partial
from typing import Any

import numpy as np

from ._common import Array, describe

__all__ = [
    "BACKEND_NAMES",
    "COMPILED_BACKENDS",
    "Backend",
    "BackendUnavailable",
    "available_backends",
    "dask_chunk_rows",
    "dask_scheduler",
    "get_backend",
    "known_backends",
]


class BackendUnavailable(RuntimeError):
    """A known backend that cannot run here; ``reason`` says why (not installed, no CUDA device)."""

    def __init__(self, name: str, reason: str):
        super().__init__(f"backend {name!r} is not available: {reason}")
        self.name = name
        self.reason = reason


@dataclass(frozen=True)
class Backend:
    """One array library on one device.

    Attributes
    ----------
    name : str
        Registry name, e.g. ``"numpy"``, ``"torch-cuda"``.
    library : str
        The distribution whose version is reported (``"numpy"``, ``"torch"``, ...).
    xp : module
        The array-API namespace (array-api-compat's wrapper where the library needs one).
    device : object
        The device arrays are created on (``"cpu"`` for NumPy).
    device_name : str
        Human-readable device: ``"cpu"`` or the GPU model name.
    is_accelerator : bool
        Whether the device is a GPU.
    compiler : str or None
        The library's compiler that :meth:`compile` applies (``"jax.jit"``,
        ``"torch.compile"``), or ``None`` where the backend runs eagerly only (NumPy,
        array-api-strict, Dask, CuPy).
    """

    name: str
    library: str
    xp: Any
    device: Any
    device_name: str
    is_accelerator: bool
    _asarray: Callable[[np.ndarray, str], Any] = field(repr=False)
    _to_numpy: Callable[[Any], np.ndarray] = field(repr=False)
    _synchronize: Callable[[], None] = field(repr=False, default=lambda: None)
    _wait: Callable[[Any], Any] | None = field(repr=False, default=None)
    compiler: str | None = None
    _compile: Callable[[Callable[..., Any]], Callable[..., Any]] | None = field(repr=False, default=None)

    @property
    def version(self) -> str:
        """Version of the backing library."""
        # the module's own __version__ first: CuPy is distributed as cupy-cuda12x /
        # cupy-cuda13x, never as "cupy", so the distribution's metadata may not be found
        module = importlib.import_module(self.library.replace("-", "_"))
        version = getattr(module, "__version__", None)
        return version if isinstance(version, str) else importlib.metadata.version(self.library)

    @property
    def supports_float64(self) -> bool:
        """Whether float64 arrays can be made on this device (false on e.g. Apple MPS)."""
        try:
            self.asarray(np.zeros(1), dtype="float64")
        except (TypeError, RuntimeError, ValueError):
            return False
        return True

    def asarray(self, a: Any, dtype: str) -> Array:
        """Move host data onto this backend's device with an explicit dtype.

        ``dtype`` is a name (``"float64"``, ``"float32"``, ...); the library's own default
        dtype is never used, so every backend sees the same numbers.
        """
        try:
            host = np.dtype(dtype) if isinstance(dtype, str) else None
        except TypeError:
            host = None
        if host is None:
            raise TypeError(f"Backend.asarray: dtype must be the name of a dtype, such as 'float64' or "
                            f"'float32', got {describe(dtype)}")
        return self._asarray(np.asarray(a, dtype=host), dtype)

    def to_numpy(self, x: Array) -> np.ndarray:
        """Bring an array of this backend back to host NumPy (waits for the device)."""
        return self._to_numpy(x)

    def synchronize(self) -> None:
        """Wait until work queued on this backend's device has finished.

        A device-wide synchronise on CuPy and torch-CUDA. JAX has none that covers pure
        computations (``effects_barrier`` waits for effects only): wait on the results
        themselves with :meth:`wait`, as the benchmark does.
        """
        self._synchronize()

    def compile(self, f: Callable[..., Any]) -> Callable[..., Any]:
        """``f`` compiled by this backend's :attr:`compiler`: ``jax.jit(f)`` or ``torch.compile(f)``.

        Both compile lazily: the first call of the result traces and compiles ``f`` (and
        may fail there, e.g. without a C++ compiler for torch's inductor on the CPU).

        Raises
        ------
        ValueError
            If this backend has no compiler (``compiler is None``).

        Examples
        --------
        >>> from mlp_xp.backends import get_backend
        >>> get_backend("numpy").compiler is None
        True
        >>> try:
        ...     get_backend("numpy").compile(abs)
        ... except ValueError as exc:
        ...     print(str(exc).split(";")[0])
        Backend.compile: backend 'numpy' has no compiler
        """
        if self._compile is None:
            raise ValueError(
                f"Backend.compile: backend {self.name!r} has no compiler; it runs eagerly only "
                f"(backends with one: {', '.join(COMPILED_BACKENDS)})"
            )
        return self._compile(f)

    def wait(self, result: Any) -> Any:
        """Wait until ``result`` (an array or a tuple of arrays) is computed, and return it.

        CuPy and torch-CUDA synchronise the device; JAX blocks on the arrays themselves
        (its dispatch is asynchronous per array); lazy backends return computed arrays.
        """
        if self._wait is not None:
            return self._wait(result)
        self._synchronize()
        return result


def _numpy() -> Backend:
    import array_api_compat.numpy as xp

    return Backend(
        "numpy", "numpy", xp, "cpu", "cpu", False,
        _asarray=lambda a, dtype: np.array(a, dtype=dtype),
        _to_numpy=np.asarray,
    )


def _array_api_strict() -> Backend:
    import array_api_strict as xp

    # The referee: code that passes with these off runs on JAX-under-jit and Dask too.
    xp.set_array_api_strict_flags(boolean_indexing=False, data_dependent_shapes=False)
    return Backend(
        "array_api_strict", "array-api-strict", xp, xp.Device("CPU_DEVICE"), "cpu", False,
        _asarray=lambda a, dtype: xp.asarray(a, dtype=getattr(xp, dtype), copy=True),
        _to_numpy=lambda x: np.from_dlpack(x).copy(),
    )


def _torch(device: str) -> Callable[[], Backend]:
    def load() -> Backend:
        import array_api_compat.torch as xp
        import torch

        if device == "cuda":
            if not torch.cuda.is_available():
                raise BackendUnavailable("torch-cuda", "no CUDA device visible to PyTorch")
            name, device_name, accel = "torch-cuda", torch.cuda.get_device_name(0), True
            sync: Callable[[], None] = partial(torch.cuda.synchronize, 0)
        else:
            name, device_name, accel, sync = "torch", "cpu", False, (lambda: None)
        dev = torch.device(device, 0) if device == "cuda" else torch.device(device)
        return Backend(
            name, "torch", xp, dev, device_name, accel,
            # copy: on the CPU torch would otherwise share the caller's NumPy memory
            _asarray=lambda a, dtype: torch.asarray(a, dtype=getattr(torch, dtype), device=dev, copy=True),
            _to_numpy=lambda x: x.detach().cpu().numpy(),
            _synchronize=sync,
            compiler="torch.compile",
            _compile=_torch_compile,
        )

    return load


def _torch_compile(f: Callable[..., Any]) -> Callable[..., Any]:
    """``torch.compile(f)``, after ``torch._dynamo.reset()``.

    Dynamo keeps its compiled code per Python code object, and after
    ``recompile_limit`` recompiles of one (new shapes, new dtypes: a benchmark's sweep)
    it runs that code eagerly, without a word. Starting afresh at each compile keeps
    every compiled function compiled, and its first call pays for its compilation.
    """
    import torch

    torch._dynamo.reset()
    return torch.compile(f)


def _jax(platform: str) -> Callable[[], Backend]:
    def load() -> Backend:
        # JAX would otherwise take 75% of GPU memory at start, starving CuPy and torch-CUDA
        # in the same process (only effective before JAX starts its GPU client).
        os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
        import jax

        jax.config.update("jax_enable_x64", True)  # float64 as on every other backend
        # full float32 matmuls, as CuPy and torch do by default (JAX would use TF32 on GPUs)
        jax.config.update("jax_default_matmul_precision", "highest")
        import jax.numpy as xp

        name = "jax" if platform == "cpu" else "jax-gpu"
        try:
            dev = jax.devices(platform)[0]
        except RuntimeError as exc:
            raise BackendUnavailable(name, f"no {platform.upper()} device visible to JAX") from exc
        device_name = "cpu" if platform == "cpu" else dev.device_kind

        def asarray(a: np.ndarray, dtype: str) -> Any:
            # a private copy: on the CPU, JAX may alias (zero-copy) the host buffer it is given
            return jax.device_put(a.astype(dtype, copy=True), dev)

        return Backend(
            name, "jax", xp, dev, device_name, platform != "cpu",
            _asarray=asarray,
            _to_numpy=lambda x: np.asarray(jax.device_get(x)),
            _synchronize=jax.effects_barrier,
            # JAX has no device-wide wait that covers pure computations: block on the results.
            _wait=jax.block_until_ready,
            compiler="jax.jit",
            _compile=jax.jit,
        )

    return load


def _probe_cupy(cupy: Any, dev: Any) -> None:
    """Run a tiny elementwise kernel and a matmul on ``dev``, or say why CuPy cannot.

    A CuPy without NVRTC (the runtime compiler), or without cuBLAS, imports and sees the
    device, then fails every elementwise operation or product: probing at load time makes
    the backend unavailable with the reason, rather than available and failing every call.
    """
    try:
        with dev:
            a = cupy.arange(4, dtype=cupy.float32).reshape(2, 2)
            b = cupy.exp(a) * 2 + a  # an elementwise kernel, compiled by NVRTC on first use
            c = a @ b  # a cuBLAS product
            dev.synchronize()
            total = float(c.sum())
    except Exception as exc:  # CUDARuntimeError, NVRTCError, CUBLASError, a missing library: all say why
        first_line = (str(exc).splitlines() or [""])[0]
        raise BackendUnavailable(
            "cupy", f"CuPy cannot run a tiny kernel and a matmul: {type(exc).__name__}: {first_line}"
        ) from exc
    host = np.arange(4.0).reshape(2, 2)
    expected = float((host @ (np.exp(host) * 2 + host)).sum())
    if not abs(total - expected) <= 1e-3 * abs(expected):
        raise BackendUnavailable("cupy", f"CuPy's tiny kernel and matmul gave {total!r}, not {expected!r}")


def _cupy() -> Backend:
    import array_api_compat.cupy as xp
    import cupy

    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except cupy.cuda.runtime.CUDARuntimeError as exc:
        raise BackendUnavailable("cupy", f"no CUDA device ({exc})") from exc
    if n == 0:
        raise BackendUnavailable("cupy", "no CUDA device")
    dev = cupy.cuda.Device(0)
    props = cupy.cuda.runtime.getDeviceProperties(0)
    device_name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    _probe_cupy(cupy, dev)

    def asarray(a: np.ndarray, dtype: str) -> Any:
        with dev:
            return cupy.asarray(a, dtype=dtype)

    return Backend(
        "cupy", "cupy", xp, dev, device_name, True,
        _asarray=asarray,
        _to_numpy=cupy.asnumpy,
        _synchronize=dev.synchronize,
    )


#: Environment variable: rows per chunk of the Dask backend's 2-D (and higher) arrays.
DASK_CHUNK_ROWS_VAR = "MLP_XP_DASK_CHUNK_ROWS"
#: Default rows per chunk: 32 MiB of float64 data at Dx = 256. A row count, not a byte
#: budget, so ``data`` and ``labels`` (different widths) get the same row chunks and line up.
DASK_DEFAULT_CHUNK_ROWS = 16_384


def dask_chunk_rows() -> int:
    """Rows per chunk of the Dask backend's arrays: ``$MLP_XP_DASK_CHUNK_ROWS``, else 16384.

    Read at every :meth:`Backend.asarray`, so it can be changed between calls.

    Raises
    ------
    ValueError
        If the variable is set but not a positive whole number (``''`` included); the
        message says what came and how to fix it.

    Examples
    --------
    >>> import os
    >>> from unittest import mock
    >>> with mock.patch.dict(os.environ, {"MLP_XP_DASK_CHUNK_ROWS": "1000"}):
    ...     dask_chunk_rows()
    1000
    """
    raw = os.environ.get(DASK_CHUNK_ROWS_VAR)
    if raw is None:
        return DASK_DEFAULT_CHUNK_ROWS
    rows = int(raw) if raw.strip().isdecimal() else 0  # "1.5", "-3", "" and "ten" are refused alike
    if rows < 1:
        raise ValueError(
            f"${DASK_CHUNK_ROWS_VAR} must be a positive whole number of rows, got {raw!r}; "
            f"set it to one (e.g. {DASK_DEFAULT_CHUNK_ROWS}, the default) or unset it"
        )
    return rows


def dask_scheduler() -> str:
    """The scheduler Dask's ``compute`` would use now: ``'threads'``, ..., or a distributed client's address.

    Examples
    --------
    >>> import dask
    >>> with dask.config.set(scheduler="synchronous"):
    ...     dask_scheduler()
    'synchronous'
    """
    import dask

    scheduler = dask.config.get("scheduler", None)
    if scheduler in (None, "dask.distributed", "distributed"):
        try:
            from distributed import default_client

            return f"distributed {default_client().scheduler.address}"
        except (ImportError, ValueError):  # ValueError: no client was started
            return "threads" if scheduler is None else scheduler  # dask.array's default
    return scheduler if isinstance(scheduler, str) else type(scheduler).__name__


def _dask() -> Backend:
    import array_api_compat.dask.array as xp
    import dask
    import dask.array as da

    def asarray(a: np.ndarray, dtype: str) -> Any:
        # Rows are split, every other axis is whole: the network's row-wise steps
        # (softmax, sigmoid) stay inside a chunk; 1-D params and 0-d values are one chunk.
        # from_array copies `a`: a snapshot, as moving to a device is on the other backends.
        chunks = (dask_chunk_rows(), *(-1,) * (a.ndim - 1)) if a.ndim >= 2 else -1
        return da.from_array(a, chunks=chunks)

    def to_numpy(x: Any) -> np.ndarray:
        return np.asarray(x.compute() if isinstance(x, da.Array) else x)

    def wait(result: Any) -> Any:
        # one compute for a tuple, so shared inputs (data, the forward pass) are computed once
        if isinstance(result, tuple):
            return tuple(np.asarray(r) for r in dask.compute(*result))
        return np.asarray(dask.compute(result)[0])

    # The device is the host's CPU (NumPy chunks); which scheduler runs them is decided
    # at compute time (threads, or a distributed Client): see dask_scheduler().
    return Backend(
        "dask", "dask", xp, "cpu", "cpu", False,
        _asarray=asarray,
        _to_numpy=to_numpy,
        _wait=wait,
    )


#: name -> (import name checked for "not installed", loader)
_REGISTRY: dict[str, tuple[str, Callable[[], Backend]]] = {
    "numpy": ("numpy", _numpy),
    "array_api_strict": ("array_api_strict", _array_api_strict),
    "torch": ("torch", _torch("cpu")),
    "jax": ("jax", _jax("cpu")),
    "dask": ("dask", _dask),
    "cupy": ("cupy", _cupy),
    "torch-cuda": ("torch", _torch("cuda")),
    "jax-gpu": ("jax", _jax("gpu")),
}

BACKEND_NAMES: tuple[str, ...] = tuple(_REGISTRY)
#: The backends whose library has a compiler (:meth:`Backend.compile`): ``torch.compile``, ``jax.jit``.
COMPILED_BACKENDS: tuple[str, ...] = ("torch", "jax", "torch-cuda", "jax-gpu")


@cache
def _load(name: str) -> Backend | BackendUnavailable:
    module, loader = _REGISTRY[name]
    if importlib.util.find_spec(module) is None:
        return BackendUnavailable(name, f"{module} is not installed")
    try:
        return loader()
    except BackendUnavailable as exc:
        return exc
    except ImportError as exc:  # installed but broken (e.g. a CUDA wheel without its driver)
        return BackendUnavailable(name, f"{module} failed to import: {exc}")
    except Exception as exc:  # a GPU that fails to start (driver mismatch, busy device, ...)
        return BackendUnavailable(name, f"{module} failed to start: {type(exc).__name__}: {exc}")


def get_backend(name: str) -> Backend:
    """Return the backend called ``name``.

    Raises
    ------
    ValueError
        If ``name`` is not a known backend (the message lists the known ones).
    BackendUnavailable
        If it is known but cannot run here; ``.reason`` says why.
    """
    if not isinstance(name, str):
        raise TypeError(f"get_backend: name must be a backend's name, one of {', '.join(BACKEND_NAMES)}; "
                        f"got {describe(name)}")
    if name not in _REGISTRY:
        raise ValueError(f"unknown backend {name[:40]!r}; known backends: {', '.join(BACKEND_NAMES)}")
    result = _load(name)
    if isinstance(result, BackendUnavailable):
        raise result
    return result


def known_backends() -> dict[str, Backend | BackendUnavailable]:
    """Every known backend: the loaded ``Backend``, or the ``BackendUnavailable`` saying why not."""
    return {name: _load(name) for name in BACKEND_NAMES}


def available_backends() -> list[Backend]:
    """The backends that can run on this machine, in registry order."""
    return [b for b in known_backends().values() if isinstance(b, Backend)]
