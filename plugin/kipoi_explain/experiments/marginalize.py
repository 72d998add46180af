"""What a motif does on its own: implant it into backgrounds and record the target's change
(tangermeme's and gReLU's marginalization)."""
from __future__ import annotations

import numpy as np

from .._version import __version__
from ..errors import InputError
from ..prepare import prepare
from ..results import Marginalization
from ..samples import DNA
from ..sequences import alphabet
from .backgrounds import backgrounds_for
from .elements import elements
from .implant import implanted


def marginalize(model, seqs, motifs, n_backgrounds: int = 100, position: int | None = None,
                target=0, seed: int = 0, genome=None, release: str | None = None,
                reduce: str = "sum",
                bins=None, batch_size: int | None = None, progress: bool = False,
                ambiguous: str = "uniform") -> Marginalization:
    """Implant each motif into the same backgrounds and report the target's change.

    Parameters
    ----------
    model : Model or anything :func:`~kipoi_explain.load_model` accepts
        A model of one-hot DNA.
    seqs : SequenceSet, str, list of str, numpy.ndarray or FASTA path
        Sequences whose dinucleotide shuffles are the backgrounds (background ``b`` shuffles
        sequence ``b % N``): they keep the sequences' composition and lose their motifs.
    motifs : str or list of str
        JASPAR matrix IDs (``MA0139.2``; without a version, the latest in ``release``), MEME
        files (every motif in them) or DNA sequences. A motif is implanted as its consensus
        (the most probable base at each position), as tangermeme and gReLU do.
    n_backgrounds : int
        Backgrounds, each shared by every motif (a paired comparison).
    position : int, optional
        Where each element starts (default: centred, ``(L - k) // 2``).
    target, reduce, bins
        The output(s) recorded, as for :func:`~kipoi_explain.explain`.
    seed : int
        Seed of the backgrounds.
    genome : str or Path, optional
        A reference FASTA: backgrounds are then windows drawn from it, each matched to the GC
        content of sequence ``b % N`` (the mean mismatch goes to the settings), instead of
        shuffles.
    release : str, optional
        JASPAR release of the IDs (default the newest pyjaspar ships).
    batch_size, progress, ambiguous
        As for :func:`~kipoi_explain.explain`; ``ambiguous`` also encodes IUPAC letters of the
        elements.

    Returns
    -------
    Marginalization
        The target on every background, alone and with each motif.

    Raises
    ------
    InputError
        For an unknown motif, an element longer than the input, or a position it does not fit.
    """
    found = elements(motifs, release)
    work = prepare(model, seqs, what="a marginalization", accepts=(DNA,), target=target,
                   reduce=reduce, bins=bins, batch_size=batch_size, progress=progress,
                   ambiguous=ambiguous)
    length = work.x.shape[1]
    widths = np.array([len(e.sequence) for e in found])
    if widths.max() > length:
        raise InputError(f"motif {found[int(widths.argmax())].label!r}: {widths.max()} bases, "
                         f"longer than the model's input length {length}")
    starts = (length - widths) // 2 if position is None else np.full(len(found), position)
    bad = np.flatnonzero((starts < 0) | (starts + widths > length))
    if bad.size:
        raise InputError(f"position={position}: motif {found[bad[0]].label!r} "
                         f"({widths[bad[0]]} bases) fits at 0 <= position <= "
                         f"{length - widths[bad[0]]}")
    backgrounds, drawn = backgrounds_for(work.x, n_backgrounds, seed, genome)
    onehots = [alphabet.one_hot([e.sequence], [e.label], ambiguous)[0] for e in found]
    n_motifs = len(found)
    # Rows: every background alone, then every (motif, background), motif-major.
    background = np.concatenate([np.arange(n_backgrounds),
                                 np.tile(np.arange(n_backgrounds), n_motifs)])
    element = np.repeat(np.arange(-1, n_motifs), n_backgrounds)
    start = np.concatenate([np.zeros(n_backgrounds, np.int64),
                            np.repeat(starts, n_backgrounds)])
    values = implanted(work, backgrounds, onehots, background, [(element, start)],
                       "marginalize")
    return Marginalization(
        motifs=[e.label for e in found], sequences=[e.sequence for e in found],
        starts=starts.astype(np.int64), background=values[:n_backgrounds],
        implanted=values[n_backgrounds:].reshape(n_motifs, n_backgrounds),
        target=work.target.as_dict(),
        settings={"motifs": list(motifs) if not isinstance(motifs, str) else [motifs],
                  "n_backgrounds": n_backgrounds, "position": position, "seed": seed,
                  "release": release, **drawn,
                  "reduce": reduce, "bins": bins, "ambiguous": ambiguous,
                  "batch_size": work.batch_size, "version": __version__},
        model=work.model.describe())
