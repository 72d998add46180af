"""Attribution methods and :func:`explain`, the one entry point that runs any of them.

Every method has the signature ``method(model, x, target, batch_size, progress, **options)``
and returns :class:`~kipoi_explain.results.MethodScores`; it is declared once, in
:data:`METHODS` (or :data:`TOKEN_METHODS` for models of token ids), with the capabilities it
needs of a model and the inputs it explains. :func:`explain` checks both, prepares the inputs
and the target, applies the options every method shares, and returns an
:class:`~kipoi_explain.results.Attribution`. Methods see the public layout: one-hot
``(N, L, 4)`` for DNA models, ``(N, *shape)`` for models of features.
"""
from __future__ import annotations

import numpy as np

from .._version import __version__
from ..backends import load_model
from ..errors import InputError
from ..model import missing_capability
from ..options import checked_options, keyword_defaults
from ..prepare import prepare
from ..results import Attribution, MethodScores
from ..samples import DNA, FEATURES, input_kind
from ..sequences import alphabet
from .deeplift import deeplift, deepshap
from .gradients import grad_x_input, saliency, smoothgrad
from .integrated_gradients import expected_gradients, integrated_gradients
from .ism import ism
from .method import Method
from .occlusion import occlusion
from .tokens import TOKEN_METHODS

METHODS = {
    "saliency": Method(saliency, ("gradients",), (DNA, FEATURES), extra_inputs=True),
    "grad_x_input": Method(grad_x_input, ("gradients",), (DNA, FEATURES), extra_inputs=True),
    "smoothgrad": Method(smoothgrad, ("gradients",), (DNA, FEATURES), extra_inputs=True),
    "integrated_gradients": Method(integrated_gradients, ("gradients",), (DNA, FEATURES),
                                   extra_inputs=True),
    "expected_gradients": Method(expected_gradients, ("gradients",)),
    "deeplift": Method(deeplift, ("deeplift",)),
    "deepshap": Method(deepshap, ("deeplift",)),
    "ism": Method(ism),
    "occlusion": Method(occlusion, inputs=(DNA, FEATURES)),
}

#: Methods that need forward passes only: they explain models without gradients too.
PERTURBATION_METHODS = tuple(name for name, m in METHODS.items() if not m.needs)
#: Methods that need gradients (or DeepLIFT multipliers) from the model.
GRADIENT_METHODS = tuple(name for name in METHODS if name not in PERTURBATION_METHODS)
#: Methods for models of features (no DNA); the others need one-hot input (ISM's bases,
#: DeepSHAP's and expected gradients' dinucleotide shuffles, DeepLIFT's DNA references).
FEATURE_METHODS = tuple(name for name, m in METHODS.items() if FEATURES in m.inputs)
#: Methods that attribute to a model's differentiable extra inputs as well as its main input
#: (integrated gradients with ``inputs_baseline="zeros"``).
EXTRA_INPUT_METHODS = tuple(name for name, m in METHODS.items() if m.extra_inputs)


def methods_for(model) -> dict[str, Method]:
    """The methods declared for the kind of input ``model`` takes (token ids, or not)."""
    return TOKEN_METHODS if model.takes_tokens else METHODS


def available_methods(model) -> list[str]:
    """The methods that explain ``model``: its kind of input, and every capability they need."""
    kind = input_kind(model.layout)
    return [name for name, method in methods_for(model).items()
            if (model.takes_tokens or kind in method.inputs) and method.missing(model) is None]


def method_options(method: str, tokens: bool = False) -> dict:
    """The options a method takes (on a model of token ids, if ``tokens``), with defaults."""
    return keyword_defaults((TOKEN_METHODS if tokens else METHODS)[method])


