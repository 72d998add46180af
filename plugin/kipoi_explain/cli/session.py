"""Where a sub-command runs its command: in this process, or on a ``--remote`` server.

Both sessions answer the same two things, whatever the command: what the model is
(:class:`~kipoi_explain.commands.ModelInfo`, to read samples for it) and ``run(command,
samples, **options)``, which returns the library's own result. A sub-command is written once,
against :class:`Session`, and writes the same files either way.
"""
from __future__ import annotations

import os
from abc import ABC, abstractmethod
from pathlib import Path

from ..commands.base import Command
from ..commands.info import ModelInfo
from ..errors import InputError
from ..requirements import require_package
from .arguments import TOKEN_VARIABLE


class Session(ABC):
    """A model to run commands on, and where they run."""

    info: ModelInfo

    @abstractmethod
    def run(self, command: Command, samples=None, **options):
        """The result of ``command`` (a stream of results for a streaming one)."""

    @abstractmethod
    def describe(self) -> dict:
        """The model's description, as results record it."""

    def close(self) -> None:
        pass

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class LocalSession(Session):
    """The library, on a model loaded in this process."""

    def __init__(self, args):
        from ..backends import load_model
        from ..commands.info import model_info

        self.args = args
        self.model = load_model(args.model, zoo=args.zoo, device=args.device,
                                batch_size=args.batch_size)
        self.info = model_info(self.model)

    def run(self, command: Command, samples=None, **options):
        # With "auto", the model's own block size (set when it was loaded) applies.
        batch_size = None if self.args.batch_size == "auto" else self.args.batch_size
        options = command.resolve(options, "on_local", self)
        return command.function(self.model, samples, batch_size=batch_size,
                                progress=not self.args.no_progress, **options)

    def describe(self) -> dict:
        return self.model.describe()

    def load(self, source):
        """Another model named on the command line (diagnose's ``--free-model``)."""
        from ..backends import load_model

        return load_model(source, device=self.args.device, batch_size=self.args.batch_size)


class RemoteSession(Session):
    """The same commands answered by a kipoi-explain server, through
    :class:`kipoi_explain.client.Client`; results are the library's own objects."""

    def __init__(self, args):
        require_package("grpc", "--remote")
        from ..client import Client

        refused = [flag for flag, value in (("--zoo", args.zoo), ("--device", args.device),
                                            ("--batch-size", args.batch_size))
                   if value is not None]
        if refused:
            raise InputError(f"{', '.join(refused)}: the server's to set, not given with "
                             "--remote")
        if args.tls_ca is not None and not Path(args.tls_ca).is_file():
            raise InputError(f"--tls-ca {args.tls_ca!r}: no such file")
        self.client = Client(args.remote, token=args.token or os.environ.get(TOKEN_VARIABLE),
                             root_certificates=args.tls_ca, timeout=args.timeout)
        try:
            self.info = self.client.model_info(args.model)
        except BaseException:
            self.client.close()
            raise

    def run(self, command: Command, samples=None, **options):
        return self.client.run(command.name, self.info.name, samples, **options)

    def describe(self) -> dict:
        return {**self.info.as_dict(), "server": self.client.address}

    def close(self) -> None:
        self.client.close()


def open_session(args) -> Session:
    """The session the arguments ask for: ``--remote HOST:PORT``, else this process."""
    if args.remote:
        return RemoteSession(args)
    given = [flag for flag, value in (("--token", args.token), ("--tls-ca", args.tls_ca),
                                      ("--timeout", args.timeout)) if value is not None]
    if given:
        raise InputError(f"{', '.join(given)} appl(y/ies) only with --remote HOST:PORT")
    return LocalSession(args)
