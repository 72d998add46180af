"""How two motifs combine: implant both at each distance and orientation, and compare the
target with each motif alone (tangermeme's ``space``, gReLU's
``marginalize_pattern_spacing``), giving the cooperativity curve."""
from __future__ import annotations

import numpy as np

from .._version import __version__
from ..errors import InputError
from ..prepare import prepare
from ..results import Spacing
from ..samples import DNA
from ..sequences import alphabet
from .backgrounds import backgrounds_for
from .elements import elements
from .implant import implanted

#: Strand of the first and of the second motif: ``+-`` is the first as given, the second
#: reverse-complemented.
ORIENTATIONS = ("++", "+-", "-+", "--")


def spacing(model, seqs, first: str, second: str, distances=None, n_backgrounds: int = 100,
            anchor: int | None = None, orientations=ORIENTATIONS, target=0, seed: int = 0,
            genome=None, release: str | None = None, reduce: str = "sum", bins=None,
            batch_size: int | None = None, progress: bool = False,
            ambiguous: str = "uniform") -> Spacing:
    """Implant two motifs at each centre-to-centre distance and orientation into the same
    backgrounds, and each motif alone at the same places.

    Parameters
    ----------
    model : Model or anything :func:`~kipoi_explain.load_model` accepts
        A model of one-hot DNA.
    seqs : SequenceSet, str, list of str, numpy.ndarray or FASTA path
        Sequences whose dinucleotide shuffles are the backgrounds (as for
        :func:`marginalize`).
    first, second : str
        One motif each: a JASPAR matrix ID, a MEME file holding one motif, or a DNA sequence;
        implanted as consensus.
    distances : sequence of int, optional
        Centre-to-centre distances (the second motif to the right of the first; default every
        distance from the motifs touching to the end of the input).
    n_backgrounds : int
        Backgrounds, shared by every distance and orientation.
    anchor : int, optional
        Where the first motif starts (default: a quarter of the input length, centred there).
    orientations : sequence of {"++", "+-", "-+", "--"}
        Strands of the first and the second motif.
    target, reduce, bins, seed, genome, release, batch_size, progress, ambiguous
        As for :func:`marginalize`.

    Returns
    -------
    Spacing
        The target with both motifs ``(O, D, B)``, with each alone, and on the backgrounds;
        :meth:`Spacing.cooperativity` is the joint effect minus the sum of the single ones.

    Raises
    ------
    InputError
        For a motif spec naming other than one motif, a distance at which the motifs overlap
        or leave the input, or an unknown orientation.
    """
    pair = [elements(spec, release) for spec in (first, second)]
    for spec, found in zip((first, second), pair):
        if len(found) != 1:
            raise InputError(f"motif {spec!r}: names {len(found)} motifs; spacing takes one "
                             "motif each")
    (a,), (b,) = pair
    bad = sorted(set(orientations) - set(ORIENTATIONS))
    if bad or not orientations:
        raise InputError(f"orientations: {', '.join(bad) or 'none'}; expected some of "
                         f"{', '.join(ORIENTATIONS)}")
    work = prepare(model, seqs, what="a spacing experiment", accepts=(DNA,), target=target,
                   reduce=reduce, bins=bins, batch_size=batch_size, progress=progress,
                   ambiguous=ambiguous)
    length = work.x.shape[1]
    wa, wb = len(a.sequence), len(b.sequence)
    start_a = length // 4 - wa // 2 if anchor is None else anchor
    if not 0 <= start_a <= length - wa:
        raise InputError(f"anchor={anchor}: the first motif ({wa} bases) fits at 0 <= anchor "
                         f"<= {length - wa}")
    centre_a = start_a + wa / 2
    # The second motif's start for a distance d: centre_a + d - wb / 2, rounded down.
    closest = int(np.ceil((wa + wb) / 2))
    farthest = int(np.floor(length - wb / 2 - centre_a))
    distances = np.arange(closest, farthest + 1) if distances is None else \
        np.atleast_1d(np.asarray(distances, dtype=np.int64))
    starts_b = np.floor(centre_a + distances - wb / 2).astype(np.int64)
    wrong = np.flatnonzero((starts_b < start_a + wa) | (starts_b + wb > length))
    if distances.size == 0 or wrong.size:
        raise InputError(f"distances: {int(distances[wrong[0]]) if wrong.size else 'none'}; "
                         f"with the first motif at {start_a}, the motifs are apart and inside "
                         f"the input for {closest} <= distance <= {farthest}")
    onehot_a = alphabet.one_hot([a.sequence], [a.label], ambiguous)[0]
    onehot_b = alphabet.one_hot([b.sequence], [b.label], ambiguous)[0]
    # Elements 0, 1: the first motif on + and -; 2, 3: the second on + and -.
    onehots = [onehot_a, alphabet.reverse_complement(onehot_a),
               onehot_b, alphabet.reverse_complement(onehot_b)]
    backgrounds, drawn = backgrounds_for(work.x, n_backgrounds, seed, genome)
    n_o, n_d, n_b = len(orientations), len(distances), n_backgrounds
    strand = {"+": 0, "-": 1}
    # Rows: backgrounds; the first motif alone (+, -); the second alone at each distance
    # (+, -); both, for each orientation and distance. Background-minor throughout.
    o_idx, d_idx, b_idx = np.unravel_index(np.arange(n_o * n_d * n_b), (n_o, n_d, n_b))
    s_idx, sd_idx, sb_idx = np.unravel_index(np.arange(2 * n_d * n_b), (2, n_d, n_b))
    first_of = np.array([strand[o[0]] for o in orientations])
    second_of = np.array([2 + strand[o[1]] for o in orientations])
    none = np.full(n_b, -1)
    background = np.concatenate([np.arange(n_b), np.tile(np.arange(n_b), 2), sb_idx, b_idx])
    element_a = np.concatenate([none, np.repeat([0, 1], n_b), np.full(len(s_idx), -1),
                                first_of[o_idx]])
    element_b = np.concatenate([none, np.full(2 * n_b, -1), 2 + s_idx, second_of[o_idx]])
    start_b = np.concatenate([np.zeros(3 * n_b, np.int64), starts_b[sd_idx], starts_b[d_idx]])
    values = implanted(work, backgrounds, onehots, background,
                       [(element_a, np.full(len(background), start_a)), (element_b, start_b)],
                       "spacing")
    alone_a = values[n_b:3 * n_b].reshape(2, n_b)
    alone_b = values[3 * n_b:3 * n_b + 2 * n_d * n_b].reshape(2, n_d, n_b)
    return Spacing(
        motifs=[a.label, b.label], sequences=[a.sequence, b.sequence],
        orientations=list(orientations), distances=distances.astype(np.int64),
        first_start=int(start_a), second_starts=starts_b, background=values[:n_b],
        first_alone=alone_a[first_of], second_alone=alone_b[second_of - 2],
        both=values[3 * n_b + 2 * n_d * n_b:].reshape(n_o, n_d, n_b),
        target=work.target.as_dict(),
        settings={"first": first, "second": second, "n_backgrounds": n_backgrounds,
                  "anchor": anchor, "seed": seed, "release": release,
                  **drawn, "reduce": reduce,
                  "bins": bins, "ambiguous": ambiguous, "batch_size": work.batch_size,
                  "version": __version__},
        model=work.model.describe())
