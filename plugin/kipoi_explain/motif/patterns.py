"""Motifs as contribution weight matrices (CWMs) for hit calling: JASPAR, a MEME file, or a
TF-MoDISco (modisco-lite) results file.

A CWM ``(W, 4)`` is what an instance of the motif looks like in a contribution map. MoDISco
patterns carry one (``contrib_scores``); a frequency matrix (JASPAR, MEME) becomes one as the
heights of its logo letters, ``pfm * information_content`` per position, so informative
positions weigh more and a uniform position weighs nothing. Every CWM is trimmed to the
positions whose total absolute weight reaches ``trim`` times the largest (FiNeMo's CWM trim).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from .database import fetch_matrix, load_database
from .matrices import information_content

#: The results file of a modisco-lite run, inside its output folder.
MODISCO_FILE = "modisco_results.h5"
#: modisco-lite's groups of patterns (positive and negative contributions).
MODISCO_GROUPS = ("pos_patterns", "neg_patterns")


@dataclass(frozen=True)
class Pattern:
    """A motif to call hits of: its name and its trimmed CWM ``(W, 4)`` (columns A, C, G, T)."""

    name: str
    cwm: np.ndarray


def load_patterns(spec, motif_ids=None, release: str | None = None,
                  trim: float = 0.3) -> list[Pattern]:
    """The patterns a hit caller scans for.

    Parameters
    ----------
    spec : str, Path, dict or list of Pattern
        ``"jaspar"`` (vertebrate CORE motifs of ``release``), a modisco-lite output folder
        holding ``modisco_results.h5`` (or that file), a MEME file, or a mapping of name to
        CWM ``(W, 4)`` (what a client sends for a file of its own).
    motif_ids : list of str, optional
        Keep only these: a JASPAR/MEME ID (``MA0139.2``, an older version than the release
        lists included; without a version, the latest), a motif name (``CTCF``: every
        matrix of that name), or a MoDISco pattern name (``pos_patterns.pattern_0``).
        Default: every motif of the source.
    release : str, optional
        JASPAR release (default: the newest pyjaspar ships).
    trim : float
        Flank positions whose total absolute weight is below ``trim`` times the largest are
        removed, in [0, 1).

    Raises
    ------
    InputError
        For a missing file, a results file not in modisco-lite's layout, an ID the source does
        not hold, or a trim outside [0, 1).
    """
    if not 0 <= trim < 1:
        raise InputError(f"trim={trim}: expected a fraction in [0, 1)")
    if isinstance(spec, (list, tuple)) and all(isinstance(p, Pattern) for p in spec):
        named = [(p.name, p.name, p.cwm) for p in spec]
    elif isinstance(spec, dict):
        named = [(str(k), str(k).split(" ", 1)[0], np.asarray(v, dtype=np.float64))
                 for k, v in spec.items()]
    elif _is_modisco(spec):
        named = _modisco(spec)
    else:
        db = load_database(spec, release)
        named = [(f"{i} {n}", i, pfm * information_content(pfm)[:, None])
                 for i, n, pfm in zip(db.ids, db.names, db.pfms)]
    if motif_ids is not None:
        older = _older_versions if str(spec).lower() == "jaspar" else None
        named = _select(named, [motif_ids] if isinstance(motif_ids, str) else motif_ids, spec,
                        lambda key: older(key, release) if older else None)
    patterns = [Pattern(name, _trimmed(np.asarray(cwm, dtype=np.float64), trim, name))
                for name, _, cwm in named]
    if not patterns:
        raise InputError(f"motifs {_label(spec)}: no motif to call hits of")
    return patterns


def _label(spec) -> str:
    return "(given as matrices)" if isinstance(spec, (dict, list, tuple)) else repr(str(spec))


def _is_modisco(spec) -> bool:
    if not isinstance(spec, (str, Path)) or str(spec).lower() == "jaspar":
        return False
    path = Path(spec)
    return path.is_dir() or path.suffix in (".h5", ".hdf5")


def _modisco(spec) -> list[tuple[str, str, np.ndarray]]:
    """``(name, name, contrib_scores)`` of every pattern of a modisco-lite results file, the
    positive patterns first, each group in pattern order."""
    import h5py

    path = Path(spec) / MODISCO_FILE if Path(spec).is_dir() else Path(spec)
    if not path.is_file():
        raise InputError(f"motifs {str(spec)!r}: no {MODISCO_FILE} in the folder (a "
                         "modisco-lite output folder holds one)")
    try:
        with h5py.File(path, "r") as h5:
            found = []
            for group in (g for g in MODISCO_GROUPS if g in h5):
                names = sorted(h5[group], key=lambda n: int(n.rsplit("_", 1)[-1]))
                found += [(f"{group}.{n}", f"{group}.{n}", h5[group][n]["contrib_scores"][()])
                          for n in names]
    except (OSError, KeyError, ValueError) as err:
        raise InputError(f"motifs {str(path)!r}: not a modisco-lite results file "
                         f"({type(err).__name__}: {err}); expected "
                         "pos_patterns/pattern_N/contrib_scores (L, 4)") from None
    bad = next((n for n, _, cwm in found if cwm.ndim != 2 or cwm.shape[1] != 4), None)
    if bad is not None or not found:
        raise InputError(f"motifs {str(path)!r}: not a modisco-lite results file; expected "
                         "pos_patterns/pattern_N/contrib_scores (L, 4)" +
                         (f", {bad} is not" if bad else ", found no pattern"))
    return found


def _select(named, wanted, spec, fallback):
    """The entries of ``named`` that ``wanted`` names, in the order wanted; a key none names
    is looked up with ``fallback(key)`` (an entry or None)."""
    def unversioned(matrix_id):
        return re.sub(r"\.\d+$", "", matrix_id)

    chosen = {}
    for key in wanted:
        matches = [entry for entry in named if key in (entry[0], entry[1]) or
                   key.upper() == entry[0].split(" ", 1)[-1].upper() or
                   unversioned(entry[1]) == key]
        matches = matches or [m for m in [fallback(key)] if m is not None]
        if not matches:
            raise InputError(f"motif {key!r}: not in motifs {_label(spec)}")
        # A bare ID or a name can match several versions of a matrix: the latest is kept
        # (sources list versions in order); a name shared by several matrices keeps each.
        latest = {unversioned(entry[1]): entry for entry in matches}
        chosen.update({entry[0]: entry for entry in latest.values() if entry[0] not in chosen})
    return list(chosen.values())


def _older_versions(key: str, release: str | None):
    """An entry for a versioned JASPAR ID that is not the latest version in its release
    (``MA0466.3`` where the release lists ``MA0466.4``), or None."""
    found = fetch_matrix(key, release) if re.fullmatch(r"[A-Z]{2}\d{4}\.\d+", key) else None
    if found is None:
        return None
    name, pfm = found
    return f"{key} {name}", key, pfm * information_content(pfm)[:, None]


def cwm_span(cwm: np.ndarray, trim: float) -> tuple[int, int]:
    """Half-open span of the positions whose summed absolute weight reaches ``trim`` times
    the largest (FiNeMo's and modisco-lite's report's trim)."""
    weight = np.abs(cwm).sum(axis=1)
    kept = np.flatnonzero(weight >= trim * weight.max())
    return int(kept[0]), int(kept[-1]) + 1


def _trimmed(cwm: np.ndarray, trim: float, name: str) -> np.ndarray:
    if cwm.ndim != 2 or cwm.shape[1] != 4 or not np.isfinite(cwm).all():
        raise InputError(f"motif {name!r}: expected a finite (W, 4) matrix, got shape "
                         f"{cwm.shape}")
    if np.abs(cwm).sum() <= 0:
        raise InputError(f"motif {name!r}: its matrix carries no weight")
    lo, hi = cwm_span(cwm, trim)
    return cwm[lo:hi]
