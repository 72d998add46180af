"""The one :class:`Model` interface every method talks to, whatever the framework.

The public side always speaks one-hot float32 ``(N, L, 4)``, alphabet A, C, G, T. An
:class:`InputLayout` converts to and from the model's own layout (channels first, another base
order, an extra singleton axis). Framework adapters implement a handful of one-batch
primitives (``_forward``, ``_gradient``, ``_deeplift``, ...); batching lives in the engine.
"""
from __future__ import annotations

import contextlib
import copy
import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

from ..engine import DEFAULT_BATCH_SIZE, run_batches
from ..errors import InputError, UnsupportedOperation
from ..sequences import ALPHABET
from ..targets import Target, resolve_target


@dataclass(frozen=True)
class InputLayout:
    """Where the model expects the bases, in kipoiseq's terms (axes of one sample, no batch axis).

    Attributes
    ----------
    alphabet : str
        Order of the bases on the model's alphabet axis.
    alphabet_axis : int
        Axis of one sample that holds the bases: 1 for ``(L, 4)``, 0 for ``(4, L)``.
    dummy_axis : int or None
        Position of an extra length-1 axis in one sample (e.g. ``(4, 1, L)`` models), if any.
    """

    alphabet: str = ALPHABET
    alphabet_axis: int = 1
    dummy_axis: int | None = None

    def __post_init__(self):
        if sorted(self.alphabet.upper()) != sorted(ALPHABET):
            raise InputError(f"alphabet {self.alphabet!r}: expected a permutation of ACGT")
        if self.alphabet_axis not in (0, 1):
            raise InputError(f"alphabet_axis={self.alphabet_axis}: expected 0 (bases first) or "
                             "1 (bases last)")
        if self.dummy_axis not in (None, 0, 1, 2):
            raise InputError(f"dummy_axis={self.dummy_axis}: expected None, 0, 1 or 2")

    @property
    def channels_first(self) -> bool:
        return self.alphabet_axis == 0

    def _order(self) -> list[int]:
        return [ALPHABET.index(base) for base in self.alphabet.upper()]

    def to_model(self, x: np.ndarray) -> np.ndarray:
        """``(N, L, 4)`` ACGT -> the model's layout."""
        x = x[..., self._order()]
        if self.channels_first:
            x = x.transpose(0, 2, 1)
        if self.dummy_axis is not None:
            x = np.expand_dims(x, self.dummy_axis + 1)
        return np.ascontiguousarray(x, dtype=np.float32)

    def from_model(self, x: np.ndarray) -> np.ndarray:
        """The model's layout -> ``(N, L, 4)`` ACGT (for gradients and multipliers)."""
        if self.dummy_axis is not None:
            x = np.squeeze(x, self.dummy_axis + 1)
        if self.channels_first:
            x = x.transpose(0, 2, 1)
        return np.ascontiguousarray(self.bases_to_acgt(x), dtype=np.float32)

    def bases_to_acgt(self, x: np.ndarray) -> np.ndarray:
        """Reorder a last axis holding the model's bases into A, C, G, T order."""
        return x[..., np.argsort(self._order())]

    def describe(self) -> dict:
        return {"input": "dna", "alphabet": self.alphabet, "alphabet_axis": self.alphabet_axis,
                "dummy_axis": self.dummy_axis}


