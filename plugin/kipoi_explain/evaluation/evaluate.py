"""``evaluate``: which explanation method explains this model best, measured.

Each method runs once through :func:`~kipoi_explain.explain` (and, for a gradient method, once
more with gradient correction); every metric is computed per sequence from those maps and
summarised as a mean with a bootstrap interval. See :mod:`kipoi_explain.evaluation.truth` for
the ground-truth metrics.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .. import layers
from ..diagnostics.stats import bootstrap_interval, row_spearman
from ..errors import InputError
from ..methods import GRADIENT_METHODS, explain, methods_for
from ..backends import load_model
from ..results import Evaluation
from ..sequences import as_sequences
from .faithfulness import (comprehensiveness, faithfulness_curves, infidelity,
                           max_sensitivity, sufficiency)
from .metrics import CORRECTED, RANDOM
from .simulate import NEGATIVE, POSITIVE, simulate
from .stability import reverse_complement_stability, seed_stability, shift_stability
from .truth import position_scores, row_aupr, row_auroc, row_cosine, truth_from_bed
from .verdict import verdict

DEFAULT_METHODS = ("saliency", "grad_x_input", "integrated_gradients", "deepshap", "ism")
#: Ground-truth metrics, higher is better.
TRUTH_METRICS = ("auroc", "aupr", "cosine")
#: Methods whose map is the local gradient, not a contribution: infidelity perturbs them with
#: plain noise (Captum's default), the others with noise times the input.
LOCAL_MAPS = ("saliency", "smoothgrad")
#: Points of the false-positive-rate (recall) grid the pooled ROC (PR) curves are kept at.
CURVE_POINTS = 101


def evaluate(model, seqs=None, methods=DEFAULT_METHODS, target=0, simulated: bool = False,
             n: int = 200, length: int | None = None, positive=POSITIVE, negative=NEGATIVE,
             n_motifs: tuple[int, int] = (3, 7), sites=None, uncorrected_only: bool = False,
             groups=("truth", "faithfulness", "infidelity", "sensitivity", "stability",
                     "randomization"), n_references: int = 20, n_steps: int = 50,
             n_boot: int = 1000, seed: int = 0,
             batch_size: int | None = None, progress: bool = False) -> Evaluation:
    """Benchmark explanation methods on a model, against ground truth where there is one.

    Parameters
    ----------
    model : Model or anything :func:`~kipoi_explain.load_model` accepts
    seqs : sequences, optional
        What the model is explained on (not with ``simulated``).
    methods : sequence of str
        Methods compared; each gradient method also runs with gradient correction (the mean
        over the four bases removed from the gradient) unless ``uncorrected_only``.
    target : int or str
        The output explained.
    simulated : bool
        Explain ``n`` simulated sequences with planted motifs (:func:`simulate`, with
        ``positive``, ``negative`` and ``n_motifs``; ``length`` defaults to the model's input
        length) and score the positives against where their positive-pool motifs are.
    sites : path, optional
        A BED of known sites in the coordinates of ``seqs`` (the genome for BED inputs, the
        record names for FASTA records): the ground truth for real sequences.
    groups : sequence of str
        The groups of metrics measured (each defined in
        :data:`~kipoi_explain.evaluation.metrics.METRICS`): ``truth`` (AUROC, AUPR, cosine;
        where there is a ground truth), ``faithfulness`` (deletion and insertion curves against
        a random ranking, comprehensiveness, sufficiency), ``infidelity``, ``sensitivity``
        (max-sensitivity), ``stability`` (reverse complement, shifts, reseeding),
        ``randomization`` (the model-randomization sanity check). A metric a method has no
        meaning for is left out, and ``settings["skipped"]`` says why.
    n_references, n_steps : int
        References of DeepSHAP and expected gradients; steps of integrated gradients.
    n_boot : int
        Bootstrap resamples of the sequences for each interval (95 %).
    seed : int
        Seed of the simulation, references and bootstrap.

    Returns
    -------
    Evaluation
    """
    model = load_model(model)
    if simulated and (seqs is not None or sites is not None):
        raise InputError("simulated: the sequences and their ground truth are simulated; "
                         "give no sequences or sites with it")
    if not simulated and seqs is None:
        raise InputError("evaluate needs sequences (seqs=...) or simulated=True")
    methods = list(dict.fromkeys([methods] if isinstance(methods, str) else methods))
    groups = [groups] if isinstance(groups, str) else list(groups)
    if not methods:
        raise InputError("methods: none given")
    known = methods_for(model)
    unknown = [m for m in methods if m not in known]
    if unknown:
        raise InputError(f"methods: {', '.join(map(repr, unknown))} unknown; expected some of "
                         f"{', '.join(known)}")
    unknown = sorted(set(groups) - set(GROUPS))
    if unknown:
        raise InputError(f"groups: {', '.join(unknown)} unknown; expected some of "
                         f"{', '.join(GROUPS)}")
    settings = {"methods": methods, "target": target, "uncorrected_only": uncorrected_only,
                "n_references": n_references, "n_steps": n_steps, "n_boot": n_boot,
                "seed": seed}
    truth = truth_map = None
    if simulated:
        sim = simulate(n, length or model.input_length, positive, negative, n_motifs,
                       seed=seed)
        keep = sim.labels == 1
        x, truth, truth_map = sim.x[keep], sim.truth[keep], sim.truth_map[keep]
        names, intervals = [f"sim{i}" for i in np.flatnonzero(keep)], None
        settings["simulation"] = sim.settings
    else:
        samples = as_sequences(seqs, length=model.input_length)
        x, names, intervals = samples.onehot, samples.names, samples.intervals
        if sites is not None:
            truth, truth_map = truth_from_bed(sites, names, intervals, x)
            settings["sites"] = str(sites)
    forward_s = _forward_seconds(model, x, batch_size)
    runs, cost = {}, {}
    for method in methods:
        for corrected in ((False, True) if not uncorrected_only and method in GRADIENT_METHODS
                          else (False,)):
            options = _options(method, n_references, n_steps, seed, corrected)
            started = time.perf_counter()
            runs[method + (CORRECTED if corrected else "")] = (
                explain(model, x, method, target=target, batch_size=batch_size,
                        progress=progress, **options), options)
            cost[method + (CORRECTED if corrected else "")] = \
                (time.perf_counter() - started) / forward_s
    settings["target_names"] = next(iter(runs.values()))[0].target["names"]
    per_sequence, curves, skipped = {}, {}, {}
    context = _Context(model, x, target, batch_size, progress, seed, per_sequence, curves,
                       skipped)
    if truth is not None and "truth" in groups:
        for label, (result, _) in runs.items():
            scores = position_scores(result.scores)
            per_sequence[f"{label}|auroc"] = row_auroc(scores, truth)
            per_sequence[f"{label}|aupr"] = row_aupr(scores, truth)
            per_sequence[f"{label}|cosine"] = row_cosine(_as_contributions(result), truth_map)
            curves[f"roc|{label}"], curves[f"pr|{label}"] = _pooled_curves(scores, truth)
    group_cost = {}
    for group in GROUPS[1:]:
        if group in groups:
            started = time.perf_counter()
            GROUP_RUNS[group](context, runs)
            group_cost[group] = (time.perf_counter() - started) / forward_s
    table = _summaries(per_sequence, n_boot, seed)
    return Evaluation(table=table, per_sequence=per_sequence, curves=curves, cost=cost,
                      verdict=verdict(table, cost), names=list(names),
                      settings={**settings, "groups": groups, "skipped": skipped,
                                "group_cost": group_cost,
                                "n_sequences": len(x), "has_truth": truth is not None,
                                "intervals": bool(intervals), "forward_seconds": forward_s},
                      model=model.describe())


@dataclass
class _Context:
    """What every group of metrics needs, and where it puts what it measures."""

    model: object
    x: np.ndarray
    target: object
    batch_size: int | None
    progress: bool
    seed: int
    per_sequence: dict
    curves: dict
    skipped: dict

    def explainer(self, method: str, options: dict):
        """``rows -> maps`` of the method with these options, on any rows."""
        return lambda rows, **extra: explain(self.model, rows, method, target=self.target,
                                             batch_size=self.batch_size,
                                             **{**options, **extra}).scores


def _faithfulness(ctx: _Context, runs: dict) -> None:
    """Deletion and insertion curves of each method's ranking (present-base importance, ISM's
    sign-flipped) and of a random ranking, with comprehensiveness and sufficiency."""
    rankings = {label: result for label, (result, _) in runs.items()}
    rankings[RANDOM] = "random"
    for label, ranking in rankings.items():
        found = faithfulness_curves(ctx.model, ctx.x, ranking, target=ctx.target,
                                    seed=ctx.seed, batch_size=ctx.batch_size)
        for kind, curve in found.items():
            ctx.per_sequence[f"{label}|{kind}"] = curve.auc
            ctx.curves[f"{kind}|{label}"] = curve.values.mean(axis=0)
            ctx.curves["fractions"] = curve.fractions
        ctx.per_sequence[f"{label}|comprehensiveness"] = comprehensiveness(found["deletion"])
        ctx.per_sequence[f"{label}|sufficiency"] = sufficiency(found["insertion"])


def _infidelity(ctx: _Context, runs: dict) -> None:
    """Infidelity with Captum's perturbations: plain noise for local maps (saliency,
    SmoothGrad), noise times the input for maps that factor the input in."""
    for label, (result, _) in runs.items():
        if result.method == "ism":
            ctx.skipped[f"{label}|infidelity"] = (
                "ISM's map is zero at the present base and measures substitutions, not a "
                "first-order change: infidelity does not apply")
            continue
        baseline = None if result.method in LOCAL_MAPS else 0
        ctx.per_sequence[f"{label}|infidelity"] = infidelity(
            ctx.model, ctx.x, result.scores, target=ctx.target, seed=ctx.seed,
            baseline=baseline, normalize=True, batch_size=ctx.batch_size)


def _sensitivity(ctx: _Context, runs: dict) -> None:
    for label, (result, options) in runs.items():
        try:
            ctx.per_sequence[f"{label}|max_sensitivity"] = max_sensitivity(
                ctx.explainer(result.method, options), ctx.x, seed=ctx.seed)
        except (InputError, ValueError) as err:
            # Methods drawing shuffled references cannot shuffle a perturbed, non-one-hot
            # input: said, not guessed.
            ctx.skipped[f"{label}|max_sensitivity"] = f"{type(err).__name__}: {err}"


def _stability(ctx: _Context, runs: dict) -> None:
    for label, (result, options) in runs.items():
        explainer = ctx.explainer(result.method, options)
        ctx.per_sequence[f"{label}|rc_stability"] = \
            reverse_complement_stability(explainer, ctx.x).values["pearson"]
        ctx.per_sequence[f"{label}|shift_stability"] = \
            shift_stability(explainer, ctx.x, seed=ctx.seed).values["pearson"]
        if "seed" in options or result.method in ("smoothgrad",):
            ctx.per_sequence[f"{label}|seed_stability"] = seed_stability(
                lambda rows, seed: explainer(rows, seed=seed), ctx.x,
                (ctx.seed, ctx.seed + 1)).values["pearson"]


def _randomization(ctx: _Context, runs: dict) -> None:
    """Adebayo et al. (2018), as ``diagnose``'s randomization_sanity measures it: the rank
    correlation of each sequence's absolute position importance with the same under a
    model whose every weighted layer is re-drawn."""
    weighted = ctx.model.require("layers", "randomization").weighted_layers()
    with layers.randomized(ctx.model, weighted, seed=ctx.seed):
        for label, (result, options) in runs.items():
            changed = explain(ctx.model, ctx.x, result.method, target=ctx.target,
                              batch_size=ctx.batch_size, **options)
            ctx.per_sequence[f"{label}|randomization"] = row_spearman(
                np.abs(result.position_importance()), np.abs(changed.position_importance()))


#: The groups of metrics after the ground truth's, in the order they run.
GROUP_RUNS = {"faithfulness": _faithfulness, "infidelity": _infidelity,
              "sensitivity": _sensitivity, "stability": _stability,
              "randomization": _randomization}
GROUPS = ("truth", *GROUP_RUNS)


def _as_contributions(result) -> np.ndarray:
    """The map the cosine compares with the ground truth: the method's own, but ISM's
    centred per position (each base's effect minus the mean effect of the four), as
    tangermeme and logos show it: the present base then scores what mutating it away costs,
    where ISM's raw map holds 0."""
    if result.method != "ism":
        return result.scores
    return result.scores - result.scores.mean(axis=-1, keepdims=True)


def _options(method: str, n_references: int, n_steps: int, seed: int, corrected: bool) -> dict:
    options = {"correct_gradients": True} if corrected else {}
    if method in ("deepshap", "expected_gradients"):
        options.update(n_references=n_references, seed=seed)
    elif method == "integrated_gradients":
        options["n_steps"] = n_steps
    return options


def _forward_seconds(model, x: np.ndarray, batch_size: int | None) -> float:
    """One batched forward pass over ``x``, best of two (the first may warm caches up)."""
    times = []
    for _ in range(2):
        started = time.perf_counter()
        model.predict(x, batch_size)
        times.append(time.perf_counter() - started)
    return max(min(times), 1e-9)


def _pooled_curves(scores: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ROC (true-positive rate on a false-positive-rate grid) and precision-recall (precision
    on a recall grid) of all positions of all sequences together."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    grid = np.linspace(0, 1, CURVE_POINTS)
    fpr, tpr, _ = roc_curve(truth.ravel(), scores.ravel())
    precision, recall, _ = precision_recall_curve(truth.ravel(), scores.ravel())
    # Interpolated precision: the best precision at this recall or more, as PR curves are read.
    best = np.maximum.accumulate(precision[::-1])[::-1]
    return np.interp(grid, fpr, tpr), np.interp(grid, recall[::-1], best[::-1])


def _summaries(per_sequence: dict, n_boot: int, seed: int) -> list[dict]:
    """One row per method and metric: mean over the sequences with a value, 95 % bootstrap
    interval, count."""
    rows = []
    for key, values in per_sequence.items():
        method, metric = key.split("|")
        finite = values[np.isfinite(values)]
        lo, hi = bootstrap_interval(lambda idx, v=finite: float(v[idx].mean()), len(finite),
                                    n_boot, seed=seed) if len(finite) else (np.nan, np.nan)
        rows.append({"method": method, "metric": metric,
                     "mean": float(finite.mean()) if len(finite) else float("nan"),
                     "lo": lo, "hi": hi, "n": int(len(finite))})
    return rows
