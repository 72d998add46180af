"""``kipoi-explain score-vcf``: variant effects (and attributions) for every ALT of a VCF."""
from __future__ import annotations

import argparse
import contextlib
import time
from collections import Counter
from pathlib import Path

from ..errors import InputError
from .common import add_model_arguments, load, parse_target


def add_parser(commands) -> None:
    from ..methods import METHODS
    from ..variants import MERGES

    p = commands.add_parser(
        "score-vcf", help="score VCF variants, with attribution maps",
        description="Score every ALT allele of a VCF: predictions for reference and alternative "
                    "windows centred on the variant (SNVs, MNVs, insertions, deletions), "
                    "Kipoi-veff scores per output, and with --method attribution maps. Every "
                    "record is written out, with KX_STATUS saying why an allele was not scored.")
    add_model_arguments(p)
    p.add_argument("--vcf", required=True, help="input VCF (.vcf or bgzipped .vcf.gz)")
    p.add_argument("--fasta", required=True, help="reference genome FASTA")
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
                                        "VCF_NAME FASTA_NAME")
    p.add_argument("--chunk-size", type=int, default=256, help="alleles per chunk")
    p.add_argument("--n-references", type=int, help="references for deepshap")
    p.add_argument("--motifs", metavar="DATABASE",
                   help="report the motif most disrupted or created: 'jaspar' (pyjaspar's "
                        "newest release, CORE vertebrates) or a MEME file")


def run(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from ..variants import score_variants
    from ..writers.variant_hdf5 import VariantAttributionWriter
    from ..writers.variant_table import VariantTableWriter
    from ..writers.vcf import VariantVCFWriter

    if args.attributions and not args.method:
        raise InputError("--attributions needs --method, the attribution method to run")
    if not str(args.output).endswith(".vcf.gz"):
        raise InputError(f"-o {args.output}: the output is bgzipped; name it *.vcf.gz")
    started = time.perf_counter()
    model = load(args)
    options = {} if args.n_references is None else {"n_references": args.n_references}
    effects = score_variants(model, args.vcf, args.fasta, args.method,
                             parse_target(args.target), args.chunk_size,
                             args.reverse_complement, args.merge, args.contig_map,
                             motifs=args.motifs, batch_size=args.batch_size, **options)
    statuses, records = Counter(), set()
    with contextlib.ExitStack() as stack:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        outputs = model.target(parse_target(args.target)).names
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
