"""Dinucleotide shuffles of one-hot sequences: references and perturbations that keep each
sequence's dinucleotide composition."""
from __future__ import annotations

import numpy as np

from ..errors import InputError


def dinucleotide_shuffles(x: np.ndarray, n: int, seed=0) -> np.ndarray:
    """``n`` dinucleotide-preserving shuffles of each sequence, ``(N, n, L, 4)``.

    Uses tangermeme's shuffle (the Kundaje-lab Eulerian-path algorithm). Positions that are not
    a single base (``N``) are shuffled as all-zero rows. ``seed`` is an int, or one int per
    sequence (so that a sequence's shuffles do not depend on the batch it is in).
    """
    import torch
    from tangermeme.ersatz import dinucleotide_shuffle

    if n < 1:
        raise InputError(f"n_references={n}: expected at least 1")
    onehot = (x == x.max(-1, keepdims=True)) & (x.max(-1, keepdims=True) == 1)
    hard = torch.from_numpy(onehot.astype(np.int8).transpose(0, 2, 1).copy())
    shuffled = dinucleotide_shuffle(hard, n=n, random_state=seed, allow_N=True)
    return shuffled.numpy().transpose(0, 1, 3, 2).astype(np.float32)
