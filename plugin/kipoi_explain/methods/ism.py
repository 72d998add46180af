"""In-silico saturation mutagenesis: every position, every other base, one forward pass each."""
from __future__ import annotations

import numpy as np

from ..engine import run_batches
from ..errors import InputError
from ..results import MethodScores


def ism(model, x, target, batch_size, progress, start: int = 0,
        end: int | None = None, fast: bool = True) -> MethodScores:
    """Effect of each single-base substitution on the target.

    ``scores[n, i, b] = f(x with base b at i) - f(x)``, so the base already present scores 0.
    Positions that hold no single base (``N``) are mutated to all four bases.

    Parameters
    ----------
    start, end : int
        Mutate positions ``start <= i < end`` only (default: the whole sequence); scores
        outside the window are 0.
    fast : bool
        For a model with the ``fast_ism`` capability (PyTorch), recompute only the positions
        each substitution reaches (:mod:`~kipoi_explain.backends.torch.fast_ism`): the same
        scores, from naive ISM (with the reason logged) where the model's graph does not allow
        it.
    """
    n, length = x.shape[:2]
    end = length if end is None else end
    if not 0 <= start < end <= length:
        raise InputError(f"ism window start={start}, end={end}: expected "
                         f"0 <= start < end <= {length}")
    if fast and model.fast_ism is not None:
        scores = model.fast_ism.ism_scores(x, target, batch_size, progress, start, end)
        if scores is not None:
            return MethodScores(scores)
    seq, pos, base = np.meshgrid(np.arange(n), np.arange(start, end), np.arange(4), indexing="ij")
    seq, pos, base = seq.ravel(), pos.ravel(), base.ravel()
    keep = x[seq, pos, base] != 1.0
    seq, pos, base = seq[keep], pos[keep], base[keep]
    eye = np.eye(4, dtype=np.float32)
    f_x = target.apply(model.predict(x, batch_size))

    def block(lo, hi):
        mutants = x[seq[lo:hi]].copy()
        mutants[np.arange(hi - lo), pos[lo:hi]] = eye[base[lo:hi]]
        return target.apply(model.predictor.forward(mutants,
                                                    context=model.rows(seq[lo:hi])))

    f_mut = run_batches(block, len(seq), batch_size, progress, "ism")
    scores = np.zeros(x.shape, dtype=np.float32)
    scores[seq, pos, base] = f_mut - f_x[seq]
    return MethodScores(scores)
