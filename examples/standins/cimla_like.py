"""Train the ``cimla_like`` stand-in: a CIMLA-class random forest from TF to target expression.

What it stands for: CIMLA (Dibaeinia & Sinha 2023) finds differential gene regulation between
two conditions by training, per condition and per target gene, a machine-learning model
(random forest or neural network) that predicts the target's expression from the expression
of transcription factors across cells, and then comparing SHAP attributions of the TFs between
the conditions' models. This stand-in is one condition's model for one target gene: a
scikit-learn ``RandomForestRegressor`` on a table of 12 made-up TFs' log expression, served by
Kipoi's ``SklearnModel``. It has no gradients, so the attribution is perturbation-based
(occlusion of one TF at a time, or ablation of the ``tf`` entities); comparing two conditions
is the same analysis run on two such models. It is named after the class it stands for and is
not CIMLA.

Planted truth: the target's log expression is ``4 h(TF03) h(TF07)`` plus noise, ``h`` a Hill-like
logistic activation of a TF's standardised log expression: TF03 and TF07 act together (an
AND-like interaction; either one low keeps the target low). TF04 is co-expressed with TF03
(correlation 0.6) without regulating the target, a decoy that a forest can split on.

Outputs (relative to ``--out``)::

    data/standins/cimla_like/tf_expression.tsv   60 held-out cells: cell + log expression per TF
    data/standins/cimla_like/target.tsv          their simulated target expression: cell, target
    models/standins/cimla_like/                  Kipoi model directory (kipoi.model.SklearnModel)
                                                 with entities.yaml naming the TF columns

Usage::

    python examples/standins/cimla_like.py                  # full run, writes examples/
    python examples/standins/cimla_like.py --quick --out /tmp/smoke
"""
import sys
import time
from pathlib import Path

import joblib
import numpy as np
from sklearn.ensemble import RandomForestRegressor

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from synthetic import parse_args, spawn_rngs, write_tsv, write_yaml  # noqa: E402

NAME = "cimla_like"
SEED = 8102
TFS = [f"TF{i + 1:02d}" for i in range(12)]
REGULATORS = ("TF03", "TF07")
DECOY, DECOY_CORRELATION = "TF04", 0.6
TARGET = "TARGET1"
# Mean and sd of every TF's log expression across cells (log2 of a TPM-like value).
LOG_MEAN_RANGE, LOG_SD_RANGE = (2.0, 6.0), (0.5, 1.5)
EFFECT, HILL_SLOPE, NOISE_SD = 4.0, 2.0, 0.3

FULL_SIZES = {"n_train": 3_000, "n_test": 1_000, "n_eval": 60, "n_trees": 30}
QUICK_SIZES = {"n_train": 300, "n_test": 100, "n_eval": 60, "n_trees": 5}
# Shallow trees keep the pickled forest small (< 300 KB) at little cost in accuracy.
MAX_DEPTH, MIN_SAMPLES_LEAF = 7, 10


