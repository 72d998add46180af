"""DNA strings to one-hot ``(N, L, 4)`` float32 arrays (alphabet A, C, G, T) and back.

Encoding goes through a 256-entry lookup table, so a batch of strings is encoded in one
vectorised step rather than a loop over characters.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import InputError

ALPHABET = "ACGT"

# IUPAC ambiguity codes and the bases they stand for.
IUPAC = {
    "N": "ACGT", "R": "AG", "Y": "CT", "S": "CG", "W": "AT", "K": "GT", "M": "AC",
    "B": "CGT", "D": "AGT", "H": "ACT", "V": "ACG",
}

#: How ambiguous IUPAC codes (N, R, Y, ...) are encoded:
#: ``"uniform"`` spreads 1 over the bases the code stands for (N -> 0.25 each, as kipoiseq does),
#: ``"zeros"`` encodes them as all-zero rows (as tangermeme does), ``"error"`` rejects them.
AMBIGUOUS_RULES = ("uniform", "zeros", "error")


def _lookup_table(ambiguous: str) -> tuple[np.ndarray, np.ndarray]:
    table = np.zeros((256, 4), dtype=np.float32)
    valid = np.zeros(256, dtype=bool)
    for i, base in enumerate(ALPHABET):
        for char in (base, base.lower()):
            table[ord(char), i] = 1.0
            valid[ord(char)] = True
    if ambiguous != "error":
        for code, bases in IUPAC.items():
            row = np.zeros(4, dtype=np.float32)
            if ambiguous == "uniform":
                row[[ALPHABET.index(b) for b in bases]] = 1.0 / len(bases)
            for char in (code, code.lower()):
                table[ord(char)] = row
                valid[ord(char)] = True
    return table, valid


_TABLES = {rule: _lookup_table(rule) for rule in AMBIGUOUS_RULES}


def one_hot(seqs: Sequence[str], names: Sequence[str] | None = None,
            ambiguous: str = "uniform") -> np.ndarray:
    """Encode equal-length DNA strings as one-hot ``(N, L, 4)`` float32.

    Parameters
    ----------
    seqs : sequence of str
        DNA strings of one length; lower case (soft-masked) bases count as upper case.
    names : sequence of str, optional
        Record names used in error messages (default ``seq0``, ``seq1``, ...).
    ambiguous : {"uniform", "zeros", "error"}
        Rule for IUPAC ambiguity codes; see :data:`AMBIGUOUS_RULES`.

    Raises
    ------
    InputError
        For unequal lengths or a character that is not a base or an allowed IUPAC code; the
        message names the record, the position and the character.
    """
    if ambiguous not in _TABLES:
        raise InputError(f"ambiguous={ambiguous!r}: expected one of {', '.join(AMBIGUOUS_RULES)}")
    table, valid = _TABLES[ambiguous]
    names = list(names) if names is not None else [f"seq{i}" for i in range(len(seqs))]
    if len(seqs) == 0:
        return np.zeros((0, 0, 4), dtype=np.float32)
    length = len(seqs[0])
    for name, seq in zip(names, seqs):
        if len(seq) != length:
            raise InputError(f"record {name!r}: length {len(seq)}, expected {length} like "
                             f"record {names[0]!r} (all sequences must have one length)")
    try:
        codes = np.frombuffer("".join(seqs).encode("ascii"), dtype=np.uint8)
    except UnicodeEncodeError as err:
        flat = "".join(seqs)
        index = next(i for i, c in enumerate(flat) if ord(c) > 127)
        raise _bad_character(names, flat, index, length, ambiguous) from err
    bad = np.flatnonzero(~valid[codes])
    if bad.size:
        raise _bad_character(names, "".join(seqs), int(bad[0]), length, ambiguous)
    return table[codes].reshape(len(seqs), length, 4)


def _bad_character(names, flat: str, index: int, length: int, ambiguous: str) -> InputError:
    record, position = divmod(index, length) if length else (0, index)
    allowed = "A, C, G, T" + ("" if ambiguous == "error" else " or an IUPAC code (" + "".join(IUPAC) + ")")
    return InputError(f"record {names[record]!r}, position {position}: character "
                      f"{flat[index]!r} is not DNA; expected {allowed}")


def decode(x: np.ndarray) -> list[str]:
    """Turn ``(N, L, 4)`` one-hot back into strings; rows that are not a single base become ``N``."""
    x = np.asarray(x)
    letters = np.array(list(ALPHABET + "N"))
    index = np.where(x.max(-1) == 1.0, x.argmax(-1), 4)
    return ["".join(row) for row in letters[index]]


def reverse_complement(x: np.ndarray) -> np.ndarray:
    """Reverse complement of ``(..., L, 4)`` one-hot (or scores) in A, C, G, T order."""
    return x[..., ::-1, ::-1]
