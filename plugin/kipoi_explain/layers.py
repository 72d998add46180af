"""Hidden layers, batched: activations, gradients at a layer, unit ablation and weight
interventions, for any model with the ``layers`` capability.

Each function checks its input and the layer names, then hands blocks of rows to the model's
:class:`~kipoi_explain.capabilities.LayerAccess` provider through the one batching engine.
Activations are ``(N, positions, units)`` for 3-D outputs whatever the framework's layout.
"""
from __future__ import annotations

import contextlib

import numpy as np

from .engine import run_batches
from .errors import InputError


def names(model) -> list[str]:
    """The model's layer names, in forward order."""
    return model.require("layers", "layer access").layer_names()


def check(model, layers) -> None:
    """Raise :class:`InputError` naming any of ``layers`` that is not a layer of the model."""
    known = names(model)
    unknown = [name for name in layers if name not in known]
    if unknown:
        raise InputError(f"layer(s) {', '.join(map(repr, unknown))}: no such layer; layers "
                         f"are {', '.join(known)}")


def activations(model, x, layer: str, batch_size: int | None = None) -> np.ndarray:
    """Output of ``layer`` for each input."""
    check(model, [layer])
    x = model.check_input(x)
    return run_batches(lambda lo, hi: model.layers.activations(
        x[lo:hi], layer, context=model.rows(slice(lo, hi))), len(x),
                       batch_size or model.batch_size)


def ablated_predict(model, x, layer: str, keep, fill=0.0,
                    batch_size: int | None = None) -> np.ndarray:
    """Predictions with some units of ``layer`` replaced by ``fill``.

    Parameters
    ----------
    model : Model
    x : numpy.ndarray
        Inputs in the public layout.
    layer : str
        Layer whose output units are replaced.
    keep : array of bool or float, ``(units,)`` or ``(N, units)``
        1 (True) keeps a unit's output, 0 replaces it; one row per input to ablate each
        input's own units.
    fill : float or array ``(units,)``
        Value a replaced unit outputs at every position (0, or its mean activation).
    """
    check(model, [layer])
    x = model.check_input(x)
    keep = np.asarray(keep, dtype=np.float32)
    fill = np.asarray(fill, dtype=np.float32)
    if keep.ndim == 2 and len(keep) != len(x):
        raise InputError(f"keep has {len(keep)} rows; expected one per input ({len(x)})")
    if fill.ndim and fill.shape != keep.shape[-1:]:
        raise InputError(f"fill has shape {fill.shape}: expected a number or one value per "
                         f"unit, {keep.shape[-1:]}")
    fill = np.array(np.broadcast_to(fill, keep.shape[-1:]))

    def block(lo, hi):
        rows = keep[lo:hi] if keep.ndim == 2 else keep
        return model.layers.ablated_forward(x[lo:hi], layer, rows, fill,
                                            context=model.rows(slice(lo, hi)))

    out = run_batches(block, len(x), batch_size or model.batch_size)
    return out.reshape(len(x), *model.output_shape)


def gradient(model, x, layer: str, target=0, values=None,
             batch_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Gradient of the target with respect to ``layer``'s output, and that output, each in
    the layout of :func:`activations`; with ``values``, taken where the layer outputs
    ``values`` instead (integrated gradients at a layer)."""
    check(model, [layer])
    x, spec = model.check_input(x), model.target(target)
    if values is not None:
        values = np.asarray(values, dtype=np.float32)
        if len(values) != len(x):
            raise InputError(f"values has {len(values)} rows; expected one per input "
                             f"({len(x)})")
    return run_batches(
        lambda lo, hi: model.layers.layer_gradient(x[lo:hi], layer, spec,
                                                   None if values is None else values[lo:hi],
                                                   context=model.rows(slice(lo, hi)))[:2],
        len(x), batch_size or model.batch_size)


def gradient_norms(model, x, layers: list[str], target=0,
                   batch_size: int | None = None) -> np.ndarray:
    """``(N, len(layers))`` L2 norm of the target's gradient with respect to each layer's
    output, per input (0 for a layer the target does not depend on)."""
    check(model, layers)
    x, spec = model.check_input(x), model.target(target)
    return run_batches(lambda lo, hi: model.layers.layer_gradient_norms(
        x[lo:hi], layers, spec, context=model.rows(slice(lo, hi))),
                       len(x), batch_size or model.batch_size)


def output_activation(model) -> str | None:
    """The layer applying an elementwise nonlinearity (sigmoid, ...) to the model's output,
    if the model ends in one."""
    kinds = model.require("layers", "reading the output activation").nonlinearities()
    if not kinds:
        return None
    last = list(kinds)[-1]
    x, context = model.probe()
    out, act = model.predictor.forward(x, context), model.layers.activations(x, last, context)
    return last if act.shape == out.shape and np.allclose(act, out) else None


@contextlib.contextmanager
def logits(model):
    """Within the block, the model outputs what enters its final nonlinearity (the logits of a
    sigmoid output); a model without one is unchanged."""
    layer = output_activation(model)
    if layer is None:
        yield model
        return
    with model.layers.bypassed(layer):
        yield model


@contextlib.contextmanager
def randomized(model, layers: list[str], seed: int = 0):
    """Within the block, ``layers`` have re-drawn weights (restored afterwards).

    Each trainable array is replaced by normal draws with the array's own mean and standard
    deviation: its scale survives, what training put in it does not (Adebayo et al. 2018).
    """
    access = model.require("layers", "weight randomization")
    weighted = access.weighted_layers()
    unknown = [name for name in layers if name not in weighted]
    if unknown:
        raise InputError(f"layer(s) {', '.join(unknown)}: no such layer with trainable "
                         f"weights; those are {', '.join(weighted)}")
    rng = np.random.default_rng(seed)
    saved = {name: access.get_weights(name) for name in layers}
    try:
        for name in layers:
            access.set_weights(name, [rng.normal(w.mean(), w.std(), w.shape).astype(w.dtype)
                                      for w in saved[name]])
        yield model
    finally:
        for name, arrays in saved.items():
            access.set_weights(name, arrays)
