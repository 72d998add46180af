"""Importance of the units of one layer (or of the input features), per sample.

Each method returns ``(N, units)`` scores and, where it defines one, the completeness gap
``sum(scores) - (f(x) - f(baseline))``. A unit with several positions (a channel of a
convolution) scores the sum over its positions.
"""
from __future__ import annotations

import numpy as np

from .. import layers
from ..engine import run_batches
from ..entity_map import INPUT
from ..errors import InputError
from ..methods.gradients import input_gradient
from ..methods.integrated_gradients import layer_integrated_gradients


def _per_unit(array: np.ndarray) -> np.ndarray:
    """Sum every axis but the first (samples) and the last (units)."""
    return array.reshape(len(array), -1, array.shape[-1]).sum(axis=1)


def _reference(a: np.ndarray, baseline, what: str, zero_input=None) -> np.ndarray:
    """The baseline/fill of one sample's activations ``a.shape[1:]``: zeros, the mean over the
    samples, the activations of an all-zero input (``zero_input()``), or a number or array
    broadcast to it."""
    if isinstance(baseline, str):
        if baseline == "zeros":
            return np.zeros(a.shape[1:], dtype=np.float32)
        if baseline == "mean":
            return a.mean(axis=0).astype(np.float32)
        if baseline == "zero_input" and zero_input is not None:
            return zero_input()
        choices = "'zeros', 'mean', 'zero_input'" if zero_input else "'zeros', 'mean'"
        raise InputError(f"{what}={baseline!r}: expected {choices}, a number or an array")
    try:
        return np.array(np.broadcast_to(np.asarray(baseline, dtype=np.float32), a.shape[1:]))
    except ValueError:
        raise InputError(f"{what} of shape {np.shape(baseline)}: expected a number or an "
                         f"array broadcastable to one sample's units {a.shape[1:]}") from None


def _activations(model, x, layer, batch_size):
    return x if layer == INPUT else layers.activations(model, x, layer, batch_size)


def grad_x_activation(model, x, layer, target, batch_size, progress):
    """Gradient × activation: each unit's first-order share of the target (gradient × input at
    the input)."""
    if layer == INPUT:
        return _per_unit(input_gradient(model, x, target, batch_size, progress) * x), None
    grad, act = layers.gradient(model, x, layer, target, batch_size=batch_size)
    return _per_unit(grad * act), None


def integrated_gradients(model, x, layer, target, batch_size, progress, baseline="zeros",
                         n_steps: int = 50, quadrature_rule: str = "gausslegendre"):
    """Integrated gradients along the straight path from the baseline activations to the
    sample's, the rest of the model run from the layer (layer integrated gradients; at the
    input, ordinary integrated gradients).

    ``baseline`` is ``"zeros"``, ``"mean"`` (each unit's mean over the samples),
    ``"zero_input"`` (the activations of an all-zero input, Captum's
    ``LayerIntegratedGradients`` default; for genotype dosages, a homozygous-reference
    sample), a number, or an array of one sample's activations.
    """
    act = _activations(model, x, layer, batch_size)
    ref = _reference(act, baseline, "baseline", lambda: _activations(
        model, np.zeros_like(x[:1]), layer, batch_size)[0])
    scores, delta = layer_integrated_gradients(model, x, None if layer == INPUT else layer,
                                               target, act, ref, batch_size, progress, n_steps,
                                               quadrature_rule)
    return _per_unit(scores), delta


def ablation(model, x, layer, target, batch_size, progress, fill="zeros"):
    """The drop of the target when one unit is replaced by ``fill`` at every position, one unit
    at a time: positive for a unit the target relies on.

    ``fill`` is ``"zeros"``, ``"mean"`` (the unit's mean over the samples and positions), a
    number, or one value per unit (per input value, at the input).
    """
    act = _activations(model, x, layer, batch_size)
    n_units = act.shape[-1]
    if isinstance(fill, str) and fill == "mean" and layer != INPUT:
        fill = act.reshape(-1, n_units).mean(axis=0)
    fill = _reference(act, fill, "fill").reshape(-1, n_units)
    if layer != INPUT and not np.allclose(fill, fill[:1]):
        raise InputError(f"fill for the units of layer {layer!r}: expected one value per unit, "
                         "the same at every position")
    f_x = target.apply(model.predict(x, batch_size))
    sample = np.repeat(np.arange(len(x)), n_units)
    unit = np.tile(np.arange(n_units), len(x))

    def ablated(lo, hi):
        rows, units = sample[lo:hi], unit[lo:hi]
        if layer == INPUT:
            inputs = x[rows].copy()
            where = (np.arange(len(rows)), Ellipsis, units)
            inputs[where] = fill[:, units].T.reshape(inputs[where].shape)
            return target.apply(model.predictor.forward(inputs, context=model.rows(rows)))
        keep = np.ones((len(rows), n_units), dtype=np.float32)
        keep[np.arange(len(rows)), units] = 0
        return target.apply(model.layers.ablated_forward(x[rows], layer, keep, fill[0],
                                                         context=model.rows(rows)))

    values = run_batches(ablated, len(sample), batch_size, progress, "ablation")
    return (f_x[:, None] - values.reshape(len(x), n_units)).astype(np.float32), None


METHODS = {"grad_x_activation": grad_x_activation,
           "integrated_gradients": integrated_gradients,
           "ablation": ablation}
