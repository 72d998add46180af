"""Helpers shared by the scripts that generate the bundled synthetic examples.

Motifs come from the JASPAR release bundled with pyjaspar (offline), are
sampled into integer-coded DNA (0..3 = A, C, G, T), and the results are
written as FASTA/TSV data and Kipoi model directories. Everything takes an
explicit ``numpy.random.Generator`` or seed, so the scripts stay reproducible.

The scripts import this file as ``synthetic``, which works because Python
puts the folder of the script being run (``examples/``) on ``sys.path``.
"""
import argparse
import importlib.util
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
import torch
import yaml
from pyjaspar import jaspardb

ALPHABET = "ACGT"
# Pinned rather than pyjaspar's default so that a newer pyjaspar cannot change
# the data; versioned matrix IDs are identical across releases anyway.
JASPAR_RELEASE = "JASPAR2024"


@dataclass(frozen=True)
class Motif:
    """A JASPAR motif as base probabilities, shape ``(length, 4)`` in ACGT order."""

    matrix_id: str
    name: str
    probs: np.ndarray


@dataclass(frozen=True)
class Site:
    """One planted motif instance; ``start``/``end`` are 0-based half-open."""

    motif: int
    start: int
    end: int
    strand: str


def load_motifs(specs: tuple[tuple[str, str], ...], release: str = JASPAR_RELEASE) -> list[Motif]:
    """Read motif matrices from pyjaspar's bundled database.

    Parameters
    ----------
    specs : tuple of (str, str)
        ``(matrix ID, expected name)`` of every motif, e.g.
        ``(("MA0139.2", "CTCF"),)``.
    release : str
        JASPAR release name known to pyjaspar.

    Returns
    -------
    list of Motif
        In ``specs`` order.

    Raises
    ------
    ValueError
        If a matrix ID names another factor than expected.
    """
    db = jaspardb(release=release)
    motifs = []
    for matrix_id, name in specs:
        record = db.fetch_motif_by_id(matrix_id)
        # Guards against a typo in the specs silently planting the wrong factor.
        if record.name.upper() != name.upper():
            raise ValueError(f"{matrix_id} is {record.name} in {release}, not {name}")
        counts = np.array([record.counts[base] for base in ALPHABET], dtype=float).T
        motifs.append(Motif(matrix_id, name, counts / counts.sum(axis=1, keepdims=True)))
    return motifs


def reverse_complement(codes: np.ndarray) -> np.ndarray:
    """Reverse-complement integer-coded DNA (0..3 = A, C, G, T)."""
    return (3 - codes)[::-1]


def sample_motif_instance(motif: Motif, strand: str, rng: np.random.Generator) -> np.ndarray:
    """Draw one instance of ``motif``, each position from its column's probabilities.

    Parameters
    ----------
    motif : Motif
        Motif to sample from.
    strand : {'+', '-'}
        ``'-'`` returns the reverse complement of the sampled forward instance.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    numpy.ndarray
        Integer-coded bases, length ``len(motif.probs)``.
    """
    cumulative = np.cumsum(motif.probs, axis=1)
    # Inverse-CDF sampling of every column at once; comparing against only
    # the first three cumulative sums keeps rounding from yielding code 4.
    draws = rng.random(len(motif.probs))
    codes = (draws[:, None] >= cumulative[:, :3]).sum(axis=1)
    return reverse_complement(codes) if strand == "-" else codes


def one_hot(codes: np.ndarray) -> np.ndarray:
    """One-hot encode integer-coded DNA to ``(..., length, 4)`` float32."""
    return np.eye(4, dtype=np.float32)[codes]


def decode(codes: np.ndarray) -> str:
    """Integer-coded DNA to an ACGT string."""
    return "".join(np.array(list(ALPHABET))[codes])


def write_fasta(path: Path, records: list[tuple[str, str]], width: int = 60) -> None:
    """Write ``(name, sequence)`` records as line-wrapped FASTA.

    Any existing ``.fai`` next to ``path`` is removed: a stale index from a
    previous run would make pyfaidx read the wrong offsets.
    """
    Path(str(path) + ".fai").unlink(missing_ok=True)
    with open(path, "w") as handle:
        for name, seq in records:
            handle.write(f">{name}\n")
            for i in range(0, len(seq), width):
                handle.write(seq[i:i + width] + "\n")


def write_tsv(path: Path, rows: Iterable[Sequence], header: Sequence[str] | None = None) -> None:
    """Write tab-separated rows, with an optional header line."""
    with open(path, "w") as handle:
        if header:
            handle.write("\t".join(header) + "\n")
        for row in rows:
            handle.write("\t".join(str(v) for v in row) + "\n")


