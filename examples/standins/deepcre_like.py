"""Train ``deepcre_like``, a stand-in for DeepCRE-class gene-flank expression CNNs (Keras).

DeepCRE (Peleke et al. 2024) predicts whether a plant gene is highly or
lowly expressed from its flanks: 1000 bp upstream of the TSS and 500 bp
downstream of the TSS, 500 bp upstream and 1000 bp downstream of the TTS,
joined by a 20 bp spacer of N (all-zero one-hot rows), read by a
TensorFlow/Keras CNN (three blocks of two convolutions and max pooling, then
dense layers, one sigmoid). Its cis-regulatory elements were read from
DeepLIFT/SHAP (DeepExplainer) contribution scores and extracted with
TF-MoDISco. This stand-in is a Keras 3 model with the same input layout
shrunk to 150 bp of promoter flank, the 20 bp N spacer and 150 bp of
terminator flank, two convolution blocks, and JASPAR vertebrate motifs as the
planted elements (their matches are unambiguous, unlike the large plant
families). It is named after the class it stands for and is not DeepCRE.

Planted truth: an activator motif (ZNF143, MA0088.2) in the promoter flank
raises expression and a repressor motif (REST, MA0138.3) in the terminator
flank lowers it; the training target is the probability of the high class,
``sigmoid(3 * activator - 3 * repressor)``. The same motifs in the other
flank (decoys) do nothing, so position matters.

Outputs (relative to ``--out``)::

    data/standins/deepcre_like/sequences.fa   30 evaluation sequences (320 bp, with the
                                               N spacer): 12 both_*, 6 activator_*,
                                               6 repressor_*, 6 decoys_*
    data/standins/deepcre_like/sites.tsv      every planted site of those sequences
    models/standins/deepcre_like/             Kipoi model directory (KerasModel, model.keras)

Usage::

    python examples/standins/deepcre_like.py            # full run, writes examples/
    python examples/standins/deepcre_like.py --quick --out /tmp/smoke
"""
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# synthetic loads torch, which must come before TensorFlow (loading them the
# other way round segfaults).
from synthetic import (JASPAR_RELEASE, Motif, decode, load_motifs, one_hot,  # noqa: E402, I001
                       parse_args, plant_sites, spawn_rngs, use_keras_with_tensorflow, write_fasta,
                       write_tsv, write_yaml)

use_keras_with_tensorflow()

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

NAME = "deepcre_like"
FLANK = 150
SPACER = 20
SEQ_LEN = 2 * FLANK + SPACER
TERMINATOR_START = FLANK + SPACER
LABEL = "high_expression"
# (role, (matrix ID, name)); ZNF143 activates transcription, REST represses it.
MOTIFS = (("activator", ("MA0088.2", "ZNF143")), ("repressor", ("MA0138.3", "REST")))
ACTIVATOR, REPRESSOR = 0, 1
EFFECT = 3.0
# Each element lands in its effective flank, and as a decoy in the other
# flank, independently with these probabilities.
P_EFFECTIVE = 0.5
P_DECOY = 0.25
# Evaluation kinds: (name, motifs in the promoter flank, in the terminator flank, count).
EVAL_KINDS = (
    ("both", (ACTIVATOR,), (REPRESSOR,), 12),
    ("activator", (ACTIVATOR,), (), 6),
    ("repressor", (), (REPRESSOR,), 6),
    ("decoys", (REPRESSOR,), (ACTIVATOR,), 6),
)
EVAL_MARGIN = 10

SEED = 2024
FULL_SIZES = {"n_train": 10_000, "n_test": 2_000, "epochs": 8}
QUICK_SIZES = {"n_train": 256, "n_test": 128, "epochs": 1}
BATCH_SIZE = 128
LEARNING_RATE = 2e-3
SITES_HEADER = ("sequence", "role", "flank", "motif_id", "motif_name", "start", "end", "strand")


