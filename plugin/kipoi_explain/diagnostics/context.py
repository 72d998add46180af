"""What every check receives: the model, the sequences, the target, and shared, cached work."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..methods import METHODS, method_options
from ..model import Model
from ..results import Attribution
from ..targets import Target


@dataclass
class Context:
    """The inputs of one :func:`~kipoi_explain.diagnostics.diagnose` run, shared by its checks.

    Attributes
    ----------
    model : Model
    x : numpy.ndarray
        ``(N, L, 4)`` one-hot sequences; cheap checks use all of them.
    target : Target
        The output the explanations explain.
    batch_size : int
    progress : bool
    seed : int
        Seeds every random draw (shuffled references, randomized weights, noise, bootstrap).
    n_attribution : int
        How many of the sequences the costly checks (attributions, ISM, randomization) use.
    """

    model: Model
    x: np.ndarray
    target: Target
    batch_size: int
    progress: bool = False
    seed: int = 0
    n_attribution: int = 32
    _attributions: dict = field(default_factory=dict, repr=False)
    _predictions: np.ndarray | None = field(default=None, repr=False)

    @property
    def x_attribution(self) -> np.ndarray:
        """The first ``n_attribution`` sequences."""
        return self.x[:self.n_attribution]

    def target_values(self) -> np.ndarray:
        """``(N,)`` target value of every sequence."""
        if self._predictions is None:
            self._predictions = self.model.predict(self.x, self.batch_size)
        return self.target.apply(self._predictions)

    def attribution(self, method, name: str | None = None) -> np.ndarray:
        """Position importance ``(n_attribution, L)`` of a method, on the unmodified model.

        ``method`` is a name from :data:`~kipoi_explain.METHODS` or a callable
        ``method(model, x, target, batch_size, progress)`` returning
        :class:`~kipoi_explain.results.MethodScores` or an ``(N, L, 4)`` array. Results of named
        methods are cached, so checks that compare methods run each one once.
        """
        key = name or method
        if key not in self._attributions:
            self._attributions[key] = position_importance(
                self.model, self.x_attribution, self.target, method, self.batch_size, self.seed)
        return self._attributions[key]


def position_importance(model: Model, x: np.ndarray, target: Target, method,
                        batch_size: int, seed: int = 0) -> np.ndarray:
    """``(N, L)`` position importance of ``method`` (see :meth:`Context.attribution`)."""
    if callable(method):
        scores = method(model, x, target, batch_size, False)
        name = getattr(method, "__name__", "custom")
    else:
        options = {"seed": seed} if "seed" in method_options(method) else {}
        scores = METHODS[method](model, x, target, batch_size, False, **options)
        name = method
    scores = getattr(scores, "scores", scores)
    return Attribution(np.asarray(scores), name, {}, np.empty(0), x).position_importance()
