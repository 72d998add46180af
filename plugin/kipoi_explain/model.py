"""The loaded model every method talks to: what it takes and returns, and its capabilities.

A :class:`Model` is metadata (name, input layout, outputs, where it came from) plus one provider
per capability its framework supports (:mod:`kipoi_explain.capabilities`); a capability it
lacks is None, and :meth:`Model.require` turns asking for it into an error naming what applies
instead. Backends (:mod:`kipoi_explain.backends`) build models; nothing outside them reaches
into a framework.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from .capabilities import (AttentionAccess, DeepLiftRules, FastISM, FirstLayerFilters,
                           InputGradients, LayerAccess, Predictor)
from .engine import DEFAULT_BATCH_SIZE, run_batches
from .errors import InputError, UnsupportedOperation
from .layouts import ExtraInput, FeatureLayout, InputLayout, TokenLayout, probe_inputs
from .outputs import Head
from .outputs import describe as describe_heads
from .outputs import split as split_heads
from .targets import Target, resolve_target


@dataclass
class Model:
    """A loaded model: its inputs and outputs, and the capabilities its framework supports.

    Attributes
    ----------
    name : str
        Display name (Kipoi model name, class name or file name).
    framework : str
        ``pytorch``, ``keras`` or ``callable`` (a predict function).
    layout : InputLayout, FeatureLayout or TokenLayout
        How the public input maps onto the model's own: one-hot ``(N, L, 4)`` DNA, features
        of a fixed shape, or token ids.
    input_length : int or None
        Sequence length the model takes (None when it accepts any length, or takes no DNA).
    output_names : tuple of str
        One name per task (the last output axis), or a single name for a contact map
        ``(R, C)`` without a task axis.
    output_shape : tuple of int
        Output shape of one sample: ``(T,)``, ``(B, T)`` for binned outputs, ``(R, C)`` or
        ``(R, C, T)`` for contact maps.
    predictor : Predictor
        Runs the model (every model has one).
    gradients, deeplift, layers, attention, filters, fast_ism : provider or None
        The other capabilities (see :mod:`kipoi_explain.capabilities`); None where the
        framework has none.
    batch_size : int
        Default rows per block for this model.
    source : dict
        Where it was loaded from (path, Kipoi type, ...), recorded with every result.
    extra_inputs : tuple of ExtraInput
        Inputs besides the main one, which every call needs (see :meth:`with_inputs`).
    heads : tuple of Head
        For a model returning several arrays, each of them (:mod:`kipoi_explain.outputs`);
        its outputs are then the heads' columns one after the other: ``output_shape`` is
        ``(columns,)`` and ``output_names`` every head's tasks as ``head:task``. Empty for a
        model of one output.
    context : dict of str to numpy.ndarray, or None
        The extra inputs of the samples being explained, one row per sample (set by
        :meth:`with_inputs`).
    """

    name: str
    framework: str
    layout: InputLayout | FeatureLayout | TokenLayout
    input_length: int | None
    output_names: tuple[str, ...]
    output_shape: tuple[int, ...]
    predictor: Predictor
    gradients: InputGradients | None = None
    deeplift: DeepLiftRules | None = None
    layers: LayerAccess | None = None
    attention: AttentionAccess | None = None
    filters: FirstLayerFilters | None = None
    fast_ism: FastISM | None = None
    batch_size: int = DEFAULT_BATCH_SIZE
    source: dict = field(default_factory=dict)
    extra_inputs: tuple[ExtraInput, ...] = ()
    heads: tuple[Head, ...] = ()
    context: dict | None = field(default=None, repr=False)

    @property
    def takes_dna(self) -> bool:
        """Whether the main input is one-hot DNA (:class:`InputLayout`)."""
        return isinstance(self.layout, InputLayout)

    @property
    def takes_tokens(self) -> bool:
        """Whether the main input is token ids (:class:`TokenLayout`)."""
        return isinstance(self.layout, TokenLayout)

    def require(self, capability: str, what: str):
        """The provider of ``capability``, or an error saying ``what`` needs it and what
        applies to this model instead.

        Raises
        ------
        UnsupportedOperation
            When the model has no such capability.
        """
        provider = getattr(self, capability)
        if provider is None:
            raise UnsupportedOperation(missing_capability(self, capability, what))
        return provider

    def require_dna(self, what: str) -> None:
        """Raise :class:`InputError` saying ``what`` needs a model of DNA, if this is none."""
        if not self.takes_dna:
            raise InputError(f"{what} needs a model of one-hot DNA; model {self.name!r} takes "
                             f"features of shape {self.layout.shape} (kipoi_explain.entities "
                             "ranks the entities of such models)")

    # ---- extra inputs ---------------------------------------------------------------------
    def with_inputs(self, extra: dict | None, n: int) -> Model:
        """This model bound to the extra inputs of ``n`` samples, one row each.

        Every block a method runs then gets, through :meth:`rows`, the extra inputs of the
        samples its rows belong to.

        Raises
        ------
        InputError
            Naming the input that is missing, unknown, of the wrong shape, or not finite.
        """
        extra = dict(extra or {})
        if not self.extra_inputs:
            if extra:
                raise InputError(f"model {self.name!r} takes one input; got extra input(s) "
                                 f"{', '.join(map(repr, extra))}")
            return self
        declared = {spec.name: spec for spec in self.extra_inputs}
        missing = [name for name in declared if name not in extra]
        unknown = [name for name in extra if name not in declared]
        if missing or unknown:
            raise InputError(f"model {self.name!r} takes extra inputs "
                             f"{described_inputs(self.extra_inputs)}; "
                             + (f"missing {', '.join(map(repr, missing))}" if missing else "")
                             + ("; " if missing and unknown else "")
                             + (f"unknown {', '.join(map(repr, unknown))}" if unknown else ""))
        from .sequences.features import read_features

        context = {}
        for name, spec in declared.items():
            try:
                values, _ = read_features(extra[name], spec.shape)
            except InputError as err:
                raise InputError(f"input {name!r}: {err}") from None
            if len(values) != n:
                raise InputError(f"input {name!r} has {len(values)} samples; the main input has "
                                 f"{n}")
            if spec.kind == "tokens" and not np.array_equal(values, np.round(values)):
                row = int(np.argwhere(values != np.round(values))[0][0])
                raise InputError(f"input {name!r}, sample {row}: token ids must be integers")
            context[name] = values
        return dataclasses.replace(self, context=context)

    def rows(self, index) -> dict | None:
        """The bound extra inputs of the given samples (an index array or a slice), or None for
        a model of one input: the ``context`` a provider's primitives take."""
        if not self.extra_inputs:
            return None
        if self.context is None:
            raise missing_inputs(self.name, self.extra_inputs)
        return {name: values[index] for name, values in self.context.items()}

    def differentiable_extras(self) -> list[ExtraInput]:
        """Extra inputs the gradient methods attribute to, in order."""
        return [spec for spec in self.extra_inputs if spec.differentiable]

    # ---- running it -----------------------------------------------------------------------
    def target(self, target=0, reduce: str = "sum", bins=None) -> Target:
        """Resolve an output index / name / list / ``"all"`` against this model's outputs."""
        if isinstance(target, Target):
            return target
        return resolve_target(target, self.output_names, self.output_shape, reduce, bins,
                              self.heads)

    def predict(self, x, batch_size: int | None = None, progress: bool = False) -> np.ndarray:
        """Predictions ``(N, *output_shape)`` for a batch in the public layout (of a model of
        several outputs: its flat columns, which :meth:`split` gives back by head)."""
        x = self.check_input(x)
        out = run_batches(lambda lo, hi: self.predictor.forward(
            x[lo:hi], context=self.rows(slice(lo, hi))), len(x),
                          batch_size or self.batch_size, progress, "predict")
        return out.reshape(len(x), *self.output_shape)

    def split(self, outputs: np.ndarray) -> dict[str, np.ndarray]:
        """Outputs of a model of several, ``{head: (N, *head shape)}``; of a model of one,
        ``{name: outputs}``."""
        if not self.heads:
            return {self.name: np.asarray(outputs)}
        return split_heads(outputs, self.heads)

    def check_input(self, x) -> np.ndarray:
        """``x`` as float32 in the public layout; an :class:`InputError` saying what the model
        takes when it does not fit."""
        x = np.asarray(x, dtype=np.float32)
        if self.takes_tokens:
            size = len(self.layout.vocabulary)
            if x.ndim != 2 or x.shape[1] != self.layout.length:
                raise InputError(f"input of shape {x.shape}: model {self.name!r} takes token "
                                 f"ids (N, {self.layout.length})")
            bad = (x != np.round(x)) | (x < 0) | (x >= size) | ~np.isfinite(x)
            if bad.any():
                row, col = np.argwhere(bad)[0]
                raise InputError(f"sample {row}, token {col}: {x[row, col]!r} is not a token id "
                                 f"(an integer 0 <= id < {size})")
            return x
        if not self.takes_dna:
            if x.shape[1:] != tuple(self.layout.shape):
                raise InputError(f"input of shape {x.shape}: model {self.name!r} takes "
                                 f"(N, {', '.join(map(str, self.layout.shape))})")
            if not np.isfinite(x).all():
                row = int(np.argwhere(~np.isfinite(x))[0][0])
                raise InputError(f"sample {row}: input holds NaN or infinite values")
            return x
        if x.ndim != 3 or x.shape[-1] != 4:
            raise InputError(f"input of shape {x.shape}: expected one-hot (N, L, 4)")
        if self.input_length is not None and x.shape[1] != self.input_length:
            raise InputError(f"input length {x.shape[1]}: model {self.name!r} takes "
                             f"{self.input_length}")
        return x

    def probe(self, n: int = 2) -> tuple[np.ndarray, dict | None]:
        """A fixed random batch of ``n`` samples and its extra inputs, for checks that run the
        model once (see :func:`~kipoi_explain.layouts.probe_inputs`)."""
        return probe_inputs(self.layout, self.input_length, self.extra_inputs, n)

    # ---- provenance -----------------------------------------------------------------------
    def fingerprint(self) -> str:
        """SHA-256 of the weights: identifies exactly which model produced a result."""
        return self.predictor.fingerprint()

    def describe(self) -> dict:
        """Metadata recorded with every result."""
        return {"name": self.name, "framework": self.framework,
                "input_length": self.input_length, "output_names": list(self.output_names),
                "output_shape": list(self.output_shape), **self.layout.describe(),
                **({"heads": describe_heads(self.heads)} if self.heads else {}),
                "fingerprint": self.fingerprint(), **self.source}


