"""The one preparation step every command starts with: the model, its samples, the target,
the extra inputs, the block size.

Every library entry point (:func:`~kipoi_explain.explain`, :func:`~kipoi_explain.screen`,
:func:`~kipoi_explain.attention`, :func:`~kipoi_explain.diagnose`, ...) prepares its work
here, so a batch size, a target or an extra input is checked the same way everywhere.
"""
from __future__ import annotations

from dataclasses import dataclass

from .backends import load_model
from .entity_map import declared_map, input_names
from .errors import InputError
from .model import Model
from .samples import DNA, FEATURES, TOKENS, Samples, input_kind, read_samples
from .targets import Target

#: ``feature_names`` default: the input names of the model's own ``entities.yaml``.
DECLARED = "declared"


@dataclass
class Prepared:
    """What a command works on.

    Attributes
    ----------
    model : Model
        The loaded model, bound to the samples' extra inputs.
    samples : Samples or None
        The samples in the public layout (None when the command was given none).
    target : Target or None
        The resolved target (None when the command takes none).
    batch_size : int
        Rows per block: the caller's, else the model's.
    progress : bool
    """

    model: Model
    samples: Samples | None
    target: Target | None
    batch_size: int
    progress: bool = False

    @property
    def x(self):
        return self.samples.x


def check_batch_size(batch_size) -> int | None:
    """``batch_size`` as given (None: the model's), or an :class:`InputError`."""
    if batch_size is None:
        return None
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InputError(f"batch_size={batch_size!r}: expected a positive integer")
    return batch_size


def prepare(model, samples=None, *, what: str, accepts=(DNA, FEATURES, TOKENS),
            required: bool = True, target=None, reduce: str = "sum", bins=None,
            inputs: dict | None = None, batch_size: int | None = None, progress: bool = False,
            ambiguous: str = "uniform", feature_names=DECLARED) -> Prepared:
    """Load the model, read its samples, resolve the target, bind the extra inputs.

    Parameters
    ----------
    model : Model or anything :func:`~kipoi_explain.load_model` accepts
    samples : optional
        What :func:`~kipoi_explain.samples.read_samples` reads for this model.
    what : str
        The operation, for messages (e.g. ``"a region screen"``).
    accepts : tuple of {"dna", "features", "tokens"}
        The kinds of model the operation applies to.
    required : bool
        Whether samples must be given.
    target, reduce, bins
        The target (None: the operation takes none), as :meth:`Model.target` reads it.
    inputs : dict, optional
        The model's extra inputs by name, one row per sample.
    batch_size : int, optional
        Rows per block (default: the model's).
    progress : bool
    ambiguous : {"uniform", "zeros", "error"}
        Encoding of IUPAC codes in DNA strings.
    feature_names : sequence of str, None or "declared"
        The input feature names a table's columns must match (default: those the model's
        ``entities.yaml`` declares, if any).

    Raises
    ------
    InputError
        For a model the operation does not apply to, missing or malformed samples, a target
        the model does not have, a batch size that is not a positive integer, or extra inputs
        that do not fit.
    """
    model = load_model(model)
    kind = input_kind(model.layout)
    if kind not in accepts:
        if accepts == (DNA,):
            model.require_dna(what)
        raise InputError(f"{what} needs a model of {' or '.join(accepts)}; model "
                         f"{model.name!r} takes {kind}")
    batch_size = check_batch_size(batch_size) or model.batch_size
    read = None
    if samples is not None:
        if feature_names == DECLARED:
            feature_names = input_names(model, declared_map(model))
        read = read_samples(model.layout, samples, model.input_length, ambiguous,
                            feature_names, model.name, what)
    elif required:
        raise InputError(f"{what}: no samples given")
    spec = None if target is None else model.target(target, reduce, bins)
    if read is not None:
        model = model.with_inputs(inputs, len(read))
    elif inputs:
        raise InputError(f"{what}: extra inputs given without samples")
    return Prepared(model, read, spec, batch_size, progress)
