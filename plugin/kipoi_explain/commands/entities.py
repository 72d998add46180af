"""``entities``: rank the genes, pathways or SNPs of a transparent model."""
from __future__ import annotations

from pathlib import Path

from ..errors import InputError, MissingCapability
from ..methods.integrated_gradients import QUADRATURES
from ..results import EntityImportance
from ..samples import DNA, FEATURES
from ..sequences import FASTA_SUFFIXES
from ..stages import spent, stage
from ..transparent import METHODS, entities, method_options
from .base import REDUCE_PARAM, TARGET_PARAM, Command, CommandLine, Param, output_param
from .kinds import COUNT, FLAG, LocalOnly, Text, WordOrArray

OPTIONS = "method options (only those of --method apply)"
METHOD_PARAMS = (
    Param("baseline", WordOrArray(("zeros", "mean", "zero_input"), numbers=True),
          "integrated_gradients: zeros (default), mean (each unit's mean over the samples), "
          "zero_input (the activations of an all-zero input), a number, or a .npy array of one "
          "sample's units", group=OPTIONS),
    Param("n_steps", COUNT, "integrated_gradients steps", group=OPTIONS, limit="max_samples"),
    Param("quadrature_rule", Text(QUADRATURES), "integrated_gradients quadrature",
          group=OPTIONS),
    Param("fill", WordOrArray(("zeros", "mean"), numbers=True),
          "ablation: value an ablated unit takes: zeros (default), mean, a number, or a .npy "
          "array of one value per unit", group=OPTIONS),
)


def main(session, args) -> int:
    from ..cli.arguments import options, wrote
    from ..writers import (plot_entities, write_entity_metadata, write_entity_scores,
                           write_entity_table)

    out = Path(args.output)
    if args.mapping is not None and not Path(args.mapping).exists():
        raise InputError(f"--mapping {args.mapping!r}: no such file")
    if args.mapping is not None and args.remote:
        raise InputError("--mapping: a server ranks the entities its model declares; run "
                         "without --remote to use another mapping")
    given = {p.name: getattr(args, p.name) for p in METHOD_PARAMS
             if getattr(args, p.name) is not None}
    method = args.method or ENTITIES.defaults()["method"]
    misplaced = sorted(set(given) - set(method_options(method)))
    if misplaced:
        flags = ", ".join("--" + name.replace("_", "-") for name in misplaced)
        raise InputError(f"{flags} do(es) not apply to --method {method}")
    with stage("reading"):
        samples = _samples(args, session.info)
    with stage("compute"):
        result = session.run(ENTITIES, samples, **options(args, ENTITIES, exclude=METHOD_PARAMS),
                             **given)
    with stage("writing"):
        out.parent.mkdir(parents=True, exist_ok=True)
        written = [write_entity_table(result, out),
                   write_entity_metadata(result, out.with_suffix(".json"))]
        if args.per_sample:
            written.append(write_entity_scores(result, out.with_suffix(".samples.tsv")))
    if not args.no_plot:
        with stage("plotting"):
            written.append(plot_entities(result, out.with_suffix(".png"),
                                         top=args.plot_entities))
    table = result.table()
    delta = "" if result.delta is None else \
        f"; completeness |delta| <= {abs(result.delta).max():.2g}"
    print(f"ranked {len(result.entities)} {result.level} entities ({result.layer}) of "
          f"{session.info.name!r} over {len(result)} samples with {result.method} (target "
          f"{'+'.join(map(str, result.target['names']))}){delta} in "
          f"{spent('compute'):.1f} s")
    for row in table.head(5).itertuples():
        print(f"  {row.rank:>3} {row.entity:<20} mean |score| {row.mean_abs:.4g} "
              f"(mean {row.mean:+.4g})")
    wrote(written)
    return 0


def _samples(args, info):
    """The ``--input`` of a model of features (its path, read where the model runs) or of DNA
    (its sequences)."""
    from ..sequences import as_sequences

    path = Path(args.input)
    if not path.is_file():
        raise InputError(f"--input {args.input!r}: no such file")
    is_fasta = path.name.endswith(FASTA_SUFFIXES)
    if info.takes_dna:
        if not is_fasta:
            raise InputError(f"--input {args.input!r}: model {info.name!r} reads DNA; give a "
                             f"FASTA ({', '.join(FASTA_SUFFIXES)}) of sequences of its input "
                             "length")
        return as_sequences(path, info.input_length)
    if is_fasta:
        raise InputError(f"--input {args.input!r}: model {info.name!r} reads features, not "
                         "DNA; give a TSV/CSV table or a .npy array")
    return str(path)


def _declares_entities(info, options: dict) -> None:
    """Refuse, before any work, a model without the entity level asked for."""
    if not info.entity_levels:
        raise MissingCapability(f"model {info.name!r} declares no entities (no entities.yaml "
                                "next to its model.yaml)")
    if options.get("level") not in info.entity_levels:
        raise InputError(f"level {options.get('level')!r}: model {info.name!r} declares "
                         f"{', '.join(info.entity_levels)}")


ENTITIES = Command(
    "entities", entities, EntityImportance,
    "rank the named entities (genes, pathways, SNPs) of a transparent model",
    params=(Param("level", help="entity level of the mapping to rank (e.g. snp, gene, "
                                "pathway)", required=True),
            Param("method", Text(tuple(METHODS)), "integrated_gradients (with a completeness "
                                                  "delta), grad_x_activation, or ablation"),
            TARGET_PARAM, REDUCE_PARAM,
            Param("mapping", LocalOnly("each model's own entities.yaml"),
                  "entities.yaml naming the model's units (default: the one next to the "
                  "model's model.yaml; not with --remote)"),
            *METHOD_PARAMS),
    accepts=(DNA, FEATURES), exclusive=True, noun="samples",
    precondition=_declares_entities,
    cli=CommandLine(
        "entities", main,
        "Rank the entities of one level of a transparent (GenNet/DCell/P-NET-style) model by "
        "their importance for its prediction: integrated gradients at the level's layer, "
        "gradient x activation, or ablation of each entity's unit. The model names its units "
        "in an entities.yaml next to its model.yaml (or give --mapping). Writes the ranking "
        "TSV, a JSON of the settings beside it, a PNG bar chart of the top entities and, with "
        "--per-sample, the scores of every sample. With --remote, a kipoi-explain server "
        "computes them.",
        samples="none",
        params=(Param("input", required=True,
                      help="samples: a TSV/CSV table (first column the sample names, header "
                           "the input entities' names) or a .npy array (N, *input shape); for "
                           "a model of DNA, a FASTA of sequences of its input length"),
                output_param("ranking TSV; the settings (.json), the bar chart (.png) and with "
                             "--per-sample the scores per sample (.samples.tsv) go beside it",
                             (".tsv",)),
                Param("per_sample", FLAG, "also write the scores of every sample (samples x "
                                          "entities)", default=False),
                Param("no_plot", FLAG, "do not write the PNG", default=False),
                Param("plot_entities", COUNT, "entities drawn in the PNG, most important first",
                      default=20))))
