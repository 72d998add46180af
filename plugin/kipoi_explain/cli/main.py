"""``kipoi-explain`` entry point: one sub-command per declared command
(:mod:`kipoi_explain.commands`), its options made from the declaration."""
from __future__ import annotations

import argparse
import functools
import os
import sys
from pathlib import Path

from .. import __version__
from ..commands import COMMANDS
from ..commands.base import Command, CommandLine
from ..commands.kinds import Flag, Text
from ..errors import InputError, JobFailed, MissingDependency, RemoteError, UnsupportedOperation
from ..options import keyword_defaults
from ..stages import Stages
from .arguments import (add_input_arguments, add_job_arguments, add_model_arguments,
                        add_sequence_arguments, add_verbose_argument)
from .quiet import silence
from .session import JobSession, open_session

#: The sub-commands, by name: each command's command line(s).
SUBCOMMANDS = {line.name: (command, line) for command in COMMANDS.values()
               for line in command.command_lines}
#: The sub-command that writes a job array's outputs.
MERGE = "merge"


#: The program's name in usage lines and error messages.
PROG = "kipoi-explain"


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """The parser; ``prog`` is how the program was called (``kipoi`` for ``kipoi explain``, of
    which ``explain`` is then read as the sub-command)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Explain trained DNA sequence models (Kipoi, PyTorch, Keras): attribution "
                    "maps, in-silico mutagenesis, DeepLIFT/DeepSHAP, filter and seqlet "
                    "motifs, variant effects, diagnoses of which explanations to trust, "
                    "attention maps of transformers, and entity importance in transparent "
                    "models.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    parser.set_defaults(subcommands=subparsers.choices)
    for command, line in SUBCOMMANDS.values():
        _add_subcommand(subparsers, command, line)
    merge = subparsers.add_parser(
        MERGE, help="write the outputs of a job whose shards a job array computed",
        description="Write the outputs of the job in WORK_DIR, made by a job array's tasks "
                    "(--num-shards K --shard-index I): the command each task ran, with every "
                    "shard read from WORK_DIR instead of computed. Refused while any shard is "
                    "not done.")
    merge.add_argument("work_dir", metavar="WORK_DIR")
    merge.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_verbose_argument(merge)
    return parser


def _add_subcommand(subparsers, command: Command, cli: CommandLine) -> None:
    parser = subparsers.add_parser(cli.name, help=command.help, description=cli.description)
    parser.set_defaults(declared=command, line=cli)
    groups = {"remote server": add_model_arguments(parser)}
    if cli.samples in ("sequences", "inputs"):
        add_sequence_arguments(parser)
    if cli.samples == "inputs":
        add_input_arguments(parser)
    elif command.extra_inputs and "inputs" not in cli.omit:
        add_input_arguments(parser, samples=False)
    if cli.job:
        add_job_arguments(parser)
    defaults = command.defaults()
    for param in cli.options(command):
        if not param.cli:
            continue
        if param.group is not None and param.group not in groups:
            groups[param.group] = parser.add_argument_group(param.group)
        where = groups.get(param.group, parser)
        shown = _default_help(command, param, defaults)
        options = {"dest": param.name, "help": param.help + shown, "default": param.default}
        if isinstance(param.kind, Flag):
            options["action"] = "store_true"
        else:
            options.update(type=param.kind.native, metavar=param.metavar)
            if isinstance(param.kind, Text) and param.kind.choices:
                options["choices"] = param.kind.choices
        if param.required:
            options["required"] = True
        where.add_argument(*param.cli_flags, **options)


def _default_help(command: Command, param, defaults: dict) -> str:
    """`` (default: X)`` for an option's help: the library function's default, a sub-command's
    own option's, or, for an option the function passes on to the attribution methods, the
    defaults of the methods that take it."""
    if param in command.params and param.name not in defaults:
        values = list(_method_defaults().get(param.name, {}).items())
    else:
        values = [(defaults.get(param.name) if param in command.params else param.default, ())]
    values = [(value, methods) for value, methods in values
              if not (value is None or value is False or isinstance(value, tuple) and not value)]
    if not values:
        return ""
    if len(values) == 1:
        return f" (default: {values[0][0]})"
    return " (default: " + "; ".join(f"{value} with {', '.join(methods)}"
                                     for value, methods in values) + ")"


@functools.lru_cache(maxsize=None)
def _method_defaults() -> dict:
    """Each method option's defaults: option -> {default: names of the methods with it}."""
    from ..methods import METHODS
    from ..methods.tokens import TOKEN_METHODS

    found: dict = {}
    for methods in (METHODS, TOKEN_METHODS):
        for method, function in methods.items():
            label = method if methods is METHODS else f"{method} (tokens)"
            for name, value in keyword_defaults(function).items():
                try:
                    hash(value)
                except TypeError:
                    continue
                names = found.setdefault(name, {}).setdefault(value, [])
                if label not in names:
                    names.append(label)
    return found


