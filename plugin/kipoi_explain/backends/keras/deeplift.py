"""DeepLIFT (rescale rule) multipliers for Keras 3 models (TensorFlow backend).

Keras has no backward hooks, so the model's graph is re-run here operation by
operation on the input batch concatenated with the reference batch. Linear
layers run as they are; elementwise activations (standalone or fused into a
``Conv``/``Dense`` layer) and max pooling are wrapped in ``tf.custom_gradient``
functions whose gradient is the DeepLIFT multiplier, with the same rules as
:mod:`kipoi_explain.backends.torch.deeplift`. Any layer that is neither on the
linear whitelist nor covered by a rule is named in one :class:`UnsupportedOperation`
with every other such layer (the graph runs on to find them all): a plain gradient
through it would silently break summation-to-delta.
"""

from __future__ import annotations

from typing import Callable

import keras
import numpy as np
import tensorflow as tf
from keras import activations, layers
from keras.src.models.functional import Functional
from keras.src.ops import numpy as knp

from ...errors import UnsupportedOperation
from ..blockers import no_rule

__all__ = ["UnsupportedOperation", "deeplift_multipliers", "EPS"]

EPS = 1e-10
"""Below this input difference the ordinary gradient is used (as in Captum)."""

_HINT = (
    "use a layer with a rule (Activation('relu'), ReLU, MaxPooling1D, ...) or a "
    "method that needs none (ism, integrated_gradients)"
)
_SOFTMAX_HINT = "explain the pre-softmax logits instead"

_ELEMENTWISE_ACTIVATIONS = frozenset(
    getattr(activations, name)
    for name in (
        "celu", "elu", "exponential", "gelu", "hard_shrink", "hard_sigmoid",
        "hard_silu", "hard_tanh", "leaky_relu", "log_sigmoid", "mish", "relu",
        "relu6", "selu", "sigmoid", "silu", "soft_shrink", "softplus",
        "softsign", "sparse_plus", "squareplus", "tanh", "tanh_shrink",
    )
    if hasattr(activations, name)
)
# Layers whose computation is elementwise in their input.
_ELEMENTWISE_LAYERS = (layers.ReLU, layers.LeakyReLU, layers.ELU, layers.PReLU)
# Layers computing a linear part followed by `layer.activation`.
_FUSED = (layers.Conv1D, layers.Conv2D, layers.Dense)
_MAXPOOL = (
    layers.MaxPooling1D, layers.MaxPooling2D, layers.MaxPooling3D,
    layers.GlobalMaxPooling1D, layers.GlobalMaxPooling2D, layers.GlobalMaxPooling3D,
)
# Linear or affine at inference (training=False), or only moving entries.
_LINEAR = (
    layers.InputLayer, layers.BatchNormalization, layers.Dropout,
    layers.SpatialDropout1D, layers.SpatialDropout2D, layers.GaussianNoise,
    layers.GaussianDropout, layers.AlphaDropout, layers.Flatten, layers.Reshape,
    layers.Permute, layers.Add, layers.Subtract, layers.Average,
    layers.Concatenate, layers.ZeroPadding1D, layers.ZeroPadding2D,
    layers.Cropping1D, layers.Cropping2D, layers.AveragePooling1D,
    layers.AveragePooling2D, layers.GlobalAveragePooling1D,
    layers.GlobalAveragePooling2D, layers.UpSampling1D, layers.Identity,
)
# Keras ops recorded in a functional graph, e.g. by `x + y` on KerasTensors.
_LINEAR_OPS = (
    knp.Add, knp.Subtract, knp.Negative, knp.Reshape, knp.Transpose,
    knp.Concatenate, knp.ExpandDims, knp.Squeeze, knp.GetItem,
)


