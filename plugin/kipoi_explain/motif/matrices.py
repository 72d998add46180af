"""Position matrices: counts -> frequencies -> log-odds, information content, trimming.

Every matrix is ``(K, 4)``, one row per position, columns A, C, G, T.
"""
from __future__ import annotations

import numpy as np

UNIFORM = np.full(4, 0.25)


def frequencies(counts: np.ndarray) -> np.ndarray:
    """Normalise each row of a count matrix to sum to 1; rows without counts become uniform."""
    counts = np.asarray(counts, dtype=np.float64)
    totals = counts.sum(axis=-1, keepdims=True)
    return np.where(totals > 0, counts / np.where(totals > 0, totals, 1), 0.25)


def softmax(kernel: np.ndarray) -> np.ndarray:
    """Frequencies from convolution weights: a softmax over the four bases at each position."""
    kernel = np.asarray(kernel, dtype=np.float64)
    shifted = kernel - kernel.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def log_odds(pfm: np.ndarray, background: np.ndarray = UNIFORM,
             pseudocount: float = 0.01) -> np.ndarray:
    """log2 odds of each base against the background, with a pseudocount spread by background."""
    smoothed = (pfm + pseudocount * background) / (1 + pseudocount)
    return np.log2(smoothed / background)


def information_content(pfm: np.ndarray, background: np.ndarray = UNIFORM) -> np.ndarray:
    """Bits per position: relative entropy of each row against the background."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(pfm > 0, pfm * np.log2(pfm / background), 0.0)
    return terms.sum(axis=-1)


def trim(ic: np.ndarray, min_bits: float = 0.3) -> tuple[int, int]:
    """Half-open core left after removing flanking positions below ``min_bits``.

    A matrix with no informative position has an empty core, ``(0, 0)``: there is no motif in it
    to match.
    """
    informative = np.flatnonzero(ic >= min_bits)
    if informative.size == 0:
        return 0, 0
    return int(informative[0]), int(informative[-1]) + 1
