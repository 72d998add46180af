"""A model's outputs when it returns several arrays: named heads, each with its own tasks and
bins, and which axis of each holds the tasks.

Published architectures return more than one tensor: BPNet and ChromBPNet ``(profile,
counts)``, Enformer a dict of species heads. Such a model loads as it is; each array is a
:class:`Head` named by its dict key (``human``), by ``output_names`` given as a dict, or by
position (``output_0``, ``output_1``). Every head is brought to the library's layout (bins
first, tasks last; see :mod:`kipoi_explain.targets`) and flattened, and the model's flat output
per sequence is the heads' columns one after the other. Targets address a head by name, a task
inside it as ``"head:task"`` (``target="human:CAGE_k562"``), with bins selected inside the head
(``target="profile", bins=(lo, hi)``).

Which axis holds the tasks
--------------------------
An output of one axis per sequence holds tasks. For more axes the axis is taken from, in order:

1. ``output_layout``: the axes named, e.g. ``"tasks,bins"`` (channels first, as BPNet's
   profile and Borzoi return it) or ``"bins,tasks"`` (Enformer), ``"rows,cols,tasks"`` for a
   contact map per task, ``"rows,cols"`` for one map without tasks; one layout for every head,
   or a dict by head name;
2. the task names given: the one axis whose size is their number;
3. the framework's convention, where it has one: Keras layers are channels last, so a Keras
   output's last axis holds the tasks.

A PyTorch module has no such convention (convolutions return channels first, transformers bins
first): an output of several axes it does not settle is refused, naming ``output_layout``, and
never read along a guessed axis.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import InputError
from .layouts import output_names_for

#: Words an ``output_layout`` names axes with: the task axis, and the others (bins of a
#: profile, rows and columns of a contact map).
TASK_AXIS = "tasks"
OTHER_AXES = ("bins", "rows", "cols")


@dataclass(frozen=True)
class Head:
    """One output array of a model of several.

    Attributes
    ----------
    name : str
        The head's name (``profile``, ``counts``, ``human``).
    shape : tuple of int
        One sequence's output in the library's layout: bins first, tasks last.
    task_names : tuple of str
        One name per task (the last axis); a single name for a contact map without tasks.
    task_axis : int or None
        Axis of the model's own per-sequence array that holds the tasks (moved last); None
        when the layout has no task axis.
    offset : int
        First column of this head in the model's flat output.
    """

    name: str
    shape: tuple[int, ...]
    task_names: tuple[str, ...]
    task_axis: int | None = None
    offset: int = 0

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def qualified(self, task: str) -> str:
        """``head:task``; a head of one task named after itself is called by its name."""
        return self.name if task == self.name else f"{self.name}:{task}"


def task_axis(shape: tuple[int, ...], layout, names, channels_last: bool,
              where: str) -> int | None:
    """Axis of a per-sequence output ``shape`` that holds the tasks (see the module notes).

    Parameters
    ----------
    shape : tuple of int
        The model's own per-sequence shape.
    layout : str or None
        Declared ``output_layout``.
    names : sequence of str or None
        Task names given for it.
    channels_last : bool
        The framework returns channels last (Keras).
    where : str
        What the output is, for messages (``model 'BPNet', output 'profile'``).

    Returns
    -------
    int or None
        None for a layout without a task axis (one contact map).
    """
    if layout is not None:
        return _declared_axis(layout, len(shape), where)
    if len(shape) <= 1:
        return len(shape) - 1 if shape else None
    if names is not None:
        if len(names) == 1 and len(shape) == 2:
            return None  # one contact map (R, C), as the targets module reads it
        matching = [axis for axis, size in enumerate(shape) if size == len(names)]
        if len(matching) == 1:
            return matching[0]
    if channels_last:
        return len(shape) - 1
    raise InputError(
        f"{where} has shape {shape} per sequence, and which axis holds the tasks (tracks) "
        "cannot be told: declare it with output_layout (--output-layout; for a Kipoi model, "
        "outputs.yaml beside model.yaml), e.g. 'tasks,bins' for channels first as BPNet's "
        "profile and Borzoi return it, 'bins,tasks' as Enformer does; or give output_names "
        "for the task axis")


def _declared_axis(layout: str, ndim: int, where: str) -> int | None:
    words = [w.strip().lower() for w in str(layout).split(",")]
    expected = (f"{ndim} comma-separated axes, '{TASK_AXIS}' at most once and the others "
                f"among {', '.join(OTHER_AXES)} (e.g. 'tasks,bins')")
    if len(words) != ndim or words.count(TASK_AXIS) > 1 or \
            any(w not in (TASK_AXIS, *OTHER_AXES) for w in words):
        raise InputError(f"{where}: output_layout {layout!r} does not fit its {ndim} "
                         f"axes per sequence; expected {expected}")
    return words.index(TASK_AXIS) if TASK_AXIS in words else None


def to_library_layout(shape: tuple[int, ...], axis: int | None) -> tuple[int, ...]:
    """The per-sequence ``shape`` with its task axis moved last."""
    if axis is None or axis == len(shape) - 1:
        return tuple(shape)
    return tuple(s for i, s in enumerate(shape) if i != axis) + (shape[axis],)


def named_arrays(out, where: str) -> list[tuple[str | None, object]]:
    """``(name, array)`` of each array a model returned: dict keys, or None for the arrays
    of a tuple or list (named by position later) and for a single array."""
    if isinstance(out, dict):
        if not out:
            raise InputError(f"{where} returned an empty dict")
        return [(str(key), value) for key, value in out.items()]
    if isinstance(out, (list, tuple)):
        if not out:
            raise InputError(f"{where} returned an empty {type(out).__name__}")
        return [(None, value) for value in out]
    return [(None, out)]


def heads_for(shapes: list[tuple[str | None, tuple[int, ...]]], output_names, output_layout,
              channels_last: bool, model: str) -> tuple[Head, ...]:
    """The heads of a model returning several arrays, from each array's name and per-sequence
    shape (batch axis dropped), in the order returned.

    ``output_names`` is a dict ``{head: [task names] or None}``, or a list naming the heads of
    a tuple in order (a dict names them too, by its keys in order); ``output_layout`` one
    layout for every head of several axes, or a dict by head.
    """
    names = [name if name is not None else f"output_{i}" for i, (name, _) in enumerate(shapes)]
    unnamed = all(name is None for name, _ in shapes)
    if unnamed and isinstance(output_names, (list, tuple, dict)):
        # A tuple's arrays take their names in order: a list of names, or a dict's keys.
        if len(output_names) != len(shapes):
            raise InputError(f"model {model!r} returns {len(shapes)} arrays; output_names has "
                             f"{len(output_names)} names")
        names = [str(n) for n in output_names]
        output_names = output_names if isinstance(output_names, dict) else None
    tasks = _per_head(output_names, names, "output_names", model)
    layouts = _per_head(output_layout, names, "output_layout", model,
                        shared=isinstance(output_layout, str))
    heads, offset = [], 0
    for name, (_, shape) in zip(names, shapes):
        where = f"model {model!r}, output {name!r}"
        given = tasks.get(name)
        axis = task_axis(shape, layouts.get(name), given, channels_last, where)
        shape = to_library_layout(shape, axis) or (1,)
        n_tasks = 1 if axis is None else shape[-1]
        if given is not None:
            task_names = tuple(str(t) for t in given)
            if axis is not None and len(task_names) != n_tasks:
                raise InputError(f"{where}: {len(task_names)} task names for {n_tasks} tasks")
        elif n_tasks == 1 or axis is None:
            task_names = (name,)
        else:
            task_names = tuple(f"output_{i}" for i in range(n_tasks))
        head = Head(name, shape, task_names, axis, offset)
        heads.append(head)
        offset += head.size
    return tuple(heads)


def _per_head(value, names: list[str], what: str, model: str, shared: bool = False) -> dict:
    if value is None:
        return {}
    if shared:
        return dict.fromkeys(names, value)
    if not isinstance(value, dict):
        raise InputError(f"{what} for model {model!r}, which returns several arrays "
                         f"({', '.join(names)}): expected a dict by output name")
    unknown = sorted(set(map(str, value)) - set(names))
    if unknown:
        raise InputError(f"{what}: model {model!r} has no output {', '.join(unknown)}; its "
                         f"outputs are {', '.join(names)}")
    return {str(key): item for key, item in value.items()}


@dataclass(frozen=True)
class Outputs:
    """What a backend learns of a model's outputs when it loads it.

    Attributes
    ----------
    heads : tuple of Head
        Empty for a model of one output array.
    shape : tuple of int
        One sequence's output in the library's layout: ``(columns,)`` for several arrays.
    names : tuple of str
        The task names (``head:task`` for several arrays).
    task_axes : tuple of int or None
        Per array returned, the per-sequence axis holding its tasks, moved last.
    """

    heads: tuple[Head, ...]
    shape: tuple[int, ...]
    names: tuple[str, ...]
    task_axes: tuple[int | None, ...]


def read_outputs(shapes: list[tuple[str | None, tuple[int, ...]]], output_names,
                 output_layout, channels_last: bool, model: str) -> Outputs:
    """The outputs of a model returning the arrays ``shapes`` (``(dict key or None,
    per-sequence shape)`` each), given the user's ``output_names`` and ``output_layout``."""
    if len(shapes) > 1 or shapes[0][0] is not None:
        heads = heads_for(shapes, output_names, output_layout, channels_last, model)
        return Outputs(heads, (sum(h.size for h in heads),), qualified_names(heads),
                       tuple(h.task_axis for h in heads))
    shape = shapes[0][1]
    if isinstance(output_layout, dict):
        raise InputError(f"output_layout for model {model!r}, which returns one array: "
                         "expected one layout, e.g. 'tasks,bins'")
    axis = task_axis(shape, output_layout, output_names, channels_last, f"model {model!r}")
    if axis is None and len(shape) == 2 and output_names is None:
        output_names = ("output_0",)  # one contact map, no task axis
    shape = to_library_layout(shape, axis) or (1,)
    return Outputs((), shape, output_names_for(output_names, shape), (axis,))


def qualified_names(heads) -> tuple[str, ...]:
    """Every task of every head as ``head:task``, in order: a multi-output model's
    ``output_names``."""
    return tuple(head.qualified(task) for head in heads for task in head.task_names)


def describe(heads) -> list[dict]:
    """The heads as plain dicts, recorded with every result."""
    return [{"name": h.name, "shape": list(h.shape), "task_names": list(h.task_names),
             "offset": h.offset} for h in heads]


def split(outputs: np.ndarray, heads) -> dict[str, np.ndarray]:
    """A flat ``(N, columns)`` output of a multi-output model, as ``{head: (N, *shape)}``."""
    flat = np.asarray(outputs).reshape(len(outputs), -1)
    return {h.name: flat[:, h.offset:h.offset + h.size].reshape(len(flat), *h.shape)
            for h in heads}