def deeplift_multipliers(
    model: keras.Model,
    x,
    ref,
    output_fn: Callable[[tf.Tensor], tf.Tensor],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """DeepLIFT rescale-rule multipliers of ``output_fn(model(x))`` w.r.t. ``x``.

    Parameters
    ----------
    model : keras.Model
        A functional or sequential Keras 3 model (nested ones allowed) with a
        single input; it runs with ``training=False``. Subclassed models with
        their own ``call`` cannot be inspected and are rejected.
    x, ref : numpy.ndarray or tf.Tensor
        Inputs and references, shape ``(n, ...)``, in the model's own layout.
    output_fn : callable
        Maps the model output (for ``n`` samples) to an ``(n,)`` tensor, e.g.
        selecting a target. It must be linear (selection, sum, mean, scaling):
        unlike the model, it is not checked.

    Returns
    -------
    multipliers : numpy.ndarray
        Same shape as ``x``; ``((x - ref) * multipliers)`` summed per sample
        equals ``f_x - f_ref`` (summation-to-delta).
    f_x, f_ref : numpy.ndarray
        ``(n,)`` outputs of ``output_fn`` for the inputs and references.

    Raises
    ------
    UnsupportedOperation
        If the model contains a layer that is neither linear nor covered by a
        DeepLIFT rule.
    """
    x = tf.cast(tf.convert_to_tensor(x), model.compute_dtype)
    ref = tf.cast(tf.convert_to_tensor(ref), model.compute_dtype)
    if x.shape != ref.shape:
        raise ValueError(f"x and ref shapes differ: {tuple(x.shape)} vs {tuple(ref.shape)}")
    n = x.shape[0]
    both = tf.concat([x, ref], axis=0)
    runner = _Runner(n)
    with tf.GradientTape() as tape:
        tape.watch(both)
        out = runner.run(model, both)
        if runner.blockers:
            raise UnsupportedOperation(no_rule(runner.blockers))
        f_x = output_fn(keras.tree.map_structure(lambda t: t[:n], out))
        f_ref = output_fn(keras.tree.map_structure(lambda t: t[n:], out))
    for f in (f_x, f_ref):
        if tuple(f.shape) != (n,):
            raise ValueError(f"output_fn must return shape ({n},), got {tuple(f.shape)}")
    grad = tape.gradient(f_x, both)
    if grad is None:
        raise ValueError("output_fn(model(x)) does not depend on x")
    return grad[:n].numpy(), f_x.numpy(), f_ref.numpy()


class _Runner:
    """Re-runs a model's graph with DeepLIFT gradients, for a batch of ``2 n``."""

    def __init__(self, n: int):
        self.n = n
        #: Each layer without a rule -> what to do instead; the graph runs on to find them
        #: all, and one error names every one.
        self.blockers: dict[str, str] = {}

    def run(self, model, inputs):
        if isinstance(model, keras.Sequential) and model._functional is None:
            for layer in model.layers:
                inputs = self.operation(layer)(inputs)
            return inputs
        graph = model._functional if isinstance(model, keras.Sequential) else model
        if not isinstance(graph, Functional):
            raise UnsupportedOperation(
                f"DeepLIFT cannot look inside the subclassed model '{model.name}' "
                f"({type(model).__name__}); build it with the functional or sequential API"
            )
        return graph._run_through_graph(inputs, operation_fn=self.operation)

    def operation(self, op) -> Callable:
        """The DeepLIFT version of one graph operation."""
        if isinstance(op, (keras.Sequential, Functional)):
            return lambda inputs, **kwargs: self.run(op, inputs)
        kind = type(op)
        if kind in _FUSED:
            return self._fused(op)
        if kind in _LINEAR or kind in _LINEAR_OPS:
            return lambda *args, **kwargs: op(*args, **_inference(op, kwargs))
        if kind in _MAXPOOL:
            return lambda inputs, **kwargs: self._maxpool(
                inputs, lambda a: op(a, **_inference(op, kwargs)), op)
        if kind is layers.Activation and self._blocked_activation(op.activation, op):
            return lambda *args, **kwargs: op(*args, **_inference(op, kwargs))
        if kind in _ELEMENTWISE_LAYERS or kind is layers.Activation:
            return lambda inputs, **kwargs: self._rescale(
                inputs, lambda a: op(a, **_inference(op, kwargs)), op)
        what = "layer" if isinstance(op, layers.Layer) else "operation"
        self.blockers.setdefault(f"{what} '{op.name}' ({kind.__name__})",
                                 _SOFTMAX_HINT if kind is layers.Softmax else _HINT)
        return lambda *args, **kwargs: op(*args, **_inference(op, kwargs))

    def _blocked_activation(self, activation, layer) -> bool:
        """Whether ``layer``'s activation has no rule (then recorded as a blocker)."""
        if activation in _ELEMENTWISE_ACTIVATIONS or activation is activations.linear:
            return False
        name = getattr(activation, "__name__", repr(activation))
        softmax = activation in (activations.softmax, activations.log_softmax)
        self.blockers.setdefault(f"activation '{name}' in layer '{layer.name}' "
                                 f"({type(layer).__name__})", _SOFTMAX_HINT if softmax else _HINT)
        return True

    def _fused(self, layer) -> Callable:
        activation = layer.activation
        if activation is activations.linear:
            return layer
        if self._blocked_activation(activation, layer):
            return lambda *args, **kwargs: layer(*args, **_inference(layer, kwargs))

        def call(*args, **kwargs):
            # The activation is switched off for the linear part and applied
            # separately, under the rescale rule.
            layer.activation = activations.linear
            try:
                z = layer(*args, **_inference(layer, kwargs))
            finally:
                layer.activation = activation
            return self._rescale(z, activation, layer)

        return call

    def _check_batch(self, a, layer):
        if a.shape[0] != 2 * self.n:
            raise UnsupportedOperation(
                f"DeepLIFT needs the batch on axis 0 of every nonlinearity's input; "
                f"layer '{layer.name}' got shape {tuple(a.shape)} for a batch of {self.n}"
            )

    def _rescale(self, a, f, layer):
        """Rescale rule for an elementwise ``y = f(a)``: ``g * dy / da``."""
        self._check_batch(a, layer)
        n = self.n
        with tf.GradientTape() as tape:
            tape.watch(a)
            y = f(a)
        local = tape.gradient(y, a)[:n]  # f'(a): elementwise, so a plain sum
        delta_in, delta_out = a[:n] - a[n:], y[:n] - y[n:]
        multiplier = tf.where(tf.abs(delta_in) < EPS, local, delta_out / delta_in)

        def backward(grad_y):
            return _to_input_half(grad_y[:n] * multiplier)

        return _replace_gradient(a, y, backward)

    def _maxpool(self, a, pool, layer):
        """Captum's max-pool rule (see ``torch_deeplift._maxpool``).

        The routing to the argmax positions is the pooling op's own
        vector-Jacobian product.
        """
        self._check_batch(a, layer)
        n = self.n
        y = pool(a)

        def backward(grad_y):
            g = grad_y[:n]
            out, out_ref = y[:n], y[n:]
            cross_max = tf.maximum(out, out_ref)
            routed = tf.concat([g * (cross_max - out_ref), g * (out - cross_max)], 0)
            with tf.GradientTape(persistent=True) as tape:
                tape.watch(a)
                pooled = pool(a)
            unpooled = tape.gradient(pooled, a, output_gradients=routed)
            local = tape.gradient(pooled, a, output_gradients=_to_input_half(g))[:n]
            delta_in = a[:n] - a[n:]
            via_both = unpooled[:n] + unpooled[n:]
            return _to_input_half(tf.where(tf.abs(delta_in) < EPS, local, via_both / delta_in))

        return _replace_gradient(a, y, backward)


def _inference(op, kwargs: dict) -> dict:
    if getattr(op, "_call_has_training_arg", False):
        return {**kwargs, "training": False}
    return kwargs


def _to_input_half(half):
    # The reference half gets no gradient: every rule reads only the input
    # half's upstream gradient.
    return tf.concat([half, tf.zeros_like(half)], axis=0)


def _replace_gradient(a, y, backward):
    """``y``, with its gradient w.r.t. ``a`` given by ``backward(grad_y)``."""

    @tf.custom_gradient
    def replaced(a):
        return tf.identity(y), backward

    return replaced(a)
