"""From multipliers (gradients, averaged path gradients, DeepLIFT multipliers) to contributions.

Every gradient-family method ends here, so the scores, the hypothetical contributions and the
gradient correction are computed one way for all of them.
"""
from __future__ import annotations

import numpy as np


def correct(multipliers: np.ndarray) -> np.ndarray:
    """Subtract the per-position mean over the four bases (Majdandzic, Rajesh & Koo 2023).

    Removes the off-simplex gradient component, which carries no information for one-hot input.
    """
    return multipliers - multipliers.mean(axis=-1, keepdims=True)


def contributions(multipliers: np.ndarray, x: np.ndarray,
                  ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Contributions ``m * (x - ref)`` and hypothetical contributions for each base.

    The hypothetical contribution of base ``b`` at position ``i`` is what the position would
    contribute if ``b`` were present: ``m[i, b] - sum_c m[i, c] * ref[i, c]`` (the DeepLIFT /
    TF-MoDISco convention). All arrays are ``(n, L, 4)``.
    """
    scores = multipliers * (x - ref)
    hypothetical = multipliers - (multipliers * ref).sum(axis=-1, keepdims=True)
    return scores, hypothetical
