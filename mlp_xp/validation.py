"""Argument checks: a clear error for bad input instead of a wrong result or a cryptic one.

Two kinds of check:

- **Structure** (:func:`check_network_inputs`, :func:`check_float_array`), run by
  ``forward_backward_prop``, ``softmax``, ``log_softmax``, ``sigmoid`` and ``sigmoid_grad``
  on every call. They read only metadata (array types, ranks, shapes, dtypes, devices):
  no device-to-host transfer, no NumPy call, about a microsecond on NumPy arrays.
- **Values** (:func:`check_values`), opt-in: one-hot label rows and finite entries. This
  must read the data, so it costs one device-to-host transfer (one ``bool``) when the
  values are good.

Every error names the function and the argument, says what was expected and what came.
Integer and boolean arrays are refused with a ``TypeError``, never converted silently:
the right floating dtype is the caller's choice (float32 on a GPU, float64 for checks).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import Any

from array_api_compat import (
    array_namespace,
    device,
    is_array_api_strict_namespace,
    is_cupy_namespace,
    is_numpy_namespace,
    is_torch_namespace,
)

from ._common import Array, describe, dtype_name, is_known, namespace, odd_array
from .layout import _param_layout, _shown, check_dimensions, param_layout

__all__ = ["check_float_array", "check_network_inputs", "check_values"]

_LIBRARIES = "NumPy, CuPy, PyTorch, JAX, Dask or array-api-strict"

#: How to read an array's device; None for a library with a single device (NumPy).
DeviceOf = Callable[[Any], Any] | None
#: Array types seen before -> their ``DeviceOf``. A cache, so the common case costs a dict
#: lookup instead of ``array_namespace``; ``.device`` directly where it is known to be right,
#: as ``array_api_compat.device`` costs a microsecond or more.
_ARRAY_TYPES: dict[type, DeviceOf] = {}
#: (array type, dtype) -> whether the dtype is real floating (``xp.isdtype``), cached. Keyed by
#: type too: array-api-strict warns when its dtypes meet NumPy's in a comparison.
_REAL_FLOATING: dict[tuple[type, Any], bool] = {}


def _register(where: str, name: str, x: Any) -> Any:
    """``x``'s namespace, remembering its type; a ``TypeError`` naming ``name`` if it is no array."""
    try:
        xp = namespace(x)
    except TypeError:
        raise TypeError(
            f"{where}: {name} must be an array of an array-API library ({_LIBRARIES}), "
            f"got {type(x).__module__}.{type(x).__qualname__}"
        ) from None
    if (odd := odd_array(x)) is not None:  # never cached: each call refuses it
        raise TypeError(f"{where}: {name} must be a plain array, not {odd}")
    if is_numpy_namespace(xp):
        _ARRAY_TYPES[type(x)] = None
    elif is_torch_namespace(xp) or is_cupy_namespace(xp) or is_array_api_strict_namespace(xp):
        _ARRAY_TYPES[type(x)] = attrgetter("device")
    else:
        _ARRAY_TYPES[type(x)] = device
    return xp


def _is_real_floating(x: Any) -> bool:
    key = (type(x), x.dtype)
    ok = _REAL_FLOATING.get(key)
    if ok is None:
        try:
            ok = namespace(x).isdtype(x.dtype, "real floating")
        except TypeError:  # a dtype the namespace does not know: ml_dtypes' bfloat16 in NumPy
            ok = False
        _REAL_FLOATING[key] = ok
    return ok


def _float_error(where: str, name: str, x: Any) -> TypeError:
    return TypeError(
        f"{where}: {name} must have a real floating dtype (float32 or float64), "
        f"got {dtype_name(x.dtype)}; convert it first, e.g. xp.astype({name}, xp.float64)"
    )


