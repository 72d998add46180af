"""Ablation of motif hits in their own sequences: each hit's bases replaced by dinucleotide
shuffles, every ablated row run through the one batching engine."""
from __future__ import annotations

import numpy as np

from ..engine import run_batches
from ..errors import InputError
from ..prepare import prepare
from ..results import Hits
from ..samples import DNA
from ..sequences.shuffles import dinucleotide_shuffles


def ablate_hits(model, seqs, hits: Hits, target=0, n_shuffles: int = 10, seed: int = 0,
                reduce: str = "sum", bins=None, batch_size: int | None = None,
                progress: bool = False, ambiguous: str = "uniform") -> np.ndarray:
    """The mean change of the target when each hit's bases are ablated, ``(K,)`` float32.

    A hit is ablated by replacing its bases with the same positions of a dinucleotide shuffle
    of its whole sequence (so the bases put in keep the sequence's composition, and a short
    span is not left almost as it was, as a shuffle of its own few bases could be), once per
    shuffle; the change is the target on the ablated sequence minus the target on the
    sequence, averaged over ``n_shuffles``.

    Parameters
    ----------
    model : Model or anything :func:`~kipoi_explain.load_model` accepts
    seqs : SequenceSet, str, list of str, numpy.ndarray or FASTA path
        The sequences the hits were called in, in the same order.
    hits : Hits
        Their ``seq``, ``start`` and ``end`` are used.
    target, reduce, bins, batch_size, progress, ambiguous
        As for :func:`~kipoi_explain.explain`.
    n_shuffles, seed
        Shuffles per sequence (shared by its hits), and their seed (per sequence index).

    Raises
    ------
    InputError
        For hits outside the sequences or a count of shuffles below 1.
    """
    work = prepare(model, seqs, what="hit ablation", accepts=(DNA,), target=target,
                   reduce=reduce, bins=bins, batch_size=batch_size, progress=progress,
                   ambiguous=ambiguous)
    x = work.x
    if n_shuffles < 1:
        raise InputError(f"n_shuffles={n_shuffles}: expected at least 1")
    if len(hits) and (hits.seq.max() >= len(x) or hits.start.min() < 0 or
                      hits.end.max() > x.shape[1]):
        raise InputError(f"hits: spans outside the {len(x)} sequences of {x.shape[1]} bases "
                         "given; ablate hits in the sequences they were called in")
    if not len(hits):
        return np.zeros(0, dtype=np.float32)
    used = np.unique(hits.seq)
    seeds = np.random.SeedSequence(seed).generate_state(len(x)) % 2 ** 31
    shuffled = dinucleotide_shuffles(x[used], n_shuffles, seed=[int(s) for s in seeds[used]])
    where = np.searchsorted(used, hits.seq)
    positions = np.arange(x.shape[1])
    n_used = len(used)

    def block(lo, hi):
        # Rows: each used sequence as it is, then every (hit, shuffle), hit-major.
        row = np.arange(lo, hi)
        plain = row < n_used
        hit, shuffle = np.divmod(np.maximum(row - n_used, 0), n_shuffles)
        which = np.where(plain, row, where[hit])
        inside = ~plain[:, None] & (positions >= hits.start[hit, None]) & \
            (positions < hits.end[hit, None])
        rows = np.where(inside[..., None], shuffled[which, shuffle], x[used[which]])
        return work.target.apply(work.model.predictor.forward(rows.astype(np.float32))) \
            .astype(np.float32)

    values = run_batches(block, n_used + len(hits) * n_shuffles, work.batch_size,
                         work.progress, "ablate")
    ablated = values[n_used:].reshape(len(hits), n_shuffles).mean(axis=1)
    return (ablated - values[:n_used][where]).astype(np.float32)
