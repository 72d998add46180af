"""Which bases each attention token stands for.

A token of a convolution + attention model summarises a stretch of the input (a 128 bp bin in
Enformer). The stretch is measured, not assumed: every base of random probe sequences is mutated
in turn, and a token's span is the set of bases whose mutation changes the token's input to the
first attention layer. Later attention layers mix all tokens, so their receptive fields are
the whole input; their tokens keep the identity (and the span) of the first layer's tokens.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..engine import run_batches

#: A token's input counts as changed beyond this fraction of its largest absolute value: far
#: above float32 noise from batch composition, far below any real change.
RELATIVE_TOLERANCE = 1e-4
#: Random probe sequences whose every base is mutated to measure the tokens' spans.
N_PROBES = 4


@dataclass
class TokenPositions:
    """Base coordinates of the tokens of one token axis.

    Attributes
    ----------
    spans : numpy.ndarray
        ``(T, 2)`` half-open span ``[start, end)`` of input bases that reach each token; ``-1``
        for a token no base reaches (a learnt bias key, a class token).
    centers : numpy.ndarray
        ``(T,)`` the base each token is centred on (float; NaN where the span is -1). Tokens
        whose span is cut by the sequence ends are placed on the line through the others.
    source : str
        How the positions were found: ``"receptive field of <layer>"``, or ``"even tiling"``
        when the tokens could not be traced to the first attention layer's.
    """

    spans: np.ndarray
    centers: np.ndarray
    source: str

    def token_at(self, position: np.ndarray) -> np.ndarray:
        """Index of the token centred nearest each base ``position`` (an array)."""
        distance = np.abs(self.centers[None, :] - np.asarray(position, dtype=float)[:, None])
        return np.nanargmin(distance, axis=1)


def receptive_spans(model, layer: str, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """``(Tq, 2)`` and ``(Tk, 2)`` spans of the bases reaching the query and key tokens of
    attention layer ``layer``: every base of :data:`N_PROBES` random probe sequences is mutated
    to each of the three other bases, and a base reaches a token when any of its mutations
    changes the token's input.

    One probe and one mutation are not enough: behind a max-pool a mutated base at the edge of
    a window often changes no channel's maximum, and the span would come out short.
    """
    probes, context = model.probe(N_PROBES)
    n, length = probes.shape[:2]
    query, key = model.attention.token_inputs(probes, layer, context=context)
    # Rows: probe-major, then position, then the three substitutions.
    probe = np.repeat(np.arange(n), 3 * length)
    position = np.tile(np.repeat(np.arange(length), 3), n)
    bases = (probes.argmax(-1)[probe, position] + np.tile([1, 2, 3], n * length)) % 4

    def changed(lo, hi):
        mutants = probes[probe[lo:hi]].copy()
        mutants[np.arange(hi - lo), position[lo:hi]] = np.eye(4, dtype=np.float32)[bases[lo:hi]]
        mutant_query, mutant_key = model.attention.token_inputs(
            mutants, layer, context=model.probe(len(mutants))[1])
        which = probe[lo:hi]
        return _moved(mutant_query, query[which]), _moved(mutant_key, key[which])

    moved_query, moved_key = run_batches(changed, len(probe), batch_size)
    return _spans(moved_query, length), _spans(moved_key, length)


def _moved(mutant: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``(rows, T)`` whether each token's input differs from the unmutated probe's."""
    scale = np.abs(reference).max(axis=2, keepdims=True) + 1e-12
    return (np.abs(mutant - reference) > RELATIVE_TOLERANCE * scale).any(axis=2)


def _spans(moved: np.ndarray, length: int) -> np.ndarray:
    reached = moved.reshape(N_PROBES, length, 3, -1).any(axis=(0, 2))     # (L, T)
    start, end = reached.argmax(axis=0), length - reached[::-1].argmax(axis=0)
    return np.where(reached.any(axis=0)[:, None], np.stack([start, end], axis=1),
                    -1).astype(np.int64)


def positions_from_spans(spans: np.ndarray, length: int, source: str) -> TokenPositions:
    """Token centres from measured spans (see :class:`TokenPositions`)."""
    spans = np.asarray(spans)
    centers = np.where(spans[:, 0] >= 0, spans.mean(axis=1) - 0.5, np.nan)
    interior = np.flatnonzero((spans[:, 0] > 0) & (spans[:, 1] < length))
    if len(interior) >= 2:
        # A span cut by a sequence end is centred off its token; the tokens of a conv stem sit
        # on a regular grid, so the cut ones go where the grid puts them.
        slope, offset = np.polyfit(interior, centers[interior], 1)
        cut = np.flatnonzero((spans[:, 0] >= 0) & ~np.isin(np.arange(len(spans)), interior))
        centers[cut] = np.clip(offset + slope * cut, 0, length - 1)
    return TokenPositions(spans, centers, source)


def even_tiling(n_tokens: int, length: int) -> TokenPositions:
    """Tokens taken to tile the input in equal consecutive bins."""
    edges = np.round(np.linspace(0, length, n_tokens + 1)).astype(np.int64)
    spans = np.stack([edges[:-1], edges[1:]], axis=1)
    return TokenPositions(spans, spans.mean(axis=1) - 0.5, "even tiling")


def token_positions(model, layer: str, n_queries: int, n_keys: int,
                    batch_size: int) -> tuple[TokenPositions, TokenPositions]:
    """Positions of the query and key tokens of ``layer``, traced back to the model's first
    attention layer when its tokens line up with them."""
    first = model.attention.attention_layers()[0]
    length = model.probe(1)[0].shape[1]
    query_spans, key_spans = receptive_spans(model, first, batch_size)
    source = f"receptive field of {first}"

    def axis(n_tokens, spans):
        if n_tokens == len(spans):
            return positions_from_spans(spans, length, source)
        if n_tokens > len(spans):
            # Extra keys after the tokens (a learnt bias key, a zero key) have no bases.
            extra = np.full((n_tokens - len(spans), 2), -1, dtype=np.int64)
            return positions_from_spans(np.concatenate([spans, extra]), length, source)
        return even_tiling(n_tokens, length)

    return axis(n_queries, query_spans), axis(n_keys, key_spans)
