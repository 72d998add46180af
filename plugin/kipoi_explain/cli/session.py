"""Where a sub-command runs its command: in this process, or on a ``--remote`` server.

Every session answers the same things, whatever the command: what the model is
(:class:`~kipoi_explain.commands.ModelInfo`, to read samples for it), ``run(command, samples,
**options)``, which returns the library's own result, and ``parts(...)``, the results of
consecutive parts of the samples. A sub-command is written once, against :class:`Session`,
and writes the same files whether it runs here, on a server, or as a job
(:class:`JobSession`: shards on an engine, kept in a work directory, merged in input order).
"""
from __future__ import annotations

import os
from abc import ABC, abstractmethod
from pathlib import Path

from ..commands.base import Command
from ..commands.info import ModelInfo
from ..errors import InputError
from ..requirements import require_package
from ..stages import stage
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

    def parts(self, command: Command, samples, size: int, **options):
        """The results of consecutive parts of ``size`` units of ``samples``, in order, each
        computed as the whole would be (its samples numbered from the part's first): what a
        writer that streams takes, so memory does not grow with the input."""
        from ..jobs.units import shards, units_of

        units = units_of(samples, command.what or command.name)
        for shard, part in units.parts(shards(units.count, size)):
            yield self.run(command, part, sample_index=shard.lo, **options)

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
        from ..evaluation.reference import named_reference, reference_model

        self.args = args
        activation = named_reference(args.model)
        with stage("loading"):
            if activation is None:
                self.model = load_model(args.model, zoo=args.zoo, device=args.device,
                                        batch_size=args.batch_size,
                                        output_layout=args.output_layout)
            else:
                # Trained on the task the command simulates (evaluate's options, where given);
                # the fit is a stage of its own, "training".
                task = {name: getattr(args, name) for name in ("positive", "negative",
                                                               "n_motifs", "length")
                        if getattr(args, name, None) is not None}
                print(f"training the reference CNN ({activation} first layer) on the "
                      "simulated task", flush=True)
                self.model = reference_model(activation, progress=not args.no_progress,
                                             **task)
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
            with stage("connecting"):
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


class JobSession(LocalSession):
    """The library in this process, its commands run as jobs (:func:`kipoi_explain.jobs.run_job`):
    shards on ``--engine``, kept in ``--work-dir``, their results merged in input order."""

    def __init__(self, args, merge_only: bool = False):
        from ..jobs import SHARD_SIZE, ModelSource
        from .arguments import JOB_OPTIONS

        if (args.num_shards is None) != (args.shard_index is None):
            raise InputError("--num-shards and --shard-index go together (task I of K of a "
                             "job array)")
        if args.num_shards is not None:
            if not 0 <= args.shard_index < args.num_shards:
                raise InputError(f"--shard-index {args.shard_index}: expected 0 to "
                                 f"{args.num_shards - 1}")
            if args.work_dir is None:
                raise InputError("--num-shards: the tasks of a job array fill one --work-dir; "
                                 "give it")
        super().__init__(args)
        self.source = ModelSource(args.model, args.zoo, args.device, args.batch_size)
        self.merge_only = merge_only
        self.shard_size = args.shard_size or SHARD_SIZE
        # What `kipoi-explain merge` runs again: the command line, but for how it ran.
        self.notes = {"argv": _without(args.argv, ("--" + name.replace("_", "-")
                                                   for name in JOB_OPTIONS
                                                   if name not in ("work_dir", "shard_size"))),
                      "cwd": os.getcwd()}

    def parts(self, command: Command, samples, size: int | None = None, **options):
        from ..jobs import run_job

        options = command.resolve(options, "on_local", self)
        args = self.args
        group = None if args.num_shards is None else (args.shard_index, args.num_shards)
        return run_job(command, self.model, samples, self.source, work_dir=args.work_dir,
                       engine_name=args.engine or "local", workers=args.workers,
                       ray_address=args.ray_address, shard_size=self.shard_size, group=group,
                       merge_only=self.merge_only, progress=not args.no_progress,
                       log=lambda note: print(f"  {note}"), notes=self.notes, **options)

    def run(self, command: Command, samples=None, **options):
        from ..jobs import merge_results

        merged = merge_results(command, self.parts(command, samples, **options))
        if command.samples == "stream":
            from ..variants.alleles import with_records

            return with_records(merged, samples)
        return merged


def _without(argv: list[str], flags) -> list[str]:
    """``argv`` without the given flags and their values."""
    flags, kept, skip = set(flags), [], False
    for item in argv:
        if skip:
            skip = False
        elif item in flags:
            skip = True
        elif item.split("=", 1)[0] not in flags:
            kept.append(item)
    return kept


def open_session(args) -> Session:
    """The session the arguments ask for: ``--remote HOST:PORT``, a job (``--engine``,
    ``--work-dir``, ``--num-shards``), else this process."""
    from .arguments import job_requested

    if args.remote:
        if job_requested(args):
            raise InputError("--remote runs the command on a server; a job (--engine, "
                             "--work-dir, --shard-size, --num-shards) runs here or on a Ray "
                             "cluster: give one or the other")
        return RemoteSession(args)
    given = [flag for flag, value in (("--token", args.token), ("--tls-ca", args.tls_ca),
                                      ("--timeout", args.timeout)) if value is not None]
    if given:
        raise InputError(f"{', '.join(given)} appl(y/ies) only with --remote HOST:PORT")
    if job_requested(args):
        return JobSession(args)
    return LocalSession(args)