def make_sequence(promoter: list[int], terminator: list[int], motifs: list[Motif], margin: int,
                  rng: np.random.Generator) -> tuple[np.ndarray, list[tuple]]:
    """One sequence with the given motifs planted in each flank.

    Returns
    -------
    codes : numpy.ndarray
        ``(SEQ_LEN,)`` integer codes, -1 in the spacer.
    sites : list of tuple
        ``(motif index, flank, start, end, strand)`` in sequence coordinates.
    """
    codes = rng.integers(0, 4, size=SEQ_LEN)
    codes[FLANK:TERMINATOR_START] = -1
    sites = []
    for flank, offset, chosen in (("promoter", 0, promoter),
                                  ("terminator", TERMINATOR_START, terminator)):
        # A view, so planting edits the sequence.
        for site in plant_sites(codes[offset:offset + FLANK], chosen, motifs, margin, rng):
            sites.append((site.motif, flank, offset + site.start, offset + site.end, site.strand))
    return codes, sorted(sites, key=lambda s: s[2])


def encode(codes: np.ndarray) -> np.ndarray:
    """``(N, SEQ_LEN, 4)`` float32 one-hot; the spacer (-1) is all-zero rows, as N in DeepCRE."""
    return one_hot(np.where(codes < 0, 0, codes)) * (codes >= 0)[..., None]


def to_string(codes: np.ndarray) -> str:
    """ACGT string with N in the spacer."""
    text = decode(np.where(codes < 0, 0, codes))
    return text[:FLANK] + "N" * SPACER + text[TERMINATOR_START:]


def make_training_set(n: int, motifs: list[Motif], rng: np.random.Generator
                      ) -> tuple[np.ndarray, np.ndarray]:
    """``n`` sequences and their ``(n, 1)`` target probabilities of high expression."""
    codes, targets = np.zeros((n, SEQ_LEN), dtype=np.int64), np.zeros((n, 1), dtype=np.float32)
    for i in range(n):
        active, repressed, decoy_a, decoy_r = (int(v) for v in rng.random(4) < (
            P_EFFECTIVE, P_EFFECTIVE, P_DECOY, P_DECOY))
        promoter = [ACTIVATOR] * active + [REPRESSOR] * decoy_r
        terminator = [REPRESSOR] * repressed + [ACTIVATOR] * decoy_a
        codes[i], _ = make_sequence(promoter, terminator, motifs, 0, rng)
        targets[i, 0] = 1 / (1 + np.exp(-EFFECT * (active - repressed)))
    return codes, targets


def build_model() -> keras.Model:
    """DeepCRE's shape, shrunk: two blocks of two convolutions and max pooling, a flatten that
    keeps position (the flanks mean different things), dense layers and one sigmoid."""
    layers = keras.layers
    inputs = keras.Input(shape=(SEQ_LEN, 4), name="seq")
    x = layers.Conv1D(32, 15, padding="same", activation="relu", name="conv1a")(inputs)
    x = layers.Conv1D(32, 5, padding="same", activation="relu", name="conv1b")(x)
    x = layers.MaxPooling1D(5, name="pool1")(x)
    x = layers.Conv1D(32, 5, padding="same", activation="relu", name="conv2a")(x)
    x = layers.MaxPooling1D(4, name="pool2")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(32, activation="relu", name="dense1")(x)
    x = layers.Dense(1, name="dense2")(x)
    outputs = layers.Activation("sigmoid", name="out")(x)
    return keras.Model(inputs, outputs, name=NAME)


