"""DeepLIFT multipliers for Keras 3 models (TensorFlow backend).

Keras has no backward hooks, so the model's graph is re-run here operation by
operation on the input batch concatenated with the reference batch. Linear
layers run as they are; every nonlinearity with a rule has its gradient replaced
(``tf.custom_gradient``, or a straight-through surrogate) by the DeepLIFT
multiplier, with the conventions of :mod:`kipoi_explain.backends.torch.deeplift`:
a multiplier is built from the input half's upstream gradient only. Any layer
that is neither on the linear whitelist nor covered by a rule is named in one
:class:`UnsupportedOperation` with every other such layer (the graph runs on to
find them all): a plain gradient through it would silently break
summation-to-delta, ``sum((x - ref) * m) == f(x) - f(ref)``.

Rules (``Δt = t - t_ref`` per sample; each is exact, so their composition keeps
summation-to-delta):

* **Rescale** (Shrikumar et al. 2017, "Learning important features through
  propagating activation differences"): an elementwise ``y = f(a)`` (ReLU, GELU,
  sigmoid, exp, reciprocal, ...) gets the multiplier ``Δy / Δa``, the local
  gradient where ``|Δa| < EPS``. Max pooling takes Captum's rule.
* **Products** (two-player Shapley rule of SHAP's DeepExplainer, Lundberg & Lee
  2017, "A unified approach to interpreting model predictions"): for a bilinear
  ``y = f(a, b)`` (``Multiply``, ``Dot``, ``matmul``, two-operand ``einsum``),
  ``Δy = f(Δa, b̄) + f(ā, Δb)`` exactly, with ``ā = (a + a_ref) / 2``; so ``a``
  takes the gradient of ``f(a, b̄)`` and ``b`` that of ``f(ā, b)``. The value is
  the true ``f(a, b)``; only its gradient is the surrogate's. ``a / b`` is
  ``a * (1 / b)``, the reciprocal by the rescale rule.
* **Softmax** (as SHAP's DeepExplainer decomposes it): ``e = exp(z - c)`` with
  ``c`` the maximum over the input and the reference row together, a constant
  shared by both halves (``Δc = 0``, so nothing leaks through it); ``exp`` by
  the rescale rule, ``s = sum(e)`` (linear), ``y = e * (1 / s)`` with the
  reciprocal by the rescale rule and the product by the Shapley rule.
  ``log_softmax = (z - c) - log(s)`` and ``logsumexp = c + log(s)``, ``log`` by
  the rescale rule. A constant mask (``Softmax(mask=...)``, attention masks)
  selects constants, which is linear.
* **Layer normalisation**: ``μ = mean(x)`` and ``x - μ`` (linear),
  ``v = mean((x - μ)²)`` (square by the rescale rule), ``r = 1 / sqrt(v + ε)``
  (rescale rule), ``y = (x - μ) * r`` (Shapley product; ``x * r`` with
  ``rms_scaling``, as Keras computes it), then ``γ`` and ``β`` (affine).
* **Multi-head attention** (eval mode): the query/key/value/output projections
  are linear; the scores ``einsum(q, k) / sqrt(d)`` take the product rule, their
  (masked) softmax the softmax rule, the weighting of the values the product
  rule again, and the optional gate its sigmoid (rescale) and a product.
"""

from __future__ import annotations

from typing import Callable

