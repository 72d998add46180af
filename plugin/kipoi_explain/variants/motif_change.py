"""Which database motif a variant disrupts or creates most.

For each motif, the best log-odds score (bits, either strand) over the placements that overlap
the variant, in the reference and in the alternative window, and its p-value under a uniform
background (exact score distribution, as FIMO computes it). Only motifs with a site
(p <= ``p_value``, 1e-4 as FIMO's default) in either allele count; among them the one whose
-log10 p-value changes most is reported, so a strong site lost weighs more than a weak one.
"""
from __future__ import annotations

import numpy as np

from ..motif.database import MotifDatabase
from ..motif.matrices import log_odds

#: Score resolution (bits) of the exact score distributions behind the site thresholds.
RESOLUTION = 0.05


def score_tail(pwm: np.ndarray) -> tuple[int, np.ndarray]:
    """Exact upper tail of the score of a uniform random sequence, at ``RESOLUTION``:
    ``P(score >= (offset + i) * RESOLUTION) = tail[i]``."""
    columns = np.round(pwm / RESOLUTION).astype(np.int64)
    low = columns.min(axis=1)
    distribution = np.array([1.0])
    for column, shift in zip(columns, low):
        step = np.zeros(column.max() - shift + 1)
        np.add.at(step, column - shift, 0.25)
        distribution = np.convolve(distribution, step)
    return int(low.sum()), np.cumsum(distribution[::-1])[::-1]


class MotifScanner:
    """Log-odds PWMs of a database (both strands), scanned with one batched convolution."""

    def __init__(self, database: MotifDatabase, p_value: float = 1e-4):
        import torch

        self.database = database
        pwms = [log_odds(pfm) for pfm in database.pfms]
        self.width = max(len(p) for p in pwms)
        kernels = np.zeros((2 * len(pwms), 4, self.width), dtype=np.float32)
        for i, pwm in enumerate(pwms):
            kernels[2 * i, :, :len(pwm)] = pwm.T
            kernels[2 * i + 1, :, :len(pwm)] = pwm[::-1, ::-1].T
        self._kernels = torch.from_numpy(kernels)
        self._lengths = np.repeat([len(p) for p in pwms], 2)
        self.p_value = p_value
        tails = [score_tail(p) for p in pwms]
        self._offsets = np.array([offset for offset, _ in tails])
        self._tail_ends = np.array([len(t) - 1 for _, t in tails])
        self._tails = np.zeros((len(tails), max(len(t) for _, t in tails)))
        for i, (_, tail) in enumerate(tails):
            self._tails[i, :len(tail)] = tail

    def p_values(self, scores: np.ndarray) -> np.ndarray:
        """p-value of each score ``(n, M)`` of each motif under a uniform background."""
        index = np.round(scores / RESOLUTION).astype(np.int64) - self._offsets
        index = np.clip(index, 0, self._tail_ends)
        return self._tails[np.arange(scores.shape[1]), index]

    def best_scores(self, x: np.ndarray, centre: np.ndarray, span: np.ndarray) -> np.ndarray:
        """``(n, M)`` best score of each motif (either strand) over placements overlapping
        positions ``centre[i] .. centre[i] + span[i] - 1`` of each one-hot ``x[i]``."""
        import torch

        n, length = x.shape[:2]
        lo = np.clip(centre - self.width + 1, 0, None)
        columns = lo[:, None] + np.arange(2 * self.width + int(span.max()))
        inside = columns < length
        padded = x[np.arange(n)[:, None], np.minimum(columns, length - 1)] * inside[..., None]
        with torch.no_grad():
            scores = torch.nn.functional.conv1d(torch.from_numpy(
                np.ascontiguousarray(padded.transpose(0, 2, 1), dtype=np.float32)),
                self._kernels).numpy()
        # A placement starting at p overlaps the variant if p + K > centre and p < centre + span;
        # it must also lie inside the window.
        starts = lo[:, None] + np.arange(scores.shape[-1])
        first = centre[:, None, None] - self._lengths[None, :, None] + 1
        last = (centre + span)[:, None, None]
        fits = starts[:, None, :] + self._lengths[None, :, None] <= length
        overlaps = (starts[:, None, :] >= first) & (starts[:, None, :] < last) & fits
        best = np.where(overlaps, scores, -np.inf).max(axis=-1)
        return best.reshape(n, -1, 2).max(axis=-1)

    def changes(self, ref: np.ndarray, alt: np.ndarray, ref_centre, ref_span, alt_centre,
                alt_span) -> list[dict | None]:
        """For each variant, the motif with a site in either allele whose best overlapping
        site's -log10 p-value changes most (None when no motif has a site there)."""
        ref_best = self.best_scores(ref, ref_centre, ref_span)
        alt_best = self.best_scores(alt, alt_centre, alt_span)
        ref_p, alt_p = self.p_values(ref_best), self.p_values(alt_best)
        site = np.minimum(ref_p, alt_p) <= self.p_value
        change = np.where(site, np.log10(ref_p) - np.log10(alt_p), 0.0)
        top = np.abs(change).argmax(axis=1)
        return [{"id": self.database.ids[m], "name": self.database.names[m],
                 "ref": float(ref_best[i, m]), "alt": float(alt_best[i, m]),
                 "delta": float(alt_best[i, m] - ref_best[i, m]),
                 "log10_p_change": float(change[i, m])} if change[i, m] != 0 else None
                for i, m in enumerate(top)]
