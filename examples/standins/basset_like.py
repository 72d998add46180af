"""Train ``basset_like``, a stand-in for Basset-class multi-task chromatin accessibility CNNs.

Basset (Kelley et al. 2016) reads 600 bp of DNA with three convolution layers
(300 filters 19 bp wide, then 200 x 11 and 200 x 7, each with batch
normalisation, ReLU and max pooling), two dense layers of 1000 units and one
sigmoid per cell type, predicting DNase I accessibility in 164 cell types.
The review credits it with reading first-layer filters as PWMs matched to
JASPAR (TomTom) and with in-silico mutagenesis / saliency maps. This stand-in
keeps the shape (three convolutions of the same widths with batch
normalisation, two dense layers, multi-task sigmoids) and shrinks everything
else: 300 bp, 32 filters per layer, no dropout, 4 "cell types". It is
named after the class it stands for and is not Basset.

Planted truth: each training sequence is uniform random DNA holding 0-2
distinct motifs out of four JASPAR 2024 motifs, one per cell type (see
:data:`TASKS`); a sequence is accessible in a cell type exactly when that
cell type's motif was planted.

Outputs (relative to ``--out``)::

    data/standins/basset_like/sequences.fa    44 evaluation sequences: 8 with one
                                               site per cell type, 12 with two sites
    data/standins/basset_like/sites.tsv       every planted site of those sequences
    models/standins/basset_like/              Kipoi model directory (PyTorchModel)

Usage::

    python examples/standins/basset_like.py            # full run, writes examples/
    python examples/standins/basset_like.py --quick --out /tmp/smoke
"""
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from common import standin_model  # noqa: E402
from synthetic import (JASPAR_RELEASE, Motif, channels_first, decode, fit_torch,  # noqa: E402
                       kipoiseq_dataloader, load_motifs, parse_args, plant_sites, predict_torch,
                       save_torch_model, spawn_rngs, write_fasta, write_tsv)

NAME = "basset_like"
MODEL_SOURCE, MODEL_MODULE = standin_model(NAME)
SEQ_LEN = MODEL_MODULE.SEQ_LEN

# (cell type, (matrix ID, name)): the cell type is the output's column label.
# All four motifs carry >= 20 bits, so chance matches in 300 bp of random
# background are rare, and they are dissimilar enough that TomTom tells them apart.
TASKS = (
    ("cell_A", ("MA0509.3", "RFX1")),
    ("cell_B", ("MA0083.3", "SRF")),
    ("cell_C", ("MA0105.4", "NFKB1")),
    ("cell_D", ("MA1419.2", "IRF4")),
)
# Probability of planting 0, 1 or 2 distinct motifs into a training sequence.
SITES_PER_SEQ_P = (0.3, 0.4, 0.3)
N_EVAL_SINGLE = 8
N_EVAL_PAIRS = 12
# Evaluation sites stay this far from the ends, so every model window sees them whole.
EVAL_MARGIN = 20

SEED = 2016
FULL_SIZES = {"n_train": 12_000, "n_test": 2_000, "epochs": 10}
QUICK_SIZES = {"n_train": 256, "n_test": 128, "epochs": 1}
BATCH_SIZE = 128
LEARNING_RATE = 2e-3
SITES_HEADER = ("sequence", "task", "motif_id", "motif_name", "start", "end", "strand")