import keras
import numpy as np
import tensorflow as tf
from keras import activations, layers
from keras.src.backend import get_keras_mask, set_keras_mask
from keras.src.models.functional import Functional
from keras.src.ops import math as kmath
from keras.src.ops import nn as knn
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
_MASK_HINT = "use a mask that is the same for the input and the reference"

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
# Keras ops (recorded in a functional graph by `keras.ops.gelu(t)`, `ops.exp(t)`, ...)
# that are elementwise in their one tensor argument; their other settings (GELU's
# approximation, a leaky slope) live on the op.
_ELEMENTWISE_OPS = tuple(
    getattr(module, name)
    for module, names in (
        (knn, ("Celu", "Elu", "Gelu", "HardShrink", "HardSigmoid", "HardSilu", "HardTanh",
               "LeakyRelu", "LogSigmoid", "Relu", "Relu6", "Selu", "Sigmoid", "Silu",
               "SoftShrink", "Softplus", "Softsign", "SparsePlus", "Squareplus",
               "TanhShrink")),
        (knp, ("Exp", "Expm1", "Log", "Log1p", "Reciprocal", "Sqrt", "Square", "Tanh")),
        (kmath, ("Erf", "Rsqrt")),
    )
    for name in names
    if hasattr(module, name)
)
# Layers whose computation is elementwise in their input.
_ELEMENTWISE_LAYERS = (layers.ReLU, layers.LeakyReLU, layers.ELU, layers.PReLU)
# Layers computing a linear part followed by `layer.activation`.
_FUSED = (layers.Conv1D, layers.Conv2D, layers.Dense, layers.EinsumDense)
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
# Linear unless they reduce over the batch axis, which would mix the two halves.
_REDUCTIONS = (knp.Sum, knp.Mean)
# Bilinear in their two operands (per sample, when both carry the batch).
_PRODUCT_OPS = (knp.Multiply, knp.Matmul, knp.Einsum)
_DIVISION_OPS = (knp.Divide, knp.TrueDivide)
_SOFTMAX_ACTIVATIONS = {activations.softmax: False, activations.log_softmax: True}


