"""Train the ``interact_like`` stand-in: an INTERACT-class CNN + transformer for CpG methylation.

What it stands for: INTERACT (Zhou et al. 2022) predicts the DNA methylation level of a CpG
from the sequence around it with a convolutional network followed by transformer encoder
layers, and is analysed by its attention and by saliency and in-silico mutagenesis of
methylation QTL-like variants. This stand-in keeps that design and shrinks it: 400 bp windows
centred on a CpG, a one-layer convolutional stem making one token per 10 bp, one transformer
encoder layer with a learned position embedding, and a read-out from the CpG's token alone
(``models/standins/interact_like/model.py``); it is trained on simulated sequences rather than
methylomes. It is named after the class it stands for and is not INTERACT.

Planted truth: the central CpG is unmethylated (beta ~0.1) when a CTCF motif (JASPAR 2024
MA0139.2) lies 30-100 bp from it, on either side, and methylated (beta ~0.85) when there is no
motif or the motif lies 140-180 bp away. 30 bp is beyond the receptive field of the CpG's token
(18 bp), so the model must attend from the CpG to the motif, and the distance rule needs the
position embedding.

Outputs (relative to ``--out``)::

    data/standins/interact_like/sequences.fa   40 evaluation windows: 20 near_* (motif within
                                               100 bp), 10 none_*, 10 far_*
    data/standins/interact_like/sites.tsv      their planted motifs (0-based half-open)
    models/standins/interact_like/             Kipoi model directory (kipoi.model.PyTorchModel)

Usage::

    python examples/standins/interact_like.py              # full run, writes examples/
    python examples/standins/interact_like.py --quick --out /tmp/smoke
"""
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import standin_model  # noqa: E402
from synthetic import (JASPAR_RELEASE, Motif, Site, channels_first,  # noqa: E402
                       check_through_kipoi, decode, fit_torch, kipoiseq_dataloader, load_motifs,
                       parse_args, predict_torch, sample_motif_instance, save_torch_model,
                       spawn_rngs, write_fasta, write_tsv)

NAME = "interact_like"
MODEL_SOURCE, MODEL_MODULE = standin_model(NAME)
SEQ_LEN, CENTRE = MODEL_MODULE.SEQ_LEN, MODEL_MODULE.CENTRE

MOTIF = ("MA0139.2", "CTCF")
# Distance from the CpG to the motif's centre, per kind of window; None: no motif.
KINDS = {"near": (30, 100), "none": None, "far": (140, 180)}
TRAIN_SHARES = {"near": 0.5, "none": 0.25, "far": 0.25}
N_EVALUATION = {"near": 20, "none": 10, "far": 10}
BETA = {"near": 0.1, "none": 0.85, "far": 0.85}
BETA_SD = 0.05

SEED = 8103
FULL_SIZES = {"n_train": 6_000, "n_test": 1_000, "epochs": 8}
QUICK_SIZES = {"n_train": 256, "n_test": 128, "epochs": 1}
BATCH_SIZE = 128
LEARNING_RATE = 3e-3
SITES_HEADER = ("record", "motif_id", "motif_name", "start", "end", "strand")


def make_window(kind: str, motif: Motif, rng: np.random.Generator) -> tuple[np.ndarray, list[Site]]:
    """One random window of ``kind`` with the CpG at the centre and its planted motif, if any.

    Returns
    -------
    codes : numpy.ndarray
        ``(SEQ_LEN,)`` integer-coded bases, uniform i.i.d. background.
    sites : list of Site
        The planted motif (empty for ``none``).
    """
    codes = rng.integers(0, 4, size=SEQ_LEN)
    sites = []
    if KINDS[kind] is not None:
        distance = int(rng.integers(KINDS[kind][0], KINDS[kind][1] + 1))
        distance *= 1 if rng.integers(2) else -1
        strand = "+" if rng.integers(2) else "-"
        instance = sample_motif_instance(motif, strand, rng)
        start = CENTRE + distance - len(instance) // 2
        codes[start:start + len(instance)] = instance
        sites.append(Site(0, start, start + len(instance), strand))
    codes[CENTRE:CENTRE + 2] = (1, 2)  # the CpG itself, always present
    return codes, sites


def make_set(kinds: list[str], motif: Motif, rng: np.random.Generator
             ) -> tuple[np.ndarray, np.ndarray, list[list[Site]]]:
    """Windows of the given kinds, their noisy beta values ``(N, 1)`` and their sites."""
    drawn = [make_window(kind, motif, rng) for kind in kinds]
    beta = np.clip([BETA[k] + rng.normal(0.0, BETA_SD) for k in kinds], 0.0, 1.0)
    return (np.stack([c for c, _ in drawn]), beta.astype(np.float32)[:, None],
            [s for _, s in drawn])


def draw_kinds(n: int, rng: np.random.Generator) -> list[str]:
    """``n`` kinds drawn by :data:`TRAIN_SHARES`."""
    names = list(TRAIN_SHARES)
    return [names[i] for i in rng.choice(len(names), size=n, p=list(TRAIN_SHARES.values()))]


