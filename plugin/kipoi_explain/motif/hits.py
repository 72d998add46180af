"""Motif hits in attribution maps: contribution weight matrices (CWMs) matched against the
contributions of the present bases, with a threshold per motif calibrated on a background.

As FiNeMo does, a hit is a window whose contributions look like the motif's CWM, whatever
their scale; unlike FiNeMo, which fits all motifs at once by sparse regression, each motif is
scanned on its own (a convolution over all sequences at once), its threshold set on permuted
contribution maps, and overlapping hits of any motifs are resolved by the most similar.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import __version__
from ..errors import InputError
from ..results import Attribution, Hits
from ..sequences.alphabet import reverse_complement
from ..stages import stage
from .patterns import Pattern, load_patterns

#: Guards the cosine similarity of a window without contributions.
EPS = 1e-12


def hits(model, seqs, motifs="jaspar", method: str = "deepshap", target=0,
         motif_ids=None, release: str | None = None, fpr: float = 1e-3,
         min_similarity: float = 0.7, n_background: int = 1000, trim: float = 0.3,
         ablate: bool = False, n_shuffles: int = 10, seed: int = 0, reduce: str = "sum",
         bins=None, batch_size: int | None = None, progress: bool = False,
         ambiguous: str = "uniform") -> Hits:
    """Explain the sequences, then call instances of motifs in their attribution maps.

    Parameters
    ----------
    model : Model or anything :func:`~kipoi_explain.load_model` accepts
        A model of one-hot DNA.
    seqs : SequenceSet, str, list of str, numpy.ndarray or FASTA path
        As for :func:`~kipoi_explain.explain`; BED intervals give hits genome coordinates.
    motifs : str, Path, dict or list of Pattern
        ``"jaspar"``, a modisco-lite output folder (or its ``modisco_results.h5``), a MEME
        file, or CWMs by name; see :func:`~kipoi_explain.motif.patterns.load_patterns`.
    method : str
        The attribution method (see :func:`~kipoi_explain.explain`), run with its defaults.
    target, reduce, bins
        The output(s) explained, and whose change ablation records.
    motif_ids : list of str, optional
        The motifs of ``motifs`` to scan for (default: all of them; for JASPAR, every
        vertebrate CORE motif, about 1,000: 24 s for the 100 example windows on 2 CPU cores,
        where 7 motifs take 0.2 s, and similar motifs then compete for the same sites).
    release : str, optional
        JASPAR release.
    fpr : float
        Fraction of background windows a motif's threshold lets through, in (0, 1).
    min_similarity : float
        Least cosine similarity between a hit's contributions and the CWM (FiNeMo's default
        correlation is 0.7), in [0, 1].
    n_background : int
        Permuted contribution maps the thresholds are calibrated on.
    trim : float
        CWM flank trimming, see :func:`~kipoi_explain.motif.patterns.load_patterns`.
    ablate : bool
        Also record the target's change when each hit is ablated (:func:`ablate_hits`).
    n_shuffles, seed
        Shuffles averaged per ablated hit, and the seed of the background and the shuffles.
    batch_size, progress, ambiguous
        As for :func:`~kipoi_explain.explain`; ``progress`` also shows the stage ``matching``
        (see :func:`call_hits`).

    Returns
    -------
    Hits

    Raises
    ------
    InputError
        For unknown motifs, a bad file of motifs, options out of range, or what
        :func:`~kipoi_explain.explain` refuses.
    """
    from ..backends import load_model
    from ..methods import explain

    _check(fpr, min_similarity, n_background, n_shuffles)
    with stage("database", progress=progress):
        patterns = load_patterns(motifs, motif_ids, release, trim)
    # Loaded once for the attributions and the ablation.
    model = load_model(model)
    result = explain(model, seqs, method=method, target=target, reduce=reduce, bins=bins,
                     batch_size=batch_size, progress=progress, ambiguous=ambiguous)
    found = call_hits(result, patterns, fpr, min_similarity, n_background, seed, progress)
    found.settings.update({
        "motifs": str(motifs) if isinstance(motifs, (str, Path)) else "(matrices)",
        "motif_ids": None if motif_ids is None else list(np.atleast_1d(motif_ids)),
        "release": release, "trim": trim, "ablate": ablate, "n_shuffles": n_shuffles,
        "reduce": reduce, "bins": bins, "ambiguous": ambiguous})
    if ablate:
        from ..experiments.ablation import ablate_hits

        found.ablation = ablate_hits(model, result.inputs, found, target=target,
                                     n_shuffles=n_shuffles, seed=seed, reduce=reduce, bins=bins,
                                     batch_size=batch_size, progress=progress)
    return found


def _check(fpr, min_similarity, n_background, n_shuffles) -> None:
    if not 0 < fpr < 1:
        raise InputError(f"fpr={fpr}: expected a fraction in (0, 1)")
    if not 0 <= min_similarity <= 1:
        raise InputError(f"min_similarity={min_similarity}: expected a value in [0, 1]")
    if n_background < 1:
        raise InputError(f"n_background={n_background}: expected at least 1")
    if n_shuffles < 1:
        raise InputError(f"n_shuffles={n_shuffles}: expected at least 1")


def contributions(result: Attribution) -> np.ndarray:
    """``(N, L, 4)`` contribution of each present base: the one-hot input times the position's
    importance (hypothetical contributions times the input for DeepSHAP and the like, the
    mean mutation effect for ISM)."""
    if result.inputs.ndim != 3 or result.inputs.shape[-1] != 4:
        raise InputError(f"hits need attributions of one-hot DNA; method {result.method!r} "
                         "gave scores of shape " + str(result.scores.shape))
    return (result.inputs * result.position_importance()[..., None]).astype(np.float32)


def call_hits(result: Attribution, patterns: list[Pattern], fpr: float = 1e-3,
              min_similarity: float = 0.7, n_background: int = 1000, seed: int = 0,
              progress: bool = False) -> Hits:
    """Hits of each pattern in an attribution's contribution maps.

    Every window of every sequence is scored on both strands by its *weight*, the projection
    of its contributions ``(W, 4)`` on the unit-norm CWM, and its *similarity*, that weight
    over the contributions' norm (cosine). A pattern's threshold is the ``1 - fpr`` quantile
    of the weights of the same scan over ``n_background`` permuted maps (a sequence's
    positions in random order: the same contributions, no motif structure). A window is a
    candidate where its weight reaches the threshold and its similarity ``min_similarity``;
    overlapping candidates (of any pattern) are resolved greedily, the most similar first.
    ``progress``: show the stage ``matching``, counted in patterns scanned.
    """
    contrib = contributions(result)
    rng = np.random.default_rng(seed)
    n, length = contrib.shape[:2]
    rows = rng.integers(n, size=n_background)
    order = np.argsort(rng.random((n_background, length)), axis=1)
    background = contrib[rows[:, None], order]
    widths = np.array([len(p.cwm) for p in patterns])
    if widths.max() > length:
        raise InputError(f"motif {patterns[int(widths.argmax())].name!r}: {widths.max()} "
                         f"positions, longer than the sequences ({length})")
    columns, thresholds = [], np.empty(len(patterns))
    with stage("matching", len(patterns), "motif", progress) as advance:
        for m, pattern in enumerate(patterns):
            # One motif at a time keeps memory at (N, 2, L) per scan, whatever the motif count.
            null = np.sort(_scan(background, pattern.cwm)[0].ravel())
            thresholds[m] = max(np.quantile(null, 1 - fpr), EPS)
            weight, similarity, total = _scan(contrib, pattern.cwm)
            seq, strand, start = np.nonzero((weight >= thresholds[m]) &
                                            (similarity >= min_similarity))
            count = null.size - np.searchsorted(null, weight[seq, strand, start], side="left")
            columns.append((seq, start, np.full(len(seq), m), strand, total[seq, start],
                            similarity[seq, strand, start], weight[seq, strand, start],
                            (1.0 + count) / (1.0 + null.size)))
            advance()
    seq, start, motif, strand, total, similarity, weight, p_value = \
        (np.concatenate(c) for c in zip(*columns))
    end = start + widths[motif]
    kept = _resolve(seq, start, end, similarity, n, length)
    kept = kept[np.lexsort((start[kept], seq[kept]))]
    return Hits(
        seq=seq[kept].astype(np.int64), start=start[kept].astype(np.int64),
        end=end[kept].astype(np.int64), motif=[patterns[m].name for m in motif[kept]],
        strand=["-" if s else "+" for s in strand[kept]],
        attribution=total[kept].astype(np.float32),
        similarity=similarity[kept].astype(np.float32),
        weight=weight[kept].astype(np.float32), p_value=p_value[kept],
        names=list(result.names), motifs=[p.name for p in patterns], thresholds=thresholds,
        method=result.method, target=result.target,
        settings={"fpr": fpr, "min_similarity": min_similarity, "n_background": n_background,
                  "seed": seed, "method": result.method,
                  "background": "position-permuted contribution maps",
                  "widths": widths.tolist(), "version": __version__},
        model=result.model, intervals=result.intervals)


def _scan(contrib: np.ndarray, cwm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``weight`` and ``similarity`` ``(N, 2, P)`` (forward CWM, reverse complement) and the
    summed contributions ``(N, P)`` of every window of ``P = L - W + 1``.

    The correlation is accumulated one motif column at a time (a ``(N, P, 4) @ (4, 2)``
    product each), so memory stays at the size of the maps; window sums come from prefix sums.
    """
    kernels = np.stack([cwm, reverse_complement(cwm)]).astype(np.float32)
    kernels /= np.linalg.norm(kernels.reshape(2, -1), axis=1)[:, None, None]
    width = len(cwm)
    n_windows = contrib.shape[1] - width + 1
    weight = np.zeros((len(contrib), n_windows, 2), dtype=np.float32)
    for column in range(width):
        weight += contrib[:, column:column + n_windows] @ kernels[:, column].T
    weight = weight.transpose(0, 2, 1)

    def window_sums(values):
        prefix = np.concatenate([np.zeros((len(values), 1)), np.cumsum(values, axis=1)], axis=1)
        return prefix[:, width:] - prefix[:, :n_windows]

    norm = np.sqrt(np.maximum(window_sums((contrib.astype(np.float64) ** 2).sum(-1)), 0.0))
    total = window_sums(contrib.sum(-1, dtype=np.float64))
    return weight, weight / np.maximum(norm, EPS)[:, None], total


