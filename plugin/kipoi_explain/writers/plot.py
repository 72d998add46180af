"""A PNG a person can read: for each sequence, a logo of what the present bases contribute and a
heat map of the scores of all four bases, in genome coordinates for sequences read from BED
intervals, with called motifs (seqlets, hits) marked."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..results import Attribution, Hits, Interval, Seqlets
from ..sequences import ALPHABET
from ..targets import Target, target_label
from .figures import pyplot
from .glyphs import draw_logo

#: Positions drawn per sequence by default: in the widest figure (24 inches at 120 dpi) a
#: letter is then still 6 pixels wide, and a 300 bp input (Basset, DeepLiver) is drawn whole; a
#: longer sequence is drawn around its most important stretch.
WINDOW = 400


def plot_attribution(result: Attribution, path, indices=None, max_sequences: int = 4,
                     dpi: int = 120, marks=None, window: int | None = WINDOW,
                     progress=None) -> Path:
    """Draw attribution tracks with sequence logos and save them as PNG.

    Parameters
    ----------
    result : Attribution
    path : str or Path
        Output PNG.
    indices, max_sequences, marks, window, progress
        See :func:`attribution_figure`.
    dpi : int
        Resolution.

    Returns
    -------
    Path
        The file written.
    """
    fig = attribution_figure(result, indices, max_sequences, marks, window, progress)
    path = Path(path)
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
    return path


def attribution_figure(result: Attribution, indices=None, max_sequences: int = 4, marks=None,
                       window: int | None = WINDOW, progress=None):
    """The figure :func:`plot_attribution` saves: per sequence, a logo of the importance of
    the present bases over a heat map of all four bases' scores, sharing an x-axis.

    Parameters
    ----------
    result : Attribution
    indices : list of int, optional
        Which sequences to draw; default the ``max_sequences`` with the highest target value.
    max_sequences : int
        How many sequences to draw when ``indices`` is not given.
    marks : Seqlets, Hits or pandas.DataFrame, optional
        Motif instances to shade on the logos, labelled with their motif: the seqlets of
        :func:`~kipoi_explain.seqlets` (or their ``table``) or the hits of
        :func:`~kipoi_explain.hits` (or their ``table()``), called on ``result``'s sequences.
    window : int or None
        Longest stretch drawn per sequence: of a longer sequence, this many positions centred
        on its most important stretch (:func:`best_window`) are drawn, and its title says
        which. None draws every position.
    progress : callable, optional
        Called with no arguments after each sequence is drawn.

    Returns
    -------
    matplotlib.figure.Figure
        Per sequence, axes labelled ``"logo"``, ``"heat map"`` and ``"<colorbar>"``, in this
        order; the heat map's x-axis carries genome coordinates when ``result.intervals`` is
        set, else positions in the sequence.
    """
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    target, values, indices = _drawn(result, indices, max_sequences)
    importance = result.position_importance()
    length = result.scores.shape[1]
    shown = length if window is None else min(window, length)
    spans = mark_spans(marks, result)
    width, height = max(8.0, min(shown / 8, 24.0)), 3.2 * len(indices)
    fig = plt.figure(figsize=(width, height))
    # Fixed margins in inches instead of a layout engine: constrained layout measured every
    # tick label of every panel (0.8 of the 6.1 s of the 4-sequence example under a profiler).
    drawn = width - 0.75 - 0.7 - 0.15 - 0.1
    outer = fig.add_gridspec(len(indices), 2, width_ratios=[drawn, 0.15],
                             wspace=0.1 / ((drawn + 0.15) / 2), left=0.75 / width,
                             right=1 - 0.7 / width, top=1 - 0.3 / height, bottom=0.5 / height,
                             hspace=0.4)
    for row, i in enumerate(indices):
        inner = outer[row, 0].subgridspec(2, 1, height_ratios=[2, 1], hspace=0.06)
        logo_ax = fig.add_subplot(inner[0], label="logo")
        heat_ax = fig.add_subplot(inner[1], sharex=logo_ax, label="heat map")
        lo = best_window(importance[i], shown)
        hi = lo + shown
        bottom, top = draw_logo(logo_ax, result.inputs[i][lo:hi] * importance[i][lo:hi, None],
                                start=lo)
        logo_ax.set_ylim(bottom, top if top > bottom else bottom + 1)
        logo_ax.set_xlim(lo - 0.5, hi - 0.5)
        logo_ax.tick_params(labelbottom=False)
        logo_ax.set_ylabel("contribution")
        if spans is not None:
            _mark(logo_ax, spans[(spans.seq == i) & (spans.end > lo) & (spans.start < hi)])
        logo_ax.set_title(f"{result.names[i]}{_where(result, i, lo, hi, length)} - "
                          f"{result.method}, target {target_label(target)} = {values[i]:.3g}",
                          fontsize=10)
        bound = float(np.abs(result.scores[i][lo:hi]).max()) or 1.0
        image = heat_ax.imshow(result.scores[i][lo:hi].T, aspect="auto", cmap="RdBu_r",
                               vmin=-bound, vmax=bound, interpolation="nearest",
                               extent=(lo - 0.5, hi - 0.5, 3.5, -0.5))
        heat_ax.set_yticks(range(4), list(ALPHABET))
        if result.intervals:
            interval = result.intervals[i]
            positions, coordinates = genome_ticks(interval, lo, hi)
            heat_ax.set_xticks(positions, [f"{c:,}" for c in coordinates])
            heat_ax.set_xlabel(f"position on {interval.chrom} (0-based, as in BED)" +
                               ("; - strand: the sequence drawn is its reverse complement"
                                if interval.reverse else ""))
        else:
            heat_ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            heat_ax.set_xlabel("position")
        # Labelled as the colorbars matplotlib makes itself label theirs.
        fig.colorbar(image, cax=fig.add_subplot(outer[row, 1], label="<colorbar>"),
                     label="score")
        if progress is not None:
            progress()
    return fig


def plot_scores(result: Attribution, path, indices=None, max_sequences: int = 4,
                dpi: int = 120, vocabulary=None, feature_names=None, progress=None) -> Path:
    """Draw the scores of a model whose input is no DNA (features or tokens) and save a PNG:
    one bar chart per sample for a vector of features or tokens, one heat map per sample for
    2-D features.

    Parameters are those of :func:`plot_attribution`, and ``vocabulary``: token names by id,
    to label the bars of a model of tokens; ``feature_names``: names of a vector's features;
    ``progress``: called with no arguments after each sample is drawn.
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
        if progress is not None:
            progress()
    path = Path(path)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def _drawn(result: Attribution, indices, max_sequences: int):
    """The target, its value for every sample, and the samples to draw: ``indices``, else the
    ``max_sequences`` with the highest target value."""
    target = Target(tuple(result.target["columns"]), tuple(result.target["names"]),
                    result.target["reduce"])
    values = target.apply(result.predictions)
    if indices is None:
        indices = np.argsort(-values, kind="stable")[:max_sequences]
    return target, values, indices


