"""Region screens out: the effect of every window as a TSV (settings in a JSON beside it), and a
PNG track of the effect along each of a few sequences."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..results import Screen
from .figures import pyplot
from .hdf5 import jsonable


def write_screen_table(result: Screen, path) -> Path:
    """One row per sequence and window (the columns of :meth:`Screen.table`)."""
    path = Path(path)
    result.table().to_csv(path, sep="\t", index=False, float_format="%.6g")
    return path


def write_screen_metadata(result: Screen, path) -> Path:
    """What the screen was computed with, as JSON: perturbation, target, numbers of sequences,
    windows and replicates, every setting and the model's description."""
    n, n_windows, replicates = result.perturbed.shape
    path = Path(path)
    path.write_text(json.dumps({
        "perturbation": result.perturbation, "target": result.target, "n_sequences": n,
        "n_windows": n_windows, "n_replicates": replicates, "settings": result.settings,
        "model": result.model}, indent=2, default=jsonable) + "\n")
    return path


def plot_screen(result: Screen, path, max_sequences: int = 4, dpi: int = 120) -> Path:
    """Effect of each window along the first ``max_sequences`` sequences, one panel each: a
    horizontal bar over each window's span at the height of its effect (overlapping windows
    overlap), saved as PNG.

    Parameters
    ----------
    result : Screen
    path : str or Path
        Output PNG.
    max_sequences : int
        How many sequences to draw, in input order.
    dpi : int
        Resolution.

    Returns
    -------
    Path
        The file written.
    """
    plt = pyplot()

    shown = range(min(max_sequences, len(result)))
    length = result.model.get("input_length") or int(result.ends.max())
    fig, axes = plt.subplots(len(shown), 1, squeeze=False, layout="constrained",
                             figsize=(max(6.4, min(length / 25, 16.0)), 1.9 * len(shown)))
    target = "+".join(map(str, result.target.get("names", [])))
    for row, i in enumerate(shown):
        ax = axes[row, 0]
        effects = result.effects[i]
        colours = np.where(effects < 0, "#2c7bb6", "#c0392b")
        ax.hlines(effects, result.starts, result.ends, colors=colours, linewidth=2.5)
        ax.axhline(0, color="grey", linewidth=0.5)
        ax.set_xlim(0, length)
        where = f" ({result.intervals[i]})" if result.intervals else ""
        ax.set_title(f"{result.names[i]}{where}: f(x) = {result.reference[i]:.4g}", fontsize=8)
        ax.set_ylabel(f"change of {target}", fontsize=7)
    axes[-1, 0].set_xlabel(f"position ({result.perturbation}, "
                           f"{int(result.ends[0] - result.starts[0])} bp)")
    path = Path(path)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
