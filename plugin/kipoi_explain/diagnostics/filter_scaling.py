"""Filter scaling: first-layer filters whose weight-derived PWM shows their scale, not their bases.

The review's argument: a PWM read from a filter as a softmax of its weights assumes the weights
are log-odds, but training leaves their scale free. A filter with large weights gives a
saturated softmax (columns near one-hot) whatever its base preference; one with small weights
gives a flat one. Activation-based PWMs do not depend on the scale.
"""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedOperation
from ..motif.filters import saturation as pfm_saturation, weight_pfms
from ..results import Finding

CHECK = "filter_scaling"


def filter_scaling(ctx, max_saturation: float = 0.5, max_norm_z: float = 5.0):
    """Per-filter weight norm and saturation of the weight-derived PFM, for each convolution
    reading the one-hot input.

    Parameters
    ----------
    max_saturation : float
        Share of a weight-derived PFM's entries within 1 % of 0 or 1 above which its shape
        reflects the weights' scale (half the entries: most columns are near one-hot).
    max_norm_z : float
        Robust z-score (median / MAD of the layer's filters) of a filter's weight norm above
        which the filter's scale is an outlier among its layer.
    """
    try:
        layers = ctx.model.require("filters", "filter scaling").conv_layers()
    except UnsupportedOperation as err:
        layers, reason = [], str(err)
    else:
        reason = "no convolution reads the one-hot input"
    if not layers:
        return [Finding(CHECK, "info", None, None, {}, "none needed",
                        f"not applicable: {reason}")], {}
    findings, measured = [], {}
    for layer in layers:
        saturation = pfm_saturation(weight_pfms(layer))
        norm = np.sqrt((layer.weights ** 2).sum(axis=(1, 2)))
        mad = 1.4826 * np.median(np.abs(norm - np.median(norm)))
        norm_z = (norm - np.median(norm)) / mad if mad > 0 else np.zeros_like(norm)
        flagged = np.flatnonzero((saturation > max_saturation) | (norm_z > max_norm_z))
        measured[layer.name] = {"weight_norm": norm, "saturation": saturation, "norm_z": norm_z,
                                "flagged": flagged}
        where = {"layer": layer.name, "filters": flagged}
        details = {"median_weight_norm": float(np.median(norm))}
        if len(flagged):
            worst = flagged[np.argmax(saturation[flagged])]
            details.update({"saturation": saturation[flagged], "weight_norm": norm[flagged],
                            "norm_z": norm_z[flagged]})
            findings.append(Finding(
                CHECK, "warning", float(saturation[worst]), max_saturation, where,
                f"read these filters with activation-based PWMs (kipoi_explain.motifs(model, "
                f"seqs, method='activation')), not weight-derived ones; their weight PWMs "
                f"reflect the weights' scale (norms up to {norm[flagged].max():.3g} against a "
                f"median of {np.median(norm):.3g})",
                f"{len(flagged)} of {len(norm)} filters of {layer.name} have a weight-derived "
                "PWM dominated by scale (saturated softmax or outlying weight norm; largest "
                f"saturation {saturation[worst]:.2f})", details))
        else:
            findings.append(Finding(
                CHECK, "info", float(saturation.max()), max_saturation, where,
                "none needed; activation-based PWMs remain the safer reading",
                f"no filter of {layer.name} has a saturated weight-derived PWM (largest "
                f"saturation {saturation.max():.2f}, largest norm z-score {norm_z.max():.1f})",
                details))
    return findings, {"layers": measured}
