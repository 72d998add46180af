"""Motif matches as a TSV: one row per motif and database match, every motif accounted for."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..results import Motif

COLUMNS = ["motif", "n_sites", "information_content", "core_start", "core_end", "rank",
           "match_id", "match_name", "p_value", "q_value", "e_value", "overlap", "offset",
           "strand"]


def motif_table(motifs: list[Motif]) -> pd.DataFrame:
    """One row per (motif, match), best match first; a motif without matches keeps one row
    with empty match columns (and, in ``unmatched``, why it was not matched). Method-specific
    details (filter index, the layer read, saturation, ...) follow."""
    rows = []
    for motif in motifs:
        base = {"motif": motif.name, "n_sites": motif.n_sites,
                "information_content": round(float(motif.information_content.sum()), 3),
                "core_start": motif.core[0], "core_end": motif.core[1]}
        extra = {key: value for key, value in motif.details.items()
                 if isinstance(value, (int, float, str))}
        hits = [{"rank": rank, "match_id": hit.id, "match_name": hit.name,
                 "p_value": hit.p_value, "q_value": hit.q_value, "e_value": hit.e_value,
                 "overlap": hit.overlap, "offset": hit.offset, "strand": hit.strand}
                for rank, hit in enumerate(motif.matches, start=1)]
        rows.extend({**base, **hit, **extra} for hit in hits or [{}])
    table = pd.DataFrame(rows)
    extra_columns = [c for c in table.columns if c not in COLUMNS]
    return table.reindex(columns=COLUMNS + extra_columns)


def write_motif_table(motifs: list[Motif], path) -> Path:
    path = Path(path)
    motif_table(motifs).to_csv(path, sep="\t", index=False, float_format="%.4g")
    return path
