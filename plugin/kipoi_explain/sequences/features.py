"""Inputs that are no DNA: a matrix of numbers per sample (genotype dosages, expression).

Read from an array, a ``.npy`` file, or a table (TSV/CSV) whose first column names the samples
and whose header names the features.
"""
from __future__ import annotations

import csv
import gzip
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import InputError
from ..npy import read_npy

TABLE_SUFFIXES = {".tsv": "\t", ".txt": "\t", ".csv": ","}


def read_features(source, shape: tuple[int, ...],
                  names: Sequence[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """Samples ``(N, *shape)`` float32 and their names.

    Parameters
    ----------
    source : numpy.ndarray or path
        An array ``(N, *shape)`` (or one sample), a ``.npy`` file, or a ``.tsv``/``.txt``/
        ``.csv`` table (optionally gzipped): first column the sample names, then one column
        per feature.
    shape : tuple of int
        Shape of one sample the model takes.
    names : sequence of str, optional
        The model's feature names in input order (its input entities); a table's columns must
        be exactly these, in any order, and are put in this order.

    Raises
    ------
    InputError
        Naming the sample and column of a missing or non-numeric value, the missing or
        unexpected columns, or the shape that does not fit.
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise InputError(f"feature file {str(path)!r} does not exist")
        suffix = path.suffixes[-2] if path.suffix == ".gz" and len(path.suffixes) > 1 \
            else path.suffix
        if suffix == ".npy":
            if path.suffix == ".gz":
                raise InputError(f"feature file {str(path)!r}: numpy cannot read a gzipped "
                                 ".npy; decompress it first")
            return _checked(read_npy(path, "feature file"), shape, None, str(path))
        if suffix not in TABLE_SUFFIXES:
            raise InputError(f"feature file {str(path)!r}: expected .npy, .tsv, .txt or .csv")
        return _table(path, TABLE_SUFFIXES[suffix], shape, names)
    return _checked(np.asarray(source), shape, None, "the input array")


def _table(path: Path, sep: str, shape, names) -> tuple[np.ndarray, list[str]]:
    import pandas as pd

    if len(shape) != 1:
        raise InputError(f"{path}: a table holds one row of features per sample; the model "
                         f"takes samples of shape {shape} (give a .npy array)")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as handle:
        rows = [(line, row) for line, row in enumerate(csv.reader(handle, delimiter=sep), 1)
                if row]
    if not rows:
        raise InputError(f"{path}: empty file; expected a header (the sample column, then the "
                         "feature names) and one row per sample")
    header = rows[0][1]
    for line, row in rows[1:]:
        if len(row) != len(header):
            raise InputError(f"{path}: line {line} (sample {row[0]!r}) has {len(row)} fields; "
                             f"the header has {len(header)}")
    table = pd.DataFrame([row[1:] for _, row in rows[1:]], columns=header[1:],
                         index=pd.Index([row[0] for _, row in rows[1:]], dtype=str))
    duplicated = table.index[table.index.duplicated()].unique().tolist()
    if duplicated:
        raise InputError(f"{path}: sample names repeated: {', '.join(duplicated[:5])}")
    if names is not None:
        missing = [n for n in names if n not in table.columns]
        extra = [c for c in table.columns if c not in set(names)]
        if missing or extra:
            raise InputError(f"{path}: columns must be the model's {len(names)} input features"
                             + (f"; missing: {', '.join(missing[:5])}" if missing else "")
                             + (f"; not features of the model: {', '.join(extra[:5])}"
                                if extra else ""))
        table = table[list(names)]
    values = table.apply(pd.to_numeric, errors="coerce")
    bad = values.isna().to_numpy()
    if bad.any():
        row, column = np.argwhere(bad)[0]
        raise InputError(f"{path}: sample {table.index[row]!r}, column {table.columns[column]!r}:"
                         f" {table.iat[row, column]!r} is not a number")
    return _checked(values.to_numpy(np.float32), shape, list(table.index), str(path))


def _checked(x: np.ndarray, shape, sample_names, where: str) -> tuple[np.ndarray, list[str]]:
    if x.shape == tuple(shape):
        x = x[None]
    if x.shape[1:] != tuple(shape) or len(x) == 0:
        raise InputError(f"{where}: samples of shape {x.shape[1:]} ({len(x)} samples); the model "
                         f"takes {tuple(shape)}")
    try:
        x = x.astype(np.float32)
    except (TypeError, ValueError):
        raise InputError(f"{where}: values are not numbers") from None
    if not np.isfinite(x).all():
        row = int(np.argwhere(~np.isfinite(x))[0][0])
        name = sample_names[row] if sample_names else f"sample{row}"
        raise InputError(f"{where}: sample {name!r} holds NaN or infinite values")
    return np.ascontiguousarray(x), sample_names or [f"sample{i}" for i in range(len(x))]
