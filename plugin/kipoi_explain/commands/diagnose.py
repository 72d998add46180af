"""``diagnose``: which explanations of this model can be trusted, measured."""
from __future__ import annotations

from pathlib import Path

from ..diagnostics import CHECKS, diagnose
from ..errors import InputError
from ..results import Diagnosis
from ..stages import spent, stage
from .base import BINS_PARAM, REDUCE_PARAM, TARGET_PARAM, Command, CommandLine, Param, output_param
from .kinds import COUNT, INT, MAPPING, MODEL, VALUES, Text, Words

FAIL_ON = {"never": (), "error": ("error",), "warning": ("warning", "error")}
COST = "constraint cost (both needed)"


def main(session, args) -> int:
    from ..cli.arguments import options, sequences, wrote
    from ..diagnostics.labels import read_labels
    from ..writers.diagnosis import write_json, write_summary

    if bool(args.free_model) != bool(args.labels):
        raise InputError("--free-model and --labels go together: the constraint cost compares "
                         "both models on labelled sequences")
    out = Path(args.output)
    with stage("reading"):
        seqs = sequences(args, session.info.input_length)
        # Labels are read here also with --remote, and sent as values.
        labels = read_labels(args.labels, seqs.names, session.info.output_names) \
            if args.labels else None
    with stage("compute"):
        result = session.run(DIAGNOSE, seqs, labels=labels,
                             **options(args, DIAGNOSE, exclude=("labels",)))
    # The summaries draw their plots as they are written.
    with stage("writing"):
        out.parent.mkdir(parents=True, exist_ok=True)
        written = [write_json(result, out), write_summary(result, out.with_suffix(".md")),
                   write_summary(result, out.with_suffix(".html"))]
    flagged = result.flagged()
    print(f"{len(result.settings['checks'])} checks on {len(seqs)} sequences: "
          f"{len(flagged)} flagged finding(s) ({spent('compute'):.1f} s)")
    for finding in flagged:
        print(f"  {finding.severity.upper():<7} {finding.check:<22} {finding.message}")
    if result.verdict.get("text"):
        print(f"verdict: {result.verdict['text']}")
    wrote(written)
    return 1 if any(f.severity in FAIL_ON[args.fail_on] for f in flagged) else 0


DIAGNOSE = Command(
    "diagnose", diagnose, Diagnosis, "measure where explanation methods mislead for this model",
    params=(Param("checks", Words(tuple(CHECKS)), f"comma-separated checks to run (default: "
                                                  f"all): {', '.join(CHECKS)}"),
            Param("target", TARGET_PARAM.kind, "output whose explanations are diagnosed: "
                                               "index, name, list or 'all'"),
            REDUCE_PARAM, BINS_PARAM,
            Param("n_attribution", COUNT, "sequences used by the checks that compute "
                                          "attributions", limit="max_samples"),
            Param("seed", INT, "seed of every random draw"),
            Param("free_model", MODEL, "unconstrained model to compare MODEL against (Kipoi "
                                       "directory or Keras file; with --remote, another model "
                                       "name of the server)", group=COST),
            Param("labels", VALUES, "TSV/CSV of true values: one column per output name, rows "
                                    "in sequence order or matched by a 'name' column",
                  group=COST),
            Param("options", MAPPING, "per check, its options", cli=False)),
    exclusive=True,
    cli=CommandLine(
        "diagnose", main,
        "Run the diagnostic checks (filter scaling, redundancy, gradient saturation, "
        "attention conditioning, constraint cost, randomization sanity, method agreement) "
        "and write the findings as JSON plus a Markdown and an HTML summary with plots.",
        params=(output_param("report JSON; the summaries are written beside it (.md with a "
                             "<stem>_plots/ folder, and .html)", (".json",)),
                Param("fail_on", Text(tuple(FAIL_ON)), "exit with status 1 when a finding of "
                                                       "this severity or worse is made",
                      default="never"))))
