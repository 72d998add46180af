"""Motif hits out: a sorted BED6+ (``.bed`` or ``.bed.gz``) with a header line naming its
columns, and a JSON of the settings and each motif's threshold beside it."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

from ..errors import InputError
from ..results import Hits
from .atomic import replaced
from .hdf5 import jsonable


def settings_path(path) -> Path:
    """The JSON written beside ``path`` (``hits.bed.gz`` -> ``hits.json``)."""
    path = Path(path)
    stem = path.name[:-len(".gz")] if path.name.endswith(".gz") else path.name
    return path.with_name(Path(stem).stem + ".json")


def write_hits(result: Hits, path) -> list[Path]:
    """Write the hits as BED6+ (:meth:`~kipoi_explain.results.Hits.table`; ``score`` is the
    similarity x 1000) and their settings and thresholds as JSON; returns both paths.

    Raises
    ------
    InputError
        For a path that is not ``.bed`` or ``.bed.gz``.
    """
    path = Path(path)
    if not path.name.endswith((".bed", ".bed.gz")):
        raise InputError(f"{str(path)!r}: hits are written as .bed or .bed.gz")
    table = result.table()
    header = "#" + "\t".join(table.columns) + "\n"
    body = table.to_csv(sep="\t", index=False, header=False, float_format="%.6g")
    with replaced(path) as partial:
        if path.name.endswith(".gz"):
            with gzip.open(partial, "wt") as handle:
                handle.write(header + body)
        else:
            Path(partial).write_text(header + body)
    json_path = settings_path(path)
    with replaced(json_path) as partial:
        Path(partial).write_text(json.dumps({
            "columns": list(table.columns), "method": result.method, "target": result.target,
            "thresholds": dict(zip(result.motifs, result.thresholds.tolist())),
            "settings": result.settings, "model": result.model},
            indent=2, default=jsonable) + "\n")
    return [path, json_path]
