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
from ..sequences.genome import random_windows

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
    rng = np.random.default_rng(seed)
    windows = random_windows(genome, length, n, rng, "null")
    ref = one_hot(windows)
    alt = ref.copy()
    centre = length // 2
    base = ref[:, centre].argmax(axis=1)
    other = (base + rng.integers(1, 4, size=n)) % 4
    alt[:, centre] = np.eye(4, dtype=alt.dtype)[other]
    return ref, alt
