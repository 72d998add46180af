"""Sequence logos (logomaker) of motifs, each above its best database match, aligned."""
from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from ..motif.database import MotifDatabase
from ..results import Motif
from ..sequences import ALPHABET
from .figures import pyplot


def _logo(ax, pfm: np.ndarray, start: int = 0) -> None:
    import logomaker
    import pandas as pd
    from matplotlib.ticker import MaxNLocator

    frame = pd.DataFrame(np.asarray(pfm, dtype=np.float64), columns=list(ALPHABET),
                         index=np.arange(start, start + len(pfm)))
    with warnings.catch_warnings():
        # A flat matrix has no information: logomaker warns about its zero-height axis.
        warnings.simplefilter("ignore", UserWarning)
        logomaker.Logo(logomaker.transform_matrix(frame, from_type="probability",
                                                  to_type="information"), ax=ax)
    ax.set_ylim(0, 2)
    # Positions are whole bases: no fractional ticks however few positions there are.
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("bits")


def motif_logo(motif: Motif, path, database: MotifDatabase | None = None,
               max_q: float = 0.05, dpi: int = 110) -> Path:
    """Draw ``motif`` as an information-content logo; under it, its best database match when
    that is significant (q <= ``max_q``), shifted and oriented as TomTom aligned it."""
    plt = pyplot()

    best = motif.best
    show_match = database is not None and best is not None and best.q_value <= max_q
    fig, axes = plt.subplots(2 if show_match else 1, 1, squeeze=False, sharex=True,
                             figsize=(max(4.0, 0.45 * len(motif.pfm) + 1.5),
                                      3.6 if show_match else 2.0), layout="constrained")
    _logo(axes[0, 0], motif.pfm)
    axes[0, 0].set_title(f"{motif.name}  ({motif.n_sites} sites)", fontsize=9)
    if show_match:
        target = database.pfms[database.ids.index(best.id)]
        if best.strand == "-":
            target = target[::-1, ::-1]
        _logo(axes[1, 0], target, start=-best.offset)
        axes[1, 0].set_title(f"{best.id} {best.name}  q={best.q_value:.2g} ({best.strand})",
                             fontsize=9)
    path = Path(path)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def write_logos(motifs: list[Motif], outdir, database: MotifDatabase | None = None,
                max_q: float = 0.05) -> list[Path]:
    """One PNG per motif in ``outdir``, named after the motif (``conv1_filter_3.png``)."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    return [motif_logo(m, outdir / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', m.name)}.png",
                       database, max_q) for m in motifs]
