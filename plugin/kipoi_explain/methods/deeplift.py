"""DeepLIFT (rescale rule) and DeepSHAP, for PyTorch and Keras models alike.

The model's ``deeplift`` capability supplies the multipliers; an operation it has no correct
rule for raises :class:`~kipoi_explain.errors.UnsupportedOperation` rather than returning a
wrong number.
"""
from __future__ import annotations

from ..results import MethodScores
from .over_references import attribute_over_references
from .references import references


def _multipliers(model, target, n_references):
    def multipliers(x_rows, ref_rows, pairs):
        mult, _, f_ref = model.deeplift.deeplift_multipliers(
            x_rows, ref_rows, target, context=model.rows(pairs // n_references))
        return mult, f_ref

    return multipliers


def deeplift(model, x, target, batch_size, progress, baseline="zeros",
             correct_gradients: bool = False, sample_index=0) -> MethodScores:
    """DeepLIFT with the rescale rule (Shrikumar et al. 2017) against one reference.

    Parameters
    ----------
    baseline : {"zeros", "uniform", "shuffle"} or array
        The reference; see :func:`~kipoi_explain.methods.references.references`.
    """
    refs = references(x, baseline, 1, 0, sample_index)
    return attribute_over_references(model, x, refs, target, _multipliers(model, target, refs.shape[1]),
                                     batch_size, progress, "deeplift", correct_gradients)


def deepshap(model, x, target, batch_size, progress, n_references: int = 20, seed: int = 0,
             baseline="shuffle", correct_gradients: bool = False,
             sample_index=0) -> MethodScores:
    """DeepSHAP: DeepLIFT averaged over ``n_references`` dinucleotide-shuffled references.

    Parameters
    ----------
    n_references : int
        Shuffled references per sequence (20 as in the Kundaje lab's pipelines).
    seed : int
        Seed of the shuffles.
    baseline : "shuffle" or array ``(N, K, L, 4)``
        Other references to average over instead of shuffles.
    """
    refs = references(x, baseline, n_references, seed, sample_index)
    return attribute_over_references(model, x, refs, target, _multipliers(model, target, refs.shape[1]),
                                     batch_size, progress, "deepshap", correct_gradients)
