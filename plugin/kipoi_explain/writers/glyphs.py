"""Sequence logos drawn as one path per letter: logomaker's glyphs, built once.

logomaker builds one ``TextPath`` and one ``PathPatch`` per letter and position, and every patch
updates the axes' data limits curve by curve. On the bundled example (4 sequences x 200 bp) that
was 4.4 of the 6.1 s ``plot_attribution`` took under a profiler, and half the time of drawing 27
motif logos (8.2 of 16.4 s): the glyphs cost more than the figures. Here each letter's outline
is read from the font once, and the glyphs of one letter in one logo are that outline scaled and
shifted with numpy into one compound path, drawn by one collection. The geometry is
logomaker's own (:class:`logomaker.Glyph` defaults: bold sans, width 0.95, no wider than an
``E``, flipped below zero, biggest on top), so the pictures are the same; logomaker's colours.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..sequences import ALPHABET

#: Width of a glyph in positions, logomaker's :class:`~logomaker.Glyph` default.
WIDTH = 0.95


@lru_cache(maxsize=None)
def letter_outline(letter: str) -> tuple[np.ndarray, np.ndarray, float]:
    """The outline of ``letter`` in logomaker's font, fitted to the unit square.

    Returns
    -------
    vertices : numpy.ndarray
        ``(V, 2)`` outline vertices, their extents ``[0, 1] x [0, 1]``.
    codes : numpy.ndarray
        ``(V,)`` path codes.
    width : float
        Fraction of a glyph's box the letter fills: letters narrower than ``E`` (``T``) are
        not stretched wider than it, as logomaker's ``dont_stretch_more_than`` does.
    """
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath

    font = FontProperties(family="sans", weight="bold")
    path = TextPath((0, 0), letter, size=1, prop=font)
    box, widest = path.get_extents(), TextPath((0, 0), "E", size=1, prop=font).get_extents()
    vertices = (path.vertices - [box.xmin, box.ymin]) / [box.width, box.height]
    return vertices, path.codes, min(1.0, box.width / widest.width)


def stack(values: np.ndarray) -> np.ndarray:
    """Where each glyph starts: ``(L, 4)`` floors of a logo of ``values`` ``(L, 4)``, stacked
    as logomaker does (ascending, the most negative at the bottom, the biggest on top)."""
    order = np.argsort(values, axis=1)
    heights = np.abs(np.take_along_axis(values, order, axis=1))
    below = np.minimum(values, 0).sum(axis=1, keepdims=True)
    floors = np.empty_like(values)
    np.put_along_axis(floors, order, below + np.cumsum(heights, axis=1) - heights, axis=1)
    return floors


def draw_logo(ax, values, start: int = 0) -> tuple[float, float]:
    """Draw a logo of ``values`` ``(L, 4)`` (one column per base of ``ALPHABET``) on ``ax``,
    position ``i`` at x ``start + i``, with a baseline at 0.

    Each letter is one collection whose ``gid`` is the letter; its path holds that letter's
    glyphs of nonzero height in position order, each with the vertices of
    :func:`letter_outline`. The axes' limits are left alone.

    Returns
    -------
    (float, float)
        The bottom and top of the stacks: the y-limits logomaker would set.
    """
    from logomaker.src.colors import get_color_dict
    from matplotlib.collections import PathCollection
    from matplotlib.path import Path

    values = np.asarray(values, dtype=np.float64)
    floors = stack(values)
    colors = get_color_dict("classic", ALPHABET)
    left = start + np.arange(len(values)) - WIDTH / 2
    for k, letter in enumerate(ALPHABET):
        drawn = values[:, k] != 0
        if not drawn.any():
            continue
        unit, codes, width = letter_outline(letter)
        height = values[drawn, k][:, None]
        # A glyph below zero is flipped upside down: its top edge lies on its floor.
        rise = np.where(height < 0, 1 - unit[None, :, 1], unit[None, :, 1])
        x = left[drawn, None] + WIDTH * ((1 - width) / 2 + width * unit[None, :, 0])
        y = floors[drawn, k][:, None] + np.abs(height) * rise
        path = Path(np.stack([x, y], axis=-1).reshape(-1, 2), np.tile(codes, len(height)))
        ax.add_collection(PathCollection([path], facecolors=[colors[letter]], linewidths=0,
                                         gid=letter), autolim=False)
    ax.axhline(0, color="black", linewidth=0.5, zorder=-1)
    tops = floors + np.abs(values)
    return float(floors.min(initial=0.0)), float(tops.max(initial=0.0))
