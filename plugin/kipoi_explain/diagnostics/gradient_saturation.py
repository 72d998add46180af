"""Vanishing and saturated gradients: where a gradient map understates what the model uses.

The review's argument: ReLUs that never fire pass no gradient, and saturating units (sigmoid,
tanh) pass almost none, so a feature the model relies on can get a near-zero gradient. Measured
here as (1) dead and saturated units per nonlinear layer, (2) the gradient's norm at each layer
from the output back to the input, (3) how much of ``f(x) - f(reference)`` the first-order
term ``grad . (x - reference)`` accounts for, and (4) whether the gradient's prediction of
each mutation's effect ranks positions as in-silico mutagenesis does.
"""
from __future__ import annotations

import numpy as np

from .. import layers
from ..engine import run_batches
from ..methods.gradients import input_gradient
from ..results import Finding
from ..sequences.shuffles import dinucleotide_shuffles
from .context import position_importance
from .stats import index_list, row_spearman, summary

CHECK = "gradient_saturation"

#: A unit is saturated where its derivative is below this share of the derivative's maximum.
FLAT_DERIVATIVE = 0.04

REMEDY = ("use integrated gradients, DeepLIFT/DeepSHAP or ISM for this model, which measure "
          "differences instead of local slopes")


def gradient_saturation(ctx, max_dead_share: float = 0.5, max_saturated_share: float = 0.5,
                        max_gradient_decay: float = 1e-3, min_coverage: float = 0.1,
                        max_understated_share: float = 0.5, min_ism_agreement: float = 0.2):
    """Dead/saturated units, layer gradient norms, first-order coverage and ISM agreement.

    Parameters
    ----------
    max_dead_share : float
        Share of a ReLU layer's units that never fire, over every sequence and position, above
        which the layer is flagged.
    max_saturated_share : float
        Share of a sigmoid/tanh layer's outputs in the flat part of the curve (derivative below
        4 % of its maximum) above which the layer is flagged.
    max_gradient_decay : float
        A layer (or the input) whose median gradient norm is below this fraction of the largest
        layer's has vanishing gradients.
    min_coverage : float
        A sequence's gradients understate its prediction when ``grad . (x - ref)`` accounts for
        less than this share of ``f(x) - f(ref)`` (``ref``: a dinucleotide shuffle).
    max_understated_share : float
        Share of sequences with understated gradients above which the model is flagged.
    min_ism_agreement : float
        Median Spearman correlation, over positions, between the gradient's first-order
        prediction of mutation effects and ISM, below which gradients are flagged.
    """
    findings, measured = [], {}
    units = _unit_states(ctx)
    measured["nonlinearities"] = units
    findings += _unit_findings(units, max_dead_share, max_saturated_share)
    # A saturated output nonlinearity is reported above; the rest is measured on its input
    # (the logits), so that it describes the network rather than the confidence of its outputs.
    with layers.logits(ctx.model):
        grad = input_gradient(ctx.model, ctx.x_attribution, ctx.target, ctx.batch_size)
        norms = _gradient_norms(ctx, grad)
        coverage, gap = _coverage(ctx, grad)
        agreement = _ism_agreement(ctx, grad)
    measured["on_logits"] = layers.output_activation(ctx.model) is not None
    measured["gradient_norms"] = norms
    measured["coverage"], measured["completeness_gap"] = coverage, gap
    measured["ism_agreement"] = agreement
    measured_on = [_decay_finding(norms, max_gradient_decay),
                   _coverage_finding(coverage, min_coverage, max_understated_share),
                   _agreement_finding(agreement, min_ism_agreement)]
    if measured["on_logits"]:
        for finding in measured_on:
            finding.message += " (on the logits)"
    return findings + measured_on, measured


def _unit_states(ctx) -> dict:
    """Per nonlinear layer: share of dead units (ReLU) or of saturated outputs (sigmoid, tanh)."""
    model, states = ctx.model, {}
    output = layers.output_activation(model)
    for name, kind in model.layers.nonlinearities().items():
        if kind not in ("relu", "sigmoid", "tanh"):
            states[name] = {"kind": kind, "output_layer": name == output}
            continue

        def block(lo, hi, name=name, kind=kind):
            a = layers.activations(model, ctx.x[lo:hi], name, ctx.batch_size)
            a = a.reshape(len(a), -1, a.shape[-1])
            if kind == "relu":
                return (a > 0).any(axis=1), np.zeros(len(a))
            slope = a * (1 - a) / 0.25 if kind == "sigmoid" else 1 - a ** 2
            flat = (slope < FLAT_DERIVATIVE).mean(axis=(1, 2))
            return np.zeros((len(a), a.shape[-1]), bool), flat

        fired, flat = run_batches(block, len(ctx.x), ctx.batch_size)
        state = {"kind": kind, "output_layer": name == output, "n_units": int(fired.shape[1])}
        if kind == "relu":
            state["dead_units"] = np.flatnonzero(~fired.any(axis=0))
            state["dead_share"] = len(state["dead_units"]) / fired.shape[1]
        else:
            state["saturated_share"] = float(flat.mean())
        states[name] = state
    return states