@dataclass(frozen=True)
class FeatureLayout:
    """Input that is no DNA: a fixed-shape array of numbers per sample (genotype dosages,
    expression values, chromatin tracks), passed to the model unchanged.

    Attributes
    ----------
    shape : tuple of int
        Shape of one sample, e.g. ``(n_snps,)``.
    """

    shape: tuple[int, ...]

    def __post_init__(self):
        if not self.shape or any(int(s) < 1 for s in self.shape):
            raise InputError(f"feature shape {self.shape}: expected positive sizes")

    #: Hidden layers are read with their units on the last axis.
    channels_first = False

    def to_model(self, x: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(x, dtype=np.float32)

    def from_model(self, x: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(x, dtype=np.float32)

    def describe(self) -> dict:
        return {"input": "features", "input_shape": list(self.shape)}


@dataclass(frozen=True)
class TokenLayout:
    """Input of token ids (genes in rank order, k-mers, ...): ``(N, L)`` integers, stored as
    float32 in the public layout and handed to the model as int64.

    Attributes
    ----------
    length : int
        Tokens per sample.
    vocabulary : tuple of str
        Token ``i``'s name is ``vocabulary[i]``.
    pad : int
        Id of the padding token: what an occluded token becomes, and what refills the end when
        a token is deleted (Geneformer's in-silico deletion).
    """

    length: int
    vocabulary: tuple[str, ...]
    pad: int = 0

    def __post_init__(self):
        if self.length < 1 or not self.vocabulary:
            raise InputError(f"token input of length {self.length} with "
                             f"{len(self.vocabulary)} tokens: expected both positive")
        if not 0 <= self.pad < len(self.vocabulary):
            raise InputError(f"pad token id {self.pad}: expected 0 <= id < "
                             f"{len(self.vocabulary)} (the vocabulary size)")

    channels_first = False

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.length,)

    def to_model(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x).astype(np.int64)

    def from_model(self, x: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(x, dtype=np.float32)

    def describe(self) -> dict:
        return {"input": "tokens", "input_shape": [self.length],
                "vocabulary_size": len(self.vocabulary), "pad": self.vocabulary[self.pad]}


#: Kinds of extra input: a track along the DNA ``(L, C)``, a feature array, token ids.
EXTRA_KINDS = ("track", "features", "tokens")


@dataclass(frozen=True)
class ExtraInput:
    """A named model input besides the main one (DNA, features or tokens).

    Methods perturb the main input and hold an extra input at each sample's own values; gradient
    methods also attribute the target to a differentiable extra input (a track or features).

    Attributes
    ----------
    name : str
        The input's name in the model's schema (the keyword the model is called with).
    shape : tuple of int
        One sample, public layout: ``(L, C)`` for a track, whatever the model takes otherwise.
    kind : {"track", "features", "tokens"}
    """

    name: str
    shape: tuple[int, ...]
    kind: str = "features"

    def __post_init__(self):
        if self.kind not in EXTRA_KINDS:
            raise InputError(f"input {self.name!r}: kind {self.kind!r}, expected one of "
                             f"{', '.join(EXTRA_KINDS)}")
        if self.kind == "track" and len(self.shape) != 2:
            raise InputError(f"track input {self.name!r} of shape {self.shape}: expected "
                             "(length, channels)")

    @property
    def differentiable(self) -> bool:
        return self.kind != "tokens"

    def to_model(self, x: np.ndarray, channels_first: bool) -> np.ndarray:
        """Public layout -> the model's: tracks follow the DNA's channel convention."""
        if self.kind == "tokens":
            return np.asarray(x).astype(np.int64)
        if self.kind == "track" and channels_first:
            x = x.transpose(0, 2, 1)
        return np.ascontiguousarray(x, dtype=np.float32)

    def from_model(self, x: np.ndarray, channels_first: bool) -> np.ndarray:
        if self.kind == "track" and channels_first:
            x = x.transpose(0, 2, 1)
        return np.ascontiguousarray(x, dtype=np.float32)


@dataclass(frozen=True)
class ConvLayer:
    """A convolution reading the one-hot input directly: what filter motifs are made from.

    ``weights`` is ``(F, K, 4)`` in A, C, G, T order whatever the framework's kernel layout.
    """

    name: str
    weights: np.ndarray
    bias: np.ndarray | None
    stride: int = 1
    dilation: int = 1
    padding: str | int = "valid"


@dataclass
class Model(ABC):
    """A loaded model behind one interface, for every explanation method.

    Attributes
    ----------
    name : str
        Display name (Kipoi model name, class name or file name).
    layout : InputLayout or FeatureLayout
        How the public ``(N, L, 4)`` input maps onto the model's own input; a
        :class:`FeatureLayout` for models whose input is no DNA.
    input_length : int or None
        Sequence length the model takes (None when it accepts any length, or takes features).
    output_names : tuple of str
        One name per task (the last output axis), or a single name for a contact map
        ``(R, C)`` without a task axis.
    output_shape : tuple of int
        Output shape of one sequence: ``(T,)``, ``(B, T)`` for binned outputs, ``(R, C)`` or
        ``(R, C, T)`` for contact maps.
    batch_size : int
        Default rows per block for this model.
    source : dict
        Where it was loaded from (path, Kipoi type, ...), recorded with every result.
    extra_inputs : tuple of ExtraInput
        Inputs besides the main one, which every call needs (see :meth:`with_inputs`).
    input_names : tuple of str
        Every input's name, main one included, in the order the model takes them; empty for a
        model of one input.
    keyword_inputs : bool
        The model is called with its inputs by name (Kipoi's dict schema), else positionally.
    context : dict of str to numpy.ndarray, or None
        The extra inputs of the samples being explained, one row per sample (set by
        :meth:`with_inputs`).
    """

    name: str
    layout: InputLayout | FeatureLayout | TokenLayout
    input_length: int | None
    output_names: tuple[str, ...]
    output_shape: tuple[int, ...]
    batch_size: int = DEFAULT_BATCH_SIZE
    source: dict = field(default_factory=dict)
    extra_inputs: tuple[ExtraInput, ...] = ()
    input_names: tuple[str, ...] = ()
    keyword_inputs: bool = False
    context: dict | None = field(default=None, repr=False)

    framework = "none"
    differentiable = True

    @property
    def takes_dna(self) -> bool:
        """Whether the input is one-hot DNA (else a :class:`FeatureLayout` array)."""
        return isinstance(self.layout, InputLayout)

    @property
    def takes_tokens(self) -> bool:
        """Whether the main input is token ids (:class:`TokenLayout`)."""
        return isinstance(self.layout, TokenLayout)

    # ---- extra inputs ---------------------------------------------------------------------
    def with_inputs(self, extra: dict | None, n: int) -> "Model":
        """This model bound to the extra inputs of ``n`` samples, one row each.

        Every call of the returned model (and of its primitives, given :meth:`rows`) feeds each
        row of the main input the extra inputs of the sample it belongs to.

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
                             f"{', '.join(_described(s) for s in self.extra_inputs)}; "
                             + (f"missing {', '.join(map(repr, missing))}" if missing else "")
                             + ("; " if missing and unknown else "")
                             + (f"unknown {', '.join(map(repr, unknown))}" if unknown else ""))
        from ..sequences.features import read_features

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
        bound = copy.copy(self)
        bound.context = context
        return bound

    def rows(self, index) -> dict | None:
        """The bound extra inputs of the given samples (an index array or a slice), or None for
        a model of one input; pass it as ``context`` to the primitives."""
        if not self.extra_inputs:
            return None
        if self.context is None:
            raise self._missing_inputs()
        return {name: values[index] for name, values in self.context.items()}

    def _missing_inputs(self) -> InputError:
        """The error for a call without the extra inputs the model needs."""
        return InputError(f"model {self.name!r} takes extra inputs "
                          f"{', '.join(_described(s) for s in self.extra_inputs)}; give them "
                          "with inputs={name: array}")

    def _framework_inputs(self, main, extras: dict):
        """The model's inputs for one batch, already in its layout: ``main`` and the ``extras``
        by name; a list in the model's order, or a dict by name for a model called by
        keyword."""
        if not self.extra_inputs:
            return [main]
        values = {**extras,
                  next(name for name in self.input_names if name not in extras): main}
        if self.keyword_inputs:
            return {name: values[name] for name in self.input_names}
        return [values[name] for name in self.input_names]

    def differentiable_extras(self) -> list[ExtraInput]:
        """Extra inputs the gradient methods attribute to, in order."""
        return [spec for spec in self.extra_inputs if spec.differentiable]

    def require_dna(self, what: str) -> None:
        """Raise :class:`InputError` saying ``what`` needs a DNA model, if this is none."""
        if not self.takes_dna:
            raise InputError(f"{what} needs a model of one-hot DNA; model {self.name!r} takes "
                             f"features of shape {self.layout.shape} (kipoi_explain.entities "
                             "ranks the entities of such models)")

    # ---- framework primitives: one batch, public layout in, numpy out -----------------
    @abstractmethod
    def _forward(self, x: np.ndarray, context: dict | None = None) -> np.ndarray:
        """Outputs ``(n, *output_shape)`` for one batch; ``context`` holds the batch rows' extra
        inputs (see :meth:`rows`), for a model that takes some."""

    @abstractmethod
    def _gradient(self, x: np.ndarray, target: Target,
                  context: dict | None = None) -> tuple[np.ndarray, ...]:
        """``(d target / d x, target value)`` for one batch: ``(n, L, 4)`` and ``(n,)``; then
        the gradient with respect to each of :meth:`differentiable_extras`, if any."""

    def _deeplift(self, x: np.ndarray, ref: np.ndarray, target: Target,
                  context: dict | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """DeepLIFT multipliers ``(n, L, 4)``, ``f(x)`` and ``f(ref)`` for one batch (the extra
        inputs of ``context`` held the same for the inputs and the references)."""
        raise UnsupportedOperation(f"DeepLIFT is not available for {self.framework} models")

    @abstractmethod
    def _parameters(self) -> list[np.ndarray]:
        """Every weight array, in a fixed order (for the fingerprint)."""

    def layers(self) -> list[str]:
        """Names of the model's layers, in forward order."""
        raise UnsupportedOperation(f"{self.framework} models expose no layers")

    def _activations(self, x: np.ndarray, layer: str, context: dict | None = None) -> np.ndarray:
        raise UnsupportedOperation(f"{self.framework} models expose no activations")

    def conv_layers(self) -> list[ConvLayer]:
        """Convolutions that read the one-hot input directly (first-layer filters)."""
        raise UnsupportedOperation(f"{self.framework} models expose no convolution filters")

    # ---- structure and interventions, for diagnostics ------------------------------------
    def weighted_layers(self) -> list[str]:
        """Layers holding trainable weights, in the order the forward pass reaches them."""
        raise UnsupportedOperation(f"{self.framework} models expose no layers")

    def nonlinearities(self) -> dict[str, str]:
        """Layers whose output is an elementwise nonlinearity, in forward order: name -> kind.

        Kinds: ``relu`` (ReLU, ReLU6), ``sigmoid``, ``tanh``, or ``other`` (GELU, ELU, ...).
        """
        raise UnsupportedOperation(f"{self.framework} models expose no layers")

    def attention_layers(self) -> list[str]:
        """Multi-head attention layers, in forward order."""
        return []

    def embedding_layer(self) -> str:
        """The layer embedding the token ids of a model of tokens: where gradient methods
        attribute (see :mod:`kipoi_explain.methods.tokens`)."""
        raise UnsupportedOperation(f"{self.framework} models expose no embedding layer")

    def _bypassed(self, layer: str):
        """Context manager within which the elementwise nonlinearity ``layer`` passes its input
        through unchanged."""
        raise UnsupportedOperation(f"{self.framework} models cannot bypass a layer")

    def _get_weights(self, layer: str) -> list[np.ndarray]:
        """The trainable weight arrays of one layer."""
        raise UnsupportedOperation(f"{self.framework} models expose no weights")

    def _set_weights(self, layer: str, arrays: list[np.ndarray]) -> None:
        raise UnsupportedOperation(f"{self.framework} models expose no weights")

    def _ablated_forward(self, x: np.ndarray, layer: str, keep: np.ndarray, fill: np.ndarray,
                         context: dict | None = None) -> np.ndarray:
        """Outputs for one batch with ``layer``'s units replaced: ``a * keep + fill * (1 - keep)``.

        ``keep`` and ``fill`` are ``(units,)``, or ``(n, units)`` for one choice per row.
        """
        raise UnsupportedOperation(f"{self.framework} models do not support unit ablation")

    def _layer_gradient(self, x: np.ndarray, layer: str, target: Target,
                        values: np.ndarray | None = None, context: dict | None = None
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(d target / d output of layer, that output, target value)`` for one batch.

        With ``values`` (the layout :meth:`activations` returns), the layer outputs them instead
        of what it computes, and the gradient is taken there: integrated gradients at a layer.
        """
        raise UnsupportedOperation(f"{self.framework} models expose no layer gradients")

    def _layer_gradient_norms(self, x: np.ndarray, layers: list[str], target: Target,
                              context: dict | None = None) -> np.ndarray:
        """``(n, len(layers))`` L2 norm of d target / d (each layer's output) for one batch."""
        raise UnsupportedOperation(f"{self.framework} models expose no layer gradients")

    def _attention_qk(self, x: np.ndarray, layer: str,
                      context: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Projected queries and keys of an attention layer, each ``(n, heads, positions, d)``."""
        raise UnsupportedOperation(f"{self.framework} models expose no attention layers")

    def _attention_maps(self, x: np.ndarray, layers: list[str],
                        context: dict | None = None) -> tuple[np.ndarray, ...]:
        """Attention probabilities of each layer, each ``(n, heads, queries, keys)``."""
        raise UnsupportedOperation(f"{self.framework} models expose no attention layers")

    def _attention_tokens(self, x: np.ndarray, layer: str,
                          context: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The query and key inputs of an attention layer, each ``(n, tokens, features)``."""
        raise UnsupportedOperation(f"{self.framework} models expose no attention layers")

    # ---- public, batched API ------------------------------------------------------------
    def target(self, target=0, reduce: str = "sum", bins=None) -> Target:
        """Resolve an output index / name / list / ``"all"`` against this model's outputs."""
        if isinstance(target, Target):
            return target
        return resolve_target(target, self.output_names, self.output_shape, reduce, bins)

    def predict(self, x, batch_size: int | None = None, progress: bool = False) -> np.ndarray:
        """Predictions ``(N, *output_shape)`` for one-hot ``(N, L, 4)`` input."""
        x = self._check_input(x)
        out = run_batches(lambda lo, hi: self._forward(
            x[lo:hi], context=self.rows(slice(lo, hi))), len(x),
                          batch_size or self.batch_size, progress, "predict")
        return out.reshape(len(x), *self.output_shape)

    def gradient(self, x, target=0, batch_size: int | None = None,
                 progress: bool = False) -> np.ndarray:
        """Gradient ``(N, L, 4)`` of the target output with respect to the one-hot input."""
        x, spec = self._check_input(x), self.target(target)
        return run_batches(lambda lo, hi: self._gradient(
            x[lo:hi], spec, context=self.rows(slice(lo, hi)))[0], len(x),
                           batch_size or self.batch_size, progress, "gradient")

    def activations(self, x, layer: str, batch_size: int | None = None) -> np.ndarray:
        """Output of ``layer`` for each input; 3-D activations are ``(N, positions, units)``."""
        self.check_layers([layer])
        x = self._check_input(x)
        return run_batches(lambda lo, hi: self._activations(
            x[lo:hi], layer, context=self.rows(slice(lo, hi))), len(x),
                           batch_size or self.batch_size)

    def ablated_predict(self, x, layer: str, keep, fill=0.0,
                        batch_size: int | None = None) -> np.ndarray:
        """Predictions with some units of ``layer`` replaced by ``fill``.

        Parameters
        ----------
        x : numpy.ndarray
            ``(N, L, 4)`` one-hot input.
        layer : str
            Layer whose output units are replaced.
        keep : array of bool or float, ``(units,)`` or ``(N, units)``
            1 (True) keeps a unit's output, 0 replaces it; one row per input to ablate each
            input's own units.
        fill : float or array ``(units,)``
            Value a replaced unit outputs at every position (0, or its mean activation).
        """
        self.check_layers([layer])
        x = self._check_input(x)
        keep = np.asarray(keep, dtype=np.float32)
        fill = np.asarray(fill, dtype=np.float32)
        if keep.ndim == 2 and len(keep) != len(x):
            raise InputError(f"keep has {len(keep)} rows; expected one per input ({len(x)})")
        if fill.ndim and fill.shape != keep.shape[-1:]:
            raise InputError(f"fill has shape {fill.shape}: expected a number or one value per "
                             f"unit, {keep.shape[-1:]}")
        fill = np.array(np.broadcast_to(fill, keep.shape[-1:]))

        def block(lo, hi):
            rows = keep[lo:hi] if keep.ndim == 2 else keep
            return self._ablated_forward(x[lo:hi], layer, rows, fill,
                                        context=self.rows(slice(lo, hi)))

        out = run_batches(block, len(x), batch_size or self.batch_size)
        return out.reshape(len(x), *self.output_shape)

    def layer_gradient(self, x, layer: str, target=0, values=None,
                       batch_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Gradient of the target with respect to ``layer``'s output, and that output, each in
        the layout of :meth:`activations`; with ``values``, taken where the layer outputs
        ``values`` instead (see :meth:`_layer_gradient`)."""
        self.check_layers([layer])
        x, spec = self._check_input(x), self.target(target)
        if values is not None:
            values = np.asarray(values, dtype=np.float32)
            if len(values) != len(x):
                raise InputError(f"values has {len(values)} rows; expected one per input "
                                 f"({len(x)})")
        return run_batches(
            lambda lo, hi: self._layer_gradient(x[lo:hi], layer, spec,
                                                None if values is None else values[lo:hi],
                                                context=self.rows(slice(lo, hi)))[:2],
            len(x), batch_size or self.batch_size)

    def layer_gradient_norms(self, x, layers: list[str], target=0,
                             batch_size: int | None = None) -> np.ndarray:
        """``(N, len(layers))`` L2 norm of the target's gradient with respect to each layer's
        output, per sequence (0 for a layer the target does not depend on)."""
        self.check_layers(layers)
        x, spec = self._check_input(x), self.target(target)
        return run_batches(lambda lo, hi: self._layer_gradient_norms(
            x[lo:hi], layers, spec, context=self.rows(slice(lo, hi))),
                           len(x), batch_size or self.batch_size)

    def attention_qk(self, x, layer: str,
                     batch_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Queries and keys of attention layer ``layer`` after their projections, each
        ``(N, heads, positions, head_dim)``."""
        self.check_attention_layers([layer])
        x = self._check_input(x)
        return run_batches(lambda lo, hi: self._attention_qk(
            x[lo:hi], layer, context=self.rows(slice(lo, hi))), len(x),
                           batch_size or self.batch_size)

    def attention_maps(self, x, layers: list[str], batch_size: int | None = None,
                       progress: bool = False) -> tuple[np.ndarray, ...]:
        """Attention probabilities of each of ``layers``, each ``(N, heads, queries, keys)``."""
        self.check_attention_layers(layers)
        x = self._check_input(x)
        return run_batches(lambda lo, hi: tuple(self._attention_maps(
            x[lo:hi], layers, context=self.rows(slice(lo, hi)))), len(x),
                           batch_size or self.batch_size, progress, "attention")

    def check_attention_layers(self, names) -> None:
        """Raise :class:`InputError` naming any of ``names`` that is not an attention layer."""
        unknown = [name for name in names if name not in self.attention_layers()]
        if unknown:
            raise InputError(f"layer(s) {', '.join(map(repr, unknown))}: not an attention "
                             "layer; attention layers are "
                             f"{', '.join(self.attention_layers()) or 'none'}")

    def output_activation(self) -> str | None:
        """The layer applying an elementwise nonlinearity (sigmoid, ...) to the model's output,
        if the model ends in one."""
        kinds = self.nonlinearities()
        if not kinds:
            return None
        last = list(kinds)[-1]
        x, context = self._probe(), self._probe_context()
        out, act = self._forward(x, context), self._activations(x, last, context)
        return last if act.shape == out.shape and np.allclose(act, out) else None

    @contextlib.contextmanager
    def logits(self):
        """Within the block, the model outputs what enters its final nonlinearity (the logits
        of a sigmoid output); a model without one is unchanged."""
        layer = self.output_activation()
        if layer is None:
            yield self
            return
        with self._bypassed(layer):
            yield self

    @contextlib.contextmanager
    def randomized(self, layers: list[str], seed: int = 0):
        """Within the block, ``layers`` have re-drawn weights (restored afterwards).

        Each trainable array is replaced by normal draws with the array's own mean and standard
        deviation: its scale survives, what training put in it does not (Adebayo et al. 2018).
        """
        unknown = [name for name in layers if name not in self.weighted_layers()]
        if unknown:
            raise InputError(f"layer(s) {', '.join(unknown)}: no such layer with trainable "
                             f"weights; those are {', '.join(self.weighted_layers())}")
        rng = np.random.default_rng(seed)
        saved = {name: self._get_weights(name) for name in layers}
        try:
            for name in layers:
                self._set_weights(name, [rng.normal(w.mean(), w.std(), w.shape).astype(w.dtype)
                                         for w in saved[name]])
            yield self
        finally:
            for name, arrays in saved.items():
                self._set_weights(name, arrays)

    def fingerprint(self) -> str:
        """SHA-256 of the weights: identifies exactly which model produced a result."""
        digest = hashlib.sha256()
        for array in self._parameters():
            digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()

    def describe(self) -> dict:
        """Metadata recorded with every result."""
        return {"name": self.name, "framework": self.framework,
                "input_length": self.input_length, "output_names": list(self.output_names),
                "output_shape": list(self.output_shape), **self.layout.describe(),
                "fingerprint": self.fingerprint(), **self.source}

    def check_layers(self, names) -> None:
        """Raise :class:`InputError` naming any of ``names`` that is not a layer of the model."""
        unknown = [name for name in names if name not in self.layers()]
        if unknown:
            raise InputError(f"layer(s) {', '.join(map(repr, unknown))}: no such layer; layers "
                             f"are {', '.join(self.layers())}")

    def _probe(self, n: int = 2) -> np.ndarray:
        """A fixed random input batch in the public layout, for checks that run the model once."""
        if self.takes_dna:
            return probe(self.input_length, n)
        high = len(self.layout.vocabulary) if self.takes_tokens else 3
        return np.random.default_rng(0).integers(0, high, size=(n, *self.layout.shape)).astype(
            np.float32)

    def _probe_context(self, n: int = 2) -> dict | None:
        """Extra inputs for :meth:`_probe`'s batch (zeros: token id 0 exists in any vocabulary)."""
        if not self.extra_inputs:
            return None
        return {spec.name: np.zeros((n, *spec.shape), dtype=np.float32)
                for spec in self.extra_inputs}

    def _check_input(self, x) -> np.ndarray:
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


def _described(spec: ExtraInput) -> str:
    return f"{spec.name!r} ({spec.kind}, {', '.join(map(str, spec.shape))})"


def probe(length: int | None, n: int = 2) -> np.ndarray:
    """A fixed random one-hot batch ``(n, length, 4)`` for checks that run a model once."""
    index = np.random.default_rng(0).integers(0, 4, size=(n, length or 64))
    return np.eye(4, dtype=np.float32)[index]


def output_names_for(names, output_shape: tuple[int, ...]) -> tuple[str, ...]:
    """Validate user-given task names, or make ``output_0``, ``output_1``, ... .

    A single name for a two-axis output names one contact map ``(R, C)`` with no task axis
    (see :mod:`kipoi_explain.targets`).
    """
    n_tasks = output_shape[-1]
    if names is None:
        return tuple(f"output_{i}" for i in range(n_tasks))
    names = tuple(str(n) for n in names)
    if len(names) == 1 and len(output_shape) == 2:
        return names
    if len(names) != n_tasks:
        raise InputError(f"output_names has {len(names)} names; the model has {n_tasks} outputs")
    return names
