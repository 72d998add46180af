"""Train the ``get_like`` stand-in: a GET-class transformer from region x motif features to
expression.

What it stands for: GET, the General Expression Transformer (Fu et al. 2025, Nature), predicts a
gene's expression in a cell type from the chromatin accessibility of the regions around it and
the scores of 282 motif clusters in each accessible region: every region is a token (its motif
scores scaled by its accessibility, embedded), a transformer attends across the ~200 regions of
a locus, and a head reads out expression at the gene's promoter region. Its analyses attribute
the prediction to region x motif features (finding the enhancer and the factor that drive a
gene) and read the attention between regions. This stand-in keeps the layout and shrinks the
rest: 15 regions (the promoter in the middle, region 7), 9 made-up motifs plus accessibility per
region, a linear embedding per region, a learned position embedding, one
``nn.TransformerEncoderLayer`` (``d_model`` 32) and a linear head on the promoter region,
trained directly on simulated genes (no pretraining). It is named after the class it stands for
and is not GET.

Planted truth: a gene's log expression is ``2 s (0.5 + 0.5 a) + 0.5 p`` plus noise (sd 0.1),
where ``s`` is the score of MOTIF06 in region 3 (a distal enhancer, 4 regions upstream of the
promoter), ``a`` that region's accessibility and ``p`` the promoter's accessibility. MOTIF06 in
any other region and every other motif do nothing. Attribution must therefore rank feature
(region 3, MOTIF06) first.

Outputs (relative to ``--out``)::

    data/standins/get_like/features.npy     (40, 15, 10) float32 held-out genes' features
    data/standins/get_like/expression.tsv   their simulated log expression: gene, expression
    models/standins/get_like/               Kipoi model directory (kipoi.model.PyTorchModel)

Usage::

    python examples/standins/get_like.py                  # full run, writes examples/
    python examples/standins/get_like.py --quick --out /tmp/smoke
"""
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import standin_model  # noqa: E402
from synthetic import (fit_torch, parse_args, predict_torch, save_torch_model,  # noqa: E402
                       spawn_rngs, write_tsv)

NAME = "get_like"
MODEL_SOURCE, MODEL_MODULE = standin_model(NAME)

SEED = 8112
REGIONS, CENTRE = MODEL_MODULE.REGIONS, MODEL_MODULE.CENTRE
MOTIFS = [f"MOTIF{m + 1:02d}" for m in range(MODEL_MODULE.FEATURES - 1)]
FEATURES = [*MOTIFS, "accessibility"]
ENHANCER, DRIVER_MOTIF = 3, "MOTIF06"
EFFECT, PROMOTER_EFFECT, NOISE_SD = 2.0, 0.5, 0.1
#: A motif occurs in a region with this probability, scoring U(0.5, 1.5) where it does.
MOTIF_RATE = 0.3

FULL_SIZES = {"n_train": 4_000, "n_test": 1_000, "n_eval": 40, "epochs": 8}
# The quick run keeps the full held-out set: the evaluation data are its first samples,
# which a smaller set would draw differently.
QUICK_SIZES = {"n_train": 256, "n_test": 1_000, "n_eval": 40, "epochs": 1}
BATCH_SIZE = 64
LEARNING_RATE = 2e-3


