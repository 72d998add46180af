"""Entity importance out: the ranking as a TSV (with its settings in a JSON beside it), the
per-sample scores as a second TSV, and a bar chart of the top entities."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..results import EntityImportance
from .figures import pyplot
from .hdf5 import jsonable


def write_entity_table(result: EntityImportance, path) -> Path:
    """The ranking, one row per entity, most important first (the columns of
    :meth:`EntityImportance.table`)."""
    path = Path(path)
    result.table().to_csv(path, sep="\t", index=False, float_format="%.6g")
    return path


def write_entity_scores(result: EntityImportance, path) -> Path:
    """Scores per sample: first column ``sample``, then one column per entity in unit order
    (the layout :func:`~kipoi_explain.sequences.features.read_features` reads)."""
    path = Path(path)
    table = pd.DataFrame(result.scores, index=pd.Index(result.samples, name="sample"),
                         columns=result.entities)
    table.to_csv(path, sep="\t", float_format="%.6g")
    return path


def write_entity_metadata(result: EntityImportance, path) -> Path:
    """What the scores were computed with, as JSON: level, layer, method, target, the number of
    samples and entities, the completeness gap of integrated gradients (largest and mean
    absolute ``delta``), every setting and the model's description (with its weight
    fingerprint)."""
    delta = None if result.delta is None else {
        "max_abs": float(np.abs(result.delta).max()),
        "mean_abs": float(np.abs(result.delta).mean())}
    path = Path(path)
    path.write_text(json.dumps({
        "level": result.level, "layer": result.layer, "method": result.method,
        "target": result.target, "n_samples": len(result), "n_entities": len(result.entities),
        "delta": delta, "settings": result.settings, "model": result.model},
        indent=2, default=jsonable) + "\n")
    return path


def plot_entities(result: EntityImportance, path, top: int = 20, dpi: int = 120) -> Path:
    """Bar chart of the ``top`` entities: mean absolute score over the samples (what the ranking
    orders by), coloured by the sign of the mean score; saved as PNG.

    Parameters
    ----------
    result : EntityImportance
    path : str or Path
        Output PNG.
    top : int
        How many entities to draw, most important first.
    dpi : int
        Resolution.

    Returns
    -------
    Path
        The file written.
    """
    plt = pyplot()
    from matplotlib.patches import Patch

    table = result.table().head(top)
    colours = np.where(table["mean"] >= 0, "#c0392b", "#2c7bb6")
    fig, ax = plt.subplots(layout="constrained",
                           figsize=(6.4, 1.4 + 0.28 * len(table)))
    ax.barh(np.arange(len(table)), table["mean_abs"], color=colours)
    ax.set_yticks(np.arange(len(table)), table["entity"], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"mean |{result.method}| over {len(result)} samples")
    ax.set_title(f"{result.model.get('name', 'model')}: top {len(table)} of "
                 f"{len(result.entities)} {result.level} entities ({result.layer}), target "
                 f"{'+'.join(map(str, result.target.get('names', [])))}", fontsize=9)
    ax.legend(handles=[Patch(color="#c0392b", label="mean score >= 0"),
                       Patch(color="#2c7bb6", label="mean score < 0")], fontsize=7,
              loc="lower right")
    path = Path(path)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
