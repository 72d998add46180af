"""Faithfulness of attributions without a ground truth: does the model's output follow what a
method says matters?

- **Deletion / insertion curves** (Petsiuk et al. 2018, RISE; Samek et al. 2017): remove (or
  put back) the positions a method ranks highest, a growing fraction at a time, and record the
  target. A faithful ranking makes the deletion curve fall, and the insertion curve rise,
  faster than a random ranking does.
- **Comprehensiveness / sufficiency** (DeYoung et al. 2020, ERASER), read off the same curves.
- **Infidelity** (Yeh et al. 2019) and **max-sensitivity** (Yeh et al. 2019), as Captum's
  ``captum.metrics.infidelity`` and ``sensitivity_max`` define them.

Every curve point of every sequence is one row of one stacked batch, built block by block with
index arrays and predicted through the one batching engine; never a loop over sequences.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.integrate import trapezoid

from ..engine import run_batches
from ..errors import InputError
from ..experiments.backgrounds import shuffled_backgrounds
from ..prepare import prepare
from ..samples import DNA
from ..sequences import as_sequences

#: The fractions at which ERASER's comprehensiveness and sufficiency are averaged.
ERASER_FRACTIONS = (0.01, 0.05, 0.1, 0.2, 0.5)
#: Default curve fractions: 0, 0.1, ..., 1 and the ERASER fractions, so that one batch gives
#: the curves, their areas and comprehensiveness / sufficiency.
DEFAULT_FRACTIONS = tuple(np.union1d(np.round(np.linspace(0, 1, 11), 10), ERASER_FRACTIONS))
REPLACEMENTS = ("shuffle", "reference")
KINDS = ("deletion", "insertion")


@dataclass
class Curve:
    """A deletion or insertion curve of each sequence.

    Attributes
    ----------
    kind : {"deletion", "insertion"}
    fractions : numpy.ndarray
        ``(K,)`` fractions of the positions removed (deletion) or put back (insertion), sorted.
    values : numpy.ndarray
        ``(N, K)`` the target at each fraction (mean over the shuffles with
        ``replace="shuffle"``).
    original : numpy.ndarray
        ``(N,)`` the target on the unmodified sequences, ``f(x)``.
    auc : numpy.ndarray
        ``(N,)`` area under the curve by the trapezoid rule over ``fractions``, divided by the
        span of the fractions (``fractions[-1] - fractions[0]``): the mean target along the
        curve, in the target's own units, comparable between fraction grids. Lower is better
        for deletion, higher for insertion.
    ranking : str
        ``"scores"`` (the method's ranking) or ``"random"``.
    settings : dict
        How the curve was made (replacement, shuffles, seed, target).
    """

    kind: str
    fractions: np.ndarray
    values: np.ndarray
    original: np.ndarray
    auc: np.ndarray
    ranking: str
    settings: dict

    @property
    def mean_auc(self) -> float:
        """The mean over sequences of :attr:`auc`."""
        return float(np.mean(self.auc))


def random_ranking(n: int, length: int, seed: int = 0) -> np.ndarray:
    """``(n, length)`` seeded random position scores: the floor a method's ranking is compared
    with (every position equally likely at every rank)."""
    return np.random.default_rng(seed).random((n, length))


def deletion_curve(model, x, scores, target=0, fractions=DEFAULT_FRACTIONS, replace="shuffle",
                   reference=None, n_shuffles: int = 5, seed: int = 0, reduce: str = "sum",
                   bins=None, batch_size: int | None = None, progress: bool = False) -> Curve:
    """The target as the top-ranked positions are removed, a growing fraction at a time.

    Position ``l`` of sequence ``i`` is removed at fraction ``k`` when its rank by
    ``scores[i]`` (highest first, ties by position) is below ``round(k * L)``; removed
    positions take the bases of the replacement. The value at ``k`` is ``f`` of that
    sequence (averaged over the shuffles).

    Parameters
    ----------
    model : Model or anything :func:`~kipoi_explain.load_model` accepts
        A model of one-hot DNA.
    x : array-like
        ``(N, L, 4)`` one-hot sequences (or anything :func:`~kipoi_explain.explain` reads).
    scores : numpy.ndarray, Attribution or "random"
        ``(N, L)`` position scores, an :class:`~kipoi_explain.Attribution` (its
        :meth:`~kipoi_explain.Attribution.position_importance`: the present base's score,
        ISM's sign-flipped mean effect), or ``"random"`` for :func:`random_ranking` seeded by
        ``seed``.
    target, reduce, bins
        The output, as for :func:`~kipoi_explain.explain`.
    fractions : sequence of float
        Fractions in [0, 1] (default 0, 0.1, ..., 1 and :data:`ERASER_FRACTIONS`).
    replace : {"shuffle", "reference"}
        Removed positions take the bases of ``n_shuffles`` dinucleotide shuffles of the
        sequence (values averaged over them), or those of ``reference``.
    reference : numpy.ndarray, optional
        ``(L, 4)`` or ``(N, L, 4)`` with ``replace="reference"``; default uniform 0.25.
    n_shuffles : int
        Shuffles per sequence with ``replace="shuffle"``.
    seed : int
        Seed of the shuffles (shuffle ``s`` of sequence ``i`` as
        :func:`~kipoi_explain.experiments.backgrounds.shuffled_backgrounds` draws background
        ``s * N + i``) and of a random ranking.
    batch_size, progress
        As for :func:`~kipoi_explain.explain`.

    Returns
    -------
    Curve

    Raises
    ------
    InputError
        For scores, fractions, a replacement or a reference that do not fit.
    """
    return faithfulness_curves(model, x, scores, target, fractions, replace, reference,
                               n_shuffles, seed, reduce, bins, batch_size, progress,
                               kinds=("deletion",))["deletion"]


def insertion_curve(model, x, scores, target=0, fractions=DEFAULT_FRACTIONS, replace="shuffle",
                    reference=None, n_shuffles: int = 5, seed: int = 0, reduce: str = "sum",
                    bins=None, batch_size: int | None = None, progress: bool = False) -> Curve:
    """The target as the top-ranked positions are put back into the replacement (the shuffles
    or the reference), a growing fraction at a time: the mirror of :func:`deletion_curve`,
    whose parameters it takes. Kept positions hold the sequence's own bases, the others those
    of the replacement."""
    return faithfulness_curves(model, x, scores, target, fractions, replace, reference,
                               n_shuffles, seed, reduce, bins, batch_size, progress,
                               kinds=("insertion",))["insertion"]


def faithfulness_curves(model, x, scores, target=0, fractions=DEFAULT_FRACTIONS,
                        replace="shuffle", reference=None, n_shuffles: int = 5, seed: int = 0,
                        reduce: str = "sum", bins=None, batch_size: int | None = None,
                        progress: bool = False, kinds=KINDS) -> dict[str, Curve]:
    """The deletion and insertion curves (``kinds``) from one stacked batch: rows
    ``(sequence, kind, shuffle, fraction)`` and then the ``N`` unmodified sequences, all
    predicted in one pass of the batching engine. Parameters as for :func:`deletion_curve`.

    Returns
    -------
    dict of str to Curve
        One curve per kind.
    """
    work = prepare(model, x, what="a deletion / insertion curve", accepts=(DNA,),
                   target=target, reduce=reduce, bins=bins, batch_size=batch_size,
                   progress=progress)
    x = work.x
    n, length = x.shape[:2]
    kinds = tuple(kinds)
    if not kinds or any(kind not in KINDS for kind in kinds):
        raise InputError(f"kinds={kinds!r}: expected some of {', '.join(KINDS)}")
    ranking = "random" if isinstance(scores, str) and scores == "random" else "scores"
    ranks = _ranks(random_ranking(n, length, seed) if ranking == "random"
                   else _position_scores(scores, x.shape))
    fractions = _fractions(fractions)
    fillers = _fillers(x, replace, reference, n_shuffles, seed)
    n_fill, n_frac, n_kind = fillers.shape[1], len(fractions), len(kinds)
    counts = np.floor(fractions * length + 0.5).astype(np.int64)
    # Row r < n_curve is (sequence, kind, filler, fraction), row-major; the N rows after them
    # are the sequences themselves (nothing swapped), for f(x).
    n_curve = n * n_kind * n_fill * n_frac
    seq, kind, fill, frac = np.unravel_index(np.arange(n_curve), (n, n_kind, n_fill, n_frac))
    seq = np.concatenate([seq, np.arange(n)])
    fill = np.concatenate([fill, np.zeros(n, np.int64)])
    count = np.concatenate([counts[frac], np.zeros(n, np.int64)])
    insert = np.concatenate([np.array([k == "insertion" for k in kinds])[kind],
                             np.zeros(n, bool)])

    def block(lo, hi):
        i = seq[lo:hi]
        # Deletion swaps the top-ranked positions for the filler; insertion keeps them and
        # swaps the rest.
        swap = (ranks[i] < count[lo:hi, None]) != insert[lo:hi, None]
        rows = np.where(swap[..., None], fillers[i, fill[lo:hi]], x[i])
        outputs = work.model.predictor.forward(rows, context=work.model.rows(i))
        return work.target.apply(outputs).astype(np.float64)

    values = run_batches(block, n_curve + n, work.batch_size, work.progress, "curves")
    original = values[n_curve:]
    values = values[:n_curve].reshape(n, n_kind, n_fill, n_frac).mean(axis=2)
    span = fractions[-1] - fractions[0]
    settings = {"replace": replace, "n_shuffles": n_shuffles if replace == "shuffle" else None,
                "seed": seed, "target": work.target.as_dict()}
    return {name: Curve(name, fractions, values[:, j], original,
                        trapezoid(values[:, j], fractions, axis=1) / (span or 1.0),
                        ranking, settings)
            for j, name in enumerate(kinds)}


def comprehensiveness(curve: Curve, fractions=ERASER_FRACTIONS) -> np.ndarray:
    """ERASER's comprehensiveness (DeYoung et al. 2020) of each sequence, from a deletion
    curve: ``mean_k [f(x) - f(x without its top k)]`` over ``fractions``. Higher is better:
    removing what the method ranks highest takes the prediction away.

    Parameters
    ----------
    curve : Curve
        A deletion curve whose fractions include ``fractions`` (the default curve fractions
        do), so no further prediction is needed.
    fractions : sequence of float
        The k of the average (default 1, 5, 10, 20 and 50 %).

    Returns
    -------
    numpy.ndarray
        ``(N,)``.
    """
    return _eraser(curve, fractions, "deletion")


def sufficiency(curve: Curve, fractions=ERASER_FRACTIONS) -> np.ndarray:
    """ERASER's sufficiency (DeYoung et al. 2020) of each sequence, from an insertion curve:
    ``mean_k [f(x) - f(only the top k of x kept)]`` over ``fractions``, the rest of the
    sequence being the curve's replacement. Lower is better: the top-ranked positions alone
    carry the prediction. Parameters as for :func:`comprehensiveness`."""
    return _eraser(curve, fractions, "insertion")


def _eraser(curve: Curve, fractions, kind: str) -> np.ndarray:
    if curve.kind != kind:
        raise InputError(f"curve: kind {curve.kind!r}; expected {kind!r}")
    wanted = np.asarray(fractions, dtype=np.float64)
    where = np.abs(curve.fractions[:, None] - wanted[None]) < 1e-9
    if not where.any(axis=0).all():
        missing = wanted[~where.any(axis=0)]
        raise InputError(f"fractions: {', '.join(map(str, missing))} not among the curve's "
                         "fractions; build the curve with them")
    return (curve.original[:, None] - curve.values[:, where.argmax(axis=0)]).mean(axis=1)


def gaussian_perturbations(n: int, n_perturbations: int, shape, noise_scale: float,
                           seed: int = 0) -> np.ndarray:
    """``(n, n_perturbations, *shape)`` float32 Gaussian noise of standard deviation
    ``noise_scale``: the perturbations :func:`infidelity` draws."""
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, noise_scale, (n, n_perturbations, *shape)).astype(np.float32)


def uniform_perturbations(n: int, n_perturbations: int, shape, radius: float,
                          seed: int = 0) -> np.ndarray:
    """``(n, n_perturbations, *shape)`` float32 noise uniform in the L-infinity ball of
    ``radius``: the perturbations :func:`max_sensitivity` draws."""
    rng = np.random.default_rng(seed)
    return rng.uniform(-radius, radius, (n, n_perturbations, *shape)).astype(np.float32)


def infidelity(model, x, attributions, target=0, n_perturbations: int = 10,
               noise_scale: float = 0.1, seed: int = 0, baseline=None, normalize: bool = False,
               perturbations=None, reduce: str = "sum", bins=None,
               batch_size: int | None = None) -> np.ndarray:
    """Explanation infidelity (Yeh et al. 2019) of each sequence, as Captum's
    ``captum.metrics.infidelity`` computes it.

    With Gaussian perturbations ``I`` (``noise_scale`` standard deviation, every base of
    every position) the perturbed input is ``x - D`` and

    ``infidelity = mean_I [(sum(I * phi) - (f(x) - f(x - D)))^2]``

    where ``D = I`` (``baseline=None``: Captum's ``perturb_func`` returning the noise itself,
    right for local maps such as saliency) or ``D = I * (x - baseline)`` (Captum's
    ``infidelity_perturb_func_decorator(multiply_by_inputs=True)``, right for maps that
    factor in the input, such as gradient x input, DeepLIFT, IG); in the second case the
    dot product uses ``D / (x - baseline)``, which is ``I`` where ``x != baseline`` and 0
    elsewhere. For a linear model ``f(x) = sum(w * x) + b`` the first-order term is exact:
    saliency (``phi = w``) has infidelity 0 with ``baseline=None``, gradient x input
    (``phi = w * x``) with ``baseline=0``.

    ``normalize=True`` first rescales ``phi`` by Captum's
    ``beta = sum_I [a * b] / sum_I [a^2]`` (``a = sum(I * phi)``, ``b`` the change of ``f``):
    ``mean_I [(beta * a - b)^2]``, invariant to the scale of the attributions.

    Parameters
    ----------
    model : Model or anything :func:`~kipoi_explain.load_model` accepts
    x : array-like
        ``(N, L, 4)`` sequences.
    attributions : numpy.ndarray or Attribution
        ``(N, L, 4)`` maps (an Attribution's ``scores``).
    target, reduce, bins
        As for :func:`~kipoi_explain.explain`.
    n_perturbations, noise_scale, seed
        The perturbations, as :func:`gaussian_perturbations` draws them.
    baseline : float or numpy.ndarray, optional
        See above (``(L, 4)``, ``(N, L, 4)`` or a scalar).
    normalize : bool
        Captum's ``normalize``.
    perturbations : numpy.ndarray, optional
        ``(N, n_perturbations, L, 4)`` noise ``I`` to use instead of drawing it.
    batch_size : int, optional
        Model rows per block.

    Returns
    -------
    numpy.ndarray
        ``(N,)`` infidelity, lower is better.
    """
    work = prepare(model, x, what="infidelity", accepts=(DNA,), target=target, reduce=reduce,
                   bins=bins, batch_size=batch_size)
    x = work.x
    phi = _maps(attributions, x.shape, "attributions")
    if perturbations is None:
        _check_count(n_perturbations, "n_perturbations")
        perturbations = gaussian_perturbations(len(x), n_perturbations, x.shape[1:],
                                               noise_scale, seed)
    noise = np.asarray(perturbations, dtype=np.float32)
    if noise.ndim != 4 or noise.shape[0] != len(x) or noise.shape[2:] != x.shape[1:]:
        raise InputError(f"perturbations of shape {noise.shape}: expected (N, P, "
                         f"{', '.join(map(str, x.shape[1:]))}) with N = {len(x)}")
    if baseline is None:
        change, dot_noise = noise, noise
    else:
        baseline = np.asarray(baseline, dtype=np.float32)
        if baseline.shape not in ((), x.shape[1:], x.shape):
            raise InputError(f"baseline of shape {baseline.shape}: expected a scalar, "
                             f"{x.shape[1:]} or {x.shape}")
        span = (x - baseline)[:, None]
        change, dot_noise = noise * span, np.where(span != 0, noise, 0)
    n, p = noise.shape[:2]
    rows = np.concatenate([x, (x[:, None] - change).reshape(n * p, *x.shape[1:])])
    index = np.concatenate([np.arange(n), np.repeat(np.arange(n), p)])
    f = _predict(work, rows, index, "infidelity")
    a = (dot_noise.astype(np.float64) * phi[:, None]).reshape(n, p, -1).sum(axis=2)
    b = f[:n, None] - f[n:].reshape(n, p)
    if not normalize:
        return ((a - b) ** 2).mean(axis=1)
    aa, ab, bb = (a * a).sum(axis=1), (a * b).sum(axis=1), (b * b).sum(axis=1)
    beta = ab / np.where(aa != 0, aa, 1.0)
    return (beta * beta * aa - 2 * beta * ab + bb) / p


def max_sensitivity(explain: Callable[[np.ndarray], np.ndarray], x, radius: float = 0.02,
                    n_perturbations: int = 10, seed: int = 0, perturbations=None,
                    reflect: bool = True) -> np.ndarray:
    """Max-sensitivity (Yeh et al. 2019) of each sequence, as Captum's
    ``captum.metrics.sensitivity_max`` computes it with its defaults:

    ``max_delta ||phi(x') - phi(x)||_F / ||phi(x)||_F``

    over ``n_perturbations`` draws ``delta`` uniform in the L-infinity ball of ``radius``
    (``||phi(x)|| = 0`` divides by 1, as Captum does). Captum's ``x' = x + delta`` leaves
    [0, 1], which :func:`~kipoi_explain.explain` rejects as no base probability; so by default
    ``x'`` is ``x + delta`` reflected at the faces of [0, 1] (``|x + delta|``, then
    ``1 - |1 - .|``): for one-hot ``x`` a draw uniform in the part of the ball inside
    [0, 1]. ``reflect=False`` is Captum's ``x + delta``, for an ``explain`` that takes any
    values.

    Parameters
    ----------
    explain : callable
        ``x (M, L, 4) -> maps (M, L, 4)``, e.g.
        ``lambda x: kx.explain(model, x, "saliency").scores``. It is called once, on the
        sequences followed by all their perturbations (``N * (1 + n_perturbations)`` rows, the
        perturbations of sequence ``i`` together), so a method whose noise is seeded by row
        adds its own variation to the measure.
    x : numpy.ndarray
        ``(N, L, 4)`` sequences.
    radius, n_perturbations, seed
        The perturbations, as :func:`uniform_perturbations` draws them.
    perturbations : numpy.ndarray, optional
        ``(N, n_perturbations, L, 4)`` noise ``delta`` to use instead of drawing it.
    reflect : bool
        Keep ``x'`` in [0, 1] by reflection (see above); needs ``radius <= 1``.

    Returns
    -------
    numpy.ndarray
        ``(N,)`` max-sensitivity, lower is better.
    """
    x = as_sequences(x).onehot
    if perturbations is None:
        _check_count(n_perturbations, "n_perturbations")
        perturbations = uniform_perturbations(len(x), n_perturbations, x.shape[1:], radius, seed)
    delta = np.asarray(perturbations, dtype=np.float32)
    if delta.ndim != 4 or delta.shape[0] != len(x) or delta.shape[2:] != x.shape[1:]:
        raise InputError(f"perturbations of shape {delta.shape}: expected (N, P, "
                         f"{', '.join(map(str, x.shape[1:]))}) with N = {len(x)}")
    n, p = delta.shape[:2]
    moved = x[:, None] + delta
    if reflect:
        if np.abs(delta).max(initial=0) > 1:
            raise InputError(f"radius={radius}: reflection into [0, 1] needs perturbations of "
                             "at most 1")
        moved = 1 - np.abs(1 - np.abs(moved))
    maps = np.asarray(explain(np.concatenate([x, moved.reshape(n * p, *x.shape[1:])])),
                      dtype=np.float64)
    if maps.shape[0] != n * (1 + p):
        raise InputError(f"explain returned {maps.shape[0]} maps for {n * (1 + p)} sequences")
    base = maps[:n].reshape(n, -1)
    moved = maps[n:].reshape(n, p, -1)
    norm = np.linalg.norm(base, axis=1)
    return (np.linalg.norm(moved - base[:, None], axis=2)
            / np.where(norm == 0, 1.0, norm)[:, None]).max(axis=1)


def _predict(work, rows: np.ndarray, index: np.ndarray, desc: str) -> np.ndarray:
    """The target of each row (sequence ``index[r]``'s extra inputs), through the engine."""
    return run_batches(lambda lo, hi: work.target.apply(work.model.predictor.forward(
        rows[lo:hi], context=work.model.rows(index[lo:hi]))).astype(np.float64),
        len(rows), work.batch_size, work.progress, desc)



def _maps(maps, shape: tuple, name: str) -> np.ndarray:
    maps = np.asarray(getattr(maps, "scores", maps), dtype=np.float64)
    if maps.shape != shape:
        raise InputError(f"{name} of shape {maps.shape}: expected {shape}, one map per sequence")
    return maps


def _position_scores(scores, shape: tuple) -> np.ndarray:
    if hasattr(scores, "position_importance"):
        scores = scores.position_importance()
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != shape[:2]:
        raise InputError(f"scores of shape {scores.shape}: expected position scores "
                         f"{shape[:2]} (one per position), an Attribution or 'random'")
    if not np.isfinite(scores).all():
        raise InputError("scores: NaN or infinite position scores")
    return scores


def _ranks(scores: np.ndarray) -> np.ndarray:
    """Rank of each position in its row, 0 for the highest score (ties by position)."""
    order = np.argsort(-scores, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(scores.shape[1])[None], axis=1)
    return ranks


def _fractions(fractions) -> np.ndarray:
    fractions = np.unique(np.asarray(fractions, dtype=np.float64))
    if fractions.ndim != 1 or len(fractions) < 2 or fractions[0] < 0 or fractions[-1] > 1:
        raise InputError(f"fractions={fractions.tolist()!r}: expected at least two values in "
                         "[0, 1]")
    return fractions


def _check_count(value, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InputError(f"{name}={value!r}: expected a positive integer")


def _fillers(x: np.ndarray, replace: str, reference, n_shuffles: int, seed: int) -> np.ndarray:
    """``(N, S, L, 4)``: what removed positions take, S shuffles or one reference."""
    n, length = x.shape[:2]
    if replace == "shuffle":
        if reference is not None:
            raise InputError("reference: given with replace='shuffle'; use replace='reference'")
        _check_count(n_shuffles, "n_shuffles")
        drawn = shuffled_backgrounds(x, n * n_shuffles, seed)
        return drawn.reshape(n_shuffles, n, length, 4).transpose(1, 0, 2, 3)
    if replace != "reference":
        raise InputError(f"replace={replace!r}: expected one of {', '.join(REPLACEMENTS)}")
    if reference is None:
        reference = np.full((length, 4), 0.25, dtype=np.float32)
    reference = np.asarray(reference, dtype=np.float32)
    if reference.shape not in ((length, 4), (n, length, 4)):
        raise InputError(f"reference of shape {reference.shape}: expected ({length}, 4) or "
                         f"({n}, {length}, 4)")
    return np.broadcast_to(reference, (n, length, 4))[:, None]
