"""Calibrated variant effects: a null distribution of effects from background SNVs, drawn once
and reused for every variant of a VCF (as chrombpnet's variant scorer calibrates its scores).

The null variants are matched SNVs: positions drawn uniformly over the reference genome (every
contig at least one input window long, in proportion to its length), whose whole window is
A, C, G or T; REF is the genome's base and ALT one of the three others, drawn uniformly. Each is
scored exactly as a VCF's SNV (same windows, strands and merge), and a variant's p-value for an
output is the share of null variants whose ``|alt - ref|`` is at least its own.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..sequences import one_hot

#: Candidate windows drawn per null variant still missing, per round (windows with other
#: letters than A, C, G, T are redrawn).
OVERDRAW = 2


@dataclass(frozen=True)
class NullDistribution:
    """``|alt - ref|`` of the null variants, sorted, per output ``(T, n)``."""

    effects: np.ndarray

    @property
    def n(self) -> int:
        return self.effects.shape[1]

    def pvalues(self, diff: np.ndarray) -> np.ndarray:
        """``(N, T)`` empirical two-sided p-values of ``diff`` ``(N, T)``:
        ``(1 + #{null >= |diff|}) / (n + 1)``, never 0."""
        return (1 + self._at_least(diff)) / (self.n + 1)

    def percentiles(self, diff: np.ndarray) -> np.ndarray:
        """``(N, T)`` share of null variants with a smaller ``|alt - ref|``, in percent."""
        return 100 * (self.n - self._at_least(diff)) / self.n

    def _at_least(self, diff) -> np.ndarray:
        """Null effects at least ``|diff|``, per variant and output."""
        diff = np.abs(np.asarray(diff, dtype=np.float64))
        below = np.stack([np.searchsorted(self.effects[t], diff[:, t], side="left")
                          for t in range(self.effects.shape[0])], axis=1)
        return self.n - below


def null_windows(genome, length: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One-hot reference and alternative windows ``(n, L, 4)`` of ``n`` matched background
    SNVs at the centre (``L // 2``), seeded by ``seed``."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise InputError(f"null={n!r}: expected a positive number of background variants")
    contigs = [(name, len(genome[name])) for name in genome.keys()]
    contigs = [(name, size) for name, size in contigs if size >= length]
    if not contigs:
        raise InputError(f"null: no contig of the FASTA is as long as the model's input "
                         f"({length} bp) to draw background variants from")
    names = [name for name, _ in contigs]
    sizes = np.array([size - length + 1 for _, size in contigs], dtype=np.float64)
    rng = np.random.default_rng(seed)
    windows: list[str] = []
    for _ in range(100):
        draws = OVERDRAW * (n - len(windows))
        chosen = rng.choice(len(names), size=draws, p=sizes / sizes.sum())
        starts = (rng.random(draws) * sizes[chosen]).astype(np.int64)
        for k, start in zip(chosen, starts):
            text = str(genome[names[k]][int(start):int(start) + length]).upper()
            if len(text) == length and not text.strip("ACGT"):
                windows.append(text)
        if len(windows) >= n:
            break
    else:
        raise InputError("null: fewer than the background variants asked for have a window of "
                         "only A, C, G and T in the FASTA")
    ref = one_hot(windows[:n])
    alt = ref.copy()
    centre = length // 2
    base = ref[:, centre].argmax(axis=1)
    other = (base + rng.integers(1, 4, size=n)) % 4
    alt[:, centre] = np.eye(4, dtype=alt.dtype)[other]
    return ref, alt
