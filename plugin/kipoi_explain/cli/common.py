"""Arguments every sub-command shares: the model, the sequences, how and where to run.

Every command obtains its result from a *model*, :class:`LocalModel` (the library, in this
process) or :class:`RemoteModel` (the same calls on a kipoi-explain server, with ``--remote``),
and then writes it with the same writers: a remote run writes the same files as a local one.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..errors import InputError

#: Environment variable holding the bearer token for ``--remote`` servers.
TOKEN_VARIABLE = "KIPOI_EXPLAIN_TOKEN"

#: Status codes that mean the request itself was wrong (exit status 2, like a local InputError);
#: any other code means the server failed or could not be reached (exit status 3).
REQUEST_ERRORS = frozenset({"INVALID_ARGUMENT", "NOT_FOUND", "FAILED_PRECONDITION",
                            "UNAUTHENTICATED", "PERMISSION_DENIED", "OUT_OF_RANGE"})


class RemoteError(Exception):
    """A call to the ``--remote`` server failed: its status code name and the server's words."""

    def __init__(self, code: str, details: str):
        super().__init__(f"{code}: {details}")
        self.code = code

    @classmethod
    def from_rpc(cls, err) -> RemoteError:
        """The failure a ``grpc.RpcError`` describes."""
        code = err.code() if hasattr(err, "code") else None
        details = err.details() if hasattr(err, "details") else None
        return cls(code.name if code is not None else "UNKNOWN", details or str(err))

    @property
    def exit_status(self) -> int:
        return 2 if self.code in REQUEST_ERRORS else 3


def add_model_arguments(parser):
    """The model, batching and the remote server options; returns the remote option group
    (a command adds its own remote-only options to it)."""
    parser.add_argument("model", help="Kipoi model directory, Kipoi model name (with --zoo), or "
                                      "a .keras/.h5 Keras model file; with --remote, the name "
                                      "of a model the server serves")
    parser.add_argument("--zoo", help="local checkout of the Kipoi model zoo holding MODEL")
    parser.add_argument("--batch-size", type=_batch_size,
                        help="model rows per batch, or 'auto' (PyTorch: sized to the device's "
                             "free memory)")
    parser.add_argument("--device", help="PyTorch device: cpu, cuda, cuda:1, auto")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    remote = parser.add_argument_group(
        "remote server",
        "With --remote the command runs on a kipoi-explain-server: the input files named "
        "here are read on this machine and sent, and the server's result is written here to "
        "the same files a local run writes. MODEL (like diagnose's --free-model) is then a "
        "model name of the server; --zoo, --device and --batch-size are the server's to set.")
    remote.add_argument("--remote", metavar="HOST:PORT",
                        help="run on this server; MODEL is then one of its model names")
    remote.add_argument("--token", help=f"bearer token the server requires (default: the "
                                        f"environment variable {TOKEN_VARIABLE}, which keeps "
                                        "it out of the process list)")
    remote.add_argument("--tls-ca", metavar="PEM",
                        help="connect with TLS, trusting this PEM certificate (the server's, "
                             "or the CA that signed it); default: plaintext")
    remote.add_argument("--timeout", type=float, metavar="SECONDS",
                        help="deadline of each call to the server (for score-vcf, of the whole "
                             "VCF); default: none")
    return remote


def add_sequence_arguments(parser) -> None:
    group = parser.add_argument_group("sequences (--bed with --fasta, or --sequences)")
    group.add_argument("--fasta", help="reference genome FASTA for --bed (read here, also with "
                                       "--remote)")
    group.add_argument("--bed", help="BED intervals, centre-resized to the model's input length")
    group.add_argument("--sequences", help="FASTA of sequences of the model's input length")
    group.add_argument("--use-strand", action="store_true",
                       help="reverse-complement '-' strand BED intervals")
    group.add_argument("--ambiguous", default="uniform", choices=("uniform", "zeros", "error"),
                       help="encoding of N and other IUPAC codes (default: uniform, 0.25 for N)")


