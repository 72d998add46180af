"""Train the ``geneformer_like`` stand-in: a Geneformer-class transformer over a cell's genes.

What it stands for: Geneformer (Theodoris et al. 2023, Nature) is a transformer pretrained on
about 30 million single-cell transcriptomes, each cell encoded as its expressed genes' tokens in
rank-value order (expression normalised by the gene's median across the corpus, most expressed
first, up to 2,048 genes), then fine-tuned to classify cell states; its in-silico perturbation
deletes a gene's token from a cell (the later genes move up one rank) and measures how the
prediction (or the cell embedding) shifts. This stand-in keeps the encoding and the analysis
and shrinks the rest: 60 made-up genes plus ``<pad>``, cells of 20-24 genes, a gene embedding
plus a learned rank embedding, two ``nn.TransformerEncoderLayer`` (``d_model`` 32), a mean over
the cell's genes and a logistic head giving the probability of the ``disease`` state, trained
directly on the labelled cells (no pretraining). It is named after the class it stands for and
is not Geneformer.

Planted truth: a cell is in the ``disease`` state exactly when the driver gene GENE17 is among
its 8 most highly ranked genes. Healthy cells lack GENE17 (60%) or rank it 15th or lower (40%),
so presence alone does not decide the state: the model must read the rank. GENE05 is a decoy,
among the top-ranked genes of 70% of disease cells and of 30% of healthy ones without causing
anything. Deleting GENE17 must therefore shift the disease prediction of disease cells more than
deleting any other gene, the decoy included.

Outputs (relative to ``--out``)::

    data/standins/geneformer_like/cells.txt     40 held-out cells, one a line:
                                                name<TAB>GENE GENE ... (rank order)
    data/standins/geneformer_like/states.tsv    their simulated state: cell, state
    models/standins/geneformer_like/            Kipoi model directory (kipoi.model.PyTorchModel)
                                                with inputs.yaml and vocabulary.txt

Usage::

    python examples/standins/geneformer_like.py                  # full run, writes examples/
    python examples/standins/geneformer_like.py --quick --out /tmp/smoke
"""
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import standin_model  # noqa: E402
from synthetic import (fit_torch, parse_args, predict_torch, save_torch_model,  # noqa: E402
                       spawn_rngs, write_tsv, write_yaml)

NAME = "geneformer_like"
MODEL_SOURCE, MODEL_MODULE = standin_model(NAME)

SEED = 8111
PAD = "<pad>"
GENES = [f"GENE{g + 1:02d}" for g in range(MODEL_MODULE.VOCABULARY_SIZE - 1)]
VOCABULARY = [PAD, *GENES]
DRIVER, DECOY = "GENE17", "GENE05"
#: Disease cells rank the driver in [0, DRIVER_TOP); healthy cells that express it rank it at
#: HEALTHY_FROM or lower.
DRIVER_TOP, HEALTHY_FROM = 8, 14
HEALTHY_WITH_DRIVER = 0.4
DECOY_RATE = {"disease": 0.7, "healthy": 0.3}
DECOY_TOP = 12
MIN_GENES = 20

FULL_SIZES = {"n_train": 3_000, "n_test": 1_000, "n_eval": 40, "epochs": 4}
# The quick run keeps the full held-out set: the evaluation data are its first samples,
# which a smaller set would draw differently.
QUICK_SIZES = {"n_train": 256, "n_test": 1_000, "n_eval": 40, "epochs": 1}
BATCH_SIZE = 64
LEARNING_RATE = 2e-3


