"""Method agreement: do the attribution methods tell the same story about each sequence?"""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedOperation
from ..results import Finding
from .stats import row_spearman, summary

CHECK = "method_agreement"


def method_agreement(ctx, methods=("grad_x_input", "integrated_gradients", "deeplift",
                                         "deepshap", "ism"),
                     min_agreement: float = 0.3):
    """Per-sequence Spearman correlation of position importance between every pair of methods.

    Parameters
    ----------
    methods : sequence of str or callable
        Method names (see :data:`~kipoi_explain.METHODS`) or callables, as in
        :meth:`~kipoi_explain.diagnostics.context.Context.attribution`. A method the model does
        not support (DeepLIFT on an unsupported layer) is reported and left out.
    min_agreement : float
        Median correlation below which a pair of methods is flagged as disagreeing.
    """
    findings, maps = [], {}
    for method in methods:
        name = getattr(method, "__name__", method)
        try:
            maps[name] = ctx.attribution(method, name)
        except UnsupportedOperation as err:
            findings.append(Finding(CHECK, "info", None, None, {"method": name},
                                    f"compare the other methods; {name} does not apply here",
                                    f"{name} left out: {err}"))
    names = list(maps)
    size = len(names)
    median, q25, q75 = (np.full((size, size), np.nan) for _ in range(3))
    for i in range(size):
        for j in range(size):
            stats = summary(row_spearman(maps[names[i]], maps[names[j]]))
            median[i, j], q25[i, j], q75[i, j] = (np.nan if stats[k] is None else stats[k]
                                                   for k in ("median", "q25", "q75"))
    pairs = [(i, j) for i in range(size) for j in range(i + 1, size)]
    for i, j in pairs:
        value = median[i, j]
        flagged = np.isfinite(value) and value < min_agreement
        findings.append(Finding(
            CHECK, "warning" if flagged else "info", value, min_agreement,
            {"methods": [names[i], names[j]]},
            (f"{names[i]} and {names[j]} rank positions differently: do not rely on either "
             "alone; prefer ISM (a direct measurement) where it is affordable, and check the "
             "gradient_saturation findings") if flagged else "none needed",
            f"median per-sequence Spearman correlation of {names[i]} and {names[j]}: "
            f"{value:.2f} (IQR {q25[i, j]:.2f} to {q75[i, j]:.2f})"))
    if not pairs:
        findings.append(Finding(CHECK, "info", None, None, {"methods": names},
                                "give at least two methods that apply to this model",
                                "fewer than two methods ran: nothing to compare"))
    return findings, {"methods": names, "median": median, "q25": q25, "q75": q75}
