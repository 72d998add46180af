"""Backgrounds for experiments: dinucleotide shuffles of given sequences."""
from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..sequences.shuffles import dinucleotide_shuffles


def shuffled_backgrounds(x: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """``n`` backgrounds ``(n, L, 4)``: background ``b`` is a dinucleotide shuffle of sequence
    ``b % N``, each with its own seed drawn from ``seed`` (so background ``b`` does not depend
    on ``n``)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise InputError(f"n_backgrounds={n!r}: expected a positive integer")
    seeds = np.random.SeedSequence(seed).generate_state(n) % 2 ** 31
    rows = x[np.arange(n) % len(x)]
    return dinucleotide_shuffles(rows, 1, seed=[int(s) for s in seeds])[:, 0]
