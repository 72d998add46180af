"""constraint_cost: what a biological constraint costs a model in accuracy.

Models made transparent by construction (first-layer filters fixed to known PWMs, units tied to
genes or pathways) are easier to read, but the founding review notes they can fit the data worse
than a free model with the same outputs. Their explanations then describe a less accurate model.
This check measures the gap on labelled sequences, per output, with a paired bootstrap interval.
"""
from __future__ import annotations

import numpy as np

from ..backends import load_model
from ..errors import InputError
from ..model import Model
from ..results import Finding
from .stats import auroc, bootstrap_interval

CHECK = "constraint_cost"

#: Floor of log(p) in the cross-entropy, as torch.nn.functional.binary_cross_entropy clamps it,
#: so a confident wrong prediction costs 100 nats instead of infinity.
LOG_FLOOR = -100.0


def constraint_cost(ctx, free_model=None, labels=None, n_boot: int = 1000, level: float = 0.95,
                    max_drop: float = 0.01):
    """Compare the constrained model's accuracy with a free model's on labelled sequences.

    Per labelled output: AUROC for 0/1 labels, else Pearson r, and a loss (binary cross-entropy
    for 0/1 labels, else mean squared error), for both models, and the constrained minus free
    difference of each with a paired percentile bootstrap interval over sequences.

    Parameters
    ----------
    ctx : Context
        ``ctx.model`` is the constrained model; ``ctx.x`` the labelled sequences.
    free_model : Model or anything :func:`~kipoi_explain.load_model` accepts, optional
        The unconstrained model, with the same input length and outputs.
    labels : numpy.ndarray or dict, optional
        True values ``(N, T)`` aligned with the sequences and the outputs (``(N,)`` for a
        one-output model), or a mapping of output name to ``(N,)`` values for some outputs.
        NaN marks a missing label; those sequences are left out for that output.
    n_boot : int
        Bootstrap resamples.
    level : float
        Coverage of the bootstrap intervals.
    max_drop : float
        Metric loss the constrained model may have before it is flagged (when significant).

    Returns
    -------
    (list of Finding, dict)
        One finding per labelled output (``warning`` when the constrained model's metric is
        lower by more than ``max_drop`` and the interval of the difference lies below 0).
        Measurements ``{"outputs": {name: {...}}}`` with ``metric`` ("auroc" or "pearson"),
        ``constrained``, ``free``, ``difference``, ``interval``, ``loss`` ("bce" or "mse"),
        ``loss_constrained``, ``loss_free``, ``loss_difference``, ``loss_interval``, ``n``
        (sequences with a label) and ``scale`` (per model, whether the cross-entropy read its
        predictions as "probability" or "logit"; None for squared error). For a binned
        ``(B, T)`` output, an output's value per sequence is its bins combined as the
        diagnosed target's ``reduce`` says.
    """
    if free_model is None or labels is None:
        return [Finding(CHECK, "info", None, None, {},
                        "to measure what the constraint costs, give free_model= (the same "
                        "outputs without the constraint) and labels= for these sequences",
                        "not applicable: needs a free model and labels")], {}
    free = load_model(free_model)
    check_compatible(ctx.model, free)
    columns = labels_by_output(labels, ctx.model.output_names, len(ctx.x))
    constrained_pred = ctx.model.predict(ctx.x, ctx.batch_size)
    free_pred = free.predict(ctx.x, ctx.batch_size)
    findings, outputs = [], {}
    for name, y in columns.items():
        index = ctx.model.output_names.index(name)
        output = ctx.model.target(index, ctx.target.reduce)
        outputs[name] = compare(y, output.apply(constrained_pred), output.apply(free_pred),
                                n_boot, level, ctx.seed)
        findings.append(_finding(name, index, outputs[name], max_drop, level))
    return findings, {"outputs": outputs}


def check_compatible(constrained: Model, free: Model) -> None:
    """Raise InputError unless both models take the same input and have the same outputs."""
    differences = [
        f"{what}: constrained {a!r}, free {b!r}"
        for what, a, b in (("input length", constrained.input_length, free.input_length),
                           ("output names", list(constrained.output_names),
                            list(free.output_names)),
                           ("output shape", constrained.output_shape, free.output_shape))
        if a != b]
    if differences:
        raise InputError("free_model must take the same input and have the same outputs as the "
                         "constrained model; " + "; ".join(differences))


