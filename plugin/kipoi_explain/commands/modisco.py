"""``modisco``: TF-MoDISco patterns of the model's attributions (modisco-lite), matched to
JASPAR."""
from __future__ import annotations

from pathlib import Path

from ..methods import METHODS
from ..motif.modisco import modisco
from ..results import ModiscoResult
from ..stages import spent, stage
from .base import (AMBIGUOUS_PARAM, BINS_PARAM, REDUCE_PARAM, TARGET_PARAM, Command,
                   CommandLine, Param, output_param)
from .kinds import COUNT, FLOAT, INT, Text
from .motifs import DATABASE, DATABASE_PARAMS, MAX_Q_PARAM

MODISCO_GROUP = "TF-MoDISco (modisco-lite; defaults of its 'modisco motifs')"


def main(session, args) -> int:
    from ..cli.arguments import motif_database, options, sequences, wrote
    from ..targets import target_label
    from ..writers import write_modisco_results

    database = motif_database(args, MODISCO)
    with stage("reading"):
        seqs = sequences(args, session.info.input_length)
    # Clustering (modisco-lite) and matching are stages of their own, within the compute.
    with stage("compute"):
        result = session.run(MODISCO, seqs, **options(args, MODISCO))
    # The report, the tables and the logos together.
    with stage("writing"):
        written = write_modisco_results(result, Path(args.output), database, args.max_q)
    matched = [m for m in result.patterns if m.best is not None and
               m.best.q_value <= args.max_q]
    seqlets = sum(m.n_sites for m in result.patterns)
    print(f"{len(result)} TF-MoDISco patterns ({seqlets} seqlets) in "
          f"{result.settings['n_sequences']} sequences of {session.info.name!r} "
          f"({result.method}, target {target_label(result.target)}); "
          f"{len(matched)} match {database.description.get('release', 'the database')} at "
          f"q <= {args.max_q} ({spent('compute'):.1f} s)")
    if not len(result):
        print("  no patterns: too few seqlets passed the threshold or none clustered; give "
              "more sequences (or a target they hold signal for)")
    for motif in matched:
        print(f"  {motif.name:<24} {motif.n_sites:>5} seqlets  {motif.best.id:<10} "
              f"{motif.best.name:<16} q={motif.best.q_value:.2g}")
    wrote(written)
    return 0


MODISCO = Command(
    "modisco", modisco, ModiscoResult,
    "TF-MoDISco patterns of the attributions (modisco-lite), matched to JASPAR",
    params=(Param("method", Text(tuple(METHODS)), "attribution method; it must give "
                                                  "hypothetical contributions (not ism)"),
            TARGET_PARAM, REDUCE_PARAM, BINS_PARAM,
            Param("max_seqlets", COUNT, "seqlets clustered per metacluster (positive, "
                                        "negative)", group=MODISCO_GROUP),
            Param("sliding_window_size", COUNT, "core of each seqlet, bp",
                  group=MODISCO_GROUP),
            Param("flank_size", INT, "flank added to each seqlet, bp", group=MODISCO_GROUP),
            Param("target_seqlet_fdr", FLOAT, "false discovery rate of the seqlet threshold",
                  group=MODISCO_GROUP),
            Param("trim_to_window_size", COUNT, "length patterns are trimmed to, bp",
                  group=MODISCO_GROUP),
            Param("initial_flank_to_add", INT, "flank added to each pattern before merging",
                  group=MODISCO_GROUP),
            Param("final_flank_to_add", INT, "flank added to each pattern at the end",
                  group=MODISCO_GROUP),
            Param("n_leiden_runs", COUNT, "Leiden clusterings (different seeds)",
                  group=MODISCO_GROUP),
            Param("trim_threshold", FLOAT, "a pattern is matched over the positions holding "
                                           "at least this fraction of its peak contribution",
                  group=DATABASE),
            *DATABASE_PARAMS,
            Param("n_matches", COUNT, "matches kept per pattern", group=DATABASE),
            Param("min_bits", FLOAT, "flanks with less information than this are not matched",
                  group=DATABASE),
            AMBIGUOUS_PARAM),
    exclusive=True, what="a TF-MoDISco run",
    cli=CommandLine(
        "modisco", main,
        "Explain the sequences (any method giving hypothetical contributions), run TF-MoDISco "
        "on the attributions with modisco-lite, and match each pattern to JASPAR (offline) or "
        "a MEME file with TomTom. Writes OUTDIR/modisco_results.h5 (modisco-lite's own file, "
        "for its tools and 'hits'), patterns.meme, patterns.tsv (one row per pattern), logos/ "
        "(CWM, and frequencies above the best match) and report.html (self-contained).",
        params=(output_param("output directory", folder=True), MAX_Q_PARAM)))
