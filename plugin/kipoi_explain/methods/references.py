"""Reference (baseline) sequences that reference-based methods compare an input against."""
from __future__ import annotations

import numpy as np

from ..draws import sample_indices
from ..errors import InputError
from ..sequences.shuffles import dinucleotide_shuffles

BASELINES = ("zeros", "uniform", "shuffle", "mean")


def references(x: np.ndarray, baseline="zeros", n_references: int = 1,
               seed: int = 0, sample_index=0) -> np.ndarray:
    """References for each input, ``(N, K, *sample shape)``: ``(N, K, L, 4)`` for DNA.

    Parameters
    ----------
    x : numpy.ndarray
        ``(N, L, 4)`` one-hot inputs, or ``(N, *shape)`` features.
    baseline : {"zeros", "uniform", "shuffle", "mean"} or numpy.ndarray
        All-zero rows; 0.25 everywhere; dinucleotide shuffles of each input (``n_references``
        of them, keeping dinucleotide composition, seeded); the mean of the given inputs (per
        feature, or per position and base), the same for every input; or an array of one
        sample's shape, ``(N, *shape)`` or ``(N, K, *shape)``. ``uniform`` and ``shuffle``
        are for one-hot DNA only.
    n_references : int
        Number of shuffles per input (``"shuffle"`` only).
    seed : int
        Seed of the shuffles: the sequence of index ``i`` in the whole set uses ``seed + i``, so
        its references do not depend on the batch or shard it is in.
    sample_index : int or numpy.ndarray
        Index of the first input in the whole set, or one index per input (see
        :mod:`kipoi_explain.draws`).
    """
    n, shape = x.shape[0], x.shape[1:]
    if isinstance(baseline, str):
        if baseline == "zeros":
            return np.zeros((n, 1, *shape), dtype=np.float32)
        if baseline == "uniform":
            return np.full((n, 1, *shape), 0.25, dtype=np.float32)
        if baseline == "shuffle":
            return dinucleotide_shuffles(x, n_references, seed + sample_indices(sample_index, n))
        if baseline == "mean":
            return np.broadcast_to(x.mean(axis=0, dtype=np.float64).astype(np.float32),
                                   (n, 1, *shape))
        raise InputError(f"baseline {baseline!r}: expected one of {', '.join(BASELINES)} or an "
                         f"array {shape} / (N, {', '.join(map(str, shape))})")
    ref = np.asarray(baseline, dtype=np.float32)
    if ref.shape == shape:
        return np.broadcast_to(ref, (n, 1, *shape))
    if ref.shape == (n, *shape):
        return ref[:, None]
    if ref.ndim == len(shape) + 2 and ref.shape[0] == n and ref.shape[2:] == shape:
        return ref
    dims = ", ".join(map(str, shape))
    raise InputError(f"baseline array of shape {ref.shape}: expected ({dims}), ({n}, {dims}) "
                     f"or ({n}, K, {dims})")
