"""Sequences with planted JASPAR motifs and their per-position ground truth.

The default generative process follows Koo & Ploenzke (2021), task 3, on which the models in
``../shared/models/koo2023`` were trained: 200 nt of uniform random DNA; a positive holds 3 to 7
instances drawn from a positive pool (SP1, GABPA, CEBPB, MAX, YY1), a negative 3 to 7 drawn
from that pool and a larger negative pool of other factors together, so that what tells the
classes apart is the positive motifs, not the absence of decoys. The number of instances
halves in probability with each extra one (3: 0.52, 4: 0.26, 5: 0.13, 6: 0.06, 7: 0.03; the
published generator draws 0.5, 0.25, 0.17, 0.05, 0.03). Each instance is sampled column by
column from its frequency matrix, lands on a random strand and does not overlap another. Where
this differs from the published generator: instances are placed at random, not along a
sampled grammar of spacings, and the negative pool is a fixed list of unrelated factors rather
than 50 JASPAR motifs drawn at random.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import InputError
from ..experiments.elements import jaspar_index
from ..motif.database import jaspar
from ..motif.matrices import information_content

#: Koo & Ploenzke (2021), task 3: SP1, GABPA, CEBPB, MAX, YY1.
POSITIVE = ("MA0079", "MA0062", "MA0466", "MA0058", "MA0095")
#: 28 factors of other families than the positive pool's: CTCF, TP53, IRF1, GATA1, FOXA1,
#: SOX2, REST, NFKB1, HNF4A, NR3C1, POU5F1, PAX5, RUNX1, TEAD1, HNF1A, NFYA, SRF, STAT1, MEF2A,
#: TBP, ESR1, AR, RFX1, EBF1, NR2F1, PBX1, ONECUT1, PPARG::RXRA.
NEGATIVE = ("MA0139", "MA0106", "MA0050", "MA0035", "MA0148", "MA0143", "MA0138", "MA0105",
            "MA0114", "MA0113", "MA1115", "MA0014", "MA0002", "MA0090", "MA0046", "MA0060",
            "MA0083", "MA0137", "MA0052", "MA0108", "MA0112", "MA0007", "MA0509", "MA0154",
            "MA0017", "MA0070", "MA0679", "MA0065")


@dataclass
class Simulation:
    """Simulated sequences and where their planted motifs are.

    Attributes
    ----------
    x : numpy.ndarray
        ``(N, L, 4)`` float32 one-hot sequences, ACGT.
    labels : numpy.ndarray
        ``(N,)`` 1 for a positive, 0 for a negative.
    truth : numpy.ndarray
        ``(N, L)`` bool: a column of a planted positive-pool motif holding at least
        ``min_bits`` of information. Negatives have no ground truth (all False).
    truth_map : numpy.ndarray
        ``(N, L, 4)``: at those positions the motif's column as a sequence logo draws it
        (frequency x information content, in the strand planted), 0 elsewhere.
    sites : pandas.DataFrame
        One row per planted instance: ``seq``, ``motif_id``, ``motif_name``, ``start``,
        ``end`` (half-open), ``strand``, ``pool`` (``positive`` or ``negative``).
    settings : dict
        The arguments, with the JASPAR release used.
    """

    x: np.ndarray
    labels: np.ndarray
    truth: np.ndarray
    truth_map: np.ndarray
    sites: pd.DataFrame
    settings: dict


def simulate(n: int = 1000, length: int = 200, positive=POSITIVE, negative=NEGATIVE,
             n_motifs: tuple[int, int] = (3, 7), positive_share: float = 0.5,
             min_bits: float = 0.1, release: str | None = None, seed: int = 0) -> Simulation:
    """Draw ``n`` sequences with planted motifs (see the module docstring).

    Parameters
    ----------
    n, length : int
        Sequences and their length.
    positive, negative : sequence of str
        JASPAR matrix IDs (latest version in ``release`` when unversioned) of the two pools.
    n_motifs : (int, int)
        Fewest and most instances per sequence, inclusive; each extra instance half as
        likely as one fewer.
    positive_share : float
        Share of positives; they come first.
    min_bits : float
        Information a motif column needs to count as ground truth.
    release : str, optional
        JASPAR release shipped with pyjaspar (default: the newest).
    seed : int

    Raises
    ------
    InputError
        For an unknown matrix ID, or motifs that cannot fit into the sequence length.
    """
    low, high = n_motifs
    if not 1 <= low <= high:
        raise InputError(f"n_motifs {n_motifs}: expected 1 <= fewest <= most")
    if not 0 <= positive_share <= 1:
        raise InputError(f"positive_share {positive_share}: expected a share in [0, 1]")
    database = jaspar(release, "CORE", None)
    pools = {"positive": [jaspar_index(spec, database) for spec in positive],
             "negative": [jaspar_index(spec, database) for spec in negative]}
    if not pools["positive"]:
        raise InputError("positive: no motif given")
    pfms = {k: database.pfms[k] for pool in pools.values() for k in pool}
    longest = max(len(pfm) for pfm in pfms.values())
    if high * longest > length:
        raise InputError(f"n_motifs {n_motifs}: {high} motifs of up to {longest} bp do not fit "
                         f"into {length} bp")
    counts = np.arange(low, high + 1)
    weights = 0.5 ** (counts - low)
    rng = np.random.default_rng(seed)
    n_positive = int(round(n * positive_share))
    codes = rng.integers(0, 4, size=(n, length))
    truth_map = np.zeros((n, length, 4))
    rows = []
    for i in range(n):
        chosen = (pools["positive"] if i < n_positive
                  else pools["positive"] + pools["negative"])
        occupied = np.zeros(length, dtype=bool)
        for k in rng.choice(chosen, size=int(rng.choice(counts, p=weights / weights.sum()))):
            pfm = pfms[k]
            start = _free_start(occupied, len(pfm), rng)
            strand = "+" if rng.integers(2) else "-"
            oriented = pfm if strand == "+" else pfm[::-1, ::-1]
            cumulative = oriented.cumsum(axis=1)
            draws = rng.random(len(pfm))[:, None]
            codes[i, start:start + len(pfm)] = np.minimum((draws > cumulative).sum(axis=1), 3)
            occupied[start:start + len(pfm)] = True
            pool = "positive" if k in pools["positive"] else "negative"
            if i < n_positive and pool == "positive":
                ic = information_content(oriented)
                truth_map[i, start:start + len(pfm)] = \
                    oriented * ic[:, None] * (ic >= min_bits)[:, None]
            rows.append((i, database.ids[k], database.names[k], start, start + len(pfm), strand,
                         pool))
    sites = pd.DataFrame(rows, columns=["seq", "motif_id", "motif_name", "start", "end",
                                        "strand", "pool"])
    labels = (np.arange(n) < n_positive).astype(np.int64)
    settings = {"n": n, "length": length, "positive": [database.ids[k] for k in
                                                       pools["positive"]],
                "negative": [database.ids[k] for k in pools["negative"]],
                "n_motifs": [low, high], "positive_share": positive_share,
                "min_bits": min_bits, "release": database.description["release"], "seed": seed}
    return Simulation(np.eye(4, dtype=np.float32)[codes], labels, truth_map.sum(axis=-1) > 0,
                      truth_map.astype(np.float32), sites, settings)


def _free_start(occupied: np.ndarray, width: int, rng: np.random.Generator) -> int:
    """A random start where ``width`` positions are free."""
    free = np.lib.stride_tricks.sliding_window_view(~occupied, width).all(axis=1)
    starts = np.flatnonzero(free)
    if not starts.size:
        raise InputError(f"no room left for a {width} bp motif; fewer or shorter motifs, or "
                         "longer sequences")
    return int(rng.choice(starts))
