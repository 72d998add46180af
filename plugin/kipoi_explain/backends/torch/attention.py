"""Attention layers of PyTorch models: the arguments each receives, its attention probabilities,
and its projected queries and keys."""
from __future__ import annotations

import contextlib
import threading

import numpy as np
import torch
import torch.nn.functional as F

from ...attention_registry import hook_for
from ...errors import UnsupportedOperation


def is_attention(module) -> bool:

    return isinstance(module, torch.nn.MultiheadAttention) or hook_for(module) is not None


class _Captured(Exception):
    """Stops the forward pass once every wanted attention layer's inputs are in hand."""


_FASTPATH_LOCK = threading.Lock()
_FASTPATH_USERS = [0, True]     # readers inside the block, the flag before the first entered


@contextlib.contextmanager
def _layers_called():
    """Within the block, ``nn.TransformerEncoderLayer`` calls its ``self_attn`` module: its
    fused inference fast path would compute attention without calling it.

    The flag is process-wide and the server reads maps from one thread per device: the first
    reader in switches it off, the last one out restores it.
    """

    with _FASTPATH_LOCK:
        if _FASTPATH_USERS[0] == 0:
            _FASTPATH_USERS[1] = torch.backends.mha.get_fastpath_enabled()
            torch.backends.mha.set_fastpath_enabled(False)
        _FASTPATH_USERS[0] += 1
    try:
        yield
    finally:
        with _FASTPATH_LOCK:
            _FASTPATH_USERS[0] -= 1
            if _FASTPATH_USERS[0] == 0:
                torch.backends.mha.set_fastpath_enabled(_FASTPATH_USERS[1])


def call_arguments(run, layers: dict) -> dict[str, tuple[tuple, dict]]:
    """Run the forward pass ``run()`` and return the ``(args, kwargs)`` each of ``layers``
    (name -> module) received on its first call. The pass stops once all have been called."""

    captured = {}

    def capture(name, args, kwargs):
        captured.setdefault(name, (args, kwargs))
        if len(captured) == len(layers):
            raise _Captured

    handles = [module.register_forward_pre_hook(
        lambda module, args, kwargs, name=name: capture(name, args, kwargs), with_kwargs=True)
        for name, module in layers.items()]
    try:
        with torch.no_grad(), _layers_called():
            run()
    except _Captured:
        pass
    finally:
        for handle in handles:
            handle.remove()
    missing = [name for name in layers if name not in captured]
    if missing:
        raise UnsupportedOperation(f"attention layer(s) {', '.join(missing)} are not called by "
                                   "the model's forward pass")
    return captured


def probabilities(module, args, kwargs) -> np.ndarray:
    """Attention probabilities ``(n, heads, queries, keys)`` of one call of ``module``."""

    hook = hook_for(module)
    with torch.no_grad(), _layers_called():
        if hook is not None:
            weights = hook.probabilities(module, args, kwargs)
        else:
            # The layer itself computes the map with every mask and bias it was called with.
            weights = module(*args, **{**kwargs, "need_weights": True,
                                       "average_attn_weights": False})[1]
    weights = torch.as_tensor(weights)
    if weights.dim() != 4:
        raise UnsupportedOperation(f"attention probabilities of shape {tuple(weights.shape)}: "
                                   "expected (n, heads, queries, keys)")
    return weights.float().cpu().numpy()


def token_inputs(module, args, kwargs) -> tuple[np.ndarray, np.ndarray]:
    """The query and key inputs of one call, each ``(n, tokens, features)``."""
    hook = hook_for(module)
    if hook is not None:
        query, key = hook.token_inputs(module, args, kwargs)
    else:
        query, key = _query_and_key(module, args, kwargs)
        if not module.batch_first:
            query, key = query.transpose(0, 1), key.transpose(0, 1)
    return query.detach().float().cpu().numpy(), key.detach().float().cpu().numpy()


def queries_and_keys(module, args, kwargs) -> tuple[np.ndarray, np.ndarray]:
    """Projected queries and keys of one call of an ``nn.MultiheadAttention``, each
    ``(n, heads, positions, head_dim)``.

    The queries are not scaled by ``1 / sqrt(head_dim)``. Keys include the layer's learnt
    ``bias_k`` and the zero key of ``add_zero_attn`` when it has them, so that
    ``softmax(q k^T / sqrt(head_dim))`` is the attention map the layer computes (without masks).
    """

    if hook_for(module) is not None:
        raise UnsupportedOperation(f"{type(module).__name__} is a registered custom attention "
                                   "module: its queries and keys cannot be read")
    query, key = _query_and_key(module, args, kwargs)
    with torch.no_grad():
        queries, keys = _project(module, query, key)
    return queries.cpu().numpy(), keys.cpu().numpy()


def _query_and_key(module, args, kwargs):
    # forward(query, key, value, ...): either may come positionally or by keyword.
    given = dict(zip(("query", "key"), args))
    given.update({name: kwargs[name] for name in ("query", "key") if name in kwargs})
    if given["query"].dim() != 3:
        raise UnsupportedOperation(f"attention input of {given['query'].dim()} dimensions: "
                                   "expected batched (3-D) queries and keys")
    return given["query"], given["key"]


def _project(layer, query, key):
    """The layer's query and key projections, split into heads: ``(n, heads, L, head_dim)``."""

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
