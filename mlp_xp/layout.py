"""The flat parameter vector's layout: blocks ``W1, b1, ..., WL, bL``, names like ``W3[0, 7]``.

``params`` is one 1-D array: for ``dimensions = (D0, D1, ..., DL)`` (``D0 = Dx``,
``DL = Dy``), ``Wl`` (D(l-1) x Dl) and ``bl`` (Dl) for each layer ``l``, each flattened
row-major, concatenated in that order. A :class:`ParamLayout` says where each
block lies, so a gradient check can name the entry it finds wrong.

A leaf: it imports nothing from the package.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from operator import index

__all__ = ["Block", "ParamLayout", "check_dimensions", "n_params", "param_layout", "unravel_index"]


def unravel_index(k: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The multi-index of flat (row-major) index ``k`` in an array of ``shape``.

    Examples
    --------
    >>> unravel_index(5, (2, 3))
    (1, 2)
    """
    idx = []
    for d in reversed(shape):
        k, r = divmod(k, d)
        idx.append(r)
    return tuple(reversed(idx))


@dataclass(frozen=True)
class Block:
    """One named block of the flat parameter vector: ``params[offset:offset + size]``."""

    name: str
    shape: tuple[int, ...]
    offset: int

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def stop(self) -> int:
        return self.offset + self.size

    def entry_name(self, flat_index: int) -> str:
        """Name of the entry at ``flat_index`` (an index into the whole vector), e.g. ``W2[1, 2]``."""
        k = flat_index - self.offset
        if not 0 <= k < self.size:
            raise IndexError(f"flat index {flat_index} is not in block {self.name}")
        return f"{self.name}[{', '.join(map(str, unravel_index(k, self.shape)))}]"


@dataclass(frozen=True)
class ParamLayout:
    """The blocks ``W1, b1, ..., WL, bL`` of the flat parameter vector, row-major, in order."""

    blocks: tuple[Block, ...]

    @property
    def size(self) -> int:
        """Total number of parameters, ``sum over layers of (D(l-1) + 1) * Dl``."""
        return self.blocks[-1].stop

    def __iter__(self) -> Iterator[Block]:
        return iter(self.blocks)

    def __len__(self) -> int:
        return len(self.blocks)

    def __getitem__(self, name: str) -> Block:
        for b in self.blocks:
            if b.name == name:
                return b
        raise KeyError(f"no block {name!r}; blocks are {[b.name for b in self.blocks]}")

    def block_of(self, flat_index: int) -> Block:
        """The block holding entry ``flat_index`` of the flat vector."""
        for b in self.blocks:
            if b.offset <= flat_index < b.stop:
                return b
        raise IndexError(f"flat index {flat_index} is outside 0..{self.size - 1}")

    def entry_name(self, flat_index: int) -> str:
        """``'W2[1, 2]'`` for the entry at ``flat_index`` of the flat vector."""
        return self.block_of(flat_index).entry_name(flat_index)

    def __str__(self) -> str:
        return ", ".join(f"{b.name} {'x'.join(map(str, b.shape))}" for b in self.blocks)


def param_layout(dimensions: Sequence[int]) -> ParamLayout:
    """Layout of the flat parameter vector for ``dimensions = (Dx, H1, ..., Hk, Dy)``.

    The blocks are ``W1, b1, W2, b2, ..., WL, bL`` for the ``L = k + 1`` layers, in that
    order, each row-major: ``Wl`` is ``D(l-1) x Dl`` and ``bl`` has ``Dl`` entries. The
    seed's ``(Dx, H, Dy)`` is ``k = 1``; ``(Dx, Dy)`` (``k = 0``) is softmax regression.

    Examples
    --------
    >>> layout = param_layout((10, 5, 10))
    >>> layout.size
    115
    >>> [(b.name, b.shape, b.offset) for b in layout]
    [('W1', (10, 5), 0), ('b1', (5,), 50), ('W2', (5, 10), 55), ('b2', (10,), 105)]
    >>> layout.entry_name(57)
    'W2[0, 2]'
    >>> str(param_layout((4, 8, 8, 3)))
    'W1 4x8, b1 8, W2 8x8, b2 8, W3 8x3, b3 3'
    """
    return _param_layout(check_dimensions(dimensions, where="param_layout"))


@lru_cache(maxsize=64)
def _param_layout(dimensions: tuple[int, ...]) -> ParamLayout:
    # cached: forward_backward_prop asks on every call, and building it costs more than a
    # small network's arithmetic; layouts are immutable, so sharing one is safe
    blocks, offset = [], 0
    for i, (d_in, d_out) in enumerate(pairwise(dimensions), start=1):
        for name, shape in ((f"W{i}", (d_in, d_out)), (f"b{i}", (d_out,))):
            blocks.append(Block(name, shape, offset))
            offset = blocks[-1].stop
    return ParamLayout(tuple(blocks))


def n_params(dimensions: Sequence[int]) -> int:
    """``sum over layers of (D(l-1) + 1) * Dl``: the length of ``params`` (dimensions checked).

    Examples
    --------
    >>> n_params((10, 5, 10)), n_params((784, 10))
    (115, 7850)
    """
    d = check_dimensions(dimensions, where="n_params")
    return sum((a + 1) * b for a, b in pairwise(d))


def _shown(dimensions: object) -> str:
    """``repr(dimensions)``, cut short: a message stays short whatever came."""
    text = repr(dimensions)
    return text if len(text) <= 80 else f"{text[:80]}... ({len(text)} characters in all)"


_EXPECTED = "at least two positive integers (Dx, H1, ..., Hk, Dy)"


def check_dimensions(dimensions: Sequence[int], *, where: str = "forward_backward_prop") -> tuple[int, ...]:
    """``(Dx, H1, ..., Hk, Dy)`` as a tuple of Python ints, or a clear error.

    Raises
    ------
    TypeError
        ``dimensions`` is not a sequence, or an entry is not an integer (``10.0`` is refused
        rather than truncated).
    ValueError
        Fewer than two entries, or one of them is not positive.

    Examples
    --------
    >>> check_dimensions((10, 5, 10))
    (10, 5, 10)
    >>> check_dimensions((10, 0, 10))
    Traceback (most recent call last):
    ...
    ValueError: forward_backward_prop: dimensions must be at least two positive integers \
(Dx, H1, ..., Hk, Dy), got (10, 0, 10)
    """
    if isinstance(dimensions, str | bytes) or not hasattr(dimensions, "__len__"):
        raise TypeError(f"{where}: dimensions must be {_EXPECTED}, got {_shown(dimensions)}")
    if len(dimensions) < 2:
        raise ValueError(f"{where}: dimensions must be {_EXPECTED}, got {_shown(dimensions)}")
    try:
        if any(isinstance(n, bool) for n in dimensions):
            raise TypeError  # True is an int to Python, not a width
        d = tuple(index(n) for n in dimensions)
    except TypeError:
        raise TypeError(f"{where}: dimensions must be {_EXPECTED}, got {_shown(dimensions)}") from None
    if min(d) <= 0:
        raise ValueError(f"{where}: dimensions must be {_EXPECTED}, got {_shown(dimensions)}")
    return d
