"""``kipoi-explain screen``: perturb a sliding window (or implant an element) along sequences,
to TSV and a PNG track of the target's change."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from ..errors import InputError
from .common import (add_input_arguments, target_label, add_model_arguments, add_sequence_arguments,
                     add_target_arguments, extra_inputs, open_model, parse_target, sequences)

#: Window options and their defaults; they do not apply with --insert.
WINDOW_DEFAULTS = {"window": 50, "perturbation": "shuffle", "n_shuffles": 1}


def add_parser(commands) -> None:
    from ..screens import INSERTION_MODES, WINDOW_PERTURBATIONS

    p = commands.add_parser(
        "screen", help="in-silico screen: perturb a sliding window, or implant a sequence, and "
                       "record the change of the target",
        description="Slide a window of --window bases with --stride across each sequence (or "
                    "the region --start..--end) and shuffle (dinucleotide), randomise, mask "
                    "(N) or delete it (the rest shifts left; with --bed the genome's next "
                    "bases fill the end, else N; with --remote, --server-fasta NAME has the "
                    "server read --bed from its FASTA NAME and fill from it), recording the change of the target "
                    "(C.Origami's in-silico genetic screen, Orca-style perturbation). With "
                    "--insert SEQ, implant SEQ at each position instead (--mode replace "
                    "substitutes the bases, insert shifts them right). Writes a TSV (one row "
                    "per sequence x window; genome coordinates with --bed), a JSON of the "
                    "settings and a PNG track of the effect along the first sequences.")
    add_model_arguments(p)
    add_sequence_arguments(p)
    p.add_argument("--server-fasta", metavar="NAME",
                   help="with --remote and --bed: the server reads the intervals from its own "
                        "FASTA NAME (and fills deleted windows from it) instead of --fasta")
    p.add_argument("-o", "--output", required=True,
                   help="TSV to write; the settings (.json) and the PNG (.png) go beside it")
    add_target_arguments(p)
    window = p.add_argument_group("window screen (without --insert)")
    window.add_argument("--window", type=int,
                        help=f"bases per window (default {WINDOW_DEFAULTS['window']})")
    window.add_argument("--stride", type=int,
                        help="bases between window starts (default: the window; with --insert "
                             "1, the spacing of the positions)")
    window.add_argument("--perturbation", choices=WINDOW_PERTURBATIONS,
                        help=f"what happens to the window (default "
                             f"{WINDOW_DEFAULTS['perturbation']})")
    window.add_argument("--n-shuffles", type=int,
                        help="random draws per window, averaged (shuffle, random; default 1)")
    window.add_argument("--seed", type=int, default=0, help="seed of the draws (default 0)")
    window.add_argument("--start", type=int, default=0, help="first base of the region screened")
    window.add_argument("--end", type=int, help="end of the region screened (default: the "
                                                "sequence's end)")
    insert = p.add_argument_group("insertion screen")
    insert.add_argument("--insert", metavar="SEQ", help="DNA sequence to implant")
    insert.add_argument("--mode", choices=INSERTION_MODES, default="replace",
                        help="replace the bases (default) or insert, shifting them right")
    insert.add_argument("--positions", help="comma-separated 0-based positions to implant at "
                                            "(default: every --stride-th)")
    add_input_arguments(p, samples=False)
    p.add_argument("--no-plot", action="store_true", help="do not write the PNG")
    p.add_argument("--plot-sequences", type=int, default=4,
                   help="sequences drawn in the PNG, the first ones (default: 4)")


def _positions(text: str | None):
    if text is None:
        return None
    items = [t.strip() for t in text.split(",")]
    if not all(t.isdigit() for t in items):
        raise InputError(f"--positions {text!r}: expected comma-separated 0-based positions")
    return [int(t) for t in items]


def _sequences(args, model):
    """The sequences to screen: read here, or by the server from its FASTA ``--server-fasta``."""
    if args.server_fasta is None:
        return sequences(args, model.input_length)
    from ..client import GenomeIntervals

    if not args.remote or not args.bed:
        raise InputError("--server-fasta: names a FASTA of the --remote server to read --bed "
                         "intervals from; give it with --remote and --bed")
    if args.fasta:
        raise InputError("--server-fasta and --fasta: the intervals are read from one FASTA; "
                         "give one")
    return GenomeIntervals(args.server_fasta, args.bed, args.use_strand)


def _compute(args, model, seqs):
    """The screen on ``model``, a LocalModel or RemoteModel (which set the batch size and the
    progress bar themselves)."""
    common = {"target": parse_target(args.target), "ambiguous": args.ambiguous,
              "inputs": extra_inputs(args), "bins": args.bins, "reduce": args.reduce}
    if args.insert is not None:
        given = [f"--{name.replace('_', '-')}" for name in WINDOW_DEFAULTS
                 if getattr(args, name) is not None]
        if args.end is not None or args.start != 0:
            given.append("--start/--end")
        if given:
            raise InputError(f"{', '.join(given)}: window options, not used with --insert")
        return model.insertion(seqs, args.insert, positions=_positions(args.positions),
                               stride=1 if args.stride is None else args.stride, mode=args.mode,
                               **common)
    if args.positions is not None:
        raise InputError("--positions: applies with --insert only")
    options = {name: default if getattr(args, name) is None else getattr(args, name)
               for name, default in WINDOW_DEFAULTS.items()}
    genome = None
    if args.bed and options["perturbation"] == "delete":
        genome = args.server_fasta or args.fasta
    return model.screen(seqs, stride=args.stride, start=args.start, end=args.end,
                        seed=args.seed, genome=genome, **options, **common)


def run(args: argparse.Namespace) -> int:
    from ..writers import plot_screen, write_screen_metadata, write_screen_table

    out = Path(args.output)
    if out.suffix != ".tsv":
        raise InputError(f"--output {args.output!r}: expected a .tsv path")
    if args.plot_sequences < 1:
        raise InputError(f"--plot-sequences {args.plot_sequences}: expected at least 1")
    started = time.perf_counter()
    with open_model(args) as model:
        result = _compute(args, model, _sequences(args, model))
    out.parent.mkdir(parents=True, exist_ok=True)
    written = [write_screen_table(result, out),
               write_screen_metadata(result, out.with_suffix(".json"))]
    if not args.no_plot:
        written.append(plot_screen(result, out.with_suffix(".png"),
                                   max_sequences=args.plot_sequences))
    print(f"screened {len(result)} sequences x {len(result.starts)} windows "
          f"({result.perturbation}) of {model.name!r}, target "
          f"{target_label(result.target['names'])}: effects "
          f"{result.effects.min():+.4g} to {result.effects.max():+.4g} in "
          f"{time.perf_counter() - started:.1f} s")
    for path in written:
        print(f"  wrote {path}")
    return 0