def _batch_size(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a number of rows or 'auto'") \
            from None


def add_input_arguments(parser, samples: bool = True) -> None:
    """``--extra-input NAME=FILE`` for a model's extra inputs and, with ``samples``,
    ``--input FILE`` for a model whose main input is no DNA (as ``entities`` takes it)."""
    group = parser.add_argument_group("inputs that are no DNA")
    if samples:
        group.add_argument("--input", dest="samples", metavar="FILE",
                           help="samples of a model of features (.npy, or a TSV/CSV table: "
                                "sample name, then one column per feature) or of token ids "
                                "(.npy, or text: name TAB tokens separated by spaces)")
    group.add_argument("--extra-input", action="append", default=[], metavar="NAME=FILE",
                       help="an extra input of the model (a track (N, L, C) or features), one "
                            "row per sequence, as .npy (or a TSV/CSV table of features); "
                            "repeat for each")


def extra_inputs(args) -> dict | None:
    """The ``--extra-input NAME=FILE`` pairs, as the ``inputs=`` of the library's functions."""
    inputs = {}
    for item in args.extra_input:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise InputError(f"--extra-input {item!r}: expected NAME=FILE")
        if name in inputs:
            raise InputError(f"--extra-input {name}: given twice")
        if not Path(path).is_file():
            raise InputError(f"--extra-input {name}: no such file {path!r}")
        inputs[name] = path
    return inputs or None


def samples(args, model):
    """What the command explains: the sequences the arguments name for a model of DNA, the
    ``--input`` file for a model of features or tokens."""
    if model.takes_dna:
        if getattr(args, "samples", None):
            raise InputError(f"--input: model {model.name!r} takes DNA; give --bed with "
                             "--fasta, or --sequences")
        return sequences(args, model.input_length)
    if args.bed or args.sequences or not args.samples:
        raise InputError(f"model {model.name!r} takes no DNA: give its samples with --input")
    return args.samples


def _input_entities(model) -> list[str] | None:
    """Names of a model's input features, from the input level of its entities.yaml."""
    from ..entity_map import declared_map, input_names

    try:
        return input_names(model, declared_map(model))
    except InputError:
        return None


def load(args):
    """The model named on the command line, loaded in this process."""
    from ..backends import load_model

    return load_model(args.model, zoo=args.zoo, device=args.device, batch_size=args.batch_size)


def open_model(args) -> LocalModel | RemoteModel:
    """The model the arguments name: in this process, or on the ``--remote`` server (close it
    with ``with``)."""
    if args.remote:
        return RemoteModel(args)
    given = [flag for flag, value in (("--token", args.token), ("--tls-ca", args.tls_ca),
                                      ("--timeout", args.timeout)) if value is not None]
    if given:
        raise InputError(f"{', '.join(given)} appl(y/ies) only with --remote HOST:PORT")
    return LocalModel(args)


class LocalModel:
    """The library's functions on a model loaded in this process."""

    def __init__(self, args):
        self.args = args
        self.model = load(args)
        self.name = self.model.name
        self.input_length = self.model.input_length
        self.output_names = list(self.model.output_names)
        self.takes_dna = self.model.takes_dna
        self.takes_tokens = self.model.takes_tokens
        self.vocabulary = self.model.layout.vocabulary if self.takes_tokens else None
        self.feature_names = _input_entities(self.model)

    def __enter__(self) -> LocalModel:
        return self

    def __exit__(self, *exc) -> None:
        pass

    def _run(self) -> dict:
        # With "auto", the model's own block size (set when it was loaded) applies.
        batch_size = None if self.args.batch_size == "auto" else self.args.batch_size
        return {"batch_size": batch_size, "progress": not self.args.no_progress}

    def target_names(self, target) -> tuple[str, ...]:
        return self.model.target(target).names

    def describe(self) -> dict:
        return self.model.describe()

    def explain(self, seqs, method: str, **options):
        from .. import explain

        return explain(self.model, seqs, method, **self._run(), **options)

    def motifs(self, seqs, database, **options):
        from .. import motifs

        return motifs(self.model, seqs, database=database, **self._run(), **options)

    def diagnose(self, seqs, checks, target, free_model: str | None = None, **options):
        """``free_model`` is a path or name :func:`load_model` reads."""
        from ..backends import load_model
        from ..diagnostics import diagnose

        free = None if free_model is None else load_model(
            free_model, device=self.args.device, batch_size=self.args.batch_size)
        return diagnose(self.model, seqs, checks, target, free_model=free, **self._run(),
                        **options)

    def score_variants(self, vcf, fasta: str, method, target, **options):
        """``fasta`` is a local FASTA path; ``contig_map`` 'auto' or a file; ``motifs`` 'jaspar'
        or a MEME file."""
        from ..variants import score_variants

        return score_variants(self.model, vcf, fasta, method, target,
                              batch_size=self.args.batch_size, **options)

    def attention(self, seqs, **options):
        """``options``: ``layers``, ``heads``, ``reduce``, ``query`` of
        :func:`kipoi_explain.attention`."""
        from .. import attention

        return attention(self.model, seqs, **self._run(), **options)

    def entities(self, x, level: str, method: str, **options):
        """``x`` is a feature file path (read with the model's input entity names) or, for a
        DNA model, a SequenceSet; ``options`` as :func:`kipoi_explain.entities` takes them
        (``target``, ``mapping``, ``baseline``, ...)."""
        from .. import entities

        return entities(self.model, x, level, method, **self._run(), **options)

    def screen(self, seqs, **options):
        """``options`` as :func:`kipoi_explain.screen` takes them; ``genome`` is a local FASTA
        path."""
        from ..screens import screen

        return screen(self.model, seqs, **self._run(), **options)

    def insertion(self, seqs, sequence: str, **options):
        from ..screens import insertion

        return insertion(self.model, seqs, sequence, **self._run(), **options)


class RemoteModel:
    """The same calls answered by a kipoi-explain server, through
    :class:`kipoi_explain.client.Client`; results are the library's own objects."""

    def __init__(self, args):
        from ..client import Client

        refused = [flag for flag, value in (("--zoo", args.zoo), ("--device", args.device),
                                            ("--batch-size", args.batch_size))
                   if value is not None]
        if refused:
            raise InputError(f"{', '.join(refused)}: the server's to set, not given with "
                             "--remote")
        if args.tls_ca is not None and not Path(args.tls_ca).is_file():
            raise InputError(f"--tls-ca {args.tls_ca!r}: no such file")
        self.args = args
        self.client = Client(args.remote, token=args.token or os.environ.get(TOKEN_VARIABLE),
                             root_certificates=args.tls_ca, timeout=args.timeout)
        try:
            served = {info["name"]: info for info in self.client.models()}
            if args.model not in served:
                raise RemoteError("NOT_FOUND", f"model {args.model!r}: not served by "
                                  f"{args.remote}; it serves {', '.join(sorted(served))}")
        except BaseException:
            self.client.close()
            raise
        self.info = served[args.model]
        self.name = args.model
        self.input_length = self.info["input_length"] or None
        self.output_names = self.info["output_names"]
        self.takes_dna = self.info.get("input") == "dna"
        self.takes_tokens = self.info.get("input") == "tokens"
        self.vocabulary = self.info.get("vocabulary") or None
        self.feature_names = self.info.get("input_features") or None

    def __enter__(self) -> RemoteModel:
        return self

    def __exit__(self, *exc) -> None:
        self.client.close()

    def target_names(self, target) -> tuple[str, ...]:
        from ..targets import resolve_target

        return resolve_target(target, self.output_names, tuple(self.info["output_shape"])).names

    def describe(self) -> dict:
        return {**self.info, "server": self.args.remote}

    def explain(self, seqs, method: str, **options):
        return self.client.explain(self.name, seqs, method, **options)

    def motifs(self, seqs, database, **options):
        """``database`` must be a JASPAR selection: the server loads the same release."""
        source = database.description
        if source.get("source") != "JASPAR":
            raise InputError("--database: a server matches motifs against its own JASPAR "
                             "releases only; give --database jaspar (with --release, "
                             "--collection, --tax-group), or run without --remote")
        return self.client.motifs(self.name, seqs, release=source["release"],
                                  collection=source["collection"],
                                  tax_group=source["tax_group"], **options)

    def diagnose(self, seqs, checks, target, free_model: str | None = None, **options):
        """``free_model`` names another model of the server."""
        return self.client.diagnose(self.name, seqs, checks, target, free_model=free_model,
                                    **options)

    def score_variants(self, vcf, fasta: str, method, target, contig_map=None, motifs=None,
                       **options):
        """``fasta`` names one of the server's FASTA files; a ``contig_map`` file is read here
        and sent as pairs; ``motifs`` can only be 'jaspar' (the server's own)."""
        from ..variants.alleles import contig_mapping

        if motifs is not None:
            if motifs.lower() != "jaspar":
                raise InputError(f"--motifs {motifs!r}: a server scans its own JASPAR release "
                                 "only; give --motifs jaspar, or run without --remote")
            options["motifs"] = "jaspar"
        if contig_map is not None:
            options["contig_map"] = "auto" if contig_map == "auto" else \
                contig_mapping(contig_map, ())
        return self.client.score_variants(self.name, vcf, fasta, method, target, **options)

    def attention(self, seqs, layers=None, heads=None, reduce=None, query=None):
        return self.client.attention(self.name, seqs, layers=layers, heads=heads, reduce=reduce,
                                     query=query)

    def entities(self, x, level: str, method: str, mapping=None, **options):
        """``x`` is a local feature file (the client reads it and puts a table's columns in the
        model's input order) or, for a DNA model, a SequenceSet. ``mapping`` cannot be given:
        the server ranks the entities its model declares."""
        if mapping is not None:
            raise InputError("--mapping: a server ranks the entities its model declares; run "
                             "without --remote to use another mapping")
        return self.client.entities(self.name, x, level, method, **options)

    def screen(self, seqs, genome=None, **options):
        """``genome`` names a FASTA of the server, which fills deleted windows only for
        intervals it reads itself (``seqs`` a :class:`kipoi_explain.client.GenomeIntervals`);
        a local FASTA cannot be given."""
        from ..client import GenomeIntervals

        if genome is not None and not isinstance(seqs, GenomeIntervals):
            raise InputError("--perturbation delete of --bed intervals: a server fills deleted "
                             "windows only from its own FASTA files, not from the local "
                             "--fasta; give --server-fasta NAME instead of --fasta (the server "
                             "reads the intervals there), give --sequences (filled with N), "
                             "or run without --remote")
        return self.client.screen(self.name, seqs, genome=genome, **options)

    def insertion(self, seqs, sequence: str, **options):
        return self.client.insertion(self.name, seqs, sequence, **options)


def sequences(args, length: int | None, required: bool = True):
    """The SequenceSet the arguments name (None if none is named and ``required`` is False)."""
    from ..sequences import as_sequences, from_bed, from_fasta

    if args.bed and args.sequences:
        raise InputError("give either --bed (with --fasta) or --sequences, not both")
    if args.bed:
        if not args.fasta:
            raise InputError("--bed needs --fasta, the reference genome to read intervals from")
        return from_bed(args.bed, args.fasta, length, args.use_strand, args.ambiguous)
    if args.sequences:
        return as_sequences(from_fasta(args.sequences, args.ambiguous), length)
    if required:
        raise InputError("no sequences: give --bed with --fasta, or --sequences")
    return None


def add_target_arguments(parser) -> None:
    """``--target``, ``--reduce`` and ``--bins``, as every method and screen takes them."""
    parser.add_argument("--target", default="0",
                        help="output index or name, a comma-separated list (summed), or 'all' "
                             "(default: 0)")
    parser.add_argument("--bins", type=parse_bins,
                        help="window of a binned output: LO,HI (profile bins), R0,R1:C0,C1 (a "
                             "window of a contact map), or per task TASK=WINDOW;TASK=WINDOW")
    parser.add_argument("--reduce", choices=("sum", "mean"), default="sum",
                        help="how several outputs or bins combine into the target (default: sum)")


def parse_bins(text: str):
    """``"10,20"``, ``"4,8:10,14"`` or ``"CAGE=16,17;DNase=3,5"`` as ``bins=`` takes them."""
    def window(spec: str):
        axes = []
        for part in spec.split(":"):
            bounds = part.split(",")
            if len(bounds) != 2 or not all(b.strip().lstrip("-").isdigit() for b in bounds):
                raise argparse.ArgumentTypeError(
                    f"{text!r}: expected LO,HI or R0,R1:C0,C1 (integers), per task TASK=WINDOW")
            axes.append(tuple(int(b) for b in bounds))
        if len(axes) > 2:
            raise argparse.ArgumentTypeError(f"{text!r}: at most two axes (R0,R1:C0,C1)")
        return axes[0] if len(axes) == 1 else tuple(axes)

    if "=" not in text:
        return window(text)
    per_task = {}
    for item in text.split(";"):
        task, sep, spec = item.partition("=")
        if not sep or not task.strip():
            raise argparse.ArgumentTypeError(f"{text!r}: expected TASK=WINDOW;TASK=WINDOW")
        per_task[task.strip()] = window(spec)
    return per_task


def target_label(names, shown: int = 4) -> str:
    """The target's output names joined for a summary line; long lists are cut."""
    names = list(map(str, names))
    if len(names) <= shown:
        return "+".join(names)
    return f"{'+'.join(names[:shown])}+... ({len(names)} outputs)"


def parse_target(text: str):
    """``"0"``, ``"CTCF"``, ``"0,CTCF"`` or ``"all"`` as explain() takes it."""
    if text == "all":
        return "all"
    items = [int(t) if t.strip().lstrip("-").isdigit() else t.strip() for t in text.split(",")]
    return items[0] if len(items) == 1 else items
