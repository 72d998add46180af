"""``marginalize`` and ``spacing``: in-silico experiments implanting motifs into backgrounds
(shuffles of the given sequences)."""
from __future__ import annotations

from pathlib import Path

from ..experiments import ORIENTATIONS, marginalize, spacing
from ..results import Marginalization, Spacing
from ..stages import spent, stage
from .base import (AMBIGUOUS_PARAM, BINS_PARAM, NO_PLOT, REDUCE_PARAM, TARGET_PARAM, Command,
                   CommandLine, Param, output_param)
from .kinds import COUNT, FASTA, INT, Integers, Motifs, Words

SHARED = (TARGET_PARAM, REDUCE_PARAM, BINS_PARAM, AMBIGUOUS_PARAM,
          Param("n_backgrounds", COUNT, "backgrounds (dinucleotide shuffles of the sequences)",
                limit="max_samples"),
          Param("seed", INT, "seed of the backgrounds"),
          Param("genome", FASTA, "draw the backgrounds from this reference FASTA, each matched "
                                 "to the GC content of a sequence, instead of shuffling the "
                                 "sequences (a server's: its name)"),
          Param("release", help="JASPAR release of the motif IDs (default: the newest "
                                "pyjaspar ships)"))


def _run(session, args, command, summary) -> int:
    """Run the experiment on the sequences the arguments name, write its files, and print
    ``summary(result, target label, model name)`` with the compute time."""
    from ..cli.arguments import options, sequences, wrote
    from ..targets import target_label
    from ..writers.experiments import write_experiment

    with stage("reading"):
        seqs = sequences(args, session.info.input_length)
    with stage("compute"):
        result = session.run(command, seqs, **options(args, command))
    # The table, the settings and the plot together.
    with stage("writing"):
        written = write_experiment(result, Path(args.output), plot=not args.no_plot)
    print(f"{summary(result, target_label(result.target), session.info.name)} in "
          f"{spent('compute'):.1f} s")
    wrote(written)
    return 0


def main_marginalize(session, args) -> int:
    def summary(result, label, name):
        best = result.table().sort_values("effect", ascending=False).iloc[0]
        return (f"marginalized {len(result.motifs)} motif(s) over {result.background.size} "
                f"backgrounds of {name!r}, target {label}: largest change {best['effect']:+.4g} ± "
                f"{best['sem']:.2g} ({best['motif']})")
    return _run(session, args, MARGINALIZE, summary)


def main_spacing(session, args) -> int:
    def summary(result, label, name):
        table = result.table()
        best = table.iloc[table["cooperativity"].abs().idxmax()]
        return (f"spaced {result.motifs[0]} and {result.motifs[1]} at "
                f"{len(result.distances)} distances x {len(result.orientations)} orientations "
                f"over {result.background.size} backgrounds of {name!r}, target {label}: "
                f"strongest "
                f"cooperativity {best['cooperativity']:+.4g} at {int(best['distance'])} bp "
                f"({best['orientation']})")
    return _run(session, args, SPACING, summary)


MARGINALIZE = Command(
    "marginalize", marginalize, Marginalization,
    "implant each motif into the same backgrounds and record the change of the target",
    params=(Param("motifs", Motifs(), "JASPAR IDs, DNA sequences or MEME files, "
                                      "comma-separated", flags=("--motifs", "--motif"),
                  required=True),
            *SHARED,
            Param("position", INT, "where each motif starts (default: centred)")),
    what="a marginalization",
    cli=CommandLine(
        "marginalize", main_marginalize,
        "Marginalize: implant each motif (a JASPAR ID as its consensus, a DNA sequence, or "
        "every motif of a MEME file) into the same backgrounds, dinucleotide shuffles of the "
        "--sequences or --bed regions (or, with --genome, GC-matched windows of that FASTA), "
        "and record the change of the target with its spread "
        "(tangermeme's and gReLU's marginalization). Writes OUTDIR/marginalize.tsv (one row "
        "per motif: mean change, sd, sem), .json (settings) and .png.",
        params=(output_param("folder to write marginalize.tsv, .json and .png into", (),
                             folder=True), NO_PLOT)))

SPACING = Command(
    "spacing", spacing, Spacing,
    "implant two motifs at each distance and orientation, and each alone: the cooperativity "
    "curve",
    params=(Param("first", Motifs(single=True), "first motif (JASPAR ID, DNA or a MEME file "
                                                "of one motif)", required=True),
            Param("second", Motifs(single=True), "second motif, placed right of the first",
                  required=True),
            Param("distances", Integers("distances"), "centre-to-centre distances, "
                                                      "comma-separated (default: every one "
                                                      "that fits)"),
            Param("orientations", Words(ORIENTATIONS), "strands of the two motifs"),
            Param("anchor", INT, "where the first motif starts (default: centred a quarter "
                                 "into the input)"),
            *SHARED),
    what="a spacing experiment",
    cli=CommandLine(
        "spacing", main_spacing,
        "Spacing: implant --first and --second into the same backgrounds (dinucleotide "
        "shuffles of the --sequences or --bed regions) at each centre-to-centre distance and "
        "orientation, and each alone at the same places; the cooperativity f(both) - f(first) "
        "- f(second) + f(background) is 0 where they act independently (tangermeme's space, "
        "gReLU's marginalize_pattern_spacing). Writes OUTDIR/spacing.tsv (one row per "
        "orientation and distance), .json and .png.",
        params=(output_param("folder to write spacing.tsv, .json and .png into", (),
                             folder=True), NO_PLOT)))
