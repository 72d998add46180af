"""Exceptions that name what was wrong, where, and what was expected."""
from __future__ import annotations


class InputError(ValueError):
    """A sequence, interval or option the user gave cannot be used as it is.

    The message names the record (FASTA record, BED line, array index), the field, and what was
    expected, so the user can fix the input without guessing.
    """


class UnsupportedOperation(ValueError):
    """A method has no correct rule for an operation of the model.

    Raised instead of returning a silently wrong number (e.g. DeepLIFT through a functional
    nonlinearity it cannot see).
    """


class MissingCapability(InputError, UnsupportedOperation):
    """The model lacks what was asked of it (attention layers, an entity mapping): the caller
    chose a model this does not apply to, and no other option of the request can change that
    (a server answers FAILED_PRECONDITION)."""


class JobFailed(Exception):
    """A shard of a job failed for a reason other than its input (its worker died more times
    than it is restarted, a worker could not load the model): the message names the shard."""


class MissingDependency(ImportError):
    """An optional package the request needs is not installed; the message names the
    ``pip install 'kipoi-explain[EXTRA]'`` that brings it."""


#: Status codes that mean the request itself was wrong (exit status 2, like a local InputError);
#: any other code means the server failed or could not be reached (exit status 3).
REQUEST_ERRORS = frozenset({"INVALID_ARGUMENT", "NOT_FOUND", "FAILED_PRECONDITION",
                            "UNAUTHENTICATED", "PERMISSION_DENIED", "OUT_OF_RANGE"})


class RemoteError(Exception):
    """A call to a kipoi-explain server failed: its status code name and the server's words."""

    def __init__(self, code: str, details: str):
        super().__init__(f"{code}: {details}")
        self.code = code

    @classmethod
    def from_rpc(cls, err) -> RemoteError:
        """The failure a ``grpc.RpcError`` describes."""
        code = err.code() if hasattr(err, "code") else None
        details = err.details() if hasattr(err, "details") else None
        return cls(code.name if code is not None else "UNKNOWN", details or str(err))

    @property
    def exit_status(self) -> int:
        return 2 if self.code in REQUEST_ERRORS else 3


#: Characters of a caller's value an error message quotes (a value can be megabytes long).
QUOTED_CHARS = 80


def shortened(text: str, limit: int) -> str:
    """``text`` cut to its first ``limit`` characters, saying how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


def quoted(value, limit: int = QUOTED_CHARS) -> str:
    """``repr(value)``, cut to its first ``limit`` characters, saying how long it was."""
    return shortened(repr(value), limit)
