"""How a command is declared: once, for the library, the command line, the server and the
client.

A :class:`Command` names the library function it runs, the samples it takes, its parameters
(:class:`Param`: the library keyword, its kind, its help, its command-line flag) and its result
type. From that one declaration the CLI builds its sub-command (:mod:`kipoi_explain.cli.main`),
the server checks and runs requests (``kipoi_explain.server.service``), and the client offers
a method of the same name and arguments as the library function
(``kipoi_explain.client.Client``). See the README's "Adding a command".
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import InputError
from ..options import keyword_defaults
from ..samples import DNA, FEATURES, TOKENS
from .kinds import BINS, FLAG, TARGET, Kind, Text

#: Keyword arguments every command function takes that the caller's environment sets (this
#: process, or a server), not the request.
RUNTIME = ("batch_size", "progress")


@dataclass(frozen=True)
class Param:
    """One parameter of a command.

    Attributes
    ----------
    name : str
        The library function's keyword, and the option's name on the wire.
    kind : Kind
        How values are written on the command line, checked, and resolved on a server.
    help : str
        What it does, for ``--help`` and a server's command list; the default, read from the
        library function's signature, is added.
    flags : tuple of str
        The command-line flags (default ``--name-with-dashes``).
    group : str, optional
        Title of the ``--help`` group it is listed in.
    metavar : str, optional
    cli : bool
        Whether the sub-command has the flag (False: library and server only).
    work : bool
        The value multiplies the work per sample (references, steps, shuffles): a server caps
        it by its ``max_samples``.
    required : bool
        Required on the command line.
    default : object
        For a sub-command's own options (outputs, plots), their default; a library option's
        default is the function's.
    """

    name: str
    kind: Kind = field(default_factory=Text)
    help: str = ""
    flags: tuple[str, ...] = ()
    group: str | None = None
    metavar: str | None = None
    cli: bool = True
    work: bool = False
    required: bool = False
    default: Any = None

    @property
    def cli_flags(self) -> tuple[str, ...]:
        return self.flags or ("--" + self.name.replace("_", "-"),)


@dataclass(frozen=True)
class Command:
    """A capability of the library, declared once.

    Attributes
    ----------
    name : str
        The command's name in the library, on the wire and in the client (``explain``).
    function : callable
        The library function, ``function(model, samples, **options)``.
    result : type
        What it returns (a result type of :mod:`kipoi_explain.results`), or for a streaming
        command what each item of its output is.
    help : str
        One line.
    params : tuple of Param
        Every option a request may set.
    accepts : tuple of str
        The kinds of model it applies to (``dna``, ``features``, ``tokens``).
    samples : {"required", "optional", "stream"}
        Whether it needs samples, may take them, or reads a stream of items (VCF records)
        instead.
    extra_inputs : bool
        It takes the model's extra inputs (``inputs=``).
    exclusive : bool
        On a server it changes the model across calls (weight randomization) and runs alone on
        the device worker.
    too_large : str
        What to ask for instead when its result is larger than a server sends.
    cli : CommandLine or None
        Its sub-command, if it has one.
    """

    name: str
    function: Callable
    result: type
    help: str
    params: tuple[Param, ...] = ()
    accepts: tuple[str, ...] = (DNA,)
    samples: str = "required"
    extra_inputs: bool = False
    exclusive: bool = False
    too_large: str = "ask for fewer samples"
    cli: CommandLine | None = None

    def param(self, name: str) -> Param:
        return next(p for p in self.params if p.name == name)

    def defaults(self) -> dict:
        """The library function's keyword defaults (the one place they are stated)."""
        return keyword_defaults(self.function)

    def check(self, options: dict) -> dict:
        """The options checked against the declaration: known names, values of their kind.

        Raises
        ------
        InputError
            Naming an unknown option, one the caller may not set, or a value of the wrong
            type.
        """
        owned = sorted(set(options) & set(RUNTIME))
        if owned:
            raise InputError(f"option(s) {', '.join(owned)}: set where the command runs, not "
                             "by a request")
        declared = {p.name: p for p in self.params}
        unknown = sorted(set(options) - set(declared))
        if unknown:
            raise InputError(f"option(s) {', '.join(unknown)} do not apply to {self.name}; it "
                             f"takes {', '.join(sorted(declared))}")
        return {name: value if value is None else declared[name].kind.check(value, name)
                for name, value in options.items()}

    def bind(self, *args, **kwargs) -> tuple[Any, dict]:
        """Arguments given as the library function takes them (after the model) as ``(samples,
        options)``: positional ones bound by the function's own signature."""
        parameters = list(inspect.signature(self.function).parameters)[1:]
        if self.samples == "stream" or len(parameters) < 1:
            raise InputError(f"{self.name}: bind its arguments by name")
        bound = inspect.signature(self.function).bind_partial(None, *args, **kwargs)
        options = dict(bound.arguments)
        options.pop(next(iter(options)))
        samples = options.pop(parameters[0], None)
        options.update(options.pop(_var_keyword(self.function), {}))
        return samples, options


def _var_keyword(function) -> str:
    """Name of the function's ``**options`` parameter (none: an unused name)."""
    return next((name for name, p in inspect.signature(function).parameters.items()
                 if p.kind is inspect.Parameter.VAR_KEYWORD), "\0")


@dataclass(frozen=True)
class CommandLine:
    """A command's sub-command.

    Attributes
    ----------
    name : str
        The sub-command (``score-vcf``).
    main : callable
        ``main(session, args) -> exit status``: runs the command on the session (this process
        or a server), writes the results and prints a summary.
    description : str
        The sub-command's ``--help`` text.
    samples : {"sequences", "inputs", "none"}
        Which sample arguments it takes: ``--bed``/``--fasta``/``--sequences`` (DNA),
        ``inputs``: those and ``--input``/``--extra-input`` (any model), or none of them.
    params : tuple of Param
        Options of the sub-command only: outputs, plots.
    """

    name: str
    main: Callable
    description: str = ""
    samples: str = "sequences"
    params: tuple[Param, ...] = ()


# ---- parameters several commands share ---------------------------------------------------
TARGET_PARAM = Param("target", TARGET, "output index or name, a comma-separated list "
                                       "(combined by --reduce), or 'all'")
REDUCE_PARAM = Param("reduce", Text(("sum", "mean")),
                     "how several outputs or bins combine into the target")
BINS_PARAM = Param("bins", BINS, "window of a binned output: LO,HI (profile bins), "
                                 "R0,R1:C0,C1 (a window of a contact map), or per task "
                                 "TASK=WINDOW;TASK=WINDOW")
AMBIGUOUS_PARAM = Param("ambiguous", Text(("uniform", "zeros", "error")),
                        "encoding of N and other IUPAC codes (uniform: 0.25 for N)",
                        group="samples")
REVERSE_COMPLEMENT_PARAM = Param("reverse_complement", FLAG,
                                 "average with the reverse-complement strand")
SAMPLE_KINDS = (DNA, FEATURES, TOKENS)
NO_PLOT = Param("no_plot", FLAG, "do not write the PNG", default=False)
