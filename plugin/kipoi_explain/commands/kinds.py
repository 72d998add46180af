"""What a command parameter's values are: how the command line writes them, how any value is
checked, and what a server makes of one.

A kind is declared once per parameter (:class:`~kipoi_explain.commands.base.Param`); the CLI
parses with it, the server checks every option a request sends with it (a value of the wrong
type is an INVALID_ARGUMENT naming the option, never an error deep in the library), and kinds
that name a resource (a FASTA, a model, a file) say what a server accepts instead of a path:
a client can never make a server read a path of its choosing.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError, quoted


class Kind:
    """Values of one type. Subclasses override what differs."""

    #: Name shown in a server's command list.
    name = "any"
    #: The type argparse parses a plain value with (a number, a string); other kinds are
    #: parsed after argparse, an error a one-line message naming the flag.
    native = None

    def parse(self, text: str):
        """The value of a command-line argument; an :class:`InputError` saying what was
        expected (the command line adds the flag)."""
        return text

    def check(self, value, option: str):
        """``value`` if it is of this kind, else an :class:`InputError` naming ``option``."""
        return value

    def on_server(self, value, option: str, server):
        """What a server runs with for a checked ``value`` (``server`` resolves resource
        names); a value a server must refuse raises :class:`InputError`."""
        return value

    def on_local(self, value, session):
        """What this process runs with for ``value`` given on its command line (``session``
        loads what a name refers to)."""
        return value

    def to_wire(self, value):
        """What a client sends for ``value``: a local file a server may not read is read here
        and sent as values."""
        return value

    @staticmethod
    def _wrong(value, option: str, expected: str) -> InputError:
        return InputError(f"option {option}={quoted(value)}: expected {expected}")


@dataclass(frozen=True)
class Int(Kind):
    """An integer, at least ``minimum`` when given (counts: steps, references, windows)."""

    minimum: int | None = None
    name = "int"
    native = int

    def parse(self, text):
        try:
            return int(text)
        except ValueError:
            raise InputError(f"{text!r}: expected an integer") from None

    def check(self, value, option):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise self._wrong(value, option, "an integer")
        if not -2 ** 63 <= int(value) < 2 ** 63:
            raise self._wrong(value, option, "an integer of at most 64 bits")
        if self.minimum is not None and value < self.minimum:
            raise self._wrong(value, option, f"an integer of at least {self.minimum}")
        return int(value)


class Float(Kind):
    name = "float"
    native = float

    def parse(self, text):
        try:
            return float(text)
        except ValueError:
            raise InputError(f"{text!r}: expected a number") from None

    def check(self, value, option):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer,
                                                             np.floating)):
            raise self._wrong(value, option, "a number")
        if not math.isfinite(value):
            raise self._wrong(value, option, "a finite number")
        return float(value)


class Flag(Kind):
    name = "bool"

    def check(self, value, option):
        if not isinstance(value, (bool, np.bool_)):
            raise self._wrong(value, option, "true or false")
        return bool(value)


@dataclass(frozen=True)
class Text(Kind):
    """A string, one of ``choices`` when given."""

    choices: tuple[str, ...] | None = None
    native = str

    @property
    def name(self) -> str:
        return "text" if self.choices is None else f"one of {', '.join(self.choices)}"

    def check(self, value, option):
        # Which strings apply is the library's to say (its messages name them).
        if not isinstance(value, str):
            raise self._wrong(value, option, "a string")
        return value


class Target(Kind):
    """An output index or name, a list of them, or ``all``; the CLI reads ``0``, ``CTCF``,
    ``0,CTCF``."""

    name = "target"

    def parse(self, text):
        if text == "all":
            return "all"
        items = [int(t) if t.strip().lstrip("-").isdigit() else t.strip()
                 for t in text.split(",")]
        return items[0] if len(items) == 1 else items

    def check(self, value, option):
        items = value if isinstance(value, list) else [value]
        if not items or not all(isinstance(v, (str, int, np.integer))
                                and not isinstance(v, bool) for v in items):
            raise self._wrong(value, option, "an output index or name, a list of them, or "
                                             "'all'")
        return value


class Bins(Kind):
    """A window of a binned output: ``LO,HI``, ``R0,R1:C0,C1`` (a window of a contact map), or
    per task ``TASK=WINDOW;TASK=WINDOW``."""

    name = "bins"

    def parse(self, text):
        def window(spec: str):
            axes = []
            for part in spec.split(":"):
                bounds = part.split(",")
                if len(bounds) != 2 or not all(b.strip().lstrip("-").isdigit() for b in bounds):
                    raise InputError(
                        f"{text!r}: expected LO,HI or R0,R1:C0,C1 (integers), per task "
                        "TASK=WINDOW")
                axes.append(tuple(int(b) for b in bounds))
            if len(axes) > 2:
                raise InputError(f"{text!r}: at most two axes (R0,R1:C0,C1)")
            return axes[0] if len(axes) == 1 else tuple(axes)

        if "=" not in text:
            return window(text)
        per_task = {}
        for item in text.split(";"):
            task, sep, spec = item.partition("=")
            if not sep or not task.strip():
                raise InputError(f"{text!r}: expected TASK=WINDOW;TASK=WINDOW")
            per_task[task.strip()] = window(spec)
        return per_task

    def check(self, value, option):
        if not isinstance(value, (list, tuple, dict)):
            raise self._wrong(value, option, "a window (lo, hi), ((r0, r1), (c0, c1)) or a "
                                             "mapping of task to window")
        return value


@dataclass(frozen=True)
class Integers(Kind):
    """One integer or a list of them (positions, heads); the CLI reads ``1,5,9``."""

    what: str = "integers"

    @property
    def name(self) -> str:
        return "integers"

    def parse(self, text):
        items = [t.strip() for t in text.split(",")]
        if not all(t.isdigit() for t in items):
            raise InputError(f"{text!r}: expected comma-separated {self.what}")
        return int(items[0]) if len(items) == 1 else [int(t) for t in items]

    def check(self, value, option):
        if isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.integer):
            return value
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in items):
            raise self._wrong(value, option, f"an integer or a list of {self.what}")
        return value


@dataclass(frozen=True)
class Words(Kind):
    """A list of names: each one of ``choices`` when given (the library says which apply),
    else free-form ``what`` (matrix IDs) the library checks; the CLI reads ``a,b,c``."""

    choices: tuple[str, ...] = ()
    what: str = "names"

    @property
    def name(self) -> str:
        return f"some of {', '.join(self.choices)}" if self.choices else f"list of {self.what}"

    def parse(self, text):
        return [t.strip() for t in text.split(",") if t.strip()]

    def check(self, value, option):
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise self._wrong(value, option, f"a list of {self.name}")
        return list(value)


class Names(Kind):
    """Names or indices, or a list of them (attention layers); the CLI reads
    ``enc.0.self_attn,1``."""

    name = "names or indices"

    def parse(self, text):
        items = [t.strip() for t in text.split(",")]
        if not all(items):
            raise InputError(f"{text!r}: expected comma-separated names or "
                                             "indices")
        return [int(t) if t.lstrip("-").isdigit() else t for t in items]

    def check(self, value, option):
        items = list(value) if isinstance(value, (list, np.ndarray)) else [value]
        if not all(isinstance(v, (str, int, np.integer)) and not isinstance(v, bool)
                   for v in items):
            raise self._wrong(value, option, "a name or index, or a list of them")
        return value


@dataclass(frozen=True)
class WordOrArray(Kind):
    """One of ``words``, a number (``numbers``), or an array; the CLI reads a word, a number or
    a ``.npy`` file."""

    words: tuple[str, ...]
    numbers: bool = False

    @property
    def name(self) -> str:
        return f"{', '.join(self.words)}{', a number' if self.numbers else ''} or an array"

    def parse(self, text):
        if text in self.words:
            return text
        if text.endswith(".npy"):
            from ..npy import read_npy

            return read_npy(text, "file")
        if self.numbers:
            try:
                return float(text)
            except ValueError:
                pass
        expected = self.name.replace("an array", "a .npy file")
        raise InputError(f"{text!r}: expected {expected}")

    def check(self, value, option):
        # Which words apply is the library's to say, as for Text.
        if isinstance(value, str):
            return value
        if self.numbers and isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        if isinstance(value, (np.ndarray, list)):
            return value
        raise self._wrong(value, option, self.name)


class Mapping(Kind):
    """A mapping of names to values (per-check options, labels by output)."""

    name = "mapping"

    def check(self, value, option):
        if not isinstance(value, dict):
            raise self._wrong(value, option, "a mapping")
        return value


class Fasta(Kind):
    """A reference genome: a FASTA path in this process; on a server, the name of one of its
    FASTA files (never a path)."""

    name = "FASTA (a server's: its name)"

    def check(self, value, option):
        if not isinstance(value, (str, Path)):
            raise self._wrong(value, option, "a FASTA")
        return value

    def on_server(self, value, option, server):
        return server.fasta(str(value), option)


class ModelName(Kind):
    """Another model: a path or model in this process; on a server, one of its model names."""

    name = "model (a server's: its name)"

    def on_server(self, value, option, server):
        if not isinstance(value, str):
            raise self._wrong(value, option, "a model name of this server")
        return server.model(value, option)

    def on_local(self, value, session):
        return session.load(value)


@dataclass(frozen=True)
class LocalOnly(Kind):
    """A value only this process can use (a file of the user's): a server refuses it."""

    what: str = "file"

    @property
    def name(self) -> str:
        return f"{self.what} (not on a server)"

    def on_server(self, value, option, server):
        raise InputError(f"option {option}: the server uses {self.what}; a request cannot "
                         "send one")


@dataclass(frozen=True)
class Output(Kind):
    """A file or folder a sub-command writes, checked when the command line is read, before
    any model is loaded: its suffix, and that it can be written there (not a folder where a
    file is written, nor under a file, nor in a folder this process cannot write in).

    ``folder``: True for a folder the command fills, None where another option decides
    (``explain --format``), False for a file.
    """

    suffixes: tuple[str, ...] = ()
    folder: bool | None = False
    name = "output path (command line only)"

    def parse(self, text):
        path = Path(text)
        if self.suffixes and not path.name.endswith(self.suffixes):
            raise InputError(f"{text!r}: expected a {' or '.join(self.suffixes)} path")
        if self.folder is False and path.is_dir():
            raise InputError(f"{text!r}: is a folder; expected a file")
        if self.folder and path.exists() and not path.is_dir():
            raise InputError(f"{text!r}: is a file; expected a folder")
        where = (path if self.folder else path.parent).absolute()
        while not where.exists():
            where = where.parent
        if not where.is_dir():
            raise InputError(f"{text!r}: {str(where)!r} is a file, so nothing can be written "
                             "under it")
        if not os.access(where, os.W_OK | os.X_OK) or \
                (path.exists() and not os.access(path, os.W_OK)):
            raise InputError(f"{text!r}: this process cannot write in {str(where)!r}")
        return text


class Values(Kind):
    """Numbers sent as values: an array, or a mapping of names to arrays; a server refuses a
    path, which only the user's machine can read."""

    name = "array or mapping of arrays"

    def check(self, value, option):
        if isinstance(value, (str, Path)):
            raise InputError(f"option {option}: send the values (an array, or a map of output "
                             "name to array), not a path on the server")
        return value


@dataclass(frozen=True)
class Motifs(Kind):
    """Motifs to implant: JASPAR matrix IDs, DNA sequences, or MEME files (read by this
    process; a client sends their motifs' consensus sequences, a server takes IDs and DNA
    only). ``single``: exactly one; the CLI reads ``MA0139.2,ACGTGA``."""

    single: bool = False

    @property
    def name(self) -> str:
        return "a JASPAR ID, DNA or a MEME file" + ("" if self.single else ", or a list")

    def parse(self, text):
        if self.single:
            return text
        return [t.strip() for t in text.split(",") if t.strip()]

    def check(self, value, option):
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items or \
                not all(isinstance(v, str) and v for v in items) or \
                (self.single and isinstance(value, list)):
            raise self._wrong(value, option, self.name)
        return value

    def to_wire(self, value):
        from ..experiments.elements import elements, is_file_spec

        items = [value] if isinstance(value, str) else value
        sent = []
        for item in items:
            sent += [e.sequence for e in elements(item)] if is_file_spec(item) else [item]
        return sent[0] if self.single and len(sent) == 1 else sent

    def on_server(self, value, option, server):
        from ..experiments.elements import is_file_spec

        for item in [value] if isinstance(value, str) else value:
            if is_file_spec(item):
                raise InputError(f"option {option}: {quoted(item)}: a server implants JASPAR "
                                 "IDs and DNA sequences only, never a file of its own; a "
                                 "client sends a MEME file's motifs as their consensus")
        return value


INT, FLOAT, FLAG = Int(), Float(), Flag()
#: A count (steps, references, windows, sequences drawn): at least one.
COUNT = Int(minimum=1)
TARGET, BINS, NAMES, MAPPING, FASTA, MODEL, VALUES = (Target(), Bins(), Names(), Mapping(),
                                                      Fasta(), ModelName(), Values())


class Database(Kind):
    """A motif database: ``jaspar`` (with release, collection, taxon) or a MEME file; a server
    matches against its own JASPAR releases only."""

    name = "'jaspar' or a MEME file (a server's: 'jaspar')"

    def check(self, value, option):
        if not isinstance(value, (str, Path)):
            raise self._wrong(value, option, "'jaspar' or a MEME file")
        return value

    def on_server(self, value, option, server):
        if str(value).lower() != "jaspar":
            raise InputError(f"option {option}: a server matches against its own JASPAR "
                             "releases only ('jaspar', with release=, collection=, "
                             "tax_group=)")
        return value


class ContigMap(Kind):
    """How VCF contig names map to FASTA names: ``auto`` (add or drop a ``chr`` prefix), a
    mapping, or a two-column file (read by the client, sent as a mapping)."""

    name = "'auto', a mapping or a two-column file"

    def check(self, value, option):
        if not isinstance(value, (str, Path, dict)):
            raise self._wrong(value, option, self.name)
        return value

    def to_wire(self, value):
        from ..variants.alleles import contig_mapping

        return value if value == "auto" or isinstance(value, dict) else \
            contig_mapping(value, ())

    def on_server(self, value, option, server):
        if not isinstance(value, dict) and value != "auto":
            raise InputError(f"option {option}: expected 'auto' or a map of VCF contig to "
                             "FASTA contig, not a path on the server")
        return value
