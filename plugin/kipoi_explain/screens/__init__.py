"""Region screens: perturb one window (or implant one element) at a time and record the target.

:func:`screen` slides a window across a region of each sequence and shuffles, randomises, masks
or deletes it (C.Origami's in-silico genetic screen, Orca-style perturbation); :func:`insertion`
implants a given sequence (a motif, an enhancer) at each of a set of positions. Both describe
their work as rows ``(sequence, window, replicate)`` and hand them to the one batching engine.
"""
from __future__ import annotations

import numpy as np

from .._version import __version__
from ..draws import sample_indices
from ..engine import run_batches
from ..errors import InputError
from ..prepare import prepare
from ..results import Screen
from ..samples import DNA
from ..sequences import alphabet
from .perturbations import (INSERTION_MODES, RANDOM_PERTURBATIONS, WINDOW_PERTURBATIONS,
                            Perturbation, genome_continuation)

__all__ = ["INSERTION_MODES", "WINDOW_PERTURBATIONS", "insertion", "screen"]


def screen(model, seqs, window: int = 50, stride: int | None = None,
           perturbation: str = "shuffle", target=0, start: int = 0, end: int | None = None,
           n_shuffles: int = 1, seed: int = 0, genome=None, reduce: str = "sum", bins=None,
           batch_size: int | None = None, progress: bool = False,
           ambiguous: str = "uniform", inputs: dict | None = None, sample_index=0) -> Screen:
    """Perturb each window of a region of every sequence and report the target's change.

    Windows are ``[s, s + window)`` for ``s`` in ``range(start, end - window + 1, stride)``:
    only whole windows, so when ``end - start - window`` is not a multiple of ``stride`` the
    last ``(end - start - window) % stride`` bases of the region are in no window.

    Parameters
    ----------
    model : Model or anything :func:`~kipoi_explain.load_model` accepts
        A model of one-hot DNA.
    seqs : SequenceSet, str, list of str, numpy.ndarray or FASTA path
        See :func:`~kipoi_explain.sequences.as_sequences`; a SequenceSet from
        :func:`~kipoi_explain.from_bed` keeps its intervals (genome coordinates of the
        windows, and ``genome`` fill for deletions).
    window : int
        Bases per window.
    stride : int, optional
        Bases between consecutive windows' starts (default ``window``: adjacent tiles).
    perturbation : {"shuffle", "random", "mask", "delete"}
        ``shuffle``: dinucleotide shuffle of the window's bases (tangermeme's Eulerian-path
        shuffle; keeps the window's dinucleotide counts and its first and last base).
        ``random``: uniform random bases. ``mask``: all-zero rows, ``N`` as tangermeme and the
        ``zeros`` baseline encode it. ``delete``: the window is removed, the bases right of it
        move left and the last ``window`` positions are filled with the genome's next bases in
        the sequence's orientation when ``genome`` is given, else with all-zero rows (``N``).
    target : int, str, list or "all"
        Output index or name, several of them (combined by ``reduce``), or all outputs.
    start, end : int
        The region screened, ``[start, end)`` (default the whole sequence).
    n_shuffles : int
        Random draws per window, averaged (``shuffle`` and ``random`` only). Draw ``r`` of
        window ``[s, s + window)`` of the sequence of index ``i`` in the whole set is seeded by
        ``(seed, i, s, r)`` (:class:`numpy.random.SeedSequence`), so results depend neither on
        the batch size nor on the shard a sequence is in. A window with one possible
        dinucleotide shuffle (a homopolymer, say) stays unchanged.
    seed : int
        Base seed of the random draws.
    genome : str or Path, optional
        Reference FASTA the sequences' intervals were read from (``delete`` only; the
        sequences must carry intervals, e.g. from :func:`~kipoi_explain.from_bed`).
    reduce : {"sum", "mean"}
        How several target outputs (or bins) combine into one number.
    inputs : dict of str to array, optional
        The model's extra inputs (tracks, features, token ids), one row per sequence; they
        stay at each sequence's own values while its DNA is perturbed.
    bins : (int, int), optional
        Window of output bins for binned / profile outputs.
    batch_size : int, optional
        Model rows per block (default: the model's).
    progress : bool
        Show a progress bar.
    ambiguous : {"uniform", "zeros", "error"}
        Encoding of IUPAC codes such as N in string input (and in ``genome`` fill).
    sample_index : int or numpy.ndarray
        Index of the first sequence in the whole set (or one per sequence), which seeds its
        draws (see :mod:`kipoi_explain.draws`).

    Returns
    -------
    Screen
        ``effects[n, w]`` is the mean of ``f(perturbed) - f(x)`` over the replicates.

    Raises
    ------
    InputError
        Naming the option (``window``, ``stride``, ``start``/``end``, ``perturbation``,
        ``n_shuffles``, ``genome``) that cannot be used, or malformed sequences or target.
    """
    if perturbation not in WINDOW_PERTURBATIONS:
        raise InputError(f"perturbation {perturbation!r}: expected one of "
                         f"{', '.join(WINDOW_PERTURBATIONS)}")
    if n_shuffles < 1:
        raise InputError(f"n_shuffles={n_shuffles}: expected at least 1")
    if n_shuffles != 1 and perturbation not in RANDOM_PERTURBATIONS:
        raise InputError(f"n_shuffles={n_shuffles}: applies to the random perturbations "
                         f"({', '.join(RANDOM_PERTURBATIONS)}), not to {perturbation!r}")
    if genome is not None and perturbation != "delete":
        raise InputError(f"genome: fills deleted windows only; perturbation {perturbation!r} "
                         "takes no genome")
    work = prepare(model, seqs, what="a region screen", accepts=(DNA,), target=target,
                   reduce=reduce, bins=bins, inputs=inputs, batch_size=batch_size,
                   progress=progress, ambiguous=ambiguous)
    x = work.x
    length = x.shape[1]
    end = length if end is None else end
    if not 0 <= start < end <= length:
        raise InputError(f"start={start}, end={end}: expected 0 <= start < end <= {length}")
    if not 1 <= window <= end - start:
        raise InputError(f"window={window}: expected 1 <= window <= {end - start} (the region "
                         f"[{start}, {end}))")
    stride = window if stride is None else stride
    if stride < 1:
        raise InputError(f"stride={stride}: expected a positive integer")
    content = None
    if perturbation == "delete":
        if genome is None:
            content = np.zeros((len(x), window, 4), dtype=np.float32)
        elif work.samples.intervals is None:
            raise InputError("genome: the sequences carry no genomic intervals to continue; "
                             "read them with from_bed, or leave genome out to fill with N")
        else:
            content = genome_continuation(work.samples.intervals, genome, window, ambiguous)
    starts = np.arange(start, end - window + 1, stride)
    spec = Perturbation(perturbation, window, n_shuffles, seed, content,
                        sample_indices(sample_index, len(x)))
    settings = {"window": window, "stride": stride, "start": start, "end": end,
                "n_shuffles": n_shuffles, "seed": seed,
                "genome": None if genome is None else str(genome)}
    return _run(work, spec, starts, settings, {"target": target, "reduce": reduce, "bins": bins,
                                               "ambiguous": ambiguous})


