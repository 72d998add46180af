"""Reductions of attention maps ``(N, layers, heads, queries, keys)``."""
from __future__ import annotations

import numpy as np

from ..errors import InputError

#: ``reduce`` choices of :func:`kipoi_explain.attention` and the axes each leaves.
REDUCTIONS = {
    None: "(N, layers, heads, queries, keys)",
    "heads": "(N, layers, queries, keys): mean over heads",
    "layers": "(N, heads, queries, keys): mean over layers",
    "mean": "(N, queries, keys): mean over layers and heads",
    "rollout": "(N, queries, keys): attention rollout over the layers (Abnar & Zuidema 2020)",
}


def reduce_maps(maps: np.ndarray, how: str | None) -> np.ndarray:
    """Apply one of :data:`REDUCTIONS` to ``maps``."""
    if how not in REDUCTIONS:
        raise InputError(f"reduce={how!r}: expected one of "
                         f"{', '.join(str(k) for k in REDUCTIONS)}")
    if how is None:
        return maps
    if how == "heads":
        return maps.mean(axis=2)
    if how == "layers":
        return maps.mean(axis=1)
    if how == "mean":
        return maps.mean(axis=(1, 2))
    return rollout(maps)


def rollout(maps: np.ndarray) -> np.ndarray:
    """Attention rollout: how much each query token of the last layer draws on each input token.

    Per layer, the heads' mean map is mixed half and half with the identity (the residual
    connection around the layer) and renormalised; the layers' maps are then multiplied, last
    layer on the left (Abnar & Zuidema 2020, "Quantifying attention flow in transformers").

    Parameters
    ----------
    maps : numpy.ndarray
        ``(N, layers, heads, T, T)``, layers in forward order.

    Returns
    -------
    numpy.ndarray
        ``(N, T, T)``; each row sums to 1.
    """
    n_queries, n_keys = maps.shape[-2:]
    if n_queries != n_keys:
        raise InputError(f"attention rollout needs self-attention maps with as many keys as "
                         f"queries; the maps are {n_queries} x {n_keys}")
    mixed = 0.5 * maps.mean(axis=2) + 0.5 * np.eye(n_queries, dtype=maps.dtype)
    mixed /= mixed.sum(axis=-1, keepdims=True)
    flow = mixed[:, 0]
    for layer in range(1, mixed.shape[1]):
        flow = mixed[:, layer] @ flow
    return flow


def query_rows(reduced: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """The row of query token ``tokens[i]`` of sequence ``i``: the query axis (second to last)
    is dropped."""
    return np.moveaxis(reduced, -2, 1)[np.arange(len(tokens)), tokens]
