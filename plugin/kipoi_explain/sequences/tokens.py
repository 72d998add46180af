"""Token-id samples for models of tokens: arrays, ``.npy`` files, or text with one sample per
line (``name<TAB>token token ...``, tokens by name or id)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from ..npy import read_npy


def read_tokens(source, layout) -> tuple[np.ndarray, list[str]]:
    """Token ids ``(N, length)`` (float32 holding integers) and sample names.

    Parameters
    ----------
    source : array, list of lists, path
        An integer array ``(N, length)``; a list with one list of tokens (names or ids) per
        sample; a ``.npy`` file; or a text file, one sample per line: its name, a tab, then
        its tokens separated by spaces. Samples with fewer tokens than ``length`` are padded
        at the end with the pad token.
    layout : TokenLayout

    Raises
    ------
    InputError
        Naming the sample (and token) that is too long, unknown or not an integer id.
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise InputError(f"token file {str(path)!r} does not exist")
        if path.suffix == ".npy":
            return _ids(read_npy(path, "token file"), layout, None, str(path))
        names, samples = [], []
        with open(path) as handle:
            for line_no, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                name, tab, tokens = line.rstrip("\n").partition("\t")
                if not tab:
                    raise InputError(f"{path}: line {line_no}: expected the sample name, a tab, "
                                     "then its tokens separated by spaces")
                names.append(name)
                samples.append(tokens.split())
        if not samples:
            raise InputError(f"{path}: no samples")
        return _lists(samples, layout, names, str(path))
    if isinstance(source, np.ndarray):
        return _ids(source, layout, None, "the input array")
    if isinstance(source, (list, tuple)) and source and isinstance(source[0], (list, tuple)):
        return _lists(list(source), layout, None, "the input list")
    return _ids(np.asarray(source), layout, None, "the input")


def _lists(samples, layout, names, where: str) -> tuple[np.ndarray, list[str]]:
    index = {token: i for i, token in enumerate(layout.vocabulary)}
    names = names or [f"sample{i}" for i in range(len(samples))]
    ids = np.full((len(samples), layout.length), layout.pad, dtype=np.float32)
    for row, (name, tokens) in enumerate(zip(names, samples)):
        if len(tokens) > layout.length:
            raise InputError(f"{where}: sample {name!r} has {len(tokens)} tokens; the model "
                             f"takes at most {layout.length}")
        for col, token in enumerate(tokens):
            if isinstance(token, str) and token in index:
                ids[row, col] = index[token]
            elif isinstance(token, (int, np.integer)) and 0 <= token < len(index):
                ids[row, col] = token
            else:
                raise InputError(f"{where}: sample {name!r}, token {col}: {token!r} is not in "
                                 f"the model's vocabulary of {len(index)} tokens")
    return ids, names


def _ids(x: np.ndarray, layout, names, where: str) -> tuple[np.ndarray, list[str]]:
    if x.ndim == 1:
        x = x[None]
    if x.ndim != 2 or x.shape[1] != layout.length:
        raise InputError(f"{where}: token ids of shape {x.shape}; the model takes "
                         f"(N, {layout.length})")
    if not np.issubdtype(x.dtype, np.number):
        raise InputError(f"{where}: token ids must be integers (or give lists of token names)")
    bad = (x != np.round(x)) | (x < 0) | (x >= len(layout.vocabulary))
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise InputError(f"{where}: sample {row}, token {col}: {x[row, col].item()!r} is not a token "
                         f"id (an integer 0 <= id < {len(layout.vocabulary)})")
    return x.astype(np.float32), names or [f"sample{i}" for i in range(len(x))]
