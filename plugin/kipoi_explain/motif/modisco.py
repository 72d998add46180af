"""TF-MoDISco on the library's own attributions: modisco-lite finds the patterns, TomTom names
them.

The attribution comes from :func:`~kipoi_explain.explain` (any method with hypothetical
contributions), the patterns from the maintained modisco-lite package (``modiscolite``), run as
its ``modisco motifs`` command runs it, and each pattern's frequency matrix, cut to the span its
contribution weight matrix (CWM) keeps, is matched to JASPAR or a MEME file.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from .._version import __version__
from ..errors import InputError
from ..methods import PERTURBATION_METHODS, explain
from ..results import ModiscoResult
from ..stages import stage
from . import attach_matches, build_motif
from .database import load_database
from .matrices import frequencies
from .patterns import cwm_span

#: The metaclusters modisco-lite writes, in its order: patterns of positive, then of negative
#: contribution.
METACLUSTERS = ("pos_patterns", "neg_patterns")


def modisco(model, seqs, method: str = "deepshap", target=0, max_seqlets: int = 2000,
            sliding_window_size: int = 20, flank_size: int = 5, target_seqlet_fdr: float = 0.05,
            trim_to_window_size: int = 30, initial_flank_to_add: int = 10,
            final_flank_to_add: int = 0, n_leiden_runs: int = 2, trim_threshold: float = 0.3,
            database="jaspar", release: str | None = None, collection: str = "CORE",
            tax_group: str | None = "vertebrates", n_matches: int = 5, min_bits: float = 0.3,
            reduce: str = "sum", bins=None, batch_size: int | None = None,
            progress: bool = False, ambiguous: str = "uniform") -> ModiscoResult:
    """Explain the sequences, find TF-MoDISco patterns in the attribution and match them.

    The TF-MoDISco defaults are those of modisco-lite's ``modisco motifs`` command (its
    ``-n 2000`` as the documentation runs it), not of its ``TFMoDISco`` function.

    Parameters
    ----------
    model : Model or anything :func:`~kipoi_explain.load_model` accepts
        A model of one-hot DNA.
    seqs : SequenceSet, str, list of str, numpy.ndarray or FASTA path
        The sequences explained; each is used whole (modisco-lite's ``--window`` is their
        length).
    method : str
        An attribution method giving hypothetical contributions (every gradient method, not
        ``ism`` or ``occlusion``), with its default options.
    target, reduce, bins
        The output explained, as for :func:`~kipoi_explain.explain`.
    max_seqlets : int
        Seqlets clustered per metacluster (positive, negative), the first ones called.
    sliding_window_size, flank_size : int
        Core of a seqlet and the flanks added to it.
    target_seqlet_fdr : float
        False discovery rate of the seqlet threshold, against a null of shuffled scores.
    trim_to_window_size, initial_flank_to_add, final_flank_to_add : int
        Length patterns are trimmed to, and the flanks added to them before and after merging.
    n_leiden_runs : int
        Leiden clusterings, with different seeds.
    trim_threshold : float
        A pattern is matched over the span of positions whose summed absolute contribution is
        at least this fraction of its largest (modisco-lite's report trims its logos so).
    database, release, collection, tax_group
        The motif database (see :func:`~kipoi_explain.motif.load_database`).
    n_matches : int
        Matches kept per pattern.
    min_bits : float
        Flanks of the span with less information than this are not matched.
    batch_size, progress, ambiguous
        As for :func:`~kipoi_explain.explain`; ``progress`` also shows the stages
        ``clustering`` (modisco-lite) and ``matching``.

    Returns
    -------
    ModiscoResult
        No patterns (too few seqlets, or none that cluster) is a result without patterns.

    Raises
    ------
    InputError
        For a method without hypothetical contributions, an option out of range, or windows
        longer than the sequences.
    """
    if method in PERTURBATION_METHODS:
        raise InputError(f"method {method!r} gives no hypothetical contributions, which "
                         "TF-MoDISco needs; use deepshap, deeplift, integrated_gradients, "
                         "expected_gradients, grad_x_input or saliency")
    _at_least(1, max_seqlets=max_seqlets, sliding_window_size=sliding_window_size,
              trim_to_window_size=trim_to_window_size, n_leiden_runs=n_leiden_runs)
    _at_least(0, flank_size=flank_size, initial_flank_to_add=initial_flank_to_add,
              final_flank_to_add=final_flank_to_add)
    if not 0 < target_seqlet_fdr < 1:
        raise InputError(f"target_seqlet_fdr={target_seqlet_fdr}: expected a number in (0, 1)")
    if not 0 <= trim_threshold <= 1:
        raise InputError(f"trim_threshold={trim_threshold}: expected a number in [0, 1]")
    db = load_database(database, release, collection, tax_group)
    attribution = explain(model, seqs, method, target=target, reduce=reduce, bins=bins,
                          batch_size=batch_size, progress=progress, ambiguous=ambiguous)
    length = attribution.inputs.shape[1]
    if sliding_window_size + 2 * flank_size > length:
        raise InputError(f"sliding_window_size={sliding_window_size} with flank_size="
                         f"{flank_size} on each side is longer than the sequences ({length} bp)")
    settings = {"max_seqlets": max_seqlets, "sliding_window_size": sliding_window_size,
                "flank_size": flank_size, "target_seqlet_fdr": target_seqlet_fdr,
                "trim_to_window_size": trim_to_window_size,
                "initial_flank_to_add": initial_flank_to_add,
                "final_flank_to_add": final_flank_to_add, "n_leiden_runs": n_leiden_runs}
    with stage("clustering", progress=progress):
        found, hdf5 = _run(attribution.inputs, attribution.hypothetical, settings)
    patterns, cwms = [], []
    for name, pattern in found:
        cwm = np.asarray(pattern.contrib_scores, dtype=np.float64)
        start, end = cwm_span(cwm, trim_threshold)
        patterns.append(build_motif(
            name, frequencies(pattern.sequence[start:end]), len(pattern.seqlets),
            min_bits=min_bits, details={"span": [start, end],
                                        "contribution": float(cwm[start:end].sum())}))
        cwms.append(cwm[start:end].astype(np.float32))
    attach_matches([m for m in patterns if m.core[1] > m.core[0]], db, n_matches=n_matches,
                   progress=progress)
    return ModiscoResult(
        patterns=patterns, cwms=cwms, hdf5=hdf5, method=method, target=attribution.target,
        database=db.description,
        settings={**settings, "trim_threshold": trim_threshold, "n_matches": n_matches,
                  "min_bits": min_bits, "n_sequences": len(attribution.inputs),
                  "length": length, "reduce": reduce, "bins": bins, "ambiguous": ambiguous,
                  "attribution": attribution.settings, "version": __version__},
        model=attribution.model)


def _at_least(least: int, **counts) -> None:
    """An InputError naming the first of ``counts`` under ``least``."""
    for name, value in counts.items():
        if value < least:
            raise InputError(f"{name}={value}: expected an integer of at least {least}")


def _run(onehot: np.ndarray, hypothetical: np.ndarray, settings: dict):
    """modisco-lite's patterns as ``[(name, SeqletSet)]``, and its HDF5 file's bytes."""
    from modiscolite.io import save_hdf5
    from modiscolite.tfmodisco import TFMoDISco

    # Its motifs command runs on float32 copies; the same here gives the same patterns.
    metaclusters = TFMoDISco(
        one_hot=np.ascontiguousarray(onehot, dtype=np.float32),
        hypothetical_contribs=np.ascontiguousarray(hypothetical, dtype=np.float32),
        max_seqlets_per_metacluster=settings["max_seqlets"],
        sliding_window_size=settings["sliding_window_size"],
        flank_size=settings["flank_size"], target_seqlet_fdr=settings["target_seqlet_fdr"],
        trim_to_window_size=settings["trim_to_window_size"],
        initial_flank_to_add=settings["initial_flank_to_add"],
        final_flank_to_add=settings["final_flank_to_add"],
        n_leiden_runs=settings["n_leiden_runs"])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "modisco_results.h5"
        save_hdf5(path, *metaclusters, onehot.shape[1])
        hdf5 = np.frombuffer(path.read_bytes(), dtype=np.uint8).copy()
    found = [(f"{group}.pattern_{i}", pattern)
             for group, patterns in zip(METACLUSTERS, metaclusters)
             for i, pattern in enumerate(patterns or [])]
    return found, hdf5
