"""A :class:`~kipoi_explain.results.Prediction` as a table (one row per sample, one column per
output) or, for outputs of more than one axis, as an HDF5 file."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .._version import __version__
from ..errors import InputError
from ..predictions import HDF5, TABLE
from ..results import Prediction
from .hdf5 import jsonable, write_intervals


def write_prediction(result: Prediction, path) -> Path:
    """Write ``result`` to ``path``: a TSV (``.tsv``: ``name``, the genome interval when the
    samples came from one, then one column per output) or an HDF5 file (``.h5``: datasets
    ``predictions``, ``names``, group ``intervals``, and for a model of several outputs
    ``heads/NAME`` (each output, tasks last; ``predictions`` holds their columns one after the
    other); attributes ``output_names``, ``settings``, ``model``, ``version``).

    Raises
    ------
    InputError
        For a table of outputs with more than one axis (binned profiles, contact maps): write
        them as HDF5.
    """
    path = Path(path)
    if path.suffix == TABLE:
        return _table(result, path)
    import h5py

    with h5py.File(path, "w") as out:
        out.create_dataset("predictions", data=result.predictions, compression="gzip")
        out.create_dataset("names", data=np.array(result.names, dtype=object),
                           dtype=h5py.string_dtype())
        if result.intervals is not None:
            write_intervals(out.create_group("intervals"), result.intervals)
        out.attrs["output_names"] = json.dumps(list(result.output_names))
        for head in result.model.get("heads", []):
            # A model of several outputs: each also as its own dataset, tasks last.
            start, size = head["offset"], int(np.prod(head["shape"]))
            out.create_dataset(f"heads/{head['name']}", compression="gzip", data=np.asarray(
                result.predictions)[:, start:start + size].reshape(-1, *head["shape"]))
        out.attrs["settings"] = json.dumps(result.settings, default=jsonable)
        out.attrs["model"] = json.dumps(result.model, default=jsonable)
        out.attrs["version"] = __version__
    return path


def _table(result: Prediction, path: Path) -> Path:
    import pandas as pd

    if result.predictions.ndim != 2 or result.predictions.shape[1] != len(result.output_names):
        raise InputError(f"{path}: the model's outputs have shape "
                         f"{result.predictions.shape[1:]} for {len(result.output_names)} "
                         "output names (bins, or several outputs of bins); a table holds one "
                         f"value per output: write {path.with_suffix(HDF5).name} instead")
    columns = {"name": result.names}
    if result.intervals is not None:
        columns.update(chrom=[i.chrom for i in result.intervals],
                       start=[i.start for i in result.intervals],
                       end=[i.end for i in result.intervals])
    table = pd.DataFrame(columns)
    for i, name in enumerate(result.output_names):
        table[name] = result.predictions[:, i]
    table.to_csv(path, sep="\t", index=False, float_format="%.6g")
    return path