def insertion(model, seqs, sequence: str, positions=None, stride: int = 1,
              mode: str = "replace", target=0, reduce: str = "sum", bins=None,
              batch_size: int | None = None, progress: bool = False,
              ambiguous: str = "uniform", inputs: dict | None = None) -> Screen:
    """Implant a DNA sequence (a motif consensus, an enhancer) at each position and report the
    target's change.

    Parameters
    ----------
    model : Model or anything :func:`~kipoi_explain.load_model` accepts
        A model of one-hot DNA.
    seqs : SequenceSet, str, list of str, numpy.ndarray or FASTA path
        See :func:`~kipoi_explain.sequences.as_sequences`.
    sequence : str
        The element, in the sequences' orientation (also for reverse-complemented intervals);
        IUPAC codes are encoded by ``ambiguous``.
    positions : int or sequence of int, optional
        Where the element starts, ``0 <= p <= L - len(sequence)`` (default every ``stride``-th
        position from 0).
    stride : int
        Bases between default positions (only without ``positions``).
    mode : {"replace", "insert"}
        ``replace``: the element's bases substitute ``[p, p + k)``. ``insert``: the bases from
        ``p`` on move right by ``k`` and the last ``k`` drop off the end, keeping the length.
    target, reduce, bins, batch_size, progress, ambiguous, inputs
        As for :func:`screen`.

    Returns
    -------
    Screen
        One "window" per position, spanning the element ``[p, p + k)`` in the perturbed
        sequence; ``perturbation`` is the mode.

    Raises
    ------
    InputError
        For an empty or over-long ``sequence``, a ``position`` out of range, ``stride`` < 1,
        ``stride`` given with ``positions``, or an unknown ``mode``.
    """
    if mode not in INSERTION_MODES:
        raise InputError(f"mode {mode!r}: expected one of {', '.join(INSERTION_MODES)}")
    if not isinstance(sequence, str) or not sequence:
        raise InputError("sequence: expected a non-empty DNA string to implant")
    work = prepare(model, seqs, what="an insertion screen", accepts=(DNA,), target=target,
                   reduce=reduce, bins=bins, inputs=inputs, batch_size=batch_size,
                   progress=progress, ambiguous=ambiguous)
    x = work.x
    length, width = x.shape[1], len(sequence)
    if width > length:
        raise InputError(f"sequence: {width} bases, longer than the model's input length "
                         f"{length}")
    element = alphabet.one_hot([sequence], ["sequence"], ambiguous)[0]
    if stride < 1:
        raise InputError(f"stride={stride}: expected a positive integer")
    if positions is None:
        starts = np.arange(0, length - width + 1, stride)
    else:
        if stride != 1:
            raise InputError("stride: applies only without positions (it spaces the default "
                             "positions)")
        starts = np.atleast_1d(np.asarray(positions))
        if starts.size == 0 or starts.ndim != 1 or not np.issubdtype(starts.dtype, np.integer):
            raise InputError(f"positions {positions!r}: expected one or more integers")
        bad = starts[(starts < 0) | (starts > length - width)]
        if bad.size:
            raise InputError(f"positions: {int(bad[0])} out of range; a {width}-base sequence "
                             f"fits at 0 <= position <= {length - width}")
        starts = starts.astype(np.int64)
    spec = Perturbation(mode, width, content=element)
    settings = {"sequence": sequence, "positions": starts.tolist(), "stride": stride,
                "mode": mode}
    return _run(work, spec, starts, settings, {"target": target, "reduce": reduce, "bins": bins,
                                               "ambiguous": ambiguous})