def write_yaml(path: Path, content: dict) -> None:
    """Dump ``content`` as YAML, keeping key order for readability."""
    with open(path, "w") as handle:
        yaml.safe_dump(content, handle, sort_keys=False, width=100)


def kipoiseq_dataloader(seq_len: int, alphabet_axis: int) -> dict:
    """The ``default_dataloader`` entry of an example model's ``model.yaml``.

    Parameters
    ----------
    seq_len : int
        Input length; intervals are resized to it around their centre.
    alphabet_axis : int
        Axis of one encoded sequence that holds A, C, G, T.

    Returns
    -------
    dict
        Declares ``kipoiseq.dataloaders.SeqIntervalDl`` with its arguments.
    """
    return {
        "defined_as": "kipoiseq.dataloaders.SeqIntervalDl",
        "default_args": {
            "auto_resize_len": seq_len,
            "alphabet_axis": alphabet_axis,
            "ignore_targets": True,
            # kipoiseq reads BED columns 4+ as targets even when ignoring
            # them; with the default dtype None, pandas >= 3 tries to parse
            # the name column as float and fails on 6-column BED files.
            "label_dtype": "str",
            # kipoiseq one-hot encodes to float64 by default, which PyTorch
            # layers with float32 weights reject; kipoiseq eval()s this string.
            "dtype": "np.float32",
        },
    }


def import_module_file(path: Path, name: str) -> ModuleType:
    """Import the ``model.py`` that Kipoi will later import, so both agree.

    Parameters
    ----------
    path : pathlib.Path
        Python source file.
    name : str
        Module name to register it under.

    Returns
    -------
    types.ModuleType
    """
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fit_torch(model: torch.nn.Module, x: np.ndarray, y: np.ndarray, epochs: int, seed: int,
              batch_size: int, learning_rate: float, tag: str = "pytorch", weight_decay: float = 0.0,
              log_every: int = 1) -> torch.nn.Module:
    """Train a model ending in a sigmoid with Adam and binary cross-entropy.

    Parameters
    ----------
    model : torch.nn.Module
        Freshly initialised model returning probabilities.
    x : numpy.ndarray
        Float32 inputs, in the layout the model takes.
    y : numpy.ndarray
        ``(N, outputs)`` float32 0/1 labels.
    epochs : int
        Passes over the data.
    seed : int
        Seeds the batch order.
    batch_size : int
        Sequences per optimiser step.
    learning_rate : float
        Adam's learning rate.
    tag : str
        Prefix of the progress lines.
    weight_decay : float
        Adam's L2 penalty on the weights; 0 disables it.
    log_every : int
        Print the loss every this many epochs, and after the last one.

    Returns
    -------
    torch.nn.Module
        The trained model in eval mode.
    """
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
    # The example models end in a Sigmoid module (kept for attribution
    # methods), hence BCELoss on probabilities rather than BCEWithLogitsLoss.
    loss_fn = torch.nn.BCELoss()
    batch_order = torch.Generator().manual_seed(seed)
    x_t, y_t = torch.from_numpy(x), torch.from_numpy(y)
    model.train()
    for epoch in range(epochs):
        tic = time.perf_counter()
        total = 0.0
        for idx in torch.randperm(len(x_t), generator=batch_order).split(batch_size):
            optimizer.zero_grad()
            loss = loss_fn(model(x_t[idx]), y_t[idx])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        if (epoch + 1) % log_every == 0 or epoch + 1 == epochs:
            print(f"  [{tag}] epoch {epoch + 1}/{epochs} loss {total / len(x_t):.4f} "
                  f"({time.perf_counter() - tic:.1f} s)", flush=True)
    return model.eval()


def predict_torch(model: torch.nn.Module, x: np.ndarray, batch_size: int | None = None) -> np.ndarray:
    """Predict probabilities for float32 inputs ``x``.

    Parameters
    ----------
    model : torch.nn.Module
        Model in eval mode.
    x : numpy.ndarray
        Inputs, in the layout the model takes.
    batch_size : int, optional
        Sequences per forward pass; all at once by default. Batching bounds
        memory (attention maps grow with the square of the token count).

    Returns
    -------
    numpy.ndarray
        The model's outputs.
    """
    step = batch_size or len(x)
    with torch.no_grad():
        return np.concatenate([model(torch.from_numpy(x[i:i + step])).numpy()
                               for i in range(0, len(x), step)])


def parse_args(doc: str, quick_help: str, argv: list[str] | None = None) -> argparse.Namespace:
    """The command line every training script takes: ``--out`` (default: the examples folder)
    and ``--quick``; ``doc`` is the script's docstring, whose first paragraph describes it."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent,
                        help="output folder (default: the examples folder next to this script)")
    parser.add_argument("--quick", action="store_true", help=quick_help)
    return parser.parse_args(argv)
