"""The one batching engine every method runs through.

Methods describe their work as rows (sequences, mutants, interpolation steps, references) and
a function that handles a block of rows; the engine cuts the rows into device-sized blocks,
shows progress, stops between blocks when its caller gives up (:mod:`.cancellation`), and
stitches the results back together. No method loops over sequences itself.
"""
from __future__ import annotations

import os
from typing import Callable

import numpy as np

from .cancellation import checkpoint

#: Rows per block when neither the caller nor the model sets one.
DEFAULT_BATCH_SIZE = 128
#: Share of the free device memory an automatically sized block may fill, and the most rows.
MEMORY_FRACTION, MAX_AUTO_BATCH = 0.25, 8192
#: On a CPU, the most bytes one activation of an automatically sized block may take. Larger
#: tensors are fresh memory maps whose first touch costs more than the arithmetic on them:
#: DeepSHAP on Basset's architecture ran 2.7x slower in blocks of 128 rows than of 16.
CPU_TENSOR_BYTES = 16 * 2**20


def run_batches(fn: Callable[[int, int], np.ndarray | tuple], n_rows: int, batch_size: int,
                progress: bool = False, desc: str | None = None):
    """Apply ``fn(lo, hi)`` to consecutive row blocks ``[lo, hi)`` and concatenate the results.

    Parameters
    ----------
    fn : callable
        Handles rows ``lo`` to ``hi`` and returns an array with ``hi - lo`` rows, a tuple of
        such arrays, or None when it accumulates its results itself.
    n_rows : int
        Total number of rows.
    batch_size : int
        Rows per block.
    progress : bool
        Show a progress bar (rows done / total) once the rows take more than
        :data:`~kipoi_explain.stages.DELAY` seconds.
    desc : str, optional
        Label of the progress bar.

    Returns
    -------
    numpy.ndarray, tuple of numpy.ndarray, or None
        The blocks' results concatenated along the first axis (None if ``fn`` returns None).
    """
    from .stages import progress_bar

    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size}: expected a positive integer")
    parts = []
    with progress_bar(n_rows, desc, "row", show=progress) as bar:
        for lo in range(0, n_rows, batch_size):
            checkpoint()
            hi = min(lo + batch_size, n_rows)
            parts.append(fn(lo, hi))
            bar.update(hi - lo)
    if parts[0] is None:
        return None
    if isinstance(parts[0], tuple):
        return tuple(np.concatenate(column) for column in zip(*parts))
    return np.concatenate(parts)


def accumulate_sorted(total: np.ndarray, index: np.ndarray, values: np.ndarray) -> None:
    """``total[index[j]] += values[j]`` in place, for a sorted ``index``.

    Work is cut sequence-major, so a block's sequence indices are sorted and each sequence's
    rows are contiguous: one segmented sum instead of ``np.add.at``, several times slower.
    """
    starts = np.flatnonzero(np.r_[True, index[1:] != index[:-1]])
    total[index[starts]] += np.add.reduceat(values, starts, axis=0)


def auto_batch_size(bytes_per_row: int, available: int, fraction: float = MEMORY_FRACTION,
                    cap: int = MAX_AUTO_BATCH, largest_per_row: int | None = None) -> int:
    """Rows per block so that a block's memory, ``bytes_per_row`` each, fills at most
    ``fraction`` of ``available`` bytes and, given ``largest_per_row`` (the largest activation
    of one row, on a CPU), its largest activation at most :data:`CPU_TENSOR_BYTES`: a multiple
    of 8 where possible, at least 1, at most ``cap``."""
    rows = int(available * fraction // max(bytes_per_row, 1))
    if largest_per_row:
        rows = min(rows, CPU_TENSOR_BYTES // largest_per_row)
    if rows >= 8:
        rows -= rows % 8
    return max(1, min(rows, cap))


def available_memory() -> int:
    """The memory the operating system reports available to new processes (Linux
    ``MemAvailable``, else free physical pages); a backend asks its device for its own."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