def _resolve(seq, start, end, key, n, length) -> np.ndarray:
    """Indices of the candidates kept by greedy non-overlap, highest ``key`` first.

    Done in rounds over all sequences at once: a candidate is kept when it outranks every
    live candidate it overlaps (as the greedy pass would keep it), then everything overlapping
    a kept one is dropped. Each round keeps at least the best live candidate.
    """
    rank = np.empty(len(key), dtype=np.int64)
    rank[np.argsort(-key, kind="stable")] = np.arange(len(key))[::-1]
    # Every position of each span (short spans repeat their last position).
    offsets = np.arange(max(int((end - start).max(initial=1)), 1))
    positions = start[:, None] + np.minimum(offsets, (end - start - 1)[:, None])
    rows = np.broadcast_to(seq[:, None], positions.shape)
    alive, kept = np.ones(len(key), dtype=bool), []
    while alive.any():
        live = np.flatnonzero(alive)
        cover = np.full((n, length), -1, dtype=np.int64)
        np.maximum.at(cover, (rows[live], positions[live]), rank[live, None])
        winners = live[cover[rows[live], positions[live]].max(axis=1) == rank[live]]
        kept.append(winners)
        taken = np.zeros((n, length), dtype=bool)
        taken[rows[winners], positions[winners]] = True
        alive &= ~taken[rows, positions].any(axis=1)
    return np.concatenate(kept) if kept else np.zeros(0, dtype=np.int64)
