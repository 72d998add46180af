"""Redundancy: units that each look unimportant when ablated alone, but matter together.

The review's argument: dropout teaches a network to spread a feature over several units, so
knocking out one unit (unit ablation, Basset's filter-importance measure) leaves its copies to
carry the feature and understates the importance of all of them. Measured here as the
correlation of unit activations over the sequences, and, for each group of strongly correlated
units, the effect on the target of ablating each unit alone against ablating the group.
"""
from __future__ import annotations

import numpy as np

from ..engine import run_batches
from ..errors import UnsupportedOperation
from ..layers import ablated_predict, activations
from ..layers import check as check_layers
from ..results import Finding
from .stats import index_list

CHECK = "redundancy"


def redundancy(ctx, layers=None, min_correlation: float = 0.8, min_group_effect: float = 0.1,
               max_single_share: float = 0.5):
    """Correlated unit groups and their single-unit vs group ablation effects.

    Parameters
    ----------
    layers : list of str, optional
        Layers whose units are examined (default: the convolutions reading the one-hot input,
        else the first layer with weights).
    min_correlation : float
        Units whose activations (over every sequence and position) correlate at least this
        much are linked; linked units form a group.
    min_group_effect : float
        Mean absolute change of the target when the whole group is ablated, in standard
        deviations of the target over the sequences, above which the group matters.
    max_single_share : float
        A group that matters is flagged when its most important unit, ablated alone, changes
        the target by at most this share of the group's effect.

    Ablated units output their mean activation over the sequences.
    """
    model = ctx.model
    layers = list(layers) if layers is not None else _default_layers(model)
    check_layers(model, layers)
    values = ctx.target_values()
    scale = float(np.std(values)) or 1.0
    findings, measured = [], {}
    for layer in layers:
        mean, corr = _activation_correlation(ctx, layer)
        groups = _groups(corr, min_correlation)
        results = []
        for units in groups:
            single = [_effect(ctx, layer, [u], mean, values) / scale for u in units]
            together = _effect(ctx, layer, units, mean, values) / scale
            results.append({"units": units, "single_effects": single, "group_effect": together,
                            "ratio": max(single) / together if together > 0 else None})
        measured[layer] = {"correlation": corr, "groups": results, "scale": scale}
        findings += _findings(layer, corr, results, min_correlation, min_group_effect,
                              max_single_share)
    return findings, {"layers": measured}


def _default_layers(model) -> list[str]:
    try:
        convs = [layer.name for layer in model.require("filters", "redundancy").conv_layers()]
    except UnsupportedOperation:
        convs = []
    return convs or model.require("layers", "redundancy").weighted_layers()[:1]


def _activation_correlation(ctx, layer: str) -> tuple[np.ndarray, np.ndarray]:
    """Mean activation per unit and the units' correlation matrix, over sequences and
    positions, accumulated block by block."""
    totals = {}

    def block(lo, hi):
        a = activations(ctx.model, ctx.x[lo:hi], layer, ctx.batch_size)
        a = a.reshape(-1, a.shape[-1]).astype(np.float64)
        for key, value in (("n", len(a)), ("sum", a.sum(0)), ("outer", a.T @ a)):
            totals[key] = totals.get(key, 0) + value

    run_batches(block, len(ctx.x), ctx.batch_size)
    mean = totals["sum"] / totals["n"]
    cov = totals["outer"] / totals["n"] - np.outer(mean, mean)
    sd = np.sqrt(np.clip(np.diag(cov), 0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = np.where(np.outer(sd, sd) > 0, cov / np.outer(sd, sd), 0.0)
    np.fill_diagonal(corr, 1.0)
    return mean.astype(np.float32), corr


def _groups(corr: np.ndarray, min_correlation: float) -> list[list[int]]:
    """Connected components of two or more units linked by correlation >= the threshold."""
    from scipy.sparse.csgraph import connected_components

    _, label = connected_components(corr >= min_correlation, directed=False)
    groups = [np.flatnonzero(label == k).tolist() for k in np.unique(label)]
    return [g for g in groups if len(g) > 1]


def _effect(ctx, layer: str, units: list[int], mean: np.ndarray, values: np.ndarray) -> float:
    """Mean absolute change of the target when ``units`` output their mean activation."""
    keep = np.ones(len(mean), dtype=np.float32)
    keep[units] = 0
    ablated = ctx.target.apply(ablated_predict(ctx.model, ctx.x, layer, keep, mean,
                                               ctx.batch_size))
    return float(np.mean(np.abs(ablated - values)))


def _findings(layer, corr, results, min_correlation, min_effect, max_share) -> list[Finding]:
    findings = []
    for group in results:
        ratio, effect = group["ratio"], group["group_effect"]
        if effect >= min_effect and ratio is not None and ratio <= max_share:
            findings.append(Finding(
                CHECK, "warning", ratio, max_share, {"layer": layer, "units": group["units"]},
                f"ablation underestimates units {index_list(group['units'])}: ablate (or "
                "attribute to) them as a group; single-unit ablation rankings of this layer "
                "miss them",
                f"units {index_list(group['units'])} of {layer} correlate >= {min_correlation}; "
                f"ablated together they move the target {effect:.2f} SD, the most important "
                f"alone only {ratio:.0%} of that",
                {"single_effects": group["single_effects"], "group_effect": effect}))
    if not findings:
        off = corr[~np.eye(len(corr), dtype=bool)]
        top = float(off.max()) if off.size else 0.0
        findings.append(Finding(
            CHECK, "info", top, min_correlation, {"layer": layer, "units": []}, "none needed",
            f"{len(results)} group(s) of units of {layer} correlate >= {min_correlation}, none "
            f"hidden from single-unit ablation (largest correlation between two units "
            f"{top:.2f})", {"groups": len(results)}))
    return findings
