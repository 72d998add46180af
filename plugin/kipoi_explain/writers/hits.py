"""Motif hits out: a sorted BED6+ (``.bed`` or ``.bed.gz``, with a header line naming its
columns) or bigBed (``.bb``, with an autoSql of the same columns, written by pybigtools), and a
JSON of the settings and each motif's threshold beside it."""
from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

from ..errors import InputError
from ..results import Hits
from .atomic import replaced
from .hdf5 import jsonable


#: Suffixes of the outputs written, BED and bigBed.
BED_SUFFIXES, BIGBED_SUFFIXES = (".bed", ".bed.gz"), (".bb", ".bigbed")
#: autoSql types of the columns after BED6 (the others are text).
AUTOSQL_TYPES = {"attribution": "float", "similarity": "float", "weight": "float",
                 "p_value": "float", "ablation": "float", "seq_start": "uint"}


def settings_path(path) -> Path:
    """The JSON written beside ``path`` (``hits.bed.gz`` -> ``hits.json``)."""
    path = Path(path)
    stem = path.name[:-len(".gz")] if path.name.endswith(".gz") else path.name
    return path.with_name(Path(stem).stem + ".json")


def write_hits(result: Hits, path, chrom_sizes: dict[str, int] | None = None) -> list[Path]:
    """Write the hits as BED6+ or bigBed (:meth:`~kipoi_explain.results.Hits.table`; ``score``
    is the similarity x 1000) and their settings and thresholds as JSON; returns both paths.

    Parameters
    ----------
    chrom_sizes : dict of str to int, optional
        Length of each chrom (the genome's contigs, or the FASTA records'): a bigBed needs
        them.

    Raises
    ------
    InputError
        For a path that is neither BED nor bigBed, or a bigBed without ``chrom_sizes`` for
        every chrom of the hits.
    """
    path = Path(path)
    if not path.name.lower().endswith(BED_SUFFIXES + BIGBED_SUFFIXES):
        raise InputError(f"{str(path)!r}: hits are written as .bed, .bed.gz or .bb")
    table = result.table()
    # A BED name is one word for most readers (bigBed's among them): "MA0139.2 CTCF" is
    # written MA0139.2_CTCF.
    table["motif"] = table["motif"].str.replace(r"\s+", "_", regex=True)
    if path.name.lower().endswith(BIGBED_SUFFIXES):
        _write_bigbed(table, path, chrom_sizes)
    else:
        header = "#" + "\t".join(table.columns) + "\n"
        body = table.to_csv(sep="\t", index=False, header=False, float_format="%.6g")
        with replaced(path) as partial:
            if path.name.endswith(".gz"):
                with gzip.open(partial, "wt") as handle:
                    handle.write(header + body)
            else:
                Path(partial).write_text(header + body)
    json_path = settings_path(path)
    with replaced(json_path) as partial:
        Path(partial).write_text(json.dumps({
            "columns": list(table.columns), "method": result.method, "target": result.target,
            "thresholds": dict(zip(result.motifs, result.thresholds.tolist())),
            "settings": result.settings, "model": result.model},
            indent=2, default=jsonable) + "\n")
    return [path, json_path]


def _write_bigbed(table, path: Path, chrom_sizes: dict[str, int] | None) -> None:
    import pybigtools

    missing = sorted(set(table["chrom"]) - set(chrom_sizes or {}))
    if missing:
        raise InputError(f"{str(path)!r}: a bigBed needs the length of every chrom; none is "
                         f"known for {', '.join(missing[:5])}")
    extra = list(table.columns[6:])
    fields = "\n".join(f'    {AUTOSQL_TYPES.get(c, "string")} {c}; "{c}"' for c in extra)
    autosql = ('table hits\n"kipoi-explain motif hits"\n(\n'
               '    string chrom; "chrom"\n    uint chromStart; "start"\n'
               '    uint chromEnd; "end"\n    string name; "motif"\n'
               '    uint score; "similarity x 1000"\n    char[1] strand; "strand"\n'
               f"{fields}\n)\n")
    # bigBed wants records grouped by chrom in the order of its chrom list, starts ascending.
    table = table.sort_values(["chrom", "start", "end"], kind="stable")
    rest = table.iloc[:, 3:].astype(str).agg("\t".join, axis=1)
    rows = zip(table["chrom"], table["start"].astype(int), table["end"].astype(int), rest)
    with replaced(path) as partial:
        # pybigtools picks the format from the suffix: the partial file gets one.
        named = Path(f"{partial}.bb")
        try:
            pybigtools.open(str(named), "w").write(
                {c: int(chrom_sizes[c]) for c in sorted(set(table["chrom"]))}, rows, autosql)
            os.replace(named, partial)
        finally:
            named.unlink(missing_ok=True)
