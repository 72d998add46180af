"""Stability of attributions without a ground truth: does a method give the same map when the
question does not change?

- **Reverse-complement stability**: a sequence and its reverse complement carry the same
  sites; the map of the reverse complement, mapped back, should match the map of the sequence
  (exactly so for a reverse-complement-symmetric model and a deterministic method).
- **Shift stability**: a site moved by a few bases should keep its scores, moved with it.
- **Seed stability**: a method with randomness (DeepSHAP references, expected gradients,
  SmoothGrad noise) should not change its answer with its seed.

Each compares two maps of a sequence by three agreements, each in [-1, 1] and 1 for identical
maps:

- ``pearson``: Pearson correlation of the position scores (the L2 norm of the map over the
  four bases at each position, :func:`~kipoi_explain.evaluation.truth.position_scores`);
- ``spearman``: Spearman correlation of the position scores;
- ``cosine``: cosine similarity of the ``(L, 4)`` maps, signs and bases included.

``explain`` sees the transformed sequences as other rows of one stacked call, so a method
seeded per row (random references, noise) draws other references for them: its reverse-
complement and shift stability include its seed variation, which :func:`seed_stability`
measures alone.

A row with constant position scores or an all-zero map has no defined correlation: NaN (means
skip NaN). Maps that are identical score 1 exactly, not 1 up to rounding, so that a
deterministic method's seed stability is exactly 1.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..diagnostics.stats import row_spearman
from ..errors import InputError
from ..sequences import as_sequences
from ..sequences.alphabet import reverse_complement
from .truth import position_scores, row_cosine

AGREEMENTS = ("pearson", "spearman", "cosine")


@dataclass
class Stability:
    """Agreement of each sequence's two maps.

    Attributes
    ----------
    kind : {"reverse_complement", "shift", "seed"}
    values : dict of str to numpy.ndarray
        ``pearson``, ``spearman``, ``cosine``: ``(N,)`` each (the mean over the shifts or the
        pairs of seeds, where there are several).
    mean : dict of str to float
        The mean over sequences of each agreement (NaN rows skipped; NaN if all are).
    detail : dict of str to numpy.ndarray
        Per shift or pair of seeds: ``(S, N)`` arrays of each agreement (empty for reverse
        complement).
    settings : dict
        The shifts or seeds.
    """

    kind: str
    values: dict
    mean: dict
    detail: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)


def agreement(a: np.ndarray, b: np.ndarray) -> dict[str, np.ndarray]:
    """Pearson and Spearman correlations of the position scores and cosine similarity of the
    maps, of each sequence's map in ``a`` with its map in ``b`` (``(N, L, 4)`` each): a dict of
    ``(N,)`` arrays."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    pa, pb = position_scores(a), position_scores(b)
    values = {"pearson": row_cosine(pa - pa.mean(axis=1, keepdims=True),
                                    pb - pb.mean(axis=1, keepdims=True)),
              "spearman": row_spearman(pa, pb),
              "cosine": row_cosine(a, b)}
    # Identical maps agree exactly; the division by rounded norms would leave 1 - 1e-16.
    same = (a == b).reshape(len(a), -1).all(axis=1)
    return {name: np.where(same & np.isfinite(v), 1.0, np.clip(v, -1.0, 1.0))
            for name, v in values.items()}


def reverse_complement_stability(explain: Callable[[np.ndarray], np.ndarray],
                                 x) -> Stability:
    """Agreement of each sequence's map with the map of its reverse complement, mapped back.

    ``explain`` is called once, on ``[x, rc(x)]`` stacked; the second half is mapped back by
    :func:`~kipoi_explain.sequences.alphabet.reverse_complement` (positions reversed, bases
    complemented), so position ``l``, base ``b`` of the sequence faces the same base pair:
    ``agreement(phi(x), rc(phi(rc(x))))``.

    Parameters
    ----------
    explain : callable
        ``x (M, L, 4) -> maps (M, L, 4)``, e.g.
        ``lambda x: kx.explain(model, x, "deepshap").scores``.
    x : numpy.ndarray
        ``(N, L, 4)`` one-hot sequences.

    Returns
    -------
    Stability
    """
    x = as_sequences(x).onehot
    maps = _explained(explain, np.concatenate([x, reverse_complement(x)]), 2 * len(x))
    return _stability("reverse_complement", agreement(maps[:len(x)],
                                                      reverse_complement(maps[len(x):])))


