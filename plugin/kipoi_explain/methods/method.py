"""How an attribution method is declared: its function and what it needs of a model."""
from __future__ import annotations

import functools
from typing import Callable

from ..options import takes
from ..results import MethodScores
from ..samples import DNA


class Method:
    """An attribution method, declared with what it needs of a model.

    Calling it runs the method function (its signature and docstring are the function's),
    after checking the model has every capability in ``needs``; ``sample_index`` (see
    :mod:`kipoi_explain.draws`) reaches only a method that draws at random.

    Attributes
    ----------
    function : callable
        ``function(model, x, target, batch_size, progress, **options) -> MethodScores``.
    needs : tuple of str
        Capabilities besides the predictor (see :mod:`kipoi_explain.capabilities`).
    inputs : tuple of str
        Kinds of main input it explains: ``dna`` and/or ``features``.
    extra_inputs : bool
        It also attributes to a model's differentiable extra inputs.
    """

    def __init__(self, function: Callable, needs: tuple[str, ...] = (),
                 inputs: tuple[str, ...] = (DNA,), extra_inputs: bool = False):
        functools.update_wrapper(self, function)
        self.function, self.needs, self.inputs = function, needs, inputs
        self.extra_inputs = extra_inputs
        self.draws = takes(function, "sample_index")

    def __call__(self, model, x, target, batch_size, progress, sample_index=0,
                 **options) -> MethodScores:
        for capability in self.needs:
            model.require(capability, f"method {self.function.__name__!r}")
        if self.draws:
            options["sample_index"] = sample_index
        return self.function(model, x, target, batch_size, progress, **options)

    def missing(self, model) -> str | None:
        """The first capability of ``needs`` the model lacks, or None."""
        return next((c for c in self.needs if getattr(model, c) is None), None)
