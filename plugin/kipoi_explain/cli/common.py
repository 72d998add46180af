"""Arguments every sub-command shares: the model, the sequences, how to run."""
from __future__ import annotations

from ..errors import InputError


def add_model_arguments(parser) -> None:
    parser.add_argument("model", help="Kipoi model directory, Kipoi model name (with --zoo), or "
                                      "a .keras/.h5 Keras model file")
    parser.add_argument("--zoo", help="local checkout of the Kipoi model zoo holding MODEL")
    parser.add_argument("--batch-size", type=int, help="model rows per batch")
    parser.add_argument("--device", help="PyTorch device: cpu, cuda, cuda:1, auto")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def add_sequence_arguments(parser) -> None:
    group = parser.add_argument_group("sequences (--bed with --fasta, or --sequences)")
    group.add_argument("--fasta", help="reference genome FASTA for --bed")
    group.add_argument("--bed", help="BED intervals, centre-resized to the model's input length")
    group.add_argument("--sequences", help="FASTA of sequences of the model's input length")
    group.add_argument("--use-strand", action="store_true",
                       help="reverse-complement '-' strand BED intervals")
    group.add_argument("--ambiguous", default="uniform", choices=("uniform", "zeros", "error"),
                       help="encoding of N and other IUPAC codes (default: uniform, 0.25 for N)")


def load(args):
    """The model named on the command line."""
    from ..adapters import load_model

    return load_model(args.model, zoo=args.zoo, device=args.device, batch_size=args.batch_size)


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


def parse_target(text: str):
    """``"0"``, ``"CTCF"``, ``"0,CTCF"`` or ``"all"`` as explain() takes it."""
    if text == "all":
        return "all"
    items = [int(t) if t.strip().lstrip("-").isdigit() else t.strip() for t in text.split(",")]
    return items[0] if len(items) == 1 else items
