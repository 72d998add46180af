"""``hits``: motif instances called in attribution maps, in genome coordinates, optionally
ablated one by one."""
from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..methods import METHODS
from ..motif.hits import hits
from ..results import Hits
from ..stages import spent, stage
from .base import BINS_PARAM, REDUCE_PARAM, TARGET_PARAM, Command, CommandLine, Param
from .kinds import COUNT, FLAG, FLOAT, INT, Kind, Names, Output, Text

#: What the output's suffix may be: BED, gzipped BED, bigBed.
SUFFIXES = (".bed", ".bed.gz", ".bb", ".bigbed")


class PatternSource(Kind):
    """Motifs to call hits of: ``jaspar``, a modisco-lite folder or results file, or a MEME
    file (read by this process; a client sends the files' CWMs as a mapping of name to
    matrix, a server reads no file named by a request)."""

    name = "'jaspar', a modisco-lite folder or a MEME file (a server's: 'jaspar')"

    def check(self, value, option):
        if not isinstance(value, (str, Path, dict)):
            raise self._wrong(value, option, "'jaspar', a path or a mapping of name to CWM")
        return value

    def to_wire(self, value):
        from ..motif.patterns import load_patterns

        if isinstance(value, dict) or str(value).lower() == "jaspar":
            return value
        # Untrimmed (trim=0): the server trims them with the request's trim.
        return {p.name: p.cwm for p in load_patterns(value, trim=0.0)}

    def on_server(self, value, option, server):
        if not isinstance(value, dict) and str(value).lower() != "jaspar":
            raise InputError(f"option {option}: a server reads no motif file of a request; "
                             "send 'jaspar' or the CWMs as a mapping of name to (W, 4) matrix")
        return value


def main(session, args) -> int:
    from ..cli.arguments import options, sequences, wrote
    from ..targets import target_label
    from ..tracks import contig_lengths
    from ..writers.hits import BIGBED_SUFFIXES, write_hits

    with stage("reading"):
        seqs = sequences(args, session.info.input_length)
    # The motifs' database and their matching are stages of their own, within the compute.
    with stage("compute"):
        result = session.run(HITS, seqs, **options(args, HITS))
    with stage("writing"):
        # A bigBed needs each chrom's length: the genome's contigs, or the FASTA records'.
        sizes = (contig_lengths(args.fasta) if args.bed else
                 dict.fromkeys(seqs.names, session.info.input_length)) \
            if args.output.lower().endswith(BIGBED_SUFFIXES) else None
        written = write_hits(result, Path(args.output), sizes)
    counts = result.table().motif.value_counts()
    ablated = "" if result.ablation is None else ", each ablated"
    print(f"{len(result)} hits of {len(counts)} of {len(result.motifs)} motifs in "
          f"{len(result.names)} sequences ({result.method} attributions of "
          f"{target_label(result.target)} on {session.info.name!r}{ablated}) in "
          f"{spent('compute'):.1f} s")
    for motif, count in counts.head(10).items():
        print(f"  {motif:<32} {count}")
    wrote(written)
    return 0


HITS = Command(
    "hits", hits, Hits,
    "motif instances in attribution maps, CWMs matched with a background-calibrated "
    "threshold; optionally each one ablated",
    params=(Param("motifs", PatternSource(), "'jaspar', a modisco-lite output folder (or its "
                                             "modisco_results.h5) or a MEME file",
                  required=True),
            Param("motif_ids", Names(), "motifs to scan for, comma-separated: IDs (MA0139.2; "
                                        "without a version, the latest), names (CTCF: each "
                                        "matrix of that name) or MoDISco patterns "
                                        "(pos_patterns.pattern_0); default all",
                  metavar="IDS"),
            Param("method", Text(tuple(METHODS)), "attribution method, run with its "
                                                  "defaults"),
            TARGET_PARAM, REDUCE_PARAM, BINS_PARAM,
            Param("release", help="JASPAR release (default: the newest pyjaspar ships)"),
            Param("fpr", FLOAT, "fraction of windows of permuted contribution maps a motif's "
                                "threshold lets through"),
            Param("min_similarity", FLOAT, "least cosine similarity of a hit's contributions "
                                           "with the CWM"),
            Param("n_background", COUNT, "permuted contribution maps the thresholds are "
                                         "calibrated on", limit="max_samples"),
            Param("trim", FLOAT, "CWM flanks weighing less than this fraction of the "
                                 "heaviest position are trimmed"),
            Param("ablate", FLAG, "also record the change of the target when each hit is "
                                  "replaced by dinucleotide shuffles of its sequence"),
            Param("n_shuffles", COUNT, "shuffles averaged per ablated hit",
                  limit="max_samples"),
            Param("seed", INT, "seed of the background maps and the shuffles")),
    what="hit calling", exclusive=True,
    cli=CommandLine(
        "hits", main,
        "Call motif instances in attribution maps as FiNeMo does: each motif's contribution "
        "weight matrix (a MoDISco pattern's, or a JASPAR/MEME matrix times its information "
        "content) is matched on both strands against the contributions of the present bases, "
        "with a threshold per motif set on permuted contribution maps (--fpr) and a least "
        "cosine similarity; overlapping hits keep the most similar. Writes a sorted BED6+ in "
        "genome coordinates (--bed) or record name and offset (--sequences), and a .json of "
        "settings and thresholds beside it. With --ablate, each hit is replaced by "
        "dinucleotide shuffles of its sequence and the target's mean change is a column.",
        params=(Param("output", Output(SUFFIXES), "hits as BED (.bed, .bed.gz) or bigBed (.bb)",
                      flags=("-o", "--output"), required=True),)))
