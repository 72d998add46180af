"""Model-randomization sanity check (Adebayo et al. 2018): does the explanation depend on what
the model learned?

Weights are re-drawn layer by layer from the output down (cascading randomization); an
attribution method whose maps barely change when the model no longer knows anything explains
the input, not the model.
"""
from __future__ import annotations

import numpy as np

from .. import layers
from ..errors import UnsupportedOperation
from ..results import Finding
from .context import position_importance
from .stats import row_spearman, summary

CHECK = "randomization_sanity"


def randomization_sanity(ctx, methods=("grad_x_input", "integrated_gradients", "deeplift",
                                              "deepshap"),
                         max_correlation: float = 0.5):
    """Rank correlation of each method's maps before and after cascading weight randomization.

    Parameters
    ----------
    methods : sequence of str or callable
        Method names or callables, as in
        :meth:`~kipoi_explain.diagnostics.context.Context.attribution`. (Saliency is left out of
        the defaults: on one-hot input its position importance is grad x input's.)
    max_correlation : float
        Median Spearman correlation (of absolute position importance, per sequence) with the
        original map, once every layer is randomized, above which a method is flagged.
    """
    model, x = ctx.model, ctx.x_attribution
    weighted = model.require("layers", "randomization sanity").weighted_layers()[::-1]
    findings, curves = [], {}
    for method in methods:
        name = getattr(method, "__name__", method)
        try:
            original = np.abs(ctx.attribution(method, name))
        except UnsupportedOperation as err:
            findings.append(Finding(CHECK, "info", None, None, {"method": name},
                                    f"check the other methods; {name} does not apply here",
                                    f"{name} left out: {err}"))
            continue
        steps = []
        for depth in range(1, len(weighted) + 1):
            with layers.randomized(model, weighted[:depth], seed=ctx.seed):
                changed = np.abs(position_importance(model, x, ctx.target, method,
                                                     ctx.batch_size, ctx.seed))
            steps.append(summary(row_spearman(original, changed)))
        curves[name] = {key: [step[key] for step in steps] for key in ("median", "q25", "q75")}
        final = steps[-1]["median"] if steps else None
        flagged = final is not None and final > max_correlation
        findings.append(Finding(
            CHECK, "warning" if flagged else "info", final, max_correlation,
            {"method": name, "layers": weighted},
            (f"{name} maps barely change when every weight is random: they show the input, "
             "not what the model learned; do not use this method's maps for this model")
            if flagged else "none needed",
            f"median rank correlation of {name} with its map under a fully randomized model: "
            f"{final if final is not None else float('nan'):.2f}",
            {"median_by_depth": dict(zip(weighted, curves[name]["median"]))}))
    return findings, {"layers": weighted, "methods": curves}
