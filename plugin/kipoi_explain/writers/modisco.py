"""Input files for TF-MoDISco-lite: ``modisco motifs -s onehot.npz -a hypothetical.npz``."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from ..results import Attribution


def write_modisco(result: Attribution, outdir) -> tuple[Path, Path]:
    """Write ``onehot.npz`` and ``hypothetical.npz``, each ``(N, 4, L)`` under key ``arr_0``.

    Returns
    -------
    (Path, Path)
        The two files written.

    Raises
    ------
    InputError
        If the method produced no hypothetical contributions (ISM).
    """
    if result.hypothetical is None:
        raise InputError(f"method {result.method!r} gives no hypothetical contributions, which "
                         "TF-MoDISco needs; use deepshap, deeplift, integrated_gradients, "
                         "expected_gradients, grad_x_input or saliency")
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = outdir / "onehot.npz", outdir / "hypothetical.npz"
    for path, array in zip(paths, (result.inputs, result.hypothetical)):
        np.savez_compressed(path, np.ascontiguousarray(array.transpose(0, 2, 1)))
    return paths
