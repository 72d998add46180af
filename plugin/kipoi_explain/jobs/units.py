"""What a job splits: a command's samples as numbered units (sequences, intervals, VCF
records), cut into shards of consecutive units, with a checksum that says whether the input
is the one a work directory was made for."""
from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..sequences import SequenceSet
from ..sequences.genome import GenomeIntervals, read_bed

#: Units (records, intervals, sequences) per shard, unless a job says otherwise.
SHARD_SIZE = 1000


@dataclass(frozen=True)
class Shard:
    """Units ``[lo, hi)`` of a job, its ``index``-th shard."""

    index: int
    lo: int
    hi: int

    def describe(self, noun: str) -> str:
        return f"shard {self.index} ({noun} {self.lo}-{self.hi - 1})"


def shards(count: int, size: int) -> list[Shard]:
    """Shards of ``size`` consecutive units covering ``count`` units."""
    if size < 1:
        raise InputError(f"shard size {size}: expected at least 1")
    return [Shard(i, lo, min(lo + size, count)) for i, lo in enumerate(range(0, count, size))]


class Units(ABC):
    """A command's samples as ``count`` numbered units."""

    #: What a unit is called in messages.
    noun = "samples"
    count: int

    @abstractmethod
    def checksum(self) -> str:
        """SHA-256 identifying the input (its file's bytes, or its values)."""

    @abstractmethod
    def parts(self, wanted: list[Shard]):
        """``(shard, samples)`` for each shard of ``wanted`` (in unit order): the samples as
        the command's function takes them."""

    def describe(self) -> dict:
        """What the manifest records of the input."""
        return {"kind": type(self).__name__, "count": self.count}


class SequenceUnits(Units):
    """Sequences already read (a FASTA of sequences): one unit per sequence."""

    noun = "sequences"

    def __init__(self, sequences: SequenceSet):
        self.sequences, self.count = sequences, len(sequences)

    def checksum(self) -> str:
        digest = hashlib.sha256(np.ascontiguousarray(self.sequences.onehot).tobytes())
        digest.update("\n".join(self.sequences.names).encode())
        return digest.hexdigest()

    def parts(self, wanted):
        s = self.sequences
        for shard in wanted:
            yield shard, SequenceSet(s.onehot[shard.lo:shard.hi], s.names[shard.lo:shard.hi],
                                     None if s.intervals is None else
                                     s.intervals[shard.lo:shard.hi])


class IntervalUnits(Units):
    """Intervals of a reference FASTA (BED records, a track's windows): one unit per interval;
    each shard reads its own windows where it runs."""

    noun = "intervals"

    def __init__(self, source: GenomeIntervals):
        intervals = source.intervals
        # Shards may run in another directory (a Ray worker): the FASTA by its absolute path.
        self.source = GenomeIntervals(str(Path(source.fasta).resolve()), intervals,
                                      source.use_strand)
        self.intervals = read_bed(intervals) if isinstance(intervals, (str, Path)) else \
            list(intervals)
        self.count = len(self.intervals)

    def checksum(self) -> str:
        digest = hashlib.sha256(fasta_identity(self.source.fasta).encode())
        for i in self.intervals:
            digest.update(f"{i.chrom}\t{i.start}\t{i.end}\t{i.name}\t{i.strand}\n".encode())
        return digest.hexdigest()

    def parts(self, wanted):
        for shard in wanted:
            yield shard, GenomeIntervals(self.source.fasta, self.intervals[shard.lo:shard.hi],
                                         self.source.use_strand)


class RecordUnits(Units):
    """A VCF: one unit per record, read once, in order, as shards are handed out."""

    noun = "records"

    def __init__(self, path):
        from ..variants.alleles import open_vcf

        self.path = Path(path)
        with open_vcf(self.path) as vcf:
            self.count = sum(1 for _ in vcf)

    def checksum(self) -> str:
        return file_checksum(self.path)

    def parts(self, wanted):
        from ..variants.alleles import VariantRecord, open_vcf

        wanted = sorted(wanted, key=lambda shard: shard.lo)
        with open_vcf(self.path) as vcf:
            records = enumerate(vcf)
            for shard in wanted:
                batch = []
                for index, record in records:
                    if index >= shard.lo:
                        batch.append(VariantRecord.of(record))
                    if index == shard.hi - 1:
                        break
                yield shard, batch


def units_of(samples, what: str) -> Units:
    """The units of a command's samples.

    Raises
    ------
    InputError
        For samples a job cannot split (features, token ids, arrays of another kind).
    """
    if isinstance(samples, GenomeIntervals):
        return IntervalUnits(samples)
    if isinstance(samples, SequenceSet):
        return SequenceUnits(samples)
    if isinstance(samples, (str, Path)) and str(samples).endswith((".vcf", ".vcf.gz", ".bcf")):
        return RecordUnits(samples)
    raise InputError(f"{what}: a job splits DNA sequences, BED intervals or a VCF into shards, "
                     f"not {type(samples).__name__}; run it without a job (no --engine, "
                     "--work-dir or --num-shards)")


def file_checksum(path) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fasta_identity(path) -> str:
    """What identifies a reference FASTA without reading a genome through: its size and its
    index (every contig's name, length and offset)."""
    from ..sequences.genome import open_fasta

    open_fasta(path).close()          # builds the .fai when there is none
    index = Path(str(path) + ".fai")
    return f"{Path(path).stat().st_size}:{file_checksum(index)}"
