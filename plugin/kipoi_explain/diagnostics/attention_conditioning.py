"""Are attention weights identifiable? Conditioning of the keys, and stability of the maps.

Reading an attention map as importance assumes the weights are determined by the input. A head
whose keys span few directions is not: ``softmax(q k^T / sqrt(d))`` depends on the queries only
through their projection onto the keys' span, so many different query/key pairs give the same
output, and the map the model happens to hold is one arbitrary choice among them. The keys are
centred over positions first: softmax ignores what every key shares (a per-query constant), so
only how keys differ between positions decides the map. Measured per head, per sequence:

* the condition number ``sigma_max / sigma_min`` of the centred key matrix ``(positions, d)``;
* its effective rank (Roy & Vetterli 2007): ``exp`` of the entropy of ``sigma / sum(sigma)``,
  between 1 (one direction) and ``min(positions - 1, d)`` (all directions equally used);
* noise amplification: the relative change of the attention map under Gaussian input noise,
  divided by the relative change of the input.
"""
from __future__ import annotations

import numpy as np

from ..attention_maps import attention_layers, queries_and_keys
from ..engine import run_batches
from ..errors import UnsupportedOperation
from ..results import Finding

CHECK = "attention_conditioning"

#: Condition numbers are capped here, so that rank-deficient keys stay finite in JSON.
MAX_REPORTED_CONDITION = 1e12

#: Attention-map entries per block when comparing maps (256 MB per float64 map).
MAP_BLOCK = 2 ** 25


def attention_conditioning(ctx, max_condition: float = 1e3, min_rank_fraction: float = 0.25,
                           noise: float = 1e-3, max_amplification: float = 10.0,
                           error_condition: float = 1e6) -> tuple[list[Finding], dict]:
    """Flag attention heads whose keys are ill-conditioned or whose maps amplify input noise.

    Parameters
    ----------
    ctx : Context
        Uses ``ctx.x_attribution``.
    max_condition : float
        Median key condition number above which a head is flagged. Measured on small
        convolution + attention models: randomly initialised heads 6 to 11, heads trained on a
        motif-pair task (75% and 92% accuracy) 30 to 80, rank-1 keys over 1e9. 1000 means one key
        direction is a thousand times weaker than the strongest: the map then hangs on a
        component the weights barely determine.
    min_rank_fraction : float
        A head is also flagged when its median effective rank is below this fraction of
        ``min(positions - 1, head_dim)``. Random heads measure 0.8 to 0.85 of it, the trained
        heads 0.38 to 0.57 (training concentrates keys on few directions, which is not
        by itself a defect), rank-1 keys ``1 / head_dim``; 0.25 separates the last from the
        others. Exactly rank-deficient keys are caught by the condition number anyway; this
        catches keys dominated by one or two directions with a weak tail.
    noise : float
        Standard deviation of the Gaussian noise added to the one-hot input (a relative input
        change of ``2 * noise``).
    max_amplification : float
        Median noise amplification above which a head's maps are flagged as unstable: 10 means a
        1% change of the input moves the attention map by more than 10%, i.e. the map is
        decided by near-ties between keys. Measured: random heads 0.02 (near-uniform maps),
        trained heads 0.2 to 0.9, heads whose logits were scaled until their largest weight
        averages 0.78 about 5, and 0.97 about 12. (Maps that are one-hot everywhere, far from
        any tie, measure 0: amplification is a local measure.)
    error_condition : float
        Median condition number above which keys are singular up to float32 rounding (relative
        precision about 1e-7, with a margin of ten); such a head is an error, not a warning.

    Returns
    -------
    findings : list of Finding
        Per attention layer, one conditioning finding, plus a warning when maps amplify noise.
    measurements : dict
        ``{"layers": {name: {"condition_number", "effective_rank", "noise_amplification"
        (one median per head), "head_dim"}}}``.
    """
    layers = attention_layers(ctx.model)
    if not layers:
        return [Finding(CHECK, "info", None, None, {}, "",
                        "no attention layers; check not applicable")], {}
    x = ctx.x_attribution
    rng = np.random.default_rng(ctx.seed)
    noisy = x + rng.normal(0.0, noise, x.shape).astype(np.float32)
    input_change = (np.linalg.norm((noisy - x).reshape(len(x), -1), axis=1)
                    / np.linalg.norm(x.reshape(len(x), -1), axis=1))
    findings, measured = [], {}
    for layer in layers:
        try:
            queries, keys = queries_and_keys(ctx.model, x, layer, ctx.batch_size)
        except UnsupportedOperation as err:
            # A custom attention module gives its maps, not its queries and keys.
            findings.append(Finding(CHECK, "info", None, None, {"layer": layer}, "",
                                    f"layer {layer!r}: not measured ({err})"))
            continue
        noisy_queries, noisy_keys = queries_and_keys(ctx.model, noisy, layer, ctx.batch_size)
        condition, rank = key_conditioning(keys)
        map_change = attention_change(queries, keys, noisy_queries, noisy_keys)
        amplification = np.median(map_change / input_change[:, None], axis=0)
        measured[layer] = {"condition_number": condition, "effective_rank": rank,
                           "head_dim": int(keys.shape[-1]), "noise_amplification": amplification}
        findings.append(_conditioning_finding(layer, measured[layer], _full_rank(keys),
                                              max_condition, min_rank_fraction, error_condition))
        if np.any(amplification > max_amplification):
            findings.append(_stability_finding(layer, measured[layer], max_amplification))
    return findings, {"layers": measured}


