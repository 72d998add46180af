"""Arguments every sub-command shares, read the same way for a local and a remote run: the
model, how and where it runs, the samples, the outputs."""
from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

from ..errors import InputError

#: Environment variable holding the bearer token for ``--remote`` servers.
TOKEN_VARIABLE = "KIPOI_EXPLAIN_TOKEN"


def add_model_arguments(parser):
    """The model, batching and the remote server options; returns the remote option group
    (a command adds its own remote-only options to it)."""
    parser.add_argument("model", help="Kipoi model directory, Kipoi model name (with --zoo), or "
                                      "a .keras/.h5 Keras model file; with --remote, the name "
                                      "of a model the server serves")
    parser.add_argument("--zoo", help="local checkout of the Kipoi model zoo holding MODEL")
    parser.add_argument("--batch-size", type=_batch_size,
                        help="model rows per batch (default: auto, sized to the device's free "
                             "memory and the network's activations; scikit-learn models: 128)")
    parser.add_argument("--device", help="PyTorch device: cpu, cuda, cuda:1, auto")
    parser.add_argument("--output-layout", type=_output_layout, metavar="LAYOUT",
                        help="which axis of the model's output holds the tasks, e.g. "
                             "tasks,bins (channels first) or bins,tasks; per output of a "
                             "model of several: OUTPUT=LAYOUT;OUTPUT=LAYOUT (default: from "
                             "the model's outputs.yaml, its task names, or Keras' channels "
                             "last)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_verbose_argument(parser)
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


def add_verbose_argument(parser) -> None:
    parser.add_argument("--verbose", action="store_true",
                        help="also show the frameworks' own logs and warnings (TensorFlow's "
                             "C++ logs, Kipoi's and Keras' deprecation notices), hidden by "
                             "default")


def _batch_size(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a number of rows or 'auto'") \
            from None


def _output_layout(text: str) -> str | dict:
    if "=" not in text:
        return text
    pairs = [part.split("=", 1) for part in text.split(";") if part.strip()]
    if any(len(pair) != 2 or not pair[0].strip() for pair in pairs):
        raise argparse.ArgumentTypeError(f"{text!r}: expected LAYOUT or "
                                         "OUTPUT=LAYOUT;OUTPUT=LAYOUT")
    return {name.strip(): layout.strip() for name, layout in pairs}


#: The options that make a run a job (:mod:`kipoi_explain.jobs`), by their ``args`` names.
JOB_OPTIONS = ("engine", "work_dir", "shard_size", "num_shards", "shard_index", "workers",
               "ray_address")


def add_job_arguments(parser) -> None:
    """The options of a sub-command that can run as a job."""
    from ..jobs.engines import ENGINES
    from ..jobs.units import SHARD_SIZE

    group = parser.add_argument_group(
        "job (genome-scale runs)",
        "With any of these the input is split into shards of --shard-size records, intervals "
        "or sequences, run by --engine and kept in --work-dir: the same command with the same "
        "work directory resumes (finished shards are not run again), and the outputs are "
        "merged in input order. Random draws are seeded per record, not per shard: the "
        "answer does not depend on the split (but for float rounding between shard sizes).")
    group.add_argument("--engine", choices=ENGINES,
                       help="local: in this process (default); ray: on Ray workers, each "
                            "loading the model once (pip install 'kipoi-explain[ray]')")
    group.add_argument("--ray-address", metavar="auto|HOST:PORT",
                       help="the Ray cluster to join (default: start one on this machine)")
    group.add_argument("--workers", type=_positive, metavar="N",
                       help="Ray workers (default: one per GPU of the cluster, else one); "
                            "without GPUs each gets an equal share of the CPUs")
    group.add_argument("--work-dir", metavar="DIR",
                       help="where shards are kept; rerun with it to resume (default: a "
                            "temporary directory, removed at the end)")
    group.add_argument("--shard-size", type=_positive, metavar="N",
                       help=f"units per shard (default: {SHARD_SIZE})")
    group.add_argument("--num-shards", type=_positive, metavar="K",
                       help="with --shard-index: this process is task I of K of a job array "
                            "(SLURM) filling one --work-dir; it runs every K-th shard, and "
                            "'kipoi-explain merge DIR' writes the outputs when all are done")
    group.add_argument("--shard-index", type=int, metavar="I",
                       help="this task's index, 0 to K-1 (e.g. $SLURM_ARRAY_TASK_ID)")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a positive integer")
    return value


def job_requested(args) -> bool:
    """Whether the arguments ask for a job."""
    return any(getattr(args, name, None) is not None for name in JOB_OPTIONS)


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


def add_input_arguments(parser, samples: bool = True) -> None:
    """``--extra-input NAME=FILE`` for a model's extra inputs and, with ``samples``,
    ``--input FILE`` for a model whose main input is no DNA."""
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


def sequences(args, length: int | None, required: bool = True):
    """The SequenceSet the arguments name (None if none is named and ``required`` is False);
    for a job, ``--bed`` intervals as they are, each shard reading its own."""
    from ..sequences import as_sequences, from_bed, from_fasta
    from ..sequences.genome import GenomeIntervals, check_windows, read_bed

    if args.bed and args.sequences:
        raise InputError("give either --bed (with --fasta) or --sequences, not both")
    if args.bed:
        if not args.fasta:
            raise InputError("--bed needs --fasta, the reference genome to read intervals from")
        with naming("--bed", args.bed):
            if job_requested(args):
                intervals = read_bed(args.bed)
                check_windows(intervals, args.fasta, length)
                return GenomeIntervals(args.fasta, intervals, args.use_strand)
            return from_bed(args.bed, args.fasta, length, args.use_strand, args.ambiguous)
    if args.sequences:
        with naming("--sequences", args.sequences):
            return as_sequences(from_fasta(args.sequences, args.ambiguous), length)
    if required:
        raise InputError("no sequences: give --bed with --fasta, or --sequences")
    return None


@contextlib.contextmanager
def naming(flag: str, path):
    """Errors of reading the file ``path`` of ``flag`` name it, where they do not already."""
    try:
        yield
    except InputError as err:
        name = Path(path).name
        if name in str(err):
            raise
        raise InputError(f"{flag} {name!r}: {err}") from None


def samples(args, info):
    """What the command runs on: the sequences the arguments name for a model of DNA, the
    ``--input`` file for a model of features or tokens (read where the model runs)."""
    if info.takes_dna:
        if getattr(args, "samples", None):
            raise InputError(f"--input: model {info.name!r} takes DNA; give --bed with "
                             "--fasta, or --sequences")
        return sequences(args, info.input_length)
    if args.bed or args.sequences or not args.samples:
        raise InputError(f"model {info.name!r} takes no DNA: give its samples with --input")
    return args.samples


def options(args, command, exclude=()) -> dict:
    """The command's options the arguments give (those left out keep the library's defaults),
    but for ``exclude`` (names or params) that the sub-command passes itself."""
    skip = {p if isinstance(p, str) else p.name for p in exclude}
    return {p.name: getattr(args, p.name) for p in command.params
            if p.name not in skip and getattr(args, p.name, None) is not None}


def motif_database(args, command):
    """The motif database the arguments choose, the command's defaults filling the rest; read
    here also with --remote (logos draw its matrices, and the server is asked for the same
    JASPAR release); the stage ``database``."""
    from ..motif.database import load_database
    from ..stages import stage

    defaults = command.defaults()
    with stage("database"):
        return load_database(**{name: defaults[name] if getattr(args, name) is None
                                else getattr(args, name)
                                for name in ("database", "release", "collection", "tax_group")})


def wrote(paths) -> None:
    """Say which files a sub-command wrote, one line each."""
    for path in paths:
        print(f"  wrote {path}")
