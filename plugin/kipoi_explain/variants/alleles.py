"""VCF records in, one :class:`Allele` per ALT out, each checked against the reference.

Nothing is dropped: an allele that cannot be scored keeps a status saying why, and is written
out with it. Records are read with pysam (htslib), plain or bgzipped.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from .windows import reference_span

#: Status of an allele that was scored.
OK = "OK"
#: Why an allele was not scored (also the FILTER IDs written for them, prefixed ``KX_``).
STATUSES = {
    "NO_ALT": "the record has no ALT allele ('.')",
    "SYMBOLIC_ALLELE": "symbolic or breakend ALT (<DEL>, *, ]chr:pos]) cannot be sequenced",
    "CONTIG_NOT_IN_FASTA": "the contig is not in the reference FASTA",
    "REF_MISMATCH": "REF does not match the reference FASTA",
    "OUTSIDE_CONTIG": "POS is 0, or REF runs past the contig's end",
    "NEAR_CONTIG_END": "the model's window runs past the contig end",
    "ALLELE_TOO_LONG": "REF or ALT is longer than the model's input",
    "NOT_DNA": "REF or ALT holds characters other than A, C, G, T, N",
}

_DNA = re.compile(r"^[ACGTNacgtn]+$")


@dataclass
class VariantRecord:
    """A VCF record as the file gives it (``pos`` 1-based): what scoring reads of a pysam
    record, and what a client streams to a server."""

    chrom: str
    pos: int
    id: str | None
    ref: str | None
    alts: tuple[str, ...] | None

    @classmethod
    def of(cls, record) -> VariantRecord:
        """The fields of a pysam record (or anything with the same attributes)."""
        return cls(record.chrom, int(record.pos), record.id or None, record.ref,
                   tuple(record.alts) if record.alts else None)


@dataclass
class Allele:
    """One ALT allele of one VCF record, and what the reference says of it."""

    record: object
    record_index: int
    alt_index: int
    chrom: str
    pos: int
    id: str | None
    ref: str
    alt: str | None
    fasta_chrom: str | None = None
    status: str = OK
    #: What the status found, where it says more than the status (REF_MISMATCH: the bases
    #: the FASTA holds there).
    detail: str | None = None

    @property
    def key(self) -> str:
        return f"{self.chrom}:{self.pos}:{self.ref}:{self.alt or '.'}"


def contig_mapping(mapping, fasta_contigs) -> dict | None:
    """``None`` (names as they are), ``"auto"`` (add or drop a ``chr`` prefix when only that
    makes a VCF contig match), a dict ``{VCF_NAME: FASTA_NAME}`` or a two-column file of such
    pairs."""
    if mapping is None:
        return None
    if isinstance(mapping, dict):
        return {str(k): str(v) for k, v in mapping.items()}
    if mapping == "auto":
        return {name[3:] if name.startswith("chr") else "chr" + name: name
                for name in fasta_contigs}
    path = Path(mapping)
    if not path.is_file():
        raise InputError(f"contig map {str(path)!r}: expected 'auto' or an existing two-column "
                         "file (VCF name, FASTA name)")
    pairs = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        fields = line.split()
        if fields and not line.startswith("#"):
            if len(fields) != 2:
                raise InputError(f"contig map {path.name!r}, line {number}: {len(fields)} "
                                 "columns, expected 2 (VCF name, FASTA name)")
            pairs[fields[0]] = fields[1]
    return pairs


class VcfReader:
    """A VCF's header and records, read with pysam (htslib) without their samples (nothing
    here needs genotypes: a sample column htslib would refuse, such as a repeated FORMAT key,
    does not stop the file). Iterating yields the records in order; a record htslib cannot
    parse is an :class:`InputError` naming it by number and by the record before it.

    Plain, bgzipped and gzipped VCF and BCF are read; a gzipped (not bgzipped) file, which
    htslib reads only as a stream, goes through a decompressed temporary copy: slower, and
    :func:`is_plain_gzip` lets a caller say so.
    """

    def __init__(self, path):
        import pysam

        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"VCF {str(path)!r} does not exist")
        copy = _decompressed(self.path) if is_plain_gzip(self.path) else None
        try:
            self._file = pysam.VariantFile(str(copy or self.path), drop_samples=True)
        except (OSError, ValueError, NotImplementedError) as err:
            raise InputError(f"VCF {str(path)!r} cannot be read: htslib does not recognise it "
                             "as VCF or BCF (a VCF starts with its ##fileformat line and has a "
                             f"#CHROM header line) ({str(err).splitlines()[0][:200]})") from None
        finally:
            if copy is not None:
                copy.unlink()             # pysam holds it open; its space goes when it closes
        self.header = self._file.header
        self._lock = threading.Lock()
        self._closed = False

    def __iter__(self):
        index, last = 0, None
        records = iter(self._file)
        while True:
            # A record is never read while (or after) another thread closes the file: htslib
            # would read freed memory (a client's request stream reads on gRPC's thread, and
            # the file closes when the call ends, answered or not).
            with self._lock:
                if self._closed:
                    return
                try:
                    last = next(records)
                except StopIteration:
                    return
                except (OSError, ValueError) as err:
                    after = "" if last is None else f", after {last.chrom}:{last.pos}"
                    raise InputError(f"VCF {self.path.name!r}: record {index + 1}{after} "
                                     f"cannot be read ({err}): fewer than 8 tab-separated "
                                     "columns, or a field htslib cannot parse") from None
            yield last
            index += 1

    def close(self) -> None:
        """Close the file; an iteration still running (on another thread) ends."""
        with self._lock:
            self._closed = True
            self._file.close()

    def __enter__(self) -> VcfReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_vcf(path) -> VcfReader:
    """The VCF at ``path`` (see :class:`VcfReader`), or an InputError naming the file."""
    return VcfReader(path)


def is_plain_gzip(path) -> bool:
    """Whether a file is gzip-compressed but not BGZF (bgzip), which htslib cannot seek in."""
    with open(path, "rb") as handle:
        head = handle.read(14)
    bgzf = len(head) == 14 and head[3] & 4 and head[12:14] == b"BC"
    return head[:2] == b"\x1f\x8b" and not bgzf


def _decompressed(path: Path) -> Path:
    """A decompressed temporary copy of a gzipped file."""
    import gzip
    import shutil
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".vcf", delete=False) as copy:
        try:
            with gzip.open(path, "rb") as source:
                shutil.copyfileobj(source, copy)
        except (OSError, EOFError) as err:
            Path(copy.name).unlink()
            raise InputError(f"VCF {str(path)!r} cannot be decompressed: {err}") from None
    return Path(copy.name)


def with_records(effects, vcf):
    """The effects of a VCF's alleles (in VCF order, as a job merges them), each given back its
    pysam record (which a job does not store), read from the VCF again."""
    with open_vcf(vcf) as source:
        records = enumerate(source)
        index, record = -1, None
        for effect in effects:
            while index < effect.record_index:
                index, record = next(records)
            effect.record = record
            yield effect


def read_alleles(vcf, fasta, length: int, mapping: dict | None = None, first_record: int = 0):
    """Stream the alleles of every record of ``vcf``, checked against the pyfaidx ``fasta``.

    ``vcf`` is a VCF path, or an iterable of records that have ``chrom``, ``pos`` (1-based),
    ``id``, ``ref`` and ``alts`` as pysam's do (the service streams its records so; a shard of
    a job reads its own records). Records are numbered from ``first_record``.

    Yields
    ------
    Allele
        One per ALT of each record (one, with status ``NO_ALT``, for a record without ALT).
    """
    if isinstance(vcf, (str, Path)):
        with open_vcf(vcf) as source:
            yield from _alleles(source, fasta, length, mapping, first_record)
    else:
        yield from _alleles(vcf, fasta, length, mapping, first_record)


def _alleles(records, fasta, length: int, mapping: dict | None, first_record: int):
    contigs = set(fasta.keys())
    for index, record in enumerate(records, start=first_record):
        alts = record.alts or (None,)
        for alt_index, alt in enumerate(alts):
            allele = Allele(record, index, alt_index, record.chrom, record.pos,
                            record.id or None, record.ref, alt)
            allele.status = _check(allele, fasta, contigs, mapping, length)
            yield allele


def _check(allele: Allele, fasta, contigs: set, mapping: dict | None, length: int) -> str:
    if allele.alt is None:
        return "NO_ALT"
    single_breakend = len(allele.alt) > 1 and "." in (allele.alt[0], allele.alt[-1])
    if allele.alt.startswith("<") or "[" in allele.alt or "]" in allele.alt or \
            allele.alt == "*" or single_breakend:
        return "SYMBOLIC_ALLELE"
    if not _DNA.match(allele.ref) or not _DNA.match(allele.alt):
        return "NOT_DNA"
    name = allele.chrom if allele.chrom in contigs else (mapping or {}).get(allele.chrom)
    if name not in contigs:
        return "CONTIG_NOT_IN_FASTA"
    allele.fasta_chrom = name
    contig_length = len(fasta[name])
    if allele.pos < 1 or allele.pos - 1 + len(allele.ref) > contig_length:
        return "OUTSIDE_CONTIG"
    if max(len(allele.ref), len(allele.alt)) > length:
        return "ALLELE_TOO_LONG"
    found = str(fasta[name][allele.pos - 1:allele.pos - 1 + len(allele.ref)]).upper()
    if found != allele.ref.upper():
        allele.detail = f"FASTA has {found} at {name}:{allele.pos}"
        return "REF_MISMATCH"
    lo, hi = reference_span(allele.pos, allele.ref, allele.alt, length)
    if lo < 0 or hi > contig_length:
        return "NEAR_CONTIG_END"
    return OK
