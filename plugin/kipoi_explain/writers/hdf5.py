"""An :class:`~kipoi_explain.results.Attribution` as one self-describing HDF5 file.

Layout: datasets ``scores``, ``inputs`` (one-hot), ``predictions``, ``names`` and, where
defined, ``hypothetical``, ``delta`` and the group ``intervals`` (``chrom``, ``start``, ``end``,
``strand``, ``reverse``); attributes ``method``, ``target``, ``settings`` and ``model`` (JSON; the model
entry holds its weight fingerprint) and ``version``. Arrays are ``(N, L, 4)``, A, C, G, T.
"""
from __future__ import annotations

import json

import numpy as np

from .._version import __version__
from ..results import Attribution, Interval
from .atomic import replaced

_ARRAYS = ("scores", "inputs", "predictions", "hypothetical", "delta")


def write_hdf5(result: Attribution, path) -> None:
    """Write ``result`` to ``path`` (overwritten, whole or not at all), compressed."""
    import h5py

    with replaced(path) as partial, h5py.File(partial, "w") as out:
        for name in _ARRAYS:
            array = getattr(result, name)
            if array is not None:
                out.create_dataset(name, data=np.asarray(array), compression="gzip")
        out.create_dataset("names", data=np.array(result.names, dtype=object),
                           dtype=h5py.string_dtype())
        if result.intervals is not None:
            write_intervals(out.create_group("intervals"), result.intervals)
        for name, scores in (result.extra_scores or {}).items():
            out.create_dataset(f"extra_scores/{name}", data=scores, compression="gzip")
        out.attrs["method"] = result.method
        out.attrs["target"] = json.dumps(result.target)
        out.attrs["settings"] = json.dumps(result.settings, default=jsonable)
        out.attrs["model"] = json.dumps(result.model, default=jsonable)
        out.attrs["version"] = __version__


def read_hdf5(path) -> Attribution:
    """Read back a file written by :func:`write_hdf5`."""
    import h5py

    with h5py.File(path, "r") as src:
        arrays = {name: src[name][()] if name in src else None for name in _ARRAYS}
        names = [as_text(n) for n in src["names"][()]]
        intervals = read_intervals(src["intervals"]) if "intervals" in src else None
        extra = {name: data[()] for name, data in src["extra_scores"].items()} \
            if "extra_scores" in src else None
        return Attribution(method=src.attrs["method"], target=json.loads(src.attrs["target"]),
                           settings=json.loads(src.attrs["settings"]),
                           model=json.loads(src.attrs["model"]), names=names,
                           intervals=intervals, extra_scores=extra, **arrays)


def write_intervals(group, intervals: list[Interval]) -> None:
    """Store intervals as one dataset per field in an HDF5 ``group``."""
    import h5py

    for field in ("chrom", "strand", "name"):
        group.create_dataset(field, data=[getattr(i, field) for i in intervals],
                             dtype=h5py.string_dtype())
    for field in ("start", "end"):
        group.create_dataset(field, data=[getattr(i, field) for i in intervals],
                             dtype=np.int64)
    group.create_dataset("reverse", data=[i.reverse for i in intervals])


def read_intervals(group) -> list[Interval]:
    """The intervals :func:`write_intervals` stored in ``group``."""
    text = {f: [as_text(v) for v in group[f][()]] for f in ("chrom", "strand", "name")}
    return [Interval(c, int(s), int(e), n, st, bool(r)) for c, s, e, n, st, r in zip(
        text["chrom"], group["start"][()], group["end"][()], text["name"], text["strand"],
        group["reverse"][()])]


def as_text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def jsonable(value):
    """JSON stand-in for values ``json`` cannot write (arrays by their shape)."""
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape}"
    if isinstance(value, np.generic):
        return value.item()
    return str(value)
