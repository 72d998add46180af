"""Options of the library's pluggable functions (methods, entity methods, checks): the keyword
arguments each takes, read from its signature, so a function's defaults are said once."""
from __future__ import annotations

import inspect
from typing import Callable

from .errors import InputError, quoted


#: Keywords that say where samples sit in the whole set they belong to (see
#: :mod:`kipoi_explain.draws`): set by whoever splits the work, never an option of a method.
PLACEMENT = ("sample_index",)


def keyword_defaults(function: Callable) -> dict:
    """The keyword options ``function`` takes, with their defaults (not :data:`PLACEMENT`)."""
    return {name: p.default for name, p in inspect.signature(function).parameters.items()
            if p.default is not inspect.Parameter.empty and name not in PLACEMENT}


def takes(function: Callable, name: str) -> bool:
    """Whether ``function`` has a parameter ``name``."""
    return name in inspect.signature(function).parameters


def checked_options(what: str, choices: dict, name: str, options: dict) -> dict:
    """Check that ``name`` is one of ``choices`` and takes every one of ``options``.

    Returns
    -------
    dict
        Every option of ``choices[name]`` with its default.

    Raises
    ------
    InputError
        Naming the unknown ``what`` (e.g. "method") or the options it does not take.
    """
    if name not in choices:
        raise InputError(f"{what} {quoted(name)}: expected one of {', '.join(choices)}")
    allowed = keyword_defaults(choices[name])
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise InputError(f"option(s) {', '.join(unknown)} do not apply to {what} {name!r}; "
                         f"it takes {', '.join(allowed) or 'none'}")
    return allowed
