"""Keras 3 models (TensorFlow backend): every capability but fast ISM, from one
:class:`KerasNetwork` provider."""
from __future__ import annotations

import contextlib
import os

import keras
import numpy as np
import tensorflow as tf

from ...capabilities import (AttentionAccess, DeepLiftRules, FirstLayerFilters, InputGradients,
                             LayerAccess, Predictor)
from ...engine import auto_batch_size, available_memory
from ...errors import InputError, UnsupportedOperation
from ...layouts import ConvLayer, FeatureLayout, InputLayout, probe
from ...model import Model
from ...outputs import Outputs, named_arrays, read_outputs
from ...targets import Target
from ..files import check_weights_file, load_error
from . import attention as keras_attention
from .deeplift import deeplift_multipliers

#: Activation functions (by ``__name__``) with a kind of their own; any other is ``other``.
_ACTIVATION_KINDS = {"relu": "relu", "relu6": "relu", "sigmoid": "sigmoid",
                     "hard_sigmoid": "sigmoid", "tanh": "tanh", "hard_tanh": "tanh"}
#: Activations that are no elementwise nonlinearity: the identity, or a unit's output that
#: depends on the other units.
_NOT_ELEMENTWISE = {"linear", "softmax", "log_softmax", "glu", "sparsemax"}
#: Layers that act on each channel apart and keep the shape: a filter's nonlinearity may follow
#: them and still be that filter's.
_PER_CHANNEL = (keras.layers.BatchNormalization, keras.layers.Dropout,
                keras.layers.SpatialDropout1D, keras.layers.GaussianNoise,
                keras.layers.GaussianDropout, keras.layers.AlphaDropout)