def deeplift_multipliers(
    model: keras.Model,
    x,
    ref,
    output_fn: Callable[[tf.Tensor], tf.Tensor],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """DeepLIFT multipliers of ``output_fn(model(x))`` w.r.t. ``x``.

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
        if kind in _REDUCTIONS:
            return lambda a: self._reduction(op, a)
        if kind in _MAXPOOL:
            return lambda inputs, **kwargs: self._maxpool(
                inputs, lambda a: op(a, **_inference(op, kwargs)), op)
        if kind in _ELEMENTWISE_LAYERS:
            return lambda inputs, **kwargs: self._rescale(
                inputs, lambda a: op(a, **_inference(op, kwargs)), op)
        if kind is layers.Activation:
            rule = self._activation_rule(op.activation, op)
            return lambda inputs, **kwargs: rule(inputs)
        if kind in _ELEMENTWISE_OPS:
            return lambda a: self._rescale(a, op, op)
        if kind in _PRODUCT_OPS:
            return lambda *operands: self._product_op(op, operands)
        if kind in _DIVISION_OPS:
            return lambda a, b: self._divide(a, b, op)
        if kind is layers.Multiply:
            return lambda inputs, **kwargs: self._multiply_all(inputs, op)
        if kind is layers.Dot:
            return lambda inputs, **kwargs: self._dot(inputs, op)
        if kind is layers.Softmax:
            return lambda inputs, mask=None: self._masked_softmax_layer(op, inputs, mask)
        if kind in (knn.Softmax, knn.LogSoftmax):
            return lambda a: self._softmax(a, op.axis, op, log=kind is knn.LogSoftmax)
        if kind is kmath.Logsumexp:
            return lambda a: self._logsumexp(a, op)
        if kind is layers.LayerNormalization:
            return lambda inputs, **kwargs: self._layer_norm(inputs, op)
        if kind is layers.MultiHeadAttention:
            return lambda *args, **kwargs: self._attention(op, *args, **kwargs)
        self._block(op, _HINT)
        return lambda *args, **kwargs: op(*args, **_inference(op, kwargs))

    def _block(self, op, hint: str, what: str = ""):
        """Records ``op`` as having no rule (``what`` in it, if not all of it)."""
        kind = "layer" if isinstance(op, layers.Layer) else "operation"
        where = f"{kind} '{op.name}' ({type(op).__name__})"
        self.blockers.setdefault(f"{what} in {where}" if what else where, hint)

    def _activation_rule(self, activation, layer) -> Callable:
        """``activation`` under its DeepLIFT rule (or as it is, recorded as a blocker)."""
        if activation is activations.linear:
            return activation
        if activation in _ELEMENTWISE_ACTIVATIONS:
            return lambda z: self._rescale(z, activation, layer)
        if activation in _SOFTMAX_ACTIVATIONS:
            # Keras's softmax and log_softmax activations normalise the last axis.
            log = _SOFTMAX_ACTIVATIONS[activation]
            return lambda z: self._softmax(z, -1, layer, log=log)
        name = getattr(activation, "__name__", repr(activation))
        self._block(layer, _HINT, f"activation '{name}'")
        return activation

    def _fused(self, layer) -> Callable:
        activation = layer.activation
        if activation is activations.linear:
            return layer
        rule = self._activation_rule(activation, layer)

        def call(*args, **kwargs):
            # The activation is switched off for the linear part and applied
            # separately, under its rule.
            layer.activation = activations.linear
            try:
                z = layer(*args, **_inference(layer, kwargs))
            finally:
                layer.activation = activation
            return rule(z)

        return call

    def _check_batch(self, a, layer):
        if a.shape.rank == 0 or a.shape[0] != 2 * self.n:
            raise UnsupportedOperation(
                f"DeepLIFT needs the batch on axis 0 of every nonlinearity's input; "
                f"layer '{layer.name}' got shape {tuple(a.shape)} for a batch of {self.n}"
            )

    def _batched(self, t) -> bool:
        """Whether ``t`` carries the doubled batch (else it is a constant of the model)."""
        return tf.is_tensor(t) and t.shape.rank > 0 and t.shape[0] == 2 * self.n

    def _axes(self, a, axis, op) -> list[int]:
        """Non-negative axes of ``a`` for ``axis`` (int, sequence, or None: all), never the
        batch."""
        if axis is None:
            axis = range(a.shape.rank)
        axes = sorted(ax % a.shape.rank for ax in np.atleast_1d(axis).tolist())
        if 0 in axes:
            raise UnsupportedOperation(
                f"DeepLIFT cannot normalise or reduce over the batch axis "
                f"(axis {axis} of '{op.name}'): the input and the reference would mix"
            )
        return axes

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

    def _midpoint(self, t):
        """``(t + t_ref) / 2`` on both halves, a constant of the backward pass."""
        mid = (t[:self.n] + t[self.n:]) / 2
        return tf.stop_gradient(tf.concat([mid, mid], axis=0))

    def _input_half_only(self, t):
        # The reference half gets no gradient, as in every other rule.
        return tf.concat([t[:self.n], tf.stop_gradient(t[self.n:])], axis=0)

    def _product(self, f, a, b, op):
        """Shapley rule for a bilinear ``y = f(a, b)``: the true value, with the
        gradient of ``f(a, b̄) + f(ā, b)``."""
        if not (self._batched(a) and self._batched(b)):
            # A constant factor: f is linear in the other one.
            return f(a, b)
        mixes = None
        if isinstance(op, knp.Einsum) and not _einsum_keeps_batch(op.subscripts):
            mixes = "an einsum that mixes samples"
        if isinstance(op, knp.Matmul) and min(a.shape.rank, b.shape.rank) < 3:
            mixes = "a matmul whose batch is not a leading axis"
        if mixes:
            self._block(op, _HINT, mixes)
            return f(a, b)
        y = f(a, b)
        self._check_batch(y, op)
        surrogate = (f(self._input_half_only(a), self._midpoint(b))
                     + f(self._midpoint(a), self._input_half_only(b)))
        return surrogate + tf.stop_gradient(y - surrogate)

    def _product_op(self, op, operands):
        """``multiply``, ``matmul`` or ``einsum`` (which may take more than two operands)."""
        if len(operands) == 2:
            return self._product(op, *operands, op)
        if sum(self._batched(t) for t in operands) > 1:
            self._block(op, _HINT, "a product of more than two input-dependent tensors")
        return op(*operands)

    def _divide(self, a, b, op):
        """``a / b`` as ``a * (1 / b)``, the reciprocal by the rescale rule."""
        if not self._batched(b):
            return op(a, b)
        return self._product(tf.multiply, a, self._rescale(b, tf.math.reciprocal, op), op)

    def _multiply_all(self, inputs, layer):
        """``layers.Multiply``: a chain of two-factor products."""
        y = inputs[0]
        for factor in inputs[1:]:
            y = self._product(tf.multiply, y, factor, layer)
        return y

    def _dot(self, inputs, layer):
        """``layers.Dot``: bilinear; with ``normalize``, each factor is first divided by
        its L2 norm (a sum of squares, a rescaled ``1 / max(sqrt(.), eps)``, a product)."""
        a, b = inputs
        if layer.normalize:
            axes = layer.axes if isinstance(layer.axes, (list, tuple)) else [layer.axes] * 2
            a, b = (self._l2_normalize(t, ax, layer) for t, ax in zip((a, b), axes))
        normalize = layer.normalize
        # Normalised above, under the rules; the layer then only takes the batch dot.
        layer.normalize = False
        try:
            return self._product(lambda u, v: layer([u, v]), a, b, layer)
        finally:
            layer.normalize = normalize

    def _l2_normalize(self, t, axis, layer):
        """``t / max(||t||, eps)`` over ``axis``, as ``keras.ops.normalize`` computes it."""
        axes = self._axes(t, axis, layer)
        squares = tf.reduce_sum(self._rescale(t, tf.square, layer), axes, keepdims=True)
        epsilon = keras.config.epsilon()
        inv_norm = self._rescale(
            squares, lambda s: 1 / tf.maximum(tf.sqrt(s), epsilon), layer)
        return self._product(tf.multiply, t, inv_norm, layer)

    def _reduction(self, op, a):
        """``sum`` or ``mean``: linear, unless over the batch axis."""
        self._axes(a, op.axis, op)
        return op(a)

    def _constant_mask(self, mask, op):
        """``mask`` as a boolean tensor; recorded as a blocker if it depends on the input."""
        mask = tf.convert_to_tensor(mask)
        if mask.dtype != tf.bool:
            # Keras keeps the positions where a numeric mask is > 0.5.
            mask = mask > 0.5
        if self._batched(mask) and not bool(tf.reduce_all(mask[:self.n] == mask[self.n:])):
            self._block(op, _MASK_HINT, "a mask that differs between input and reference")
        return mask

    def _shift(self, z, axes):
        """Per row, the maximum over the input and the reference together, on both
        halves: a constant with ``Δc = 0``."""
        row_max = tf.reduce_max(z, axis=axes, keepdims=True)
        shared = tf.maximum(row_max[:self.n], row_max[self.n:])
        return tf.stop_gradient(tf.concat([shared, shared], axis=0))

    def _softmax(self, z, axis, op, mask=None, log=False):
        """Softmax (``log=False``) or log-softmax of ``z`` over ``axis``, decomposed into
        rules (module docstring)."""
        self._check_batch(z, op)
        axes = self._axes(z, axis, op)
        if mask is not None:
            mask = self._constant_mask(mask, op)
            # Masked positions become a constant, as in keras.layers.Softmax.
            large_negative = -3e4 if z.dtype == tf.float16 else -1e9
            z = tf.where(mask, z, tf.cast(large_negative, z.dtype))
        shifted = z - self._shift(z, axes)
        exp = self._rescale(shifted, tf.exp, op)
        total = tf.reduce_sum(exp, axes, keepdims=True)
        if log:
            return shifted - self._rescale(total, tf.math.log, op)
        inverse = self._rescale(total, tf.math.reciprocal, op)
        y = self._product(tf.multiply, exp, inverse, op)
        if mask is not None:
            # Zero where a whole row is masked, as Keras does.
            y = tf.where(mask, y, tf.zeros_like(y))
        return y

    def _masked_softmax_layer(self, layer, z, mask):
        # As Layer.__call__ would: the mask attached to the input (Keras masking) unless
        # one is given, and passed on to the output.
        mask = get_keras_mask(z) if mask is None else mask
        y = self._softmax(z, layer.axis, layer, mask)
        if mask is not None:
            set_keras_mask(y, mask)
        return y

    def _logsumexp(self, z, op):
        """``c + log(sum(exp(z - c)))``, ``exp`` and ``log`` by the rescale rule."""
        self._check_batch(z, op)
        axes = self._axes(z, op.axis, op)
        shift = self._shift(z, axes)
        total = tf.reduce_sum(self._rescale(z - shift, tf.exp, op), axes, keepdims=True)
        y = shift + self._rescale(total, tf.math.log, op)
        return y if op.keepdims else tf.squeeze(y, axes)

    def _layer_norm(self, x, layer):
        """``layers.LayerNormalization``, decomposed into rules (module docstring)."""
        self._check_batch(x, layer)
        axes = self._axes(x, layer.axis, layer)
        # Keras computes in at least float32.
        dtype = tf.float64 if x.dtype == tf.float64 else tf.float32
        x = tf.cast(x, dtype)
        centred = x - tf.reduce_mean(x, axes, keepdims=True)
        variance = tf.reduce_mean(self._rescale(centred, tf.square, layer), axes,
                                  keepdims=True)
        epsilon = layer.epsilon
        inv_std = self._rescale(variance, lambda v: tf.math.rsqrt(v + epsilon), layer)
        y = self._product(tf.multiply, x if layer.rms_scaling else centred, inv_std, layer)
        # gamma and beta span the normalised axes.
        shape = [x.shape[ax] if ax in axes else 1 for ax in range(x.shape.rank)]
        if layer.gamma is not None:
            y = y * tf.reshape(tf.cast(layer.gamma, dtype), shape)
        if layer.beta is not None:
            y = y + tf.reshape(tf.cast(layer.beta, dtype), shape)
        return tf.cast(y, layer.compute_dtype)

    def _attention(self, layer, query, value, key=None, query_mask=None, value_mask=None,
                   key_mask=None, attention_mask=None, return_attention_scores=False,
                   training=None, use_causal_mask=False):
        """``layers.MultiHeadAttention`` in eval mode, rebuilt from its sublayers.

        Keras offers no public way to run the layer's parts separately (its
        ``_compute_attention`` multiplies with ``ops.einsum`` directly, or calls a fused
        attention kernel), so this reads the layer's private sublayers, einsum equations
        and mask builder, which exist since Keras 3.0.
        """
        # The Keras masks attached to the tensors count as the layer's call sees them: the
        # query's always, the value's and key's unless given.
        query_mask = get_keras_mask(query)
        if value_mask is None:
            value_mask = get_keras_mask(value)
        if key_mask is None and key is not None:
            key_mask = get_keras_mask(key)
        key = value if key is None else key
        mask = layer._compute_attention_mask(
            query, value, query_mask=query_mask, value_mask=value_mask, key_mask=key_mask,
            attention_mask=attention_mask, use_causal_mask=use_causal_mask)
        q = layer._query_dense(query)
        # Scaled as the layer does (its scale passes through float32), so that the outputs
        # match the model's own to the last bit.
        q = keras.ops.multiply(q, keras.ops.cast(layer._inverse_sqrt_key_dim, q.dtype))
        k = layer._key_dense(key)
        v = layer._value_dense(value)
        scores = self._product(
            lambda a, b: keras.ops.einsum(layer._dot_product_equation, a, b), k, q, layer)
        attention_axes = layer._attention_axes
        rank = scores.shape.rank
        if mask is not None:
            mask = tf.convert_to_tensor(mask)
            # Broadcast over the heads, as in MultiHeadAttention._masked_softmax.
            for _ in range(rank - mask.shape.rank):
                mask = tf.expand_dims(mask, -2 * len(attention_axes) - 1)
        weights = self._softmax(
            scores, list(range(rank - len(attention_axes), rank)), layer, mask)
        out = self._product(
            lambda a, b: keras.ops.einsum(layer._combine_equation, a, b), weights, v, layer)
        if getattr(layer, "_use_gate", False):
            out = self._product(tf.multiply, out, self._fused(layer._gate_dense)(query), layer)
        out = layer._output_dense(out)
        if query_mask is not None:
            set_keras_mask(out, query_mask)
        return (out, weights) if return_attention_scores else out

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


def _einsum_keeps_batch(subscripts: str) -> bool:
    """Whether every operand and the output of an einsum lead with the same index
    (the batch), so that it multiplies sample by sample."""
    if "->" not in subscripts:
        return False
    inputs, output = subscripts.replace(" ", "").split("->")
    terms = [*inputs.split(","), output]
    return all(term and term[0] == terms[0][0] for term in terms)


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
