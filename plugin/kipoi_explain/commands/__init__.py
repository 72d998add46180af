"""Every command of the library, each declared once (:class:`~kipoi_explain.commands.Command`):
the command line, the server and the client are made from these declarations.

To add a command, write its module here (the library function it runs, its parameters, its
sub-command's ``main``), add its writer to :mod:`kipoi_explain.writers`, and list it below;
results travel by the generic codec, so the wire format needs no change unless the result is a
new dataclass (add it to :data:`kipoi_explain.codec.RECORD_TYPES`).
"""
from __future__ import annotations

from .attention import ATTENTION
from .base import Command, CommandLine, Param
from .diagnose import DIAGNOSE
from .entities import ENTITIES
from .evaluate import EVALUATE
from .experiments import MARGINALIZE, SPACING
from .explain import EXPLAIN
from .hits import HITS
from .info import CommandInfo, ModelInfo, ParamInfo, model_info
from .modisco import MODISCO
from .motifs import MOTIFS
from .predict import PREDICT
from .score_vcf import SCORE_VARIANTS
from .screen import INSERTION, SCREEN

#: Every command, by name, in the order the command line lists them.
COMMANDS = {command.name: command for command in (
    PREDICT, EXPLAIN, MOTIFS, MODISCO, SCORE_VARIANTS, DIAGNOSE, ATTENTION, ENTITIES, SCREEN,
    INSERTION, MARGINALIZE, SPACING, HITS, EVALUATE)}

__all__ = ["COMMANDS", "Command", "CommandInfo", "CommandLine", "ModelInfo", "Param",
           "ParamInfo", "command_info", "get", "model_info"]


def get(name: str) -> Command:
    """The command ``name``, or an InputError listing the commands."""
    from ..errors import InputError

    if name not in COMMANDS:
        raise InputError(f"command {name!r}: expected one of {', '.join(COMMANDS)}")
    return COMMANDS[name]


def command_info(command: Command) -> CommandInfo:
    """A command's declaration, as a server lists it."""
    defaults = command.defaults()
    return CommandInfo(command.name, command.help, list(command.accepts), command.samples,
                       [ParamInfo(p.name, p.kind.name, defaults.get(p.name), p.help)
                        for p in command.params])