def labels_by_output(labels, output_names, n_sequences: int) -> dict[str, np.ndarray]:
    """Validate labels and return ``{output name: (N,) float64}`` in output order.

    Raises
    ------
    InputError
        For an unknown output name, a shape or count that does not fit, or a value that is
        neither a finite number nor NaN.
    """
    output_names = list(output_names)
    if isinstance(labels, dict):
        unknown = [str(k) for k in labels if k not in output_names]
        if unknown:
            raise InputError(f"labels for {', '.join(map(repr, unknown))}: no output of that "
                             f"name; outputs are {', '.join(output_names)}")
        if not labels:
            raise InputError("labels: empty mapping; expected output name -> (N,) values")
        columns = {name: _numeric(labels[name], f"labels[{name!r}]")
                   for name in output_names if name in labels}
        bad = {name: values.shape for name, values in columns.items() if values.ndim != 1}
        if bad:
            raise InputError(f"labels for {', '.join(map(repr, bad))}: shape "
                             f"{', '.join(map(str, bad.values()))}; expected (N,) per output")
    else:
        array = _numeric(labels, "labels")
        if array.ndim == 1 and len(output_names) == 1:
            array = array[:, None]
        if array.ndim != 2 or array.shape[1] != len(output_names):
            raise InputError(f"labels of shape {array.shape}: expected (N, {len(output_names)}), "
                             f"one column per output ({', '.join(output_names)}), or a mapping "
                             "of output name to (N,) values")
        columns = {name: array[:, i] for i, name in enumerate(output_names)}
    for name, values in columns.items():
        if len(values) != n_sequences:
            raise InputError(f"labels for {name!r}: {len(values)} rows; there are {n_sequences} "
                             "sequences (one label per sequence, in order)")
        infinite = np.flatnonzero(np.isinf(values))
        if len(infinite):
            raise InputError(f"labels for {name!r}, row {infinite[0]}: {values[infinite[0]]}; "
                             "expected a finite number, or NaN for missing")
    return columns


def _numeric(values, what: str) -> np.ndarray:
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise InputError(f"{what}: expected numbers (NaN for missing): {error}") from None


def compare(y: np.ndarray, constrained: np.ndarray, free: np.ndarray, n_boot: int,
            level: float, seed: int) -> dict:
    """Metric and loss of both models on one output, and their paired bootstrap differences.

    Rows with a NaN label are left out. Both intervals resample the same rows for both models
    (the same seed gives the same draws), so what the sequences share cancels out.
    """
    keep = ~np.isnan(y)
    y = y[keep]
    constrained = np.asarray(constrained, dtype=np.float64)[keep]
    free = np.asarray(free, dtype=np.float64)[keep]
    binary = bool(np.isin(y, (0.0, 1.0)).all())
    metric = auroc if binary else pearson
    loss_c, scale_c = row_loss(y, constrained, binary)
    loss_f, scale_f = row_loss(y, free, binary)
    n = len(y)
    metric_c, metric_f = (metric(y, constrained), metric(y, free)) if n else (np.nan, np.nan)
    difference = metric_c - metric_f
    loss_delta = loss_c - loss_f
    if np.isfinite(difference):
        interval = bootstrap_interval(_metric_difference(y, constrained, free, binary), n,
                                      n_boot, level, seed)
        loss_interval = bootstrap_interval(lambda i: loss_delta[i].mean(), n, n_boot, level,
                                           seed)
    else:
        interval = loss_interval = (np.nan, np.nan)
    return {"metric": "auroc" if binary else "pearson", "constrained": metric_c,
            "free": metric_f, "difference": difference, "interval": list(interval),
            "loss": "bce" if binary else "mse",
            "loss_constrained": float(loss_c.mean()) if n else np.nan,
            "loss_free": float(loss_f.mean()) if n else np.nan,
            "loss_difference": float(loss_delta.mean()) if n else np.nan,
            "loss_interval": list(loss_interval), "n": n,
            "scale": {"constrained": scale_c, "free": scale_f} if binary else None}


def _metric_difference(y: np.ndarray, constrained: np.ndarray, free: np.ndarray,
                       binary: bool):
    """The metric difference on resampled rows, as a function of the rows' indices."""
    if not binary:
        return lambda i: pearson(y[i], constrained[i]) - pearson(y[i], free[i])
    auroc_c, auroc_f = counted_auroc(y, constrained), counted_auroc(y, free)

    def difference(indices):
        counts = np.bincount(indices, minlength=len(y))
        return auroc_c(counts) - auroc_f(counts)

    return difference


