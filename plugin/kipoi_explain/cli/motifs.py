"""``kipoi-explain motifs``: first-layer filters (and seqlets) as PWMs matched to JASPAR."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from .common import (add_model_arguments, add_sequence_arguments, open_model, parse_target,
                     sequences)


def add_parser(commands) -> None:
    from ..methods import METHODS
    from ..motif import METHODS as MOTIF_METHODS

    p = commands.add_parser(
        "motifs", help="filters and seqlets as PWMs matched to JASPAR, with logos",
        description="Read each first-layer convolution filter as a motif, match it to JASPAR "
                    "(offline, via pyjaspar) or a MEME file with TomTom, and write motifs.meme, "
                    "matches.tsv and logos/. With --seqlets, also call high-attribution "
                    "seqlets, annotate and group them by their best match.")
    add_model_arguments(p)
    add_sequence_arguments(p)
    p.add_argument("-o", "--output", required=True, help="output directory")
    p.add_argument("--method", default="activation", choices=MOTIF_METHODS,
                   help="activation: align windows that activate each filter (default); "
                        "weights: softmax of the kernel")
    p.add_argument("--layer", help="convolution reading the one-hot input (default: the first)")
    p.add_argument("--threshold", type=float, default=0.5,
                   help="fraction of a filter's maximum activation a site must exceed")
    db = p.add_argument_group("motif database")
    db.add_argument("--database", default="jaspar",
                    help="'jaspar' (default) or a MEME-format motif file (not with --remote: "
                         "a server matches against JASPAR only)")
    db.add_argument("--release", help="JASPAR release shipped with pyjaspar (default: newest)")
    db.add_argument("--collection", default="CORE", help="JASPAR collection (default: CORE)")
    db.add_argument("--tax-group", default="vertebrates",
                    help="JASPAR taxonomic group (default: vertebrates)")
    db.add_argument("--n-matches", type=int, default=5, help="matches kept per motif")
    db.add_argument("--max-q", type=float, default=0.05,
                    help="q-value under which a match counts as significant")
    seq = p.add_argument_group("seqlets")
    seq.add_argument("--seqlets", choices=list(METHODS), metavar="METHOD",
                     help="also call seqlets from attributions of this method (e.g. deepshap)")
    seq.add_argument("--target", default="all",
                     help="output explained for seqlets: index, name, list or 'all' (default)")


def run(args: argparse.Namespace) -> int:
    from ..motif.database import load_database
    from ..writers import write_logos, write_meme, write_motif_table

    started = time.perf_counter()
    with open_model(args) as model:
        # Loaded here also with --remote: the logos draw its matrices, seqlets match against it,
        # and the server is asked for the same JASPAR release.
        database = load_database(args.database, args.release, args.collection, args.tax_group)
        seqs = sequences(args, model.input_length, required=args.method == "activation" or
                         args.seqlets is not None)
        found = model.motifs(seqs, database, layer=args.layer, method=args.method,
                             threshold=args.threshold, n_matches=args.n_matches)
        attribution = model.explain(seqs, args.seqlets, target=parse_target(args.target)) \
            if args.seqlets else None
    all_motifs = list(found.motifs)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    if attribution is not None:
        from ..motif.seqlets import seqlets

        called = seqlets(attribution, database=database, max_q=args.max_q)
        all_motifs += called.groups
        called.table.to_csv(out / "seqlets.tsv", sep="\t", index=False, float_format="%.4g")
        written.append(out / "seqlets.tsv")
    written += [write_meme(all_motifs, out / "motifs.meme", max_q=args.max_q),
                write_motif_table(all_motifs, out / "matches.tsv")]
    logos = write_logos(all_motifs, out / "logos", database, args.max_q)
    significant = [m for m in all_motifs if m.best is not None and m.best.q_value <= args.max_q]
    print(f"{len(found)} filters of {found.settings['layer']!r} read by {args.method}"
          f"{f', {len(all_motifs) - len(found)} seqlet groups' if args.seqlets else ''}; "
          f"{len(significant)} match {database.description.get('release', 'the database')} "
          f"at q <= {args.max_q} ({time.perf_counter() - started:.1f} s)")
    for motif in significant:
        print(f"  {motif.name:<28} {motif.best.id:<10} {motif.best.name:<16} "
              f"q={motif.best.q_value:.2g}")
    for path in written:
        print(f"  wrote {path}")
    print(f"  wrote {len(logos)} logos in {out / 'logos'}")
    return 0
