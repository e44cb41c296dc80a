"""The flat parameter vector's layout: blocks ``W1, b1, W2, b2``, and names like ``W2[1, 2]``.

``params`` is one 1-D array: ``W1`` (Dx x H), ``b1`` (H), ``W2`` (H x Dy) and ``b2`` (Dy),
each flattened row-major, concatenated in that order. A :class:`ParamLayout` says where each
block lies, so a gradient check can name the entry it finds wrong.

A leaf: it imports nothing from the package.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from operator import index

__all__ = ["Block", "ParamLayout", "check_dimensions", "param_layout", "unravel_index"]


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
    """The blocks ``W1`` (Dx x H), ``b1`` (H), ``W2`` (H x Dy), ``b2`` (Dy), row-major, in order."""

    blocks: tuple[Block, ...]

    @property
    def size(self) -> int:
        """Total number of parameters, ``(Dx + 1) * H + (H + 1) * Dy``."""
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
    """Layout of the flat parameter vector for ``dimensions = (Dx, H, Dy)``.

    Examples
    --------
    >>> layout = param_layout((10, 5, 10))
    >>> layout.size
    115
    >>> [(b.name, b.shape, b.offset) for b in layout]
    [('W1', (10, 5), 0), ('b1', (5,), 50), ('W2', (5, 10), 55), ('b2', (10,), 105)]
    >>> layout.entry_name(57)
    'W2[0, 2]'
    """
    return _param_layout(*check_dimensions(dimensions, where="param_layout"))


@lru_cache(maxsize=64)
def _param_layout(Dx: int, H: int, Dy: int) -> ParamLayout:
    # cached: forward_backward_prop asks on every call, and building it costs more than a
    # small network's arithmetic; layouts are immutable, so sharing one is safe
    blocks, offset = [], 0
    for name, shape in (("W1", (Dx, H)), ("b1", (H,)), ("W2", (H, Dy)), ("b2", (Dy,))):
        blocks.append(Block(name, shape, offset))
        offset = blocks[-1].stop
    return ParamLayout(tuple(blocks))


def check_dimensions(
    dimensions: Sequence[int], *, where: str = "forward_backward_prop"
) -> tuple[int, int, int]:
    """``(Dx, H, Dy)`` as Python ints, or a clear error if ``dimensions`` is not three positive integers.

    Raises
    ------
    TypeError
        An entry is not an integer (``10.0`` is refused rather than truncated).
    ValueError
        Not three entries, or one of them is not positive.

    Examples
    --------
    >>> check_dimensions((10, 5, 10))
    (10, 5, 10)
    >>> check_dimensions((10, 0, 10))
    Traceback (most recent call last):
    ...
    ValueError: forward_backward_prop: dimensions must be three positive integers (Dx, H, Dy), got (10, 0, 10)
    """
    expected = "three positive integers (Dx, H, Dy)"
    try:
        Dx, H, Dy = dimensions
    except (TypeError, ValueError):
        raise ValueError(f"{where}: dimensions must be {expected}, got {dimensions!r}") from None
    try:
        Dx, H, Dy = index(Dx), index(H), index(Dy)
    except TypeError:
        raise TypeError(f"{where}: dimensions must be {expected}, got {dimensions!r}") from None
    if Dx <= 0 or H <= 0 or Dy <= 0:
        raise ValueError(f"{where}: dimensions must be {expected}, got {dimensions!r}")
    return Dx, H, Dy
