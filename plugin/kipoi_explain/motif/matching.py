"""Query motifs against a database with TomTom (memelite), ranked with q-values."""
from __future__ import annotations

import numpy as np

from ..results import MotifMatch
from .database import MotifDatabase


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


def match(queries: list[np.ndarray], database: MotifDatabase,
          n_matches: int = 5) -> list[list[MotifMatch]]:
    """The ``n_matches`` best database motifs for each query frequency matrix ``(K, 4)``.

    q-values are Benjamini-Hochberg over all database motifs, per query, as MEME's Tomtom
    reports them.
    """
    from memelite import tomtom

    if not queries:
        return []
    p, _, offsets, _, strands = tomtom([np.ascontiguousarray(q.T) for q in queries],
                                       [np.ascontiguousarray(t.T) for t in database.pfms])
    q = benjamini_hochberg(p)
    best = np.argsort(p, axis=1, kind="stable")[:, :n_matches]
    return [[MotifMatch(database.ids[t], database.names[t], float(p[i, t]), float(q[i, t]),
                        int(offsets[i, t]), "-" if strands[i, t] else "+") for t in row]
            for i, row in enumerate(best)]
