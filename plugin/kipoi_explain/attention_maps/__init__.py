"""Attention maps of transformers, per layer and head, with tokens placed on the input bases.

The model-interpretability counterpart of :func:`~kipoi_explain.explain`: what each token of an
attention layer attends to (Enformer's row of the transcription start site, EpiBERT's mean over
layers and heads, attention rollout).
"""
from __future__ import annotations

import numpy as np

from .._version import __version__
from ..adapters import load_model
from ..errors import InputError
from ..results import AttentionMaps
from ..sequences import as_sequences
from .positions import TokenPositions, token_positions
from .reductions import REDUCTIONS, query_rows, reduce_maps, rollout

__all__ = ["REDUCTIONS", "TokenPositions", "attention", "rollout"]


def attention(model, seqs, layers=None, heads=None, reduce: str | None = None, query=None,
              batch_size: int | None = None, progress: bool = False,
              ambiguous: str = "uniform", inputs: dict | None = None) -> AttentionMaps:
    """Attention probabilities of a model's attention layers for some sequences.

    Parameters
    ----------
    model : Model or anything :func:`~kipoi_explain.load_model` accepts
        A PyTorch model with ``nn.MultiheadAttention`` layers (``nn.TransformerEncoderLayer``
        included), a Keras model with ``MultiHeadAttention`` layers, or either with a custom
        attention module declared by :func:`~kipoi_explain.register_attention`.
    seqs : SequenceSet, str, list of str, numpy.ndarray or FASTA path
        See :func:`~kipoi_explain.sequences.as_sequences`.
    layers : list of str or int, optional
        Attention layers (names, or indices into ``model.attention_layers()``); default all.
        They must share one map shape.
    heads : list of int, optional
        Heads to keep (default all).
    reduce : {None, "heads", "layers", "mean", "rollout"}
        See :data:`~kipoi_explain.attention_maps.REDUCTIONS`. ``rollout`` combines the chosen
        layers in forward order.
    query : int or array of int, optional
        A base position of the input (e.g. a TSS), or one per sequence: ``reduced`` then keeps
        only the row of the query token centred nearest it.
    batch_size : int, optional
        Sequences per block (default: the model's).
    progress : bool
        Show a progress bar.
    ambiguous : {"uniform", "zeros", "error"}
        Encoding of IUPAC codes such as N in string input.
    inputs : dict of str to array, optional
        The model's extra inputs by name, one row per sequence (see
        :func:`~kipoi_explain.explain`).

    Returns
    -------
    AttentionMaps
        ``.maps`` ``(N, layers, heads, queries, keys)``, ``.reduced``, and the tokens' base
        coordinates.

    Raises
    ------
    InputError
        For unknown layers or heads, layers of different map shapes, a query outside the input,
        or malformed sequences.
    UnsupportedOperation
        When an attention layer's maps cannot be read.
    """
    model = load_model(model)
    model.require_dna("attention maps")
    if reduce not in REDUCTIONS:
        raise InputError(f"reduce={reduce!r}: expected one of "
                         f"{', '.join(str(k) for k in REDUCTIONS)}")
    names = _layers(model, layers)
    sequences = as_sequences(seqs, model.input_length, ambiguous)
    x, batch_size = sequences.onehot, batch_size or model.batch_size
    model = model.with_inputs(inputs, len(x))
    per_layer = model.attention_maps(x, names, batch_size, progress)
    shapes = {name: m.shape[1:] for name, m in zip(names, per_layer)}
    if len(set(shapes.values())) > 1:
        raise InputError("layers with different map shapes (heads, queries, keys): "
                         + ", ".join(f"{name} {shape}" for name, shape in shapes.items())
                         + "; choose layers of one shape (layers=...)")
    maps = np.stack(per_layer, axis=1)
    head_index = _heads(heads, maps.shape[2])
    maps = np.ascontiguousarray(maps[:, :, head_index])
    query_positions, key_positions = token_positions(model, names[0], maps.shape[3],
                                                     maps.shape[4], batch_size)
    reduced = reduce_maps(maps, reduce)
    tokens = None
    if query is not None:
        tokens = query_positions.token_at(_query(query, len(x), x.shape[1]))
        reduced = query_rows(reduced, tokens)
    return AttentionMaps(
        maps=maps, layers=names, heads=head_index, reduce=reduce, reduced=reduced,
        query=tokens, query_positions=query_positions, key_positions=key_positions,
        predictions=model.predict(x, batch_size), inputs=x, names=sequences.names,
        intervals=sequences.intervals, model=model.describe(),
        settings={"layers": names, "heads": head_index, "reduce": reduce,
                  "query": None if query is None else np.asarray(query).tolist(),
                  "ambiguous": ambiguous, "batch_size": batch_size, "version": __version__})


def _layers(model, layers) -> list[str]:
    available = model.attention_layers()
    if not available:
        raise InputError(f"model {model.name!r} has no attention layers "
                         "(see kipoi_explain.register_attention for custom modules)")
    if layers is None:
        return available
    layers = [layers] if isinstance(layers, (str, int)) else list(layers)
    names = []
    for layer in layers:
        if isinstance(layer, (int, np.integer)):
            if not -len(available) <= layer < len(available):
                raise InputError(f"attention layer index {layer}: the model has "
                                 f"{len(available)} attention layers")
            layer = available[layer]
        names.append(layer)
    model.check_attention_layers(names)
    # Rollout and the layers axis read in forward order, whatever order they were asked in.
    return sorted(dict.fromkeys(names), key=available.index)


def _heads(heads, n_heads: int) -> list[int]:
    if heads is None:
        return list(range(n_heads))
    heads = [heads] if isinstance(heads, (int, np.integer)) else list(heads)
    bad = [h for h in heads if not isinstance(h, (int, np.integer)) or not 0 <= h < n_heads]
    if bad or not heads:
        raise InputError(f"heads={heads}: expected indices 0 to {n_heads - 1}")
    return [int(h) for h in heads]


def _query(query, n: int, length: int) -> np.ndarray:
    positions = np.asarray(query)
    if positions.ndim == 0:
        positions = np.full(n, positions)
    if positions.shape != (n,) or not np.issubdtype(positions.dtype, np.integer):
        raise InputError(f"query={query!r}: expected one base position or one per sequence "
                         f"({n} integers)")
    outside = np.flatnonzero((positions < 0) | (positions >= length))
    if len(outside):
        raise InputError(f"query position {positions[outside[0]]} of sequence {outside[0]}: "
                         f"outside the input (0 to {length - 1})")
    return positions