def simulate(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` cells, half of them diseased, as token ids in rank-value order.

    Every other gene's log expression is its own mean (fixed by the seed) plus N(0, 1) noise; a
    cell keeps its 20-24 most expressed genes, in decreasing order. The driver and the decoy
    are then placed at the ranks the planted truth gives them (equivalent to giving them an
    expression between their new neighbours').

    Returns
    -------
    ids : numpy.ndarray
        ``(n, LENGTH)`` int64 token ids, ``<pad>`` (0) after a cell's last gene.
    disease : numpy.ndarray
        ``(n, 1)`` float32, 1 for a disease cell.
    """
    length = MODEL_MODULE.LENGTH
    others = np.array([VOCABULARY.index(g) for g in GENES if g not in (DRIVER, DECOY)])
    means = np.random.default_rng(SEED).uniform(0.0, 3.0, len(others))
    driver, decoy = VOCABULARY.index(DRIVER), VOCABULARY.index(DECOY)
    disease = rng.random(n) < 0.5
    ids = np.zeros((n, length), dtype=np.int64)
    for i in range(n):
        n_genes = int(rng.integers(MIN_GENES, length + 1))
        ranked = list(others[np.argsort(-(means + rng.standard_normal(len(others))))])
        state = "disease" if disease[i] else "healthy"
        if rng.random() < DECOY_RATE[state]:
            ranked.insert(int(rng.integers(0, DECOY_TOP)), decoy)
        if disease[i]:
            ranked.insert(int(rng.integers(0, DRIVER_TOP)), driver)
        elif rng.random() < HEALTHY_WITH_DRIVER:
            ranked.insert(int(rng.integers(HEALTHY_FROM, n_genes)), driver)
        ids[i, :n_genes] = ranked[:n_genes]
    return ids, disease.astype(np.float32)[:, None]


def model_yaml(sizes: dict, accuracy: float) -> dict:
    """Content of the stand-in's Kipoi ``model.yaml`` (``accuracy``: held-out accuracy)."""
    length = MODEL_MODULE.LENGTH
    return {
        "defined_as": "kipoi.model.PyTorchModel",
        "args": {"module_file": "model.py", "module_class": "GeneRankTransformer",
                 "weights": "weights.pt"},
        "info": {
            "authors": [{"name": "kipoi-explain developers"}],
            "doc": ("Stand-in for the Geneformer class of transformers over rank-ordered gene "
                    "tokens (Theodoris et al. 2023), bundled with kipoi-explain; named after the "
                    "class it stands for, not Geneformer itself and not a model of real biology. "
                    f"Input: a cell's {MIN_GENES}-{length} most expressed of "
                    f"{len(GENES)} made-up genes as token ids in rank-value order, padded with "
                    f"{PAD} (inputs.yaml, vocabulary.txt); two transformer encoder layers; "
                    "output: the probability that the cell is in the disease state. Explain it "
                    "with in-silico deletion (method 'deletion'). Planted truth: disease cells, "
                    f"and only they, rank {DRIVER} among their {DRIVER_TOP} top genes; {DECOY} "
                    "is enriched in disease cells without causing anything. Regenerate with: "
                    f"python examples/standins/{NAME}.py"),
            "version": "0.1",
            "license": "MIT",
            "tags": ["synthetic", "stand-in", "Geneformer", "transformer", "single cell",
                     "gene tokens"],
            "trained_on": (
                f"{sizes['n_train']} simulated cells, half diseased: the other genes ranked by "
                "log expression (gene mean in [0, 3] plus N(0, 1)); disease cells carry "
                f"{DRIVER} at a rank in [0, {DRIVER_TOP}), healthy cells lack it or (with "
                f"probability {HEALTHY_WITH_DRIVER}) carry it at rank {HEALTHY_FROM} or lower; "
                f"{DECOY} at a rank in [0, {DECOY_TOP}) in {DECOY_RATE['disease']:.0%} of "
                f"disease and {DECOY_RATE['healthy']:.0%} of healthy cells."),
            "training_procedure": (
                f"Adam (learning rate {LEARNING_RATE}), binary cross-entropy, batch size "
                f"{BATCH_SIZE}, {sizes['epochs']} epochs, seed {SEED}. Held-out accuracy on "
                f"{sizes['n_test']} cells: {accuracy:.3f}."),
        },
        "schema": {
            "inputs": {"name": "genes", "shape": f"({length},)",
                       "doc": "Token ids of the cell's genes in rank-value order (ids: line "
                              f"numbers of vocabulary.txt from 0), then {PAD} (id 0)."},
            "targets": {"shape": "(1,)", "doc": "Probability that the cell is in the disease "
                                                "state.",
                        "column_labels": ["disease"]},
        },
        "dependencies": {"pip": ["torch"]},
    }


def main(argv: list[str] | None = None) -> None:
    """Simulate, train and write the model directory and evaluation data under ``--out``."""
    args = parse_args(__doc__, "small data and one epoch, for a fast smoke test", argv)
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    train_rng, test_rng = spawn_rngs(SEED, 2)
    x_train, y_train = simulate(sizes["n_train"], train_rng)
    x_test, y_test = simulate(sizes["n_test"], test_rng)
    print(f"Simulated {len(x_train)} training and {len(x_test)} held-out cells", flush=True)

    torch.manual_seed(SEED)
    tic = time.perf_counter()
    model = fit_torch(MODEL_MODULE.GeneRankTransformer(), x_train, y_train, sizes["epochs"],
                      SEED, BATCH_SIZE, LEARNING_RATE, tag=NAME)
    accuracy = float(((predict_torch(model, x_test) > 0.5) == (y_test > 0.5)).mean())
    print(f"Trained in {time.perf_counter() - tic:.1f} s; held-out accuracy {accuracy:.3f}",
          flush=True)

    model_dir = args.out / "models" / "standins" / NAME
    save_torch_model(model, model_dir, MODEL_SOURCE, model_yaml(sizes, accuracy))
    write_yaml(model_dir / "inputs.yaml",
               {"genes": {"kind": "tokens", "vocabulary": "vocabulary.txt", "pad": PAD}})
    (model_dir / "vocabulary.txt").write_text("".join(f"{token}\n" for token in VOCABULARY))

    data_dir = args.out / "data" / "standins" / NAME
    data_dir.mkdir(parents=True, exist_ok=True)
    cells = [f"cell{i + 1:03d}" for i in range(sizes["n_eval"])]
    with open(data_dir / "cells.txt", "w") as handle:
        for cell, row in zip(cells, x_test):
            handle.write(f"{cell}\t{' '.join(VOCABULARY[t] for t in row if t)}\n")
    write_tsv(data_dir / "states.tsv",
              ((c, "disease" if y else "healthy") for c, y in zip(cells, y_test[:, 0])),
              header=("cell", "state"))
    print(f"Done; model in {model_dir} ({(model_dir / 'weights.pt').stat().st_size / 1024:.0f} "
          f"KiB), evaluation data in {data_dir}", flush=True)


if __name__ == "__main__":
    main()
