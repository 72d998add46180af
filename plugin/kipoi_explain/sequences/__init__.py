"""Sequences in: everything a user may hand over becomes one :class:`SequenceSet`.

Accepted: DNA strings, one-hot arrays ``(L, 4)`` / ``(N, L, 4)``, a FASTA file of model-length
records, or BED intervals plus a reference FASTA (resized to the model's input length).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import InputError
from ..results import Interval
from .alphabet import ALPHABET, decode, one_hot, reverse_complement
from .genome import GenomeIntervals, fetch_intervals, read_bed, read_fasta

FASTA_SUFFIXES = (".fa", ".fasta", ".fna", ".fa.gz", ".fasta.gz")

__all__ = ["ALPHABET", "SequenceSet", "as_sequences", "decode", "from_bed", "from_fasta",
           "from_strings", "one_hot", "reverse_complement"]


@dataclass
class SequenceSet:
    """One-hot sequences with the names and genomic intervals they came from.

    Attributes
    ----------
    onehot : numpy.ndarray
        ``(N, L, 4)`` float32, alphabet A, C, G, T.
    names : list of str
        One name per sequence.
    intervals : list of Interval or None
        Genomic windows, when the sequences were read from BED intervals.
    """

    onehot: np.ndarray
    names: list[str]
    intervals: list[Interval] | None = None

    def __len__(self) -> int:
        return self.onehot.shape[0]


def from_strings(seqs: Sequence[str], names: Sequence[str] | None = None,
                 ambiguous: str = "uniform") -> SequenceSet:
    """Encode DNA strings; see :func:`~kipoi_explain.sequences.alphabet.one_hot`."""
    names = list(names) if names is not None else [f"seq{i}" for i in range(len(seqs))]
    return SequenceSet(one_hot(seqs, names, ambiguous), names)


def from_fasta(path, ambiguous: str = "uniform") -> SequenceSet:
    """Every record of a FASTA file; all records must have one length."""
    names, seqs = read_fasta(path)
    return from_strings(seqs, names, ambiguous)


def from_bed(bed, fasta, length: int | None = None, use_strand: bool = False,
             ambiguous: str = "uniform") -> SequenceSet:
    """BED intervals read from a reference FASTA, centre-resized to ``length``.

    ``bed`` is a BED file path or a list of :class:`~kipoi_explain.results.Interval`.
    """
    intervals = read_bed(bed) if isinstance(bed, (str, Path)) else list(bed)
    seqs, windows = fetch_intervals(intervals, fasta, length, use_strand)
    return SequenceSet(one_hot(seqs, [w.name for w in windows], ambiguous),
                       [w.name for w in windows], windows)


def as_sequences(seqs, length: int | None = None, ambiguous: str = "uniform") -> SequenceSet:
    """Turn any accepted input into a :class:`SequenceSet` and check it fits the model.

    Parameters
    ----------
    seqs : SequenceSet, GenomeIntervals, str, sequence of str, numpy.ndarray or path
        A DNA string or list of them; a one-hot array ``(L, 4)`` or ``(N, L, 4)`` (A, C, G, T on
        the last axis); a path to a FASTA file (suffix .fa, .fasta, .fna); intervals of a
        FASTA file.
    length : int, optional
        The model's input length; every sequence must have it.
    ambiguous : {"uniform", "zeros", "error"}
        Rule for IUPAC codes such as N.

    Raises
    ------
    InputError
        Naming the record whose length, alphabet or shape is wrong.
    """
    if isinstance(seqs, SequenceSet):
        result = seqs
    elif isinstance(seqs, GenomeIntervals):
        result = from_bed(seqs.intervals, seqs.fasta, length, seqs.use_strand, ambiguous)
    elif isinstance(seqs, Path) or (isinstance(seqs, str) and seqs.endswith(FASTA_SUFFIXES)):
        result = from_fasta(seqs, ambiguous)
    elif isinstance(seqs, str):
        result = from_strings([seqs], ambiguous=ambiguous)
    elif isinstance(seqs, np.ndarray) or hasattr(seqs, "__array__"):
        result = _from_array(np.asarray(seqs))
    elif isinstance(seqs, Sequence) and all(isinstance(s, str) for s in seqs):
        result = from_strings(list(seqs), ambiguous=ambiguous)
    else:
        raise InputError(f"cannot read sequences from {type(seqs).__name__}; expected DNA "
                         "strings, a one-hot array (N, L, 4), a FASTA path or a SequenceSet")
    if len(result) == 0:
        raise InputError("no sequences given")
    if length is not None and result.onehot.shape[1] != length:
        raise InputError(f"record {result.names[0]!r}: length {result.onehot.shape[1]}, "
                         f"expected the model's input length {length}")
    return result


def _from_array(x: np.ndarray) -> SequenceSet:
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or x.shape[-1] != 4:
        raise InputError(f"one-hot array of shape {x.shape}: expected (N, L, 4) with A, C, G, T "
                         "on the last axis")
    if not np.isfinite(x).all():
        index = int(np.argwhere(~np.isfinite(x))[0][0])
        raise InputError(f"record 'seq{index}': one-hot array holds NaN or infinite values")
    if x.size and (x.min() < 0 or x.max() > 1):
        index = int(np.argwhere((x < 0) | (x > 1))[0][0])
        raise InputError(f"record 'seq{index}': one-hot values outside [0, 1] (a base's "
                         "probability)")
    return SequenceSet(np.ascontiguousarray(x, dtype=np.float32),
                       [f"seq{i}" for i in range(x.shape[0])])
