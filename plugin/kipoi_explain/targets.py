"""Which model output an explanation is about.

A model's outputs are flattened per sequence to columns (a ``(T,)`` output has T columns, a
profile ``(B, T)`` has B*T, row-major). A :class:`Target` picks columns and says how they combine
into the one number per sequence that every method explains.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .errors import InputError

REDUCTIONS = ("sum", "mean")


@dataclass(frozen=True)
class Target:
    """Selected output columns and their reduction to one scalar per sequence.

    Attributes
    ----------
    columns : tuple of int
        Indices into the flattened per-sequence output.
    names : tuple of str
        Human-readable name of each selected column.
    reduce : {"sum", "mean"}
        How the selected columns combine.
    """

    columns: tuple[int, ...]
    names: tuple[str, ...]
    reduce: str = "sum"

    def as_dict(self) -> dict:
        return {"columns": list(self.columns), "names": list(self.names), "reduce": self.reduce}

    def apply(self, outputs: np.ndarray) -> np.ndarray:
        """Reduce a numpy ``(N, ...)`` output array to the ``(N,)`` target values."""
        flat = np.asarray(outputs).reshape(len(outputs), -1)[:, list(self.columns)]
        return flat.sum(axis=1) if self.reduce == "sum" else flat.mean(axis=1)


def resolve_target(target, output_names: Sequence[str], output_shape: tuple[int, ...],
                   reduce: str = "sum", bins: tuple[int, int] | None = None) -> Target:
    """Resolve a user's target against a model's outputs.

    Parameters
    ----------
    target : int, str, list of int/str, "all" or None
        Output index, output name, several of them, or every output (``None``/``"all"``).
        Indices and names refer to the last output axis (the tasks).
    output_names : sequence of str
        Names of the tasks, in output order.
    output_shape : tuple of int
        Per-sequence output shape: ``(T,)``, or ``(B, T)`` for binned/profile outputs.
    reduce : {"sum", "mean"}
        How several selected columns combine.
    bins : (int, int), optional
        For ``(B, T)`` outputs, the half-open window of bins to combine (default all bins).

    Raises
    ------
    InputError
        For an unknown name, an index out of range, an empty selection or a bad window.
    """
    if reduce not in REDUCTIONS:
        raise InputError(f"reduce={reduce!r}: expected one of {', '.join(REDUCTIONS)}")
    n_tasks = output_shape[-1]
    if target is None or (isinstance(target, str) and target == "all"):
        tasks = list(range(n_tasks))
    else:
        items = list(target) if isinstance(target, (list, tuple)) else [target]
        if not items:
            raise InputError("target: empty list; expected an output index, name, or 'all'")
        tasks = [_task_index(item, output_names, n_tasks) for item in items]
        duplicates = {t for t in tasks if tasks.count(t) > 1}
        if duplicates:
            raise InputError(f"target: output(s) {sorted(output_names[t] for t in duplicates)} "
                             "selected more than once")
    if len(output_shape) == 1:
        if bins is not None:
            raise InputError("target bins: the model has one value per task, no bins to select")
        return Target(tuple(tasks), tuple(output_names[t] for t in tasks), reduce)
    n_bins = int(np.prod(output_shape[:-1]))
    lo, hi = bins if bins is not None else (0, n_bins)
    if not 0 <= lo < hi <= n_bins:
        raise InputError(f"target bins ({lo}, {hi}): expected 0 <= start < end <= {n_bins}")
    columns = tuple(b * n_tasks + t for b in range(lo, hi) for t in tasks)
    names = tuple(f"{output_names[t]}[{b}]" for b in range(lo, hi) for t in tasks)
    return Target(columns, names, reduce)


def _task_index(item, output_names: Sequence[str], n_tasks: int) -> int:
    if isinstance(item, (int, np.integer)) and not isinstance(item, bool):
        if not 0 <= item < n_tasks:
            raise InputError(f"target {item}: output index out of range; the model has "
                             f"{n_tasks} output(s), indices 0..{n_tasks - 1}")
        return int(item)
    if isinstance(item, str):
        if item in output_names:
            return list(output_names).index(item)
        if item.isdigit():
            return _task_index(int(item), output_names, n_tasks)
        raise InputError(f"target {item!r}: no output of that name; outputs are "
                         f"{', '.join(output_names)}")
    raise InputError(f"target {item!r}: expected an output index, an output name, a list of "
                     "them, or 'all'")
