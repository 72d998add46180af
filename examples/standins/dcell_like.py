"""Train the ``dcell_like`` stand-in: a DCell-class visible neural network on gene disruptions.

What it stands for: DCell (Ma et al. 2018, Nature Methods) predicts the growth of yeast
genotypes (sets of deleted genes) with a "visible" neural network whose subsystems follow the
Gene Ontology hierarchy, about 2,500 terms each with a small block of neurons, every term fed
only by its child terms and annotated genes; a term's importance is read from how its state
explains the prediction. This stand-in keeps the idea and shrinks it: 24 made-up genes, 8 small
terms, 3 larger terms and a root, one Tanh unit per term (centred so that the wild type puts
every term in state 0), wired by masks after a toy hierarchy
(``models/standins/dcell_like/model.py``); genes feed only their small term, as in a strict
tree. It is named after the class it stands for and is not DCell.

Planted truth: growth is 0.9, minus 0.6 when both GENE10 and GENE17 are deleted (a synthetic
sick pair; each alone does nothing) and minus 0.08 when GENE03 is deleted (a weaker, additive
decoy in another branch), plus Gaussian noise (sd 0.05). GENE10 and GENE17 are annotated to
small term S05 (with the neutral GENE05), which belongs to larger term L2. Entity importance
must therefore rank GENE10 and GENE17 first among genes, S05 among small terms and L2 among
larger terms.

Outputs (relative to ``--out``)::

    data/standins/dcell_like/genotypes.tsv   80 held-out genotypes: sample + 0/1 per gene
    data/standins/dcell_like/growth.tsv      their simulated growth: sample, growth
    models/standins/dcell_like/              Kipoi model directory (kipoi.model.PyTorchModel)
                                             with entities.yaml

Usage::

    python examples/standins/dcell_like.py                  # full run, writes examples/
    python examples/standins/dcell_like.py --quick --out /tmp/smoke
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

NAME = "dcell_like"
MODEL_SOURCE, MODEL_MODULE = standin_model(NAME)

SEED = 8101
GENES = [f"GENE{g + 1:02d}" for g in range(MODEL_MODULE.N_GENES)]
SMALL_TERMS = [f"S{t + 1:02d}" for t in range(MODEL_MODULE.N_SMALL)]
LARGE_TERMS = [f"L{t + 1}" for t in range(MODEL_MODULE.N_LARGE)]
EPISTATIC_PAIR = ("GENE10", "GENE17")
PAIR_EFFECT = -0.6
DECOY_GENE, DECOY_EFFECT = "GENE03", -0.08
WILD_TYPE_GROWTH, NOISE_SD = 0.9, 0.05
# Each gene is deleted independently with this probability, so that about 1 in 8 genotypes
# carries the pair: enough double mutants to learn the interaction.
DELETION_RATE = 0.35

FULL_SIZES = {"n_train": 4_000, "n_test": 1_000, "n_eval": 80, "epochs": 60}
QUICK_SIZES = {"n_train": 256, "n_test": 128, "n_eval": 80, "epochs": 2}
BATCH_SIZE = 64
LEARNING_RATE = 1e-2
# Keeps the weights of neutral genes and terms near zero, as sparse as the truth, and the
# term units out of Tanh saturation, where gradient x activation would understate them.
WEIGHT_DECAY = 1e-3


def simulate(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` genotypes and their growth.

    Returns
    -------
    genotypes : numpy.ndarray
        ``(n, genes)`` float32, 1 where the gene is deleted.
    growth : numpy.ndarray
        ``(n,)`` float32 growth in [0, 1], from the planted truth plus noise.
    """
    genotypes = (rng.random((n, len(GENES))) < DELETION_RATE).astype(np.float32)
    a, b = (genotypes[:, GENES.index(g)] for g in EPISTATIC_PAIR)
    growth = (WILD_TYPE_GROWTH + PAIR_EFFECT * a * b
              + DECOY_EFFECT * genotypes[:, GENES.index(DECOY_GENE)]
              + rng.normal(0.0, NOISE_SD, n))
    return genotypes, np.clip(growth, 0.0, 1.0).astype(np.float32)


def entities_yaml() -> dict:
    """The units of every level, named in the model's unit order."""
    return {"levels": {
        "gene": {"layer": "input", "units": GENES},
        "small_term": {"layer": "small_act", "units": SMALL_TERMS},
        "large_term": {"layer": "large_act", "units": LARGE_TERMS},
        "root": {"layer": "root_act", "units": ["ROOT"]},
    }}


