"""What a screen does to one window of a sequence, as a gather over the sequence and an appendix.

Every perturbation builds the perturbed sequence as ``concat(x, appendix)[index]``: the
appendix holds the new bases (a shuffle of the window, random bases, zeros, the genome's bases
after the sequence, an implanted element) and ``index`` says, per output position, which row
of the original or of the appendix goes there. One vectorised gather serves a whole block of
rows, whatever the perturbation.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..sequences import alphabet
from ..sequences.genome import open_fasta
from ..sequences.shuffles import dinucleotide_shuffles

#: Perturbations of a sliding window (:func:`kipoi_explain.screen`).
WINDOW_PERTURBATIONS = ("shuffle", "random", "mask", "delete")
#: How :func:`kipoi_explain.insertion` implants an element.
INSERTION_MODES = ("replace", "insert")
#: Perturbations drawn at random, with replicates (``n_shuffles``).
RANDOM_PERTURBATIONS = ("shuffle", "random")

_EYE = np.eye(4, dtype=np.float32)


@dataclass(frozen=True)
class Perturbation:
    """One kind of change applied to a span ``[start, start + width)`` of each sequence.

    Attributes
    ----------
    name : str
        ``shuffle``, ``random``, ``mask``, ``delete`` (a window), or ``replace``, ``insert``
        (an element).
    width : int
        Bases the span covers (the window, or the element's length).
    replicates : int
        Random draws per sequence and span (1 for deterministic perturbations).
    seed : int
        Base seed of the random draws.
    content : numpy.ndarray or None
        ``(N, width, 4)`` bases that follow each sequence (``delete``), or ``(width, 4)``
        the implanted element (``replace``, ``insert``).
    index : numpy.ndarray or None
        ``(N,)`` index of each sequence in the whole set, which seeds its draws (default: its
        position among the ``N``).
    """

    name: str
    width: int
    replicates: int = 1
    seed: int = 0
    content: np.ndarray | None = None
    index: np.ndarray | None = None

    def apply(self, x: np.ndarray, seq: np.ndarray, starts: np.ndarray,
              rep: np.ndarray) -> np.ndarray:
        """Perturbed copies ``(B, L, 4)`` of sequences ``x[seq]``, span starting at ``starts``,
        replicate ``rep`` (arrays of ``B`` rows)."""
        length = x.shape[1]
        j = np.arange(length)[None]
        s = starts[:, None]
        inside = (j >= s) & (j < s + self.width)
        if self.name == "delete":
            # Bases right of the window move left by ``width``; the last ``width`` come from
            # the appendix (the genome's continuation, or zeros).
            index = np.where(j >= s, j + self.width, j)
        elif self.name == "insert":
            index = np.where(j < s, j, np.where(inside, length + j - s, j - self.width))
        else:
            index = np.where(inside, length + j - s, j)
        extended = np.concatenate([x[seq], self._appendix(x, seq, starts, rep)], axis=1)
        return np.take_along_axis(extended, index[:, :, None], axis=1)

    def _appendix(self, x, seq, starts, rep) -> np.ndarray:
        rows = len(seq)
        if self.name == "mask":
            return np.zeros((rows, self.width, 4), dtype=np.float32)
        if self.name == "delete":
            return self.content[seq]
        if self.name in INSERTION_MODES:
            return np.broadcast_to(self.content, (rows, self.width, 4))
        # Random perturbations: each row (sequence, span, replicate) is drawn on its own, seeded
        # by the sequence's index in the whole set, the span's start and the replicate, so a
        # row's draw depends neither on the block nor on the shard it falls in. One shuffle per
        # call also lets a window with a single possible shuffle (e.g. a homopolymer) stay as
        # it is, where tangermeme refuses to draw several identical shuffles.
        owner = seq if self.index is None else self.index[seq]
        seeds = np.array([np.random.SeedSequence([self.seed, int(i), int(s), int(r)])
                          .generate_state(1)[0] for i, s, r in zip(owner, starts, rep)],
                         dtype=np.int64)
        if self.name == "shuffle":
            windows = x[seq[:, None], starts[:, None] + np.arange(self.width)]
            return dinucleotide_shuffles(windows, 1, seed=seeds)[:, 0]
        return np.stack([_EYE[np.random.default_rng(s).integers(0, 4, self.width)]
                         for s in seeds])


def genome_continuation(intervals, genome, width: int, ambiguous: str = "uniform") -> np.ndarray:
    """The ``width`` bases that follow each sequence in the genome, in the sequence's own
    orientation, ``(N, width, 4)``.

    For a forward interval they are ``[end, end + width)``; for a reverse-complemented one
    (``-`` strand read with ``use_strand``) the reverse complement of ``[start - width,
    start)``, since the sequence runs towards lower coordinates. Bases past a contig end are
    all-zero rows (``N``); ``N`` in the genome is encoded by the ``ambiguous`` rule, as in the
    sequences.
    """
    fasta = open_fasta(genome)
    try:
        out = np.zeros((len(intervals), width, 4), dtype=np.float32)
        for k, interval in enumerate(intervals):
            if interval.chrom not in fasta:
                raise InputError(f"genome: contig {interval.chrom!r} of record "
                                 f"{interval.name!r} is not in {str(genome)!r}")
            contig = fasta[interval.chrom]
            if interval.reverse:
                text = contig[max(0, interval.start - width):interval.start]
            else:
                text = contig[interval.end:min(len(contig), interval.end + width)]
            if not text:
                continue
            bases = alphabet.one_hot([text], None, ambiguous)[0]
            if interval.reverse:
                bases = alphabet.reverse_complement(bases)
            out[k, :len(bases)] = bases
        return out
    finally:
        fasta.close()
