"""The loop shared by every reference-based method (IG, expected gradients, DeepLIFT, DeepSHAP).

Work is one row per (sequence, reference) pair; contributions are accumulated per sequence as
blocks finish, so memory stays ``O(N * L)`` however many references or steps there are.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..engine import accumulate_sorted, run_batches
from ..results import MethodScores
from .contributions import contributions, correct


def attribute_over_references(model, x: np.ndarray, refs: np.ndarray, target,
                              multipliers: Callable[[np.ndarray, np.ndarray, np.ndarray], tuple],
                              batch_size: int, progress: bool, desc: str,
                              correct_gradients: bool = False,
                              rows_per_pair: int = 1) -> MethodScores:
    """Average contributions of ``x`` against each of its references.

    Parameters
    ----------
    model : Model
    x : numpy.ndarray
        ``(N, L, 4)`` inputs.
    refs : numpy.ndarray
        ``(N, K, L, 4)`` references.
    target : Target
    multipliers : callable
        ``(x_rows, ref_rows, pairs) -> (multipliers, f_ref)`` for a block of pairs: rows
        ``(n, L, 4)`` and the pairs' indices ``sequence * K + reference``; ``f_ref`` is the
        target value of each reference, ``(n,)``, or None when the method does not compute it
        on the way (the references are then predicted in one batched pass).
    batch_size : int
        Model rows per block.
    progress : bool
    desc : str
        Progress bar label.
    correct_gradients : bool
        Apply :func:`~kipoi_explain.methods.contributions.correct` to the multipliers.
    rows_per_pair : int
        Model rows one pair costs (e.g. IG steps), so that a block stays ``batch_size`` rows.

    Returns
    -------
    MethodScores
        Scores and hypothetical contributions averaged over references, and the completeness
        gap ``sum(scores) - (f(x) - mean_k f(ref_k))``, with the predictions for ``x``.
    """
    n, k = refs.shape[:2]
    scores = np.zeros(x.shape, dtype=np.float64)
    hypothetical = np.zeros(x.shape, dtype=np.float64)
    f_ref = None

    def block(lo, hi):
        nonlocal f_ref
        pair = np.arange(lo, hi)
        seq, ref_index = pair // k, pair % k
        x_rows, ref_rows = x[seq], refs[seq, ref_index]
        mult, f_ref_rows = multipliers(x_rows, ref_rows, pair)
        if correct_gradients:
            mult = correct(mult)
        block_scores, block_hyp = contributions(mult, x_rows, ref_rows)
        accumulate_sorted(scores, seq, block_scores)
        accumulate_sorted(hypothetical, seq, block_hyp)
        if f_ref_rows is not None:
            f_ref = np.zeros(n, dtype=np.float64) if f_ref is None else f_ref
            accumulate_sorted(f_ref, seq, f_ref_rows)

    run_batches(block, n * k, max(1, batch_size // rows_per_pair), progress, desc)
    if f_ref is None:
        flat, owner = refs.reshape(n * k, *x.shape[1:]), np.repeat(np.arange(n), k)
        # Each reference is run with its own sequence's extra inputs, if the model takes any.
        f_ref = target.apply(run_batches(lambda lo, hi: model.predictor.forward(
            flat[lo:hi], context=model.rows(owner[lo:hi])), n * k, batch_size).reshape(
            n * k, *model.output_shape))
        f_ref = f_ref.reshape(n, k).sum(1)
    scores, hypothetical, f_ref = scores / k, hypothetical / k, f_ref / k
    predictions = model.predict(x, batch_size)
    delta = scores.reshape(n, -1).sum(axis=1) - (target.apply(predictions) - f_ref)
    return MethodScores(scores.astype(np.float32), hypothetical.astype(np.float32),
                        delta.astype(np.float32), predictions=predictions)
