"""An :class:`~kipoi_explain.results.AttentionMaps` as one self-describing HDF5 file, and a PNG
heat map of it with both axes in base coordinates of the input.

HDF5 layout: datasets ``maps`` ``(N, layers, heads, queries, keys)`` float32 (unreduced),
``reduced`` float32, ``layers``, ``heads``, ``query`` ``(N,)`` (the query token of each
sequence, when a query position was given), ``predictions``, ``inputs`` (one-hot, A, C, G, T),
``names``; groups ``query_tokens`` and ``key_tokens`` (``spans`` ``(T, 2)`` half-open input
spans, -1 for a token no base reaches, ``centers`` ``(T,)``, attribute ``source``: how the
positions were found) and, for sequences read from BED intervals, ``intervals`` (``chrom``,
``start``, ``end``, ``name``, ``strand``, ``reverse``) and ``genome_spans`` (``queries``
``(N, Tq, 2)`` and ``keys`` ``(N, Tk, 2)`` genome coordinates of each token, -1 without
bases). Attributes: ``content`` (``"attention maps"``), ``reduce``, ``settings`` and ``model``
(JSON; the model entry holds its weight fingerprint) and ``version``.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .._version import __version__
from ..attention_maps.positions import TokenPositions
from ..attention_maps.reductions import reduce_maps
from ..results import AttentionMaps
from .figures import pyplot
from .hdf5 import as_text, jsonable, read_intervals, write_intervals

#: Value of the ``content`` attribute that marks a file of :func:`write_attention_hdf5`.
CONTENT = "attention maps"
_TOKEN_GROUPS = {"query_positions": "query_tokens", "key_positions": "key_tokens"}


def write_attention_hdf5(result: AttentionMaps, path) -> Path:
    """Write ``result`` to ``path`` (overwritten), compressed; returns the path."""
    import h5py

    path = Path(path)
    maps = np.asarray(result.maps, dtype=np.float32)
    with h5py.File(path, "w") as out:
        # One chunk per (sequence, layer, head) map: a reader pulls one map without
        # decompressing the others.
        out.create_dataset("maps", data=maps, compression="gzip",
                           chunks=(1, 1, 1, *maps.shape[3:]))
        out.create_dataset("reduced", data=np.asarray(result.reduced, dtype=np.float32),
                           compression="gzip")
        out.create_dataset("layers", data=list(result.layers), dtype=h5py.string_dtype())
        out.create_dataset("heads", data=np.asarray(result.heads, dtype=np.int64))
        if result.query is not None:
            out.create_dataset("query", data=np.asarray(result.query, dtype=np.int64))
        for attribute, name in _TOKEN_GROUPS.items():
            tokens = getattr(result, attribute)
            group = out.create_group(name)
            group.create_dataset("spans", data=np.asarray(tokens.spans, dtype=np.int64))
            group.create_dataset("centers", data=np.asarray(tokens.centers, dtype=np.float64))
            group.attrs["source"] = tokens.source
        out.create_dataset("predictions", data=np.asarray(result.predictions),
                           compression="gzip")
        out.create_dataset("inputs", data=np.asarray(result.inputs, dtype=np.float32),
                           compression="gzip")
        out.create_dataset("names", data=np.array(result.names, dtype=object),
                           dtype=h5py.string_dtype())
        if result.intervals is not None:
            write_intervals(out.create_group("intervals"), result.intervals)
            spans = out.create_group("genome_spans")
            for name, keys in (("queries", False), ("keys", True)):
                spans.create_dataset(name, data=np.stack(
                    [result.genome_spans(i, keys=keys) for i in range(len(result))]))
        out.attrs["content"] = CONTENT
        out.attrs["reduce"] = json.dumps(result.reduce)
        out.attrs["settings"] = json.dumps(result.settings, default=jsonable)
        out.attrs["model"] = json.dumps(result.model, default=jsonable)
        out.attrs["version"] = __version__
    return path


def read_attention_hdf5(path) -> AttentionMaps:
    """Read back a file written by :func:`write_attention_hdf5`.

    Raises
    ------
    ValueError
        If the file holds no attention maps (e.g. an attribution file).
    """
    import h5py

    with h5py.File(path, "r") as src:
        if src.attrs.get("content") != CONTENT:
            raise ValueError(f"{path}: not an attention map file of kipoi-explain (no "
                             f"'content' attribute {CONTENT!r})")
        tokens = {attribute: TokenPositions(src[name]["spans"][()], src[name]["centers"][()],
                                            as_text(src[name].attrs["source"]))
                  for attribute, name in _TOKEN_GROUPS.items()}
        return AttentionMaps(
            maps=src["maps"][()], layers=[as_text(v) for v in src["layers"][()]],
            heads=[int(h) for h in src["heads"][()]], reduce=json.loads(src.attrs["reduce"]),
            reduced=src["reduced"][()], query=src["query"][()] if "query" in src else None,
            predictions=src["predictions"][()], inputs=src["inputs"][()],
            names=[as_text(v) for v in src["names"][()]],
            intervals=read_intervals(src["intervals"]) if "intervals" in src else None,
            settings=json.loads(src.attrs["settings"]), model=json.loads(src.attrs["model"]),
            **tokens)


def plot_attention(result: AttentionMaps, path, indices=None, max_sequences: int = 4,
                   dpi: int = 120) -> Path:
    """Draw attention heat maps (queries down, keys across, both at their tokens' centre bases)
    and save them as PNG.

    Each sequence gets one row of panels: with ``reduce`` ``mean`` or ``rollout`` one panel,
    with ``layers`` one per head (mean over layers), otherwise one per layer (mean over heads).
    With a query position the query is marked on both axes, and a line plot below the maps
    shows the query token's row over the key tokens' base positions. Tokens no input base
    reaches (a learnt bias key) have no base position and are left out of the picture.

    Parameters
    ----------
    result : AttentionMaps
    path : str or Path
        Output PNG.
    indices : list of int, optional
        Which sequences to draw; default the first ``max_sequences``.
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

    if indices is None:
        indices = range(min(max_sequences, len(result)))
    indices = list(indices)
    how, labels = _panels(result)
    queries = _query_bases(result)
    q_kept, _, q_edges, q_label, q_bases = _axis(result.query_positions, "query")
    k_kept, k_coords, k_edges, k_label, k_bases = _axis(result.key_positions, "key")
    rows_per_sequence = 1 if queries is None else 2
    fig = plt.figure(layout="constrained", dpi=dpi,
                     figsize=(min(max(0.6 + 3.6 * len(labels), 6.0), 40.0),
                              (3.6 + 1.8 * (rows_per_sequence - 1)) * len(indices)))
    grid = fig.add_gridspec(rows_per_sequence * len(indices), len(labels),
                            height_ratios=[3.0, 1.4][:rows_per_sequence] * len(indices))
    for row, i in enumerate(indices):
        panels = reduce_maps(result.maps[i:i + 1], how)[0]
        panels = panels[None] if panels.ndim == 2 else panels
        panels = panels[:, q_kept][:, :, k_kept]
        top = float(panels.max()) or 1.0
        where = f" ({result.intervals[i]})" if result.intervals else ""
        if queries is not None:
            # The query as a base where the axes are bases, else as its token.
            token = int(result.query[i])
            mark_y = queries[i] if q_bases else token
            mark_x = queries[i] if k_bases else token
        heat_axes = []
        for p, label in enumerate(labels):
            ax = fig.add_subplot(grid[rows_per_sequence * row, p])
            image = ax.pcolormesh(k_edges, q_edges, panels[p], cmap="viridis", vmin=0,
                                  vmax=top, rasterized=True)
            ax.set_xlim(k_edges[0], k_edges[-1])
            ax.set_ylim(q_edges[-1], q_edges[0])
            ax.set_title(f"{result.names[i]}{where}\n{label}" if p == 0 else f"\n{label}",
                         fontsize=9, loc="left")
            ax.set_xlabel(k_label, fontsize=8)
            if p == 0:
                ax.set_ylabel(q_label, fontsize=8)
            if queries is not None:
                ax.axhline(mark_y, color="white", linestyle="--", linewidth=0.8)
                ax.axvline(mark_x, color="white", linestyle=":", linewidth=0.8)
            heat_axes.append(ax)
        fig.colorbar(image, ax=heat_axes, pad=0.01, fraction=0.04, label="attention")
        if queries is not None:
            line_ax = fig.add_subplot(grid[rows_per_sequence * row + 1, :])
            # The query token is the one centred nearest the query base, so it has bases.
            query_row = int(np.flatnonzero(q_kept == token)[0])
            for p, label in enumerate(labels):
                line_ax.plot(k_coords, panels[p, query_row], linewidth=1, label=label)
            line_ax.axvline(mark_x, color="black", linestyle="--", linewidth=0.8,
                            label=f"query base {queries[i]}")
            line_ax.set_xlim(k_edges[0], k_edges[-1])
            line_ax.set_xlabel(k_label, fontsize=8)
            line_ax.set_ylabel("attention of\nthe query", fontsize=8)
            line_ax.legend(fontsize=7, loc="upper right", ncols=min(len(labels) + 1, 4))
    fig.suptitle(f"{result.model.get('name', 'model')}: attention of "
                 f"{', '.join(result.layers)}\nheads {', '.join(map(str, result.heads))}",
                 fontsize=10)
    path = Path(path)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def _panels(result: AttentionMaps) -> tuple[str, list[str]]:
    """The reduction drawn and one label per panel it leaves."""
    if result.reduce == "mean":
        return "mean", ["mean over layers and heads"]
    if result.reduce == "rollout":
        return "rollout", [f"rollout over {len(result.layers)} layer(s)"]
    if result.reduce == "layers":
        return "layers", [f"head {h}, mean over layers" for h in result.heads]
    return "heads", [f"{layer}, mean over heads" for layer in result.layers]


def _query_bases(result: AttentionMaps) -> np.ndarray | None:
    """The query base position of each sequence, when one was given."""
    query = result.settings.get("query")
    if query is None or result.query is None:
        return None
    return np.broadcast_to(np.asarray(query), (len(result),))


def _axis(tokens: TokenPositions, which: str):
    """Tokens drawn (those with bases), their coordinates, cell edges, axis label and whether
    the coordinates are bases: the tokens' centre bases, or token indices when the centres do
    not increase (then cells cannot be centred on them)."""
    kept = np.flatnonzero(np.isfinite(tokens.centers))
    centers = tokens.centers[kept]
    if len(centers) > 1 and np.all(np.diff(centers) > 0):
        middle = (centers[1:] + centers[:-1]) / 2
        edges = np.concatenate([[2 * centers[0] - middle[0]], middle,
                                [2 * centers[-1] - middle[-1]]])
        return kept, centers, edges, f"{which} token centre (base of the input)", True
    edges = np.concatenate([kept - 0.5, kept[-1:] + 0.5])
    return kept, kept.astype(float), edges, f"{which} token", False
