"""Motifs as a MEME-format file, readable by the MEME suite and memelite.

memelite's own writer drops the site counts (``nsites= 1``) and the background; this one keeps
both, and names each motif's best significant database match as its alternate name.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..motif.matrices import UNIFORM
from ..results import Motif


def write_meme(motifs: list[Motif], path, background: np.ndarray = UNIFORM,
               max_q: float = 0.05) -> Path:
    """Write frequency matrices of ``motifs`` to ``path`` (MEME version 4, DNA, both strands)."""
    lines = ["MEME version 4", "", "ALPHABET= ACGT", "", "strands: + -", "",
             "Background letter frequencies",
             " ".join(f"{b} {p:.4g}" for b, p in zip("ACGT", background)), ""]
    for motif in motifs:
        best = motif.best
        alternate = f" {best.name.replace(' ', '_')}" \
            if best is not None and best.q_value <= max_q else ""
        lines.append(f"MOTIF {motif.name.replace(' ', '_')}{alternate}")
        lines.append(f"letter-probability matrix: alength= 4 w= {len(motif.pfm)} "
                     f"nsites= {max(motif.n_sites, 1)} E= 0")
        lines.extend(" ".join(f"{p:.6f}" for p in row) for row in motif.pfm)
        lines.append("")
    path = Path(path)
    path.write_text("\n".join(lines))
    return path
