"""In-silico experiments out: a TSV of the effects (with their spread over the backgrounds), a
JSON of the settings, and a PNG a person reads at a glance."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..results import Marginalization, Spacing
from ..targets import target_label
from .figures import pyplot
from .hdf5 import jsonable


def write_experiment(result: Marginalization | Spacing, folder, plot: bool = True) -> list[Path]:
    """``NAME.tsv`` (:meth:`table`), ``NAME.json`` (target, settings, model) and, with
    ``plot``, ``NAME.png`` in ``folder``; NAME is ``marginalize`` or ``spacing``. Returns the
    files written."""
    name = "marginalize" if isinstance(result, Marginalization) else "spacing"
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    table = folder / f"{name}.tsv"
    result.table().to_csv(table, sep="\t", index=False, float_format="%.6g")
    settings = folder / f"{name}.json"
    settings.write_text(json.dumps({"motifs": result.motifs, "sequences": result.sequences,
                                    "target": result.target, "settings": result.settings,
                                    "model": result.model}, indent=2, default=jsonable) + "\n")
    written = [table, settings]
    if plot:
        draw = plot_marginalization if name == "marginalize" else plot_spacing
        written.append(draw(result, folder / f"{name}.png"))
    return written


def plot_marginalization(result: Marginalization, path, dpi: int = 120) -> Path:
    """Each motif's change of the target on every background (points), with its mean and a
    95% interval of the mean; motifs sorted by mean effect."""
    plt = pyplot()
    effects = result.effects
    order = np.argsort(-effects.mean(axis=1))
    fig, ax = plt.subplots(figsize=(6.4, 0.45 * len(order) + 1.4), layout="constrained")
    rng = np.random.default_rng(0)
    for row, k in enumerate(order):
        ax.scatter(effects[k], row + rng.uniform(-0.15, 0.15, effects.shape[1]), s=6,
                   alpha=0.35, color="tab:blue", linewidths=0)
        mean = effects[k].mean()
        half = 1.96 * effects[k].std(ddof=1) / np.sqrt(effects.shape[1]) \
            if effects.shape[1] > 1 else 0.0
        ax.errorbar(mean, row, xerr=half, fmt="o", color="black", capsize=3, markersize=4)
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set_yticks(range(len(order)), [result.motifs[k] for k in order])
    ax.invert_yaxis()
    ax.set_xlabel(f"change of {target_label(result.target)} (implanted - background)")
    ax.set_title(f"{effects.shape[1]} backgrounds; background mean "
                 f"{result.background.mean():.3g}", fontsize=9)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return Path(path)


def plot_spacing(result: Spacing, path, dpi: int = 120) -> Path:
    """Cooperativity (joint effect minus the single effects) against the centre-to-centre
    distance, one line per orientation with a band of one standard error; the joint effect
    beneath."""
    plt = pyplot()
    coop = result.cooperativity()
    joint = result.both - result.background[None, None]
    n = coop.shape[2]
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(7.0, 5.2),
                                      layout="constrained")
    for k, orientation in enumerate(result.orientations):
        for ax, values in ((top, coop[k]), (bottom, joint[k])):
            mean = values.mean(axis=1)
            sem = values.std(axis=1, ddof=1) / np.sqrt(n) if n > 1 else np.zeros_like(mean)
            line, = ax.plot(result.distances, mean, label=orientation, linewidth=1.2)
            ax.fill_between(result.distances, mean - sem, mean + sem, alpha=0.2,
                            color=line.get_color(), linewidth=0)
    for ax in (top, bottom):
        ax.axhline(0, color="grey", linewidth=0.8)
    top.set_ylabel("cooperativity")
    bottom.set_ylabel("both - background")
    bottom.set_xlabel(f"centre-to-centre distance (bp), {result.motifs[1]} right of "
                      f"{result.motifs[0]}")
    top.legend(title="orientation", fontsize=8, title_fontsize=8, ncols=4)
    top.set_title(f"{target_label(result.target)}, {n} backgrounds", fontsize=9)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return Path(path)
