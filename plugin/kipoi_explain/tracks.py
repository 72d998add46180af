"""Attribution tracks along a genome: regions tiled with windows of the model's input length,
each window keeping its central part, so that every base of the regions is explained once,
by the window it sits nearest the middle of.

:func:`read_regions` reads the regions (a BED file, ``chr:start-end``, or whole contigs),
:func:`tile` lays the windows; the windows are explained like any intervals
(:func:`~kipoi_explain.explain` of :meth:`Tiles.samples`), and
:class:`~kipoi_explain.writers.track.TrackWriter` writes the kept parts as a bigWig.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

from .errors import InputError
from .results import Interval
from .sequences.genome import GenomeIntervals, open_fasta, read_bed

_REGION = re.compile(r"^(?P<chrom>[^:\s]+):(?P<start>[\d,]+)-(?P<end>[\d,]+)$")


def contig_lengths(fasta) -> dict[str, int]:
    """Every contig of a FASTA and its length, in the FASTA's order."""
    genome = open_fasta(fasta)
    try:
        return {name: len(genome[name]) for name in genome.keys()}
    finally:
        genome.close()


def read_regions(fasta, bed=None, region: str | None = None,
                 chrom: str | None = None) -> list[Interval]:
    """The regions a track covers, sorted in the FASTA's contig order, overlapping and adjacent
    ones merged (a bigWig holds one value per base).

    Parameters
    ----------
    fasta : str or Path
        The reference genome; its contigs and their lengths.
    bed : str or Path, optional
        BED intervals (0-based, half-open).
    region : str, optional
        ``chr:start-end``, 1-based and inclusive as samtools and genome browsers write it
        (commas allowed).
    chrom : str, optional
        A whole contig.

    Raises
    ------
    InputError
        Unless exactly one of ``bed``, ``region``, ``chrom`` is given; naming the record whose
        contig is not in the FASTA or that runs past its contig's end.
    """
    given = [name for name, value in (("bed", bed), ("region", region), ("chrom", chrom))
             if value is not None]
    if len(given) != 1:
        raise InputError("give the regions one way: a BED file, a region chr:start-end, or a "
                         f"contig (got {', '.join(given) or 'none'})")
    lengths = contig_lengths(fasta)
    if chrom is not None:
        intervals = [Interval(chrom, 0, lengths.get(chrom, 0), chrom)]
    elif region is not None:
        match = _REGION.match(region.strip())
        if match is None:
            raise InputError(f"region {region!r}: expected chr:start-end (1-based, inclusive)")
        start, end = (int(match[k].replace(",", "")) for k in ("start", "end"))
        if not 1 <= start <= end:
            raise InputError(f"region {region!r}: expected 1 <= start <= end")
        intervals = [Interval(match["chrom"], start - 1, end, region)]
    else:
        intervals = read_bed(bed)
    for interval in intervals:
        where = f"region {interval.name!r}" if bed is None else \
            f"BED file {str(bed)!r}, record {interval.name!r}"
        if interval.chrom not in lengths:
            raise InputError(f"{where}: contig {interval.chrom!r} is not in FASTA "
                             f"{str(fasta)!r}")
        if interval.end > lengths[interval.chrom]:
            raise InputError(f"{where}: ends at {interval.end}, past the end of contig "
                             f"{interval.chrom!r} (length {lengths[interval.chrom]})")
    order = {name: rank for rank, name in enumerate(lengths)}
    merged: list[Interval] = []
    for interval in sorted(intervals, key=lambda i: (order[i.chrom], i.start)):
        last = merged[-1] if merged else None
        if last is not None and last.chrom == interval.chrom and interval.start <= last.end:
            merged[-1] = replace(last, end=max(last.end, interval.end),
                                 name=f"{last.chrom}:{last.start}-{max(last.end, interval.end)}")
        else:
            merged.append(replace(interval, strand=".", reverse=False))
    return merged


@dataclass
class Tiles:
    """Windows tiling regions of a genome, and the part of each that the track keeps.

    Attributes
    ----------
    fasta : str
        The reference genome the windows are read from.
    windows : list of Interval
        ``(T,)`` windows of the model's input length, in the FASTA's contig order and by
        position.
    keep : numpy.ndarray
        ``(T, 2)`` int64 ``[lo, hi)`` of each window, in window coordinates, that it
        contributes: the kept parts of consecutive windows abut and cover every base of the
        regions once.
    """

    fasta: str
    windows: list[Interval]
    keep: np.ndarray

    def __len__(self) -> int:
        return len(self.windows)

    def take(self, lo: int, hi: int) -> Tiles:
        """Windows ``lo`` to ``hi`` (exclusive)."""
        return Tiles(self.fasta, self.windows[lo:hi], self.keep[lo:hi])

    def samples(self) -> GenomeIntervals:
        """The windows as intervals to explain (read where the model runs)."""
        return GenomeIntervals(self.fasta, self.windows)

    def kept(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Genome coordinates of the kept parts: contigs, starts, ends."""
        starts = np.array([w.start for w in self.windows], dtype=np.int64)
        return [w.chrom for w in self.windows], starts + self.keep[:, 0], \
            starts + self.keep[:, 1]

    @property
    def n_bases(self) -> int:
        """Bases the track covers."""
        return int((self.keep[:, 1] - self.keep[:, 0]).sum())


def tile(regions: list[Interval], fasta, length: int, stride: int | None = None) -> Tiles:
    """Tile ``regions`` with windows of ``length`` bases that keep their central ``stride``
    bases (default: half the window).

    Kept parts start at each region's start and follow every ``stride`` bases (the last is
    cut at the region's end); each window is centred on its kept part, or moved inwards where
    that would cross its contig's end (the kept part is then off-centre, still inside).

    Raises
    ------
    InputError
        For a stride outside ``[1, length]``, or a contig shorter than one window.
    """
    stride = max(1, length // 2) if stride is None else stride
    if not 1 <= stride <= length:
        raise InputError(f"stride={stride}: expected 1 <= stride <= {length} (the model's "
                         "input length)")
    lengths = contig_lengths(fasta)
    offset = (length - stride) // 2
    windows, keep = [], []
    for region in regions:
        if lengths[region.chrom] < length:
            raise InputError(f"region {region.name!r}: contig {region.chrom!r} (length "
                             f"{lengths[region.chrom]}) is shorter than one window of the "
                             f"model's input ({length})")
        kept_start = np.arange(region.start, region.end, stride, dtype=np.int64)
        kept_end = np.minimum(kept_start + stride, region.end)
        start = np.clip(kept_start - offset, 0, lengths[region.chrom] - length)
        windows += [Interval(region.chrom, int(s), int(s) + length,
                             f"{region.chrom}:{int(s)}-{int(s) + length}") for s in start]
        keep.append(np.stack([kept_start - start, kept_end - start], axis=1))
    if not windows:
        raise InputError("no regions to tile")
    return Tiles(str(fasta), windows, np.concatenate(keep))
