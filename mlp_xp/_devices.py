"""Every device of a backend: the plugin's device axis.

A registry backend lives on one device, the library's first. Tests that run on a second
device too catch arrays created on the default device by mistake (a missing
``device=``): array-api-strict refuses to mix its devices, as CuPy, torch and JAX do
with GPUs. This module makes the same backend on each further device.
"""

from __future__ import annotations

import dataclasses
from functools import cache, partial
from typing import Any

import numpy as np

from .backends import Backend, get_backend

__all__ = ["on_devices"]


@cache
def on_devices(name: str) -> tuple[tuple[str, Backend], ...]:
    """The backend called ``name`` on each of its devices, labelled: ``("", first)``, then the others.

    array-api-strict gets its second device (``device1``; its others are for special
    cases, such as ``no_float64``); a CUDA backend gets every further GPU (``1``, ``2``...).

    Examples
    --------
    >>> [(label, b.device) for label, b in on_devices("array_api_strict")]
    [('', array_api_strict.Device('CPU_DEVICE')), ('device1', array_api_strict.Device('device1'))]
    >>> len(on_devices("numpy"))
    1
    """
    backend = get_backend(name)  # raises BackendUnavailable where it cannot run
    further: list[Backend] = []
    if backend.name == "array_api_strict":
        return ("", backend), ("device1", _strict_on(backend, "device1"))
    if backend.name == "torch-cuda":
        further = _torch_cuda_devices(backend)
    elif backend.name == "cupy":
        further = _cupy_devices(backend)
    elif backend.name == "jax-gpu":
        further = _jax_gpu_devices(backend)
    return ("", backend), *((str(i), b) for i, b in enumerate(further, start=1))


def _strict_on(backend: Backend, name: str) -> Backend:
    xp = backend.xp
    dev = xp.Device(name)
    return dataclasses.replace(
        backend,
        device=dev,
        _asarray=lambda a, dtype: xp.asarray(a, dtype=getattr(xp, dtype), device=dev, copy=True),
    )


def _torch_cuda_devices(backend: Backend) -> list[Backend]:
    import torch

    def on(i: int) -> Backend:
        dev = torch.device("cuda", i)
        return dataclasses.replace(
            backend, device=dev, device_name=torch.cuda.get_device_name(i),
            _asarray=lambda a, dtype: torch.asarray(a, dtype=getattr(torch, dtype), device=dev, copy=True),
            _synchronize=partial(torch.cuda.synchronize, i),
        )

    return [on(i) for i in range(1, torch.cuda.device_count())]


def _cupy_devices(backend: Backend) -> list[Backend]:
    import cupy

    def on(i: int) -> Backend:
        dev = cupy.cuda.Device(i)
        name = cupy.cuda.runtime.getDeviceProperties(i)["name"]

        def asarray(a: np.ndarray, dtype: str) -> Any:
            with dev:  # CuPy allocates on the current device
                return cupy.asarray(a, dtype=dtype)

        return dataclasses.replace(
            backend, device=dev, device_name=name.decode() if isinstance(name, bytes) else name,
            _asarray=asarray, _synchronize=dev.synchronize,
        )

    return [on(i) for i in range(1, cupy.cuda.runtime.getDeviceCount())]


def _jax_gpu_devices(backend: Backend) -> list[Backend]:
    import jax

    def on(dev: Any) -> Backend:
        return dataclasses.replace(
            backend, device=dev, device_name=dev.device_kind,
            _asarray=lambda a, dtype: jax.device_put(a.astype(dtype, copy=True), dev),
        )

    return [on(dev) for dev in jax.devices("gpu")[1:]]
