"""Backgrounds for experiments: dinucleotide shuffles of the given sequences, or windows of a
reference genome matched to their GC content."""
from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..sequences.shuffles import dinucleotide_shuffles


def shuffled_backgrounds(x: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """``n`` backgrounds ``(n, L, 4)``: background ``b`` is a dinucleotide shuffle of sequence
    ``b % N``, each with its own seed drawn from ``seed`` (so background ``b`` does not depend
    on ``n``)."""
    seeds = np.random.SeedSequence(seed).generate_state(n) % 2 ** 31
    rows = x[np.arange(n) % len(x)]
    return dinucleotide_shuffles(rows, 1, seed=[int(s) for s in seeds])[:, 0]


#: Candidate genome windows drawn per background, to pick GC-matched ones from.
CANDIDATES_PER_BACKGROUND = 8


def genome_backgrounds(fasta, x: np.ndarray, n: int, seed: int = 0) -> tuple[np.ndarray, float]:
    """``n`` backgrounds ``(n, L, 4)`` drawn from a reference genome: background ``b`` is the
    window, among ``CANDIDATES_PER_BACKGROUND * n`` drawn uniformly (A, C, G, T only), whose GC
    content is closest to that of sequence ``b % N``, each window used once. Also returns the
    mean absolute GC difference of the matches."""
    from ..sequences import one_hot
    from ..sequences.genome import open_fasta, random_windows

    rng = np.random.default_rng(seed)
    candidates = one_hot(random_windows(open_fasta(fasta), x.shape[1],
                                        CANDIDATES_PER_BACKGROUND * n, rng, "backgrounds"))
    gc = candidates[..., 1:3].sum(axis=(1, 2)) / x.shape[1]
    wanted = x[np.arange(n) % len(x)][..., 1:3].sum(axis=(1, 2)) / x.shape[1]
    # Greedy nearest match without replacement, the rarest GC contents first (done once per
    # experiment, n at most a server's max_samples).
    order = np.argsort(-np.abs(wanted - np.median(wanted)))
    free = np.ones(len(gc), dtype=bool)
    chosen = np.empty(n, dtype=np.int64)
    for b in order:
        distance = np.where(free, np.abs(gc - wanted[b]), np.inf)
        chosen[b] = int(distance.argmin())
        free[chosen[b]] = False
    return candidates[chosen], float(np.abs(gc[chosen] - wanted).mean())


def backgrounds_for(x: np.ndarray, n: int, seed: int, genome=None) -> tuple[np.ndarray, dict]:
    """An experiment's backgrounds (shuffles of ``x``, or GC-matched windows of the FASTA
    ``genome``) and how they were made, for the result's settings."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise InputError(f"n_backgrounds={n!r}: expected a positive integer")
    if genome is None:
        return shuffled_backgrounds(x, n, seed), {
            "backgrounds": "dinucleotide shuffles of the sequences"}
    drawn, mismatch = genome_backgrounds(genome, x, n, seed)
    return drawn, {"backgrounds": "GC-matched windows of the genome", "genome": str(genome),
                   "gc_mismatch": mismatch}
