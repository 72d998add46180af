"""Every metric an evaluation reports: which way is better, and its definition, stated once for
the verdict, the report and the documentation."""
from __future__ import annotations

from dataclasses import dataclass

#: Suffix of a method's label when it ran with gradient correction (Majdandzic, Rajesh & Koo
#: 2023: the mean over the four bases removed from the gradient).
CORRECTED = "+corrected"
#: The label of the random ranking, the floor of the faithfulness metrics.
RANDOM = "random"


@dataclass(frozen=True)
class MetricInfo:
    """A metric's title, whether higher values are better, and how it is computed."""

    title: str
    higher_is_better: bool
    definition: str


METRICS = {
    "auroc": MetricInfo(
        "AUROC", True,
        "Per sequence, the area under the ROC curve of the position score (L2 norm of the map "
        "over the four bases) against the ground-truth positions; mean over sequences."),
    "aupr": MetricInfo(
        "AUPR", True,
        "Per sequence, the average precision of the position score against the ground-truth "
        "positions (precision at each true position in order of decreasing score, averaged); "
        "mean over sequences."),
    "cosine": MetricInfo(
        "cosine", True,
        "Per sequence, the cosine similarity of the (L, 4) map with the ground-truth map (each "
        "planted motif column as its logo draws it: frequency x information content; for "
        "given sites, the present bases); ISM's map is centred per position first (each "
        "base's effect minus the mean of the four); mean over sequences."),
    "deletion": MetricInfo(
        "deletion AUC", False,
        "Per sequence, positions are ranked by the method's importance of the present base "
        "(ISM: the mean effect of mutating it away) and a growing fraction (0, 1 %, 5 %, 10 %, "
        "20 %, ..., 100 %) of the top-ranked ones is replaced by the bases of 5 dinucleotide "
        "shuffles of the sequence; the target is averaged over the shuffles and the area "
        "under the curve (trapezoid, divided by the span of the fractions: the mean target "
        "along the curve) is reported. A faithful ranking falls fast: lower is better. The "
        "row 'random' is a seeded random ranking, the floor."),
    "insertion": MetricInfo(
        "insertion AUC", True,
        "As deletion, the other way: starting from the shuffles, the top-ranked fraction of "
        "the original bases is put back; higher is better."),
    "comprehensiveness": MetricInfo(
        "comprehensiveness", True,
        "ERASER (DeYoung et al. 2020): f(x) - f(x with the top-k % positions replaced), "
        "averaged over k = 1, 5, 10, 20, 50 %, read off the deletion curve."),
    "sufficiency": MetricInfo(
        "sufficiency", False,
        "ERASER: f(x) - f(only the top-k % positions kept, the rest shuffled), averaged over "
        "k = 1, 5, 10, 20, 50 %, read off the insertion curve; lower is better."),
    "infidelity": MetricInfo(
        "infidelity", False,
        "Yeh et al. (2019), as Captum's infidelity with normalize=True: the mean over 10 "
        "Gaussian perturbations I (sd 0.1) of (beta * sum(I * phi) - (f(x) - f(x - D)))^2, "
        "D = I for local maps (saliency, SmoothGrad), D = I * x for maps that factor the "
        "input in; beta rescales the map to its best fit. Not defined for ISM."),
    "max_sensitivity": MetricInfo(
        "max-sensitivity", False,
        "Yeh et al. (2019), as Captum's sensitivity_max: the largest relative change "
        "||phi(x') - phi(x)|| / ||phi(x)|| over 10 inputs x' drawn uniformly within 0.02 of x "
        "(L-infinity, reflected into [0, 1]). Methods drawing shuffled references cannot "
        "shuffle such inputs and are left out, by name."),
    "rc_stability": MetricInfo(
        "reverse-complement stability", True,
        "Per sequence, the Pearson correlation of the position scores (L2 norm over the bases) "
        "of the map of x with the map of its reverse complement mapped back."),
    "shift_stability": MetricInfo(
        "shift stability", True,
        "Per sequence, the Pearson correlation of the position scores of the map of x with "
        "the maps of x shifted by -3, -1, 1 and 3 bases (the gap filled with seeded random "
        "bases), on the positions both cover, averaged over the shifts."),
    "seed_stability": MetricInfo(
        "seed stability", True,
        "Per sequence, the Pearson correlation of the position scores of two runs of a "
        "method that draws references or noise, with two seeds; deterministic methods are "
        "not listed (they give 1)."),
    "randomization": MetricInfo(
        "randomization correlation", False,
        "The model-randomization sanity check (Adebayo et al. 2018; diagnose's "
        "randomization_sanity): per sequence, the Spearman correlation of the absolute "
        "position importance with that under a model whose every weighted layer is re-drawn. "
        "Maps that barely change explain the input, not the model: lower is better."),
}
