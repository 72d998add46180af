"""Exceptions that name what was wrong, where, and what was expected."""


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


class MissingDependency(ImportError):
    """An optional package the request needs is not installed; the message names the
    ``pip install 'kipoi-explain[EXTRA]'`` that brings it."""