def _run(work, spec: Perturbation, starts: np.ndarray, settings: dict,
         request: dict) -> Screen:
    """The rows ``(sequence, window, replicate)``, sequence-major, through the engine;
    ``settings`` and the ``request``'s target options go to the result's settings."""
    model, x, batch_size, target_spec = work.model, work.x, work.batch_size, work.target
    n, n_windows, replicates = len(x), len(starts), spec.replicates
    seq, win, rep = np.unravel_index(np.arange(n * n_windows * replicates),
                                     (n, n_windows, replicates))
    predictions = model.predict(x, batch_size)
    reference = target_spec.apply(predictions).astype(np.float32)

    def block(lo, hi):
        rows = spec.apply(x, seq[lo:hi], starts[win[lo:hi]], rep[lo:hi])
        return target_spec.apply(model.predictor.forward(rows, context=model.rows(seq[lo:hi])))

    perturbed = run_batches(block, len(seq), batch_size, work.progress,
                            f"screen ({spec.name})")
    perturbed = perturbed.reshape(n, n_windows, replicates).astype(np.float32)
    effects = (perturbed.astype(np.float64) - reference[:, None, None]).mean(axis=2)
    return Screen(
        effects=effects.astype(np.float32), perturbed=perturbed, starts=starts.astype(np.int64),
        ends=(starts + spec.width).astype(np.int64), reference=reference,
        perturbation=spec.name, target=target_spec.as_dict(), predictions=predictions,
        names=list(work.samples.names), intervals=work.samples.intervals,
        settings={**settings, "perturbation": spec.name, **request, "batch_size": batch_size,
                  "version": __version__},
        model=model.describe())
