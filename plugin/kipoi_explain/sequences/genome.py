"""Sequences read from files: FASTA records, and BED intervals fetched from a reference FASTA.

FASTA access goes through pyfaidx (indexed, so a genome is never read whole).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..results import Interval


@dataclass
class GenomeIntervals:
    """Intervals read from a reference FASTA where the model runs, resized to the model's
    input length as :func:`~kipoi_explain.from_bed` does: in this process from a FASTA path
    (a job's shards read their own windows so), on a server from one of its own FASTA files by
    name (see ``Client.fastas()``), sent instead of sequences the client read itself.

    ``intervals`` is a BED path (read by whoever sends them) or a list of :class:`Interval`.
    """

    fasta: str
    intervals: list[Interval] | str | Path
    use_strand: bool = False


def open_fasta(path):
    """An indexed pyfaidx FASTA (the index is built on first use)."""
    import pyfaidx

    path = Path(path)
    if not path.is_file():
        raise InputError(f"FASTA file {str(path)!r} does not exist")
    try:
        return pyfaidx.Fasta(str(path), as_raw=True, rebuild=False)
    except pyfaidx.UnsupportedCompressionFormat:
        raise InputError(f"FASTA file {str(path)!r} is gzip-compressed, not bgzip: an indexed "
                         "FASTA needs BGZF (gunzip it, then bgzip it, or leave it "
                         "uncompressed)") from None
    except (pyfaidx.FastaIndexingError, ValueError, OSError) as err:
        raise InputError(f"FASTA file {str(path)!r} cannot be read: {err}") from None


def read_fasta(path) -> tuple[list[str], list[str]]:
    """All records of a FASTA file, as ``(names, sequences)`` in file order.

    Raises
    ------
    InputError
        If the file is missing, malformed or holds no record.
    """
    fasta = open_fasta(path)
    names = list(fasta.keys())
    if not names:
        raise InputError(f"FASTA file {str(path)!r} holds no record")
    return names, [fasta[name][:] for name in names]


def read_bed(path) -> list[Interval]:
    """Intervals of a BED file (0-based, half-open); ``track``, ``browser`` and ``#`` lines are skipped.

    Raises
    ------
    InputError
        Naming the file and line of any record with fewer than 3 columns, non-integer or
        negative coordinates, or ``end <= start``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"BED file {str(path)!r} does not exist")
    intervals = []
    with open(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            fields = line.rstrip("\n").split("\t")
            where = f"BED file {path.name!r}, line {number}"
            if len(fields) < 3:
                raise InputError(f"{where}: {len(fields)} tab-separated column(s), expected at "
                                 "least 3 (chrom, start, end)")
            try:
                start, end = int(fields[1]), int(fields[2])
            except ValueError:
                raise InputError(f"{where}: start {fields[1]!r} and end {fields[2]!r} must be "
                                 "integers") from None
            if start < 0 or end <= start:
                raise InputError(f"{where}: interval {fields[0]}:{start}-{end} must satisfy "
                                 "0 <= start < end")
            name = fields[3] if len(fields) > 3 and fields[3] not in ("", ".") else \
                f"{fields[0]}:{start}-{end}"
            strand = fields[5] if len(fields) > 5 and fields[5] in ("+", "-") else "."
            intervals.append(Interval(fields[0], start, end, name, strand))
    if not intervals:
        raise InputError(f"BED file {str(path)!r} holds no interval")
    return intervals


def resize(interval: Interval, length: int) -> Interval:
    """Centre-resize an interval to ``length`` bp, exactly as kipoiseq's ``resize_interval``."""
    center = int((interval.start + interval.end) / 2)
    start = center - length // 2
    return replace(interval, start=start, end=start + length)


def fetch_intervals(intervals: list[Interval], fasta_path, length: int | None = None,
                    use_strand: bool = False) -> tuple[list[str], list[Interval]]:
    """Fetch the sequence of each interval from a reference FASTA.

    Parameters
    ----------
    intervals : list of Interval
        Windows to read, e.g. from :func:`read_bed`.
    fasta_path : str or Path
        Indexed (or indexable) reference FASTA.
    length : int, optional
        Centre-resize every interval to this length first (the model's input length).
    use_strand : bool
        Reverse-complement intervals on the ``-`` strand.

    Returns
    -------
    sequences, intervals : list of str, list of Interval
        The sequences and the (resized) intervals they were read from.

    Raises
    ------
    InputError
        Naming the record when its contig is absent from the FASTA or the window runs past a
        contig end.
    """
    fasta = open_fasta(fasta_path)
    lengths = {name: len(fasta[name]) for name in fasta.keys()}
    seqs, used = [], []
    for interval in intervals:
        window = _window(interval, length, lengths, fasta_path)
        seq = fasta[window.chrom][window.start:window.end]
        if use_strand and window.strand == "-":
            seq = _reverse_complement_string(seq)
            window = replace(window, reverse=True)
        seqs.append(seq)
        used.append(window)
    return seqs, used


def check_windows(intervals: list[Interval], fasta_path, length: int | None = None) -> None:
    """That every interval, resized to ``length``, lies on a contig of the FASTA: what
    :func:`fetch_intervals` checks, without reading the sequences (a job checks its whole
    input so before any shard runs)."""
    fasta = open_fasta(fasta_path)
    try:
        lengths = {name: len(fasta[name]) for name in fasta.keys()}
    finally:
        fasta.close()
    for interval in intervals:
        _window(interval, length, lengths, fasta_path)


def _window(interval: Interval, length: int | None, lengths: dict, fasta_path) -> Interval:
    """The interval resized to ``length``, or an InputError naming the record when it is not
    on a contig of the FASTA."""
    window = resize(interval, length) if length else interval
    if window.chrom not in lengths:
        raise InputError(_missing_contig(window, set(lengths), fasta_path))
    contig_length = lengths[window.chrom]
    if window.start < 0 or window.end > contig_length:
        raise InputError(f"record {window.name!r}: window {window} runs past the ends of contig "
                         f"{window.chrom!r} (length {contig_length}); expected "
                         f"0 <= start and end <= {contig_length}")
    return window


def _missing_contig(window: Interval, contigs: set[str], fasta_path) -> str:
    alternative = window.chrom[3:] if window.chrom.startswith("chr") else "chr" + window.chrom
    hint = f" (it has {alternative!r}: the files use different contig naming)" \
        if alternative in contigs else ""
    return (f"record {window.name!r}: contig {window.chrom!r} is not in FASTA "
            f"{Path(fasta_path).name!r}{hint}")


_COMPLEMENT = str.maketrans("ACGTNacgtnRYSWKMBDHVryswkmbdhv", "TGCANtgcanYRSWMKVHDByrswmkvhdb")


def random_windows(genome, length: int, n: int, rng, what: str) -> list[str]:
    """``n`` windows of ``length`` bases drawn uniformly over the contigs of an open FASTA
    (each contig in proportion to its number of windows), all of whose bases are A, C, G or T
    (others are redrawn); ``what`` names the purpose in errors."""
    contigs = [(name, len(genome[name]) - length + 1) for name in genome.keys()]
    contigs = [(name, size) for name, size in contigs if size >= 1]
    if not contigs:
        raise InputError(f"{what}: no contig of the FASTA is {length} bp long")
    names = [name for name, _ in contigs]
    sizes = np.array([size for _, size in contigs], dtype=np.float64)
    windows: list[str] = []
    for _ in range(100):
        draws = 2 * (n - len(windows))
        chosen = rng.choice(len(names), size=draws, p=sizes / sizes.sum())
        starts = (rng.random(draws) * sizes[chosen]).astype(np.int64)
        for k, start in zip(chosen, starts):
            text = str(genome[names[k]][int(start):int(start) + length]).upper()
            if len(text) == length and not text.strip("ACGT"):
                windows.append(text)
        if len(windows) >= n:
            return windows[:n]
    raise InputError(f"{what}: too few windows of only A, C, G and T in the FASTA")


def _reverse_complement_string(seq: str) -> str:
    return seq.translate(_COMPLEMENT)[::-1]