def model_yaml(sizes: dict, r: float, auroc: float) -> dict:
    """Content of the stand-in's Kipoi ``model.yaml`` (held-out Pearson ``r`` and ``auroc``)."""
    motif = f"{MOTIF[1]} ({MOTIF[0]})"
    return {
        "defined_as": "kipoi.model.PyTorchModel",
        "args": {"module_file": "model.py", "module_class": "MethylationTransformer",
                 "weights": "weights.pt"},
        "default_dataloader": kipoiseq_dataloader(SEQ_LEN, alphabet_axis=0),
        "info": {
            "authors": [{"name": "kipoi-explain developers"}],
            "doc": ("Stand-in for the INTERACT class of CNN + transformer methylation models "
                    "(Zhou et al. 2022), bundled with kipoi-explain; named after the class it "
                    "stands for, not INTERACT itself and not a model of real biology. Predicts "
                    f"the methylation level of the CpG at bases {CENTRE}-{CENTRE + 1} of a "
                    f"{SEQ_LEN} bp window: a convolutional stem makes one token per "
                    f"{MODEL_MODULE.TOKEN_SIZE} bp, one transformer encoder layer (4 heads, "
                    "learned position embedding) mixes them, and the output is read from the "
                    f"CpG's token (token {MODEL_MODULE.CENTRE_TOKEN}). Planted truth: the CpG "
                    f"is unmethylated when a {JASPAR_RELEASE} {motif} motif lies 30-100 bp from "
                    "it. Regenerate with: python examples/standins/interact_like.py"),
            "version": "0.1",
            "license": "MIT",
            "tags": ["synthetic", "stand-in", "INTERACT", "transformer", "attention",
                     "DNA methylation"],
            "trained_on": (
                f"Uniform i.i.d. random {SEQ_LEN} bp windows with a CpG at the centre. Half hold "
                f"a {MOTIF[1]} instance 30-100 bp from the CpG (beta {BETA['near']}); a quarter "
                f"hold none and a quarter one 140-180 bp away (beta {BETA['none']}); beta noise "
                f"sd {BETA_SD}. Instances are sampled from the JASPAR PFM on a random strand."),
            "training_procedure": (
                f"Adam (learning rate {LEARNING_RATE}), binary cross-entropy on beta as a soft "
                f"label, batch size {BATCH_SIZE}, {sizes['epochs']} epochs over "
                f"{sizes['n_train']} windows, seed {SEED}. On {sizes['n_test']} held-out "
                f"windows: Pearson r {r:.3f} with the simulated beta; AUROC {auroc:.4f} for "
                "telling the unmethylated (motif 30-100 bp away) windows from the rest."),
        },
        "schema": {
            "inputs": {"name": "seq", "shape": f"(4, {SEQ_LEN})", "special_type": "DNASeq",
                       "doc": "One-hot encoded DNA, alphabet A, C, G, T along axis 0; the CpG "
                              f"of interest at bases {CENTRE}-{CENTRE + 1} (0-based)."},
            "targets": {"shape": "(1,)", "doc": "Methylation level (beta) of the central CpG.",
                        "column_labels": ["methylation"]},
        },
        "dependencies": {"pip": ["kipoiseq", "torch"]},
    }


def main(argv: list[str] | None = None) -> None:
    """Generate windows, train the model and write everything under ``--out``."""
    args = parse_args(__doc__, "tiny data and one epoch, for a fast smoke test", argv)
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    train_rng, test_rng, evaluation_rng = spawn_rngs(SEED, 3)
    (motif,) = load_motifs((MOTIF,))

    evaluation_kinds = [k for k, n in N_EVALUATION.items() for _ in range(n)]
    names = [f"{k}_{i:02d}" for k, n in N_EVALUATION.items() for i in range(n)]
    codes, _, sites = make_set(evaluation_kinds, motif, evaluation_rng)
    data_dir = args.out / "data" / "standins" / NAME
    data_dir.mkdir(parents=True, exist_ok=True)
    write_fasta(data_dir / "sequences.fa", [(n, decode(c)) for n, c in zip(names, codes)])
    write_tsv(data_dir / "sites.tsv", [(n, motif.matrix_id, motif.name, s.start, s.end, s.strand)
                                       for n, seq_sites in zip(names, sites) for s in seq_sites],
              header=SITES_HEADER)

    train_codes, y_train, _ = make_set(draw_kinds(sizes["n_train"], train_rng), motif, train_rng)
    test_kinds = draw_kinds(sizes["n_test"], test_rng)
    test_codes, y_test, _ = make_set(test_kinds, motif, test_rng)
    tic = time.perf_counter()
    torch.manual_seed(SEED)
    model = fit_torch(MODEL_MODULE.MethylationTransformer(), channels_first(train_codes), y_train,
                      sizes["epochs"], SEED, BATCH_SIZE, LEARNING_RATE, tag=NAME)
    predicted = predict_torch(model, channels_first(test_codes), batch_size=512)[:, 0]
    r = float(np.corrcoef(predicted, y_test[:, 0])[0, 1])
    auroc = float(roc_auc_score([k == "near" for k in test_kinds], -predicted))
    print(f"  trained in {time.perf_counter() - tic:.1f} s; held-out Pearson r {r:.3f}, AUROC "
          f"{auroc:.4f}; mean beta by kind: " + ", ".join(
              f"{k} {predicted[np.array(test_kinds) == k].mean():.3f}" for k in KINDS), flush=True)

    model_dir = args.out / "models" / "standins" / NAME
    save_torch_model(model, model_dir, MODEL_SOURCE, model_yaml(sizes, r, auroc))
    x = channels_first(codes)
    check_through_kipoi(model_dir, x, predict_torch(model, x))
    print(f"Done; model in {model_dir}, evaluation data in {data_dir}", flush=True)


if __name__ == "__main__":
    main()
