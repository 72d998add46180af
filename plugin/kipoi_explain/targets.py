"""Which model output an explanation is about.

A model's outputs are flattened per sequence to columns, row-major: a ``(T,)`` output has T
columns, a profile ``(B, T)`` has B*T, a contact map ``(B, B)`` has B*B and maps per task
``(B, B, T)`` have B*B*T. A :class:`Target` picks columns and says how they combine into the one
number per sequence that every method explains.

Output layouts
--------------
The last axis holds the tasks (one output name each) and the axes before it the bins:

- ``(T,)``: one value per task; no bins.
- ``(B, T)``: a profile / binned output; ``bins=(start, end)`` is a half-open window of bins.
- ``(R, C, T)``: a contact map per task; ``bins=((r0, r1), (c0, c1))`` is a half-open window
  of map rows × columns.
- ``(R, C)``: a single contact map with no task axis. It is read so when the model has a single
  output name for it (``len(output_names) == 1`` while the last axis is longer than 1), or when
  a two-axis output is given a map window ``((r0, r1), (c0, c1))`` (today's adapters name each
  map column as a task). Its one output is selected by ``target=0``, ``None`` or ``"all"``.

``bins=None`` takes every bin (the whole profile, the whole map). A single bin is a window of
width 1, e.g. ``((r, r + 1), (c, c + 1))`` for one bin pair. Map windows are full rectangles: to
count each pair of a symmetric map once, select a window above the diagonal (``r1 <= c0``).

``bins`` may also be a dict ``{task: window}`` (task by index or name) giving each task its own
window: a task × bin set. Its tasks must be among those ``target`` selects; a selected task it
does not name takes every bin.

Models of several outputs
-------------------------
A model returning several arrays (:mod:`kipoi_explain.outputs`) has named heads, each laid out
as above, whose columns follow one another. A target names a head (``"profile"``: all its
tasks), a task inside one (``"human:CAGE_k562"``, or ``"human:3"`` by index), a task by its
name alone where only one head has it, an index into every head's tasks in order, or a list of
these; ``bins`` is read inside each selected head (a dict's tasks named ``head:task``).
"""
from __future__ import annotations

import re
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
        Human-readable name of each selected column (``task``, ``task[bin]`` or
        ``task[row,col]``).
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


def target_label(target, most: int = 4) -> str:
    """How titles and summary lines name a target: its outputs joined by ``+`` when there are
    at most ``most``; else a summary, ``plus[0..9] (10 outputs, sum)`` when they are bins of
    one output, ``a+...+z (10 outputs, sum)`` when not.

    Parameters
    ----------
    target : Target or dict
        The target, or a result's record of it (``result.target``: names, reduce).
    most : int
        How many names are shown in full.
    """
    if isinstance(target, dict):
        names, reduce = list(map(str, target.get("names", ()))), target.get("reduce", "sum")
    else:
        names, reduce = list(target.names), target.reduce
    if not names:
        return "target"
    if len(names) <= most:
        return "+".join(names)
    parts = [re.fullmatch(r"(.+)\[([^\]]+)\]", name) for name in names]
    if all(parts) and len({part[1] for part in parts}) == 1:
        span = f"{parts[0][1]}[{parts[0][2]}..{parts[-1][2]}]"
    else:
        span = f"{names[0]}+...+{names[-1]}"
    return f"{span} ({len(names)} outputs, {reduce})"