def check_float_array(x: Array, *, where: str, name: str = "x", ndims: tuple[int, ...] | None = None) -> None:
    """Check that ``x`` is an array of real floating dtype, of one of the ranks ``ndims`` if given.

    Raises
    ------
    TypeError
        ``x`` is not an array of an array-API library, or its dtype is not real floating.
    ValueError
        ``x.ndim`` is not in ``ndims``.

    Examples
    --------
    >>> import numpy as np
    >>> check_float_array(np.ones((2, 3)), where="softmax", ndims=(1, 2))
    >>> check_float_array(np.ones(3, dtype=int), where="sigmoid")
    Traceback (most recent call last):
    ...
    TypeError: sigmoid: x must have a real floating dtype (float32 or float64), got int64; \
convert it first, e.g. xp.astype(x, xp.float64)
    """
    if type(x) not in _ARRAY_TYPES:
        _register(where, name, x)
    if ndims is not None and x.ndim not in ndims:
        ranks = " or ".join(f"{n}-D" for n in ndims)
        raise ValueError(f"{where}: {name} must be a {ranks} array, got {describe(x)}")
    if not _is_real_floating(x):
        raise _float_error(where, name, x)


def _same_library(where: str, arrays: dict[str, Any]) -> DeviceOf:
    """The slow path: each array's namespace; a ``TypeError`` naming two that differ."""
    spaces = {name: _register(where, name, x) for name, x in arrays.items()}
    (first, xp0), *rest = spaces.items()
    for name, xp in rest:
        if xp is not xp0:
            a, b = arrays[first], arrays[name]
            raise TypeError(
                f"{where}: {first} and {name} must come from one array library, got {first} "
                f"from {xp0.__name__} ({type(a).__qualname__}) and {name} from {xp.__name__} "
                f"({type(b).__qualname__}); move them into one with that library's asarray"
            )
    # one library, several array types (a torch Parameter and a Tensor): the general reader
    return None if is_numpy_namespace(xp0) else device


def _same_device(where: str, device_of: Callable[[Any], Any], arrays: dict[str, Any]) -> None:
    """Devices agree where they are known (a JAX tracer inside ``jax.jit`` has none: ``None``)."""
    data, labels, params = arrays.values()
    d = device_of(data)
    if d is not None and device_of(labels) == d and device_of(params) == d:
        return  # the common case, at three attribute reads
    devices = {name: device_of(x) for name, x in arrays.items()}
    known = [(name, d) for name, d in devices.items() if d is not None]
    for name, d in known[1:]:
        if d != known[0][1]:
            first, d0 = known[0]
            raise TypeError(
                f"{where}: {first} and {name} must be on one device, got {first} on {d0} "
                f"and {name} on {d}; move them onto one device first"
            )


def _rank_error(where: str, data: Any, labels: Any, params: Any) -> ValueError:
    for name, x, ndim, meaning in (
        ("data", data, 2, "M x Dx, one row per example"),
        ("labels", labels, 2, "M x Dy, one row per example"),
        ("params", params, 1, "W1, b1, ..., WL, bL flattened"),
    ):
        if x.ndim != ndim:
            return ValueError(f"{where}: {name} must be a {ndim}-D array ({meaning}), got {describe(x)}")
    raise AssertionError("no rank is wrong")


