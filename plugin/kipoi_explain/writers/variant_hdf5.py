"""Attribution windows of scored variants in one HDF5 file, keyed by ``CHROM:POS:REF:ALT``.

Datasets grow as variants stream in: ``keys`` (the variant keys), ``ref`` and ``alt``
``(n, L, 4)`` maps in their own windows, ``diff`` (alt on reference coordinates minus ref),
``alt_to_ref`` ``(n, L)`` genome positions (-1: inserted base) and ``window_start``.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .._version import __version__
from ..results import VariantEffect
from .atomic import finish, partial_path

_ARRAYS = ("ref", "alt", "diff")


class VariantAttributionWriter:
    """Context manager appending the attributions of scored alleles (others are skipped)."""

    def __init__(self, path, length: int, method: str, model: dict, flush_every: int = 256):
        import h5py

        self.path = Path(path)
        self.partial = partial_path(self.path)
        self._file = h5py.File(self.partial, "w")
        self._file.attrs.update({"method": method, "model": json.dumps(model, default=str),
                                 "version": __version__})
        self._file.create_dataset("keys", (0,), maxshape=(None,), dtype=h5py.string_dtype())
        for name in _ARRAYS:
            self._file.create_dataset(name, (0, length, 4), maxshape=(None, length, 4),
                                      dtype=np.float32, chunks=(16, length, 4),
                                      compression="gzip")
        self._file.create_dataset("alt_to_ref", (0, length), maxshape=(None, length),
                                  dtype=np.int64, chunks=(16, length), compression="gzip")
        self._file.create_dataset("window_start", (0,), maxshape=(None,), dtype=np.int64)
        self._buffer: list[VariantEffect] = []
        self.flush_every = flush_every

    def write(self, effect: VariantEffect) -> None:
        if effect.attribution is not None:
            self._buffer.append(effect)
            if len(self._buffer) >= self.flush_every:
                self._flush()

    def _flush(self) -> None:
        if not self._buffer:
            return
        columns = {"keys": [e.key for e in self._buffer],
                   "alt_to_ref": np.stack([e.alt_to_ref for e in self._buffer]),
                   "window_start": [e.window_start for e in self._buffer],
                   **{name: np.stack([e.attribution[name] for e in self._buffer])
                      for name in _ARRAYS}}
        for name, values in columns.items():
            dataset = self._file[name]
            start = dataset.shape[0]
            dataset.resize(start + len(self._buffer), axis=0)
            dataset[start:] = values
        self._buffer.clear()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, traceback):
        if exc_type is None:
            self._flush()
        self._file.close()
        finish(self.partial, self.path, exc_type is None)
        return False


def read_variant_attribution(path, key: str) -> dict:
    """The stored arrays of the variant ``key`` (``CHROM:POS:REF:ALT``)."""
    import h5py

    with h5py.File(path, "r") as store:
        keys = [k.decode() if isinstance(k, bytes) else k for k in store["keys"][()]]
        if key not in keys:
            raise KeyError(f"variant {key!r} is not in {path}")
        row = keys.index(key)
        return {name: store[name][row] for name in (*_ARRAYS, "alt_to_ref", "window_start")}
