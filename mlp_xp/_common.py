"""Private helpers shared by the maths modules: namespaces, descriptions, dtype names, sizes.

A leaf: it imports nothing from the package.
"""

from __future__ import annotations

from typing import Any, TypeAlias

from array_api_compat import array_namespace

__all__ = ["Array", "describe", "dtype_name", "has_known_shape", "is_known", "namespace", "odd_array"]

#: An array of any array-API library (NumPy, CuPy, torch, JAX, Dask, array-api-strict). The
#: standard defines no common array type to check against, so for a type checker it is Any;
#: in a signature it says "an array", where Any would say "anything".
Array: TypeAlias = Any

#: Array type -> its namespace. ``array_namespace`` costs microseconds and a small network's
#: whole pass about fifty; the namespace depends on the type alone.
_NAMESPACES: dict[type, Any] = {}


def namespace(x: Any) -> Any:
    """``array_namespace(x)``, looked up once per array type; a ``TypeError`` if ``x`` is no array."""
    xp = _NAMESPACES.get(type(x))
    if xp is None:
        xp = _NAMESPACES[type(x)] = array_namespace(x)
    return xp


def dtype_name(dtype: Any) -> str:
    """``'float32'`` for NumPy's, torch's (``torch.float32``) and array-api-strict's float32.

    Examples
    --------
    >>> import numpy as np
    >>> dtype_name(np.dtype("float32"))
    'float32'
    """
    return str(dtype).rsplit(".", 1)[-1]


def describe(obj: Any) -> str:
    """A short description for an error message: ``'a 2-D float64 array of shape (3, 4)'``.

    Anything that is not an array is named by its type and the start of its ``repr``, so a
    message stays short whatever came.

    Examples
    --------
    >>> import numpy as np
    >>> describe(np.zeros((3, 4)))
    'a 2-D float64 array of shape (3, 4)'
    >>> describe(list(range(1000)))
    'a list [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 1...'
    """
    shape, dtype = getattr(obj, "shape", None), getattr(obj, "dtype", None)
    if shape is not None and dtype is not None:
        return f"a {len(shape)}-D {dtype_name(dtype)} array of shape {tuple(shape)}"
    text = repr(obj)
    name = type(obj).__name__
    article = "an" if name[:1].lower() in "aeiou" else "a"
    return f"{article} {name} {text[:60]}{'...' if len(text) > 60 else ''}"


def is_known(n: Any) -> bool:
    """Whether a shape entry is known (Dask gives NaN, the standard ``None``, for unknown sizes)."""
    return n is not None and n == n


def has_known_shape(x: Any) -> bool:
    """Whether every entry of ``x.shape`` is known."""
    return all(is_known(n) for n in x.shape)


#: NumPy's array subclasses that change what the operators mean, and how to leave them.
_ODD_ARRAYS = {
    "matrix": "a numpy.matrix, whose * is a matrix product; convert it with numpy.asarray",
    "MaskedArray": "a numpy masked array, whose masked entries drop out silently; fill it first, "
    "e.g. numpy.ma.filled(x, 0.0)",
}


def odd_array(x: Any) -> str | None:
    """What is wrong with ``x`` if it is a ``numpy.matrix`` or a masked array, else None.

    Examples
    --------
    >>> import numpy as np
    >>> odd_array(np.ma.masked_array([1.0]))[:25], odd_array(np.ones(2))
    ('a numpy masked array, who', None)
    """
    for cls in type(x).__mro__:
        if cls.__module__.startswith("numpy") and cls.__name__ in _ODD_ARRAYS:
            return _ODD_ARRAYS[cls.__name__]
    return None
