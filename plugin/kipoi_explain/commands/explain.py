"""``explain``: attribution maps of a model's predictions, for sequences, BED intervals,
features or token ids."""
from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..methods import METHODS, explain
from ..methods.tokens import TOKEN_METHODS
from ..results import Attribution
from ..samples import TOKENS
from ..stages import spent, stage
from .base import (AMBIGUOUS_PARAM, BINS_PARAM, NO_PLOT, REDUCE_PARAM, REVERSE_COMPLEMENT_PARAM,
                   SAMPLE_INDEX_PARAM, SAMPLE_KINDS, TARGET_PARAM, Command, CommandLine, Param,
                   output_param)
from .kinds import COUNT, FLAG, Text
from .method_params import METHOD_PARAMS, method_options_given
from .tracks import TRACKS

FORMATS = ("hdf5", "modisco")


def main(session, args) -> int:
    from ..cli.arguments import extra_inputs, options, samples, wrote
    from ..targets import target_label
    from ..writers import plot_attribution, plot_scores, write_hdf5, write_modisco

    info = session.info
    given = method_options_given(args, info.input == TOKENS)
    out = Path(args.output)
    if args.format != "modisco" and out.is_dir():
        raise InputError(f"--output {args.output!r}: is a folder; --format hdf5 writes a file")
    if args.mark_seqlets and (args.no_plot or not info.takes_dna):
        raise InputError("--mark-seqlets: marks the seqlets on the PNG of a model of DNA; not "
                         + ("with --no-plot" if args.no_plot else f"for {info.name!r}, whose "
                            "input is no DNA"))
    with stage("reading"):
        seqs = samples(args, info)
    with stage("compute"):
        result = session.run(EXPLAIN, seqs, inputs=extra_inputs(args),
                             **options(args, EXPLAIN, exclude=METHOD_PARAMS), **given)
    with stage("writing"):
        if args.format == "modisco":
            written = list(write_modisco(result, out))
            h5 = out / "attribution.h5"
        else:
            out.parent.mkdir(parents=True, exist_ok=True)
            written, h5 = [], out
        write_hdf5(result, h5)
        written.insert(0, h5)
    if not args.no_plot:
        png = h5.with_suffix(".png")
        marks = None
        if args.mark_seqlets:
            from ..motif.seqlets import seqlets

            # Called (and matched) as motifs does: a stage of its own, not the plot's time.
            with stage("seqlets"):
                marks = seqlets(result, progress=not args.no_progress)
        with stage("plotting", min(args.plot_sequences, len(result)),
                   "sequence" if info.takes_dna else "sample") as advance:
            written.append(plot_attribution(result, png, max_sequences=args.plot_sequences,
                                            marks=marks, progress=advance)
                           if info.takes_dna else
                           plot_scores(result, png, max_sequences=args.plot_sequences,
                                       vocabulary=info.vocabulary,
                                       feature_names=info.feature_names, progress=advance))
    print(f"explained {len(result)} {'sequences' if info.takes_dna else 'samples'} of "
          f"{info.name!r} with {result.method} "
          f"(target {target_label(result.target)}) in {spent('compute'):.1f} s")
    wrote(written)
    return 0


EXPLAIN = Command(
    "explain", explain, Attribution, "attribution maps for sequences or BED intervals",
    params=(Param("method", Text(tuple(dict.fromkeys([*METHODS, *TOKEN_METHODS]))),
                  "attribution method (deletion: for models of tokens)"),
            TARGET_PARAM, REDUCE_PARAM, BINS_PARAM, REVERSE_COMPLEMENT_PARAM,
            AMBIGUOUS_PARAM, *METHOD_PARAMS, SAMPLE_INDEX_PARAM),
    accepts=SAMPLE_KINDS, extra_inputs=True,
    cli=(CommandLine(
        "explain", main,
        "Explain a model's predictions: writes an HDF5 file (scores, one-hot inputs, "
        "predictions, intervals, settings, model fingerprint) and a PNG of the attribution "
        "tracks with sequence logos. With --remote, a kipoi-explain server computes them "
        "(same options, same files).",
        samples="inputs", job=True,
        params=(output_param("HDF5 file to write (--format hdf5), or a directory (--format "
                             "modisco)", folder=None),
                Param("format", Text(FORMATS),
                      "hdf5 or modisco: a directory with onehot.npz and hypothetical.npz "
                      "(N, 4, L) for TF-MoDISco-lite, plus the HDF5 and PNG", default="hdf5"),
                NO_PLOT, Param("plot_sequences", COUNT, "sequences drawn in the PNG, highest "
                                                      "target value first", default=4),
                Param("mark_seqlets", FLAG, "shade the seqlets called on all the sequences "
                                            "(kx.seqlets, JASPAR) on the PNG's logos, labelled "
                                            "with their best match; off by default: it loads "
                                            "JASPAR and compiles the seqlet caller, 10-35 s",
                      default=False))),
         TRACKS))