def main(argv: list[str] | None = None, prog: str = PROG, quiet: bool = False) -> int:
    """Run the CLI; returns the exit status: 0 ok, 2 bad input, unsupported model or missing
    package (with ``--remote``: a request the server refused, e.g. INVALID_ARGUMENT,
    NOT_FOUND, UNAUTHENTICATED), 3 a server that failed or could not be reached (UNAVAILABLE,
    INTERNAL, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED, ...). ``diagnose --fail-on`` exits with
    1. ``prog``: how the program was called, for usage and error lines; ``quiet`` (the
    command-line entry points): unless ``--verbose``, keep TensorFlow's and Kipoi's noise
    off stderr (:mod:`.quiet`). The command runs in :class:`~kipoi_explain.stages.Stages`
    (loading, reading, compute, writing, plotting, ...): those that last show their progress
    on stderr, and a command that ends prints where its time went as its last line."""
    from ..jobs import PartialJob

    argv = list(sys.argv[1:] if argv is None else map(str, argv))
    args = _parse(build_parser(prog), argv)
    if quiet and not args.verbose:
        silence()
    name = f"{prog} {args.command}"
    try:
        with Stages(progress=not args.no_progress) as stages:
            if args.command == MERGE:
                status = _merge(args)
            else:
                args.argv = argv
                _parse_values(args)
                with open_session(args) as session:
                    status = args.line.main(session, args)
        print(stages.summary())
        return status
    except PartialJob as done:
        print(f"{name}: {done}")
        return 0
    except (InputError, UnsupportedOperation, MissingDependency) as err:
        print(f"{name}: error: {err}", file=sys.stderr)
        return 2
    except JobFailed as err:
        print(f"{name}: error: {err}", file=sys.stderr)
        return 3
    except Exception as err:
        # A failed call to a --remote server; grpc is loaded only when one is used.
        grpc = sys.modules.get("grpc")
        if not isinstance(err, RemoteError) and not (grpc and isinstance(err, grpc.RpcError)):
            raise
        err = err if isinstance(err, RemoteError) else RemoteError.from_rpc(err)
        print(f"{name}: error: {err}", file=sys.stderr)
        return err.exit_status


def _parse(parser, argv: list[str]):
    """The parsed arguments; unknown ones are the sub-command's error (``kipoi explain:
    error: ...``, not the top parser's ``kipoi: error: ...``)."""
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        parser = args.subcommands.get(args.command, parser)
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    return args


def _merge(args) -> int:
    """``merge WORK_DIR``: the job's own command line, its shards read instead of run."""
    from ..jobs.workdir import WorkDir

    manifest = WorkDir(args.work_dir).manifest()
    argv = manifest.get("argv")
    if not argv:
        raise InputError(f"work directory {args.work_dir!r} was not made by the command line; "
                         "merge its shards with kipoi_explain.jobs.run_job(merge_only=True)")
    job = build_parser().parse_args(argv)
    job.argv, job.work_dir = argv, str(Path(args.work_dir).resolve())
    job.no_progress = job.no_progress or args.no_progress
    # The job's paths are relative to where its tasks ran.
    os.chdir(manifest["cwd"])
    _parse_values(job)
    with JobSession(job, merge_only=True) as session:
        return job.line.main(session, job)


def _parse_values(args) -> None:
    """Read the values argparse left as text (lists, windows, arrays) with their kinds, and
    check the counts of the sub-command's own."""
    command = args.declared
    for param in args.line.options(command):
        value, flag = getattr(args, param.name, None), param.cli_flags[-1]
        if not param.cli or value is None:
            continue
        if param.kind.native is None and isinstance(value, str):
            try:
                setattr(args, param.name, param.kind.parse(value))
            except InputError as err:
                raise InputError(f"{flag} {err}") from None
        minimum = getattr(param.kind, "minimum", None)
        if minimum is not None and value < minimum:
            raise InputError(f"{flag} {value}: expected at least {minimum}")


def cli_main(command: str, raw_args: list[str]) -> None:
    """Kipoi's plugin hook: ``kipoi explain ARGS`` runs ``kipoi-explain explain ARGS``, and
    ``kipoi explain attention ARGS`` (any other sub-command) runs ``kipoi-explain attention
    ARGS``."""
    if raw_args and raw_args[0] in (*SUBCOMMANDS, MERGE) and raw_args[0] != command:
        sys.exit(main(raw_args, prog=f"kipoi {command}", quiet=True))
    sys.exit(main([command, *raw_args], prog="kipoi", quiet=True))


def console() -> None:
    """``kipoi-explain`` and ``python -m kipoi_explain``."""
    sys.exit(main(quiet=True))