def best_window(importance: np.ndarray, width: int, peak: int = 25) -> int:
    """Start of the ``width`` positions drawn of a sequence: centred on the ``peak`` positions
    holding the most absolute importance (the first such), within the sequence. Centring the
    peak, rather than taking the window with the most importance, keeps what flanks it in
    view when a few positions hold nearly all of it."""
    peak = min(peak, width, len(importance))
    sums = np.convolve(np.abs(importance), np.ones(peak), mode="valid")
    centre = int(np.argmax(sums)) + peak // 2
    return int(np.clip(centre - width // 2, 0, len(importance) - width))


def genome_ticks(interval: Interval, lo: int, hi: int, most: int = 8):
    """Ticks at round genome coordinates for positions ``lo..hi-1`` of a sequence read from
    ``interval``.

    Returns
    -------
    positions, coordinates : numpy.ndarray, numpy.ndarray
        Int64 positions in the sequence, ascending, and the genome coordinate (0-based) of
        each: the window's start plus the position, or for a reverse-complemented window its
        end minus one minus the position (coordinates then fall from left to right).
    """
    from matplotlib.ticker import MaxNLocator

    first, stop = interval.to_genome(lo, hi)
    coordinates = MaxNLocator(most, integer=True).tick_values(first, stop - 1).astype(np.int64)
    coordinates = coordinates[(coordinates >= first) & (coordinates < stop)]
    if interval.reverse:
        return interval.end - 1 - coordinates[::-1], coordinates[::-1]
    return coordinates - interval.start, coordinates


def mark_spans(marks, result: Attribution) -> pd.DataFrame | None:
    """The motif instances of ``marks`` (see :func:`attribution_figure`) as a table of
    ``seq`` (index in ``result``), ``start``, ``end`` (half-open, in the sequence) and
    ``label``: the motif's name without its database ID; for a seqlet without a significant
    match, its best match followed by ``?``. None without marks."""
    if marks is None:
        return None
    if isinstance(marks, Hits):
        table = pd.DataFrame({"seq": marks.seq, "start": marks.start, "end": marks.end,
                              "motif": marks.motif})
    elif isinstance(marks, Seqlets):
        table = marks.table
    else:
        table = marks
    if "seq_start" in table:
        # A table of hits: genome coordinates, with the sequence's name and the offset in it.
        index = {name: i for i, name in enumerate(result.names)}
        strangers = sorted(set(table["sequence"]) - set(index))
        if strangers:
            raise InputError(f"marks: hits on sequence(s) {', '.join(map(repr, strangers[:3]))}"
                             f", not among the {len(index)} drawn (call them on the same "
                             "sequences)")
        table = pd.DataFrame({"seq": table["sequence"].map(index),
                              "start": table["seq_start"],
                              "end": table["seq_start"] + table["end"] - table["start"],
                              "motif": table["motif"]})
    if "group" in table:
        label = np.where(table["group"] == "unmatched", table["match_name"].astype(str) + "?",
                         table["group"].astype(str))
    else:
        label = table["motif"].astype(str)
    return pd.DataFrame({"seq": table["seq"].to_numpy(np.int64),
                         "start": table["start"].to_numpy(np.int64),
                         "end": table["end"].to_numpy(np.int64),
                         "label": [str(name).split(" ", 1)[-1] for name in label]})


def _mark(ax, spans: pd.DataFrame) -> None:
    """Shade each span on ``ax`` and write its label at the top, one colour per label."""
    from matplotlib import colormaps

    colors = colormaps["tab10"].colors
    labels = sorted(set(spans.label))
    for start, end, label in zip(spans.start, spans.end, spans.label):
        color = colors[labels.index(label) % len(colors)]
        ax.axvspan(start - 0.5, end - 0.5, color=color, alpha=0.2, linewidth=0, zorder=-2)
        ax.text((start + end - 1) / 2, 0.98, label, transform=ax.get_xaxis_transform(),
                ha="center", va="top", fontsize=9, fontweight="bold", color=color,
                clip_on=True)


def _where(result: Attribution, i: int, lo: int, hi: int, length: int) -> str:
    """What the title says of where sequence ``i`` is from, and which window is drawn."""
    part = f"{hi - lo} of {length} bp"
    if result.intervals:
        interval = result.intervals[i]
        if hi - lo == length:
            return f" ({interval})"
        first, stop = interval.to_genome(lo, hi)
        return f" ({interval.chrom}:{first}-{stop}, {part})"
    return "" if hi - lo == length else f" (positions {lo}-{hi - 1}, {part})"
