"""``explain``: attribution maps of a model's predictions, for sequences, BED intervals,
features or token ids."""
from __future__ import annotations

import time
from pathlib import Path

from ..errors import InputError
from ..methods import METHODS, explain, method_options
from ..methods.integrated_gradients import QUADRATURES
from ..methods.tokens import TOKEN_METHODS
from ..results import Attribution
from ..samples import TOKENS
from .base import (AMBIGUOUS_PARAM, BINS_PARAM, NO_PLOT, REDUCE_PARAM, REVERSE_COMPLEMENT_PARAM,
                   SAMPLE_KINDS, TARGET_PARAM, Command, CommandLine, Param, output_param)
from .kinds import COUNT, FLAG, FLOAT, INT, Text, WordOrArray

FORMATS = ("hdf5", "modisco")
OPTIONS = "method options (only those of --method apply)"

#: Every method's options, declared once: the flag, the kind, the help.
METHOD_PARAMS = (
    Param("baseline", WordOrArray(("zeros", "uniform", "shuffle", "mean", "pad")),
          "reference: zeros, uniform or shuffle (DNA); zeros or mean (features); pad or zeros "
          "(tokens); or a .npy array", group=OPTIONS),
    Param("n_steps", INT, "integrated_gradients steps", group=OPTIONS, work=True),
    Param("quadrature_rule", Text(QUADRATURES), "integrated_gradients quadrature",
          group=OPTIONS),
    Param("inputs_baseline", Text(("zeros",)),
          "integrated_gradients: also integrate the differentiable extra inputs, from zeros",
          group=OPTIONS),
    Param("n_references", INT, "shuffled references (deepshap, expected_gradients)",
          group=OPTIONS, work=True),
    Param("n_samples", INT, "smoothgrad noisy samples", group=OPTIONS, work=True),
    Param("noise", FLOAT, "smoothgrad noise standard deviation", group=OPTIONS),
    Param("seed", INT, "seed of shuffles and noise", group=OPTIONS),
    Param("start", INT, "ism: first position to mutate", group=OPTIONS),
    Param("end", INT, "ism: end (exclusive) of the window", group=OPTIONS),
    Param("fast", FLAG, "ism: recompute only what each substitution reaches (PyTorch)",
          cli=False),
    Param("window", INT, "occlusion: bases per occluded window", group=OPTIONS),
    Param("stride", INT, "occlusion: step between windows", group=OPTIONS),
    Param("absolute", FLAG, "saliency: the gradient's absolute value", group=OPTIONS),
    Param("correct_gradients", FLAG, "remove the per-position mean over bases from gradients",
          group=OPTIONS),
)


def main(session, args) -> int:
    from ..cli.arguments import extra_inputs, options, samples, target_label, wrote
    from ..writers import plot_attribution, plot_scores, write_hdf5, write_modisco

    info = session.info
    given = _method_options(args, info.input == TOKENS)
    out = Path(args.output)
    started = time.perf_counter()
    result = session.run(EXPLAIN, samples(args, info), inputs=extra_inputs(args),
                         **options(args, EXPLAIN, exclude=METHOD_PARAMS), **given)
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
        written.append(plot_attribution(result, png, max_sequences=args.plot_sequences)
                       if info.takes_dna else
                       plot_scores(result, png, max_sequences=args.plot_sequences,
                                   vocabulary=info.vocabulary, feature_names=info.feature_names))
    print(f"explained {len(result)} {'sequences' if info.takes_dna else 'samples'} of "
          f"{info.name!r} with {result.method} "
          f"(target {target_label(result.target['names'])}) in "
          f"{time.perf_counter() - started:.1f} s")
    wrote(written)
    return 0


def _method_options(args, tokens: bool) -> dict:
    """The method options given on the command line, each one the chosen method takes."""
    given = {p.name: getattr(args, p.name) for p in METHOD_PARAMS
             if p.cli and getattr(args, p.name) is not None}
    method = args.method or EXPLAIN.defaults()["method"]
    try:
        allowed = method_options(method, tokens)
    except KeyError:
        raise InputError(f"--method {method}: not a method for this model") from None
    misplaced = sorted(set(given) - set(allowed))
    if misplaced:
        flags = ", ".join("--" + name.replace("_", "-") for name in misplaced)
        raise InputError(f"{flags} do(es) not apply to --method {method}")
    return given


EXPLAIN = Command(
    "explain", explain, Attribution, "attribution maps for sequences or BED intervals",
    params=(Param("method", Text(tuple(dict.fromkeys([*METHODS, *TOKEN_METHODS]))),
                  "attribution method (deletion: for models of tokens)"),
            TARGET_PARAM, REDUCE_PARAM, BINS_PARAM, REVERSE_COMPLEMENT_PARAM,
            AMBIGUOUS_PARAM, *METHOD_PARAMS),
    accepts=SAMPLE_KINDS, extra_inputs=True,
    cli=CommandLine(
        "explain", main,
        "Explain a model's predictions: writes an HDF5 file (scores, one-hot inputs, "
        "predictions, intervals, settings, model fingerprint) and a PNG of the attribution "
        "tracks with sequence logos. With --remote, a kipoi-explain server computes them "
        "(same options, same files).",
        samples="inputs",
        params=(output_param("HDF5 file to write (--format hdf5), or a directory (--format "
                           "modisco)"),
                Param("format", Text(FORMATS),
                      "hdf5 or modisco: a directory with onehot.npz and hypothetical.npz "
                      "(N, 4, L) for TF-MoDISco-lite, plus the HDF5 and PNG", default="hdf5"),
                NO_PLOT, Param("plot_sequences", COUNT, "sequences drawn in the PNG, highest "
                                                      "target value first", default=4))))
