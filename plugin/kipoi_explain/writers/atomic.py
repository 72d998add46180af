"""Files written whole or not at all: under a ``.partial`` name, renamed when complete and
removed when the writing fails, so an interrupted run never leaves a file that looks
finished."""
from __future__ import annotations

import contextlib
import os
from pathlib import Path


def partial_path(path) -> Path:
    """Where ``path`` is written until it is complete."""
    path = Path(path)
    return path.with_name(path.name + ".partial")


def finish(partial: Path, path, ok: bool) -> None:
    """Rename a complete ``partial`` to ``path``; remove it when the writing failed."""
    if ok:
        os.replace(partial, path)
    else:
        Path(partial).unlink(missing_ok=True)


@contextlib.contextmanager
def replaced(path):
    """``with replaced(path) as partial:`` write ``partial``; ``path`` appears when the block
    ends without an error."""
    partial = partial_path(path)
    ok = False
    try:
        yield partial
        ok = True
    finally:
        finish(partial, path, ok)
