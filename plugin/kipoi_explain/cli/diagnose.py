"""``kipoi-explain diagnose``: which explanations of this model can be trusted, measured."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from ..errors import InputError
from .common import (add_model_arguments, add_sequence_arguments, open_model, parse_target,
                     sequences)

FAIL_ON = {"never": (), "error": ("error",), "warning": ("warning", "error")}


def add_parser(commands) -> None:
    from ..diagnostics import CHECKS

    p = commands.add_parser(
        "diagnose", help="measure where explanation methods mislead for this model",
        description="Run the diagnostic checks (filter scaling, redundancy, gradient "
                    "saturation, attention conditioning, constraint cost, randomization sanity, "
                    "method agreement) and write the findings as JSON plus a Markdown and an "
                    "HTML summary with plots.")
    add_model_arguments(p)
    add_sequence_arguments(p)
    p.add_argument("-o", "--output", required=True,
                   help="report JSON; the summaries are written beside it (.md with a "
                        "<stem>_plots/ folder, and .html)")
    p.add_argument("--checks", default=",".join(CHECKS),
                   help=f"comma-separated checks to run (default: all): {', '.join(CHECKS)}")
    p.add_argument("--target", default="0",
                   help="output whose explanations are diagnosed: index, name, list or 'all'")
    p.add_argument("--n-attribution", type=int, default=32,
                   help="sequences used by the checks that compute attributions (default 32)")
    p.add_argument("--seed", type=int, default=0, help="seed of every random draw")
    cost = p.add_argument_group("constraint cost (both needed)")
    cost.add_argument("--free-model", help="unconstrained model to compare MODEL against "
                                           "(Kipoi directory or Keras file; with --remote, "
                                           "another model name of the server)")
    cost.add_argument("--labels", help="TSV/CSV of true values: one column per output name, "
                                       "rows in sequence order or matched by a 'name' column")
    p.add_argument("--fail-on", default="never", choices=list(FAIL_ON),
                   help="exit with status 1 when a finding of this severity or worse is made")


def run(args: argparse.Namespace) -> int:
    from ..diagnostics.labels import read_labels
    from ..writers.diagnosis import write_json, write_summary

    if bool(args.free_model) != bool(args.labels):
        raise InputError("--free-model and --labels go together: the constraint cost compares "
                         "both models on labelled sequences")
    output = Path(args.output)
    if output.suffix != ".json":
        raise InputError(f"--output {args.output!r}: expected a .json path")
    started = time.perf_counter()
    with open_model(args) as model:
        seqs = sequences(args, model.input_length)
        # Labels are read here also with --remote, and sent as values.
        labels = read_labels(args.labels, seqs.names, model.output_names) \
            if args.labels else None
        result = model.diagnose(seqs, [c.strip() for c in args.checks.split(",") if c.strip()],
                                parse_target(args.target), free_model=args.free_model,
                                labels=labels, n_attribution=args.n_attribution,
                                seed=args.seed)
    output.parent.mkdir(parents=True, exist_ok=True)
    written = [write_json(result, output), write_summary(result, output.with_suffix(".md")),
               write_summary(result, output.with_suffix(".html"))]
    flagged = result.flagged()
    print(f"{len(result.settings['checks'])} checks on {len(seqs)} sequences: "
          f"{len(flagged)} flagged finding(s) ({time.perf_counter() - started:.1f} s)")
    for finding in flagged:
        print(f"  {finding.severity.upper():<7} {finding.check:<22} {finding.message}")
    for path in written:
        print(f"  wrote {path}")
    return 1 if any(f.severity in FAIL_ON[args.fail_on] for f in flagged) else 0
