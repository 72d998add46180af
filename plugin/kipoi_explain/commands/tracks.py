"""``tracks``: an attribution track along regions of a genome, as a bigWig: :func:`explain`
of windows tiling the regions (:mod:`kipoi_explain.tracks`), written part by part."""
from __future__ import annotations

import contextlib
from pathlib import Path

from ..errors import InputError
from ..stages import spent, stage
from .base import CommandLine, Param, output_param
from .kinds import INT, Output

#: Not offered by ``tracks``: occlusion's --stride (--stride is the tiling's), and extra
#: inputs, which hold one row per sequence, not per window of a genome.
OMIT = ("stride", "inputs")
REGIONS = "regions (one of --bed, --region, --chrom)"


def main(session, args) -> int:
    from ..cli.arguments import options, wrote
    from ..jobs.units import SHARD_SIZE
    from ..targets import target_label
    from ..tracks import contig_lengths, read_regions, tile
    from ..writers.track import TrackWriter
    from .method_params import METHOD_PARAMS, method_options_given

    if args.remote:
        raise InputError("tracks reads its windows from a local --fasta and writes the track "
                         "part by part; run it here, or over a Ray cluster (--engine ray), "
                         "not with --remote")
    out = Path(args.output)
    info = session.info
    if not info.takes_dna or info.input_length is None:
        raise InputError(f"model {info.name!r}: a track needs a model of DNA with an input "
                         "length to tile the regions with")
    with stage("reading"):
        regions = read_regions(args.fasta, bed=args.bed, region=args.region, chrom=args.chrom)
        tiles = tile(regions, args.fasta, info.input_length, args.stride)
    command = args.declared
    given = {**options(args, command, exclude=METHOD_PARAMS),
             **method_options_given(args, tokens=False)}
    settings = {**given, "stride": args.stride, "regions": len(regions),
                "windows": len(tiles), "input_length": info.input_length}
    with contextlib.ExitStack() as stack:
        # As a job, every shard is computed here, before any output is opened; else each
        # part is computed as it is reached.
        with stage("compute"):
            parts = session.parts(command, tiles.samples(), args.shard_size or SHARD_SIZE,
                                  **given)
        with stage("writing"):
            writer = stack.enter_context(TrackWriter(
                out, tiles, contig_lengths(args.fasta), args.hypothetical, args.modisco,
                settings))
        with stage("compute", len(tiles), "window") as advance:
            for part in parts:
                with stage("writing"):
                    writer.write(part)
                advance(len(part))
        with stage("writing"):
            # The bigWig's index and the other files are written as the writer closes.
            stack.close()
    print(f"tracked {tiles.n_bases} bases of {len(regions)} region(s) with {len(tiles)} "
          f"windows of {info.input_length} bases of {info.name!r}, "
          f"{given.get('method') or command.defaults()['method']} (target "
          f"{target_label(part.target)}) in {spent('compute'):.1f} s")
    wrote(writer.written)
    return 0


TRACKS = CommandLine(
    "tracks", main,
    "Attribution track of regions of a genome, for a genome browser: the regions (--bed, "
    "--region or --chrom) are tiled with windows of the model's input length every --stride "
    "bases, each window keeps its central --stride bases so that every base is explained "
    "once, and the present base's contribution is written as a bigWig (-o). --hypothetical "
    "adds an HDF5 file of the hypothetical contributions of the same bases, --modisco a "
    "TF-MoDISco-lite input directory (onehot.npz, hypothetical.npz: one row per window's "
    "kept part). Windows run in parts of --shard-size, so a chromosome's track never sits in "
    "memory; as a job (--engine, --work-dir) they run on Ray workers and resume.",
    samples="none", job=True, omit=OMIT,
    params=(output_param("bigWig to write (.bw)", (".bw", ".bigwig", ".bigWig")),
            Param("fasta", required=True, help="reference genome FASTA; the bigWig's contigs "
                                                "are its contigs"),
            Param("bed", group=REGIONS, help="BED regions (overlapping ones are merged)"),
            Param("region", group=REGIONS, metavar="CHR:START-END",
                  help="one region, 1-based and inclusive as genome browsers write it"),
            Param("chrom", group=REGIONS, metavar="CONTIG", help="a whole contig"),
            Param("stride", INT, "bases between windows, the central part each keeps "
                                 "(default: half the model's input length)"),
            Param("hypothetical", Output((".h5", ".hdf5")),
                  help="HDF5 file of the hypothetical contributions (and "
                                       "one-hot bases) of the track's bases"),
            Param("modisco", Output(folder=True), metavar="DIR",
                  help="directory for TF-MoDISco-lite input: "
                                                 "onehot.npz and hypothetical.npz")))