def resolve_target(target, output_names: Sequence[str], output_shape: tuple[int, ...],
                   reduce: str = "sum", bins=None, heads=()) -> Target:
    """Resolve a user's target against a model's outputs.

    Parameters
    ----------
    target : int, str, list of int/str, "all" or None
        Output index, output name, several of them, or every output (``None``/``"all"``).
        Indices and names refer to the tasks (the last output axis, see the module notes).
    output_names : sequence of str
        Names of the tasks, in output order.
    output_shape : tuple of int
        Per-sequence output shape: ``(T,)``, ``(B, T)``, ``(R, C)`` or ``(R, C, T)``.
    reduce : {"sum", "mean"}
        How the selected columns combine.
    bins : (int, int), ((int, int), (int, int)) or dict, optional
        Window of bins: ``(start, end)`` for a profile, ``((r0, r1), (c0, c1))`` for a contact
        map, or a dict task → window; default every bin.
    heads : tuple of Head, optional
        The heads of a model of several outputs (then ``output_names`` are their qualified
        task names, and ``output_shape`` the flat column count).

    Raises
    ------
    InputError
        For an unknown name, an index out of range, an empty selection, a window out of range
        or of the wrong nesting for the output.
    """
    if reduce not in REDUCTIONS:
        raise InputError(f"reduce={reduce!r}: expected one of {', '.join(REDUCTIONS)}")
    if heads:
        return _across_heads(target, heads, reduce, bins)
    output_shape = tuple(int(s) for s in output_shape)
    grid, task_names = _layout(output_names, output_shape, bins)
    if not grid and bins is not None:
        raise InputError("target bins: the model has one value per task, no bins to select")
    if len(grid) > 2:
        raise InputError(f"output shape {output_shape}: expected (T,), (B, T), (R, C) or "
                         "(R, C, T) for a target")
    tasks = _tasks(target, task_names)
    windows = dict.fromkeys(tasks, _window(None, grid))
    if isinstance(bins, dict):
        if not bins:
            raise InputError("target bins: empty dict; expected {task: window}")
        for key, window in bins.items():
            task = _task_index(key, task_names, len(task_names))
            if task not in windows:
                raise InputError(f"target bins: task {task_names[task]!r} is not among the "
                                 f"selected outputs {', '.join(task_names[t] for t in tasks)}")
            windows[task] = _window(window, grid)
    elif bins is not None:
        windows = dict.fromkeys(tasks, _window(bins, grid))
    # Bin-major, tasks in target order within a bin: the flattened output's own order.
    order = {t: i for i, t in enumerate(tasks)}
    cells = sorted((cell, order[t], t) for t in tasks for cell in windows[t])
    n_tasks = len(task_names)
    columns, names = [], []
    for cell, _, t in cells:
        columns.append(int(np.ravel_multi_index(cell, grid)) * n_tasks + t if grid else t)
        names.append(task_names[t] + (f"[{','.join(map(str, cell))}]" if grid else ""))
    return Target(tuple(columns), tuple(names), reduce)


def _layout(output_names: Sequence[str], output_shape: tuple[int, ...],
            bins) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """``(bin grid shape, task names)``: the axes before the tasks, and the tasks' names."""
    names = tuple(output_names)
    single_map = len(output_shape) == 2 and (
        (len(names) == 1 and output_shape[-1] != 1)
        or (not isinstance(bins, dict) and _is_map_window(bins)))
    if single_map:
        return output_shape, (names[0] if len(names) == 1 else "map",)
    return output_shape[:-1], names


def _is_map_window(bins) -> bool:
    return (isinstance(bins, (list, tuple)) and len(bins) == 2
            and all(isinstance(axis, (list, tuple)) for axis in bins))


