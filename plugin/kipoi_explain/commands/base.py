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
from .kinds import BINS, FLAG, TARGET, Int, Kind, Output, Text

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
    limit : str, optional
        The server setting (``batching.max_samples`` or ``max_sequences``) this value may not
        exceed on a server: it multiplies the work per sample (references, steps, shuffles) or
        sets how many samples are held at once.
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
    limit: str | None = None
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
        On a server it runs alone on the device worker, with the worker's own model: it
        changes the model across calls (weight randomization), or its results must equal the
        in-process ones bit for bit (maps, rankings and motifs, which a merged batch's
        different rounding would move by a few ulps).
    too_large : str
        What to ask for instead when its result is larger than a server sends.
    cli : CommandLine, tuple of CommandLine, or None
        Its sub-command(s), if it has any (``explain`` and ``tracks`` both run
        :func:`~kipoi_explain.explain`).
    what : str
        What it is called in messages (default: its name).
    noun : str
        What its samples are called in messages, when they are DNA.
    precondition : callable, optional
        ``precondition(info, options)`` raises when a model (its
        :class:`~kipoi_explain.commands.ModelInfo`) cannot run the command with these options
        at all: on a server, before any work, naming the model as the caller knows it.
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
    cli: CommandLine | tuple[CommandLine, ...] | None = None
    what: str = ""
    noun: str = "sequences"
    precondition: Callable | None = None

    @property
    def command_lines(self) -> tuple[CommandLine, ...]:
        """Its sub-commands."""
        return () if self.cli is None else \
            self.cli if isinstance(self.cli, tuple) else (self.cli,)

    def param(self, name: str) -> Param | None:
        """The parameter ``name``, or None for one the command does not declare."""
        return next((p for p in self.params if p.name == name), None)

    def resolve(self, options: dict, hook: str, *args) -> dict:
        """The options with each declared one's value passed through its kind's ``hook``
        (``on_local``, ``to_wire``); undeclared ones, left for the function to refuse, and
        None values are kept as they are."""
        def resolved(name, value):
            param = self.param(name)
            return value if value is None or param is None else \
                getattr(param.kind, hook)(value, *args)

        return {name: resolved(name, value) for name, value in options.items()}

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
            raise InputError(f"option(s) {', '.join(owned)}: set by the server (or the process) "
                             "that runs the command, not by a request")
        declared = {p.name: p for p in self.params}
        unknown = sorted(set(options) - set(declared))
        if unknown:
            raise InputError(f"option(s) {', '.join(unknown)} do not apply to "
                             f"{self.what or self.name}; it takes {', '.join(sorted(declared))}")
        return {name: value if value is None else declared[name].kind.check(value, name)
                for name, value in options.items()}

    def bind(self, *args, **kwargs) -> tuple[Any, dict]:
        """Arguments given as the library function takes them (after the model) as ``(samples,
        options)``: positional ones bound by the function's own signature."""
        signature = inspect.signature(self.function)
        # Keywords the function does not take are kept for the one who runs it to refuse.
        known = {k: v for k, v in kwargs.items() if k in signature.parameters}
        options = dict(signature.bind_partial(None, *args, **known).arguments)
        model, samples = list(signature.parameters)[:2]
        options.pop(model)
        samples = options.pop(samples, None)
        options.update(options.pop(_var_keyword(self.function), {}))
        return samples, {**options, **{k: v for k, v in kwargs.items() if k not in known}}


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
    job : bool
        It runs as a job when asked (``--engine``, ``--work-dir``, ``--num-shards``): its
        input is split into shards, run and merged (:mod:`kipoi_explain.jobs`).
    omit : tuple of str
        The command's parameters the sub-command does not offer (their defaults apply), where
        its own flag of that name means something else.
    """

    name: str
    main: Callable
    description: str = ""
    samples: str = "sequences"
    params: tuple[Param, ...] = ()
    job: bool = False
    omit: tuple[str, ...] = ()

    def options(self, command: Command) -> tuple[Param, ...]:
        """Every option of the sub-command: the command's it offers, then its own."""
        return (*(p for p in command.params if p.name not in self.omit), *self.params)


# ---- parameters several commands share ---------------------------------------------------
TARGET_PARAM = Param("target", TARGET, "output index or name, a comma-separated list "
                                       "(combined by --reduce), or 'all'")
REDUCE_PARAM = Param("reduce", Text(("sum", "mean")),
                     "how several outputs or bins combine into the target")
BINS_PARAM = Param("bins", BINS, "window of a binned output: LO,HI (profile bins), "
                                 "R0,R1:C0,C1 (a window of a contact map), or per task "
                                 "TASK=WINDOW;TASK=WINDOW")
#: On the command line, ``--ambiguous`` is one of the sequence arguments (it also decides how
#: sequences are read there).
AMBIGUOUS_PARAM = Param("ambiguous", Text(("uniform", "zeros", "error")),
                        "encoding of N and other IUPAC codes (uniform: 0.25 for N)", cli=False)
REVERSE_COMPLEMENT_PARAM = Param("reverse_complement", FLAG,
                                 "average with the reverse-complement strand")
#: Where the samples sit in a larger set (a job's shard, a chunk of a track): the index of the
#: first, which seeds their random draws (see :mod:`kipoi_explain.draws`).
SAMPLE_INDEX_PARAM = Param("sample_index", Int(minimum=0),
                           "index of the first sample in the whole set the samples are part "
                           "of; seeds their random draws", cli=False)
SAMPLE_KINDS = (DNA, FEATURES, TOKENS)
NO_PLOT = Param("no_plot", FLAG, "do not write the PNG", default=False)


def output_param(help: str, suffixes: tuple[str, ...] = (), folder: bool | None = False) -> Param:
    """A sub-command's ``-o/--output`` (see :class:`~kipoi_explain.commands.kinds.Output`)."""
    return Param("output", Output(suffixes, folder), help, flags=("-o", "--output"),
                 required=True)
