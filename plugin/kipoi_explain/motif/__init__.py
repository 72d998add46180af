"""Motifs read from a model: first-layer filters as PWMs, matched to JASPAR offline.

:func:`motifs` is the entry point (exported as ``kipoi_explain.motifs``); seqlets called from
attribution maps live in :mod:`kipoi_explain.motif.seqlets`.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from .. import layers
from ..errors import InputError
from ..prepare import prepare
from ..results import Motif, MotifSet
from ..samples import DNA
from .database import MotifDatabase, load_database
from .filters import activation_counts, saturation, weight_pfms
from .matching import match
from .matrices import UNIFORM, frequencies, information_content, log_odds, trim

METHODS = ("activation", "weights")

__all__ = ["METHODS", "MotifDatabase", "build_motif", "load_database", "match", "motifs"]


def build_motif(name: str, pfm: np.ndarray, n_sites: int, background: np.ndarray = UNIFORM,
                min_bits: float = 0.3, details: dict | None = None) -> Motif:
    """A :class:`~kipoi_explain.results.Motif` from a frequency matrix (no matches yet)."""
    ic = information_content(pfm, background)
    return Motif(name, pfm, log_odds(pfm, background), ic, int(n_sites), trim(ic, min_bits),
                 details=dict(details or {}))


def attach_matches(queries: list[Motif], database: MotifDatabase, n_matches: int,
                   min_peak_bits: float = 1.0, min_total_bits: float = 5.0,
                   min_overlap: int = 5, progress: bool = False) -> None:
    """Match each motif's trimmed core against the database, in place; offsets refer to the
    whole motif.

    A core whose most informative position holds fewer than ``min_peak_bits``, or which holds
    fewer than ``min_total_bits`` in all, is not matched: TomTom finds confident matches for
    near-flat matrices among long low-specificity database motifs, matches that mean nothing.
    Such a motif keeps no matches, and ``details["unmatched"]`` says why. ``progress``: show
    the matching's (see :func:`~kipoi_explain.motif.matching.match`).
    """
    kept = []
    for motif in queries:
        core = motif.information_content[motif.core[0]:motif.core[1]]
        if core.size == 0:
            motif.details["unmatched"] = "no position holds information"
        elif core.max() < min_peak_bits:
            motif.details["unmatched"] = (f"most informative position {core.max():.2f} bits < "
                                          f"{min_peak_bits:g}")
        elif core.sum() < min_total_bits:
            motif.details["unmatched"] = f"core {core.sum():.2f} bits < {min_total_bits:g}"
        else:
            kept.append(motif)
    cores = [m.pfm[m.core[0]:m.core[1]] for m in kept]
    for motif, matches in zip(kept, match(cores, database, n_matches, min_overlap, progress)):
        motif.matches = [replace(hit, offset=hit.offset - motif.core[0]) for hit in matches]


def motifs(model, seqs=None, layer: str | None = None, method: str = "activation",
           threshold: float = 0.5, read_at: str | None = None, database="jaspar",
           release: str | None = None, collection: str = "CORE",
           tax_group: str | None = "vertebrates", n_matches: int = 5, min_bits: float = 0.3,
           min_peak_bits: float = 1.0, min_total_bits: float = 5.0, min_overlap: int = 5,
           batch_size: int | None = None, progress: bool = False,
           ambiguous: str = "uniform") -> MotifSet:
    """Read each first-layer convolution filter as a motif and match it to a database.

    Parameters
    ----------
    model : Model or anything :func:`~kipoi_explain.load_model` accepts
    seqs : sequences, optional
        Anything :func:`~kipoi_explain.sequences.as_sequences` accepts. Needed for
        ``method="activation"``; with ``"weights"`` it adds the correlation between the weight-
        and activation-derived PWMs of each filter.
    layer : str, optional
        A convolution reading the one-hot input (default: the first one).
    method : {"activation", "weights"}
        How a filter becomes a frequency matrix; see :mod:`kipoi_explain.motif.filters`.
    threshold : float
        Fraction of a filter's maximum activation a window must exceed to count as a site.
    read_at : str, optional
        The layer whose output is thresholded. Default: the first elementwise nonlinearity
        after the filters (through batch normalisation and dropout), as Basset and Koo &
        Ploenzke (2021) read them; the convolution's own output when the model applies none
        the backend can see (a functional activation inside a PyTorch ``forward``), which
        ``settings["read_at_reason"]`` then says. Name the convolution itself to threshold its
        raw output.
    database : "jaspar", path or MotifDatabase
        JASPAR through pyjaspar (``release``, default the newest shipped; ``collection``;
        ``tax_group``): the latest version of each profile, the collection JASPAR calls
        non-redundant. Or a MEME-format file.
    n_matches : int
        Database matches kept per filter, best first.
    min_bits : float
        Flanks with less information than this are trimmed off the core that is matched.
    min_peak_bits, min_total_bits : float
        A core whose best position holds fewer bits, or which holds fewer bits in all, is not
        matched (see :func:`attach_matches`).
    min_overlap : int
        Columns an alignment must share with a database motif (see
        :func:`~kipoi_explain.motif.matching.match`).

    Returns
    -------
    MotifSet
        One :class:`~kipoi_explain.results.Motif` per filter, named ``"<layer>/filter_<i>"``;
        ``settings["read_at"]`` names the layer whose activations made them.
    """
    if method not in METHODS:
        raise InputError(f"motif method {method!r}: expected one of {', '.join(METHODS)}")
    if seqs is None and method == "activation":
        raise InputError("method 'activation' needs sequences (seqs=...) to activate the "
                         "filters; method 'weights' does not")
    work = prepare(model, seqs, what="motif extraction", accepts=(DNA,), required=False,
                   batch_size=batch_size, progress=progress, ambiguous=ambiguous)
    model = work.model
    conv = _conv_layer(model, layer)
    read_at, reason = _read_at(model, conv, read_at)
    db = load_database(database, release, collection, tax_group)
    x = None if work.samples is None else work.x
    counts, sites = (activation_counts(model, x, conv, threshold, work.batch_size, progress,
                                       read_at) if x is not None else (None, None))
    found = []
    for f in range(conv.weights.shape[0]):
        details = {"layer": conv.name, "filter": f, "method": method,
                   "weight_norm": float(np.linalg.norm(conv.weights[f]))}
        if method == "activation":
            details["read_at"] = read_at
            found.append(build_motif(f"{conv.name}/filter_{f}", frequencies(counts[f]),
                                     sites[f], min_bits=min_bits, details=details))
            if sites[f] == 0:
                found[-1].details["unmatched"] = "never activated above 0"
            continue
        pfm = weight_pfms(conv)[f]
        details["saturation"] = saturation(pfm)
        if counts is not None and sites[f] > 0:
            observed = log_odds(frequencies(counts[f]))
            details["activation_correlation"] = float(
                np.corrcoef(log_odds(pfm).ravel(), observed.ravel())[0, 1])
        found.append(build_motif(f"{conv.name}/filter_{f}", pfm, 0 if sites is None else
                                 sites[f], min_bits=min_bits, details=details))
    attach_matches([m for m in found if "unmatched" not in m.details], db, n_matches,
                   min_peak_bits, min_total_bits, min_overlap, progress)
    settings = {"threshold": threshold, "n_matches": n_matches, "min_bits": min_bits,
                "min_peak_bits": min_peak_bits, "min_total_bits": min_total_bits,
                "min_overlap": min_overlap, "layer": conv.name,
                "n_sequences": 0 if x is None else len(x)}
    if method == "activation":
        settings["read_at"] = read_at
        if reason:
            settings["read_at_reason"] = reason
    return MotifSet(found, method, db.description, settings, model.describe())


def _read_at(model, conv, requested: str | None) -> tuple[str, str | None]:
    """The layer whose output filter motifs are read from, and why it is the convolution's own
    output when that was not asked for."""
    if requested is not None:
        if requested != conv.name and requested not in layers.names(model):
            raise InputError(f"read_at {requested!r}: no such layer; the filters' "
                             f"nonlinearity is {conv.activation or 'not found'!r}")
        return requested, None
    if conv.activation is None:
        return conv.name, (f"no elementwise nonlinearity layer follows {conv.name!r} through "
                           "per-channel layers only (a functional activation in forward() is "
                           "invisible); its raw output was thresholded")
    return conv.activation, None


def _conv_layer(model, layer: str | None):
    convs = model.require("filters", "motif extraction").conv_layers()
    if not convs:
        raise InputError(f"model {model.name!r} has no 1-D convolution reading the one-hot input")
    if layer is None:
        return convs[0]
    by_name = {c.name: c for c in convs}
    if layer not in by_name:
        raise InputError(f"layer {layer!r}: not a convolution reading the one-hot input; those "
                         f"are {', '.join(by_name)}")
    return by_name[layer]
