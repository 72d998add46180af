"""Entity importance in transparent models: networks whose units are genes, pathways, SNPs.

DCell, GenNet and P-NET wire each unit to a biological entity, so importance can be read per
entity instead of per input feature. :func:`entities` ranks the entities of one level by how
much the model's target depends on them.
"""
from __future__ import annotations

import numpy as np

from .._version import __version__
from ..backends import load_model
from ..entity_map import (FILE_NAME, INPUT, EntityLevel, EntityMap, declared_map, input_names,
                          read_entity_map)
from ..errors import InputError, MissingCapability
from ..options import checked_options, keyword_defaults
from ..prepare import prepare
from ..results import EntityImportance
from .importance import METHODS

__all__ = ["EntityLevel", "EntityMap", "METHODS", "entities", "entity_map", "read_entity_map"]


def entity_map(model, mapping=None) -> EntityMap:
    """The model's entity mapping: ``mapping`` (a path, dict or :class:`EntityMap`), else the
    ``entities.yaml`` next to the model's Kipoi ``model.yaml``."""
    if mapping is not None:
        return read_entity_map(mapping)
    declared = declared_map(model)
    if declared is not None:
        return declared
    raise MissingCapability(f"model {model.name!r} declares no entities: no {FILE_NAME} next "
                            "to its model.yaml; give mapping=PATH or a dict")


def method_options(method: str) -> dict:
    """The options an entity method takes, with their defaults."""
    return keyword_defaults(METHODS[method])


def entities(model, x, level: str, method: str = "integrated_gradients", target=0,
             mapping=None, batch_size: int | None = None, progress: bool = False,
             reduce: str = "sum", **options) -> EntityImportance:
    """Rank the named entities of one level of a transparent model by importance.

    Parameters
    ----------
    model : Model or anything :func:`~kipoi_explain.load_model` accepts
    x : numpy.ndarray, path, or sequences
        Samples: for a model of features, an array ``(N, *shape)``, a ``.npy`` file or a
        TSV/CSV table (first column sample names, header the input entities' names); for a
        DNA model, anything :func:`~kipoi_explain.explain` takes.
    level : str
        Entity level of the mapping (``snp``, ``gene``, ``pathway``, ...).
    method : {"integrated_gradients", "grad_x_activation", "ablation"}
        Integrated gradients at the level's layer (with a completeness ``delta``), gradient
        × activation, or the drop of the target when the entity's unit is ablated.
    target : int, str, list or "all"
        Output(s) explained, as in :func:`~kipoi_explain.explain`.
    mapping : path, dict or EntityMap, optional
        The units' entities (default: the model's ``entities.yaml``); see
        :mod:`kipoi_explain.entity_map`.
    batch_size : int, optional
        Rows per block (default: the model's).
    progress : bool
        Show a progress bar.
    reduce : {"sum", "mean"}
        How several target outputs combine.
    **options
        ``baseline``, ``n_steps``, ``quadrature_rule`` (integrated gradients); ``fill``
        (ablation): ``"zeros"``, ``"mean"``, a number or one value per unit.

    Returns
    -------
    EntityImportance
        ``.scores`` ``(N, entities)``; ``.table()`` ranks them.

    Raises
    ------
    InputError
        For an unknown level, method or option, a mapping that does not fit the model, or
        malformed samples.
    """
    allowed = checked_options("entity method", METHODS, method, options)
    model = load_model(model)
    if method != "ablation" and model.gradients is None:
        raise InputError(f"entity method {method!r} needs gradients, which model "
                         f"{model.name!r} does not have; use ablation")
    mapping = entity_map(model, mapping)
    chosen = mapping.level(level)
    work = prepare(model, x, what="entities", target=target, reduce=reduce,
                   batch_size=batch_size, progress=progress,
                   feature_names=input_names(model, mapping))
    x, batch_size = work.x, work.batch_size
    _check_units(model, chosen, mapping.source)
    scores, delta = METHODS[method](model, x, chosen.layer, work.target, batch_size, progress,
                                    **options)
    return EntityImportance(
        level=chosen.name, layer=chosen.layer, method=method, entities=list(chosen.units),
        scores=np.asarray(scores, dtype=np.float32), target=work.target.as_dict(),
        predictions=model.predict(x, batch_size), samples=work.samples.names, delta=delta,
        settings={**allowed, **options, "level": chosen.name, "reduce": reduce,
                  "mapping": mapping.source, "batch_size": batch_size, "version": __version__},
        model=model.describe())


def _check_units(model, level: EntityLevel, source: str) -> None:
    """The level's names must match its layer's units one to one."""
    where = f"{source}, level {level.name!r}"
    if level.layer == INPUT:
        n_units = model.probe(1)[0].shape[-1]
    else:
        known = model.require("layers", f"{where}: reading layer {level.layer!r}").layer_names()
        if level.layer not in known:
            raise InputError(f"{where}: layer {level.layer!r} is not a layer of model "
                             f"{model.name!r}; layers are {', '.join(known)}")
        x, context = model.probe(1)
        n_units = model.layers.activations(x, level.layer, context).shape[-1]
    if n_units != len(level.units):
        raise InputError(f"{where}: {len(level.units)} names for the {n_units} units of "
                         f"{level.layer!r}")
