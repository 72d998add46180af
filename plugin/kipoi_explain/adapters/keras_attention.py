"""Queries and keys of ``keras.layers.MultiHeadAttention`` layers, as the layer computes them."""
from __future__ import annotations

import inspect

import numpy as np

from ..errors import UnsupportedOperation


def is_attention(layer) -> bool:
    import keras

    return isinstance(layer, keras.layers.MultiHeadAttention)


def queries_and_keys(model, layer, inputs) -> tuple[np.ndarray, np.ndarray]:
    """Run ``model`` on ``inputs`` (the model's layout) and return ``layer``'s projected queries
    and keys, each ``(n, heads, positions, head_dim)``.

    The queries are not scaled by ``1 / sqrt(head_dim)``: ``softmax(q k^T / sqrt(head_dim))`` is
    the attention map the layer computes (without masks). The layer's inputs are read from its
    first call in the functional graph.
    """
    import keras

    query, key = _query_and_key_tensors(layer)
    received = keras.Model(model.inputs, [query, key])([inputs], training=False)
    queries = layer._query_dense(received[0])
    keys = layer._key_dense(received[1])
    if len(queries.shape) != 4:
        raise UnsupportedOperation(f"attention layer {layer.name!r} attends over "
                                   f"{len(queries.shape) - 3} axes; only sequences "
                                   "(batch, positions, features) are supported")
    # EinsumDense gives (n, positions, heads, head_dim).
    return (np.asarray(queries).transpose(0, 2, 1, 3),
            np.asarray(keys).transpose(0, 2, 1, 3))


def _query_and_key_tensors(layer):
    """The symbolic query and key the layer receives in the model's graph (key defaults to
    value, as in the layer's ``call``)."""
    if not layer._inbound_nodes:
        raise UnsupportedOperation(f"attention layer {layer.name!r} is not part of a functional "
                                   "graph; its queries and keys cannot be read")
    arguments = layer._inbound_nodes[0].arguments
    bound = inspect.signature(layer.call).bind(*arguments.args, **arguments.kwargs).arguments
    key = bound.get("key")
    return bound["query"], bound["value"] if key is None else key
