"""``screen`` and ``insertion``: perturb a sliding window along sequences, or implant an
element at each position, and record the change of the target."""
from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..results import Screen
from ..screens import INSERTION_MODES, WINDOW_PERTURBATIONS, insertion, screen
from ..sequences.genome import GenomeIntervals
from ..stages import spent, stage
from .base import (AMBIGUOUS_PARAM, BINS_PARAM, NO_PLOT, REDUCE_PARAM, SAMPLE_INDEX_PARAM,
                   TARGET_PARAM, Command, CommandLine, Param, output_param)
from .kinds import COUNT, FASTA, INT, Integers, Text

WINDOW = "window screen (without --insert)"
INSERT = "insertion screen"
#: Options of a window screen that an insertion screen does not take.
WINDOW_ONLY = ("window", "perturbation", "n_shuffles", "seed", "start", "end")


def main(session, args) -> int:
    from ..cli.arguments import extra_inputs, options, wrote
    from ..targets import target_label
    from ..writers import plot_screen, write_screen_metadata, write_screen_table

    out = Path(args.output)
    common = {"inputs": extra_inputs(args), **options(args, SCREEN, exclude=WINDOW_ONLY)}
    with stage("reading"):
        seqs = _sequences(session, args)
    if args.insert is not None:
        given = [f"--{name.replace('_', '-')}" for name in WINDOW_ONLY[:3]
                 if getattr(args, name) is not None]
        if args.end is not None or args.start is not None:
            given.append("--start/--end")
        if given:
            raise InputError(f"{', '.join(given)}: window options, not used with --insert")
        with stage("compute"):
            result = session.run(INSERTION, seqs, sequence=args.insert,
                                 positions=args.positions, mode=args.mode, **common)
    else:
        if args.positions is not None:
            raise InputError("--positions: applies with --insert only")
        with stage("compute"):
            result = session.run(SCREEN, seqs, genome=_genome(args), **common,
                                 **{name: getattr(args, name) for name in WINDOW_ONLY
                                    if getattr(args, name) is not None})
    with stage("writing"):
        out.parent.mkdir(parents=True, exist_ok=True)
        written = [write_screen_table(result, out),
                   write_screen_metadata(result, out.with_suffix(".json"))]
    if not args.no_plot:
        with stage("plotting"):
            written.append(plot_screen(result, out.with_suffix(".png"),
                                       max_sequences=args.plot_sequences))
    print(f"screened {len(result)} sequences x {len(result.starts)} windows "
          f"({result.perturbation}) of {session.info.name!r}, target "
          f"{target_label(result.target)}: effects "
          f"{result.effects.min():+.4g} to {result.effects.max():+.4g} in "
          f"{spent('compute'):.1f} s")
    wrote(written)
    return 0


def _sequences(session, args):
    """The sequences to screen: read here, or by the server from its FASTA ``--server-fasta``."""
    from ..cli.arguments import sequences

    if args.server_fasta is None:
        return sequences(args, session.info.input_length)
    if not args.remote or not args.bed:
        raise InputError("--server-fasta: names a FASTA of the --remote server to read --bed "
                         "intervals from; give it with --remote and --bed")
    if args.fasta:
        raise InputError("--server-fasta and --fasta: the intervals are read from one FASTA; "
                         "give one")
    return GenomeIntervals(args.server_fasta, args.bed, args.use_strand)


def _genome(args) -> str | None:
    """The FASTA whose bases fill deleted windows of --bed intervals: the one they were read
    from (on a server, only its own)."""
    if not args.bed or args.perturbation != "delete":
        return None
    if args.remote and args.server_fasta is None:
        raise InputError("--perturbation delete of --bed intervals: a server fills deleted "
                         "windows only from its own FASTA files, not from the local --fasta; "
                         "give --server-fasta NAME instead of --fasta (the server reads the "
                         "intervals there), give --sequences (filled with N), or run without "
                         "--remote")
    return args.server_fasta or args.fasta


SHARED = (TARGET_PARAM, REDUCE_PARAM, BINS_PARAM, AMBIGUOUS_PARAM)

SCREEN = Command(
    "screen", screen, Screen, "in-silico screen: perturb a sliding window, or implant a "
                              "sequence, and record the change of the target",
    params=(*SHARED,
            Param("window", INT, "bases per window", group=WINDOW),
            Param("stride", INT, "bases between window starts (default: the window; with "
                                 "--insert 1, the spacing of the positions)", group=WINDOW),
            Param("perturbation", Text(WINDOW_PERTURBATIONS), "what happens to the window",
                  group=WINDOW),
            Param("n_shuffles", COUNT, "random draws per window, averaged (shuffle, random)",
                  group=WINDOW, limit="max_samples"),
            Param("seed", INT, "seed of the draws", group=WINDOW),
            Param("start", INT, "first base of the region screened", group=WINDOW),
            Param("end", INT, "end of the region screened (default: the sequence's end)",
                  group=WINDOW),
            Param("genome", FASTA, "FASTA whose bases fill the end of a deleted window (a "
                                   "server's: its name)", cli=False),
            SAMPLE_INDEX_PARAM),
    extra_inputs=True, too_large="ask for fewer sequences or windows", what="a window screen",
    cli=CommandLine(
        "screen", main,
        "Slide a window of --window bases with --stride across each sequence (or the region "
        "--start..--end) and shuffle (dinucleotide), randomise, mask (N) or delete it (the "
        "rest shifts left; with --bed the genome's next bases fill the end, else N; with "
        "--remote, --server-fasta NAME has the server read --bed from its FASTA NAME and fill "
        "from it), recording the change of the target (C.Origami's in-silico genetic screen, "
        "Orca-style perturbation). With --insert SEQ, implant SEQ at each position instead "
        "(--mode replace substitutes the bases, insert shifts them right). Writes a TSV (one "
        "row per sequence x window; genome coordinates with --bed), a JSON of the settings "
        "and a PNG track of the effect along the first sequences.",
        job=True,
        params=(output_param("TSV to write; the settings (.json) and the PNG (.png) go beside it",
                             (".tsv",)),
                Param("server_fasta", metavar="NAME",
                      help="with --remote and --bed: the server reads the intervals from its "
                           "own FASTA NAME (and fills deleted windows from it) instead of "
                           "--fasta"),
                Param("insert", metavar="SEQ", group=INSERT, help="DNA sequence to implant"),
                Param("mode", Text(INSERTION_MODES), "replace the bases, or insert, shifting "
                                                     "them right", group=INSERT,
                      default="replace"),
                Param("positions", Integers("0-based positions"), "comma-separated 0-based "
                      "positions to implant at (default: every --stride-th)", group=INSERT),
                NO_PLOT, Param("plot_sequences", COUNT, "sequences drawn in the PNG, the first "
                                                      "ones", default=4))))

INSERTION = Command(
    "insertion", insertion, Screen, "implant an element at each position and record the "
                                    "change of the target",
    params=(*SHARED,
            Param("sequence", help="the DNA element to implant"),
            Param("positions", Integers("0-based positions"), "where the element starts"),
            Param("stride", INT, "bases between default positions"),
            Param("mode", Text(INSERTION_MODES), "replace the bases, or insert shifting them")),
    extra_inputs=True, too_large="ask for fewer sequences or positions",
    what="an insertion screen")
