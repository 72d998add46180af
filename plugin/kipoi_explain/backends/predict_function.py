"""Models known only by a predict function: scikit-learn estimators, Kipoi ``SklearnModel``,
any ``predict(x) -> array``.

Such a model has one capability, the predictor: only perturbation methods explain it (ISM and
occlusion via :func:`~kipoi_explain.explain`, ablation via :func:`~kipoi_explain.entities`),
and asking for gradients is an error naming those methods.
"""
from __future__ import annotations

import pickle
from typing import Any, Callable

import numpy as np

from ..capabilities import Predictor
from ..errors import InputError
from ..layouts import FeatureLayout, InputLayout, output_names_for, probe_inputs
from ..model import Model


class PredictFunction(Predictor):
    """The predictor of a plain predict function taking the model's own input layout.

    Attributes
    ----------
    function : callable
        ``function(x) -> array``: ``x`` is a float32 numpy batch in the model's layout
        (``layout.to_model``), flattened to ``(n, -1)`` when ``flatten`` is set; the result
        has one row per input (a 1-D result is one output per input).
    layout : InputLayout or FeatureLayout
    name : str
        The model's name, for messages.
    flatten : bool
        Pass each sample as one flat row (scikit-learn estimators take 2-D input only).
    state : object
        What identifies the model's weights for the fingerprint: its pickle is hashed
        (default: ``function`` itself). When it cannot be pickled, the outputs on a fixed
        probe batch are hashed instead.
    """

    def __init__(self, function: Callable, layout, name: str, flatten: bool = False,
                 state: Any = None, length: int | None = None):
        self.function, self.layout, self.name = function, layout, name
        self.flatten, self.state, self.length = flatten, state, length

    @property
    def native(self) -> Callable:
        """The predict function itself."""
        return self.function

    def forward(self, x, context=None):
        inputs = self.layout.to_model(x)
        if self.flatten:
            inputs = inputs.reshape(len(inputs), -1)
        out = np.asarray(self.function(inputs), dtype=np.float32)
        if out.ndim == 1:
            out = out[:, None]
        if out.ndim == 0 or len(out) != len(x):
            raise InputError(f"model {self.name!r}: the predict function returned shape "
                             f"{out.shape} for {len(x)} inputs; expected one row per input")
        return out

    def parameters(self):
        try:
            return [np.frombuffer(pickle.dumps(self.state if self.state is not None
                                               else self.function), dtype=np.uint8)]
        except (pickle.PicklingError, AttributeError, TypeError):
            return [self.forward(probe_inputs(self.layout, self.length)[0])]


def callable_model(fn: Callable, input_length: int | None = None, output_names=None,
                   layout: InputLayout | FeatureLayout | None = None, name: str | None = None,
                   batch_size: int | None = None, flatten: bool = False, state: Any = None,
                   source: dict | None = None) -> Model:
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
    name = name or getattr(fn, "__qualname__", type(fn).__name__)
    predictor = PredictFunction(fn, layout, name, flatten, state, input_length)
    # Two rows, so that a function returning the wrong number of rows is caught here.
    output_shape = tuple(predictor.forward(probe_inputs(layout, input_length)[0]).shape[1:])
    return Model(name, "callable", layout, input_length,
                 output_names_for(output_names, output_shape), output_shape, predictor,
                 batch_size=batch_size or 128, source=source or {"type": "callable"})