def described_inputs(extra_inputs) -> str:
    """``'name' (kind, shape)`` of each extra input, for messages."""
    return ", ".join(f"{spec.name!r} ({spec.kind}, {', '.join(map(str, spec.shape))})"
                     for spec in extra_inputs)


def missing_inputs(name: str, extra_inputs) -> InputError:
    """The error for a call of model ``name`` without the extra inputs it needs."""
    return InputError(f"model {name!r} takes extra inputs {described_inputs(extra_inputs)}; "
                      "give them with inputs={name: array}")


#: What each capability is, for messages.
_NEEDS = {"gradients": "gradients", "deeplift": "DeepLIFT rules", "layers": "layer access",
          "attention": "attention layers", "filters": "first-layer convolution filters",
          "fast_ism": "fast ISM"}


def missing_capability(model: Model, capability: str, what: str) -> str:
    """Message for ``what`` asked of ``model``, which has no ``capability``: what applies to
    it instead."""
    if model.gradients is None and capability in ("gradients", "deeplift", "layers"):
        return (f"{what} needs gradients, which model {model.name!r} ({model.framework}, a "
                f"predict function) does not have; use a perturbation method instead: "
                f"{perturbation_methods(model)}")
    return (f"{what} needs {_NEEDS.get(capability, capability)}, which {model.framework} "
            f"model {model.name!r} does not expose")


def perturbation_methods(model: Model) -> str:
    """The analyses that apply to a model without gradients, as a sentence fragment."""
    methods = "ism, occlusion" if model.takes_dna else "occlusion"
    return (f"explain methods {methods}; kipoi_explain.entities(..., method='ablation'); "
            "region screens")
