"""``kipoi-explain score-vcf``: variant effects (and attributions) for every ALT of a VCF."""
from __future__ import annotations

import argparse
import contextlib
import time
from collections import Counter
from pathlib import Path

from ..errors import InputError
from .common import add_model_arguments, open_model, parse_target


def add_parser(commands) -> None:
    from ..methods import METHODS
    from ..variants import MERGES

    p = commands.add_parser(
        "score-vcf", help="score VCF variants, with attribution maps",
        description="Score every ALT allele of a VCF: predictions for reference and alternative "
                    "windows centred on the variant (SNVs, MNVs, insertions, deletions), "
                    "Kipoi-veff scores per output, and with --method attribution maps. Every "
                    "record is written out, with KX_STATUS saying why an allele was not scored. "
                    "With --remote, the VCF is read here and streamed to the server, which "
                    "cuts the windows from its own FASTA (--remote-fasta); the scored records "
                    "stream back into the same output files.")
    remote = add_model_arguments(p)
    remote.add_argument("--remote-fasta", metavar="NAME",
                        help="with --remote (instead of --fasta): the server's reference "
                             "genome, by the name the server gives it")
    p.add_argument("--vcf", required=True, help="input VCF (.vcf or bgzipped .vcf.gz)")
    p.add_argument("--fasta", help="reference genome FASTA (required without --remote)")
    p.add_argument("-o", "--output", required=True, help="output VCF, bgzipped (.vcf.gz)")
    p.add_argument("--attributions", help="HDF5 file for the attribution windows (needs --method)")
    p.add_argument("--tsv", help="TSV summary, one row per output record")
    p.add_argument("--method", choices=list(METHODS), help="attribution method")
    p.add_argument("--target", default="all",
                   help="outputs to score: index, name, comma-separated list or 'all' (default)")
    p.add_argument("--reverse-complement", action="store_true",
                   help="also predict the reverse complement and merge the strands")
    p.add_argument("--merge", default="mean", choices=MERGES,
                   help="strand merge with --reverse-complement (default: mean)")
    p.add_argument("--contig-map", help="'auto' (add or drop a chr prefix) or a two-column file "
                                        "VCF_NAME FASTA_NAME (read here, also with --remote)")
    p.add_argument("--chunk-size", type=int, default=256, help="alleles per chunk")
    p.add_argument("--n-references", type=int, help="references for deepshap")
    p.add_argument("--motifs", metavar="DATABASE",
                   help="report the motif most disrupted or created: 'jaspar' (pyjaspar's "
                        "newest release, CORE vertebrates) or a MEME file (not with --remote: a "
                        "server scans its own JASPAR release)")


def run(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from ..writers.variant_hdf5 import VariantAttributionWriter
    from ..writers.variant_table import VariantTableWriter
    from ..writers.vcf import VariantVCFWriter

    if args.attributions and not args.method:
        raise InputError("--attributions needs --method, the attribution method to run")
    if not str(args.output).endswith(".vcf.gz"):
        raise InputError(f"-o {args.output}: the output is bgzipped; name it *.vcf.gz")
    fasta = _fasta(args)
    started = time.perf_counter()
    options = {} if args.n_references is None else {"n_references": args.n_references}
    with contextlib.ExitStack() as stack:
        model = stack.enter_context(open_model(args))
        effects = model.score_variants(args.vcf, fasta, args.method, parse_target(args.target),
                                       chunk_size=args.chunk_size,
                                       reverse_complement=args.reverse_complement,
                                       merge=args.merge, contig_map=args.contig_map,
                                       motifs=args.motifs, **options)
        statuses, records = Counter(), set()
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        outputs = model.target_names(parse_target(args.target))
        vcf_writer = stack.enter_context(VariantVCFWriter(args.output, args.vcf, outputs,
                                                          args.method, args.motifs is not None))
        n_records = vcf_writer.n_records
        writers = [vcf_writer]
        if args.tsv:
            writers.append(stack.enter_context(VariantTableWriter(args.tsv, outputs)))
        if args.attributions:
            writers.append(stack.enter_context(VariantAttributionWriter(
                args.attributions, model.input_length, args.method, model.describe())))
        bar = stack.enter_context(tqdm(total=n_records, unit="record", leave=False,
                                       disable=args.no_progress, dynamic_ncols=True))
        for effect in effects:
            for writer in writers:
                writer.write(effect)
            statuses[effect.status] += 1
            if effect.record_index not in records:
                records.add(effect.record_index)
                bar.update(1)
    alleles = sum(statuses.values())
    print(f"{n_records} records in, {len(records)} records out as {alleles} alleles "
          f"({', '.join(f'{n} {s}' for s, n in statuses.most_common())}) in "
          f"{time.perf_counter() - started:.1f} s")
    if len(records) != n_records:
        raise InputError(f"{n_records - len(records)} records were not accounted for")
    for path in (args.output, args.tsv, args.attributions):
        if path:
            print(f"  wrote {path}")
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
