"""Seqlets: short spans of high attribution, annotated with a motif database and grouped.

Seqlets are called with tangermeme's recursive seqlet caller on the importance of the present
bases, each one is matched to the database with TomTom, and the seqlets that share a significant
best match are aligned on that database motif and summed into one frequency matrix per group.
"""
from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from ..errors import InputError
from ..results import Attribution, Motif, MotifMatch, Seqlets
from ..sequences.alphabet import reverse_complement
from . import attach_matches, build_motif
from .database import MotifDatabase, load_database
from .matching import match
from .matrices import UNIFORM, frequencies

#: Database matches kept for each group's frequency matrix, best first.
N_MATCHES = 5

#: Group of the seqlets whose best database match is not significant.
UNMATCHED = "unmatched"

COLUMNS = ["seq", "name", "start", "end", "chrom", "genome_start", "genome_end", "attribution",
           "p_value", "match_id", "match_name", "match_p", "match_q", "strand", "offset", "group"]


def seqlets(result: Attribution, threshold: float = 0.01, min_length: int = 8,
            max_length: int = 25, flank: int = 0, database="jaspar", release: str | None = None,
            collection: str = "CORE", tax_group: str | None = "vertebrates",
            max_q: float = 0.05, min_bits: float = 0.3, progress: bool = False) -> Seqlets:
    """Call seqlets from an attribution, match them to a motif database and group them.

    Only positive seqlets are called: spans the prediction relies on, not spans that lower it.

    Parameters
    ----------
    result : Attribution
        Any method; the importance of a position is
        :meth:`~kipoi_explain.results.Attribution.position_importance` (ISM included).
    threshold : float
        p-value every sub-span of a seqlet must reach in tangermeme's recursive seqlet caller,
        in (0, 1]. It ranks spans against the importance of all the sequences given; it is not
        an error rate.
    min_length, max_length : int
        Shortest and longest seqlet before flanks are added. The default 8 (tangermeme's is 4)
        keeps motifs longer than about 12 bp (CTCF) whole: shorter pieces of them match no
        database motif significantly.
    flank : int
        Positions added on both sides of each seqlet once it is called (clipped to the sequence).
    database : "jaspar", path or MotifDatabase
        See :func:`~kipoi_explain.motif.load_database`; ``release``, ``collection`` and
        ``tax_group`` select the JASPAR motifs.
    max_q : float
        A seqlet joins the group of its best database match when the match's q-value is at most
        this; the others form the ``"unmatched"`` group.
    min_bits : float
        Flanks of a group's frequency matrix with less information are trimmed before it is
        matched to the database.
    progress : bool
        Show the progress of matching the seqlets (the stage ``matching``).

    Returns
    -------
    Seqlets
        Empty (no rows, no groups) when no seqlet is called.

    Raises
    ------
    InputError
        For a threshold or ``max_q`` outside (0, 1], lengths that are not positive with
        ``min_length <= max_length``, or a negative flank.

    Notes
    -----
    Each seqlet is matched as the frequency matrix of ``inputs * max(importance, 0)`` over its
    span: the present base where it adds to the prediction, uniform where it does not, so
    positions the model ignores do not count against the match. On the bundled example (DeepSHAP,
    ``min_length=8``) this matches 69 seqlets to their planted JASPAR motif, CTCF 14 of them,
    against 61 and 5 for the bare one-hot sequence that tangermeme's ``annotate_seqlets`` uses.

    A group's frequency matrix stacks its seqlets on the forward strand of the database motif,
    using each seqlet's TomTom offset and strand, over the motif's span plus any overhang.
    Columns a seqlet does not reach count as background for it, so a column covered by few
    seqlets carries little information instead of looking conserved.

    Unmatched seqlets share no alignment, so their group is a summary, not a motif: its matrix
    stacks the seqlets of their most common length (ties: the longest) as they are, ``n_sites``
    counts all of them, ``details["pfm_sites"]`` those stacked, and it is not matched.
    """
    _check_arguments(threshold, min_length, max_length, flank, max_q)
    db = load_database(database, release, collection, tax_group)
    settings = {"threshold": threshold, "min_length": min_length, "max_length": max_length,
                "flank": flank, "max_q": max_q, "min_bits": min_bits, "method": result.method}
    importance = result.position_importance()
    calls = _call(importance, threshold, min_length, max_length, flank)
    spans = list(zip(calls.seq, calls.start, calls.end))
    windows = [result.inputs[i, s:e] for i, s, e in spans]
    queries = [frequencies(x * np.maximum(importance[i, s:e], 0.0)[:, None])
               for x, (i, s, e) in zip(windows, spans)]
    best = [hits[0] for hits in match(queries, db, 1, progress=progress)]
    table = _table(result, calls, best, max_q)
    groups = _groups(table.group.tolist(), windows, best, db, min_bits, progress)
    return Seqlets(table, groups, db.description, settings)


def _check_arguments(threshold, min_length, max_length, flank, max_q) -> None:
    if not 0 < threshold <= 1:
        raise InputError(f"threshold={threshold}: expected a p-value in (0, 1]")
    if not 0 < max_q <= 1:
        raise InputError(f"max_q={max_q}: expected a q-value in (0, 1]")
    if min_length < 1:
        raise InputError(f"min_length={min_length}: expected a positive length")
    if min_length > max_length:
        raise InputError(f"min_length={min_length} is longer than max_length={max_length}; "
                         "expected min_length <= max_length")
    if flank < 0:
        raise InputError(f"flank={flank}: expected 0 or more positions")


