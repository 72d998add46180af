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
import os
import shutil
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
#: Set to 1, every training script runs as with ``--quick`` (the README examples' test).
QUICK_VARIABLE = "KIPOI_EXPLAIN_EXAMPLES_QUICK"


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


def spawn_rngs(seed: int, n: int) -> list[np.random.Generator]:
    """``n`` independent generators from ``seed``, one per use (training data, test data,
    evaluation data, ...), so that how much one use draws leaves the others' draws unchanged."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n)]


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


def choose_site_starts(lengths: list[int], seq_len: int, margin: int,
                       rng: np.random.Generator) -> list[int]:
    """Pick non-overlapping start positions for sites of the given lengths.

    Parameters
    ----------
    lengths : list of int
        Length of every site to place.
    seq_len : int
        Length of the host sequence.
    margin : int
        Minimum distance between any site and either sequence end.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    list of int
        One start per entry of ``lengths``.
    """
    # Rejection sampling is fine: at most three ~15 bp sites in >= 160 bp.
    while True:
        starts = [int(rng.integers(margin, seq_len - margin - length + 1)) for length in lengths]
        spans = sorted(zip(starts, lengths))
        if all(s1 + l1 <= s2 for (s1, l1), (s2, _) in zip(spans, spans[1:])):
            return starts


def plant_sites(seq: np.ndarray, motif_indices: list[int], motifs: list[Motif], margin: int,
                rng: np.random.Generator) -> list[Site]:
    """Plant one instance of each listed motif into ``seq`` in place.

    Parameters
    ----------
    seq : numpy.ndarray
        Integer-coded sequence, modified in place.
    motif_indices : list of int
        Index into ``motifs`` of every site to plant; strands and positions
        are random.
    motifs : list of Motif
        All motifs.
    margin : int
        Minimum distance between a site and the sequence ends.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    list of Site
        The planted sites, in the order they were drawn.
    """
    strands = [str(s) for s in rng.choice(["+", "-"], size=len(motif_indices))]
    starts = choose_site_starts([len(motifs[i].probs) for i in motif_indices], len(seq), margin, rng)
    sites = []
    for motif_index, strand, start in zip(motif_indices, strands, starts):
        instance = sample_motif_instance(motifs[motif_index], strand, rng)
        seq[start:start + len(instance)] = instance
        sites.append(Site(motif_index, start, start + len(instance), strand))
    return sites


def one_hot(codes: np.ndarray) -> np.ndarray:
    """One-hot encode integer-coded DNA to ``(..., length, 4)`` float32."""
    return np.eye(4, dtype=np.float32)[codes]


def channels_first(codes: np.ndarray) -> np.ndarray:
    """Integer-coded sequences to the ``(N, 4, L)`` float32 one-hot input of a PyTorch model."""
    return np.ascontiguousarray(one_hot(codes).transpose(0, 2, 1))


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
              log_every: int = 1, loss: str = "bce") -> torch.nn.Module:
    """Train a model with Adam, by default one ending in a sigmoid on binary cross-entropy.

    Parameters
    ----------
    model : torch.nn.Module
        Freshly initialised model returning probabilities.
    x : numpy.ndarray
        Float32 inputs, in the layout the model takes.
    y : numpy.ndarray
        Float32 targets in the model's output shape: 0/1 labels (or probabilities) for
        ``loss='bce'``, real values for ``loss='mse'``.
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
    loss : {'bce', 'mse'}
        Binary cross-entropy on probabilities, or the mean squared error for models that
        predict signal (profiles, contact maps, expression).

    Returns
    -------
    torch.nn.Module
        The trained model in eval mode.
    """
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
    # The example models end in a Sigmoid module (kept for attribution
    # methods), hence BCELoss on probabilities rather than BCEWithLogitsLoss.
    loss_fn = {"bce": torch.nn.BCELoss, "mse": torch.nn.MSELoss}[loss]()
    batch_order = torch.Generator().manual_seed(seed)
    x_t, y_t = torch.from_numpy(x), torch.from_numpy(y)
    model.train()
    for epoch in range(epochs):
        tic = time.perf_counter()
        total = 0.0
        for idx in torch.randperm(len(x_t), generator=batch_order).split(batch_size):
            optimizer.zero_grad()
            batch_loss = loss_fn(model(x_t[idx]), y_t[idx])
            batch_loss.backward()
            optimizer.step()
            total += batch_loss.item() * len(idx)
        if (epoch + 1) % log_every == 0 or epoch + 1 == epochs:
            print(f"  [{tag}] epoch {epoch + 1}/{epochs} {loss} {total / len(x_t):.5g} "
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


def save_torch_model(model: torch.nn.Module, model_dir: Path, source: Path, content: dict) -> None:
    """Write a Kipoi PyTorchModel directory: ``model.py`` (a copy of ``source``), ``weights.pt``
    (a plain state_dict) and ``model.yaml`` (``content``)."""
    model_dir.mkdir(parents=True, exist_ok=True)
    if (model_dir / "model.py").resolve() != source:
        shutil.copyfile(source, model_dir / "model.py")
    # A plain state_dict, because Kipoi calls torch.load with weights_only=True.
    torch.save(model.state_dict(), model_dir / "weights.pt")
    write_yaml(model_dir / "model.yaml", content)


def check_through_kipoi(model_dir: Path, x: np.ndarray | dict[str, np.ndarray],
                        expected: np.ndarray, atol: float = 1e-6) -> None:
    """Load the written ``model_dir`` with Kipoi and check that it predicts ``expected`` for ``x``.

    Parameters
    ----------
    model_dir : pathlib.Path
        Kipoi model directory just written.
    x : numpy.ndarray or dict of str to numpy.ndarray
        The model's input, or its inputs by name where ``model.yaml`` declares a dict schema.
    expected : numpy.ndarray
        The in-memory model's predictions for ``x``.
    atol : float
        Largest difference tolerated.

    Raises
    ------
    RuntimeError
        If Kipoi's predictions differ from the in-memory model's.
    """
    import kipoi  # imported here: only this final check needs it

    model = kipoi.get_model(str(model_dir), source="dir", with_dataloader=False)
    predicted = np.asarray(model.predict_on_batch(x))
    if predicted.shape != expected.shape or not np.allclose(predicted, expected, atol=atol):
        raise RuntimeError(f"Kipoi predictions {predicted.shape} differ from the trained model's "
                           f"{expected.shape}")
    print(f"  Kipoi loaded {model_dir}; its predictions match", flush=True)


def use_keras_with_tensorflow() -> None:
    """Make the first ``import keras`` that follows safe, and TensorFlow-backed.

    torch.optim lazily imports torch._dynamo, which loads Triton's native library; doing that
    after TensorFlow is loaded segfaults (seen with torch 2.14 + triton 3.8 + TF 2.21), so it
    is loaded here, up front. Kipoi's KerasModel expects TensorFlow as Keras' backend.
    """
    import torch._dynamo  # noqa: F401

    os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def parse_args(doc: str, quick_help: str, argv: list[str] | None = None) -> argparse.Namespace:
    """The command line every training script takes: ``--out`` (default: the examples folder)
    and ``--quick``; ``doc`` is the script's docstring, whose first paragraph describes it.

    ``KIPOI_EXPLAIN_EXAMPLES_QUICK=1`` in the environment makes every run quick, so that the
    documented commands (and the test that runs them) can regenerate everything in seconds.
    """
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent,
                        help="output folder (default: the examples folder next to this script)")
    parser.add_argument("--quick", action="store_true",
                        default=os.environ.get(QUICK_VARIABLE) == "1",
                        help=f"{quick_help} (default with {QUICK_VARIABLE}=1)")
    return parser.parse_args(argv)
