"""Generate the bundled example data and models of kipoi-explain.

The examples are synthetic so that ground truth is known: JASPAR motifs are
planted into uniform random DNA, two small CNNs (PyTorch and Keras 3) learn to
detect them, and attribution methods can be checked against the planted sites.

Everything is seeded and offline: the motif matrices come from the JASPAR
release bundled with pyjaspar, so running this script twice gives the same
data and the same weights (``model.keras`` differs only by the save time
Keras writes into it).

Outputs (relative to ``--out``)::

    data/genome.fa              small synthetic genome (chr1, chr2)
    data/regions.bed            100 evaluation windows (60 pos_*, 40 neg_*)
    data/sequences.fa           the same windows as FASTA records
    data/planted_sites.tsv      every planted motif, genome and window coords
    models/pytorch_cnn/         Kipoi model directory (kipoi.model.PyTorchModel)
    models/keras_cnn/           Kipoi model directory (kipoi.model.KerasModel)

Usage::

    python examples/train_examples.py            # full run, writes examples/
    python examples/train_examples.py --quick --out /tmp/smoke
"""
import time
from pathlib import Path

import numpy as np
import torch
from synthetic import (JASPAR_RELEASE, Motif, decode, fit_torch, import_module_file,  # noqa: I001
                       kipoiseq_dataloader, load_motifs, one_hot, parse_args, plant_sites,
                       predict_torch, save_torch_model, spawn_rngs, use_keras_with_tensorflow,
                       write_fasta, write_tsv, write_yaml)

use_keras_with_tensorflow()

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

EXAMPLES_DIR = Path(__file__).resolve().parent
PYTORCH_MODEL_SOURCE = EXAMPLES_DIR / "models" / "pytorch_cnn" / "model.py"

# (matrix ID, short name); the name is also the model output's column label.
# All three carry >= 16 bits of information: chance matches in 200 bp of
# random background are then rare enough for a near-perfect detector to exist
# (e.g. GATA1 MA0035.4, ~10 bits, caps even an ideal PWM scan near 0.90 AUROC).
MOTIFS = (
    ("MA0139.2", "CTCF"),
    ("MA1494.2", "HNF4A"),
    ("MA0466.3", "CEBPB"),
)

SEQ_LEN = 200
SEED = 1234
MAX_SITES_PER_TRAINING_SEQ = 2

GENOME_CONTIGS = ("chr1", "chr2")
CONTIG_LEN = 30_000
# Evaluation windows sit in fixed-size slots, which keeps them non-overlapping.
SLOT_LEN = 500
FIRST_SLOT_START = 1_000
N_POSITIVE_REGIONS = 60
N_NEGATIVE_REGIONS = 40
# Planted sites stay this far from the window edges so that a model looking
# at the window sees each site whole, with context on both sides.
REGION_SITE_MARGIN = 20

FULL_SIZES = {"n_train": 40_000, "n_test": 5_000, "epochs": 20}
QUICK_SIZES = {"n_train": 512, "n_test": 256, "epochs": 1}
BATCH_SIZE = 128
LEARNING_RATE = 1e-3

SITES_HEADER = ("region", "chrom", "start", "end", "window_start", "window_end",
                "motif_id", "motif_name", "strand")


