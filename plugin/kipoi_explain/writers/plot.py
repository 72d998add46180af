"""A PNG a person can read: for each sequence, a logo of what the present bases contribute and a
heat map of the scores of all four bases."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..results import Attribution
from ..sequences import ALPHABET
from ..targets import Target
from .figures import pyplot


def plot_attribution(result: Attribution, path, indices=None, max_sequences: int = 4,
                     dpi: int = 120) -> Path:
    """Draw attribution tracks with sequence logos (logomaker) and save them as PNG.

    Parameters
    ----------
    result : Attribution
    path : str or Path
        Output PNG.
    indices : list of int, optional
        Which sequences to draw; default the ``max_sequences`` with the highest target value.
    max_sequences : int
        How many sequences to draw when ``indices`` is not given.
    dpi : int
        Resolution.

    Returns
    -------
    Path
        The file written.
    """
    plt = pyplot()
    import logomaker
    import pandas as pd
    from matplotlib.ticker import MaxNLocator

    target, values, indices = _drawn(result, indices, max_sequences)
    importance = result.position_importance()
    length = result.scores.shape[1]
    fig, axes = plt.subplots(2 * len(indices), 1, squeeze=False, layout="constrained",
                             figsize=(max(8.0, min(length / 8, 24.0)), 3.2 * len(indices)),
                             gridspec_kw={"height_ratios": [2, 1] * len(indices)})
    for row, i in enumerate(indices):
        logo_ax, heat_ax = axes[2 * row, 0], axes[2 * row + 1, 0]
        present = result.inputs[i] * importance[i][:, None]
        logomaker.Logo(pd.DataFrame(present, columns=list(ALPHABET)), ax=logo_ax)
        logo_ax.axhline(0, color="grey", linewidth=0.5)
        logo_ax.set_xlim(-0.5, length - 0.5)
        logo_ax.tick_params(labelbottom=False)
        logo_ax.set_ylabel("contribution")
        where = f" ({result.intervals[i]})" if result.intervals else ""
        logo_ax.set_title(f"{result.names[i]}{where} - {result.method}, target "
                          f"{target_label(target)} = {values[i]:.3g}", fontsize=10)
        bound = float(np.abs(result.scores[i]).max()) or 1.0
        image = heat_ax.imshow(result.scores[i].T, aspect="auto", cmap="RdBu_r",
                               vmin=-bound, vmax=bound, interpolation="nearest")
        heat_ax.set_yticks(range(4), list(ALPHABET))
        heat_ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        heat_ax.set_xlabel("position")
        fig.colorbar(image, ax=[logo_ax, heat_ax], pad=0.01, fraction=0.03, label="score")
    path = Path(path)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def plot_scores(result: Attribution, path, indices=None, max_sequences: int = 4,
                dpi: int = 120, vocabulary=None, feature_names=None) -> Path:
    """Draw the scores of a model whose input is no DNA (features or tokens) and save a PNG:
    one bar chart per sample for a vector of features or tokens, one heat map per sample for
    2-D features.

    Parameters are those of :func:`plot_attribution`, and ``vocabulary``: token names by id,
    to label the bars of a model of tokens; ``feature_names``: names of a vector's features.
    """
    plt = pyplot()
    target, values, indices = _drawn(result, indices, max_sequences)
    width = result.scores.shape[1]
    fig, axes = plt.subplots(len(indices), 1, squeeze=False, layout="constrained",
                             figsize=(max(6.0, min(width / 4, 24.0)), 2.6 * len(indices)))
    for ax, i in zip(axes[:, 0], indices):
        scores = result.scores[i]
        if scores.ndim == 1:
            ax.bar(np.arange(width), scores, color=np.where(scores >= 0, "tab:red", "tab:blue"))
            ax.axhline(0, color="grey", linewidth=0.5)
            labels = [vocabulary[int(t)] for t in result.inputs[i]] if vocabulary else \
                feature_names
            if labels:
                ax.set_xticks(np.arange(width), labels, rotation=90, fontsize=7)
            ax.set_ylabel("score")
        else:
            bound = float(np.abs(scores).max()) or 1.0
            image = ax.imshow(scores.reshape(width, -1).T, aspect="auto", cmap="RdBu_r",
                              vmin=-bound, vmax=bound, interpolation="nearest")
            fig.colorbar(image, ax=ax, pad=0.01, fraction=0.03, label="score")
        ax.set_title(f"{result.names[i]} - {result.method}, target {target_label(target)} = "
                     f"{values[i]:.3g}", fontsize=10)
    path = Path(path)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def target_label(target: Target, most: int = 4) -> str:
    """The target as a title names it: its outputs joined by ``+`` when there are at most
    ``most``; else a summary, ``plus[0..9] (10 outputs, sum)`` when they are bins of one
    output, ``a+...+z (10 outputs, sum)`` when not."""
    names = list(target.names)
    if len(names) <= most:
        return "+".join(names)
    parts = [re.fullmatch(r"(.+)\[([^\]]+)\]", name) for name in names]
    if all(parts) and len({part[1] for part in parts}) == 1:
        span = f"{parts[0][1]}[{parts[0][2]}..{parts[-1][2]}]"
    else:
        span = f"{names[0]}+...+{names[-1]}"
    return f"{span} ({len(names)} outputs, {target.reduce})"


def _drawn(result: Attribution, indices, max_sequences: int):
    """The target, its value for every sample, and the samples to draw: ``indices``, else the
    ``max_sequences`` with the highest target value."""
    target = Target(tuple(result.target["columns"]), tuple(result.target["names"]),
                    result.target["reduce"])
    values = target.apply(result.predictions)
    if indices is None:
        indices = np.argsort(-values, kind="stable")[:max_sequences]
    return target, values, indices
