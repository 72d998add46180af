"""``.npy`` files read safely: no pickled objects (which would run code), and a file numpy
cannot read is a one-line error naming it."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import InputError


def read_npy(path, what: str = "array file") -> np.ndarray:
    """The array in the ``.npy`` file ``path``.

    Raises
    ------
    InputError
        Naming the file (as ``what``) when it does not exist, is not a ``.npy`` file, is
        truncated, or holds pickled objects.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} {str(path)!r} does not exist")
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as err:
        reason = "it holds pickled Python objects, which are not loaded" \
            if "pickle" in str(err) else str(err).splitlines()[0]
        raise InputError(f"{what} {str(path)!r} cannot be read as .npy: {reason}") from None
    except (OSError, EOFError) as err:
        raise InputError(f"{what} {str(path)!r} cannot be read as .npy: {err}") from None