def counted_auroc(labels: np.ndarray, scores: np.ndarray):
    """AUROC of rows repeated ``counts`` times, as a function of ``counts``.

    Equals :func:`~kipoi_explain.diagnostics.stats.auroc` on the repeated rows, but the scores are
    sorted and their ties grouped once, so each bootstrap draw costs a few passes over the rows
    instead of a ranking.
    """
    order = np.argsort(scores, kind="stable")
    ranked = scores[order]
    ties = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
    positive = labels[order].astype(bool)

    def statistic(counts: np.ndarray) -> float:
        counts = counts[order]
        pos = np.add.reduceat(np.where(positive, counts, 0), ties)
        neg = np.add.reduceat(np.where(positive, 0, counts), ties)
        n_pos, n_neg = pos.sum(), neg.sum()
        if not n_pos or not n_neg:
            return float("nan")
        # each positive beats the negatives in lower tie groups and half of those in its own
        below = np.cumsum(neg) - neg
        return float((pos * (below + neg / 2)).sum() / (n_pos * n_neg))

    return statistic


def pearson(y: np.ndarray, prediction: np.ndarray) -> float:
    """Pearson r; NaN for constant labels, 0 for constant predictions (they explain nothing)."""
    y = y - y.mean()
    prediction = prediction - prediction.mean()
    yy, pp = (y * y).sum(), (prediction * prediction).sum()
    if not yy > 0:
        return float("nan")
    if not pp > 0:
        return 0.0
    return float((y * prediction).sum() / np.sqrt(yy * pp))


def row_loss(y: np.ndarray, prediction: np.ndarray, binary: bool) -> tuple[np.ndarray, str | None]:
    """Per-row loss and the scale the predictions were read on.

    Squared error for real-valued labels. For 0/1 labels, binary cross-entropy: on probabilities
    when every prediction lies in [0, 1], else on logits.
    """
    if not binary:
        return (prediction - y) ** 2, None
    if ((prediction >= 0) & (prediction <= 1)).all():
        with np.errstate(divide="ignore"):
            log_p = np.maximum(np.log(prediction), LOG_FLOOR)
            log_q = np.maximum(np.log1p(-prediction), LOG_FLOOR)
        return -(y * log_p + (1 - y) * log_q), "probability"
    # max(z, 0) - z y + log(1 + exp(-|z|)): no overflow for large |z|
    return (np.maximum(prediction, 0) - prediction * y
            + np.log1p(np.exp(-np.abs(prediction)))), "logit"


def _finding(name: str, index: int, m: dict, max_drop: float, level: float) -> Finding:
    metric = "AUROC" if m["metric"] == "auroc" else "Pearson r"
    where = {"output": name, "outputs": [index]}
    if not np.isfinite(m["difference"]):
        reason, fix = (("no labelled sequences", "give labels") if not m["n"] else
                       ("its labels are all one class", "label sequences of both classes")
                       if m["metric"] == "auroc" else
                       ("its labels do not vary", "give labels that vary"))
        return Finding(CHECK, "info", None, -max_drop, where,
                       f"{fix} for {name} to measure what the constraint costs",
                       f"{metric} on {name} could not be measured: {reason}", m)
    lo, hi = m["interval"]
    drop = -m["difference"]
    message = (f"{metric} on {name}: constrained {m['constrained']:.3f}, free {m['free']:.3f} "
               f"(difference {m['difference']:+.3f}, {level:.0%} interval [{lo:+.3f}, {hi:+.3f}]; "
               f"{m['loss'].upper()} {m['loss_constrained']:.4g} vs {m['loss_free']:.4g}; "
               f"{m['n']} sequences)")
    if drop > max_drop and hi < 0:
        return Finding(CHECK, "warning", m["difference"], -max_drop, where,
                       f"the constraint costs {drop:.3f} {metric} on {name}: explanations of the "
                       "constrained model describe a less accurate model; compare its "
                       "explanations with the free model's before trusting either, or relax "
                       "the constraint", message, m)
    if drop > max_drop:
        recommendation = (f"the {metric} drop of {drop:.3f} on {name} is within sampling noise "
                          f"on {m['n']} sequences; label more sequences to tell whether the "
                          "constraint costs accuracy")
    else:
        recommendation = (f"the constraint costs no more than {max_drop} {metric} on {name}; "
                          "its explanations describe a model about as accurate as the free one")
    return Finding(CHECK, "info", m["difference"], -max_drop, where, recommendation, message, m)
