"""``score_variants`` (``score-vcf``): variant effects, and attributions, for every ALT of a
VCF."""
from __future__ import annotations

import contextlib
from collections import Counter
from pathlib import Path

from ..errors import InputError
from ..methods import METHODS
from ..results import VariantEffect
from ..stages import spent, stage
from ..variants import MERGES, score_variants
from .base import (BINS_PARAM, REVERSE_COMPLEMENT_PARAM, SAMPLE_INDEX_PARAM, Command,
                   CommandLine, Param, output_param)
from .method_params import METHOD_PARAMS
from .kinds import COUNT, FASTA, INT, TARGET, ContigMap, Database, Int, Output, Text


def main(session, args) -> int:
    from ..cli.arguments import options, wrote
    from ..targets import resolve_target
    from ..variants.alleles import is_plain_gzip
    from ..writers.variant_hdf5 import VariantAttributionWriter
    from ..writers.variant_table import VariantTableWriter
    from ..writers.vcf import VariantVCFWriter

    if args.attributions and not args.method:
        raise InputError("--attributions needs --method, the attribution method to run")
    if args.remote and args.motifs is not None and args.motifs.lower() != "jaspar":
        raise InputError(f"--motifs {args.motifs!r}: a server scans its own JASPAR release "
                         "only; give --motifs jaspar, or run without --remote")
    fasta = _fasta(args)
    info = session.info
    target = SCORE_VARIANTS.defaults()["target"] if args.target is None else args.target
    outputs = resolve_target(target, info.output_names, tuple(info.output_shape),
                             bins=args.bins, heads=tuple(info.heads)).names
    with contextlib.ExitStack() as stack:
        # Locally the effects are computed as they are read, a chunk of alleles at a time (a
        # job computes its shards here); the record bar moves as each chunk's records are
        # written, the engine's rows and the setup stages (database, calibration) under it.
        with stage("compute"):
            effects = session.run(SCORE_VARIANTS, args.vcf, fasta=fasta,
                                  **options(args, SCORE_VARIANTS, exclude=("fasta",)))
        statuses, records = Counter(), set()
        with stage("writing"):
            Path(args.output).parent.mkdir(parents=True, exist_ok=True)
            vcf_writer = stack.enter_context(VariantVCFWriter(
                args.output, args.vcf, outputs, args.method, args.motifs is not None,
                args.null or 0))
            n_records = vcf_writer.n_records
            writers = [vcf_writer]
            if args.tsv:
                writers.append(stack.enter_context(VariantTableWriter(args.tsv, outputs,
                                                                      bool(args.null))))
            if args.attributions:
                writers.append(stack.enter_context(VariantAttributionWriter(
                    args.attributions, info.input_length, args.method, session.describe())))
        with stage("compute", n_records, "record") as advance:
            for effect in effects:
                with stage("writing"):
                    for writer in writers:
                        writer.write(effect)
                statuses[effect.status] += 1
                if effect.record_index not in records:
                    records.add(effect.record_index)
                    advance()
        if len(records) != n_records:
            # Raised inside the writers' block: no output file is left without these records.
            raise InputError(f"{n_records - len(records)} of {n_records} records of "
                             f"{args.vcf!r} were not accounted for; no output written")
        with stage("writing"):
            # Sorting, compressing and indexing the outputs, as the writers close.
            stack.close()
    alleles = sum(statuses.values())
    # The output has one record per ALT: say so, or a split multi-allelic record reads as a
    # record lost or gained (7 records in, 8 lines out).
    print(f"{n_records} VCF records read, {len(records)} written as {alleles} alleles, one "
          f"output record per ALT ({', '.join(f'{n} {s}' for s, n in statuses.most_common())})"
          f" in {spent('compute'):.1f} s")
    if not vcf_writer.sorted_input:
        print(f"  note: {args.vcf} is not sorted; the output was sorted in memory")
    if is_plain_gzip(args.vcf):
        print(f"  note: {args.vcf} is gzip, not bgzip: it was read through a decompressed "
              "temporary copy (bgzip it to skip that)")
    if vcf_writer.dropped:
        print("  note: INFO values left out of records (named in their KX_DROPPED): " +
              ", ".join(f"{key} in {n}" for key, n in vcf_writer.dropped.most_common()))
    wrote(path for path in (args.output, vcf_writer.index, args.tsv, args.attributions)
          if path)
    return 0


