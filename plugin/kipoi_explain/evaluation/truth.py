"""Attribution maps scored against a per-position ground truth, one sequence at a time.

The **position score** of a method is the L2 norm of its map over the four bases at each
position: ``||map[i, l, :]||``. It counts a position the method marks in either direction,
whatever base it marks (a gradient map marks all four, a contribution map only the present
one, an ISM map the three absent ones), as Majdandzic, Rajesh & Koo (2023) reduce maps for
AUROC. Every metric is computed per sequence, then averaged over the sequences that have
ground truth.
"""
from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from ..errors import InputError
from ..results import Interval
from ..sequences.genome import read_bed


def position_scores(maps: np.ndarray) -> np.ndarray:
    """``(N, L, 4)`` -> ``(N, L)``: the L2 norm over the bases at each position."""
    return np.sqrt((np.asarray(maps, dtype=np.float64) ** 2).sum(axis=-1))


def row_auroc(scores: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """AUROC of each row's scores against its boolean truth (Mann-Whitney U, ties counted
    half); NaN for a row with one class only."""
    truth = np.asarray(truth, dtype=bool)
    n_pos = truth.sum(axis=1)
    n_neg = truth.shape[1] - n_pos
    ranks = rankdata(scores, axis=1)
    u = (ranks * truth).sum(axis=1) - n_pos * (n_pos + 1) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n_pos > 0) & (n_neg > 0), u / (n_pos * n_neg), np.nan)


def row_aupr(scores: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Average precision of each row (precision at each true position, in order of decreasing
    score, averaged; ties broken by position); NaN for a row without a true position."""
    truth = np.asarray(truth, dtype=bool)
    order = np.argsort(-np.asarray(scores, dtype=np.float64), axis=1, kind="stable")
    hits = np.take_along_axis(truth, order, axis=1)
    precision = np.cumsum(hits, axis=1) / np.arange(1, truth.shape[1] + 1)
    n_pos = truth.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_pos > 0, (precision * hits).sum(axis=1) / n_pos, np.nan)


def row_cosine(maps: np.ndarray, truth_map: np.ndarray) -> np.ndarray:
    """Cosine similarity of each sequence's ``(L, 4)`` map with its ground-truth map; NaN
    where either is all zero."""
    a = np.asarray(maps, dtype=np.float64).reshape(len(maps), -1)
    b = np.asarray(truth_map, dtype=np.float64).reshape(len(truth_map), -1)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norms > 0, (a * b).sum(axis=1) / norms, np.nan)


def truth_from_bed(path, names: list[str], intervals: list[Interval] | None,
                   x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ground truth from known sites in a BED file, for sequences read from a genome
    (``intervals``) or from FASTA records (``names``; a site's chrom is then the record name).

    Returns the ``(N, L)`` mask of positions inside a site and the ``(N, L, 4)`` map of the
    bases present there (no motif matrix is known: every site base weighs 1).

    Raises
    ------
    InputError
        When no site falls inside any sequence: the coordinates likely refer to another
        assembly or other record names.
    """
    sites = read_bed(path)
    n, length = x.shape[:2]
    truth = np.zeros((n, length), dtype=bool)
    by_chrom: dict[str, list[tuple[int, Interval | None]]] = {}
    for i in range(n):
        window = intervals[i] if intervals else None
        by_chrom.setdefault(window.chrom if window else names[i], []).append((i, window))
    for site in sites:
        for i, window in by_chrom.get(site.chrom, ()):
            if window is None:
                lo, hi = site.start, site.end
            elif window.reverse:
                lo, hi = window.end - site.end, window.end - site.start
            else:
                lo, hi = site.start - window.start, site.end - window.start
            truth[i, max(lo, 0):max(min(hi, length), 0)] = True
    if not truth.any():
        where = "the BED intervals" if intervals else "the FASTA record names"
        raise InputError(f"sites {str(path)!r}: none of its {len(sites)} sites falls inside a "
                         f"sequence; its chrom column must name {where}")
    return truth, x * truth[..., None]
