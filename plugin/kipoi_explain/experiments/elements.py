"""What an experiment implants: a motif named by its JASPAR matrix ID, every motif of a MEME
file, or a literal DNA sequence, each as the sequence implanted (a motif's consensus)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError, quoted
from ..motif.database import MotifDatabase, jaspar, read_meme

#: A JASPAR matrix ID, with or without its version (``MA0139.2``, ``MA0139``).
JASPAR_ID = re.compile(r"^(MA|PB|PF|PH|PL|CN|UN|POL)\d{4}(\.\d+)?$")
DNA = re.compile(r"^[ACGTNRYSWKMBDHV]+$", re.IGNORECASE)


@dataclass(frozen=True)
class Element:
    """One thing to implant: its label (``ID NAME`` for a motif) and its bases."""

    label: str
    sequence: str


def consensus(pfm: np.ndarray) -> str:
    """The most probable base at each position of a ``(K, 4)`` frequency matrix (ties: the
    first of A, C, G, T)."""
    return "".join("ACGT"[i] for i in np.asarray(pfm).argmax(axis=1))


def is_file_spec(spec: str) -> bool:
    """Whether ``spec`` names a MEME file rather than a JASPAR ID or DNA."""
    return not (JASPAR_ID.match(spec) or DNA.match(spec))


def elements(specs, release: str | None = None) -> list[Element]:
    """The elements ``specs`` name (one spec or a list): a JASPAR matrix ID (its latest version
    in ``release`` when no version is given), a MEME file (every motif in it), or literal DNA
    (IUPAC letters).

    Raises
    ------
    InputError
        For an ID the release does not hold, or a spec that is none of the three.
    """
    specs = [specs] if isinstance(specs, str) else list(specs or ())
    if not specs:
        raise InputError("motifs: none given; name a JASPAR ID, a MEME file or a DNA sequence")
    found = []
    for spec in specs:
        if not isinstance(spec, str) or not spec:
            raise InputError(f"motif {quoted(spec)}: expected a JASPAR ID, a MEME file or DNA")
        if JASPAR_ID.match(spec):
            found.append(_jaspar_element(spec, jaspar(release, "CORE", None)))
        elif DNA.match(spec):
            found.append(Element(spec.upper(), spec.upper()))
        elif spec.lower().endswith(".meme") or Path(spec).is_file():
            database = read_meme(spec)
            found += [Element(f"{i} {n}" if n != i else i, consensus(p))
                      for i, n, p in zip(database.ids, database.names, database.pfms)]
        else:
            raise InputError(f"motif {quoted(spec)}: expected a JASPAR matrix ID (MA0139.2), a "
                             "MEME file or a DNA sequence (IUPAC letters)")
    return found


def jaspar_index(spec: str, database: MotifDatabase) -> int:
    """Index in ``database`` of a JASPAR matrix ID: that version, or the latest when ``spec``
    has none.

    Raises
    ------
    InputError
        When the database holds no such matrix.
    """
    if "." in spec:
        matches = [k for k, i in enumerate(database.ids) if i == spec]
    else:
        versions = [(int(i.split(".")[1]), k) for k, i in enumerate(database.ids)
                    if i.split(".")[0] == spec]
        matches = [max(versions)[1]] if versions else []
    if not matches:
        raise InputError(f"motif {spec!r}: not in {database.description['source']} "
                         f"{database.description['release']} (CORE, every taxon)")
    return matches[0]


def _jaspar_element(spec: str, database: MotifDatabase) -> Element:
    k = jaspar_index(spec, database)
    return Element(f"{database.ids[k]} {database.names[k]}", consensus(database.pfms[k]))
