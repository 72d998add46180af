"""``predict``: the model's outputs for sequences, BED intervals, features or token ids."""
from __future__ import annotations

from pathlib import Path

from ..predictions import HDF5, TABLE, predict
from ..results import Prediction
from ..stages import spent, stage
from .base import AMBIGUOUS_PARAM, SAMPLE_KINDS, Command, CommandLine, output_param


def main(session, args) -> int:
    from ..cli.arguments import extra_inputs, options, samples, wrote
    from ..writers.prediction import write_prediction

    out = Path(args.output)
    with stage("reading"):
        given = samples(args, session.info)
    with stage("compute"):
        result = session.run(PREDICT, given, inputs=extra_inputs(args),
                             **options(args, PREDICT))
    with stage("writing"):
        out.parent.mkdir(parents=True, exist_ok=True)
        write_prediction(result, out)
    print(f"predicted {len(result)} samples of {session.info.name!r} "
          f"({len(result.output_names)} outputs) in {spent('compute'):.1f} s")
    wrote([out])
    return 0


PREDICT = Command(
    "predict", predict, Prediction, "the model's predictions",
    params=(AMBIGUOUS_PARAM,), accepts=SAMPLE_KINDS, extra_inputs=True,
    cli=CommandLine(
        "predict", main,
        "Predict: writes the model's outputs for each sample, as a TSV (one column per "
        "output, with the samples' names and genome intervals) or an HDF5 file (any output "
        "shape). With --remote, a kipoi-explain server computes them.",
        samples="inputs",
        params=(output_param("TSV (.tsv) or HDF5 (.h5) file to write", (TABLE, HDF5)),)))
