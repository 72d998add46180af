"""Optional packages: each comes with an install extra, and a missing one is an error naming
it."""
from __future__ import annotations

import importlib

from .errors import MissingDependency

#: The install extra that brings each optional package.
EXTRAS = {"torch": "torch", "tensorflow": "keras", "keras": "keras", "grpc": "serve",
          "ray": "ray"}


def require_package(package: str, purpose: str):
    """Import ``package``, or raise :class:`MissingDependency` saying ``purpose`` needs it and
    which extra installs it."""
    try:
        return importlib.import_module(package)
    except ImportError as err:
        top = package.split(".")[0]
        # A package of the base install (kipoi) is repaired by installing kipoi-explain again.
        extra = f"[{EXTRAS[top]}]" if top in EXTRAS else ""
        raise MissingDependency(f"{purpose} needs {top}, which is not installed ({err}): "
                                f"pip install 'kipoi-explain{extra}'") from None
