"""Query motifs against a database with TomTom (memelite), with p-, q- and E-values."""
from __future__ import annotations

import numpy as np

from ..results import MotifMatch
from ..stages import stage
from .database import MotifDatabase

#: Queries matched together: the matching stage's progress moves once per batch.
MATCH_BATCH = 16


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """q-values of each row of p-values (Benjamini-Hochberg over the row)."""
    p = np.asarray(p_values, dtype=np.float64)
    order = np.argsort(p, axis=-1)
    ranked = np.take_along_axis(p, order, axis=-1)
    m = p.shape[-1]
    q = ranked * m / np.arange(1, m + 1)
    q = np.minimum.accumulate(q[..., ::-1], axis=-1)[..., ::-1]
    out = np.empty_like(q)
    np.put_along_axis(out, order, np.minimum(q, 1.0), axis=-1)
    return out


def match(queries: list[np.ndarray], database: MotifDatabase, n_matches: int = 5,
          min_overlap: int = 5, progress: bool = False) -> list[list[MotifMatch]]:
    """The ``n_matches`` best database motifs for each query frequency matrix ``(K, 4)``.

    As MEME's Tomtom reports them: the q-value is Benjamini-Hochberg over all database motifs,
    per query, and the E-value the p-value times the number of database motifs.

    Parameters
    ----------
    min_overlap : int
        Columns the best alignment of a query and a database motif must share (the whole
        query or database motif when either is shorter); one that shares fewer gets p = 1.
        Tomtom's ``-min-overlap`` rejects such alignments before choosing the best; memelite
        reports the best alignment only, so a pair whose best alignment is too short counts as
        no match rather than falling back to its next alignment.
    progress : bool
        Show the stage ``matching``, counted in queries matched (:func:`~kipoi_explain.stages.
        stage`).
    """
    targets = [np.ascontiguousarray(t.T) for t in database.pfms]
    found = []
    with stage("matching", len(queries), "motif", progress) as advance:
        # Each query is matched on its own: batches only let the progress move.
        for lo in range(0, len(queries), MATCH_BATCH):
            batch = queries[lo:lo + MATCH_BATCH]
            found += _match(batch, database, targets, n_matches, min_overlap)
            advance(len(batch))
    return found


def _match(queries, database, targets, n_matches, min_overlap) -> list[list[MotifMatch]]:
    from memelite import tomtom

    p, _, offsets, overlaps, strands = tomtom([np.ascontiguousarray(q.T) for q in queries],
                                              targets)
    needed = np.minimum(min_overlap, np.minimum.outer([len(q) for q in queries],
                                                      [len(t) for t in database.pfms]))
    p = np.where(overlaps >= needed, p, 1.0)
    q = benjamini_hochberg(p)
    best = np.argsort(p, axis=1, kind="stable")[:, :n_matches]
    return [[MotifMatch(database.ids[t], database.names[t], float(p[i, t]), float(q[i, t]),
                        int(offsets[i, t]), "-" if strands[i, t] else "+",
                        float(p[i, t] * len(database)), int(overlaps[i, t])) for t in row]
            for i, row in enumerate(best)]