def _window(window, grid: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Every bin (a cell of ``grid``) in ``window``, row-major."""
    if window is None:
        return [tuple(int(i) for i in cell) for cell in np.ndindex(*grid)]
    if len(grid) == 1:
        lo, hi = _span(window, grid[0], f"target bins {window!r}",
                       f"(start, end) with 0 <= start < end <= {grid[0]}")
        return [(b,) for b in range(lo, hi)]
    expected = (f"a map window ((row_start, row_end), (col_start, col_end)) with "
                f"0 <= start < end <= {grid[0]} for rows and {grid[1]} for columns")
    if not _is_map_window(window):
        raise InputError(f"target bins {window!r}: the output is a contact map of shape "
                         f"{grid}; expected {expected}")
    (r0, r1), (c0, c1) = (_span(axis, size, f"target bins {window!r}", expected)
                          for axis, size in zip(window, grid))
    return [(r, c) for r in range(r0, r1) for c in range(c0, c1)]


def _span(span, size: int, what: str, expected: str) -> tuple[int, int]:
    if not (isinstance(span, (list, tuple)) and len(span) == 2 and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in span)):
        raise InputError(f"{what}: expected {expected}")
    lo, hi = int(span[0]), int(span[1])
    if not 0 <= lo < hi <= size:
        raise InputError(f"{what}: window ({lo}, {hi}) out of range; expected {expected}")
    return lo, hi


def _tasks(target, task_names: tuple[str, ...]) -> list[int]:
    n_tasks = len(task_names)
    if target is None or (isinstance(target, str) and target == "all"):
        return list(range(n_tasks))
    items = list(target) if isinstance(target, (list, tuple)) else [target]
    if not items:
        raise InputError("target: empty list; expected an output index, name, or 'all'")
    tasks = [_task_index(item, task_names, n_tasks) for item in items]
    duplicates = {t for t in tasks if tasks.count(t) > 1}
    if duplicates:
        raise InputError(f"target: output(s) {sorted(task_names[t] for t in duplicates)} "
                         "selected more than once")
    return tasks


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


def _across_heads(target, heads, reduce: str, bins) -> Target:
    """A target over the heads of a model of several outputs (see the module notes)."""
    qualified = [(head, task) for head in heads for task in range(len(head.task_names))]
    by_name = {head.qualified(head.task_names[t]): (head, t) for head, t in qualified}
    if target is None or (isinstance(target, str) and target == "all"):
        items = [head.name for head in heads]
    else:
        items = list(target) if isinstance(target, (list, tuple)) else [target]
        if not items:
            raise InputError("target: empty list; expected an output index, name, or 'all'")
    chosen: dict[str, list[int]] = {}
    for item in items:
        for head, task in _head_tasks(item, heads, qualified, by_name):
            if task in chosen.setdefault(head.name, []):
                raise InputError(f"target: output {head.qualified(head.task_names[task])!r} "
                                 "selected more than once")
            chosen[head.name].append(task)
    if isinstance(bins, dict):
        stray = [str(key) for key in bins if not any(
            str(key) == name or str(key).startswith(f"{name}:") for name in chosen)]
        if stray:
            raise InputError(f"target bins: {', '.join(stray)} not among the selected outputs "
                             f"{', '.join(chosen)}; name tasks as 'head:task'")
    columns, names = [], []
    for head in heads:
        if head.name not in chosen:
            continue
        window = _head_bins(bins, head)
        try:
            part = resolve_target(chosen[head.name], head.task_names, head.shape, reduce, window)
        except InputError as err:
            raise InputError(f"output {head.name!r}: {err}") from None
        columns += [head.offset + c for c in part.columns]
        # "task[bin]" within the head -> "head:task[bin]".
        for name in part.names:
            task, bracket, cell = name.partition("[")
            names.append(head.qualified(task) + bracket + cell)
    return Target(tuple(columns), tuple(names), reduce)


def _head_tasks(item, heads, qualified, by_name) -> list:
    """``(head, task index)`` pairs one target item selects."""
    if isinstance(item, (int, np.integer)) and not isinstance(item, bool):
        if not 0 <= item < len(qualified):
            raise InputError(f"target {item}: output index out of range; the model has "
                             f"{len(qualified)} output(s), indices 0..{len(qualified) - 1}")
        return [qualified[int(item)]]
    if not isinstance(item, str):
        raise InputError(f"target {item!r}: expected an output index, an output name, a list "
                         "of them, or 'all'")
    head_names = {head.name: head for head in heads}
    if item in by_name:
        return [by_name[item]]
    if item in head_names:
        head = head_names[item]
        return [(head, t) for t in range(len(head.task_names))]
    if ":" in item and item.split(":", 1)[0] in head_names:
        head, task = head_names[item.split(":", 1)[0]], item.split(":", 1)[1]
        return [(head, _task_index(task, head.task_names, len(head.task_names)))]
    if item.isdigit():
        return _head_tasks(int(item), heads, qualified, by_name)
    owners = [(head, head.task_names.index(item)) for head in heads if item in head.task_names]
    if len(owners) == 1:
        return owners
    if owners:
        raise InputError(f"target {item!r}: outputs {', '.join(h.name for h, _ in owners)} "
                         f"each have a task of that name; say which, e.g. "
                         f"'{owners[0][0].name}:{item}'")
    raise InputError(f"target {item!r}: no output of that name; the model's outputs are "
                     f"{', '.join(_head_summary(h) for h in heads)}")


def _head_summary(head) -> str:
    return head.name if len(head.task_names) == 1 else \
        f"{head.name} ({len(head.task_names)} tasks: {head.name}:{head.task_names[0]}, ...)"


def _head_bins(bins, head):
    """The part of ``bins`` that applies to ``head``: a dict's ``head:task`` keys, by task."""
    if not isinstance(bins, dict):
        return bins if len(head.shape) > 1 else None
    mine = {}
    for key, window in bins.items():
        text = str(key)
        if text == head.name and len(head.task_names) == 1:
            mine[0] = window
        elif text.startswith(f"{head.name}:"):
            mine[text.split(":", 1)[1]] = window
    return mine or None
