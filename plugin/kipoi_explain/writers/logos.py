"""Sequence logos of motifs (information content by logomaker, glyphs by :mod:`.glyphs`), each
above its best database match, aligned."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..motif.database import MotifDatabase
from ..results import Motif
from ..sequences import ALPHABET
from .figures import pyplot
from .glyphs import draw_logo


def _logo(ax, pfm: np.ndarray, start: int = 0) -> None:
    import logomaker
    import pandas as pd
    from matplotlib.ticker import MaxNLocator

    frame = pd.DataFrame(np.asarray(pfm, dtype=np.float64), columns=list(ALPHABET),
                         index=np.arange(start, start + len(pfm)))
    bits = logomaker.transform_matrix(frame, from_type="probability", to_type="information")
    draw_logo(ax, bits.to_numpy(), start)
    ax.set_ylim(0, 2)
    # Positions are whole bases: no fractional ticks however few positions there are.
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("bits")


def motif_logo(motif: Motif, path, database: MotifDatabase | None = None,
               max_q: float = 0.05, dpi: int = 110) -> Path:
    """Draw ``motif`` as an information-content logo; under it, its best database match when
    that is significant (q <= ``max_q``), shifted and oriented as TomTom aligned it."""
    return write_logos([motif], Path(path).parent, database, max_q, dpi=dpi,
                       names=[Path(path).name])[0]


def write_logos(motifs: list[Motif], outdir, database: MotifDatabase | None = None,
                max_q: float = 0.05, progress=None, dpi: int = 110,
                names: list[str] | None = None) -> list[Path]:
    """One PNG per motif in ``outdir`` (see :func:`motif_logo`), named after the motif
    (``conv1_filter_3.png``) or as ``names`` says; ``progress``, if given, is called with no
    arguments after each."""
    plt = pyplot()
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    names = names or [f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', m.name)}.png" for m in motifs]
    # One figure per number of panels, redrawn for every motif: making the figure and its
    # ticks anew was a fifth of the time of a logo once glyphs and layout were cheap.
    figures = {}
    written = []
    try:
        for motif, name in zip(motifs, names):
            written.append(_draw(figures, motif, outdir / name, database, max_q, dpi))
            if progress is not None:
                progress()
    finally:
        for fig, _ in figures.values():
            plt.close(fig)
    return written


def _draw(figures: dict, motif: Motif, path: Path, database, max_q: float, dpi: int) -> Path:
    """Draw and save one motif's logo on the figure in ``figures`` with as many panels as it
    needs, made on first use; the previous logo's glyphs are removed first."""
    best = motif.best
    show_match = database is not None and best is not None and best.q_value <= max_q
    panels = 2 if show_match else 1
    if panels not in figures:
        figures[panels] = pyplot().subplots(panels, 1, squeeze=False, sharex=True)
    fig, axes = figures[panels]
    for ax in axes[:, 0]:
        for artist in [*ax.collections, *ax.lines]:
            artist.remove()
    width, height = max(4.0, 0.45 * len(motif.pfm) + 1.5), 3.6 if show_match else 2.0
    fig.set_size_inches(width, height)
    # Fixed margins in inches instead of constrained layout, which measured every tick label
    # of every logo: 44 % of the time of 27 logos under a profiler once the glyphs were cheap.
    fig.subplots_adjust(left=0.6 / width, right=1 - 0.15 / width, top=1 - 0.3 / height,
                        bottom=0.35 / height, hspace=0.35)
    _logo(axes[0, 0], motif.pfm)
    axes[0, 0].set_title(f"{motif.name}  ({motif.n_sites} sites)", fontsize=9)
    lo, hi = 0, len(motif.pfm)
    if show_match:
        target = database.pfms[database.ids.index(best.id)]
        if best.strand == "-":
            target = target[::-1, ::-1]
        _logo(axes[1, 0], target, start=-best.offset)
        axes[1, 0].set_title(f"{best.id} {best.name}  q={best.q_value:.2g} ({best.strand})",
                             fontsize=9)
        lo, hi = min(lo, -best.offset), max(hi, len(target) - best.offset)
    axes[0, 0].set_xlim(lo - 0.5, hi - 0.5)
    fig.savefig(path, dpi=dpi)
    return path