def _check_arrays(where: str, data: Any, labels: Any, params: Any) -> tuple[Any, Any, Any]:
    """What holds whatever the dimensions: one library and device, ranks, rows, one floating dtype.

    Returns ``data``'s columns, ``labels``' columns and ``params``' length, for the caller to check.
    """
    t = type(data)
    if t is type(labels) is type(params) and t in _ARRAY_TYPES:  # the common case: a type seen before
        device_of = _ARRAY_TYPES[t]
    else:
        device_of = _same_library(where, {"data": data, "labels": labels, "params": params})
    if device_of is not None:
        _same_device(where, device_of, {"data": data, "labels": labels, "params": params})
    try:  # unpacking checks the ranks and reads each shape once (NumPy builds a tuple per .shape)
        M, n_data = data.shape
        M_labels, n_labels = labels.shape
        (n_params,) = params.shape
    except ValueError:
        raise _rank_error(where, data, labels, params) from None
    if M_labels != M and is_known(M) and is_known(M_labels):
        raise ValueError(
            f"{where}: labels must have one row per row of data (M = {M}), got {describe(labels)}"
        )
    if not _is_real_floating(data):
        raise _float_error(where, "data", data)
    dtype = data.dtype
    if labels.dtype != dtype or params.dtype != dtype:
        name, x = ("labels", labels) if labels.dtype != dtype else ("params", params)
        raise TypeError(
            f"{where}: {name} must have data's dtype {dtype_name(dtype)}, got {dtype_name(x.dtype)}; "
            f"convert it first, e.g. xp.astype({name}, data.dtype)"
        )
    return n_data, n_labels, n_params


def check_network_inputs(data: Array, labels: Array, params: Array, dimensions: Sequence[int]) -> None:
    """Check the arguments of ``forward_backward_prop``: structure only, no data read.

    Raises
    ------
    ValueError
        ``data``, ``labels`` not 2-D or ``params`` not 1-D; ``labels``' rows differ from
        ``data``'s; ``data``'s columns differ from ``Dx`` or ``labels``' from ``Dy``;
        ``params`` has not the layout's size (``(Dx + 1) * H + (H + 1) * Dy`` for the
        seed's network); ``dimensions`` is not at least two positive integers.
    TypeError
        An argument is not an array; arrays from different libraries or on different
        devices; a dtype that is not real floating, or dtypes that differ.

    Examples
    --------
    >>> import numpy as np
    >>> data, labels = np.zeros((4, 3)), np.eye(2)[[0, 1, 1, 0]]
    >>> check_network_inputs(data, labels, np.zeros(4 * 2 + 3 * 2), (3, 2, 2))
    >>> check_network_inputs(data, labels, np.zeros(15), (3, 2, 2))
    Traceback (most recent call last):
    ...
    ValueError: forward_backward_prop: params must have (Dx + 1) * H + (H + 1) * Dy = (3 + 1) * 2 + \
(2 + 1) * 2 = 14 entries (W1 3x2, b1 2, W2 2x2, b2 2, each row-major, concatenated), got 15
    """
    where = "forward_backward_prop"
    layout = _param_layout(check_dimensions(dimensions, where=where))
    n_data, n_labels, n_params = _check_arrays(where, data, labels, params)
    d_in, d_out = layout.blocks[0].shape[0], layout.blocks[-1].shape[0]
    if n_data != d_in or n_labels != d_out or n_params != layout.size:
        _check_sizes(where, data, labels, params, dimensions)


def _check_sizes(where: str, data: Any, labels: Any, params: Any, dimensions: Sequence[int]) -> None:
    """The error path of :func:`check_network_inputs`: which size is wrong (unknown sizes pass)."""
    d = check_dimensions(dimensions, where=where)
    for name, x, D, n in (("data", data, "Dx", d[0]), ("labels", labels, "Dy", d[-1])):
        if x.shape[1] != n and is_known(x.shape[1]):
            raise ValueError(
                f"{where}: {name} must have {D} = {n} columns (dimensions {_shown(dimensions)}), "
                f"got {describe(x)}"
            )
    layout = param_layout(d)
    if params.shape[0] != layout.size and is_known(params.shape[0]):
        if len(d) == 3:  # the seed's network: the formula it teaches
            Dx, H, Dy = d
            formula = f"(Dx + 1) * H + (H + 1) * Dy = ({Dx} + 1) * {H} + ({H} + 1) * {Dy} = {layout.size}"
        else:
            formula = f"sum of (D(l-1) + 1) * Dl over the {len(d) - 1} layers = {layout.size}"
        blocks = str(layout) if len(layout) <= 8 else f"{layout.blocks[0].name} ... {layout.blocks[-1].name}"
        raise ValueError(
            f"{where}: params must have {formula} entries ({blocks}, each row-major, concatenated), "
            f"got {params.shape[0]}"
        )


