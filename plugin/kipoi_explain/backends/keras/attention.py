"""Attention layers of Keras models: the arguments each receives, its attention probabilities,
and its projected queries and keys."""
from __future__ import annotations

import inspect

import keras
import numpy as np

from ...attention_registry import hook_for
from ...errors import UnsupportedOperation


def is_attention(layer) -> bool:

    return isinstance(layer, keras.layers.MultiHeadAttention) or hook_for(layer) is not None


def call_arguments(model, layers: list, inputs) -> dict[str, tuple[tuple, dict]]:
    """Run ``model`` on ``inputs`` (the model's layout) and return the concrete ``(args,
    kwargs)`` each of ``layers`` received on its first call in the functional graph."""

    nodes = {}
    for layer in layers:
        if not layer._inbound_nodes:
            raise UnsupportedOperation(f"attention layer {layer.name!r} is not part of a "
                                       "functional graph; its inputs cannot be read")
        nodes[layer.name] = layer._inbound_nodes[0].arguments
    tensors = list({id(t): t for node in nodes.values() for t in node.keras_tensors}.values())
    values = keras.Model(model.inputs, tensors)([inputs], training=False)
    values = values if isinstance(values, (list, tuple)) else [values]
    filled = {id(t): v for t, v in zip(tensors, values)}
    return {name: node.fill_in(filled) for name, node in nodes.items()}


def probabilities(layer, args, kwargs) -> np.ndarray:
    """Attention probabilities ``(n, heads, queries, keys)`` of one call of ``layer``."""
    hook = hook_for(layer)
    if hook is not None:
        weights = np.asarray(hook.probabilities(layer, args, kwargs))
    else:
        # The layer itself computes the map with every mask it was called with.
        weights = np.asarray(layer(*args, **{**kwargs, "return_attention_scores": True,
                                             "training": False})[1])
    if weights.ndim != 4:
        raise UnsupportedOperation(f"attention layer {layer.name!r} gives maps of shape "
                                   f"{weights.shape}; only attention over one sequence axis, "
                                   "(n, heads, queries, keys), is supported")
    return weights.astype(np.float32)


def token_inputs(layer, args, kwargs) -> tuple[np.ndarray, np.ndarray]:
    """The query and key inputs of one call, each ``(n, tokens, features)``."""
    hook = hook_for(layer)
    if hook is not None:
        query, key = hook.token_inputs(layer, args, kwargs)
    else:
        query, key = _query_and_key(layer, args, kwargs)
    return np.asarray(query, dtype=np.float32), np.asarray(key, dtype=np.float32)


def queries_and_keys(layer, args, kwargs) -> tuple[np.ndarray, np.ndarray]:
    """Projected queries and keys of one call of a ``MultiHeadAttention``, each
    ``(n, heads, positions, head_dim)``.

    The queries are not scaled by ``1 / sqrt(head_dim)``: ``softmax(q k^T / sqrt(head_dim))`` is
    the attention map the layer computes (without masks).
    """
    if hook_for(layer) is not None:
        raise UnsupportedOperation(f"{type(layer).__name__} is a registered custom attention "
                                   "layer: its queries and keys cannot be read")
    query, key = _query_and_key(layer, args, kwargs)
    queries, keys = layer._query_dense(query), layer._key_dense(key)
    if len(queries.shape) != 4:
        raise UnsupportedOperation(f"attention layer {layer.name!r} attends over "
                                   f"{len(queries.shape) - 3} axes; only sequences "
                                   "(batch, positions, features) are supported")
    # EinsumDense gives (n, positions, heads, head_dim).
    return (np.asarray(queries).transpose(0, 2, 1, 3),
            np.asarray(keys).transpose(0, 2, 1, 3))


def _query_and_key(layer, args, kwargs):
    """The query and key the layer received (key defaults to value, as in ``call``)."""
    bound = inspect.signature(layer.call).bind(*args, **kwargs).arguments
    key = bound.get("key")
    return bound["query"], bound["value"] if key is None else key
