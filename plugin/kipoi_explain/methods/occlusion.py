"""Occlusion: slide a window over the input, replace it by a baseline, record the target's drop.

Needs forward passes only, so it explains models without gradients (scikit-learn, any predict
function) as well as networks, on one-hot DNA and on feature inputs alike.
"""
from __future__ import annotations

import numpy as np

from ..engine import run_batches
from ..errors import InputError
from ..results import MethodScores
from .references import references

#: Window when none is given: 10 bases of DNA (about one binding site), 1 feature.
DNA_WINDOW, FEATURE_WINDOW = 10, 1


def occlusion(model, x, target, batch_size, progress, window: int | None = None,
              stride: int = 1, baseline="zeros") -> MethodScores:
    """Mean effect on the target of occluding each position (Zeiler & Fergus 2014).

    Windows of ``window`` positions start at ``0, stride, 2 * stride, ...`` while they fit;
    the first axis of a sample is the one slid along (DNA positions, or features), every
    window covering the whole of the other axes (the four bases, a track's channels). Each
    window is replaced by the baseline and its effect is ``f(x) - f(occluded)``: positive
    where the window supports the target. A position scores the mean effect of the windows
    covering it (0 if none does), as Captum's ``Occlusion`` with the same window and stride.

    For one-hot DNA that score is put on the base present (the other three bases score 0), so
    :meth:`~kipoi_explain.results.Attribution.position_importance` is the mean effect; for
    features every element of a covered position gets it (Captum's attribution, unchanged).

    Parameters
    ----------
    window : int, optional
        Positions per window (default: 10 for DNA, 1 for features).
    stride : int
        Positions between consecutive windows' starts.
    baseline : {"zeros", "uniform", "mean"} or array
        What replaces the window: zeros (``N`` for DNA), 0.25 per base (DNA), the mean of the
        given inputs, or an array of one sample's shape or ``(N, *shape)``; see
        :func:`~kipoi_explain.methods.references.references`.
    """
    n, length = x.shape[:2]
    dna = model.takes_dna
    window = (DNA_WINDOW if dna else FEATURE_WINDOW) if window is None else window
    if not 1 <= window <= length:
        raise InputError(f"occlusion window={window}: expected 1 <= window <= {length}")
    if stride < 1:
        raise InputError(f"occlusion stride={stride}: expected a positive integer")
    if isinstance(baseline, str) and baseline == "shuffle":
        raise InputError("occlusion baseline 'shuffle': expected zeros, uniform, mean or an "
                         "array (a shuffle of the whole input is no stand-in for one window)")
    fill = references(x, baseline)[:, 0]
    starts = np.arange(0, length - window + 1, stride)
    offset = np.arange(length) - starts[:, None]
    covers = (offset >= 0) & (offset < window)
    seq, win = np.divmod(np.arange(n * len(starts)), len(starts))
    expand = (slice(None), slice(None)) + (None,) * (x.ndim - 2)
    f_x = target.apply(model.predict(x, batch_size))

    def block(lo, hi):
        rows, masks = seq[lo:hi], covers[win[lo:hi]][expand]
        return target.apply(model.predictor.forward(np.where(masks, fill[rows], x[rows]),
                                           context=model.rows(rows)))

    effect = f_x[seq] - run_batches(block, len(seq), batch_size, progress, "occlusion")
    effect = effect.reshape(n, len(starts)).astype(np.float64)
    counts = covers.sum(axis=0)
    per_position = np.divide(effect @ covers, counts, out=np.zeros((n, length)),
                             where=counts > 0).astype(np.float32)
    spread = per_position[expand]
    scores = spread * x if dna else np.broadcast_to(spread, x.shape)
    return MethodScores(np.ascontiguousarray(scores, dtype=np.float32))
