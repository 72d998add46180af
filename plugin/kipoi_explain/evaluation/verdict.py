"""One verdict from an evaluation's table: methods ranked per metric and overall, the methods to
trust, what the others lose, and what gradient correction changes."""
from __future__ import annotations

import numpy as np

from .metrics import CORRECTED, METRICS, RANDOM


def ranks(table: list[dict]) -> dict[str, list[str]]:
    """Per metric, the methods best first (rows with a mean only)."""
    by_metric: dict[str, list[dict]] = {}
    for row in table:
        if np.isfinite(row["mean"]):
            by_metric.setdefault(row["metric"], []).append(row)
    return {metric: [row["method"] for row in sorted(
        rows, key=lambda r: -r["mean"] if METRICS[metric].higher_is_better else r["mean"])]
        for metric, rows in by_metric.items()}


def verdict(table: list[dict], cost: dict[str, float]) -> dict:
    """Methods ranked overall (mean rank over the metrics), the ones to trust, and a sentence.

    A method is trusted when, on the leading metric (the first of AUROC, or the first metric
    measured when there is no ground truth), its interval overlaps the best method's.
    ``gradient_correction`` holds, per gradient method, the change of each metric's mean.
    """
    ranked = ranks(table)
    if not ranked:
        return {"ranked": [], "trust": [], "text": "no metric could be computed",
                "gradient_correction": {}, "per_metric": {}}
    # The random ranking is the floor of the tables, not a method to trust.
    methods = sorted({m for order in ranked.values() for m in order} - {RANDOM})
    mean_rank = {m: float(np.mean([order.index(m) + 1 for order in ranked.values()
                                   if m in order])) for m in methods}
    overall = sorted(methods, key=lambda m: (mean_rank[m], cost.get(m, np.inf)))
    lead = "auroc" if "auroc" in ranked else next(iter(ranked))
    rows = {row["method"]: row for row in table if row["metric"] == lead}
    better = METRICS[lead].higher_is_better
    order = [m for m in ranked[lead] if m != RANDOM]
    best = rows[order[0]]
    trust = [m for m in order
             if (rows[m]["hi"] >= best["lo"] if better else rows[m]["lo"] <= best["hi"])]
    correction = _correction(table)
    return {"ranked": overall, "mean_rank": mean_rank, "per_metric": ranked, "lead": lead,
            "trust": trust, "gradient_correction": correction,
            "text": _sentence(trust, order, rows, lead, correction)}


def _correction(table: list[dict]) -> dict[str, dict[str, float]]:
    means = {(row["method"], row["metric"]): row["mean"] for row in table}
    return {method[:-len(CORRECTED)]: {
        metric: means[(method, metric)] - means[(method[:-len(CORRECTED)], metric)]
        for (m, metric) in means if m == method and (method[:-len(CORRECTED)], metric) in means}
        for method in {m for m, _ in means if m.endswith(CORRECTED)}}


def _sentence(trust: list[str], order: list[str], rows: dict, lead: str,
              correction: dict) -> str:
    title = METRICS[lead].title
    best = rows[order[0]]["mean"]
    parts = [f"for this model and these sequences, trust {_names(trust)}"]
    others = [m for m in order if m not in trust]
    if others:
        worst = others[-1]
        gap = abs(best - rows[worst]["mean"])
        points = f"{100 * gap:.1f} points" if lead in ("auroc", "aupr", "cosine") \
            else f"{gap:.3g}"
        parts.append(f"{worst} loses {points} of {title} to {order[0]}")
    for method, change in sorted(correction.items()):
        if lead in change:
            delta = change[lead]
            if abs(delta) < (5e-4 if lead in ("auroc", "aupr", "cosine") else 1e-12):
                parts.append(f"gradient correction leaves {method}'s {title} as it is (within "
                             "0.05 points)")
                continue
            word = "helps" if (delta > 0) == METRICS[lead].higher_is_better else "hurts"
            amount = f"{100 * abs(delta):.1f} points" if lead in ("auroc", "aupr", "cosine") \
                else f"{abs(delta):.3g}"
            parts.append(f"gradient correction {word} {method} by {amount} of {title}")
    return "; ".join(parts)


def _names(methods: list[str]) -> str:
    return methods[0] if len(methods) == 1 else ", ".join(methods[:-1]) + " and " + methods[-1]
