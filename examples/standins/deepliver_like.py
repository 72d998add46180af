"""Train ``deepliver_like``, a stand-in for DeepLiver-class liver enhancer classifiers.

DeepLiver (Minnoye et al. 2020) classifies 500 bp mouse liver enhancers
(cisTopic topics of hepatocyte accessibility) from DNA with a convolution
layer, a bidirectional LSTM and dense layers; its enhancer grammar was read
from DeepExplainer (DeepSHAP) contribution scores, in-silico mutagenesis and
motif discovery on the contributions (HNF4A, CEBP, FOXA, HNF1A). This
stand-in keeps the task (enhancer or not), the grammar and the analyses, and
simplifies the rest: 300 bp, one output, the LSTM replaced by a second
convolution and a global max pool, no reverse-complement branch. It is named
after the class it stands for and is not DeepLiver.

Planted truth: a sequence is an enhancer exactly when it holds both an HNF4A
(JASPAR MA1494.2) and a CEBPB (MA0466.3) site, anywhere, on either strand
(an AND grammar). Negatives hold one of the two (the decoys the grammar must
reject) or neither.

Outputs (relative to ``--out``)::

    data/standins/deepliver_like/sequences.fa   40 evaluation sequences: 20 enhancer_*,
                                                 8 hnf4a_only_*, 8 cebpb_only_*, 4 background_*
    data/standins/deepliver_like/sites.tsv      every planted site of those sequences
    models/standins/deepliver_like/             Kipoi model directory (PyTorchModel)

Usage::

    python examples/standins/deepliver_like.py            # full run, writes examples/
    python examples/standins/deepliver_like.py --quick --out /tmp/smoke
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

NAME = "deepliver_like"
MODEL_SOURCE, MODEL_MODULE = standin_model(NAME)
SEQ_LEN = MODEL_MODULE.SEQ_LEN
LABEL = "liver_enhancer"

MOTIFS = (("MA1494.2", "HNF4A"), ("MA0466.3", "CEBPB"))
# Sequence kinds: (name, motif indices planted, share of training data,
# evaluation sequences). Single-motif decoys are half the negatives, so the
# model cannot call an enhancer from either motif alone.
KINDS = (
    ("enhancer", (0, 1), 0.4, 20),
    ("hnf4a_only", (0,), 0.2, 8),
    ("cebpb_only", (1,), 0.2, 8),
    ("background", (), 0.2, 4),
)
EVAL_MARGIN = 20

SEED = 2020
FULL_SIZES = {"n_train": 10_000, "n_test": 2_000, "epochs": 8}
QUICK_SIZES = {"n_train": 256, "n_test": 128, "epochs": 1}
BATCH_SIZE = 128
LEARNING_RATE = 2e-3
SITES_HEADER = ("sequence", "motif_id", "motif_name", "start", "end", "strand")


def make_sequences(kinds: list[int], motifs: list[Motif], margin: int, rng: np.random.Generator
                   ) -> tuple[np.ndarray, list[list]]:
    """Random sequences, one per entry of ``kinds`` (indices into :data:`KINDS`), with that
    kind's motifs planted; returns the codes ``(N, SEQ_LEN)`` and each sequence's sites."""
    codes = rng.integers(0, 4, size=(len(kinds), SEQ_LEN))
    sites = [sorted(plant_sites(seq, list(KINDS[kind][1]), motifs, margin, rng),
                    key=lambda s: s.start) for seq, kind in zip(codes, kinds)]
    return codes, sites


def make_labelled_set(n: int, motifs: list[Motif], rng: np.random.Generator
                      ) -> tuple[np.ndarray, np.ndarray]:
    """``n`` training-style sequences and their ``(n, 1)`` enhancer labels."""
    kinds = [int(k) for k in rng.choice(len(KINDS), size=n, p=[k[2] for k in KINDS])]
    codes, _ = make_sequences(kinds, motifs, 0, rng)
    labels = np.array([[len(KINDS[k][1]) == 2] for k in kinds], dtype=np.float32)
    return codes, labels


def model_yaml(motifs: list[Motif], sizes: dict, auroc: float, kind_means: str) -> dict:
    """The content of the stand-in's Kipoi ``model.yaml``."""
    a, b = (f"{m.name} ({m.matrix_id})" for m in motifs)
    return {
        "defined_as": "kipoi.model.PyTorchModel",
        "args": {"module_file": "model.py", "module_class": "DeepLiverLike",
                 "weights": "weights.pt"},
        "default_dataloader": kipoiseq_dataloader(SEQ_LEN, alphabet_axis=0),
        "info": {
            "authors": [{"name": "kipoi-explain developers"}],
            "doc": (f"deepliver_like: a small synthetic stand-in for DeepLiver-class liver "
                    f"enhancer classifiers (a CNN; DeepLiver's BiLSTM is replaced by a second "
                    f"convolution and a global max pool). Named after the class it stands for; it "
                    f"is not DeepLiver and models no real biology. A {SEQ_LEN} bp sequence is an "
                    f"enhancer exactly when it holds both {JASPAR_RELEASE} motifs {a} and {b}. "
                    f"Trained by examples/standins/deepliver_like.py."),
            "version": "0.1",
            "license": "MIT",
            "tags": ["synthetic", "stand-in", "DeepLiver", "enhancer", "motif grammar"],
            "trained_on": (
                f"Uniform i.i.d. random {SEQ_LEN} bp sequences: enhancers (40%) hold one "
                f"{motifs[0].name} and one {motifs[1].name} site; negatives hold only "
                f"{motifs[0].name} (20%), only {motifs[1].name} (20%) or neither (20%). Sites are "
                f"sampled from the JASPAR PFMs on a random strand at random non-overlapping "
                f"positions."),
            "training_procedure": (
                f"Adam (learning rate {LEARNING_RATE}), binary cross-entropy, batch size "
                f"{BATCH_SIZE}, {sizes['epochs']} epochs over {sizes['n_train']} sequences, seed "
                f"{SEED}. AUROC on {sizes['n_test']} held-out sequences: {auroc:.4f}; mean "
                f"prediction per kind: {kind_means}. "
                f"Regenerate with: python examples/standins/deepliver_like.py"),
        },
        "schema": {
            "inputs": {"name": "seq", "shape": f"(4, {SEQ_LEN})", "special_type": "DNASeq",
                       "doc": "One-hot encoded DNA sequence, alphabet A, C, G, T along axis 0."},
            "targets": {"shape": "(1,)",
                        "doc": "Probability that the sequence is a liver enhancer.",
                        "column_labels": [LABEL]},
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
    motifs = load_motifs(MOTIFS)

    kinds = [k for k, kind in enumerate(KINDS) for _ in range(kind[3])]
    codes, sites = make_sequences(kinds, motifs, EVAL_MARGIN, evaluation_rng)
    counters = [0] * len(KINDS)
    names, rows = [], []
    for kind, seq_sites in zip(kinds, sites):
        names.append(f"{KINDS[kind][0]}_{counters[kind]:02d}")
        counters[kind] += 1
        rows += [(names[-1], motifs[s.motif].matrix_id, motifs[s.motif].name, s.start, s.end,
                  s.strand) for s in seq_sites]
    data_dir = args.out / "data" / "standins" / NAME
    data_dir.mkdir(parents=True, exist_ok=True)
    write_fasta(data_dir / "sequences.fa", [(n, decode(c)) for n, c in zip(names, codes)])
    write_tsv(data_dir / "sites.tsv", rows, header=SITES_HEADER)
    print(f"Wrote {len(names)} evaluation sequences to {data_dir}", flush=True)

    train_codes, y_train = make_labelled_set(sizes["n_train"], motifs, train_rng)
    test_kinds = [int(k) for k in test_rng.choice(len(KINDS), size=sizes["n_test"],
                                                  p=[k[2] for k in KINDS])]
    test_codes, _ = make_sequences(test_kinds, motifs, 0, test_rng)
    y_test = np.array([len(KINDS[k][1]) == 2 for k in test_kinds], dtype=np.float32)
    tic = time.perf_counter()
    torch.manual_seed(SEED)
    model = MODEL_MODULE.DeepLiverLike()
    model = fit_torch(model, channels_first(train_codes), y_train, sizes["epochs"], SEED,
                      BATCH_SIZE, LEARNING_RATE, tag=NAME)
    print(f"  trained in {time.perf_counter() - tic:.1f} s", flush=True)
    predicted = predict_torch(model, channels_first(test_codes), batch_size=500)[:, 0]
    auroc = float(roc_auc_score(y_test, predicted))
    kind_means = ", ".join(f"{kind[0]} {predicted[np.array(test_kinds) == k].mean():.3f}"
                           for k, kind in enumerate(KINDS))
    print(f"  held-out AUROC {auroc:.4f}; mean prediction {kind_means}", flush=True)
    save_torch_model(model, args.out / "models" / "standins" / NAME, MODEL_SOURCE,
                     model_yaml(motifs, sizes, auroc, kind_means))
    print(f"Done; outputs in {args.out}", flush=True)


if __name__ == "__main__":
    main()
