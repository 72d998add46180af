"""Which units of a transparent model are which biological entities.

DCell, GenNet and P-NET wire their layers after an annotation: each input is a SNP (or gene),
each unit of a hidden layer a gene, a pathway, a GO term. The model declares this in
``entities.yaml`` next to its Kipoi ``model.yaml``::

    levels:
      snp:
        layer: input            # the model's input features
        units: [rs0001, rs0002, ...]
      gene:
        layer: gene_act         # a layer name; its output units, in order
        units: genes.txt        # or a file next to entities.yaml, one name per line

Levels are listed from the input towards the output.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError

#: File name of the mapping in a model directory.
FILE_NAME = "entities.yaml"
#: ``layer`` value naming the model's input features.
INPUT = "input"


@dataclass(frozen=True)
class EntityLevel:
    """One level of entities: the units of one layer (or the input), named in order."""

    name: str
    layer: str
    units: tuple[str, ...]


@dataclass(frozen=True)
class EntityMap:
    """Every level of a model's entities, from the input towards the output."""

    levels: tuple[EntityLevel, ...]
    source: str = ""

    def level(self, name: str) -> EntityLevel:
        for level in self.levels:
            if level.name == name:
                return level
        raise InputError(f"entity level {name!r}: {self.source or 'the mapping'} declares "
                         f"{', '.join(lv.name for lv in self.levels)}")


def read_entity_map(source) -> EntityMap:
    """Read a mapping from an ``entities.yaml`` path, a model directory holding one, or a dict
    of the same structure.

    Raises
    ------
    InputError
        Naming the file, level and field that is missing or malformed.
    """
    import yaml

    if isinstance(source, EntityMap):
        return source
    base = None
    where = "the entity mapping"
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_dir():
            path = path / FILE_NAME
        if not path.is_file():
            raise InputError(f"entity mapping {str(path)!r} does not exist")
        base, where = path.parent, str(path)
        try:
            source = yaml.safe_load(path.read_text())
        except yaml.YAMLError as err:
            raise InputError(f"{where}: not valid YAML: {err}") from None
    if not isinstance(source, dict) or not isinstance(source.get("levels"), dict) \
            or not source["levels"]:
        raise InputError(f"{where}: expected a mapping with 'levels': {{name: {{layer, units}}}}")
    levels = []
    for name, spec in source["levels"].items():
        at = f"{where}, level {name!r}"
        if not isinstance(spec, dict):
            raise InputError(f"{at}: expected a mapping with 'layer' and 'units'")
        layer = spec.get("layer")
        if not isinstance(layer, str) or not layer:
            raise InputError(f"{at}: field 'layer' must name a layer of the model, or "
                             f"{INPUT!r}")
        units = _units(spec.get("units"), base, at)
        duplicated = sorted({u for u in units if units.count(u) > 1})
        if duplicated:
            raise InputError(f"{at}: unit names repeated: {', '.join(duplicated[:5])}")
        levels.append(EntityLevel(str(name), layer, tuple(units)))
    return EntityMap(tuple(levels), where)


def _units(units, base: Path | None, at: str) -> list[str]:
    if isinstance(units, str):
        path = Path(units) if base is None else base / units
        if not path.is_file():
            raise InputError(f"{at}: field 'units' names file {str(path)!r}, which does not "
                             "exist")
        units = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not isinstance(units, list) or not units:
        raise InputError(f"{at}: field 'units' must be a non-empty list of names or a file "
                         "with one name per line")
    return [str(unit) for unit in units]


def declared_map(model) -> EntityMap | None:
    """The ``entities.yaml`` next to the model's Kipoi ``model.yaml``, or None when it has
    none."""
    directory = model.source.get("path")
    if directory and os.path.isdir(directory) and \
            os.path.isfile(os.path.join(directory, FILE_NAME)):
        return read_entity_map(directory)
    return None


def input_names(model, mapping: EntityMap | None) -> list[str] | None:
    """Names of a model's input features, in input order: the units of the mapping's level on
    the input, for a model of one feature axis (None otherwise)."""
    if mapping is None or model.takes_dna or model.takes_tokens or len(model.layout.shape) != 1:
        return None
    return next((level.units for level in mapping.levels if level.layer == INPUT), None)
