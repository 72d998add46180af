"""Attribution methods and :func:`explain`, the one entry point that runs any of them.

Every method has the signature ``method(model, x, target, batch_size, progress, **options)``
and returns :class:`~kipoi_explain.results.MethodScores`; :func:`explain` resolves the inputs
and the target, applies the options every method shares, and returns an
:class:`~kipoi_explain.results.Attribution`.
"""
from __future__ import annotations

import inspect

import numpy as np

from .._version import __version__
from ..adapters import load_model
from ..errors import InputError
from ..results import Attribution, MethodScores
from ..sequences import alphabet, as_sequences
from .deeplift import deeplift, deepshap
from .gradients import grad_x_input, saliency, smoothgrad
from .integrated_gradients import expected_gradients, integrated_gradients
from .ism import ism

METHODS = {
    "saliency": saliency,
    "grad_x_input": grad_x_input,
    "smoothgrad": smoothgrad,
    "integrated_gradients": integrated_gradients,
    "expected_gradients": expected_gradients,
    "deeplift": deeplift,
    "deepshap": deepshap,
    "ism": ism,
}

#: Methods that need gradients (or DeepLIFT multipliers) from the model.
GRADIENT_METHODS = tuple(name for name in METHODS if name != "ism")


def method_options(method: str) -> dict:
    """The options a method takes, with their defaults."""
    return {name: p.default for name, p in inspect.signature(METHODS[method]).parameters.items()
            if p.default is not inspect.Parameter.empty}


def explain(model, seqs, method: str = "deepshap", target=0, batch_size: int | None = None,
            progress: bool = False, reverse_complement: bool = False, reduce: str = "sum",
            bins=None, ambiguous: str = "uniform", **options) -> Attribution:
    """Explain a model's predictions for some sequences with one attribution method.

    Parameters
    ----------
    model : Model or anything :func:`~kipoi_explain.load_model` accepts
    seqs : SequenceSet, str, list of str, numpy.ndarray or FASTA path
        See :func:`~kipoi_explain.sequences.as_sequences`.
    method : str
        One of ``saliency``, ``grad_x_input``, ``smoothgrad``, ``integrated_gradients``,
        ``expected_gradients``, ``deeplift``, ``deepshap``, ``ism``.
    target : int, str, list or "all"
        Output index or name, several of them (combined by ``reduce``), or all outputs.
    batch_size : int, optional
        Model rows per block (default: the model's).
    progress : bool
        Show a progress bar.
    reverse_complement : bool
        Average with the attribution of the reverse complement, mapped back onto the input.
    reduce : {"sum", "mean"}
        How several target outputs (or bins) combine into one number.
    bins : (int, int), optional
        Window of output bins for binned / profile outputs.
    ambiguous : {"uniform", "zeros", "error"}
        Encoding of IUPAC codes such as N in string input.
    **options
        Method options: ``n_steps``, ``baseline``, ``quadrature_rule`` (integrated gradients);
        ``n_samples``, ``noise`` (smoothgrad); ``n_references``, ``seed`` (deepshap,
        expected gradients, shuffled baselines); ``start``, ``end`` (ism); ``absolute``
        (saliency); ``correct_gradients`` (every gradient method).

    Returns
    -------
    Attribution

    Raises
    ------
    InputError
        For an unknown method, option, target, or malformed sequences.
    UnsupportedOperation
        When the model has an operation the method has no correct rule for.
    """
    if method not in METHODS:
        raise InputError(f"method {method!r}: expected one of {', '.join(METHODS)}")
    allowed = method_options(method)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise InputError(f"option(s) {', '.join(unknown)} do not apply to method {method!r}; "
                         f"it takes {', '.join(allowed) or 'none'}")
    model = load_model(model)
    model.require_dna("explain")
    if method in GRADIENT_METHODS and not model.differentiable:
        raise InputError(f"method {method!r} needs gradients, which model {model.name!r} does "
                         "not have; use ism")
    sequences = as_sequences(seqs, model.input_length, ambiguous)
    spec = model.target(target, reduce, bins)
    if batch_size is not None and batch_size < 1:
        raise InputError(f"batch_size={batch_size}: expected a positive integer")
    batch_size = batch_size or model.batch_size
    x = sequences.onehot
    run = METHODS[method]
    result = run(model, x, spec, batch_size, progress, **options)
    if reverse_complement:
        result = _average_strands(result, run(model, alphabet.reverse_complement(x), spec,
                                              batch_size, progress,
                                              **_reverse_strand_options(options, x.shape[1])))
    return Attribution(
        scores=result.scores.astype(np.float32), method=method, target=spec.as_dict(),
        predictions=model.predict(x, batch_size), inputs=x,
        settings={**allowed, **options, "reverse_complement": reverse_complement,
                  "reduce": reduce, "bins": bins, "ambiguous": ambiguous,
                  "batch_size": batch_size, "version": __version__},
        delta=result.delta, hypothetical=result.hypothetical, names=sequences.names,
        intervals=sequences.intervals, model=model.describe())


def _reverse_strand_options(options: dict, length: int) -> dict:
    """Options in the reverse strand's coordinates: the ISM window mirrored, reference arrays
    reverse-complemented."""
    options = dict(options)
    if "start" in options or "end" in options:
        start, end = options.get("start", 0), options.get("end")
        end = length if end is None else end
        options["start"], options["end"] = length - end, length - start
    baseline = options.get("baseline")
    if baseline is not None and not isinstance(baseline, str):
        options["baseline"] = alphabet.reverse_complement(np.asarray(baseline, dtype=np.float32))
    return options


def _average_strands(forward: MethodScores, backward: MethodScores) -> MethodScores:
    """Map the reverse strand's scores back onto the input and average the two strands."""
    def mean(a, b):
        return None if a is None else (a + alphabet.reverse_complement(b)) / 2

    delta = None if forward.delta is None else (forward.delta + backward.delta) / 2
    return MethodScores(mean(forward.scores, backward.scores),
                        mean(forward.hypothetical, backward.hypothetical), delta)
