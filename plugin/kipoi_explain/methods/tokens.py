"""Attribution methods for models of token ids (genes in rank order, k-mers, ...).

Token ids have no gradient, so the gradient methods work at the token embedding, the first
layer reading the ids (as Captum's layer methods do for language models): a token scores the
sum over its embedding dimensions (the norm, for saliency). The perturbation methods replace a
token by the pad token (occlusion) or delete it, the tokens after it moving forward and the
pad token refilling the end (Geneformer's in-silico deletion).
"""
from __future__ import annotations

import numpy as np

from .. import layers
from ..engine import run_batches
from ..errors import InputError
from ..results import MethodScores
from ..samples import TOKENS
from .integrated_gradients import layer_integrated_gradients
from .method import Method
from .occlusion import occlusion as _occlusion


def saliency(model, x, target, batch_size, progress) -> MethodScores:
    """L2 norm of the target's gradient with respect to each token's embedding."""
    grad, _ = layers.gradient(model, x, model.layers.embedding_layer(), target,
                              batch_size=batch_size)
    return MethodScores(np.linalg.norm(grad, axis=-1).astype(np.float32))


def grad_x_input(model, x, target, batch_size, progress) -> MethodScores:
    """Gradient times embedding, summed over the embedding dimensions."""
    grad, embedding = layers.gradient(model, x, model.layers.embedding_layer(), target,
                                      batch_size=batch_size)
    return MethodScores((grad * embedding).sum(axis=-1).astype(np.float32))


def integrated_gradients(model, x, target, batch_size, progress, baseline: str = "pad",
                         n_steps: int = 50,
                         quadrature_rule: str = "gausslegendre") -> MethodScores:
    """Integrated gradients at the embedding, from a baseline embedding to the sample's.

    Parameters
    ----------
    baseline : {"pad", "zeros"}
        ``pad``: every position holds the pad token's embedding; ``zeros``: all-zero
        embeddings.
    n_steps, quadrature_rule
        As for :func:`~kipoi_explain.methods.integrated_gradients.integrated_gradients`.
    """
    layer = model.layers.embedding_layer()
    act = layers.activations(model, x, layer, batch_size)
    if baseline == "pad":
        ref = layers.activations(model, np.full_like(x, model.layout.pad), layer, batch_size)
    elif baseline == "zeros":
        ref = np.zeros_like(act)
    else:
        raise InputError(f"baseline={baseline!r}: expected 'pad' or 'zeros' for token ids")
    scores, delta = layer_integrated_gradients(model, x, layer, target, act, ref, batch_size,
                                               progress, n_steps, quadrature_rule)
    return MethodScores(scores.sum(axis=-1), delta=delta.astype(np.float32))


def occlusion(model, x, target, batch_size, progress, window: int = 1,
              stride: int = 1) -> MethodScores:
    """Mean drop of the target when windows of ``window`` tokens become the pad token; see
    :func:`~kipoi_explain.methods.occlusion.occlusion`."""
    return _occlusion(model, x, target, batch_size, progress, window, stride,
                      baseline=np.full(x.shape[1:], model.layout.pad, dtype=np.float32))


def deletion(model, x, target, batch_size, progress) -> MethodScores:
    """Drop of the target when one token is deleted: ``f(x) - f(x without token i)``, the
    tokens after ``i`` moving forward by one and the pad token filling the end. Pad tokens
    score 0 (deleting one changes nothing the model reads as a token)."""
    pad = model.layout.pad
    seq, pos = np.nonzero(x != pad)
    f_x = target.apply(model.predict(x, batch_size))
    length = x.shape[1]
    index = np.arange(length)

    def block(lo, hi):
        rows, at = seq[lo:hi], pos[lo:hi]
        # Position j reads token j + 1 from the deleted one on; the last reads past the end.
        source = index[None, :] + (index[None, :] >= at[:, None])
        shifted = np.take_along_axis(np.pad(x[rows], ((0, 0), (0, 1)), constant_values=pad),
                                     source, axis=1)
        return target.apply(model.predictor.forward(shifted, context=model.rows(rows)))

    deleted = run_batches(block, len(seq), batch_size, progress, "token deletion")
    scores = np.zeros(x.shape, dtype=np.float32)
    scores[seq, pos] = f_x[seq] - deleted
    return MethodScores(scores)


TOKEN_METHODS = {
    "saliency": Method(saliency, ("layers",), (TOKENS,)),
    "grad_x_input": Method(grad_x_input, ("layers",), (TOKENS,)),
    "integrated_gradients": Method(integrated_gradients, ("layers",), (TOKENS,)),
    "occlusion": Method(occlusion, inputs=(TOKENS,)),
    "deletion": Method(deletion, inputs=(TOKENS,)),
}