def check_values(data: Array, labels: Array, params: Array, dimensions: Sequence[int] | None = None) -> None:
    """Opt-in check of the values: one-hot ``labels`` rows, finite ``data`` and ``params``.

    ``forward_backward_prop`` checks only what it can without reading the data; call this
    once on new data (the ``mlp-xp`` command does) to catch labels that are not one-hot
    (each entry 0 or 1, exactly one 1 per row) and NaN or infinite inputs. The verdict is
    computed on the device and read back once: one device-to-host transfer (for Dask, one
    ``compute``) when all is well; only a failure reads more, to say where. With
    ``dimensions``, the structure is checked as by ``forward_backward_prop`` and a bad
    parameter is named by its block (``W2[1, 2]``).

    Raises
    ------
    ValueError
        A row of ``labels`` is not one-hot, or ``data`` or ``params`` has a NaN or an
        infinity (the first offending row or entry is named), or a structural error.
    TypeError
        As :func:`check_network_inputs`.

    Examples
    --------
    >>> import numpy as np
    >>> data, params = np.zeros((3, 2)), np.zeros(3 * 2 + 3 * 2)
    >>> check_values(data, np.eye(2)[[0, 1, 1]], params, (2, 2, 2))
    >>> check_values(data, np.asarray([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]]), params)
    Traceback (most recent call last):
    ...
    ValueError: check_values: labels row 1 is not one-hot (entries 0 or 1, exactly one 1): it has \
2 entries that are not 0 or 1 and sums to 1.0
    """
    where = "check_values"
    if dimensions is None:
        _check_arrays(where, data, labels, params)
    else:
        check_network_inputs(data, labels, params, dimensions)
    xp = array_namespace(data, labels, params)
    not_binary = (labels != 0) & (labels != 1)
    row_sums = xp.sum(labels, axis=1)
    bad_rows = xp.any(not_binary, axis=1) | (row_sums != 1)
    data_finite, params_finite = xp.isfinite(data), xp.isfinite(params)
    good = ~xp.any(bad_rows) & xp.all(data_finite) & xp.all(params_finite)
    if bool(good):  # the one transfer
        return
    # Something is wrong: find the first culprit (more transfers, on the error path only).
    if bool(xp.any(bad_rows)):
        i = _first_true(xp, bad_rows)
        n = int(xp.sum(xp.astype(not_binary[i, :], xp.int32)))
        raise ValueError(
            f"{where}: labels row {i} is not one-hot (entries 0 or 1, exactly one 1): it has {n} "
            f"entries that are not 0 or 1 and sums to {float(row_sums[i])}"
        )
    for name, x, finite in (("data", data, data_finite), ("params", params, params_finite)):
        if not bool(xp.all(finite)):
            flat = _first_true(xp, ~xp.reshape(finite, (-1,)))
            n_bad = int(xp.sum(xp.astype(~finite, xp.int32)))
            if x.ndim == 2:
                i, j = divmod(flat, x.shape[1])
                entry = f"{name}[{i}, {j}]"
            elif dimensions is not None:
                entry = f"params[{flat}] ({param_layout(dimensions).entry_name(flat)})"
            else:
                entry = f"params[{flat}]"
            value = float(xp.reshape(x, (-1,))[flat])
            raise ValueError(
                f"{where}: {name} must be finite, got {n_bad} NaN or infinite "
                f"entr{'y' if n_bad == 1 else 'ies'}, the first {entry} = {value}"
            )


def _first_true(xp: Any, mask: Any) -> int:
    """Index of the first true entry of a 1-D boolean array (argmax of 0/1: no boolean indexing)."""
    return int(xp.argmax(xp.astype(mask, xp.int8)))
