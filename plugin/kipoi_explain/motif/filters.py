"""First-layer convolution filters read as frequency matrices, two ways.

``activation``: align the input windows where a filter's activation exceeds a fraction of its
maximum over the given sequences, and count the bases (Basset, DeepBind). ``weights``: a softmax of
the kernel over the four bases at each position, as the founding review describes; its output
depends on the scale of the weights, which :func:`saturation` measures.
"""
from __future__ import annotations

import numpy as np

from .. import layers
from ..engine import accumulate_sorted, run_batches
from ..errors import InputError
from ..layouts import ConvLayer
from .matrices import softmax

#: Entries of a weight-derived PFM this close to 0 or 1 count as saturated.
SATURATION_EPS = 0.01


def window_starts(layer: ConvLayer, n_positions: int, length: int) -> np.ndarray:
    """First input position read by each of the ``n_positions`` outputs of the convolution.

    Left padding: for ``"same"``, half of what the output length needs, rounded down (as
    TensorFlow and PyTorch pad, stride included); for ``"causal"``, the whole receptive span
    minus one; the given number for integer (PyTorch) padding; 0 for ``"valid"``.
    """
    span = layer.dilation * (layer.weights.shape[1] - 1) + 1
    if layer.padding == "same":
        left = max((n_positions - 1) * layer.stride + span - length, 0) // 2
    elif layer.padding == "causal":
        left = span - 1
    elif layer.padding == "valid":
        left = 0
    else:
        left = int(layer.padding)
    return np.arange(n_positions) * layer.stride - left

def activation_counts(model, x: np.ndarray, layer: ConvLayer, threshold: float = 0.5,
                      batch_size: int | None = None, progress: bool = False,
                      read_at: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Base counts ``(F, K, 4)`` of the windows that activate each filter, and site counts
    ``(F,)``.

    A window counts for filter ``f`` where its activation exceeds ``threshold`` times the
    filter's maximum over all sequences and positions (filters that never activate above 0
    get no site). Window positions outside the sequence (padding) add nothing. Activations are
    read at ``read_at`` (default: the convolution's output), a layer of the convolution's shape.
    """
    batch_size = batch_size or model.batch_size
    n_filters, width = layer.weights.shape[:2]
    length = x.shape[1]
    read_at = read_at or layer.name
    shapes = {name: layers.activations(model, x[:1], name).shape
              for name in {layer.name, read_at}}
    if shapes[read_at] != shapes[layer.name]:
        raise InputError(f"read_at {read_at!r}: its output {shapes[read_at][1:]} is not one "
                         f"value per position and filter of {layer.name!r} "
                         f"{shapes[layer.name][1:]}")
    maxima = run_batches(lambda lo, hi: layers.activations(model, x[lo:hi], read_at).max(
        axis=1), len(x), batch_size, progress, f"{read_at} maxima").max(axis=0)
    cutoff = np.where(maxima > 0, threshold * maxima, np.inf)
    counts = np.zeros((n_filters, width, 4))
    sites = np.zeros(n_filters, dtype=np.int64)

    def block(lo, hi):
        act = layers.activations(model, x[lo:hi], read_at)
        seq, pos, filt = np.nonzero(act > cutoff)
        order = np.argsort(filt, kind="stable")
        seq, pos, filt = seq[order], pos[order], filt[order]
        columns = window_starts(layer, act.shape[1], length)[pos][:, None] + \
            layer.dilation * np.arange(width)
        inside = (columns >= 0) & (columns < length)
        windows = x[lo:hi][seq[:, None], np.clip(columns, 0, length - 1)] * inside[..., None]
        if len(filt):
            accumulate_sorted(counts, filt, windows)
            accumulate_sorted(sites, filt, np.ones(len(filt), dtype=np.int64))

    run_batches(block, len(x), batch_size, progress, f"{read_at} sites")
    return counts, sites


def weight_pfms(layer: ConvLayer) -> np.ndarray:
    """``(F, K, 4)`` frequencies from a softmax of each filter's kernel over the bases."""
    return softmax(layer.weights)


def saturation(pfm: np.ndarray) -> float | np.ndarray:
    """Share of a weight-derived PFM's entries within ``SATURATION_EPS`` of 0 or 1.

    Large kernel weights push the softmax to one-hot columns: the PWM then reflects the
    weights' scale more than the filter's preference among bases. A ``(K, 4)`` PFM gives a
    float, a stack ``(F, K, 4)`` one value per PFM.
    """
    share = np.mean((pfm < SATURATION_EPS) | (pfm > 1 - SATURATION_EPS), axis=(-2, -1))
    return float(share) if share.ndim == 0 else share
