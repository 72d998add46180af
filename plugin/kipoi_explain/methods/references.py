"""Reference (baseline) sequences that reference-based methods compare an input against."""
from __future__ import annotations

import numpy as np

from ..errors import InputError

BASELINES = ("zeros", "uniform", "shuffle")


def references(x: np.ndarray, baseline="zeros", n_references: int = 1,
               seed: int = 0) -> np.ndarray:
    """References for each input, ``(N, K, L, 4)``.

    Parameters
    ----------
    x : numpy.ndarray
        ``(N, L, 4)`` one-hot inputs.
    baseline : {"zeros", "uniform", "shuffle"} or numpy.ndarray
        All-zero rows; 0.25 everywhere; dinucleotide shuffles of each input (``n_references``
        of them, keeping dinucleotide composition, seeded); or an array ``(L, 4)``,
        ``(N, L, 4)`` or ``(N, K, L, 4)``.
    n_references : int
        Number of shuffles per input (``"shuffle"`` only).
    seed : int
        Seed of the shuffles; sequence ``i`` uses ``seed + i``, so its references do not depend
        on the batch it is in.
    """
    n, length = x.shape[:2]
    if isinstance(baseline, str):
        if baseline == "zeros":
            return np.zeros((n, 1, length, 4), dtype=np.float32)
        if baseline == "uniform":
            return np.full((n, 1, length, 4), 0.25, dtype=np.float32)
        if baseline == "shuffle":
            return dinucleotide_shuffles(x, n_references, seed)
        raise InputError(f"baseline {baseline!r}: expected one of {', '.join(BASELINES)} or an "
                         "array (L, 4) / (N, L, 4)")
    ref = np.asarray(baseline, dtype=np.float32)
    if ref.shape == (length, 4):
        return np.broadcast_to(ref, (n, 1, length, 4))
    if ref.shape == (n, length, 4):
        return ref[:, None]
    if ref.ndim == 4 and ref.shape[0] == n and ref.shape[2:] == (length, 4):
        return ref
    raise InputError(f"baseline array of shape {ref.shape}: expected ({length}, 4), "
                     f"({n}, {length}, 4) or ({n}, K, {length}, 4)")


def dinucleotide_shuffles(x: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """``n`` dinucleotide-preserving shuffles of each sequence, ``(N, n, L, 4)``.

    Uses tangermeme's shuffle (the Kundaje-lab Eulerian-path algorithm). Positions that are not
    a single base (``N``) are shuffled as all-zero rows.
    """
    import torch
    from tangermeme.ersatz import dinucleotide_shuffle

    if n < 1:
        raise InputError(f"n_references={n}: expected at least 1")
    onehot = (x == x.max(-1, keepdims=True)) & (x.max(-1, keepdims=True) == 1)
    hard = torch.from_numpy(onehot.astype(np.int8).transpose(0, 2, 1).copy())
    shuffled = dinucleotide_shuffle(hard, n=n, random_state=seed, allow_N=True)
    return shuffled.numpy().transpose(0, 1, 3, 2).astype(np.float32)
