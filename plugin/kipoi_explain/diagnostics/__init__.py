"""Diagnose: which explanations of *this* model can be trusted, measured.

Each check turns one limitation that the founding review proves on paper into numbers about the
user's model, and into :class:`~kipoi_explain.results.Finding` s with a severity, the layer and
units concerned, and what to do. Every check has the signature
``check(ctx, **options) -> (findings, measurements)``, where ``ctx`` is a
:class:`~kipoi_explain.diagnostics.context.Context`.
"""
from __future__ import annotations

from .._version import __version__
from ..errors import InputError
from ..options import keyword_defaults
from ..prepare import prepare
from ..results import Diagnosis
from ..samples import DNA
from .attention_conditioning import attention_conditioning
from .constraint_cost import constraint_cost
from .context import Context
from .filter_scaling import filter_scaling
from .gradient_saturation import gradient_saturation
from .method_agreement import method_agreement
from .randomization_sanity import randomization_sanity
from .redundancy import redundancy
from .verdict import verdict

CHECKS = {
    "filter_scaling": filter_scaling,
    "redundancy": redundancy,
    "gradient_saturation": gradient_saturation,
    "attention_conditioning": attention_conditioning,
    "constraint_cost": constraint_cost,
    "randomization_sanity": randomization_sanity,
    "method_agreement": method_agreement,
}

__all__ = ["CHECKS", "check_options", "diagnose"]


def check_options(check: str) -> dict:
    """The options (thresholds, methods, ...) a check takes, with their defaults."""
    return keyword_defaults(CHECKS[check])


def diagnose(model, seqs, checks=None, target=0, *, free_model=None, labels=None,
             options: dict | None = None, n_attribution: int = 32, seed: int = 0,
             batch_size: int | None = None, progress: bool = False, reduce: str = "sum",
             bins=None) -> Diagnosis:
    """Measure where explanations of ``model`` mislead, on the given sequences.

    Parameters
    ----------
    model : Model or anything :func:`~kipoi_explain.load_model` accepts
    seqs : SequenceSet, str, list of str, numpy.ndarray or FASTA path
        Sequences the measurements are made on (see
        :func:`~kipoi_explain.sequences.as_sequences`); a few hundred typical inputs.
    checks : list of str, optional
        Which of :data:`CHECKS` to run (default: all; ``constraint_cost`` reports that it was not
        applicable unless ``free_model`` and ``labels`` are given).
    target : int, str, list or "all"
        The output whose explanations are diagnosed.
    free_model : optional
        For ``constraint_cost``: the unconstrained model ``model`` is compared against.
    labels : numpy.ndarray or dict, optional
        For ``constraint_cost``: true values ``(N, T)`` for the sequences, or a mapping of
        output name to ``(N,)`` values.
    options : dict, optional
        Per check, its options (see :func:`check_options`), e.g.
        ``{"redundancy": {"correlation": 0.8}}``.
    n_attribution : int
        Sequences used by the checks that compute attributions (the first ones).
    seed : int
        Seeds every random draw.
    batch_size : int, optional
        Model rows per block.
    progress : bool
        Show a progress bar over the checks.
    reduce, bins
        As in :func:`~kipoi_explain.explain`.

    Returns
    -------
    Diagnosis
    """
    from ..stages import progress_bar

    checks = list(CHECKS) if checks is None else list(checks)
    unknown = [c for c in checks if c not in CHECKS]
    if unknown:
        raise InputError(f"check(s) {', '.join(unknown)}: expected some of {', '.join(CHECKS)}")
    options = {check: dict(values) for check, values in (options or {}).items()}
    for check, values in options.items():
        if check not in CHECKS:
            raise InputError(f"options for {check!r}: no such check; checks are "
                             f"{', '.join(CHECKS)}")
        allowed = check_options(check)
        bad = sorted(set(values) - set(allowed))
        if bad:
            raise InputError(f"option(s) {', '.join(bad)} do not apply to check {check!r}; it "
                             f"takes {', '.join(allowed)}")
    cost = options.setdefault("constraint_cost", {})
    cost.setdefault("free_model", free_model)
    cost.setdefault("labels", labels)
    if n_attribution < 1:
        raise InputError(f"n_attribution={n_attribution}: expected a positive integer")
    work = prepare(model, seqs, what="diagnose", accepts=(DNA,), target=target, reduce=reduce,
                   bins=bins, batch_size=batch_size, progress=progress)
    model = work.model
    ctx = Context(model, work.x, work.target, work.batch_size, progress, seed, n_attribution)
    findings, measurements = [], {}
    with progress_bar(len(checks), "diagnose", "check", show=progress) as bar:
        for check in checks:
            found, measured = CHECKS[check](ctx, **options.get(check, {}))
            findings.extend(found)
            measurements[check] = measured
            bar.update()
    used = {check: {k: v for k, v in {**check_options(check), **options.get(check, {})}.items()
                    if k not in ("free_model", "labels")} for check in checks}
    return Diagnosis(
        model=model.describe(), findings=findings, measurements=measurements,
        verdict=verdict([f.as_dict() for f in findings], checks),
        settings={"checks": checks, "target": ctx.target.as_dict(), "n_sequences": len(ctx.x),
                  "n_attribution": min(n_attribution, len(ctx.x)), "seed": seed,
                  "batch_size": ctx.batch_size, "options": used, "version": __version__,
                  "names": work.samples.names})
