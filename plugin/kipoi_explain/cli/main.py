"""``kipoi-explain`` entry point: one sub-command per capability."""
from __future__ import annotations

import argparse
import sys

import grpc

from .. import __version__
from ..errors import InputError, UnsupportedOperation
from . import attention, diagnose, entities, explain, motifs, score_vcf, screen
from .common import RemoteError

COMMANDS = {"explain": explain, "motifs": motifs, "score-vcf": score_vcf, "diagnose": diagnose,
            "attention": attention, "entities": entities, "screen": screen}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kipoi-explain",
        description="Explain trained DNA sequence models (Kipoi, PyTorch, Keras): attribution "
                    "maps, in-silico mutagenesis, DeepLIFT/DeepSHAP, filter and seqlet "
                    "motifs, variant effects, diagnoses of which explanations to trust, "
                    "attention maps of transformers, and entity importance in transparent "
                    "models.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in COMMANDS.items():
        module.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status: 0 ok, 2 bad input or unsupported model (with
    ``--remote``: a request the server refused, e.g. INVALID_ARGUMENT, NOT_FOUND,
    UNAUTHENTICATED), 3 a server that failed or could not be reached (UNAVAILABLE, INTERNAL,
    RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED, ...). ``diagnose --fail-on`` exits with 1."""
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command].run(args)
    except (InputError, UnsupportedOperation) as err:
        print(f"kipoi-explain {args.command}: error: {err}", file=sys.stderr)
        return 2
    except (RemoteError, grpc.RpcError) as err:
        if isinstance(err, grpc.RpcError):
            err = RemoteError.from_rpc(err)
        print(f"kipoi-explain {args.command}: error: {err}", file=sys.stderr)
        return err.exit_status


def cli_main(command: str, raw_args: list[str]) -> None:
    """Kipoi's plugin hook: ``kipoi explain ARGS`` runs ``kipoi-explain explain ARGS``, and
    ``kipoi explain attention ARGS`` (any other sub-command) runs ``kipoi-explain attention
    ARGS``."""
    if raw_args and raw_args[0] in COMMANDS and raw_args[0] != command:
        sys.exit(main(raw_args))
    sys.exit(main([command, *raw_args]))


def console() -> None:
    sys.exit(main())
