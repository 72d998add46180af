"""Models known only by a predict function: scikit-learn estimators, Kipoi ``SklearnModel``,
any ``predict(x) -> array``.

Such a model has no gradients, so only perturbation methods explain it (ISM and occlusion via
:func:`~kipoi_explain.explain`, ablation via :func:`~kipoi_explain.entities`); the gradient
primitives raise :class:`~kipoi_explain.errors.UnsupportedOperation` naming those methods.
"""
from __future__ import annotations

import pickle
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..errors import InputError, UnsupportedOperation
from .base import FeatureLayout, InputLayout, Model, output_names_for


def perturbation_methods(model: Model) -> str:
    """The analyses that apply to a model without gradients, as a sentence fragment."""
    methods = "ism, occlusion" if model.takes_dna else "occlusion"
    return (f"explain methods {methods}; kipoi_explain.entities(..., method='ablation'); "
            "region screens")


def no_gradients(model: Model, what: str) -> str:
    """Message for ``what`` (a method needing gradients) asked of a model that has none."""
    return (f"{what} needs gradients, which model {model.name!r} ({model.framework}, a predict "
            f"function) does not have; use a perturbation method instead: "
            f"{perturbation_methods(model)}")


@dataclass
class CallableModel(Model):
    """A model behind a plain predict function taking the model's own input layout.

    Build it with :func:`kipoi_explain.load_model` (``load_model(fn, ...)``).

    Attributes
    ----------
    predict_fn : callable
        ``predict_fn(x) -> array``: ``x`` is a float32 numpy batch in the model's layout
        (``layout.to_model``), flattened to ``(n, -1)`` when ``flatten`` is set; the result
        has one row per input (a 1-D result is one output per input).
    flatten : bool
        Pass each sample as one flat row (scikit-learn estimators take 2-D input only).
    state : object
        What identifies the model's weights for :meth:`fingerprint`: its pickle is hashed
        (default: ``predict_fn`` itself). When it cannot be pickled, the outputs on a fixed
        probe batch are hashed instead.
    """

    predict_fn: Callable | None = None
    flatten: bool = False
    state: Any = None

    framework = "callable"
    differentiable = False

    def _forward(self, x, context=None):
        inputs = self.layout.to_model(x)
        if self.flatten:
            inputs = inputs.reshape(len(inputs), -1)
        out = np.asarray(self.predict_fn(inputs), dtype=np.float32)
        if out.ndim == 1:
            out = out[:, None]
        if out.ndim == 0 or len(out) != len(x):
            raise InputError(f"model {self.name!r}: the predict function returned shape "
                             f"{out.shape} for {len(x)} inputs; expected one row per input")
        return out

    def _gradient(self, x, target, context=None):
        raise UnsupportedOperation(no_gradients(self, "the gradient"))

    def _deeplift(self, x, ref, target, context=None):
        raise UnsupportedOperation(no_gradients(self, "DeepLIFT"))

    def _parameters(self):
        try:
            return [np.frombuffer(pickle.dumps(self.state if self.state is not None
                                               else self.predict_fn), dtype=np.uint8)]
        except (pickle.PicklingError, AttributeError, TypeError):
            return [self._forward(self._probe())]


def callable_model(fn: Callable, input_length: int | None = None, output_names=None,
                   layout: InputLayout | FeatureLayout | None = None, name: str | None = None,
                   batch_size: int | None = None, flatten: bool = False, state: Any = None,
                   source: dict | None = None) -> CallableModel:
    """Wrap a predict function.

    ``layout`` defaults to one-hot DNA ``(N, L, 4)``, bases last in A, C, G, T order: the
    public layout, so ``fn`` sees exactly the arrays the user works with. A
    :class:`FeatureLayout` declares an input that is no DNA. The output shape and, if not
    given, the output names (``output_0``, ...) are read from one call of ``fn``.

    Raises
    ------
    InputError
        If ``fn`` is not callable, or a DNA model is given no ``input_length``.
    """
    if not callable(fn):
        raise InputError(f"cannot wrap {type(fn).__name__}: not callable")
    layout = layout or InputLayout()
    if input_length is None and isinstance(layout, InputLayout):
        raise InputError("input_length is needed for a predict function of one-hot DNA (e.g. "
                         "load_model(fn, input_length=1000)), or layout=FeatureLayout(shape) "
                         "for an input that is no DNA")
    model = CallableModel(name or getattr(fn, "__qualname__", type(fn).__name__), layout,
                          input_length, (), (), batch_size or 128,
                          source or {"type": "callable"}, predict_fn=fn, flatten=flatten,
                          state=state)
    # Two rows, so that a function returning the wrong number of rows is caught here.
    model.output_shape = tuple(model._forward(model._probe(2)).shape[1:])
    model.output_names = output_names_for(output_names, model.output_shape)
    return model