def model_yaml(sizes: dict, r: float, rmse: float) -> dict:
    """Content of the stand-in's Kipoi ``model.yaml`` (``r``, ``rmse``: held-out figures)."""
    pair = " and ".join(EPISTATIC_PAIR)
    return {
        "defined_as": "kipoi.model.PyTorchModel",
        "args": {"module_file": "model.py", "module_class": "DCellLike", "weights": "weights.pt"},
        "info": {
            "authors": [{"name": "kipoi-explain developers"}],
            "doc": ("Stand-in for the DCell class of visible neural networks (Ma et al. 2018), "
                    "bundled with kipoi-explain; named after the class it stands for, not DCell "
                    "itself and not a model of real biology. Input: deletion status of 24 made-up "
                    "genes; masked layers follow a toy ontology: genes -> 8 small terms "
                    "(S01-S08, layer small_act) -> 3 larger terms (L1-L3, layer large_act) -> "
                    "ROOT (layer root_act) -> growth, one Tanh unit per term, centred so that the "
                    "wild type puts every term in state 0; entities.yaml names "
                    f"the units. Planted truth: {pair} (both in S05, under L2) are a synthetic "
                    f"sick pair; {DECOY_GENE} (S03, L1) has a weaker additive effect. Regenerate "
                    f"with: python examples/standins/{NAME}.py"),
            "version": "0.1",
            "license": "MIT",
            "tags": ["synthetic", "stand-in", "DCell", "visible neural network", "genotype"],
            "trained_on": (
                f"{sizes['n_train']} simulated genotypes, each gene deleted with probability "
                f"{DELETION_RATE}; growth = {WILD_TYPE_GROWTH} {PAIR_EFFECT:+} x ({pair} both "
                f"deleted) {DECOY_EFFECT:+} x ({DECOY_GENE} deleted) + N(0, {NOISE_SD}^2), "
                "clipped to [0, 1]."),
            "training_procedure": (
                f"Adam (learning rate {LEARNING_RATE}, weight decay {WEIGHT_DECAY}), binary "
                f"cross-entropy on growth as a soft label, batch size {BATCH_SIZE}, "
                f"{sizes['epochs']} epochs, seed {SEED}. On {sizes['n_test']} held-out "
                f"genotypes: Pearson r {r:.3f}, RMSE {rmse:.4f} (noise sd {NOISE_SD})."),
        },
        "schema": {
            "inputs": {"name": "genotype", "shape": f"({len(GENES)},)",
                       "doc": "1 where the gene is deleted, 0 for wild type, in the order of "
                              "entities.yaml (levels.gene.units)."},
            "targets": {"shape": "(1,)", "doc": "Growth relative to an unperturbed maximum.",
                        "column_labels": ["growth"]},
        },
        "dependencies": {"pip": ["torch"]},
    }


def main(argv: list[str] | None = None) -> None:
    """Simulate, train and write the model directory and evaluation data under ``--out``."""
    args = parse_args(__doc__, "tiny data and two epochs, for a fast smoke test", argv)
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    train_rng, test_rng = spawn_rngs(SEED, 2)
    x_train, y_train = simulate(sizes["n_train"], train_rng)
    x_test, y_test = simulate(sizes["n_test"], test_rng)
    print(f"Simulated {len(x_train)} training and {len(x_test)} held-out genotypes; "
          f"{int(x_train[:, [GENES.index(g) for g in EPISTATIC_PAIR]].all(axis=1).sum())} "
          "training double mutants of the pair", flush=True)

    tic = time.perf_counter()
    torch.manual_seed(SEED)
    model = fit_torch(MODEL_MODULE.DCellLike(), x_train, y_train[:, None], sizes["epochs"], SEED,
                      BATCH_SIZE, LEARNING_RATE, tag=NAME, weight_decay=WEIGHT_DECAY,
                      log_every=10)
    predicted = predict_torch(model, x_test)[:, 0]
    r = float(np.corrcoef(predicted, y_test)[0, 1])
    rmse = float(np.sqrt(np.mean((predicted - y_test) ** 2)))
    print(f"  trained in {time.perf_counter() - tic:.1f} s; held-out Pearson r {r:.3f}, "
          f"RMSE {rmse:.4f}", flush=True)

    model_dir = args.out / "models" / "standins" / NAME
    save_torch_model(model, model_dir, MODEL_SOURCE, model_yaml(sizes, r, rmse))
    write_yaml(model_dir / "entities.yaml", entities_yaml())

    data_dir = args.out / "data" / "standins" / NAME
    data_dir.mkdir(parents=True, exist_ok=True)
    samples = [f"S{i + 1:03d}" for i in range(sizes["n_eval"])]
    x_eval = x_test[:sizes["n_eval"]].astype(int)
    write_tsv(data_dir / "genotypes.tsv", ((s, *row) for s, row in zip(samples, x_eval.tolist())),
              header=("sample", *GENES))
    write_tsv(data_dir / "growth.tsv", zip(samples, np.round(y_test[:sizes["n_eval"]], 4)),
              header=("sample", "growth"))
    print(f"Done; model in {model_dir}, evaluation data in {data_dir}", flush=True)


if __name__ == "__main__":
    main()