def explain(model, seqs, method: str = "deepshap", target=0, batch_size: int | None = None,
            progress: bool = False, reverse_complement: bool = False, reduce: str = "sum",
            bins=None, ambiguous: str = "uniform", inputs: dict | None = None,
            sample_index=0, **options) -> Attribution:
    """Explain a model's predictions for some sequences with one attribution method.

    Parameters
    ----------
    model : Model or anything :func:`~kipoi_explain.load_model` accepts
    seqs : SequenceSet, str, list of str, numpy.ndarray or FASTA path
        See :func:`~kipoi_explain.sequences.as_sequences`. For a model of features: an array
        ``(N, *shape)``, a ``.npy`` file or a TSV/CSV table (see
        :func:`~kipoi_explain.sequences.features.read_features`; its columns are checked
        against the input entities of the model's ``entities.yaml``, if it has one). For a
        model of tokens: what :func:`~kipoi_explain.sequences.tokens.read_tokens` reads.
    method : str
        One of ``saliency``, ``grad_x_input``, ``smoothgrad``, ``integrated_gradients``,
        ``expected_gradients``, ``deeplift``, ``deepshap``, ``ism``, ``occlusion``. Models
        without gradients take :data:`PERTURBATION_METHODS`, models of features
        :data:`FEATURE_METHODS`.
    target : int, str, list or "all"
        Output index or name, several of them (combined by ``reduce``), or all outputs.
    batch_size : int, optional
        Model rows per block (default: the model's).
    progress : bool
        Show a progress bar.
    reverse_complement : bool
        Average with the attribution of the reverse complement, mapped back onto the input
        (DNA only).
    reduce : {"sum", "mean"}
        How several target outputs (or bins) combine into one number.
    bins : (int, int), optional
        Window of output bins for binned / profile outputs.
    ambiguous : {"uniform", "zeros", "error"}
        Encoding of IUPAC codes such as N in string input.
    inputs : dict of str to array or path, optional
        The model's extra inputs (tracks ``(N, L, C)``, feature arrays, token ids), by name,
        one row per sequence: held at each sequence's values while the main input is
        perturbed; :data:`EXTRA_INPUT_METHODS` also attribute to the differentiable ones
        (``Attribution.extra_scores``).
    sample_index : int or numpy.ndarray
        Index of the first sequence in the whole set it belongs to (or one index per
        sequence): random references, noise and shuffles are seeded per sequence by it, so a
        set explained in parts (chunks, shards of a job) gets the scores it gets in one piece.
    **options
        Method options: ``n_steps``, ``baseline``, ``quadrature_rule``, ``inputs_baseline``
        (integrated gradients);
        ``n_samples``, ``noise`` (smoothgrad); ``n_references``, ``seed`` (deepshap,
        expected gradients, shuffled baselines); ``start``, ``end``, ``fast`` (ism); ``window``,
        ``stride`` (occlusion); ``absolute`` (saliency); ``correct_gradients`` (every
        gradient method, DNA only). For features, ``baseline`` is ``"zeros"``, ``"mean"``
        (of the given samples) or an array.

    Returns
    -------
    Attribution
        For a model of features, ``scores`` and ``inputs`` are ``(N, *shape)`` and there are
        no hypothetical contributions.

    Raises
    ------
    InputError
        For an unknown method, option, target, or malformed sequences; a method needing a
        capability the model lacks (gradients, DeepLIFT rules); a DNA-only method or option
        on a model of features.
    UnsupportedOperation
        When the model has an operation the method has no correct rule for.
    """
    model = load_model(model)
    methods = methods_for(model)
    allowed = checked_options("method", methods, method, options)
    missing = methods[method].missing(model)
    if missing is not None:
        raise InputError(missing_capability(model, missing, f"method {method!r}"))
    if not model.takes_dna:
        _check_feature_options(model, method, reverse_complement, options)
    work = prepare(model, seqs, what="explain", target=target, reduce=reduce, bins=bins,
                   inputs=inputs, batch_size=batch_size, progress=progress,
                   ambiguous=ambiguous)
    model, x, spec, batch_size = work.model, work.x, work.target, work.batch_size
    run = methods[method]
    result = run(model, x, spec, batch_size, progress, sample_index, **options)
    if reverse_complement:
        result = _average_strands(result, run(model, alphabet.reverse_complement(x), spec,
                                              batch_size, progress, sample_index,
                                              **_reverse_strand_options(options, x.shape[1])))
    return Attribution(
        scores=result.scores.astype(np.float32), method=method, target=spec.as_dict(),
        predictions=model.predict(x, batch_size) if result.predictions is None
        else result.predictions, inputs=x,
        settings={**allowed, **options, "reverse_complement": reverse_complement,
                  "reduce": reduce, "bins": bins, "ambiguous": ambiguous,
                  "batch_size": batch_size, "version": __version__},
        delta=result.delta, hypothetical=result.hypothetical if model.takes_dna else None,
        names=work.samples.names, intervals=work.samples.intervals, model=model.describe(),
        extra_scores=result.extra)


def _check_feature_options(model, method: str, reverse_complement: bool, options: dict) -> None:
    """Refuse, by name, what only means something for one-hot DNA."""
    kind = "token ids" if model.takes_tokens else "features"
    where = f"model {model.name!r} takes {kind} of shape {model.layout.shape}"
    if not model.takes_tokens and method not in FEATURE_METHODS:
        usable = [m for m in FEATURE_METHODS if METHODS[m].missing(model) is None]
        raise InputError(f"method {method!r} needs one-hot DNA input; {where}: use "
                         f"{', '.join(usable)}")
    if reverse_complement:
        raise InputError(f"reverse_complement needs one-hot DNA input; {where}")
    if options.get("correct_gradients"):
        raise InputError(f"correct_gradients (the mean over the four bases removed) needs "
                         f"one-hot DNA input; {where}")
    baseline = options.get("baseline")
    if isinstance(baseline, str) and baseline in ("uniform", "shuffle"):
        raise InputError(f"baseline {baseline!r} (a DNA reference) needs one-hot DNA input; "
                         f"{where}: use 'zeros', 'mean' or an array")


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
                        mean(forward.hypothetical, backward.hypothetical), delta,
                        predictions=forward.predictions)