def simulate(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` genes: region x feature matrices and the genes' log expression.

    Returns
    -------
    features : numpy.ndarray
        ``(n, REGIONS, len(FEATURES))`` float32: motif scores (0 where a motif is absent), then
        accessibility in [0, 1].
    expression : numpy.ndarray
        ``(n, 1)`` float32 log expression from the planted truth plus noise.
    """
    present = rng.random((n, REGIONS, len(MOTIFS))) < MOTIF_RATE
    scores = np.where(present, rng.uniform(0.5, 1.5, present.shape), 0.0)
    access = rng.random((n, REGIONS, 1))
    x = np.concatenate([scores, access], axis=2).astype(np.float32)
    s, a = x[:, ENHANCER, FEATURES.index(DRIVER_MOTIF)], access[:, ENHANCER, 0]
    y = EFFECT * s * (0.5 + 0.5 * a) + PROMOTER_EFFECT * access[:, CENTRE, 0]
    return x, (y + rng.normal(0.0, NOISE_SD, n)).astype(np.float32)[:, None]


def model_yaml(sizes: dict, r: float, rmse: float) -> dict:
    """Content of the stand-in's Kipoi ``model.yaml`` (``r``, ``rmse``: held-out figures)."""
    shape = (REGIONS, len(FEATURES))
    return {
        "defined_as": "kipoi.model.PyTorchModel",
        "args": {"module_file": "model.py", "module_class": "RegionTransformer",
                 "weights": "weights.pt"},
        "info": {
            "authors": [{"name": "kipoi-explain developers"}],
            "doc": ("Stand-in for the GET class of transformers over region x motif features "
                    "(General Expression Transformer, Fu et al. 2025), bundled with "
                    "kipoi-explain; named after the class it stands for, not GET itself and not "
                    f"a model of real biology. Input: {REGIONS} accessible regions around a gene "
                    f"(promoter = region {CENTRE}) x {len(FEATURES)} features ("
                    f"{', '.join(FEATURES)}); a transformer encoder layer over the regions; "
                    "output: the gene's log expression, read at the promoter region. Planted "
                    f"truth: expression is driven by {DRIVER_MOTIF} in region {ENHANCER} (with "
                    "that region's accessibility) and by the promoter's accessibility; no other "
                    f"motif or region matters. Regenerate with: python examples/standins/"
                    f"{NAME}.py"),
            "version": "0.1",
            "license": "MIT",
            "tags": ["synthetic", "stand-in", "GET", "transformer", "chromatin accessibility",
                     "motifs", "expression"],
            "trained_on": (
                f"{sizes['n_train']} simulated genes: each motif present in each region with "
                f"probability {MOTIF_RATE}, scoring U(0.5, 1.5); accessibility U(0, 1); log "
                f"expression = {EFFECT} s (0.5 + 0.5 a) + {PROMOTER_EFFECT} p + N(0, "
                f"{NOISE_SD}^2), s = score of {DRIVER_MOTIF} in region {ENHANCER}, a = its "
                f"accessibility, p = accessibility of the promoter (region {CENTRE})."),
            "training_procedure": (
                f"Adam (learning rate {LEARNING_RATE}), mean squared error, batch size "
                f"{BATCH_SIZE}, {sizes['epochs']} epochs, seed {SEED}. On {sizes['n_test']} "
                f"held-out genes: Pearson r {r:.3f}, RMSE {rmse:.3f} (noise sd {NOISE_SD})."),
        },
        "schema": {
            "inputs": {"name": "regions", "shape": str(shape),
                       "doc": f"Per region (rows, genome order, promoter = row {CENTRE}): the "
                              f"scores of {', '.join(MOTIFS)} (0 = absent), then accessibility "
                              "in [0, 1]."},
            "targets": {"shape": "(1,)", "doc": "Log expression of the gene at the promoter "
                                                "region.",
                        "column_labels": ["expression"]},
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
    print(f"Simulated {len(x_train)} training and {len(x_test)} held-out genes", flush=True)

    torch.manual_seed(SEED)
    tic = time.perf_counter()
    # Expression is a real-valued target: mean squared error, not binary cross-entropy.
    model = fit_torch(MODEL_MODULE.RegionTransformer(), x_train, y_train, sizes["epochs"], SEED,
                      BATCH_SIZE, LEARNING_RATE, tag=NAME, loss="mse")
    pred = predict_torch(model, x_test)
    r = float(np.corrcoef(pred[:, 0], y_test[:, 0])[0, 1])
    rmse = float(np.sqrt(np.mean((pred - y_test) ** 2)))
    print(f"Trained in {time.perf_counter() - tic:.1f} s; held-out r {r:.3f}, RMSE {rmse:.3f}",
          flush=True)

    model_dir = args.out / "models" / "standins" / NAME
    save_torch_model(model, model_dir, MODEL_SOURCE, model_yaml(sizes, r, rmse))

    data_dir = args.out / "data" / "standins" / NAME
    data_dir.mkdir(parents=True, exist_ok=True)
    np.save(data_dir / "features.npy", x_test[:sizes["n_eval"]])
    genes = [f"gene{i + 1:03d}" for i in range(sizes["n_eval"])]
    write_tsv(data_dir / "expression.tsv",
              ((g, f"{v:.4f}") for g, v in zip(genes, y_test[:sizes["n_eval"], 0])),
              header=("gene", "expression"))
    print(f"Done; model in {model_dir} ({(model_dir / 'weights.pt').stat().st_size / 1024:.0f} "
          f"KiB), evaluation data in {data_dir}", flush=True)


if __name__ == "__main__":
    main()
