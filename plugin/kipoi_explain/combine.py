"""The results of consecutive parts of one set of samples (a job's shards, a command run in
chunks) combined into the result of the whole set, as if it had been computed in one piece."""
from __future__ import annotations

import dataclasses

import numpy as np

from .results import plain

#: Settings that may differ between parts without changing what was computed: the rows per
#: block (workers of one job may size their blocks to their own device). The combined result
#: records each value used.
VARYING_SETTINGS = ("batch_size",)


def concatenate(parts: list):
    """One result of the type of ``parts`` (dataclasses of :mod:`kipoi_explain.results`):
    fields with one row per sample (metadata ``rows``) are concatenated in order, every other
    field must be the same in every part.

    Raises
    ------
    ValueError
        Naming the field the parts disagree on (they were not computed with the same model
        and settings).
    """
    if not parts:
        raise ValueError("no parts to combine")
    values = {}
    for spec in dataclasses.fields(parts[0]):
        column = [getattr(part, spec.name) for part in parts]
        values[spec.name] = _rows(column, spec.name) if spec.metadata.get("rows") else \
            _same(column, spec.name)
    return type(parts[0])(**values)


def _rows(column: list, name: str):
    present = [value is not None for value in column]
    if not any(present):
        return None
    if not all(present):
        raise ValueError(f"parts disagree on {name}: some have it, some do not")
    first = column[0]
    if isinstance(first, dict):
        return {key: np.concatenate([value[key] for value in column]) for key in first}
    if isinstance(first, list):
        return [item for value in column for item in value]
    return np.concatenate(column)


def _same(column: list, name: str):
    first = column[0]
    if isinstance(first, dict):
        combined = {}
        for key in dict.fromkeys(k for value in column for k in value):
            seen = [value.get(key) for value in column]
            distinct = list({repr(plain(v)): v for v in seen}.values())
            if len(distinct) > 1 and key not in VARYING_SETTINGS:
                raise ValueError(f"parts disagree on {name}[{key!r}]: "
                                 f"{', '.join(repr(plain(v)) for v in distinct[:3])}")
            combined[key] = distinct[0] if len(distinct) == 1 else sorted(distinct)
        return combined
    if any(plain(value) != plain(first) for value in column[1:]):
        raise ValueError(f"parts disagree on {name}")
    return first
