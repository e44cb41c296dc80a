"""Counting device-to-host reads: what ``@pytest.mark.max_host_reads(n)`` measures.

A read is one point where a program waits for the device and brings data back to Python
or NumPy: a scalar conversion (``float(x)``, ``bool(x)``, ``int(x)``, ``.item()``), a copy
to NumPy, a Dask compute. On a GPU each one stalls the queue; on Dask each one runs the
graph. What is counted, per library (only libraries already imported are watched):

- torch (CPU and CUDA): scalar reads (``aten._local_scalar_dense``), copies from a CUDA
  device to the CPU, and ``.numpy()`` / ``.tolist()`` (one read with the copy before it);
- Dask: every compute of the local schedulers (``compute``, ``persist``, ``np.asarray``);
- array-api-strict: conversions to Python scalars and to NumPy (``__array__``, ``__dlpack__``);
- CuPy: ``.get()`` (so ``cupy.asnumpy``), scalar conversions, ``.item()``, ``.tolist()``;
- JAX: transfers of an array's value off a GPU (or another non-CPU device), once per array,
  as its transfer guard sees them; on the CPU, JAX makes no transfer and nothing is counted.

A read made inside another (``np.asarray`` calling ``__array__`` calling ``.numpy()``)
counts once. Reads by the plugin's own assertions (:func:`paused`) are not counted.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import sys
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["HostReads", "count_host_reads", "paused"]


class HostReads:
    """The device-to-host reads seen by :func:`count_host_reads`: ``n`` in all, ``by_kind`` each.

    Examples
    --------
    >>> reads = HostReads()
    >>> reads.by_kind["torch: scalar read (float(), bool(), int(), .item())"] += 2
    >>> reads.n, str(reads)
    (2, '2 (torch: scalar read (float(), bool(), int(), .item()): 2)')
    """

    def __init__(self) -> None:
        self.by_kind: collections.Counter[str] = collections.Counter()

    @property
    def n(self) -> int:
        """How many reads, of every kind."""
        return sum(self.by_kind.values())

    def __str__(self) -> str:
        kinds = ", ".join(f"{kind}: {k}" for kind, k in self.by_kind.most_common())
        return f"{self.n} ({kinds})" if kinds else "0"

    def __repr__(self) -> str:
        return f"<HostReads {self}>"


_ACTIVE: list[HostReads] = []
# per thread: >0 while inside a counted read (nested reads count once) or inside paused()
_local = threading.local()


def _quiet() -> int:
    return getattr(_local, "depth", 0)


@contextlib.contextmanager
def _inside() -> Iterator[None]:
    _local.depth = _quiet() + 1
    try:
        yield
    finally:
        _local.depth -= 1


def _record(kind: str) -> None:
    if not _quiet():
        for reads in _ACTIVE:
            reads.by_kind[kind] += 1


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """Reads made inside are not counted (the plugin's assertions read both arrays back)."""
    with _inside():
        yield


def _counted(kind: str, original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def read(*args: Any, **kwargs: Any) -> Any:
        _record(kind)
        with _inside():
            return original(*args, **kwargs)

    return read


def _replace(stack: contextlib.ExitStack, cls: type, name: str, wrapper: Any) -> None:
    """``cls.<name> = wrapper`` until ``stack`` closes; an inherited method is overridden, then dropped."""
    own = name in cls.__dict__
    original = cls.__dict__.get(name)
    setattr(cls, name, wrapper)
    if own:
        stack.callback(setattr, cls, name, original)
    else:
        stack.callback(delattr, cls, name)


def _patch(stack: contextlib.ExitStack, cls: type, kinds: dict[str, str]) -> None:
    """Count each call of ``cls.<name>`` as a read of its kind (for each name ``cls`` has)."""
    for name, kind in kinds.items():
        original = getattr(cls, name, None)
        if original is not None:
            _replace(stack, cls, name, _counted(kind, original))


_SCALAR = "scalar read (float(), bool(), int(), .item())"
_TO_NUMPY = "copy to NumPy"


def _watch_torch(stack: contextlib.ExitStack) -> None:
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    aten = torch.ops.aten
    # host tensors made by a counted copy from a device: their .numpy() is the same read
    copied: weakref.WeakSet[Any] = weakref.WeakSet()

    class Watch(TorchDispatchMode):
        def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            out = func(*args, **(kwargs or {}))
            if func is aten._local_scalar_dense.default:
                _record(f"torch: {_SCALAR}")
            elif func in (aten._to_copy.default, aten.copy_.default):
                source, target = (args[0], out) if func is aten._to_copy.default else (args[1], args[0])
                off_device = isinstance(source, torch.Tensor) and source.device.type not in ("cpu", "meta")
                if off_device and target.device.type == "cpu":
                    _record(f"torch: copy from {source.device} to the host")
                    copied.add(target)
            return out

    def host_read(kind: str, original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def read(self: Any, *args: Any, **kwargs: Any) -> Any:
            if self not in copied:
                _record(kind)
            with _inside():
                return original(self, *args, **kwargs)

        return read

    for name, kind in (("numpy", f"torch: {_TO_NUMPY}"), ("tolist", "torch: .tolist()")):
        _replace(stack, torch.Tensor, name, host_read(kind, getattr(torch.Tensor, name)))
    stack.enter_context(Watch())


def _watch_array_api_strict(stack: contextlib.ExitStack) -> None:
    import array_api_strict

    Array = type(array_api_strict.asarray(0.0))
    kinds = {name: f"array_api_strict: {_SCALAR}" for name in
             ("__float__", "__bool__", "__int__", "__index__", "__complex__", "item")}
    kinds |= {"__array__": f"array_api_strict: {_TO_NUMPY}", "__dlpack__": f"array_api_strict: {_TO_NUMPY}",
              "tolist": "array_api_strict: .tolist()"}
    _patch(stack, Array, kinds)


def _watch_cupy(stack: contextlib.ExitStack) -> None:
    import cupy

    # CuPy >= 13: cupy.ndarray is a Python subclass of the extension type, so it can be patched
    kinds = {name: f"cupy: {_SCALAR}" for name in
             ("__float__", "__bool__", "__int__", "__index__", "__complex__", "item")}
    kinds |= {"get": f"cupy: {_TO_NUMPY}", "tolist": "cupy: .tolist()"}
    try:
        _patch(stack, cupy.ndarray, kinds)
    except TypeError as exc:  # an extension type: reads would go uncounted, and a test pass falsely
        raise RuntimeError(f"count_host_reads cannot watch CuPy {cupy.__version__}: cupy.ndarray cannot be "
                           f"patched ({exc}); mlp_xp needs CuPy 13 or later") from exc


def _watch_jax(stack: contextlib.ExitStack) -> None:
    from jax._src.array import ArrayImpl

    value = ArrayImpl.__dict__["_value"]  # a property: every read of the data goes through it

    def counted_value(self: Any) -> Any:
        # what the transfer guard sees: a transfer off a device, once (the value is then cached)
        if getattr(self, "_npy_value", None) is None and any(d.platform != "cpu" for d in self.devices()):
            _record(f"jax: transfer from {next(iter(self.devices())).platform} to the host")
        with _inside():
            return value.fget(self)

    _replace(stack, ArrayImpl, "_value", property(counted_value))


def _watch_dask(stack: contextlib.ExitStack) -> None:
    from dask.callbacks import Callback

    class Computes(Callback):
        def _start(self, dsk: Any) -> None:
            _record("dask: compute")

    stack.enter_context(Computes())


_WATCHERS: dict[str, Callable[[contextlib.ExitStack], None]] = {
    "torch": _watch_torch,
    "array_api_strict": _watch_array_api_strict,
    "cupy": _watch_cupy,
    "jax": _watch_jax,
    "dask": _watch_dask,
}


@contextlib.contextmanager
def count_host_reads() -> Iterator[HostReads]:
    """Count the device-to-host reads made inside the ``with`` block.

    Watches the libraries already imported (torch, Dask, array-api-strict, CuPy, JAX);
    what counts as a read for each is listed in :mod:`mlp_xp.testing`'s docs. Blocks may
    nest: a read counts in every block it happens in.

    Yields
    ------
    HostReads
        Its ``n`` grows as reads happen; ``by_kind`` says which.

    Examples
    --------
    >>> import array_api_strict as xp
    >>> x = xp.asarray([1.0, 2.0])
    >>> with count_host_reads() as reads:
    ...     total = float(xp.sum(x))
    ...     y = x * 2                    # no read: stays on the device
    >>> reads.n
    1
    """
    reads = HostReads()
    with contextlib.ExitStack() as stack:
        if not _ACTIVE:  # the first block installs the watchers, the last removes them
            for module, watch in _WATCHERS.items():
                if module in sys.modules:
                    watch(stack)
        _ACTIVE.append(reads)
        stack.callback(_ACTIVE.remove, reads)
        yield reads
