"""Why a model's files cannot be loaded, said in one line naming the file: what a framework or
Kipoi raises on a truncated, corrupt or missing file is rarely that (a corrupt ``.keras`` zip
is "File not found", a truncated ``.pt`` is "Invalid argument")."""
from __future__ import annotations

import os
import zipfile

from ..errors import InputError

#: The longest part of a library's own message quoted in ours.
QUOTED = 300


def check_weights_file(path, where: str) -> None:
    """Refuse, naming it, a weights file that cannot hold what its suffix says: missing,
    empty, or a ``.keras`` that is no zip archive (Keras 3 files are zips)."""
    name = os.path.basename(str(path))
    if not os.path.isfile(path):
        raise InputError(f"{where}: file {name!r} does not exist")
    if os.path.getsize(path) == 0:
        raise InputError(f"{where}: file {name!r} is empty")
    if str(path).endswith(".keras") and not zipfile.is_zipfile(path):
        raise InputError(f"{where}: file {name!r} is not a .keras archive (a zip file): it is "
                         "truncated or corrupt")


def load_error(where: str, err: BaseException, file: str | None = None) -> InputError:
    """The one-line error for a model that failed to load with ``err``: the file when it is
    known (a syntax error's, a missing file's, else ``file``), and the library's words."""
    if isinstance(err, SyntaxError) and err.filename:
        return InputError(f"{where}: {os.path.basename(err.filename)}, line {err.lineno}: "
                          f"{err.msg}")
    if isinstance(err, FileNotFoundError) and err.filename:
        return InputError(f"{where}: file {os.path.basename(str(err.filename))!r} does not "
                          "exist")
    words = next((line.strip() for line in str(err).splitlines() if line.strip()), "")
    words = words if len(words) <= QUOTED else words[:QUOTED] + "..."
    what = f"{type(err).__name__}: {words}" if words else type(err).__name__
    return InputError(f"{where}: {f'{file!r} ' if file else ''}cannot be loaded ({what})")