def shift_stability(explain: Callable[[np.ndarray], np.ndarray], x, shifts=(-3, -1, 1, 3),
                    seed: int = 0) -> Stability:
    """Agreement of each sequence's map with the map of the sequence shifted by ``s`` bases,
    on the positions both share.

    The shifted sequence is ``x_s[l] = x[l - s]``: content moves by ``s`` (right for
    ``s > 0``), the ``|s|`` bases moved out are dropped and the ``|s|`` positions left
    empty at the other end take seeded uniformly random bases, so that no site is repeated and
    none is created on purpose. The maps are compared on the ``L - |s|`` positions that hold
    the same bases: ``agreement(phi(x)[l - s], phi(x_s)[l])``. ``explain`` is called once, on
    ``x`` and every shift stacked.

    Parameters
    ----------
    explain : callable
        ``x (M, L, 4) -> maps (M, L, 4)``.
    x : numpy.ndarray
        ``(N, L, 4)`` one-hot sequences.
    shifts : sequence of int
        Non-zero shifts, each shorter than the sequences.
    seed : int
        Seed of the fill bases.

    Returns
    -------
    Stability
        ``values`` the mean over the shifts; ``detail`` per shift.
    """
    x = as_sequences(x).onehot
    n, length = x.shape[:2]
    shifts = [int(s) for s in shifts]
    if not shifts or any(s == 0 or abs(s) >= length for s in shifts):
        raise InputError(f"shifts={shifts!r}: expected non-zero shifts shorter than {length}")
    fill = np.eye(4, dtype=np.float32)[
        np.random.default_rng(seed).integers(0, 4, (len(shifts), n, length))]
    # Source position of each shifted position; out of range where the fill goes.
    source = np.arange(length)[None] - np.array(shifts)[:, None]
    inside = (source >= 0) & (source < length)
    shifted = np.where(inside[:, None, :, None], x[:, np.clip(source, 0, length - 1)]
                       .transpose(1, 0, 2, 3), fill)
    maps = _explained(explain, np.concatenate([x, shifted.reshape(-1, length, 4)]),
                      n * (1 + len(shifts)))
    base, moved = maps[:n], maps[n:].reshape(len(shifts), n, length, 4)
    detail = {name: np.empty((len(shifts), n)) for name in AGREEMENTS}
    for j, s in enumerate(shifts):  # a few shifts, each over every sequence at once
        kept = np.flatnonzero(inside[j])
        for name, value in agreement(base[:, source[j, kept]], moved[j][:, kept]).items():
            detail[name][j] = value
    return _stability("shift", {name: _nanmean(v, axis=0) for name, v in detail.items()},
                      detail, {"shifts": shifts, "seed": seed})


def seed_stability(explain_with_seed: Callable[[np.ndarray, int], np.ndarray], x,
                   seeds=(0, 1)) -> Stability:
    """Agreement of each sequence's maps under different seeds of the method, averaged over
    every pair of seeds: ``agreement(phi_s(x), phi_t(x))``. A deterministic method gives 1
    exactly.

    Parameters
    ----------
    explain_with_seed : callable
        ``(x (N, L, 4), seed) -> maps (N, L, 4)``, e.g.
        ``lambda x, seed: kx.explain(model, x, "deepshap", seed=seed).scores``; called once
        per seed (a seed is a whole run of the method).
    x : numpy.ndarray
        ``(N, L, 4)`` sequences.
    seeds : sequence of int
        At least two distinct seeds.

    Returns
    -------
    Stability
        ``values`` the mean over the pairs; ``detail`` per pair, in ``itertools.combinations``
        order.
    """
    x = as_sequences(x).onehot
    seeds = [int(s) for s in seeds]
    if len(set(seeds)) < 2 or len(set(seeds)) != len(seeds):
        raise InputError(f"seeds={seeds!r}: expected at least two distinct seeds")
    maps = [_explained(lambda rows: explain_with_seed(rows, seed), x, len(x)) for seed in seeds]
    pairs = [(i, j) for i in range(len(seeds)) for j in range(i + 1, len(seeds))]
    per_pair = [agreement(maps[i], maps[j]) for i, j in pairs]
    detail = {name: np.stack([p[name] for p in per_pair]) for name in AGREEMENTS}
    return _stability("seed", {name: _nanmean(v, axis=0) for name, v in detail.items()},
                      detail, {"seeds": seeds,
                               "pairs": [(seeds[i], seeds[j]) for i, j in pairs]})


def _stability(kind: str, values: dict, detail: dict | None = None,
               settings: dict | None = None) -> Stability:
    return Stability(kind, values, {name: float(_nanmean(v)) for name, v in values.items()},
                     detail or {}, settings or {})


def _nanmean(values: np.ndarray, axis=None):
    """Mean skipping NaN; NaN (without a warning) where every value is NaN."""
    finite = np.isfinite(values)
    total = np.where(finite, values, 0.0).sum(axis=axis)
    count = finite.sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)



def _explained(explain: Callable, rows: np.ndarray, expected: int) -> np.ndarray:
    maps = np.asarray(explain(rows), dtype=np.float64)
    if maps.shape != (expected, *rows.shape[1:]):
        raise InputError(f"explain returned maps of shape {maps.shape}; expected "
                         f"{(expected, *rows.shape[1:])}, one per sequence")
    return maps
