"""Queries and keys of ``torch.nn.MultiheadAttention`` layers, as the layer computes them."""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedOperation


def is_attention(module) -> bool:
    import torch

    return isinstance(module, torch.nn.MultiheadAttention)


class _Captured(Exception):
    """Stops the forward pass once the attention layer's inputs are in hand."""


def queries_and_keys(model, layer, inputs) -> tuple[np.ndarray, np.ndarray]:
    """Run ``model`` on ``inputs`` and return ``layer``'s projected queries and keys, each
    ``(n, heads, positions, head_dim)``.

    The queries are not scaled by ``1 / sqrt(head_dim)``. Keys include the layer's learnt
    ``bias_k`` and the zero key of ``add_zero_attn`` when it has them, so that
    ``softmax(q k^T / sqrt(head_dim))`` is the attention map the layer computes (without masks).
    When the forward pass calls ``layer`` several times, its first call is used.
    """
    import torch

    captured = {}

    def capture(module, args, kwargs):
        # forward(query, key, value, ...): either may come positionally or by keyword.
        captured.update(zip(("query", "key"), args))
        captured.update({name: kwargs[name] for name in ("query", "key") if name in kwargs})
        raise _Captured

    handle = layer.register_forward_pre_hook(capture, with_kwargs=True)
    try:
        with torch.no_grad():
            model(inputs)
    except _Captured:
        pass
    finally:
        handle.remove()
    if not captured:
        raise UnsupportedOperation("the attention layer is not called by the model's forward pass")
    with torch.no_grad():
        queries, keys = _project(layer, captured["query"], captured["key"])
    return queries.cpu().numpy(), keys.cpu().numpy()


def _project(layer, query, key):
    """The layer's query and key projections, split into heads: ``(n, heads, L, head_dim)``."""
    import torch
    import torch.nn.functional as F

    if query.dim() != 3:
        raise UnsupportedOperation(f"attention input of {query.dim()} dimensions: expected "
                                   "batched (3-D) queries and keys")
    if not layer.batch_first:
        query, key = query.transpose(0, 1), key.transpose(0, 1)
    embed = layer.embed_dim
    if layer._qkv_same_embed_dim:
        w_query, w_key = layer.in_proj_weight[:embed], layer.in_proj_weight[embed:2 * embed]
    else:
        w_query, w_key = layer.q_proj_weight, layer.k_proj_weight
    bias = layer.in_proj_bias
    b_query, b_key = (None, None) if bias is None else (bias[:embed], bias[embed:2 * embed])
    queries, keys = F.linear(query, w_query, b_query), F.linear(key, w_key, b_key)
    n = keys.shape[0]
    if layer.bias_k is not None:
        keys = torch.cat([keys, layer.bias_k.reshape(1, 1, embed).expand(n, 1, embed)], dim=1)
    if layer.add_zero_attn:
        keys = torch.cat([keys, keys.new_zeros(n, 1, embed)], dim=1)
    return _heads(queries, layer.num_heads), _heads(keys, layer.num_heads)


def _heads(projected, heads: int):
    n, length, embed = projected.shape
    return projected.reshape(n, length, heads, embed // heads).transpose(1, 2)