class KerasNetwork(Predictor, InputGradients, DeepLiftRules, LayerAccess, AttentionAccess,
                   FirstLayerFilters):
    """A Keras 3 model with one input and one output tensor, and what it takes.

    Attributes
    ----------
    keras_model : keras.Model
    layout : InputLayout or FeatureLayout
    name : str
        The model's name, for messages.
    input_length : int or None
    """

    def __init__(self, keras_model, layout, name: str, input_length: int | None = None):
        self.keras_model, self.layout, self.name = keras_model, layout, name
        self.input_length = input_length
        self._heads: dict = {}
        self._tails: dict = {}
        #: As TorchNetwork's: what the model returns, set by :meth:`read_outputs`.
        self._outputs: Outputs | None = None

    @staticmethod
    def _select(out, target: Target):
        picked = tf.gather(tf.reshape(out, (tf.shape(out)[0], -1)), list(target.columns), axis=1)
        return tf.reduce_sum(picked, 1) if target.reduce == "sum" else tf.reduce_mean(picked, 1)

    def _call(self, inputs, model=None):
        """Run ``model`` (the whole model by default) in inference mode on one batch."""
        return self.library_layout((self.keras_model if model is None else model)(
            inputs, training=False))

    def library_layout(self, out):
        """The model's output with each task axis last; several arrays flattened per row and
        put one after the other."""
        arrays = [value for _, value in named_arrays(out, f"model {self.name!r}")]
        if self._outputs is None:
            return arrays[0]
        moved = [t if axis is None or axis == len(t.shape) - 2 else
                 tf.experimental.numpy.moveaxis(t, axis + 1, -1)
                 for t, axis in zip(arrays, self._outputs.task_axes)]
        if not self._outputs.heads:
            return moved[0]
        return tf.concat([tf.reshape(t, (tf.shape(t)[0], -1)) for t in moved], axis=1)

    @property
    def task_axes(self) -> tuple[int | None, ...] | None:
        """Per output array, the axis of one sequence's output that holds the tasks."""
        return None if self._outputs is None else self._outputs.task_axes

    def read_outputs(self, output_names, output_layout) -> tuple:
        """``(heads, shape, names)`` of the model's outputs, as
        :meth:`~kipoi_explain.backends.torch.TorchNetwork.read_outputs` gives them: Keras
        layers are channels last, so an undeclared output's last axis holds the tasks."""
        declared = self.keras_model.output_shape
        if isinstance(declared, dict):
            shapes = [(str(key), tuple(shape[1:])) for key, shape in declared.items()]
        elif declared and isinstance(declared[0], (list, tuple)):
            # Named after the output layers, unless output_names names them.
            layer_names = list(getattr(self.keras_model, "output_names", None) or [])
            shapes = [(layer_names[i] if output_names is None and i < len(layer_names) else None,
                       tuple(shape[1:])) for i, shape in enumerate(declared)]
        else:
            shapes = [(None, tuple(declared[1:]))]
        self._outputs = read_outputs(shapes, output_names, output_layout, True, self.name)
        return self._outputs.heads, self._outputs.shape, self._outputs.names

    def activation_bytes(self) -> tuple[int, int]:
        """Memory one input row takes in a gradient call, from the layers' declared output
        shapes (every output kept for the backward pass, and its gradient), and the largest
        layer output of one row."""
        sizes = []
        for layer in self.keras_model.layers:
            outputs = layer.output if isinstance(layer.output, (list, tuple)) else [layer.output]
            for tensor in outputs:
                shape = [int(s) for s in tuple(tensor.shape)[1:] if s is not None]
                sizes.append(4 * int(np.prod(shape, dtype=np.int64)))
        return 2 * sum(sizes), max(sizes, default=0)

    # ---- predictor ------------------------------------------------------------------------
    def forward(self, x, context=None):
        return np.asarray(self._call(self.layout.to_model(x)))

    def parameters(self):
        return [np.asarray(w) for w in self.keras_model.get_weights()]

    # ---- input gradients and DeepLIFT ----------------------------------------------------
    def input_gradient(self, x, target, context=None):
        inputs = tf.convert_to_tensor(self.layout.to_model(x))
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            outputs = self._call(inputs)
            value = self._select(outputs, target)
        grad = tape.gradient(value, inputs)
        return self.layout.from_model(grad.numpy()), np.asarray(outputs)

    def deeplift_multipliers(self, x, ref, target, context=None):
        mult, f_x, f_ref = deeplift_multipliers(
            self.keras_model, self.layout.to_model(x), self.layout.to_model(ref),
            lambda out: self._select(self.library_layout(out), target))
        return self.layout.from_model(np.asarray(mult)), np.asarray(f_x), np.asarray(f_ref)

    # ---- layers ---------------------------------------------------------------------------
    def layer_names(self):
        return [layer.name for layer in self.keras_model.layers
                if type(layer).__name__ != "InputLayer"]

    def _head(self, name: str):
        """Sub-model from the model's input to ``name``'s output."""
        if name not in self._heads:
            self._heads[name] = keras.Model(self.keras_model.inputs,
                                            self.keras_model.get_layer(name).output)
        return self._heads[name]

    def _tail(self, name: str):
        """Sub-model from ``name``'s output to the model's output."""
        if name not in self._tails:
            hidden, outputs = self.keras_model.get_layer(name).output, self.keras_model.outputs
            if len(outputs) == 1 and hidden is outputs[0]:
                self._tails[name] = lambda inputs, training: inputs
            else:
                try:
                    self._tails[name] = keras.Model(
                        hidden, outputs[0] if len(outputs) == 1 else outputs)
                except ValueError as err:
                    raise UnsupportedOperation(
                        f"layer {name!r}: the model's output does not depend on the input "
                        "through this layer's output alone (a skip connection around it, or a "
                        "layer called at several places), so the rest of the model cannot be "
                        f"run from it: {err}") from None
        return self._tails[name]

    def _unit_axis(self, name: str, ndim: int) -> int:
        return 1 if ndim == 3 and self._channels_first(name) else ndim - 1

    def _channels_first(self, name: str) -> bool:
        """Whether ``name``'s output is (units, positions): the last data_format set up to it."""
        data_format = None
        for layer in self.keras_model.layers:
            data_format = getattr(layer, "data_format", data_format)
            if layer.name == name:
                return data_format == "channels_first"
        return False

    def weighted_layers(self):
        return [layer.name for layer in self.keras_model.layers if layer.trainable_weights]

    def nonlinearities(self):
        kinds = {layer.name: _nonlinearity(layer) for layer in self.keras_model.layers}
        return {name: kind for name, kind in kinds.items() if kind is not None}

    def embedding_layer(self):
        raise UnsupportedOperation(f"model {self.name!r}: Keras models of token ids are not "
                                   "supported; no embedding layer to attribute at")

    def activations(self, x, layer, context=None):
        out = np.asarray(self._head(layer)([self.layout.to_model(x)], training=False))
        return out.transpose(0, 2, 1) if out.ndim == 3 and self._channels_first(layer) else out

    @contextlib.contextmanager
    def bypassed(self, layer):
        # Layers read their activation at call time, and calls here are eager.
        target = self.keras_model.get_layer(layer)
        saved = target.activation
        target.activation = keras.activations.linear
        try:
            yield
        finally:
            target.activation = saved

    def get_weights(self, layer):
        return [np.array(w.numpy()) for w in self.keras_model.get_layer(layer).trainable_weights]

    def set_weights(self, layer, arrays):
        for variable, array in zip(self.keras_model.get_layer(layer).trainable_weights, arrays,
                                   strict=True):
            variable.assign(array)

    def ablated_forward(self, x, layer, keep, fill, context=None):
        hidden = self._head(layer)([self.layout.to_model(x)], training=False)
        axis = self._unit_axis(layer, len(hidden.shape))
        if hidden.shape[axis] != keep.shape[-1]:
            raise InputError(f"layer {layer!r} has {hidden.shape[axis]} units; keep has "
                             f"{keep.shape[-1]} entries")
        shape = [1] * len(hidden.shape)
        shape[axis] = -1
        if keep.ndim == 2:
            shape[0] = len(keep)
        kept = tf.constant(keep.reshape(shape), dtype=hidden.dtype)
        value = tf.constant(fill.reshape([-1 if s == -1 else 1 for s in shape]),
                            dtype=hidden.dtype)
        return np.asarray(self._call(hidden * kept + value * (1 - kept), self._tail(layer)))

    def layer_gradient(self, x, layer, target, values=None, context=None):
        if values is None:
            hidden = self._head(layer)([self.layout.to_model(x)], training=False)
        else:
            channels_first = values.ndim == 3 and self._channels_first(layer)
            hidden = tf.constant(values.transpose(0, 2, 1) if channels_first else values)
        with tf.GradientTape() as tape:
            tape.watch(hidden)
            value = self._select(self._call(hidden, self._tail(layer)), target)
        grad = tape.gradient(value, hidden)
        grad = np.zeros(hidden.shape, np.float32) if grad is None else np.asarray(grad)
        hidden = np.asarray(hidden)
        if hidden.ndim == 3 and self._channels_first(layer):
            grad, hidden = grad.transpose(0, 2, 1), hidden.transpose(0, 2, 1)
        return grad, hidden, np.asarray(value)

    def layer_gradient_norms(self, x, layers, target, context=None):
        inputs = [self.layout.to_model(x)]
        norms = np.zeros((len(x), len(layers)), dtype=np.float64)
        for i, name in enumerate(layers):
            hidden = self._head(name)(inputs, training=False)
            with tf.GradientTape() as tape:
                tape.watch(hidden)
                value = self._select(self._call(hidden, self._tail(name)), target)
            grad = tape.gradient(value, hidden)
            if grad is not None:
                norms[:, i] = tf.norm(tf.reshape(grad, (len(x), -1)), axis=1).numpy()
        return norms

    # ---- attention ------------------------------------------------------------------------
    def attention_layers(self):
        return [layer.name for layer in self.keras_model.layers
                if keras_attention.is_attention(layer)]

    def _attention_calls(self, x, layers):
        return keras_attention.call_arguments(
            self.keras_model, [self.keras_model.get_layer(name) for name in layers],
            self.layout.to_model(x))

    def queries_and_keys(self, x, layer, context=None):
        return keras_attention.queries_and_keys(self.keras_model.get_layer(layer),
                                                *self._attention_calls(x, [layer])[layer])

    def attention_maps(self, x, layers, context=None):
        calls = self._attention_calls(x, layers)
        return [keras_attention.probabilities(self.keras_model.get_layer(name), *calls[name])
                for name in layers]

    def token_inputs(self, x, layer, context=None):
        return keras_attention.token_inputs(self.keras_model.get_layer(layer),
                                            *self._attention_calls(x, [layer])[layer])

    # ---- first-layer filters ----------------------------------------------------------------
    def conv_layers(self):
        if not isinstance(self.layout, InputLayout):
            return []
        candidates = [layer for layer in self.keras_model.layers
                      if isinstance(layer, keras.layers.Conv1D) and layer.kernel.shape[1] == 4]
        if not candidates:
            return []
        x = probe(self.input_length)
        seen = keras.Model(self.keras_model.inputs, [layer.input for layer in candidates])(
            [self.layout.to_model(x)], training=False)
        seen = seen if isinstance(seen, (list, tuple)) else [seen]
        convs = []
        for layer, received in zip(candidates, seen):
            # Only a convolution that receives the one-hot input itself has filters to read as
            # motifs; a deeper convolution with 4 channels does not.
            bases_axis = 0 if layer.data_format == "channels_first" else 1
            expected = InputLayout(self.layout.alphabet, alphabet_axis=bases_axis).to_model(x)
            if np.array_equal(np.asarray(received), expected):
                # Keras kernels are (K, 4, F) in the model's base order -> (F, K, 4) ACGT.
                weights = np.asarray(layer.kernel).transpose(2, 0, 1)
                bias = np.asarray(layer.bias) if layer.use_bias else None
                convs.append(ConvLayer(layer.name, self.layout.bases_to_acgt(weights), bias,
                                       layer.strides[0], layer.dilation_rate[0], layer.padding,
                                       self._first_nonlinearity(layer)))
        return convs

    def _first_nonlinearity(self, conv) -> str | None:
        """The layer whose output is the first elementwise nonlinearity of ``conv``'s output,
        through per-channel layers only; None when another kind of layer comes first, or the
        output is read by several layers."""
        if _nonlinearity(conv) is not None:
            return conv.name
        current = conv.output
        while True:
            readers = [layer for layer in self.keras_model.layers
                       if layer is not conv and layer.input is current]
            if len(readers) != 1:
                return None
            layer = readers[0]
            if _nonlinearity(layer) is not None:
                return layer.name
            if not isinstance(layer, _PER_CHANNEL):
                return None
            current = layer.output


