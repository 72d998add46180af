"""``kipoi-explain`` entry point: one sub-command per declared command
(:mod:`kipoi_explain.commands`), its options made from the declaration."""
from __future__ import annotations

import argparse
import sys

from .. import __version__
from ..commands import COMMANDS
from ..commands.base import Command
from ..commands.kinds import Flag, Text
from ..errors import InputError, MissingDependency, RemoteError, UnsupportedOperation
from .arguments import add_input_arguments, add_model_arguments, add_sequence_arguments
from .session import open_session

#: The sub-commands, by name.
SUBCOMMANDS = {command.cli.name: command for command in COMMANDS.values() if command.cli}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kipoi-explain",
        description="Explain trained DNA sequence models (Kipoi, PyTorch, Keras): attribution "
                    "maps, in-silico mutagenesis, DeepLIFT/DeepSHAP, filter and seqlet "
                    "motifs, variant effects, diagnoses of which explanations to trust, "
                    "attention maps of transformers, and entity importance in transparent "
                    "models.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in SUBCOMMANDS.values():
        _add_subcommand(subparsers, command)
    return parser


def _add_subcommand(subparsers, command: Command) -> None:
    cli = command.cli
    parser = subparsers.add_parser(cli.name, help=command.help, description=cli.description)
    parser.set_defaults(declared=command)
    groups = {"remote server": add_model_arguments(parser)}
    if cli.samples in ("sequences", "inputs"):
        add_sequence_arguments(parser)
    if cli.samples == "inputs":
        add_input_arguments(parser)
    elif command.extra_inputs:
        add_input_arguments(parser, samples=False)
    defaults = command.defaults()
    for param in (*command.params, *cli.params):
        if not param.cli:
            continue
        if param.group is not None and param.group not in groups:
            groups[param.group] = parser.add_argument_group(param.group)
        where = groups.get(param.group, parser)
        default = defaults.get(param.name) if param in command.params else param.default
        shown = f" (default: {default})" if default not in (None, False, ()) else ""
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


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status: 0 ok, 2 bad input, unsupported model or missing
    package (with ``--remote``: a request the server refused, e.g. INVALID_ARGUMENT,
    NOT_FOUND, UNAUTHENTICATED), 3 a server that failed or could not be reached (UNAVAILABLE,
    INTERNAL, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED, ...). ``diagnose --fail-on`` exits with
    1."""
    args = build_parser().parse_args(argv)
    try:
        _parse_values(args)
        with open_session(args) as session:
            return args.declared.cli.main(session, args)
    except (InputError, UnsupportedOperation, MissingDependency) as err:
        print(f"kipoi-explain {args.command}: error: {err}", file=sys.stderr)
        return 2
    except Exception as err:
        # A failed call to a --remote server; grpc is loaded only when one is used.
        grpc = sys.modules.get("grpc")
        if not isinstance(err, RemoteError) and not (grpc and isinstance(err, grpc.RpcError)):
            raise
        err = err if isinstance(err, RemoteError) else RemoteError.from_rpc(err)
        print(f"kipoi-explain {args.command}: error: {err}", file=sys.stderr)
        return err.exit_status


def _parse_values(args) -> None:
    """Read the values argparse left as text (lists, windows, arrays) with their kinds, and
    check the counts of the sub-command's own."""
    command = args.declared
    for param in (*command.params, *command.cli.params):
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
    if raw_args and raw_args[0] in SUBCOMMANDS and raw_args[0] != command:
        sys.exit(main(raw_args))
    sys.exit(main([command, *raw_args]))


def console() -> None:
    sys.exit(main())
