"""``evaluate``: explanation methods benchmarked on one model, with and without ground truth."""
from __future__ import annotations

from pathlib import Path

from ..evaluation import evaluate
from ..evaluation.evaluate import GROUPS
from ..methods import METHODS
from ..results import Evaluation
from ..stages import spent, stage
from .base import TARGET_PARAM, Command, CommandLine, Param, output_param
from .kinds import COUNT, FLAG, INT, Integers, LocalOnly, Words

SIMULATION = "simulated ground truth"


def main(session, args) -> int:
    from ..cli.arguments import options, sequences, wrote
    from ..writers.evaluation import write_evaluation

    with stage("reading"):
        seqs = None if args.simulated else sequences(args, session.info.input_length)
    with stage("compute"):
        result = session.run(EVALUATE, seqs, **options(args, EVALUATE))
    # The reports and their plots together.
    with stage("writing"):
        written = write_evaluation(result, Path(args.output))
    print(f"evaluated {len(result.settings['methods'])} method(s) on "
          f"{result.settings['n_sequences']} sequences of {session.info.name!r} "
          f"({spent('compute'):.1f} s): {result.verdict['text']}")
    wrote(written[:1] + written[-2:])
    print(f"  wrote {len(written) - 3} plots in {Path(args.output) / 'plots'}")
    return 0


EVALUATE = Command(
    "evaluate", evaluate, Evaluation,
    "benchmark explanation methods on this model: against planted or known sites, and "
    "without ground truth",
    params=(Param("methods", Words(tuple(METHODS)), "methods compared, comma-separated"),
            Param("target", TARGET_PARAM.kind, "output explained: index or name"),
            Param("simulated", FLAG, "explain simulated sequences with planted JASPAR motifs "
                                     "and score them against the planted positions",
                  flags=("--simulate",), group=SIMULATION),
            Param("n", COUNT, "simulated sequences (half of them positives)",
                  group=SIMULATION, limit="max_samples"),
            Param("length", INT, "simulated sequence length (default: the model's)",
                  group=SIMULATION),
            Param("positive", Words(what="JASPAR IDs"), "motifs planted in positives",
                  group=SIMULATION),
            Param("negative", Words(what="JASPAR IDs"), "motifs planted, with the positive "
                                                     "ones, in negatives", group=SIMULATION),
            Param("n_motifs", Integers("counts"), "fewest and most motifs per sequence, "
                                                  "e.g. 3,7", group=SIMULATION),
            Param("sites", LocalOnly("BED of known sites"),
                  "BED of known sites in the coordinates of the sequences (genome for --bed, "
                  "record names for --sequences): the ground truth", metavar="BED"),
            Param("groups", Words(GROUPS), "groups of metrics measured, comma-separated"),
            Param("uncorrected_only", FLAG, "run gradient methods without gradient correction "
                                            "only"),
            Param("n_references", COUNT, "references of deepshap and expected_gradients",
                  limit="max_samples"),
            Param("n_steps", COUNT, "steps of integrated_gradients", limit="max_samples"),
            Param("n_boot", COUNT, "bootstrap resamples of each interval"),
            Param("seed", INT, "seed of the simulation, references and bootstrap")),
    samples="optional", exclusive=True,
    cli=CommandLine(
        "evaluate", main,
        "Benchmark explanation methods on MODEL: with --simulate, on sequences with planted "
        "JASPAR motifs (Koo & Ploenzke 2021, task 3) scored against the planted positions; "
        "with --sites, against known sites of the --bed/--sequences inputs. Writes "
        "OUTDIR/report.json (schema: kipoi_explain/evaluation/schema.json), report.md, "
        "report.html and plots/, and prints the verdict.",
        params=(output_param("folder to write report.json, report.md, report.html and plots/ "
                             "into", folder=True),)))
