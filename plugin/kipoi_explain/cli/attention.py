"""``kipoi-explain attention``: attention maps of a transformer, to HDF5 and a PNG heat map."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from ..errors import InputError
from .common import add_model_arguments, add_sequence_arguments, open_model, sequences


def add_parser(commands) -> None:
    from ..attention_maps import REDUCTIONS

    p = commands.add_parser(
        "attention", help="attention maps of a transformer, per layer and head",
        description="Read the attention probabilities of a model's attention layers (PyTorch "
                    "nn.MultiheadAttention / nn.TransformerEncoderLayer, Keras "
                    "MultiHeadAttention, or modules declared with "
                    "kipoi_explain.register_attention) and write an HDF5 file (unreduced maps "
                    "(N, layers, heads, queries, keys), the reduced maps, the tokens' base "
                    "spans and, for BED input, genome spans; predictions, settings, model "
                    "fingerprint) and a PNG heat map with both axes in base coordinates. With "
                    "--remote, a kipoi-explain server computes them (same options, same files).")
    add_model_arguments(p)
    add_sequence_arguments(p)
    p.add_argument("-o", "--output", required=True,
                   help="HDF5 file to write; the PNG is written beside it (.png)")
    p.add_argument("--layers", help="comma-separated attention layers, by name or by index "
                                    "among the model's attention layers (default: all)")
    p.add_argument("--heads", help="comma-separated head indices to keep (default: all)")
    p.add_argument("--reduce", choices=[r for r in REDUCTIONS if r is not None],
                   help="heads: mean over heads; layers: mean over layers; mean: over both; "
                        "rollout: attention rollout over the layers (default: none, the "
                        "reduced maps are the maps)")
    p.add_argument("--query", type=int, metavar="POS",
                   help="0-based base position in the input sequence (e.g. a TSS): the "
                        "reduced maps keep only the row of the query token centred nearest it")
    p.add_argument("--no-plot", action="store_true", help="do not write the PNG")
    p.add_argument("--plot-sequences", type=int, default=4,
                   help="sequences drawn in the PNG, the first ones (default: 4)")


def _layers(text: str | None):
    """``"enc.0.self_attn,1"``: names, and indices among the attention layers."""
    if text is None:
        return None
    items = [t.strip() for t in text.split(",")]
    if not all(items):
        raise InputError(f"--layers {text!r}: expected comma-separated layer names or indices")
    return [int(t) if t.lstrip("-").isdigit() else t for t in items]


def _heads(text: str | None):
    if text is None:
        return None
    items = [t.strip() for t in text.split(",")]
    if not all(t.isdigit() for t in items):
        raise InputError(f"--heads {text!r}: expected comma-separated head indices (0, 1, ...)")
    return [int(t) for t in items]


def run(args: argparse.Namespace) -> int:
    from ..writers import plot_attention, write_attention_hdf5

    if args.plot_sequences < 1:
        raise InputError(f"--plot-sequences {args.plot_sequences}: expected at least 1")
    layers, heads = _layers(args.layers), _heads(args.heads)
    started = time.perf_counter()
    with open_model(args) as model:
        result = model.attention(sequences(args, model.input_length), layers=layers,
                                 heads=heads, reduce=args.reduce, query=args.query)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    written = [write_attention_hdf5(result, out)]
    if not args.no_plot:
        written.append(plot_attention(result, out.with_suffix(".png"),
                                      max_sequences=args.plot_sequences))
    n, n_layers, n_heads, n_queries, n_keys = result.maps.shape
    query = "" if args.query is None else f", row of the query at base {args.query}"
    print(f"attention of {n} sequences of {model.name!r}: {n_layers} layer(s) x {n_heads} "
          f"head(s), {n_queries} queries x {n_keys} keys (reduce {args.reduce or 'none'}"
          f"{query}; tokens by {result.key_positions.source}) in "
          f"{time.perf_counter() - started:.1f} s")
    for path in written:
        print(f"  wrote {path}")
    return 0
