"""``kipoi-explain explain``: attribution maps for sequences or BED intervals, to HDF5 + PNG."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from ..errors import InputError
from .common import (add_input_arguments, add_model_arguments, add_sequence_arguments,
                     add_target_arguments, extra_inputs, open_model, parse_target, samples,
                     target_label)

FORMATS = ("hdf5", "modisco")


def add_parser(commands) -> None:
    from ..methods import METHODS
    from ..methods.tokens import TOKEN_METHODS

    p = commands.add_parser(
        "explain", help="attribution maps for sequences or BED intervals",
        description="Explain a model's predictions: writes an HDF5 file (scores, one-hot "
                    "inputs, predictions, intervals, settings, model fingerprint) and a PNG "
                    "of the attribution tracks with sequence logos. With --remote, a "
                    "kipoi-explain server computes them (same options, same files).")
    add_model_arguments(p)
    add_sequence_arguments(p)
    add_input_arguments(p)
    p.add_argument("--method", default="deepshap",
                   choices=list(dict.fromkeys([*METHODS, *TOKEN_METHODS])),
                   help="attribution method (default: deepshap; deletion for models of tokens)")
    add_target_arguments(p)
    p.add_argument("-o", "--output", required=True,
                   help="HDF5 file to write (--format hdf5), or a directory (--format modisco)")
    p.add_argument("--format", default="hdf5", choices=FORMATS,
                   help="hdf5 (default) or modisco: a directory with onehot.npz and "
                        "hypothetical.npz (N, 4, L) for TF-MoDISco-lite, plus the HDF5 and PNG")
    p.add_argument("--no-plot", action="store_true", help="do not write the PNG")
    p.add_argument("--plot-sequences", type=int, default=4,
                   help="sequences drawn in the PNG, highest target value first (default: 4)")
    p.add_argument("--reverse-complement", action="store_true",
                   help="average with the reverse-complement strand")
    method_opts = p.add_argument_group("method options (only those of --method apply)")
    method_opts.add_argument("--baseline", help="zeros, uniform or shuffle")
    method_opts.add_argument("--n-steps", type=int, help="integrated_gradients steps")
    method_opts.add_argument("--n-references", type=int,
                             help="shuffled references (deepshap, expected_gradients)")
    method_opts.add_argument("--n-samples", type=int, help="smoothgrad noisy samples")
    method_opts.add_argument("--noise", type=float, help="smoothgrad noise standard deviation")
    method_opts.add_argument("--seed", type=int, help="seed of shuffles and noise")
    method_opts.add_argument("--start", type=int, help="ism: first position to mutate")
    method_opts.add_argument("--end", type=int, help="ism: end (exclusive) of the window")
    method_opts.add_argument("--window", type=int, help="occlusion: bases per occluded window")
    method_opts.add_argument("--stride", type=int, help="occlusion: step between windows")
    method_opts.add_argument("--correct-gradients", action="store_true", default=None,
                             help="remove the per-position mean over bases from gradients")


def _method_options(args, tokens: bool) -> dict:
    from ..methods import method_options

    names = ("baseline", "n_steps", "n_references", "n_samples", "noise", "seed", "start", "end",
             "window", "stride", "correct_gradients")
    given = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    try:
        allowed = method_options(args.method, tokens)
    except KeyError:
        raise InputError(f"--method {args.method}: not a method for this model") from None
    misplaced = sorted(set(given) - set(allowed))
    if misplaced:
        flags = ", ".join("--" + name.replace("_", "-") for name in misplaced)
        raise InputError(f"{flags} do(es) not apply to --method {args.method}")
    return given


def run(args: argparse.Namespace) -> int:
    from ..writers import plot_attribution, plot_scores, write_hdf5, write_modisco

    started = time.perf_counter()
    with open_model(args) as model:
        options = _method_options(args, getattr(model, "takes_tokens", False))
        result = model.explain(samples(args, model), args.method,
                               target=parse_target(args.target), bins=args.bins,
                               reduce=args.reduce, reverse_complement=args.reverse_complement,
                               inputs=extra_inputs(args), **options)
    out = Path(args.output)
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
                       if model.takes_dna else
                       plot_scores(result, png, max_sequences=args.plot_sequences,
                                   vocabulary=model.vocabulary,
                                   feature_names=model.feature_names))
    print(f"explained {len(result)} {'sequences' if model.takes_dna else 'samples'} of "
          f"{model.name!r} with {args.method} "
          f"(target {target_label(result.target['names'])}) in "
          f"{time.perf_counter() - started:.1f} s")
    for path in written:
        print(f"  wrote {path}")
    return 0
