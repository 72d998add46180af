"""``kipoi-explain entities``: rank the genes, pathways or SNPs of a transparent model, to TSV."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from ..errors import InputError
from .common import add_model_arguments, open_model, parse_target

#: Words ``--baseline`` and ``--fill`` take besides a number or a .npy file.
KEYWORDS = {"baseline": ("zeros", "mean", "zero_input"), "fill": ("zeros", "mean")}


def add_parser(commands) -> None:
    from ..methods.integrated_gradients import QUADRATURES
    from ..transparent import METHODS

    p = commands.add_parser(
        "entities", help="rank the named entities (genes, pathways, SNPs) of a transparent model",
        description="Rank the entities of one level of a transparent (GenNet/DCell/P-NET-style) "
                    "model by their importance for its prediction: integrated gradients at the "
                    "level's layer, gradient x activation, or ablation of each entity's unit. "
                    "The model names its units in an entities.yaml next to its model.yaml (or "
                    "give --mapping). Writes the ranking TSV, a JSON of the settings beside it, "
                    "a PNG bar chart of the top entities and, with --per-sample, the scores of "
                    "every sample. With --remote, a kipoi-explain server computes them.")
    add_model_arguments(p)
    p.add_argument("--input", required=True,
                   help="samples: a TSV/CSV table (first column the sample names, header the "
                        "input entities' names) or a .npy array (N, *input shape); for a model "
                        "of DNA, a FASTA of sequences of its input length")
    p.add_argument("--level", required=True,
                   help="entity level of the mapping to rank (e.g. snp, gene, pathway)")
    p.add_argument("--method", default="integrated_gradients", choices=list(METHODS),
                   help="integrated_gradients (default; with a completeness delta), "
                        "grad_x_activation, or ablation")
    p.add_argument("--target", default="0",
                   help="output index or name, a comma-separated list (summed), or 'all' "
                        "(default: 0)")
    p.add_argument("--mapping", help="entities.yaml naming the model's units (default: the one "
                                     "next to the model's model.yaml; not with --remote)")
    p.add_argument("-o", "--output", required=True,
                   help="ranking TSV; the settings (.json), the bar chart (.png) and with "
                        "--per-sample the scores per sample (.samples.tsv) go beside it")
    p.add_argument("--per-sample", action="store_true",
                   help="also write the scores of every sample (samples x entities)")
    p.add_argument("--no-plot", action="store_true", help="do not write the PNG")
    p.add_argument("--plot-entities", type=int, default=20,
                   help="entities drawn in the PNG, most important first (default: 20)")
    method_opts = p.add_argument_group("method options (only those of --method apply)")
    method_opts.add_argument("--baseline",
                             help="integrated_gradients: zeros (default), mean (each unit's "
                                  "mean over the samples), zero_input (the activations of an "
                                  "all-zero input), a number, or a .npy array of one sample's "
                                  "units")
    method_opts.add_argument("--n-steps", type=int, help="integrated_gradients steps (default "
                                                         "50)")
    method_opts.add_argument("--quadrature-rule", choices=QUADRATURES,
                             help="integrated_gradients quadrature (default gausslegendre)")
    method_opts.add_argument("--fill",
                             help="ablation: value an ablated unit takes: zeros (default), "
                                  "mean, a number, or a .npy array of one value per unit")


def _value(args, name: str):
    """``--baseline``/``--fill``: a keyword, a number, or an array from a .npy file."""
    import numpy as np

    text = getattr(args, name)
    flag = "--" + name.replace("_", "-")
    if text in KEYWORDS[name]:
        return text
    if text.endswith(".npy"):
        if not Path(text).is_file():
            raise InputError(f"{flag} {text!r}: no such file")
        return np.load(text)
    try:
        return float(text)
    except ValueError:
        raise InputError(f"{flag} {text!r}: expected {', '.join(KEYWORDS[name])}, a number or "
                         "a .npy file") from None


def _method_options(args) -> dict:
    from ..transparent import method_options

    names = ("baseline", "n_steps", "quadrature_rule", "fill")
    given = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    misplaced = sorted(set(given) - set(method_options(args.method)))
    if misplaced:
        flags = ", ".join("--" + name.replace("_", "-") for name in misplaced)
        raise InputError(f"{flags} do(es) not apply to --method {args.method}")
    for name in ("baseline", "fill"):
        if name in given:
            given[name] = _value(args, name)
    return given


def _samples(args, model):
    """The ``--input`` of a model of features (its path, read by the model) or of DNA (its
    sequences)."""
    from ..sequences import FASTA_SUFFIXES, as_sequences

    path = Path(args.input)
    if not path.is_file():
        raise InputError(f"--input {args.input!r}: no such file")
    is_fasta = path.name.endswith(FASTA_SUFFIXES)
    if model.takes_dna:
        if not is_fasta:
            raise InputError(f"--input {args.input!r}: model {model.name!r} reads DNA; give a "
                             f"FASTA ({', '.join(FASTA_SUFFIXES)}) of sequences of its input "
                             "length")
        return as_sequences(path, model.input_length)
    if is_fasta:
        raise InputError(f"--input {args.input!r}: model {model.name!r} reads features, not "
                         "DNA; give a TSV/CSV table or a .npy array")
    return str(path)


def run(args: argparse.Namespace) -> int:
    from ..writers import (plot_entities, write_entity_metadata, write_entity_scores,
                           write_entity_table)

    out = Path(args.output)
    if out.suffix != ".tsv":
        raise InputError(f"--output {args.output!r}: expected a .tsv path")
    if args.mapping is not None and not Path(args.mapping).exists():
        raise InputError(f"--mapping {args.mapping!r}: no such file")
    if args.plot_entities < 1:
        raise InputError(f"--plot-entities {args.plot_entities}: expected at least 1")
    options = _method_options(args)
    started = time.perf_counter()
    with open_model(args) as model:
        result = model.entities(_samples(args, model), args.level, args.method,
                                target=parse_target(args.target), mapping=args.mapping,
                                **options)
    out.parent.mkdir(parents=True, exist_ok=True)
    written = [write_entity_table(result, out),
               write_entity_metadata(result, out.with_suffix(".json"))]
    if args.per_sample:
        written.append(write_entity_scores(result, out.with_suffix(".samples.tsv")))
    if not args.no_plot:
        written.append(plot_entities(result, out.with_suffix(".png"), top=args.plot_entities))
    table = result.table()
    delta = "" if result.delta is None else \
        f"; completeness |delta| <= {abs(result.delta).max():.2g}"
    print(f"ranked {len(result.entities)} {result.level} entities ({result.layer}) of "
          f"{model.name!r} over {len(result)} samples with {args.method} (target "
          f"{'+'.join(map(str, result.target['names']))}){delta} in "
          f"{time.perf_counter() - started:.1f} s")
    for row in table.head(5).itertuples():
        print(f"  {row.rank:>3} {row.entity:<20} mean |score| {row.mean_abs:.4g} "
              f"(mean {row.mean:+.4g})")
    for path in written:
        print(f"  wrote {path}")
    return 0