def _nonlinearity(layer) -> str | None:
    """The kind of elementwise nonlinearity ``layer``'s output is, or None."""
    if isinstance(layer, keras.layers.ReLU):
        return "relu" if not layer.negative_slope else "other"
    if isinstance(layer, (keras.layers.LeakyReLU, keras.layers.PReLU, keras.layers.ELU)):
        return "other"
    if isinstance(layer, keras.layers.RNN):
        # The output mixes gates and state: not an activation of a pre-activation.
        return None
    activation = getattr(layer, "activation", None)
    name = getattr(activation, "__name__", "")
    if not callable(activation) or name in _NOT_ELEMENTWISE:
        return None
    return _ACTIVATION_KINDS.get(name, "other")


def keras_model(model, output_names=None, layout: InputLayout | None = None,
                name: str | None = None, batch_size: int | str | None = None,
                source: dict | None = None, output_layout=None) -> Model:
    """Wrap a Keras 3 model, or load one from a ``.keras`` / ``.h5`` file.

    The input length and layout are read from the model's input shape: ``(L, 4)`` is bases last
    (Keras' convention), ``(4, L)`` bases first. A model of several outputs has one head per
    output (:mod:`kipoi_explain.outputs`), named by its dict key or output layer; each output's
    last axis holds its tasks unless ``output_layout`` says otherwise.
    """
    if isinstance(model, (str, os.PathLike)):
        path = str(model)
        where = f"Keras model file {path!r}"
        if not os.path.isfile(path):
            raise InputError(f"{where} does not exist")
        check_weights_file(path, where)
        source = source or {"type": "keras file", "path": os.path.abspath(path)}
        name = name or os.path.basename(path)
        try:
            model = keras.models.load_model(path, compile=False)
        except Exception as err:  # noqa: BLE001 - every failure of a bad file, said in one line
            raise load_error(where, err) from None
    shape = tuple(model.input_shape)
    if layout is None:
        if len(shape) == 3 and shape[-1] == 4:
            layout = InputLayout(alphabet_axis=1)
        elif len(shape) == 3 and shape[1] == 4:
            layout = InputLayout(alphabet_axis=0)
        elif None not in shape[1:]:
            layout = FeatureLayout(shape[1:])
        else:
            raise InputError(f"Keras model input shape {shape}: neither one-hot DNA (None, L, 4) "
                             "/ (None, 4, L) nor features of a fixed shape")
    if isinstance(layout, FeatureLayout):
        input_length = None
    else:
        input_length = shape[2] if layout.channels_first else shape[1]
    name = name or model.name
    network = KerasNetwork(model, layout, name, input_length)
    heads, output_shape, output_names = network.read_outputs(output_names, output_layout)
    if batch_size in (None, "auto"):
        # As for PyTorch models: sized to the memory free (TensorFlow runs Keras on the CPU
        # here; a GPU's memory is not asked for).
        per_row, largest = network.activation_bytes()
        batch_size = auto_batch_size(per_row, available_memory(), largest_per_row=largest)
    return Model(name, "keras", layout, input_length, output_names, output_shape,
                 predictor=network, gradients=network, deeplift=network, layers=network,
                 attention=network, filters=network, batch_size=batch_size,
                 source=source or {"type": "keras.Model"}, heads=heads)
