"""Keras 3 models (TensorFlow backend) behind the :class:`~kipoi_explain.adapters.base.Model` interface.

Gradients come from ``tf.GradientTape``; Kipoi's own Keras gradient mixins crash on Keras 3.
"""
from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ..targets import Target
from .base import ConvLayer, InputLayout, Model, output_names_for, probe

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
if "tensorflow" not in sys.modules:
    # With TensorFlow loaded first, a later `import torch._dynamo` (done lazily by torch.optim,
    # torch.compile, ...) segfaults (torch 2.14, triton 3.8, TF 2.21); loading it first is safe.
    with contextlib.suppress(ImportError):
        import torch._dynamo  # noqa: F401


@dataclass
class KerasModel(Model):
    """A Keras 3 model with one input and one output tensor."""

    keras_model: object = None
    _probes: dict = field(default_factory=dict, repr=False)

    framework = "keras"

    def _select(self, out, target: Target):
        import tensorflow as tf

        picked = tf.gather(tf.reshape(out, (tf.shape(out)[0], -1)), list(target.columns), axis=1)
        return tf.reduce_sum(picked, 1) if target.reduce == "sum" else tf.reduce_mean(picked, 1)

    def _forward(self, x):
        return np.asarray(self._call(self.layout.to_model(x)))

    def _call(self, inputs):
        out = self.keras_model(inputs, training=False)
        if isinstance(out, (list, tuple, dict)):
            raise InputError(f"model {self.name!r} has several outputs; models with several "
                             "output tensors are not supported yet")
        return out

    def _gradient(self, x, target):
        import tensorflow as tf

        inputs = tf.convert_to_tensor(self.layout.to_model(x))
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            value = self._select(self._call(inputs), target)
        grad = tape.gradient(value, inputs)
        return self.layout.from_model(grad.numpy()), value.numpy()

    def _deeplift(self, x, ref, target):
        from .keras_deeplift import deeplift_multipliers

        mult, f_x, f_ref = deeplift_multipliers(
            self.keras_model, self.layout.to_model(x), self.layout.to_model(ref),
            lambda out: self._select(out, target))
        return self.layout.from_model(np.asarray(mult)), np.asarray(f_x), np.asarray(f_ref)

    def _parameters(self):
        return [np.asarray(w) for w in self.keras_model.get_weights()]

    def layers(self):
        return [layer.name for layer in self.keras_model.layers
                if type(layer).__name__ != "InputLayer"]

    def _activations(self, x, layer):
        import keras

        if layer not in self._probes:
            self._probes[layer] = keras.Model(self.keras_model.inputs,
                                              self.keras_model.get_layer(layer).output)
        out = np.asarray(self._probes[layer]([self.layout.to_model(x)], training=False))
        return out.transpose(0, 2, 1) if out.ndim == 3 and self._channels_first(layer) else out

    def _channels_first(self, name: str) -> bool:
        """Whether ``name``'s output is (units, positions): the last data_format set up to it."""
        data_format = None
        for layer in self.keras_model.layers:
            data_format = getattr(layer, "data_format", data_format)
            if layer.name == name:
                return data_format == "channels_first"
        return False

    def conv_layers(self):
        import keras

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
                                       layer.strides[0], layer.dilation_rate[0], layer.padding))
        return convs

def keras_model(model, output_names=None, layout: InputLayout | None = None,
                name: str | None = None, batch_size: int | None = None,
                source: dict | None = None) -> KerasModel:
    """Wrap a Keras 3 model, or load one from a ``.keras`` / ``.h5`` file.

    The input length and layout are read from the model's input shape: ``(L, 4)`` is bases last
    (Keras' convention), ``(4, L)`` bases first.
    """
    import keras

    if isinstance(model, (str, os.PathLike)):
        path = str(model)
        if not os.path.isfile(path):
            raise InputError(f"Keras model file {path!r} does not exist")
        source = source or {"type": "keras file", "path": os.path.abspath(path)}
        name = name or os.path.basename(path)
        model = keras.models.load_model(path, compile=False)
    shape = tuple(model.input_shape)
    if len(shape) != 3:
        raise InputError(f"Keras model input shape {shape}: expected (None, L, 4) or (None, 4, L)")
    if layout is None:
        if shape[-1] == 4:
            layout = InputLayout(alphabet_axis=1)
        elif shape[1] == 4:
            layout = InputLayout(alphabet_axis=0)
        else:
            raise InputError(f"Keras model input shape {shape}: no axis of size 4 for the bases")
    input_length = shape[2] if layout.channels_first else shape[1]
    output_shape = tuple(model.output_shape[1:]) or (1,)
    return KerasModel(name or model.name, layout, input_length,
                      output_names_for(output_names, output_shape), output_shape,
                      batch_size or 128, source or {"type": "keras.Model"}, keras_model=model)