def key_conditioning(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median over sequences of each head's key condition number and effective rank.

    Parameters
    ----------
    keys : numpy.ndarray
        ``(n, heads, positions, head_dim)`` projected keys.

    Returns
    -------
    condition, effective_rank : numpy.ndarray
        ``(heads,)`` each.
    """
    centred = keys.astype(np.float64) - keys.mean(axis=2, keepdims=True, dtype=np.float64)
    # Centring removes one direction: with no more positions than dimensions, the last
    # singular value is zero by construction, not a sign of collinear keys.
    sigma = np.linalg.svd(centred, compute_uv=False)[..., :_full_rank(keys)]
    largest, smallest = sigma[..., 0], sigma[..., -1]
    condition = np.divide(largest, smallest, out=np.full_like(largest, MAX_REPORTED_CONDITION),
                          where=smallest > largest / MAX_REPORTED_CONDITION)
    total = sigma.sum(axis=-1, keepdims=True)
    share = np.divide(sigma, total, out=np.zeros_like(sigma), where=total > 0)
    entropy = -np.sum(share * np.log(share, out=np.zeros_like(share), where=share > 0), axis=-1)
    rank = np.where(total[..., 0] > 0, np.exp(entropy), 0.0)
    return np.median(condition, axis=0), np.median(rank, axis=0)


def attention_change(queries, keys, noisy_queries, noisy_keys) -> np.ndarray:
    """``(n, heads)`` relative Frobenius change ``||A' - A|| / ||A||`` of each attention map."""
    n, heads, n_queries, _ = queries.shape
    block = max(1, MAP_BLOCK // (heads * n_queries * keys.shape[2]))

    def change(lo, hi):
        before = attention_map(queries[lo:hi], keys[lo:hi])
        after = attention_map(noisy_queries[lo:hi], noisy_keys[lo:hi])
        return (np.linalg.norm(after - before, axis=(2, 3))
                / np.linalg.norm(before, axis=(2, 3)))

    return run_batches(change, n, block)


def attention_map(queries: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """``softmax(q k^T / sqrt(d))`` over key positions: ``(n, heads, queries, keys)``."""
    logits = (queries.astype(np.float64) @ keys.astype(np.float64).swapaxes(-1, -2)
              / np.sqrt(queries.shape[-1]))
    weights = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return weights / weights.sum(axis=-1, keepdims=True)


def _full_rank(keys: np.ndarray) -> int:
    """Most directions centred keys ``(n, heads, positions, d)`` can span (at least 1)."""
    return max(1, min(keys.shape[2] - 1, keys.shape[3]))


def _conditioning_finding(layer: str, measured: dict, full_rank: int, max_condition: float,
                          min_rank_fraction: float, error_condition: float) -> Finding:
    condition, rank = measured["condition_number"], measured["effective_rank"]
    ill = (condition > max_condition) | (rank < min_rank_fraction * full_rank)
    worst = float(condition.max())
    if not ill.any():
        return Finding(
            CHECK, "info", worst, max_condition, {"layer": layer, "heads": []}, "",
            f"layer {layer!r}: keys are well conditioned (worst median condition number "
            f"{worst:.3g}, lowest effective rank {float(rank.min()):.2f} of {full_rank})",
            dict(measured))
    heads = np.flatnonzero(ill).tolist()
    singular = condition[ill].max() > error_condition
    return Finding(
        CHECK, "error" if singular else "warning", worst,
        error_condition if singular else max_condition, {"layer": layer, "heads": heads},
        f"keys of heads {heads} span few directions: their attention weights are "
        "ill-conditioned and not identifiable; do not read them as importance - use "
        "attribution through the attention layer (integrated gradients or ISM) instead, or "
        "regularise the keys (e.g. penalise their condition number) when training",
        f"layer {layer!r}: keys of {len(heads)} of {len(condition)} heads are ill-conditioned "
        f"(worst median condition number {worst:.3g}, effective rank "
        f"{float(rank[ill].min()):.2f} of {full_rank})", dict(measured))


def _stability_finding(layer: str, measured: dict, max_amplification: float) -> Finding:
    amplification = measured["noise_amplification"]
    heads = np.flatnonzero(amplification > max_amplification).tolist()
    worst = float(amplification.max())
    return Finding(
        CHECK, "warning", worst, max_amplification, {"layer": layer, "heads": heads},
        f"attention maps of heads {heads} change far more than their input: do not show "
        "single-sequence maps as explanations - use integrated gradients or ISM through the "
        "layer, or average the maps over noisy copies of each sequence",
        f"layer {layer!r}: a small input perturbation changes the attention maps of "
        f"{len(heads)} heads {worst:.3g} times as much, relatively", dict(measured))