def _unit_findings(units: dict, max_dead: float, max_saturated: float) -> list[Finding]:
    findings = []
    for name, state in units.items():
        if "dead_share" in state:
            share, dead = state["dead_share"], state["dead_units"]
            flagged = share > max_dead
            findings.append(Finding(
                CHECK, "warning" if flagged else "info", share, max_dead,
                {"layer": name, "units": dead},
                (f"units {index_list(dead)} pass no gradient on these sequences: attributions "
                 f"cannot see what reaches them; {REMEDY}") if flagged else "none needed",
                f"{len(dead)} of {state['n_units']} units of {name} ({state['kind']}, "
                f"{share:.0%}) never fire on these sequences"))
        elif "saturated_share" in state:
            share = state["saturated_share"]
            flagged = share > max_saturated
            if state["output_layer"]:
                severity = "info"
                advice = ("explain the output before its final nonlinearity (the logit): the "
                          "saturated output scales every gradient of confident predictions "
                          "towards 0" if flagged else "none needed")
            else:
                severity = "warning" if flagged else "info"
                advice = (f"{name} is saturated: gradients through it vanish; {REMEDY}"
                          if flagged else "none needed")
            findings.append(Finding(
                CHECK, severity, share, max_saturated, {"layer": name},
                advice, f"{share:.0%} of the outputs of {name} ({state['kind']}"
                f"{', the model output' if state['output_layer'] else ''}) sit on the flat "
                "part of the curve"))
    return findings


def _gradient_norms(ctx, grad: np.ndarray) -> dict:
    """Median gradient norm of the target at the input and at each weighted layer's output."""
    model, x = ctx.model, ctx.x_attribution
    weighted = model.layers.weighted_layers()
    per_layer = layers.gradient_norms(model, x, weighted, ctx.target, ctx.batch_size)
    at_input = np.linalg.norm(grad.reshape(len(x), -1), axis=1)
    norms = np.column_stack([at_input, per_layer])
    return {"layers": ["input", *weighted], "median": np.median(norms, axis=0)}


def _decay_finding(norms: dict, max_decay: float) -> Finding:
    median = np.asarray(norms["median"], dtype=np.float64)
    ratio = median / median.max() if median.max() > 0 else np.zeros_like(median)
    vanished = np.flatnonzero(ratio < max_decay)
    names = [norms["layers"][i] for i in vanished]
    flagged = len(vanished) > 0
    return Finding(
        CHECK, "warning" if flagged else "info", float(ratio.min()), max_decay,
        {"layer": names[0] if flagged else None, "layers": names},
        (f"gradients vanish at {', '.join(names)}: gradient maps there are mostly 0 whatever "
         f"the input; {REMEDY}") if flagged else "none needed",
        "smallest median gradient norm along the network is "
        f"{ratio.min():.2g} of the largest ({norms['layers'][int(np.argmin(ratio))]})",
        {"median_norm": dict(zip(norms["layers"], median))})


def _coverage(ctx, grad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per sequence, ``grad . (x - ref) / (f(x) - f(ref))`` and the gap between the two.

    Sequences whose reference barely changes the prediction (less than 1 % of the target's
    spread over the sequences) have no meaningful ratio: NaN.
    """
    model, x = ctx.model, ctx.x_attribution
    ref = dinucleotide_shuffles(x, 1, ctx.seed)[:, 0]
    values = ctx.target.apply(model.predict(x, ctx.batch_size))
    change = values - ctx.target.apply(model.predict(ref, ctx.batch_size))
    first_order = (grad * (x - ref)).sum(axis=(1, 2))
    spread = np.std(values)
    with np.errstate(divide="ignore", invalid="ignore"):
        coverage = np.where(np.abs(change) > 0.01 * spread, first_order / change, np.nan)
    return coverage, first_order - change


def _coverage_finding(coverage: np.ndarray, min_coverage: float, max_share: float) -> Finding:
    valid = np.isfinite(coverage)
    understated = np.flatnonzero(valid & (coverage < min_coverage))
    share = len(understated) / valid.sum() if valid.any() else 0.0
    flagged = share > max_share
    return Finding(
        CHECK, "warning" if flagged else "info", share, max_share,
        {"sequences": understated},
        (f"on {share:.0%} of the sequences the gradient accounts for less than "
         f"{min_coverage:.0%} of the prediction's change; {REMEDY}") if flagged else "none needed",
        f"the gradient accounts for less than {min_coverage:.0%} of f(x) - f(shuffled x) on "
        f"{share:.0%} of the sequences ({len(understated)} of {int(valid.sum())}; median "
        f"first-order coverage "
        f"{summary(coverage)['median'] if valid.any() else float('nan'):.2f})",
        {"coverage": summary(coverage), "understated_sequences": len(understated),
         "scored_sequences": int(valid.sum())})


def _ism_agreement(ctx, grad: np.ndarray) -> np.ndarray:
    """Per sequence, Spearman correlation of the gradient's first-order mutation effects with
    ISM's, over positions."""
    x = ctx.x_attribution
    # grad[b] - grad[present base]: the first-order change when the position mutates to b.
    taylor = grad - (grad * x).sum(axis=-1, keepdims=True)
    ism = position_importance(ctx.model, x, ctx.target, "ism", ctx.batch_size)
    return row_spearman(-taylor.sum(axis=-1), ism)


def _agreement_finding(agreement: np.ndarray, min_agreement: float) -> Finding:
    stats = summary(agreement)
    median = stats["median"] if stats["median"] is not None else float("nan")
    flagged = stats["n"] > 0 and median < min_agreement
    worst = np.flatnonzero(np.nan_to_num(agreement, nan=-1) < min_agreement)
    return Finding(
        CHECK, "warning" if flagged else "info", median, min_agreement,
        {"sequences": worst},
        (f"gradients rank positions unlike ISM (median Spearman {median:.2f}); {REMEDY}")
        if flagged else "none needed",
        f"median rank agreement of first-order gradient effects with ISM: {median:.2f}",
        {"agreement": stats})
