"""Motif databases, offline: a JASPAR release shipped with pyjaspar, or any MEME-format file."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError


@dataclass(frozen=True)
class MotifDatabase:
    """Database motifs as frequency matrices ``(K, 4)`` with IDs and names."""

    ids: tuple[str, ...]
    names: tuple[str, ...]
    pfms: tuple[np.ndarray, ...]
    description: dict

    def __len__(self) -> int:
        return len(self.ids)


@functools.lru_cache(maxsize=8)
def jaspar(release: str | None = None, collection: str = "CORE",
           tax_group: str | None = "vertebrates") -> MotifDatabase:
    """The latest version of every motif of a JASPAR release (default: the newest pyjaspar ships).

    Raises
    ------
    InputError
        For a release pyjaspar does not ship, or a selection without motifs.
    """
    from pyjaspar import jaspardb

    db = jaspardb() if release is None else None
    if db is None:
        probe = jaspardb()
        if release not in probe.get_releases():
            raise InputError(f"JASPAR release {release!r} is not shipped with pyjaspar; "
                             f"available: {', '.join(probe.get_releases())}")
        db = jaspardb(release=release)
    query = {"collection": collection}
    if tax_group:
        query["tax_group"] = [tax_group]
    found = db.fetch_motifs(**query)
    if not found:
        raise InputError(f"JASPAR {db.release}: no motif in collection {collection!r}"
                         f"{f' and taxon {tax_group!r}' if tax_group else ''}")
    return MotifDatabase(tuple(m.matrix_id for m in found), tuple(m.name for m in found),
                         tuple(_frequencies(m) for m in found),
                         {"source": "JASPAR", "release": db.release, "collection": collection,
                          "tax_group": tax_group})


def fetch_matrix(matrix_id: str, release: str | None = None) -> tuple[str, np.ndarray] | None:
    """Name and frequency matrix of one versioned JASPAR matrix, also a version older than
    the release's latest (which :func:`jaspar` leaves out), or None when pyjaspar holds none."""
    import warnings

    from pyjaspar import jaspardb

    with warnings.catch_warnings():
        # pyjaspar warns, then returns None, for an ID it does not hold.
        warnings.simplefilter("ignore")
        motif = (jaspardb() if release is None else jaspardb(release=release)) \
            .fetch_motif_by_id(matrix_id)
    return None if motif is None else (motif.name, _frequencies(motif))


def _frequencies(motif) -> np.ndarray:
    """A pyjaspar motif's counts as a ``(K, 4)`` frequency matrix, A, C, G, T."""
    counts = np.array([motif.counts[base] for base in "ACGT"], dtype=np.float64).T
    return counts / counts.sum(axis=1, keepdims=True)


def read_meme(path) -> MotifDatabase:
    """A MEME-format motif file (read with memelite); ``MOTIF ID NAME`` lines give ID and name."""
    from memelite.io import read_meme as memelite_read

    path = Path(path)
    if not path.is_file():
        raise InputError(f"motif file {str(path)!r} does not exist")
    try:
        motifs = memelite_read(str(path))
    except (ValueError, IndexError, KeyError, UnicodeDecodeError) as err:
        raise InputError(f"motif file {str(path)!r} is not a MEME motif file memelite can "
                         f"read ({type(err).__name__}: {err}): each letter-probability row "
                         "holds one number per letter of the alphabet") from None
    if not motifs:
        raise InputError(f"motif file {str(path)!r} holds no MEME motif")
    ids, names = zip(*[(key.split(" ", 1) + [key.split(" ", 1)[0]])[:2] for key in motifs])
    return MotifDatabase(tuple(ids), tuple(names), tuple(m.T for m in motifs.values()),
                         {"source": "MEME file", "path": str(path.resolve())})


def load_database(database="jaspar", release: str | None = None, collection: str = "CORE",
                  tax_group: str | None = "vertebrates") -> MotifDatabase:
    """``"jaspar"`` (with release/collection/taxon), a MEME file path, or a MotifDatabase."""
    if isinstance(database, MotifDatabase):
        return database
    if isinstance(database, str) and database.lower() == "jaspar":
        return jaspar(release, collection, tax_group)
    return read_meme(database)
