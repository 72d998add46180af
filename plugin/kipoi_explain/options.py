"""Options of the library's pluggable functions (methods, entity methods, checks): the keyword
arguments each takes, read from its signature, so a function's defaults are said once."""
from __future__ import annotations

import inspect
from typing import Callable

from .errors import InputError


def keyword_defaults(function: Callable) -> dict:
    """The keyword options ``function`` takes, with their defaults."""
    return {name: p.default for name, p in inspect.signature(function).parameters.items()
            if p.default is not inspect.Parameter.empty}


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
        raise InputError(f"{what} {name!r}: expected one of {', '.join(choices)}")
    allowed = keyword_defaults(choices[name])
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise InputError(f"option(s) {', '.join(unknown)} do not apply to {what} {name!r}; "
                         f"it takes {', '.join(allowed) or 'none'}")
    return allowed
