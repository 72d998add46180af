"""An attribution track as a bigWig (pyBigWig) of the present base's contribution, with
optionally the hypothetical contributions of the same bases: an HDF5 file, or TF-MoDISco-lite
input (``onehot.npz`` and ``hypothetical.npz``).

Parts of the track (the attributions of consecutive windows of
:class:`~kipoi_explain.tracks.Tiles`) are written as they come, so a chromosome's track never
sits in memory whole. Every file is written under a ``.partial`` name and renamed when the
last window is in.
"""
from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np

from .._version import __version__
from ..errors import InputError
from ..requirements import require_package
from ..results import Attribution
from ..tracks import Tiles
from .atomic import finish, partial_path


class TrackWriter:
    """Context manager writing the attributions of ``tiles``' windows, in order.

    Parameters
    ----------
    path : str or Path
        The bigWig (``.bw``/``.bigwig``).
    tiles : Tiles
        Every window of the track; :meth:`write` takes their attributions in this order.
    contigs : dict of str to int
        The genome's contigs and lengths, in the FASTA's order (the bigWig's header).
    hypothetical : str or Path, optional
        HDF5 file of the kept bases' hypothetical contributions (``(M, 4)``), one-hot bases,
        contributions and the segments' coordinates.
    modisco : str or Path, optional
        Directory for TF-MoDISco-lite: ``onehot.npz`` and ``hypothetical.npz``, ``(T, 4,
        S)`` under ``arr_0``, one row per window's kept part of ``S`` bases (the stride); a
        shorter part (a region's last) is padded with zero rows, which hold no seqlet.
    """

    def __init__(self, path, tiles: Tiles, contigs: dict[str, int], hypothetical=None,
                 modisco=None, settings: dict | None = None):
        pyBigWig = require_package("pyBigWig", "a bigWig track")
        self.path, self.tiles, self.cursor = Path(path), tiles, 0
        self._partials = []
        self._bigwig = pyBigWig.open(str(self._partial(self.path)), "w")
        self._bigwig.addHeader(list(contigs.items()), maxZooms=10)
        self._h5 = None
        if hypothetical is not None:
            import h5py

            self._h5 = h5py.File(self._partial(hypothetical), "w")
            for name, shape, dtype in (("contribution", (), np.float32),
                                       ("hypothetical", (4,), np.float32),
                                       ("onehot", (4,), np.float32)):
                self._h5.create_dataset(name, (0, *shape), maxshape=(None, *shape), dtype=dtype,
                                        chunks=(65536, *shape), compression="gzip")
            string = h5py.string_dtype()
            segments = self._h5.create_group("segments")
            chroms, starts, ends = tiles.kept()
            segments.create_dataset("chrom", data=chroms, dtype=string)
            segments.create_dataset("start", data=starts)
            segments.create_dataset("end", data=ends)
            self._h5.attrs.update(settings=json.dumps(settings or {}, default=str),
                                  version=__version__)
        self._modisco = None
        if modisco is not None:
            folder = Path(modisco)
            width = int((tiles.keep[:, 1] - tiles.keep[:, 0]).max())
            self._scratch = partial_path(folder)
            self._scratch.mkdir(parents=True, exist_ok=True)
            self._modisco = {name: np.lib.format.open_memmap(
                self._scratch / f"{name}.npy", "w+", np.float32, (len(tiles), 4, width))
                for name in ("onehot", "hypothetical")}
            self._folder = folder

    def _partial(self, path) -> Path:
        partial = partial_path(path)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._partials.append((partial, Path(path)))
        return partial

    def write(self, result: Attribution) -> None:
        """The attributions of the next ``len(result)`` windows."""
        lo, hi = self.cursor, self.cursor + len(result)
        tiles = self.tiles.take(lo, hi)
        if hi > len(self.tiles) or (result.names and
                                    result.names != [w.name for w in tiles.windows]):
            raise InputError(f"track {self.path.name!r}: attributions of windows "
                             f"{lo}-{hi} do not match the tiles expected there")
        if (self._h5 is not None or self._modisco is not None) and result.hypothetical is None:
            raise InputError(f"method {result.method!r} gives no hypothetical contributions; "
                             "write the bigWig alone, or use deepshap, deeplift, "
                             "integrated_gradients, expected_gradients, grad_x_input or "
                             "saliency")
        self.cursor = hi
        # One (window, position) pair per kept base, in genome order.
        widths = tiles.keep[:, 1] - tiles.keep[:, 0]
        window = np.repeat(np.arange(len(tiles)), widths)
        position = np.arange(widths.sum()) - np.repeat(np.cumsum(widths) - widths, widths) + \
            np.repeat(tiles.keep[:, 0], widths)
        contribution = result.position_importance()[window, position].astype(np.float32)
        chroms, starts, ends = tiles.kept()
        # Abutting kept parts make one run of values (a bigWig entry) each.
        contig = np.asarray(chroms)
        joined = (contig[1:] == contig[:-1]) & (starts[1:] == ends[:-1])
        breaks = np.flatnonzero(np.concatenate([[True], ~joined]))
        offsets = np.concatenate([[0], np.cumsum(widths)])
        for first, last in zip(breaks, [*breaks[1:], len(tiles)]):
            self._bigwig.addEntries(chroms[first], int(starts[first]),
                                    values=contribution[offsets[first]:offsets[last]],
                                    span=1, step=1)
        if self._h5 is not None:
            columns = {"contribution": contribution,
                       "hypothetical": result.hypothetical[window, position],
                       "onehot": result.inputs[window, position]}
            for name, values in columns.items():
                dataset = self._h5[name]
                dataset.resize(dataset.shape[0] + len(values), axis=0)
                dataset[-len(values):] = values
        if self._modisco is not None:
            column = position - np.repeat(tiles.keep[:, 0], widths)
            for name, values in (("onehot", result.inputs),
                                 ("hypothetical", result.hypothetical)):
                block = np.zeros((len(tiles), self._modisco[name].shape[2], 4), np.float32)
                block[window, column] = values[window, position]
                self._modisco[name][lo:hi] = block.transpose(0, 2, 1)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, traceback):
        ok = exc_type is None and self.cursor == len(self.tiles)
        try:
            self._bigwig.close()
            if self._h5 is not None:
                self._h5.close()
            if self._modisco is not None:
                for name, array in self._modisco.items():
                    array.flush()
                    if ok:
                        npz = self._partial(self._folder / f"{name}.npz")
                        with zipfile.ZipFile(npz, "w", zipfile.ZIP_DEFLATED) as archive:
                            archive.write(self._scratch / f"{name}.npy", "arr_0.npy")
                self._modisco = None
                shutil.rmtree(self._scratch, ignore_errors=True)
        except BaseException:
            ok = False
            raise
        finally:
            for partial, path in self._partials:
                finish(partial, path, ok)
        if exc_type is None and not ok:
            raise InputError(f"track {self.path.name!r}: {self.cursor} of {len(self.tiles)} "
                             "windows were written; no output kept")
        return False

    @property
    def written(self) -> list[Path]:
        """The files the track is written to."""
        return [path for _, path in self._partials]