def _fasta(args) -> str:
    """The reference genome: a local FASTA path, or with --remote the name of the server's."""
    if args.remote:
        if args.fasta:
            raise InputError("--fasta names a FASTA file here; with --remote the server cuts "
                             "the windows from its own FASTA: give --remote-fasta NAME")
        if not args.remote_fasta:
            raise InputError("--remote needs --remote-fasta NAME, the server's reference "
                             "genome to cut variant windows from")
        return args.remote_fasta
    if args.remote_fasta:
        raise InputError("--remote-fasta applies only with --remote; give --fasta FILE")
    if not args.fasta:
        raise InputError("--fasta FILE is required: the reference genome")
    return args.fasta


SCORE_VARIANTS = Command(
    "score_variants", score_variants, VariantEffect, "score VCF variants, with attribution maps",
    params=(Param("fasta", FASTA, "reference genome FASTA (required without --remote)"),
            Param("method", Text(tuple(METHODS)), "attribution method"),
            Param("target", TARGET, "outputs to score: index, name, comma-separated list or "
                                    "'all'"),
            BINS_PARAM,
            Param("chunk_size", COUNT, "alleles per chunk", limit="max_sequences"),
            REVERSE_COMPLEMENT_PARAM,
            Param("merge", Text(MERGES), "strand merge with --reverse-complement"),
            Param("contig_map", ContigMap(), "'auto' (add or drop a chr prefix) or a two-column "
                                             "file VCF_NAME FASTA_NAME (read here, also with "
                                             "--remote)"),
            Param("radius", INT, "attribution change is summed over positions within this "
                                 "distance of the variant"),
            Param("motifs", Database(), "report the motif most disrupted or created: 'jaspar' "
                                        "(pyjaspar's newest release, CORE vertebrates) or a MEME "
                                        "file (not with --remote: a server scans its own JASPAR "
                                        "release)", metavar="DATABASE"),
            Param("null", Int(minimum=0), "also score N matched background SNVs (drawn over "
                                          "the FASTA, once) and report each allele's "
                                          "empirical p-value and percentile of |alt - ref| per "
                                          "output (INFO KX_PVAL, KX_PCTL); 0: none",
                  limit="max_samples", metavar="N"),
            Param("null_seed", INT, "seed of the background SNVs"),
            *METHOD_PARAMS, SAMPLE_INDEX_PARAM),
    samples="stream",
    cli=CommandLine(
        "score-vcf", main,
        "Score every ALT allele of a VCF: predictions for reference and alternative windows "
        "centred on the variant (SNVs, MNVs, insertions, deletions), Kipoi-veff scores per "
        "output, and with --method attribution maps. Every record is written out, with "
        "KX_STATUS saying why an allele was not scored. With --remote, the VCF is read here "
        "and streamed to the server, which cuts the windows from its own FASTA "
        "(--remote-fasta); the scored records stream back into the same output files.",
        samples="none", job=True,
        params=(Param("vcf", required=True, help="input VCF (.vcf or bgzipped .vcf.gz)"),
                output_param("output VCF, sorted, bgzipped (.vcf.gz) and indexed (.tbi, or .csi "
                             "past 2^29)", (".vcf.gz",)),
                Param("attributions", Output((".h5", ".hdf5")),
                      help="HDF5 file for the attribution windows (needs "
                                           "--method)"),
                Param("tsv", Output((".tsv",)), help="TSV summary, one row per output record"),
                Param("remote_fasta", metavar="NAME", group="remote server",
                      help="with --remote (instead of --fasta): the server's reference genome, "
                           "by the name the server gives it"))))
