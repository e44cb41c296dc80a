"""Row blocks on a thread pool: NumPy's elementwise passes on every core the BLAS would use.

NumPy runs a matrix product on all of the BLAS's threads but an elementwise pass (exp, the
in-place updates of a layer) on one. For a large batch the network's cost and gradient are
sums over rows, so the rows can be cut into one block per BLAS thread, each block run on a
thread of its own with a single-threaded BLAS, and the blocks' costs and gradients summed:
every pass then runs on every core. NumPy releases the GIL in both. The blocks are plain
slicing of the one array-API implementation; nothing here computes.

The BLAS limit is process-wide while the blocks run (as in scikit-learn's KMeans), so one
call at a time takes this path; a concurrent call runs whole, as it would without it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from threadpoolctl import ThreadpoolController

from ._common import Array, namespace
from .layout import ParamLayout

__all__ = ["in_row_blocks", "row_blocks"]

#: The fewest entries of a block's layers (rows x the sum of the widths) worth a thread:
#: below it the pool's hand-over (tens of microseconds) is no longer small against the work.
MIN_BLOCK_ENTRIES = 2**18
#: The fewest rows of a block: the products stay efficient, and a small batch runs whole.
MIN_BLOCK_ROWS = 256

_lock = threading.Lock()  # one blocked call at a time: the BLAS limit is the whole process's
_controller: Any = None
_pool: tuple[ThreadPoolExecutor, int] | None = None  # and its number of threads


def row_blocks(n_rows: int, layout: ParamLayout) -> int:
    """How many row blocks a NumPy call of ``n_rows`` rows should run in: the BLAS's threads,
    fewer where the blocks would be too small, and 1 (run whole) under a one-thread BLAS.

    Examples
    --------
    >>> from mlp_xp import param_layout
    >>> row_blocks(20, param_layout((10, 5, 10)))  # the seed's tiny problem runs whole
    1
    """
    if n_rows < 2 * MIN_BLOCK_ROWS:  # cheap test first: small calls pay nothing more
        return 1
    widths = layout.blocks[0].shape[0] + sum(b.size for b in layout.blocks[1::2])  # D0 + D1 + ... + DL
    n = min(_blas_threads(), n_rows // MIN_BLOCK_ROWS, n_rows * widths // MIN_BLOCK_ENTRIES)
    return max(n, 1)


def in_row_blocks(backprop: Callable[..., tuple[Array, ...]], n_blocks: int, data: Array, labels: Array,
                  *args: Any, input_grad: bool) -> tuple[Array, ...] | None:
    """``backprop(data, labels, *args)`` summed over ``n_blocks`` row blocks run side by side,
    each with a one-thread BLAS; ``None`` when another call holds the blocks (run it whole).

    The cost and the gradient are the blocks' sums (the same up to rounding, as a BLAS's own
    blocking is), ``grad_data`` their rows stacked.
    """
    if not _lock.acquire(blocking=False):
        return None
    try:
        n = data.shape[0]
        bounds = [(i * n // n_blocks, (i + 1) * n // n_blocks) for i in range(n_blocks)]
        with _blas().limit(limits=1, user_api="blas"):
            parts = list(_threads(n_blocks).map(
                lambda b: backprop(data[b[0]:b[1], ...], labels[b[0]:b[1], ...], *args), bounds))
    finally:
        _lock.release()
    cost, grad = parts[0][0], parts[0][1]  # this call's own arrays: summed in place
    for part in parts[1:]:
        cost += part[0]
        grad += part[1]
    if not input_grad:
        return cost, grad
    return cost, grad, namespace(data).concat([part[2] for part in parts], axis=0)


def _blas() -> Any:
    global _controller
    if _controller is None:
        _controller = ThreadpoolController().select(user_api="blas")
    return _controller


def _blas_threads() -> int:
    libraries = _blas().lib_controllers
    return max((lib.num_threads for lib in libraries), default=1)


def _threads(n: int) -> ThreadPoolExecutor:
    global _pool
    if _pool is None or _pool[1] < n:
        _pool = (ThreadPoolExecutor(max_workers=n, thread_name_prefix="mlp_xp-rows"), n)
    return _pool[0]
