"""Rows of implanted backgrounds, computed through the one batching engine.

An experiment's rows are backgrounds with up to a few elements implanted, each row described
by index arrays (which background; per slot, which element and where, -1 for none), so a
block of rows is built with a few fancy-indexing assignments, never a loop over sequences.
"""
from __future__ import annotations

import numpy as np

from ..engine import run_batches


def implanted(work, backgrounds: np.ndarray, onehots: list[np.ndarray],
              background: np.ndarray, slots: list[tuple[np.ndarray, np.ndarray]],
              desc: str) -> np.ndarray:
    """The target's value ``(R,)`` for each row: ``backgrounds[background[r]]`` with, for each
    slot ``(element, start)``, ``onehots[element[r]]`` replacing the bases from ``start[r]``
    (no element where ``element[r]`` is -1). ``work`` is the prepared command."""
    model, target = work.model, work.target

    def block(lo, hi):
        rows = backgrounds[background[lo:hi]].copy()
        for element, start in slots:
            for k in np.unique(element[lo:hi]):
                if k < 0:
                    continue
                hit = np.flatnonzero(element[lo:hi] == k)
                width = len(onehots[k])
                columns = start[lo:hi][hit, None] + np.arange(width)
                rows[hit[:, None], columns] = onehots[k]
        return target.apply(model.predictor.forward(rows)).astype(np.float32)

    return run_batches(block, len(background), work.batch_size, work.progress, desc)
