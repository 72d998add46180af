"""Variant effects with attributions: VCF + reference FASTA in, one scored result per ALT out.

:func:`score_variants` streams: records are read, windowed, predicted and (optionally)
explained in chunks, so memory does not grow with the VCF.
"""
from __future__ import annotations

from itertools import islice

import numpy as np

from ..errors import InputError
from ..methods import explain
from ..motif.database import load_database
from ..prepare import prepare
from ..results import VariantEffect
from ..samples import DNA
from ..sequences import one_hot, reverse_complement
from ..sequences.genome import open_fasta
from ..stages import stage
from .alleles import OK, STATUSES, Allele, contig_mapping, read_alleles
from .motif_change import MotifScanner
from .null import NullDistribution, null_windows
from .windows import reference_span, variant_window

MERGES = ("mean", "absmax")

__all__ = ["MERGES", "OK", "STATUSES", "score_variants"]


def score_variants(model, vcf, fasta, method: str | None = None, target="all", bins=None,
                   chunk_size: int = 256, reverse_complement: bool = False,
                   merge: str = "mean", contig_map=None, radius: int = 10, motifs=None,
                   null: int = 0, null_seed: int = 0, batch_size: int | None = None,
                   progress: bool = False, sample_index: int = 0, **options):
    """Score every ALT allele of a VCF with the model, optionally with attribution maps.

    Parameters
    ----------
    model : Model or anything :func:`~kipoi_explain.load_model` accepts
    vcf : str, Path or iterable of records
        VCF or bgzipped VCF, or records with ``chrom``, ``pos``, ``id``, ``ref``, ``alts``.
    fasta : str or Path
        Reference genome FASTA.
    method : str, optional
        Attribution method (see :func:`~kipoi_explain.explain`) for ref and alt windows.
    target : int, str, list or "all"
        Outputs to score (each gets its own scores); attributions explain their sum. For a
        model of several outputs, an output's name (``"counts"``) or ``"output:task"``.
    bins : tuple or dict, optional
        Window of bins of a binned output to score (see :mod:`kipoi_explain.targets`); each
        bin is scored apart, as each output is.
    chunk_size : int
        Alleles read, predicted and yielded together.
    reverse_complement : bool
        Also predict the reverse complement of both windows and merge the strands.
    merge : {"mean", "absmax"}
        Strand merge: average the predictions, or per output keep the strand whose
        ``|alt - ref|`` is larger (Kipoi-veff's ``absmax``).
    contig_map : None, "auto", dict or path
        How VCF contig names map to FASTA names; ``"auto"`` adds or drops a ``chr`` prefix.
    radius : int
        Attribution change is summed over positions within this distance of the variant.
    motifs : "jaspar", path or MotifDatabase, optional
        Also report the database motif with a site (p <= 1e-4) in either allele whose best PWM
        score over placements overlapping the variant changes most (``effect.motif``: id,
        name, ref and alt scores and their change in bits; negative = disrupted).
    null : int
        Also score this many background SNVs (:mod:`kipoi_explain.variants.null`: matched
        SNVs drawn over the FASTA, scored once before the first record) and report each
        allele's empirical p-value and percentile of ``|alt - ref|`` per output against them
        (``scores["pval"]``, ``scores["pctl"]``); 0: none.
    null_seed : int
        Seed of the background SNVs (the same seed gives the same null in every part of a
        job).
    sample_index : int
        Index of the first record in the whole VCF (for a part of it, e.g. a job's shard):
        records are numbered from it, and the random draws of an allele's attribution
        (shuffled references, noise) are seeded by its record's number, so they depend neither
        on ``chunk_size`` nor on the part a record is scored in.
    **options
        Options of the attribution method (``n_references``, ``n_steps``, ...).

    Yields
    ------
    VariantEffect
        One per ALT allele, in VCF order; alleles that cannot be scored carry their status.
    """
    if merge not in MERGES:
        raise InputError(f"merge={merge!r}: expected one of {', '.join(MERGES)}")
    if chunk_size < 1:
        raise InputError(f"chunk_size={chunk_size}: expected a positive integer")
    work = prepare(model, what="variant scoring", accepts=(DNA,), required=False,
                   target=target, bins=bins, batch_size=batch_size, progress=progress)
    model, spec, batch_size = work.model, work.target, work.batch_size
    if model.input_length is None:
        raise InputError(f"model {model.name!r} declares no input length to centre windows on")
    genome = open_fasta(fasta)
    mapping = contig_mapping(contig_map, genome.keys())
    scanner = None
    if motifs is not None:
        with stage("database", progress=progress):
            scanner = MotifScanner(load_database(motifs))
    calibration = None
    if null:
        with stage("calibration", progress=progress):
            ref, alt = null_windows(genome, model.input_length, null, null_seed)
            diff = _scores(model, ref, alt, spec, reverse_complement, merge, batch_size)["diff"]
            calibration = NullDistribution(np.sort(np.abs(diff), axis=0).T)
    alleles = read_alleles(vcf, genome, model.input_length, mapping, sample_index)
    while chunk := list(islice(alleles, chunk_size)):
        yield from _score_chunk(model, genome, chunk, spec, method, reverse_complement, merge,
                                radius, scanner, calibration, batch_size, progress, options)


