"""Plain-gradient methods: saliency, gradient x input, SmoothGrad."""
from __future__ import annotations

import numpy as np

from ..draws import sample_indices
from ..engine import accumulate_sorted, run_batches
from ..results import MethodScores
from .contributions import contributions, correct


def input_gradient(model, x, target=0, batch_size: int | None = None,
                   progress: bool = False) -> np.ndarray:
    """Gradient of the target with respect to the input, in the public layout (``(N, L, 4)``
    for DNA), for a model with the ``gradients`` capability."""
    model.require("gradients", "the gradient")
    x, spec = model.check_input(x), model.target(target)
    return _gradients(model, x, spec, batch_size or model.batch_size, progress, "gradient")[0]


def _gradients(model, x, target, batch_size, progress, desc):
    """The gradient with respect to ``x``, a dict of those with respect to the model's
    differentiable extra inputs (empty for a model of one input), and the predictions
    ``(N, *output_shape)`` of the same forward passes."""
    def block(lo, hi):
        return model.gradients.input_gradient(x[lo:hi], target,
                                              context=model.rows(slice(lo, hi)))

    grad, outputs, *extra = run_batches(block, len(x), batch_size, progress, desc)
    return (grad, {spec.name: g for spec, g in zip(model.differentiable_extras(), extra)},
            outputs.reshape(len(x), *model.output_shape))


def _times_inputs(model, grads: dict) -> dict | None:
    """Gradient times input for each extra input (the bound values of every sample)."""
    return {name: g * model.context[name] for name, g in grads.items()} or None


def saliency(model, x, target, batch_size, progress, correct_gradients: bool = False,
             absolute: bool = False) -> MethodScores:
    """Gradient of the target with respect to each base (Simonyan et al. 2014).

    Parameters
    ----------
    correct_gradients : bool
        Remove the per-position mean over bases first (Majdandzic et al. 2023).
    absolute : bool
        Return ``|gradient|`` (Captum's ``Saliency`` default) instead of the signed gradient.
    """
    grad, extra, predictions = _gradients(model, x, target, batch_size, progress, "saliency")
    if correct_gradients:
        grad = correct(grad)
    magnitude = np.abs if absolute else np.asarray
    return MethodScores(magnitude(grad), hypothetical=grad,
                        extra={name: magnitude(g) for name, g in extra.items()} or None,
                        predictions=predictions)


def grad_x_input(model, x, target, batch_size, progress,
                 correct_gradients: bool = False) -> MethodScores:
    """Gradient times input: the first-order contribution of each present base."""
    grad, extra, predictions = _gradients(model, x, target, batch_size, progress,
                                          "grad_x_input")
    if correct_gradients:
        grad = correct(grad)
    scores, hypothetical = contributions(grad, x, np.zeros_like(x))
    return MethodScores(scores, hypothetical, extra=_times_inputs(model, extra),
                        predictions=predictions)


def smoothgrad(model, x, target, batch_size, progress, n_samples: int = 25, noise: float = 0.1,
               seed: int = 0, correct_gradients: bool = False, sample_index=0) -> MethodScores:
    """Gradient averaged over copies of the input with Gaussian noise (Smilkov et al. 2017).

    Parameters
    ----------
    n_samples : int
        Noisy copies per sequence (noise is added to the main input; the gradients of extra
        inputs are averaged over the same copies).
    noise : float
        Standard deviation of the noise added to the input.
    seed : int
        Noisy copy ``s`` of the sequence of index ``i`` in the whole set draws its noise from
        seed ``(seed, i * n_samples + s)``, so results depend neither on the batch size nor on
        the shard the sequence is in.
    """
    n = len(x)
    index = sample_indices(sample_index, n)
    total = np.zeros(x.shape, dtype=np.float64)
    extras = model.differentiable_extras()
    extra_total = {spec.name: np.zeros((n, *spec.shape)) for spec in extras}

    def block(lo, hi):
        rows = np.arange(lo, hi)
        seq = rows // n_samples
        draws = index[seq] * n_samples + rows % n_samples
        eps = np.stack([np.random.default_rng((seed, int(r))).standard_normal(x.shape[1:])
                        for r in draws]).astype(np.float32)
        grad, _, *extra = model.gradients.input_gradient(x[seq] + noise * eps, target,
                                                         context=model.rows(seq))
        accumulate_sorted(total, seq, grad)
        for spec, g in zip(extras, extra):
            accumulate_sorted(extra_total[spec.name], seq, g)

    run_batches(block, n * n_samples, batch_size, progress, "smoothgrad")
    grad = (total / n_samples).astype(np.float32)
    if correct_gradients:
        grad = correct(grad)
    return MethodScores(grad, hypothetical=grad, extra={
        name: (g / n_samples).astype(np.float32) for name, g in extra_total.items()} or None)
