"""Cooperative cancellation: long work asks, between blocks, whether its caller still wants it.

A caller that can give up (a server request past its deadline, a cancelled client) runs the
library under :func:`cancellable` with a check that raises when the work is no longer wanted;
the batching engine calls :func:`checkpoint` before every block, so every method, diagnostic
and screen stops within one block of model work. Outside :func:`cancellable` a checkpoint
costs one context-variable read.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Callable, Iterator

_CHECK: ContextVar[Callable[[], None] | None] = ContextVar("kipoi_explain_cancel_check",
                                                           default=None)


@contextmanager
def cancellable(check: Callable[[], None]) -> Iterator[None]:
    """Run the body with ``check`` called at every :func:`checkpoint` (in this thread);
    ``check`` raises the caller's own exception to stop the work."""
    token = _CHECK.set(check)
    try:
        yield
    finally:
        _CHECK.reset(token)


def checkpoint() -> None:
    """Stop here if the work running in this thread has been given up."""
    check = _CHECK.get()
    if check is not None:
        check()
