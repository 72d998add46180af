"""Samples in, for any kind of model: the one place that decides between DNA, features and
token ids.

The library (:func:`kipoi_explain.prepare.prepare`), the server and the client all read samples
here, from the model's input layout alone, so a model of features reads a table the same way
in every one of them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import InputError
from .layouts import FeatureLayout, InputLayout, TokenLayout
from .results import Interval
from .sequences import SequenceSet, as_sequences
from .sequences.features import read_features
from .sequences.tokens import read_tokens

#: The kinds of main input, as :meth:`~kipoi_explain.layouts.InputLayout.describe` names them.
DNA, FEATURES, TOKENS = "dna", "features", "tokens"


def input_kind(layout) -> str:
    """``dna``, ``features`` or ``tokens``: what a model of ``layout`` reads."""
    if isinstance(layout, InputLayout):
        return DNA
    if isinstance(layout, TokenLayout):
        return TOKENS
    if isinstance(layout, FeatureLayout):
        return FEATURES
    raise InputError(f"unknown input layout {type(layout).__name__}")


@dataclass
class Samples:
    """Samples read for a model, in the public layout.

    Attributes
    ----------
    x : numpy.ndarray
        ``(N, L, 4)`` one-hot DNA, ``(N, *shape)`` features, or ``(N, length)`` token ids
        (float32 holding integers).
    names : list of str
        One name per sample.
    intervals : list of Interval or None
        Genomic source of each DNA sequence, when read from intervals.
    """

    x: np.ndarray
    names: list[str]
    intervals: list[Interval] | None = None

    def __len__(self) -> int:
        return len(self.x)


def read_samples(layout, source, length: int | None = None, ambiguous: str = "uniform",
                 feature_names=None, model_name: str = "", what: str = "") -> Samples:
    """Read ``source`` as the samples of a model whose main input has ``layout``.

    Parameters
    ----------
    layout : InputLayout, FeatureLayout or TokenLayout
    source
        DNA: anything :func:`~kipoi_explain.sequences.as_sequences` takes. Features: an array
        ``(N, *shape)``, a ``.npy`` file or a TSV/CSV table (see
        :func:`~kipoi_explain.sequences.features.read_features`). Tokens: anything
        :func:`~kipoi_explain.sequences.tokens.read_tokens` takes.
    length : int, optional
        The model's input length (DNA).
    ambiguous : {"uniform", "zeros", "error"}
        Encoding of IUPAC codes such as N in DNA strings.
    feature_names : sequence of str, optional
        The model's input feature names, in input order: a table's columns must be these.
    model_name, what : str
        The model and the operation, for messages.

    Raises
    ------
    InputError
        Naming the record, sample or column that does not fit, or DNA given to a model of
        features.
    """
    kind = input_kind(layout)
    what = f"{what}: " if what else ""
    if kind == DNA:
        if isinstance(source, Samples):
            raise InputError(f"{what}features: model {model_name!r} takes one-hot DNA; give "
                             "sequences")
        sequences = as_sequences(source, length, ambiguous)
        return Samples(sequences.onehot, list(sequences.names), sequences.intervals)
    if isinstance(source, SequenceSet):
        raise InputError(f"{what}model {model_name!r} takes {kind} of shape "
                         f"{tuple(layout.shape)}, not DNA sequences; give an array "
                         f"(N, {', '.join(map(str, layout.shape))}), a .npy file or a "
                         + ("text file of tokens" if kind == TOKENS else "TSV/CSV table"))
    if isinstance(source, Samples):
        # Already read (a server's request): checked again, its names kept.
        x = read_tokens(source.x, layout)[0] if kind == TOKENS else \
            read_features(source.x, layout.shape)[0]
        return Samples(x, list(source.names))
    if kind == TOKENS:
        x, names = read_tokens(source, layout)
    else:
        x, names = read_features(source, layout.shape, feature_names)
    return Samples(x, list(names))