def simulate(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` cells: TF log expression and the target's.

    Every TF's standardised log expression is independent N(0, 1), except the decoy, which
    shares :data:`DECOY_CORRELATION` with the first regulator; the per-TF means and sds are
    fixed by the seed, not by ``rng``.

    Returns
    -------
    expression : numpy.ndarray
        ``(n, len(TFS))`` float32 log expression.
    target : numpy.ndarray
        ``(n,)`` float32 log expression of the target gene.
    """
    layout = np.random.default_rng(SEED)
    means, sds = layout.uniform(*LOG_MEAN_RANGE, len(TFS)), layout.uniform(*LOG_SD_RANGE, len(TFS))
    z = rng.standard_normal((n, len(TFS)))
    first, decoy = TFS.index(REGULATORS[0]), TFS.index(DECOY)
    z[:, decoy] = (DECOY_CORRELATION * z[:, first]
                   + np.sqrt(1 - DECOY_CORRELATION ** 2) * z[:, decoy])
    hill = 1.0 / (1.0 + np.exp(-HILL_SLOPE * z[:, [TFS.index(tf) for tf in REGULATORS]]))
    target = EFFECT * hill.prod(axis=1) + rng.normal(0.0, NOISE_SD, n)
    return (means + sds * z).astype(np.float32), target.astype(np.float32)


def model_yaml(sizes: dict, r2: float, noise_share: float) -> dict:
    """Content of the stand-in's Kipoi ``model.yaml`` (``r2``: held-out R^2; ``noise_share``:
    the share of the held-out target's variance that is noise)."""
    a, b = REGULATORS
    return {
        "defined_as": "kipoi.model.SklearnModel",
        "args": {"pkl_file": "model.pkl", "predict_method": "predict"},
        "info": {
            "authors": [{"name": "kipoi-explain developers"}],
            "doc": ("Stand-in for the CIMLA class of differential-regulation models (Dibaeinia & "
                    "Sinha 2023), bundled with kipoi-explain; named after the class it stands "
                    "for, not CIMLA itself and not a model of real biology. A scikit-learn "
                    f"random forest predicts the log expression of one target gene ({TARGET}) "
                    f"from the log expression of {len(TFS)} made-up TFs in a cell; "
                    "entities.yaml names the input columns. It has no gradients: explain it "
                    "with occlusion (or entity ablation). Planted truth: the target is "
                    f"driven by {a} and {b} together (AND-like); {DECOY} is co-expressed with "
                    f"{a} but does not regulate it. Regenerate with: python "
                    f"examples/standins/{NAME}.py"),
            "version": "0.1",
            "license": "MIT",
            "tags": ["synthetic", "stand-in", "CIMLA", "random forest", "gene regulation"],
            "trained_on": (
                f"{sizes['n_train']} simulated cells: standardised TF log expression N(0, 1) "
                f"({DECOY} correlated {DECOY_CORRELATION} with {a}), scaled to per-TF means in "
                f"{list(LOG_MEAN_RANGE)} and sds in {list(LOG_SD_RANGE)}; target = {EFFECT} "
                f"h({a}) h({b}) + N(0, {NOISE_SD}^2), h(z) = 1 / (1 + exp(-{HILL_SLOPE} z)) of "
                "the standardised value."),
            "training_procedure": (
                f"sklearn RandomForestRegressor(n_estimators={sizes['n_trees']}, "
                f"max_depth={MAX_DEPTH}, min_samples_leaf={MIN_SAMPLES_LEAF}, random_state="
                f"{SEED}). Held-out R^2 on {sizes['n_test']} cells: {r2:.3f} (noise is "
                f"{noise_share:.1%} of the target's variance)."),
        },
        "schema": {
            "inputs": {"name": "tf_expression", "shape": f"({len(TFS)},)",
                       "doc": "log2 expression of the TFs, in the order of entities.yaml "
                              "(levels.tf.units)."},
            "targets": {"shape": "(1,)", "doc": f"Predicted log2 expression of {TARGET}.",
                        "column_labels": [TARGET]},
        },
        "dependencies": {"pip": ["scikit-learn", "joblib"]},
    }


def main(argv: list[str] | None = None) -> None:
    """Simulate cells, fit the forest and write the model directory and evaluation data."""
    args = parse_args(__doc__, "small data and five trees, for a fast smoke test", argv)
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    train_rng, test_rng = spawn_rngs(SEED, 2)
    x_train, y_train = simulate(sizes["n_train"], train_rng)
    x_test, y_test = simulate(sizes["n_test"], test_rng)

    tic = time.perf_counter()
    forest = RandomForestRegressor(n_estimators=sizes["n_trees"], max_depth=MAX_DEPTH,
                                   min_samples_leaf=MIN_SAMPLES_LEAF, random_state=SEED,
                                   n_jobs=1).fit(x_train, y_train)
    r2 = float(forest.score(x_test, y_test))
    noise_share = float(NOISE_SD ** 2 / y_test.var())
    print(f"Fitted {sizes['n_trees']} trees on {len(x_train)} cells in "
          f"{time.perf_counter() - tic:.1f} s; held-out R^2 {r2:.3f} (noise share "
          f"{noise_share:.3f})", flush=True)

    model_dir = args.out / "models" / "standins" / NAME
    model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(forest, model_dir / "model.pkl", compress=3)
    write_yaml(model_dir / "model.yaml", model_yaml(sizes, r2, noise_share))
    write_yaml(model_dir / "entities.yaml", {"levels": {"tf": {"layer": "input", "units": TFS}}})

    data_dir = args.out / "data" / "standins" / NAME
    data_dir.mkdir(parents=True, exist_ok=True)
    cells = [f"cell{i + 1:03d}" for i in range(sizes["n_eval"])]
    write_tsv(data_dir / "tf_expression.tsv",
              ((c, *(f"{v:.4f}" for v in row)) for c, row in zip(cells, x_test[:sizes["n_eval"]])),
              header=("cell", *TFS))
    write_tsv(data_dir / "target.tsv",
              ((c, f"{v:.4f}") for c, v in zip(cells, y_test[:sizes["n_eval"]])),
              header=("cell", TARGET))
    print(f"Done; model in {model_dir} ({(model_dir / 'model.pkl').stat().st_size / 1024:.0f} "
          f"KiB), evaluation data in {data_dir}", flush=True)


if __name__ == "__main__":
    main()