def model_yaml(motifs: list[Motif], sizes: dict, scores: str) -> dict:
    """The content of the stand-in's Kipoi ``model.yaml``."""
    act, rep = (f"{m.name} ({m.matrix_id})" for m in motifs)
    return {
        "defined_as": "kipoi.model.KerasModel",
        "args": {"weights": "model.keras"},
        "info": {
            "authors": [{"name": "kipoi-explain developers"}],
            "doc": (f"deepcre_like: a small synthetic Keras 3 stand-in for DeepCRE-class CNNs that "
                    f"predict high vs low gene expression from the gene's flanks. Named after the "
                    f"class it stands for; it is not DeepCRE and models no real biology. Input: "
                    f"{FLANK} bp promoter flank, {SPACER} bp of N (all-zero rows), {FLANK} bp "
                    f"terminator flank. The {JASPAR_RELEASE} motif {act} in the promoter flank "
                    f"raises expression, {rep} in the terminator flank lowers it; in the other "
                    f"flank they do nothing. Trained by examples/standins/deepcre_like.py."),
            "version": "0.1",
            "license": "MIT",
            "tags": ["synthetic", "stand-in", "DeepCRE", "gene expression", "Keras"],
            "trained_on": (
                f"Uniform i.i.d. random flanks. The activator is planted in the promoter flank and "
                f"the repressor in the terminator flank, each with probability {P_EFFECTIVE}; each "
                f"also lands in the other flank as a decoy with probability {P_DECOY}. Sites are "
                f"sampled from the JASPAR PFMs on a random strand. Target: probability of high "
                f"expression, sigmoid({EFFECT:g} * activator - {EFFECT:g} * repressor)."),
            "training_procedure": (
                f"Adam (learning rate {LEARNING_RATE}), binary cross-entropy on the target "
                f"probabilities, batch size {BATCH_SIZE}, {sizes['epochs']} epochs over "
                f"{sizes['n_train']} sequences, seed {SEED}. On {sizes['n_test']} held-out "
                f"sequences: {scores}. Regenerate with: python examples/standins/deepcre_like.py"),
        },
        "schema": {
            "inputs": {"name": "seq", "shape": f"({SEQ_LEN}, 4)", "special_type": "DNASeq",
                       "doc": (f"One-hot DNA, alphabet A, C, G, T along axis 1: promoter flank "
                               f"[0, {FLANK}), N spacer (all-zero rows), terminator flank "
                               f"[{TERMINATOR_START}, {SEQ_LEN}).")},
            "targets": {"shape": "(1,)", "doc": "Probability that the gene is highly expressed.",
                        "column_labels": [LABEL]},
        },
        "dependencies": {"pip": ["tensorflow", "keras>=3"]},
    }


def main(argv: list[str] | None = None) -> None:
    """Write the evaluation data, train the model and save it under ``--out``."""
    args = parse_args(__doc__, "tiny data and one epoch, for a fast smoke test", argv)
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    # Independent streams, so changing e.g. the training-set size leaves the
    # evaluation data unchanged.
    train_rng, test_rng, evaluation_rng = spawn_rngs(SEED, 3)
    motifs = load_motifs(tuple(spec for _, spec in MOTIFS))

    records, rows = [], []
    for kind, promoter, terminator, count in EVAL_KINDS:
        for i in range(count):
            name = f"{kind}_{i:02d}"
            codes, sites = make_sequence(list(promoter), list(terminator), motifs, EVAL_MARGIN,
                                         evaluation_rng)
            records.append((name, to_string(codes)))
            rows += [(name, MOTIFS[m][0], flank, motifs[m].matrix_id, motifs[m].name, start, end,
                      strand) for m, flank, start, end, strand in sites]
    data_dir = args.out / "data" / "standins" / NAME
    data_dir.mkdir(parents=True, exist_ok=True)
    write_fasta(data_dir / "sequences.fa", records)
    write_tsv(data_dir / "sites.tsv", rows, header=SITES_HEADER)
    print(f"Wrote {len(records)} evaluation sequences to {data_dir}", flush=True)

    train_codes, y_train = make_training_set(sizes["n_train"], motifs, train_rng)
    test_codes, y_test = make_training_set(sizes["n_test"], motifs, test_rng)
    keras.utils.set_random_seed(SEED)
    # Seeding alone does not make every TF kernel deterministic.
    tf.config.experimental.enable_op_determinism()
    model = build_model()
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), loss="binary_crossentropy")
    tic = time.perf_counter()
    model.fit(encode(train_codes), y_train, batch_size=BATCH_SIZE, epochs=sizes["epochs"],
              shuffle=True, verbose=2)
    print(f"  trained in {time.perf_counter() - tic:.1f} s", flush=True)
    predicted = model.predict(encode(test_codes), batch_size=500, verbose=0)[:, 0]
    error = float(np.abs(predicted - y_test[:, 0]).mean())
    rho = float(spearmanr(predicted, y_test[:, 0]).statistic)
    scores = f"mean absolute error {error:.4f}, Spearman {rho:.4f} against the target"
    print(f"  held-out {scores}", flush=True)
    model_dir = args.out / "models" / "standins" / NAME
    model_dir.mkdir(parents=True, exist_ok=True)
    # A fresh copy without the optimizer's state keeps the file small.
    bare = build_model()
    bare.set_weights(model.get_weights())
    bare.save(model_dir / "model.keras")
    write_yaml(model_dir / "model.yaml", model_yaml(motifs, sizes, scores))
    print(f"Done; outputs in {args.out}", flush=True)


if __name__ == "__main__":
    main()
