"""Random draws that belong to a sample: seeded by the sample's index in the whole set it is
part of (a VCF, a BED file, a chromosome's tiles), so that its shuffled references, noise and
perturbations are the same whichever batch, chunk or shard of a job it is computed in.

A function that draws takes ``sample_index``: the index of its first sample in the whole set
(an int; 0 for a set computed in one piece), or one index per sample. With 0 every stream is
the one a call on the whole set draws.
"""
from __future__ import annotations

import numpy as np

from .errors import InputError


def sample_indices(sample_index, n: int) -> np.ndarray:
    """``(n,)`` int64 index of each of ``n`` samples in the whole set: ``sample_index +
    arange(n)`` for an int, else the given indices."""
    if np.ndim(sample_index) == 0:
        if int(sample_index) < 0:
            raise InputError(f"sample_index={sample_index}: expected a non-negative index")
        return int(sample_index) + np.arange(n, dtype=np.int64)
    index = np.asarray(sample_index, dtype=np.int64)
    if index.shape != (n,) or (index < 0).any():
        raise InputError(f"sample_index: {index.shape[0] if index.ndim else 0} indices for "
                         f"{n} samples; expected one non-negative index per sample")
    return index


def uniforms(seed: int, index: np.ndarray, per_sample: int) -> np.ndarray:
    """``(n, per_sample)`` uniform draws in [0, 1): row ``i`` holds draws ``index[i] *
    per_sample`` to ``(index[i] + 1) * per_sample - 1`` of ``numpy.random.default_rng(seed)``'s
    stream, wherever sample ``i`` is computed."""
    out = np.empty((len(index), per_sample))
    # A run of consecutive indices reads one stretch of the stream: one generator per run,
    # moved to the run's first draw (PCG64 advances in O(log n); one draw per double).
    for run in np.split(np.arange(len(index)), np.flatnonzero(np.diff(index) != 1) + 1):
        if len(run):
            bits = np.random.PCG64(seed)
            bits.advance(int(index[run[0]]) * per_sample)
            out[run] = np.random.Generator(bits).uniform(size=(len(run), per_sample))
    return out
