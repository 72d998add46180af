"""TF-MoDISco results out: modisco-lite's own HDF5 file, the patterns as MEME and TSV, logos,
and one self-contained HTML report."""
from __future__ import annotations

import json
import math
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..motif.database import MotifDatabase
from ..results import ModiscoResult
from ..sequences import ALPHABET
from .figures import pyplot
from .hdf5 import jsonable
from .logos import motif_logo
from .meme import write_meme
from .report import escape, image, page, write_text

COLUMNS = ["pattern", "n_seqlets", "length", "contribution", "match_id", "match_name",
           "p_value", "q_value", "e_value", "strand", "offset", "significant"]

def pattern_table(result: ModiscoResult, max_q: float = 0.05) -> pd.DataFrame:
    """One row per pattern: its seqlets, length and summed contribution, its best database
    match (empty when it has none) and whether that match has q <= ``max_q``."""
    rows = []
    for motif in result.patterns:
        best = motif.best
        match = {} if best is None else {
            "match_id": best.id, "match_name": best.name, "p_value": best.p_value,
            "q_value": best.q_value, "e_value": best.e_value, "strand": best.strand,
            "offset": best.offset}
        rows.append({"pattern": motif.name, "n_seqlets": motif.n_sites,
                     "length": len(motif.pfm), "contribution": motif.details["contribution"],
                     **match, "significant": best is not None and best.q_value <= max_q})
    return pd.DataFrame(rows).reindex(columns=COLUMNS)


def cwm_logo(cwm: np.ndarray, path, title: str = "", dpi: int = 110) -> Path:
    """The contribution weight matrix as a logo: letters as tall as their mean contribution,
    below the axis where it is negative."""
    import logomaker

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(4.0, 0.45 * len(cwm) + 1.5), 2.0),
                           layout="constrained")
    with warnings.catch_warnings():
        # An all-zero matrix has a zero-height axis, which logomaker warns about.
        warnings.simplefilter("ignore", UserWarning)
        logomaker.Logo(pd.DataFrame(np.asarray(cwm, dtype=np.float64), columns=list(ALPHABET)),
                       ax=ax)
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.set_ylabel("contribution")
    ax.set_title(title, fontsize=9)
    path = Path(path)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def write_modisco_results(result: ModiscoResult, folder, database: MotifDatabase | None = None,
                          max_q: float = 0.05) -> list[Path]:
    """Write ``modisco_results.h5`` (modisco-lite's file, byte for byte), ``patterns.meme``,
    ``patterns.tsv`` (:func:`pattern_table`), ``logos/`` (per pattern ``NAME.cwm.png``, its
    CWM, and ``NAME.png``, its frequency matrix above its best significant match in
    ``database``) and ``report.html`` into ``folder``. Returns the files written, logos
    excepted."""
    folder = Path(folder)
    logos = folder / "logos"
    logos.mkdir(parents=True, exist_ok=True)
    h5 = folder / "modisco_results.h5"
    h5.write_bytes(np.asarray(result.hdf5, dtype=np.uint8).tobytes())
    meme = write_meme(result.patterns, folder / "patterns.meme", max_q=max_q)
    table = pattern_table(result, max_q)
    tsv = folder / "patterns.tsv"
    table.to_csv(tsv, sep="\t", index=False, float_format="%.4g")
    pictures = []
    for motif, cwm in zip(result.patterns, result.cwms):
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", motif.name)
        pictures.append((
            cwm_logo(cwm, logos / f"{stem}.cwm.png",
                     f"{motif.name} CWM ({motif.n_sites} seqlets)"),
            motif_logo(motif, logos / f"{stem}.png", database, max_q)))
    report = write_text(folder / "report.html", _report(result, table, pictures, max_q))
    return [h5, meme, tsv, report]


def _number(value) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else f"{value:.3g}"


def _report(result: ModiscoResult, table: pd.DataFrame, pictures, max_q: float) -> str:
    model = result.model.get("name", "a model")
    names = "+".join(map(str, result.target.get("names", []))) or "target"
    release = result.database.get("release", result.database.get("path", "the database"))
    matched = int(table["significant"].sum())
    body = [f"<h1>TF-MoDISco patterns of <code>{escape(model)}</code></h1>",
            f"<p>{len(result)} patterns from {result.settings['n_sequences']} sequences "
            f"explained with <code>{escape(result.method)}</code> (target {escape(names)}); "
            f"{matched} match {escape(release)} at q &le; {max_q:g}. Patterns found by "
            "modisco-lite (<code>modisco_results.h5</code>), matched with TomTom.</p>"]
    if not len(result):
        body.append("<p><strong>No patterns were found</strong>: too few seqlets passed the "
                    "threshold, or none formed a cluster large enough. More sequences, or a "
                    "target the sequences hold signal for, may find some.</p>")
    else:
        head = ("<tr><th>pattern</th><th>seqlets</th><th>contribution (CWM)</th>"
                "<th>frequencies and best match</th><th>match</th><th>q</th><th>E</th></tr>")
        rows = []
        for (_, row), (cwm_png, pfm_png) in zip(table.iterrows(), pictures):
            label = "" if pd.isna(row["match_id"]) else \
                f"{escape(row['match_id'])} {escape(row['match_name'])}" + \
                ("" if row["significant"] else " (not significant)")
            rows.append(f"<tr><td><code>{escape(row['pattern'])}</code></td>"
                        f"<td>{row['n_seqlets']}</td><td>{image(cwm_png.read_bytes(), 'CWM')}</td>"
                        f"<td>{image(pfm_png.read_bytes(), 'PFM and match')}</td><td>{label}</td>"
                        f"<td>{_number(row['q_value'])}</td><td>{_number(row['e_value'])}</td>"
                        "</tr>")
        body.append(f"<h2>Patterns</h2><table>{head}{''.join(rows)}</table>")
    for title, values in (("Settings", result.settings), ("Target", result.target),
                          ("Database", result.database), ("Model", result.model)):
        body.append(f"<h2>{title}</h2><table>" + "".join(
            f"<tr><th>{escape(key)}</th><td><code>"
            f"{escape(json.dumps(value, default=jsonable))}</code></td></tr>"
            for key, value in values.items()) + "</table>")
    return page(f"TF-MoDISco patterns of {model}", body)