def _call(importance: np.ndarray, threshold: float, min_length: int, max_length: int,
          flank: int) -> pd.DataFrame:
    """Positive seqlets as ``seq``, ``start``, ``end``, ``attribution``, ``p_value``, ordered
    by sequence and start."""
    import torch
    from tangermeme.seqlet import recursive_seqlets

    calls = recursive_seqlets(torch.from_numpy(np.ascontiguousarray(importance)),
                              threshold=threshold, min_seqlet_len=min_length,
                              max_seqlet_len=max_length, additional_flanks=flank)
    calls = calls.rename(columns={"example_idx": "seq", "p-value": "p_value"})
    return calls.sort_values(["seq", "start"]).reset_index(drop=True)


def _table(result: Attribution, calls: pd.DataFrame, best: list[MotifMatch],
           max_q: float) -> pd.DataFrame:
    """One row per seqlet in :data:`COLUMNS` order, with genome coordinates and its group."""
    table = calls.assign(name=[result.names[i] for i in calls.seq])
    table["chrom"], table["genome_start"], table["genome_end"] = _genome_spans(result, calls)
    table["match_id"] = [hit.id for hit in best]
    table["match_name"] = [hit.name for hit in best]
    table["match_p"] = np.array([hit.p_value for hit in best], dtype=np.float64)
    table["match_q"] = np.array([hit.q_value for hit in best], dtype=np.float64)
    table["strand"] = [hit.strand for hit in best]
    table["offset"] = np.array([hit.offset for hit in best], dtype=np.int64)
    table["group"] = [f"{hit.id} {hit.name}" if hit.q_value <= max_q else UNMATCHED
                      for hit in best]
    return table[COLUMNS]


def _genome_spans(result: Attribution, calls: pd.DataFrame) -> tuple[list, pd.array, pd.array]:
    """Chromosome, genome start and end of each seqlet; missing without intervals."""
    if result.intervals is None:
        chroms, spans = [None] * len(calls), [(None, None)] * len(calls)
    else:
        chroms = [result.intervals[i].chrom for i in calls.seq]
        spans = [result.intervals[i].to_genome(s, e)
                 for i, s, e in zip(calls.seq, calls.start, calls.end)]
    return (chroms, pd.array([s for s, _ in spans], dtype="Int64"),
            pd.array([e for _, e in spans], dtype="Int64"))


def _groups(labels: list[str], windows: list[np.ndarray], best: list[MotifMatch],
            db: MotifDatabase, min_bits: float, progress: bool) -> list[Motif]:
    """A Motif per group: the largest matched groups first, then the unmatched seqlets."""
    sizes = Counter(labels)
    matched = sorted((g for g in sizes if g != UNMATCHED), key=lambda g: (-sizes[g], g))
    groups = []
    for group in matched:
        members = [i for i, label in enumerate(labels) if label == group]
        width = len(db.pfms[db.ids.index(best[members[0]].id)])
        counts = _aligned_counts([windows[i] for i in members], [best[i] for i in members],
                                 width)
        groups.append(build_motif(f"seqlets/{group}", frequencies(counts), len(members),
                                  min_bits=min_bits,
                                  details={"group": group, "n_seqlets": len(members)}))
    # A flat matrix has no core to match.
    attach_matches([m for m in groups if m.core[1] > m.core[0]], db, N_MATCHES,
                   progress=progress)
    if UNMATCHED in sizes:
        groups.append(_unmatched([w for w, label in zip(windows, labels) if label == UNMATCHED],
                                 min_bits))
    return groups


def _aligned_counts(windows: list[np.ndarray], hits: list[MotifMatch],
                    width: int) -> np.ndarray:
    """Base counts of seqlets placed on the forward strand of a database motif ``width`` long.

    TomTom gives a ``-`` match's offset on the reverse-complemented database motif, so the
    reverse-complemented seqlet starts at ``width - offset - len(seqlet)`` on the forward one.
    """
    placed = [(width - hit.offset - len(x), reverse_complement(x)) if hit.strand == "-"
              else (hit.offset, x) for x, hit in zip(windows, hits)]
    lo = min(0, min(start for start, _ in placed))
    hi = max(width, max(start + len(x) for start, x in placed))
    counts = np.tile(UNIFORM, (len(placed), hi - lo, 1))
    for row, (start, x) in enumerate(placed):
        counts[row, start - lo:start - lo + len(x)] = x
    return counts.sum(axis=0)


def _unmatched(windows: list[np.ndarray], min_bits: float) -> Motif:
    """The unmatched seqlets' summary: those of the most common length stacked as they are."""
    lengths = Counter(len(x) for x in windows)
    length = max(lengths, key=lambda k: (lengths[k], k))
    stacked = [x for x in windows if len(x) == length]
    return build_motif(f"seqlets/{UNMATCHED}", frequencies(np.sum(stacked, axis=0)),
                       len(windows), min_bits=min_bits,
                       details={"group": UNMATCHED, "n_seqlets": len(windows),
                                "pfm_sites": len(stacked)})
