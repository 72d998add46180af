"""The one documented hook for attention modules the library does not know.

``torch.nn.MultiheadAttention`` (and through it ``nn.TransformerEncoderLayer`` /
``nn.TransformerDecoderLayer``) and ``keras.layers.MultiHeadAttention`` are read out of the box. A
model with its own attention module (relative position encodings, linear attention, ...)
declares it once::

    import kipoi_explain as kx

    def probabilities(module, args, kwargs):
        # Called with the arguments the model passed to module.forward (Keras: layer.call).
        q, k = module.project_qk(args[0])
        return (q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5).softmax(-1)

    kx.register_attention(MyAttention, probabilities)

after which :func:`kipoi_explain.attention` reads its maps like any other layer's.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .errors import InputError


@dataclass(frozen=True)
class AttentionHook:
    """How to read one attention module class.

    Attributes
    ----------
    probabilities : callable
        ``probabilities(module, args, kwargs)``: the attention probabilities
        ``(n, heads, queries, keys)`` (rows sum to 1) computed from the arguments the module
        received in the model's forward pass.
    tokens : callable or None
        ``tokens(module, args, kwargs)``: the query and key inputs ``(n, tokens, features)``,
        batch first, used to map tokens back to bases. Default: the first argument, for both.
    """

    probabilities: Callable
    tokens: Callable | None = None

    def token_inputs(self, module, args, kwargs) -> tuple:
        """The query and key inputs of one call: ``tokens``'s, or the first argument twice."""
        return self.tokens(module, args, kwargs) if self.tokens else (args[0], args[0])


_HOOKS: dict[type, AttentionHook] = {}


def register_attention(layer_class: type, probabilities: Callable,
                       tokens: Callable | None = None) -> None:
    """Declare ``layer_class`` (a ``torch.nn.Module`` or Keras layer class) an attention module.

    Parameters
    ----------
    layer_class : type
        The module class; subclasses are covered too.
    probabilities : callable
        ``probabilities(module, args, kwargs) -> (n, heads, queries, keys)`` tensor or array of
        attention probabilities, given the arguments the model passed to the module's forward
        (``call`` in Keras).
    tokens : callable, optional
        ``tokens(module, args, kwargs) -> (query_input, key_input)``, each
        ``(n, tokens, features)`` batch first. Needed only when the first argument is not the
        (batch-first) sequence of tokens that both queries and keys are made from.
    """
    if not isinstance(layer_class, type) or not callable(probabilities):
        raise InputError("register_attention(layer_class, probabilities): expected a class and "
                         "a callable")
    _HOOKS[layer_class] = AttentionHook(probabilities, tokens)


def hook_for(layer) -> AttentionHook | None:
    """The registered hook of ``layer``'s class or of its nearest registered base class."""
    for cls in type(layer).__mro__:
        if cls in _HOOKS:
            return _HOOKS[cls]
    return None
