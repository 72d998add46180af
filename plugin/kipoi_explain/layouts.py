"""How a model's inputs are laid out, and the public layout every method speaks.

The public side always speaks one-hot float32 ``(N, L, 4)``, alphabet A, C, G, T. An
:class:`InputLayout` converts to and from the model's own layout (channels first, another base
order, an extra singleton axis); a :class:`FeatureLayout` or :class:`TokenLayout` describes a
main input that is no DNA, and an :class:`ExtraInput` any input besides the main one.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import InputError
from .sequences import ALPHABET


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
    ``activation`` names the layer whose output is the first elementwise nonlinearity applied to
    the filters (batch normalisation and dropout in between included; the convolution itself
    when its activation is fused), or is None when the backend found none. Filter motifs are
    read from that layer's output, where a threshold at a fraction of the maximum activation
    means what Basset and Koo & Ploenzke (2021) meant by it.
    """

    name: str
    weights: np.ndarray
    bias: np.ndarray | None
    stride: int = 1
    dilation: int = 1
    padding: str | int = "valid"
    activation: str | None = None


def probe(length: int | None, n: int = 2) -> np.ndarray:
    """A fixed random one-hot batch ``(n, length, 4)`` for checks that run a model once."""
    index = np.random.default_rng(0).integers(0, 4, size=(n, length or 64))
    return np.eye(4, dtype=np.float32)[index]


def probe_inputs(layout, length: int | None, extra_inputs=(), n: int = 2
                 ) -> tuple[np.ndarray, dict | None]:
    """A fixed random batch of ``n`` samples in the public layout, and its extra inputs (zeros:
    token id 0 exists in any vocabulary; None for a model of one input), for checks that run a
    model once."""
    if isinstance(layout, InputLayout):
        x = probe(length, n)
    else:
        high = len(layout.vocabulary) if isinstance(layout, TokenLayout) else 3
        x = np.random.default_rng(0).integers(0, high, size=(n, *layout.shape)).astype(
            np.float32)
    context = {spec.name: np.zeros((n, *spec.shape), dtype=np.float32)
               for spec in extra_inputs} or None
    return x, context


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
