"""``motifs``: first-layer filters (and seqlets) as PWMs matched to JASPAR."""
from __future__ import annotations

from pathlib import Path

from ..methods import METHODS
from ..motif import METHODS as MOTIF_METHODS
from ..motif import motifs
from ..results import MotifSet
from ..stages import spent, stage
from .base import AMBIGUOUS_PARAM, Command, CommandLine, Param, output_param
from .explain import EXPLAIN
from .kinds import COUNT, FLOAT, TARGET, Database, Text

DATABASE = "motif database"
#: The motif database a command matches against, as ``motifs`` and ``modisco`` declare it.
DATABASE_PARAMS = (
    Param("database", Database(), "'jaspar' or a MEME-format motif file (not with --remote: a "
                                  "server matches against JASPAR only)", group=DATABASE),
    Param("release", help="JASPAR release shipped with pyjaspar (default: newest)",
          group=DATABASE),
    Param("collection", help="JASPAR collection", group=DATABASE),
    Param("tax_group", help="JASPAR taxonomic group", group=DATABASE))
#: A sub-command's significance cut for the matches it reports and draws.
MAX_Q_PARAM = Param("max_q", FLOAT, "q-value under which a match counts as significant",
                    group=DATABASE, default=0.05)


def main(session, args) -> int:
    from ..cli.arguments import motif_database, options, sequences, wrote
    from ..writers import plot_attribution, write_logos, write_meme, write_motif_table

    database = motif_database(args, MOTIFS)
    with stage("reading"):
        seqs = sequences(args, session.info.input_length,
                         required=args.method in (None, "activation") or args.seqlets is not None)
    # The filters' matching to the database is a stage of its own, within the compute.
    with stage("compute"):
        found = session.run(MOTIFS, seqs, **options(args, MOTIFS))
        attribution = session.run(EXPLAIN, seqs, method=args.seqlets, target=args.target) \
            if args.seqlets else None
    all_motifs = list(found.motifs)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    if attribution is not None:
        from ..motif.seqlets import seqlets

        with stage("seqlets"):
            called = seqlets(attribution, database=database, max_q=args.max_q,
                             progress=not args.no_progress)
        all_motifs += called.groups
    with stage("writing"):
        if attribution is not None:
            called.table.to_csv(out / "seqlets.tsv", sep="\t", index=False,
                                float_format="%.4g")
            written.append(out / "seqlets.tsv")
        written += [write_meme(all_motifs, out / "motifs.meme", max_q=args.max_q),
                    write_motif_table(all_motifs, out / "matches.tsv")]
    with stage("plotting", len(all_motifs), "logo") as advance:
        logos = write_logos(all_motifs, out / "logos", database, args.max_q, progress=advance)
        if attribution is not None:
            # The seqlets on the attribution tracks: drawing them costs well under a second.
            written.append(plot_attribution(attribution, out / "seqlets.png", marks=called))
    significant = [m for m in all_motifs if m.best is not None and m.best.q_value <= args.max_q]
    # Filters and seqlet groups are counted apart: a match of one says nothing of the other.
    matched = sum(1 for m in all_motifs[:len(found)] if m.best is not None and
                  m.best.q_value <= args.max_q)
    groups = len(all_motifs) - len(found)
    seqlet_part = f" and {len(significant) - matched} of {groups} seqlet groups" \
        if args.seqlets else ""
    read = f"activations at {found.settings['read_at']!r}" if "read_at" in found.settings \
        else found.method
    gated = sum(1 for m in found if "unmatched" in m.details)
    print(f"{matched} of {len(found)} filters of {found.settings['layer']!r} (read by {read}; "
          f"{gated} too uninformative to match){seqlet_part} match "
          f"{database.description.get('release', 'the database')} at q <= {args.max_q} "
          f"({spent('compute'):.1f} s)")
    if "read_at_reason" in found.settings:
        print(f"  note: {found.settings['read_at_reason']}")
    for motif in significant:
        print(f"  {motif.name:<28} {motif.best.id:<10} {motif.best.name:<16} "
              f"q={motif.best.q_value:.2g}")
    wrote(written)
    print(f"  wrote {len(logos)} logos in {out / 'logos'}")
    return 0


MOTIFS = Command(
    "motifs", motifs, MotifSet, "filters and seqlets as PWMs matched to JASPAR, with logos",
    params=(Param("layer", help="convolution reading the one-hot input (default: the first)"),
            Param("method", Text(MOTIF_METHODS),
                  "activation: align windows that activate each filter; weights: softmax of "
                  "the kernel"),
            Param("threshold", FLOAT, "fraction of a filter's maximum activation a site must "
                                      "exceed"),
            Param("read_at", help="layer whose activations are thresholded (default: the "
                                  "first nonlinearity after the filters, batch norm included)",
                  metavar="LAYER"),
            *DATABASE_PARAMS,
            Param("n_matches", COUNT, "matches kept per motif", group=DATABASE),
            Param("min_bits", FLOAT, "flanks with less information than this are trimmed off "
                                     "the core that is matched", group=DATABASE),
            Param("min_peak_bits", FLOAT, "a core whose best position holds fewer bits is not "
                                          "matched", group=DATABASE),
            Param("min_total_bits", FLOAT, "a core holding fewer bits in all is not matched",
                  group=DATABASE),
            Param("min_overlap", COUNT, "columns an alignment must share with a database motif",
                  group=DATABASE),
            AMBIGUOUS_PARAM),
    samples="optional", exclusive=True,
    cli=CommandLine(
        "motifs", main,
        "Read each first-layer convolution filter as a motif, match it to JASPAR (offline, "
        "via pyjaspar) or a MEME file with TomTom, and write motifs.meme, matches.tsv and "
        "logos/. With --seqlets, also call high-attribution seqlets, annotate and group them "
        "by their best match, and draw seqlets.png: the attribution tracks of the sequences "
        "with the highest target, seqlets marked.",
        params=(output_param("output directory", folder=True), MAX_Q_PARAM,
                Param("seqlets", Text(tuple(METHODS)), "also call seqlets from attributions "
                      "of this method (e.g. deepshap)", group="seqlets", metavar="METHOD"),
                Param("target", TARGET, "output explained for seqlets: index, name, list or "
                                        "'all'", group="seqlets", default="all"))))