def make_labelled_set(n: int, motifs: list[Motif], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Generate ``n`` training-style sequences and their presence labels.

    Each sequence is uniform i.i.d. background with 0 to
    :data:`MAX_SITES_PER_TRAINING_SEQ` planted sites, motifs drawn with
    replacement; label ``k`` is 1 when motif ``k`` was planted at least once.

    Returns
    -------
    codes : numpy.ndarray
        ``(n, SEQ_LEN)`` integer-coded sequences.
    labels : numpy.ndarray
        ``(n, len(motifs))`` float32 0/1 labels.
    """
    codes = rng.integers(0, 4, size=(n, SEQ_LEN))
    labels = np.zeros((n, len(motifs)), dtype=np.float32)
    for i in range(n):
        n_sites = int(rng.integers(0, MAX_SITES_PER_TRAINING_SEQ + 1))
        chosen = [int(k) for k in rng.integers(len(motifs), size=n_sites)]
        for site in plant_sites(codes[i], chosen, motifs, margin=0, rng=rng):
            labels[i, site.motif] = 1.0
    return codes, labels


def train_pytorch(x: np.ndarray, y: np.ndarray, epochs: int, seed: int) -> torch.nn.Module:
    """Train ``TFBindingCNN`` with Adam and binary cross-entropy.

    Parameters
    ----------
    x : numpy.ndarray
        ``(N, 4, SEQ_LEN)`` one-hot inputs.
    y : numpy.ndarray
        ``(N, 3)`` 0/1 labels.
    epochs : int
        Passes over the data.
    seed : int
        Seeds weight initialisation and batch order.

    Returns
    -------
    torch.nn.Module
        The trained model in eval mode.
    """
    torch.manual_seed(seed)
    model = import_module_file(PYTORCH_MODEL_SOURCE, "pytorch_cnn_model").TFBindingCNN()
    return fit_torch(model, x, y, epochs, seed, BATCH_SIZE, LEARNING_RATE)


def build_keras_model(n_outputs: int) -> keras.Model:
    """Build the Keras 3 functional CNN on channels-last ``(SEQ_LEN, 4)`` input.

    Activations are deliberately written in the two styles found in real zoo
    models, fused (``activation=`` on a layer) and separate ``Activation``
    layers, so that attribution code has to handle both.
    """
    layers = keras.layers
    inputs = keras.Input(shape=(SEQ_LEN, 4), name="seq")
    x = layers.Conv1D(16, 15, padding="same", activation="relu", name="conv1")(inputs)
    x = layers.MaxPooling1D(4, name="pool1")(x)
    x = layers.Dropout(0.1, name="drop1")(x)
    x = layers.Conv1D(16, 5, padding="same", name="conv2")(x)
    x = layers.Activation("relu", name="act2")(x)
    x = layers.MaxPooling1D(5, name="pool2")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(32, activation="relu", name="fc1")(x)
    x = layers.Dense(n_outputs, name="fc2")(x)
    outputs = layers.Activation("sigmoid", name="out")(x)
    return keras.Model(inputs, outputs, name="tf_binding_cnn")


def train_keras(x: np.ndarray, y: np.ndarray, epochs: int, seed: int) -> keras.Model:
    """Train the Keras CNN with Adam and binary cross-entropy.

    Parameters
    ----------
    x : numpy.ndarray
        ``(N, SEQ_LEN, 4)`` one-hot inputs.
    y : numpy.ndarray
        ``(N, 3)`` 0/1 labels.
    epochs : int
        Passes over the data.
    seed : int
        Seeds Python, NumPy and TensorFlow.

    Returns
    -------
    keras.Model
        The trained model.
    """
    keras.utils.set_random_seed(seed)
    # Seeding alone does not make every TF kernel deterministic.
    tf.config.experimental.enable_op_determinism()
    model = build_keras_model(y.shape[1])
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), loss="binary_crossentropy")
    model.fit(x, y, batch_size=BATCH_SIZE, epochs=epochs, shuffle=True, verbose=2)
    return model


def per_output_auroc(y_true: np.ndarray, y_pred: np.ndarray) -> list[float]:
    """AUROC of every output column."""
    return [float(roc_auc_score(y_true[:, k], y_pred[:, k])) for k in range(y_true.shape[1])]


def format_aurocs(aurocs: list[float], motifs: list[Motif]) -> str:
    """Render AUROCs as ``NAME=0.987`` pairs."""
    return ", ".join(f"{m.name}={a:.4f}" for m, a in zip(motifs, aurocs))


def write_evaluation_data(data_dir: Path, motifs: list[Motif], rng: np.random.Generator) -> None:
    """Write the synthetic genome, the evaluation windows and their planted sites.

    Windows occupy fixed slots (one window per :data:`SLOT_LEN` bp, random
    offset inside the slot); positive/negative status is assigned to slots at
    random, and names are numbered in genome order. A positive window holds
    1 to 3 *distinct* motifs, one site each, so every output that should fire
    is explained by exactly one site (two copies of a motif would saturate
    the sigmoid and blur mutation-based attributions).

    Parameters
    ----------
    data_dir : pathlib.Path
        Receives ``genome.fa``, ``regions.bed``, ``sequences.fa`` and
        ``planted_sites.tsv``.
    motifs : list of Motif
        Motifs to plant, in :data:`MOTIFS` order.
    rng : numpy.random.Generator
        Source of randomness.
    """
    genome = {chrom: rng.integers(0, 4, size=CONTIG_LEN) for chrom in GENOME_CONTIGS}
    slots_per_contig = (CONTIG_LEN - 2 * FIRST_SLOT_START) // SLOT_LEN
    slots = [(chrom, FIRST_SLOT_START + i * SLOT_LEN)
             for chrom in GENOME_CONTIGS for i in range(slots_per_contig)]
    n_regions = N_POSITIVE_REGIONS + N_NEGATIVE_REGIONS
    picked = sorted(int(i) for i in rng.choice(len(slots), size=n_regions, replace=False))
    positive = set(int(i) for i in rng.choice(picked, size=N_POSITIVE_REGIONS, replace=False))

    bed_rows, window_records, site_rows = [], [], []
    counters = {"pos": 0, "neg": 0}
    for slot in picked:
        chrom, slot_start = slots[slot]
        start = slot_start + int(rng.integers(0, SLOT_LEN - SEQ_LEN + 1))
        window = genome[chrom][start:start + SEQ_LEN]  # a view: planting edits the genome
        kind = "pos" if slot in positive else "neg"
        name = f"{kind}_{counters[kind]:03d}"
        counters[kind] += 1
        if kind == "pos":
            n_sites = int(rng.integers(1, len(motifs) + 1))
            chosen = [int(k) for k in rng.choice(len(motifs), size=n_sites, replace=False)]
            for site in sorted(plant_sites(window, chosen, motifs, REGION_SITE_MARGIN, rng),
                               key=lambda s: s.start):
                motif = motifs[site.motif]
                site_rows.append((name, chrom, start + site.start, start + site.end, site.start,
                                  site.end, motif.matrix_id, motif.name, site.strand))
        bed_rows.append((chrom, start, start + SEQ_LEN, name, 0, "."))
        window_records.append((name, decode(window)))

    data_dir.mkdir(parents=True, exist_ok=True)
    write_fasta(data_dir / "genome.fa", [(chrom, decode(seq)) for chrom, seq in genome.items()])
    write_fasta(data_dir / "sequences.fa", window_records)
    write_tsv(data_dir / "regions.bed", bed_rows)
    write_tsv(data_dir / "planted_sites.tsv", site_rows, header=SITES_HEADER)
    print(f"  wrote {len(bed_rows)} regions and {len(site_rows)} planted sites to {data_dir}", flush=True)


def describe_training(sizes: dict, motifs: list[Motif], aurocs: list[float]) -> str:
    """One-paragraph training summary for ``info.training_procedure``."""
    return (f"Adam (learning rate {LEARNING_RATE}), binary cross-entropy, batch size {BATCH_SIZE}, "
            f"{sizes['epochs']} epochs over {sizes['n_train']} sequences, seed {SEED}. AUROC on "
            f"{sizes['n_test']} held-out sequences: {format_aurocs(aurocs, motifs)}. "
            f"Regenerate with: python examples/train_examples.py")


def model_yaml(motifs: list[Motif], framework: str, defined_as: str, args: dict,
               input_shape: tuple[int, int], alphabet_axis: int, pip_deps: list[str],
               training: str) -> dict:
    """Build the content of a Kipoi ``model.yaml`` for one of the example models.

    Parameters
    ----------
    motifs : list of Motif
        Motifs the model detects; they become the target column labels.
    framework : str
        Human-readable framework name for the docs.
    defined_as : str
        Kipoi model class, e.g. ``kipoi.model.PyTorchModel``.
    args : dict
        Arguments of that class.
    input_shape : tuple of int
        Shape of one input sequence.
    alphabet_axis : int
        Axis of ``input_shape`` holding A, C, G, T.
    pip_deps : list of str
        pip packages the model needs.
    training : str
        Training summary, see :func:`describe_training`.

    Returns
    -------
    dict
        Ready for ``yaml.safe_dump``.
    """
    motif_list = ", ".join(f"{m.name} ({m.matrix_id})" for m in motifs)
    return {
        "defined_as": defined_as,
        "args": args,
        "default_dataloader": kipoiseq_dataloader(SEQ_LEN, alphabet_axis),
        "info": {
            "authors": [{"name": "kipoi-explain developers"}],
            "doc": (f"Synthetic example {framework} CNN bundled with kipoi-explain. Predicts, for a "
                    f"{SEQ_LEN} bp DNA sequence, whether each of the {JASPAR_RELEASE} motifs "
                    f"{motif_list} is present (one sigmoid output per motif). Trained on simulated data "
                    f"by examples/train_examples.py; not a model of real biology."),
            "version": "0.1",
            "license": "MIT",
            "tags": ["synthetic", "example", "TFBS"],
            "trained_on": (f"Uniform i.i.d. random {SEQ_LEN} bp sequences with 0-"
                           f"{MAX_SITES_PER_TRAINING_SEQ} motif instances sampled from the JASPAR "
                           f"PFMs on a random strand at random non-overlapping positions."),
            "training_procedure": training,
        },
        "schema": {
            "inputs": {
                "name": "seq",
                "shape": f"({input_shape[0]}, {input_shape[1]})",
                "special_type": "DNASeq",
                "doc": f"One-hot encoded DNA sequence, alphabet A, C, G, T along axis {alphabet_axis}.",
            },
            "targets": {
                "shape": f"({len(motifs)},)",
                "doc": "Probability that each motif is present in the sequence.",
                "column_labels": [m.name for m in motifs],
            },
        },
        "dependencies": {"pip": pip_deps},
    }


def save_pytorch_model(model: torch.nn.Module, model_dir: Path, motifs: list[Motif],
                       training: str) -> None:
    """Write ``model.py``, ``weights.pt`` (a plain state_dict) and ``model.yaml``."""
    save_torch_model(model, model_dir, PYTORCH_MODEL_SOURCE, model_yaml(
        motifs, "PyTorch", "kipoi.model.PyTorchModel",
        {"module_file": "model.py", "module_class": "TFBindingCNN", "weights": "weights.pt"},
        input_shape=(4, SEQ_LEN), alphabet_axis=0, pip_deps=["kipoiseq", "torch"], training=training))


def save_keras_model(model: keras.Model, model_dir: Path, motifs: list[Motif], training: str) -> None:
    """Write ``model.keras`` and ``model.yaml``."""
    model_dir.mkdir(parents=True, exist_ok=True)
    model.save(model_dir / "model.keras")
    write_yaml(model_dir / "model.yaml", model_yaml(
        motifs, "Keras 3", "kipoi.model.KerasModel", {"weights": "model.keras"},
        input_shape=(SEQ_LEN, 4), alphabet_axis=1, pip_deps=["kipoiseq", "tensorflow", "keras>=3"],
        training=training))


def main(argv: list[str] | None = None) -> None:
    """Generate data, train both models and write everything under ``--out``."""
    args = parse_args(__doc__, "tiny data and one epoch, for a fast smoke test", argv)
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    # Independent streams, so changing e.g. the test-set size leaves the
    # training data and the genome unchanged.
    train_rng, test_rng, genome_rng = spawn_rngs(SEED, 3)

    print(f"Loading motifs from {JASPAR_RELEASE}: "
          + ", ".join(f"{i} {n}" for i, n in MOTIFS), flush=True)
    motifs = load_motifs(MOTIFS)

    print("Writing evaluation genome and regions", flush=True)
    write_evaluation_data(args.out / "data", motifs, genome_rng)

    print(f"Simulating {sizes['n_train']} training and {sizes['n_test']} held-out sequences", flush=True)
    train_codes, y_train = make_labelled_set(sizes["n_train"], motifs, train_rng)
    test_codes, y_test = make_labelled_set(sizes["n_test"], motifs, test_rng)
    x_train, x_test = one_hot(train_codes), one_hot(test_codes)
    print("  positive rate per output: "
          + ", ".join(f"{m.name}={rate:.3f}" for m, rate in zip(motifs, y_train.mean(axis=0))), flush=True)

    print("Training PyTorch model", flush=True)
    tic = time.perf_counter()
    torch_model = train_pytorch(x_train.transpose(0, 2, 1).copy(), y_train, sizes["epochs"], SEED)
    print(f"  trained in {time.perf_counter() - tic:.1f} s", flush=True)
    torch_auc = per_output_auroc(y_test, predict_torch(torch_model, x_test.transpose(0, 2, 1).copy()))
    print(f"  held-out AUROC: {format_aurocs(torch_auc, motifs)}", flush=True)
    save_pytorch_model(torch_model, args.out / "models" / "pytorch_cnn", motifs,
                       describe_training(sizes, motifs, torch_auc))

    print("Training Keras model", flush=True)
    tic = time.perf_counter()
    keras_model = train_keras(x_train, y_train, sizes["epochs"], SEED)
    print(f"  trained in {time.perf_counter() - tic:.1f} s", flush=True)
    keras_auc = per_output_auroc(y_test, keras_model.predict(x_test, batch_size=512, verbose=0))
    print(f"  held-out AUROC: {format_aurocs(keras_auc, motifs)}", flush=True)
    save_keras_model(keras_model, args.out / "models" / "keras_cnn", motifs,
                     describe_training(sizes, motifs, keras_auc))

    print(f"Done; outputs in {args.out}", flush=True)


if __name__ == "__main__":
    main()
