"""Reference and alternative sequence windows around a variant, of the model's input length.

Both windows are centred on the allele: the reference allele starts at ``L // 2 - len(ref) // 2``
of the reference window and the alternative allele at ``L // 2 - len(alt) // 2`` of the
alternative window, so an indel keeps the variant in the middle and the flanks are extended or
trimmed from the reference. ``alt_to_ref`` maps every alternative-window position to a
reference genome position (-1 for inserted bases), so attributions of both windows can be
compared on reference coordinates.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class VariantWindow:
    """The two sequences one ALT allele is scored on.

    Attributes
    ----------
    ref_seq, alt_seq : str
        Reference and alternative sequences, each of the model's input length.
    start : int
        0-based genome position of the reference window's first base.
    alt_to_ref : numpy.ndarray
        ``(L,)`` genome position of each alternative-window base; -1 where it was inserted.
    """

    ref_seq: str
    alt_seq: str
    start: int
    alt_to_ref: np.ndarray

    def ref_index(self) -> np.ndarray:
        """``(L,)`` reference-window index of each alternative-window base (-1: not in it)."""
        index = self.alt_to_ref - self.start
        return np.where((self.alt_to_ref >= 0) & (index >= 0) & (index < len(self.ref_seq)),
                        index, -1)


def _placement(pos: int, ref: str, alt: str, length: int) -> tuple[int, int, int, int]:
    """0-based allele start, reference window start, and the alternative window's left and
    right flank lengths."""
    start = pos - 1
    alt_left = length // 2 - len(alt) // 2
    return start, start + len(ref) // 2 - length // 2, alt_left, length - alt_left - len(alt)


def reference_span(pos: int, ref: str, alt: str, length: int) -> tuple[int, int]:
    """Genome span ``[lo, hi)`` both windows read (``pos`` 1-based, as in VCF)."""
    start, ref_lo, alt_left, alt_right = _placement(pos, ref, alt, length)
    return min(ref_lo, start - alt_left), max(ref_lo + length, start + len(ref) + alt_right)


def variant_window(genome: str, offset: int, pos: int, ref: str, alt: str,
                   length: int) -> VariantWindow:
    """Windows of ``length`` bp for replacing ``ref`` at VCF position ``pos`` by ``alt``.

    Parameters
    ----------
    genome : str
        Reference sequence covering :func:`reference_span`, starting at genome position
        ``offset`` (0-based).
    pos : int
        1-based VCF position of the first base of ``ref``.
    ref, alt : str
        Alleles; both at most ``length`` long (the caller checks).

    Notes
    -----
    Bases of ``alt`` map to reference positions from the left (VCF alleles share their first,
    anchor, base), so a deletion's removed bases and an insertion's added bases are the ones
    past the shorter allele's length.
    """
    start, ref_lo, alt_left, alt_right = _placement(pos, ref, alt, length)

    def read(lo, hi):
        return genome[lo - offset:hi - offset]

    ref_seq = read(ref_lo, ref_lo + length)
    alt_seq = read(start - alt_left, start) + alt + read(start + len(ref),
                                                         start + len(ref) + alt_right)
    allele = np.arange(len(alt))
    allele_map = np.where(allele < len(ref), start + allele, -1)
    alt_to_ref = np.concatenate([np.arange(start - alt_left, start), allele_map,
                                 np.arange(start + len(ref), start + len(ref) + alt_right)])
    return VariantWindow(ref_seq, alt_seq, ref_lo, alt_to_ref)
