"""Attention maps of transformers, per layer and head, with tokens placed on the input bases.

The model-interpretability counterpart of :func:`~kipoi_explain.explain`: what each token of an
attention layer attends to (Enformer's row of the transcription start site, EpiBERT's mean over
layers and heads, attention rollout).
"""
from __future__ import annotations

import numpy as np

from .._version import __version__
from ..engine import run_batches
from ..errors import InputError, MissingCapability
from ..prepare import prepare
from ..results import AttentionMaps
from ..samples import DNA
from .positions import TokenPositions, token_positions
from .reductions import REDUCTIONS, query_rows, reduce_maps, rollout

__all__ = ["REDUCTIONS", "TokenPositions", "attention", "attention_layers", "maps",
           "queries_and_keys", "rollout"]


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
        Attention layers (names, or indices into :func:`attention_layers`); default all.
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
    work = prepare(model, seqs, what="attention maps", accepts=(DNA,), inputs=inputs,
                   batch_size=batch_size, progress=progress, ambiguous=ambiguous)
    model, x, batch_size = work.model, work.x, work.batch_size
    if reduce not in REDUCTIONS:
        raise InputError(f"reduce={reduce!r}: expected one of "
                         f"{', '.join(str(k) for k in REDUCTIONS)}")
    names = _layers(model, layers)
    per_layer = maps(model, x, names, batch_size, progress)
    shapes = {name: m.shape[1:] for name, m in zip(names, per_layer)}
    if len(set(shapes.values())) > 1:
        raise InputError("layers with different map shapes (heads, queries, keys): "
                         + ", ".join(f"{name} {shape}" for name, shape in shapes.items())
                         + "; choose layers of one shape (layers=...)")
    probabilities = np.stack(per_layer, axis=1)
    head_index = _heads(heads, probabilities.shape[2])
    probabilities = np.ascontiguousarray(probabilities[:, :, head_index])
    query_positions, key_positions = token_positions(model, names[0], probabilities.shape[3],
                                                     probabilities.shape[4], batch_size)
    reduced = reduce_maps(probabilities, reduce)
    tokens = None
    if query is not None:
        tokens = query_positions.token_at(_query(query, len(x), x.shape[1]))
        reduced = query_rows(reduced, tokens)
    return AttentionMaps(
        maps=probabilities, layers=names, heads=head_index, reduce=reduce, reduced=reduced,
        query=tokens, query_positions=query_positions, key_positions=key_positions,
        predictions=model.predict(x, batch_size), inputs=x, names=work.samples.names,
        intervals=work.samples.intervals, model=model.describe(),
        settings={"layers": names, "heads": head_index, "reduce": reduce,
                  "query": None if query is None else np.asarray(query).tolist(),
                  "ambiguous": ambiguous, "batch_size": batch_size, "version": __version__})


def attention_layers(model) -> list[str]:
    """The model's attention layers, in forward order (none for a model without the
    ``attention`` capability)."""
    return [] if model.attention is None else model.attention.attention_layers()


def check_layers(model, names) -> None:
    """Raise :class:`InputError` naming any of ``names`` that is not an attention layer."""
    available = attention_layers(model)
    unknown = [name for name in names if name not in available]
    if unknown:
        raise InputError(f"layer(s) {', '.join(map(repr, unknown))}: not an attention "
                         f"layer; attention layers are {', '.join(available) or 'none'}")


def maps(model, x, layers: list[str], batch_size: int | None = None,
         progress: bool = False) -> tuple[np.ndarray, ...]:
    """Attention probabilities of each of ``layers``, each ``(N, heads, queries, keys)``."""
    check_layers(model, layers)
    x = model.check_input(x)
    return run_batches(lambda lo, hi: tuple(model.attention.attention_maps(
        x[lo:hi], layers, context=model.rows(slice(lo, hi)))), len(x),
                       batch_size or model.batch_size, progress, "attention")


def queries_and_keys(model, x, layer: str,
                     batch_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Queries and keys of attention layer ``layer`` after their projections, each
    ``(N, heads, positions, head_dim)``."""
    check_layers(model, [layer])
    x = model.check_input(x)
    return run_batches(lambda lo, hi: model.attention.queries_and_keys(
        x[lo:hi], layer, context=model.rows(slice(lo, hi))), len(x),
                       batch_size or model.batch_size)


def _layers(model, layers) -> list[str]:
    available = attention_layers(model)
    if not available:
        raise MissingCapability(f"model {model.name!r} has no attention layers "
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
    check_layers(model, names)
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