def make_labelled_set(n: int, motifs: list[Motif], rng: np.random.Generator
                      ) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random sequences with 0-2 distinct planted motifs, and their ``(n, tasks)`` labels."""
    codes = rng.integers(0, 4, size=(n, SEQ_LEN))
    labels = np.zeros((n, len(motifs)), dtype=np.float32)
    for i in range(n):
        n_sites = int(rng.choice(len(SITES_PER_SEQ_P), p=SITES_PER_SEQ_P))
        chosen = [int(k) for k in rng.choice(len(motifs), size=n_sites, replace=False)]
        for site in plant_sites(codes[i], chosen, motifs, margin=0, rng=rng):
            labels[i, site.motif] = 1.0
    return codes, labels


def make_evaluation_set(motifs: list[Motif], rng: np.random.Generator
                        ) -> tuple[list[str], np.ndarray, list[tuple]]:
    """Evaluation sequences: :data:`N_EVAL_SINGLE` with one site per cell type, then
    :data:`N_EVAL_PAIRS` with the motifs of two different cell types.

    Returns
    -------
    names : list of str
    codes : numpy.ndarray
        ``(N, SEQ_LEN)`` integer-coded sequences.
    sites : list of tuple
        Rows of ``sites.tsv`` (:data:`SITES_HEADER`).
    """
    plan = [(f"{task}_{i}", [k]) for k, (task, _) in enumerate(TASKS) for i in range(N_EVAL_SINGLE)]
    for i in range(N_EVAL_PAIRS):
        pair = sorted(int(k) for k in rng.choice(len(motifs), size=2, replace=False))
        plan.append((f"pair_{i}_{TASKS[pair[0]][0]}_{TASKS[pair[1]][0]}", pair))
    codes = rng.integers(0, 4, size=(len(plan), SEQ_LEN))
    rows = []
    for (name, chosen), seq in zip(plan, codes):
        planted = plant_sites(seq, chosen, motifs, EVAL_MARGIN, rng)
        for site in sorted(planted, key=lambda s: s.start):
            motif = motifs[site.motif]
            rows.append((name, TASKS[site.motif][0], motif.matrix_id, motif.name, site.start,
                         site.end, site.strand))
    return [name for name, _ in plan], codes, rows


def model_yaml(motifs: list[Motif], sizes: dict, aurocs: list[float]) -> dict:
    """The content of the stand-in's Kipoi ``model.yaml``."""
    tasks = ", ".join(f"{task}: {m.name} ({m.matrix_id})" for (task, _), m in zip(TASKS, motifs))
    scores = ", ".join(f"{task}={a:.4f}" for (task, _), a in zip(TASKS, aurocs))
    return {
        "defined_as": "kipoi.model.PyTorchModel",
        "args": {"module_file": "model.py", "module_class": "BassetLike", "weights": "weights.pt"},
        "default_dataloader": kipoiseq_dataloader(SEQ_LEN, alphabet_axis=0),
        "info": {
            "authors": [{"name": "kipoi-explain developers"}],
            "doc": (f"basset_like: a small synthetic stand-in for Basset-class multi-task "
                    f"chromatin accessibility CNNs (three convolutions 19/11/7 bp wide with batch "
                    f"normalisation, ReLU and max pooling, two dense layers, one sigmoid per cell "
                    f"type). Named after the class it stands for; it is not Basset and models no "
                    f"real biology. Each of its 4 'cell types' is accessible when one "
                    f"{JASPAR_RELEASE} motif is present: {tasks}. Trained by "
                    f"examples/standins/basset_like.py."),
            "version": "0.1",
            "license": "MIT",
            "tags": ["synthetic", "stand-in", "Basset", "chromatin accessibility", "multi-task"],
            "trained_on": (f"Uniform i.i.d. random {SEQ_LEN} bp sequences holding 0, 1 or 2 "
                           f"distinct motifs (probabilities {SITES_PER_SEQ_P}), each sampled from "
                           f"its JASPAR PFM on a random strand at a random non-overlapping "
                           f"position; label k is 1 when cell type k's motif was planted."),
            "training_procedure": (
                f"Adam (learning rate {LEARNING_RATE}), binary cross-entropy, batch size "
                f"{BATCH_SIZE}, {sizes['epochs']} epochs over {sizes['n_train']} sequences, seed "
                f"{SEED}. AUROC on {sizes['n_test']} held-out sequences: {scores}. "
                f"Regenerate with: python examples/standins/basset_like.py"),
        },
        "schema": {
            "inputs": {"name": "seq", "shape": f"(4, {SEQ_LEN})", "special_type": "DNASeq",
                       "doc": "One-hot encoded DNA sequence, alphabet A, C, G, T along axis 0."},
            "targets": {"shape": f"({len(TASKS)},)",
                        "doc": "Probability that the sequence is accessible in each cell type.",
                        "column_labels": [task for task, _ in TASKS]},
        },
        "dependencies": {"pip": ["kipoiseq", "torch"]},
    }


def main(argv: list[str] | None = None) -> None:
    """Write the evaluation data, train the model and save it under ``--out``."""
    args = parse_args(__doc__, "tiny data and one epoch, for a fast smoke test", argv)
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    # Independent streams, so changing e.g. the training-set size leaves the
    # evaluation data unchanged.
    train_rng, test_rng, evaluation_rng = spawn_rngs(SEED, 3)
    motifs = load_motifs(tuple(spec for _, spec in TASKS))

    names, codes, sites = make_evaluation_set(motifs, evaluation_rng)
    data_dir = args.out / "data" / "standins" / NAME
    data_dir.mkdir(parents=True, exist_ok=True)
    write_fasta(data_dir / "sequences.fa", [(n, decode(c)) for n, c in zip(names, codes)])
    write_tsv(data_dir / "sites.tsv", sites, header=SITES_HEADER)
    print(f"Wrote {len(names)} evaluation sequences to {data_dir}", flush=True)

    train_codes, y_train = make_labelled_set(sizes["n_train"], motifs, train_rng)
    test_codes, y_test = make_labelled_set(sizes["n_test"], motifs, test_rng)
    tic = time.perf_counter()
    torch.manual_seed(SEED)
    model = MODEL_MODULE.BassetLike()
    model = fit_torch(model, channels_first(train_codes), y_train, sizes["epochs"], SEED,
                      BATCH_SIZE, LEARNING_RATE, tag=NAME)
    print(f"  trained in {time.perf_counter() - tic:.1f} s", flush=True)
    predicted = predict_torch(model, channels_first(test_codes), batch_size=500)
    aurocs = [float(roc_auc_score(y_test[:, k], predicted[:, k])) for k in range(len(TASKS))]
    print("  held-out AUROC: " + ", ".join(f"{t}={a:.4f}" for (t, _), a in zip(TASKS, aurocs)),
          flush=True)
    save_torch_model(model, args.out / "models" / "standins" / NAME, MODEL_SOURCE,
                     model_yaml(motifs, sizes, aurocs))
    print(f"Done; outputs in {args.out}", flush=True)


if __name__ == "__main__":
    main()