def _score_chunk(model, genome, chunk: list[Allele], spec, method, rc: bool, merge: str,
                 radius: int, scanner, calibration, batch_size, progress, options):
    length = model.input_length
    ok = [a for a in chunk if a.status == OK]
    windows = [_window(genome, a, length) for a in ok]
    scores, attributions, motif_changes = {}, {}, []
    if ok:
        ref = one_hot([w.ref_seq for w in windows])
        alt = one_hot([w.alt_seq for w in windows])
        scores = _scores(model, ref, alt, spec, rc, merge, batch_size)
        if calibration is not None:
            scores["pval"] = calibration.pvalues(scores["diff"])
            scores["pctl"] = calibration.percentiles(scores["diff"])
        if method is not None:
            records = np.array([a.record_index for a in ok])
            attributions = _attributions(model, ref, alt, windows, records, spec, method,
                                         radius, batch_size, progress, options)
        if scanner is not None:
            ref_len = np.array([len(a.ref) for a in ok])
            alt_len = np.array([len(a.alt) for a in ok])
            with stage("matching", progress=progress):
                motif_changes = scanner.changes(ref, alt, length // 2 - ref_len // 2, ref_len,
                                                length // 2 - alt_len // 2, alt_len)
    by_allele = {id(a): i for i, a in enumerate(ok)}
    for allele in chunk:
        effect = VariantEffect(allele.chrom, allele.pos, allele.id, allele.ref, allele.alt,
                               allele.record_index, allele.alt_index, allele.status, spec.names,
                               record=allele.record, detail=allele.detail)
        i = by_allele.get(id(allele))
        if i is not None:
            effect.scores = {name: values[i] for name, values in scores.items()}
            effect.window_start, effect.alt_to_ref = windows[i].start, windows[i].alt_to_ref
            if attributions:
                effect.attribution = {name: values[i] for name, values in attributions.items()}
            if motif_changes:
                effect.motif = motif_changes[i]
        yield effect


def _window(genome, allele: Allele, length: int):
    lo, hi = reference_span(allele.pos, allele.ref, allele.alt, length)
    sequence = genome[allele.fasta_chrom][lo:hi]
    return variant_window(sequence, lo, allele.pos, allele.ref, allele.alt, length)


def _predict(model, ref, alt, spec, batch_size):
    out = model.predict(np.concatenate([ref, alt]), batch_size).reshape(2 * len(ref), -1)
    picked = out[:, list(spec.columns)]
    return picked[:len(ref)], picked[len(ref):]


def _scores(model, ref, alt, spec, rc: bool, merge: str, batch_size) -> dict:
    ref_pred, alt_pred = _predict(model, ref, alt, spec, batch_size)
    if rc:
        ref_rc, alt_rc = _predict(model, reverse_complement(ref), reverse_complement(alt), spec,
                                  batch_size)
        if merge == "mean":
            ref_pred, alt_pred = (ref_pred + ref_rc) / 2, (alt_pred + alt_rc) / 2
        else:
            backward = np.abs(alt_rc - ref_rc) > np.abs(alt_pred - ref_pred)
            ref_pred = np.where(backward, ref_rc, ref_pred)
            alt_pred = np.where(backward, alt_rc, alt_pred)
    return {"ref": ref_pred, "alt": alt_pred, "diff": alt_pred - ref_pred,
            "logit_diff": _logit(alt_pred) - _logit(ref_pred)}


def _logit(p: np.ndarray) -> np.ndarray:
    """log(p / (1 - p)), clipped away from 0 and 1; NaN for values that are not probabilities."""
    inside = (p >= 0) & (p <= 1)
    clipped = np.clip(p, 1e-7, 1 - 1e-7)
    return np.where(inside, np.log(clipped / (1 - clipped)), np.nan)


def _attributions(model, ref, alt, windows, records, spec, method, radius, batch_size,
                  progress, options) -> dict:
    # Both windows of an allele, and the alleles of one record, share their record's draws.
    kwargs = dict(target=spec, batch_size=batch_size, progress=progress,
                  sample_index=records, **options)
    ref_result = explain(model, ref, method, **kwargs)
    alt_result = explain(model, alt, method, **kwargs)
    n, length = ref.shape[:2]
    index = np.stack([w.ref_index() for w in windows])
    rows, columns = np.nonzero(index >= 0)
    aligned = np.zeros_like(alt_result.scores)
    aligned[rows, index[rows, columns]] = alt_result.scores[rows, columns]
    diff = aligned - ref_result.scores
    # The change in what each reference position contributes, positive where the ALT gains.
    aligned_importance = np.zeros((n, length))
    aligned_importance[rows, index[rows, columns]] = \
        alt_result.position_importance()[rows, columns]
    change = aligned_importance - ref_result.position_importance()
    centre = np.abs(np.arange(length) - length // 2) <= radius
    return {"ref": ref_result.scores, "alt": alt_result.scores, "diff": diff,
            "local": change[:, centre].sum(axis=1), "total": change.sum(axis=1)}
