"""``attention``: attention maps of a transformer, per layer and head."""
from __future__ import annotations

from pathlib import Path

from ..attention_maps import REDUCTIONS, attention
from ..errors import InputError, MissingCapability
from ..results import AttentionMaps
from ..stages import spent, stage
from .base import AMBIGUOUS_PARAM, NO_PLOT, Command, CommandLine, Param, output_param
from .kinds import COUNT, NAMES, Integers, Text


def main(session, args) -> int:
    from ..cli.arguments import options, sequences, wrote
    from ..writers import plot_attention, write_attention_hdf5

    out = Path(args.output)
    with stage("reading"):
        seqs = sequences(args, session.info.input_length)
    with stage("compute"):
        result = session.run(ATTENTION, seqs, **options(args, ATTENTION))
    with stage("writing"):
        out.parent.mkdir(parents=True, exist_ok=True)
        written = [write_attention_hdf5(result, out)]
    if not args.no_plot:
        with stage("plotting"):
            written.append(plot_attention(result, out.with_suffix(".png"),
                                          max_sequences=args.plot_sequences))
    n, n_layers, n_heads, n_queries, n_keys = result.maps.shape
    query = "" if args.query is None else f", row of the query at base {args.query}"
    print(f"attention of {n} sequences of {session.info.name!r}: {n_layers} layer(s) x "
          f"{n_heads} head(s), {n_queries} queries x {n_keys} keys (reduce "
          f"{args.reduce or 'none'}{query}; tokens by {result.key_positions.source}) in "
          f"{spent('compute'):.1f} s")
    wrote(written)
    return 0


def _applies(info, options: dict) -> None:
    """Refuse, before any work, a model without attention maps to read."""
    if not info.takes_dna:
        raise InputError(f"attention maps needs a model of one-hot DNA; model {info.name!r} "
                         f"takes {info.input} of shape {tuple(info.layout.shape)}")
    if not info.attention_layers:
        raise MissingCapability(f"model {info.name!r} has no attention layers")


ATTENTION = Command(
    "attention", attention, AttentionMaps, "attention maps of a transformer, per layer and head",
    params=(Param("layers", NAMES, "comma-separated attention layers, by name or by index "
                                   "among the model's attention layers (default: all)"),
            Param("heads", Integers("head indices"), "comma-separated head indices to keep "
                                                     "(default: all)"),
            Param("reduce", Text(tuple(r for r in REDUCTIONS if r is not None)),
                  "heads: mean over heads; layers: mean over layers; mean: over both; "
                  "rollout: attention rollout over the layers (default: none, the reduced "
                  "maps are the maps)"),
            Param("query", Integers("base positions"),
                  "0-based base position in the input sequence (e.g. a TSS): the reduced maps "
                  "keep only the row of the query token centred nearest it", metavar="POS"),
            AMBIGUOUS_PARAM),
    extra_inputs=True, exclusive=True, too_large="ask for fewer sequences, layers or heads",
    precondition=_applies,
    cli=CommandLine(
        "attention", main,
        "Read the attention probabilities of a model's attention layers (PyTorch "
        "nn.MultiheadAttention / nn.TransformerEncoderLayer, Keras MultiHeadAttention, or "
        "modules declared with kipoi_explain.register_attention) and write an HDF5 file "
        "(unreduced maps (N, layers, heads, queries, keys), the reduced maps, the tokens' base "
        "spans and, for BED input, genome spans; predictions, settings, model fingerprint) "
        "and a PNG heat map with both axes in base coordinates. With --remote, a "
        "kipoi-explain server computes them (same options, same files).",
        params=(output_param("HDF5 file to write; the PNG is written beside it (.png)"),
                NO_PLOT, Param("plot_sequences", COUNT, "sequences drawn in the PNG, the first "
                                                      "ones", default=4))))
