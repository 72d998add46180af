"""What a model can do, one small capability at a time.

A backend (:mod:`kipoi_explain.backends`) gives each loaded model the capabilities its
framework supports, each a provider of a few public primitives that handle **one block** of
rows in the public layout (one-hot ``(n, L, 4)`` A, C, G, T, or the model's features / token
ids), with ``context`` the block's extra inputs (see :meth:`kipoi_explain.Model.rows`).
Batching, progress and input checks live outside the providers, in the engine and the
functions that use them.

A method declares the capabilities it needs; a model without one gets an error naming what
applies instead (:meth:`kipoi_explain.Model.require`). The server's dynamic batching wraps
providers (its routed ones answer the same primitives from a shared device worker), never the
model itself.

========================  ====================================================================
capability                provider
========================  ====================================================================
``predictor``             :class:`Predictor`: outputs, and the weights for the fingerprint
``gradients``             :class:`InputGradients`: gradient of a target w.r.t. the input
``deeplift``              :class:`DeepLiftRules`: DeepLIFT rescale-rule multipliers
``layers``                :class:`LayerAccess`: hidden layers, their outputs, gradients and
                          interventions (ablation, bypass, weights)
``attention``             :class:`AttentionAccess`: attention layers' probabilities, queries and
                          keys
``filters``               :class:`FirstLayerFilters`: convolutions reading the one-hot input
``fast_ism``              :class:`FastISM`: exact ISM recomputing only what a substitution
                          reaches
========================  ====================================================================
"""
from __future__ import annotations

import contextlib
import hashlib
from abc import ABC, abstractmethod

import numpy as np

class Predictor(ABC):
    """Runs the model: the one capability every model has."""

    @abstractmethod
    def forward(self, x: np.ndarray, context: dict | None = None) -> np.ndarray:
        """Outputs ``(n, *output_shape)`` for one block."""

    @abstractmethod
    def parameters(self) -> list[np.ndarray]:
        """Every weight array, in a fixed order."""

    def fingerprint(self) -> str:
        """SHA-256 of the weights: identifies exactly which model produced a result."""
        digest = hashlib.sha256()
        for array in self.parameters():
            digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()


class InputGradients(ABC):
    """Gradients of a target with respect to the inputs."""

    @abstractmethod
    def input_gradient(self, x: np.ndarray, target, context: dict | None = None
                       ) -> tuple[np.ndarray, ...]:
        """``(d target / d x, outputs)`` for one block: ``(n, *sample shape)`` and the model's
        outputs of the same forward pass, as :meth:`Predictor.forward` gives them (so that a
        gradient method needs no second pass for the predictions); then the gradient with
        respect to each differentiable extra input, in the order of the model's
        ``extra_inputs``."""


class DeepLiftRules(ABC):
    """DeepLIFT with the rescale rule; an operation without a correct rule raises
    :class:`~kipoi_explain.errors.UnsupportedOperation`, never a silently wrong number."""

    @abstractmethod
    def deeplift_multipliers(self, x: np.ndarray, ref: np.ndarray, target,
                             context: dict | None = None
                             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Multipliers ``(n, L, 4)``, ``f(x)`` and ``f(ref)`` for one block of input and
        reference rows (the extra inputs held the same for both)."""


class LayerAccess(ABC):
    """The model's hidden layers, by name: their outputs, gradients and interventions.

    Activations are read with their units on the last axis: 3-D outputs are
    ``(n, positions, units)`` whatever the framework's layout.
    """

    @abstractmethod
    def layer_names(self) -> list[str]:
        """Names of the model's layers, in forward order."""

    @abstractmethod
    def weighted_layers(self) -> list[str]:
        """Layers holding trainable weights, in the order the forward pass reaches them."""

    @abstractmethod
    def nonlinearities(self) -> dict[str, str]:
        """Layers whose output is an elementwise nonlinearity, in forward order: name -> kind
        (``relu``, ``sigmoid``, ``tanh`` or ``other``)."""

    @abstractmethod
    def embedding_layer(self) -> str:
        """The layer embedding the token ids of a model of tokens (where gradient methods
        attribute); raises UnsupportedOperation when there is none."""

    @abstractmethod
    def activations(self, x: np.ndarray, layer: str, context: dict | None = None) -> np.ndarray:
        """Output of ``layer`` for one block."""

    @abstractmethod
    def ablated_forward(self, x: np.ndarray, layer: str, keep: np.ndarray, fill: np.ndarray,
                        context: dict | None = None) -> np.ndarray:
        """Outputs for one block with ``layer``'s units replaced, ``a * keep + fill * (1 -
        keep)``; ``keep`` and ``fill`` are ``(units,)``, or ``(n, units)`` for one choice per
        row."""

    @abstractmethod
    def layer_gradient(self, x: np.ndarray, layer: str, target, values: np.ndarray | None = None,
                       context: dict | None = None
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(d target / d output of layer, that output, target value)`` for one block; with
        ``values`` (in the layout of :meth:`activations`) the layer outputs them instead of
        what it computes, and the gradient is taken there."""

    @abstractmethod
    def layer_gradient_norms(self, x: np.ndarray, layers: list[str], target,
                             context: dict | None = None) -> np.ndarray:
        """``(n, len(layers))`` L2 norm of d target / d (each layer's output)."""

    @abstractmethod
    def bypassed(self, layer: str) -> contextlib.AbstractContextManager:
        """Within the block, the elementwise nonlinearity ``layer`` passes its input through."""

    @abstractmethod
    def get_weights(self, layer: str) -> list[np.ndarray]:
        """Copies of the trainable weight arrays of one layer."""

    @abstractmethod
    def set_weights(self, layer: str, arrays: list[np.ndarray]) -> None:
        """Overwrite the trainable weight arrays of one layer."""


class AttentionAccess(ABC):
    """The model's multi-head attention layers (see :func:`kipoi_explain.register_attention`
    for modules the library does not know)."""

    @abstractmethod
    def attention_layers(self) -> list[str]:
        """Attention layers, in forward order (empty for a model without attention)."""

    @abstractmethod
    def attention_maps(self, x: np.ndarray, layers: list[str], context: dict | None = None
                       ) -> list[np.ndarray]:
        """Attention probabilities of each layer for one block, each ``(n, heads, queries,
        keys)``."""

    @abstractmethod
    def queries_and_keys(self, x: np.ndarray, layer: str, context: dict | None = None
                         ) -> tuple[np.ndarray, np.ndarray]:
        """Projected queries and keys of an attention layer, each ``(n, heads, positions,
        head_dim)``."""

    @abstractmethod
    def token_inputs(self, x: np.ndarray, layer: str, context: dict | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
        """The query and key inputs of an attention layer, each ``(n, tokens, features)``."""


class FirstLayerFilters(ABC):
    """Convolutions that read the one-hot input directly: what filter motifs are made from."""

    @abstractmethod
    def conv_layers(self) -> list:
        """Every such convolution as a :class:`~kipoi_explain.layouts.ConvLayer`."""


class FastISM(ABC):
    """In-silico saturation mutagenesis that recomputes only what each substitution reaches."""

    @abstractmethod
    def ism_scores(self, x: np.ndarray, target, batch_size: int, progress: bool, start: int,
                   end: int) -> np.ndarray | None:
        """``scores[n, i, b] = f(x with base b at i) - f(x)`` for ``start <= i < end`` (0
        elsewhere), as naive ISM computes them; None (the reason logged, by name) where the
        model cannot run this way, so the caller runs naive ISM."""
