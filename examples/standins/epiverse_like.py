"""Train the ``epiverse_like`` stand-in: an EpiVerse/EpiGePT-class model of DNA plus chromatin.

What it stands for: EpiVerse and EpiGePT predict epigenomic signals (histone marks, other
chromatin profiles) of a region from its DNA sequence together with chromatin context measured
in the same cell type (accessibility, factor binding), with a convolutional encoder followed
by transformer layers; they are analysed by attributions to the sequence and to each input
track, and by their attention. This stand-in keeps that design and shrinks it: 200 bp of
one-hot DNA and two tracks (ATAC and CTCF signal, ``(2, 200)``) go through their own
convolutions, summed before one ReLU, a max pool makes one token per 4 bp, one transformer
encoder layer mixes the tokens and the output is the maximum of a per-token score
(``models/standins/epiverse_like/model.py``). It predicts one binary mark (``H3K27ac``) instead
of many continuous profiles and is trained on simulated data. It is named after the class it
stands for and is not EpiVerse or EpiGePT.

Planted truth: the region carries the mark exactly when an HNF4A motif (JASPAR 2024 MA1494.2)
is present AND the ATAC track is open (a peak) at the motif. An ATAC peak elsewhere, a motif in
closed chromatin, or a peak without motif leave it unmarked; the CTCF track carries peaks that
are independent of the label (a distractor).

Outputs (relative to ``--out``)::

    data/standins/epiverse_like/sequences.fa   40 evaluation regions: 20 open_* (motif in an
                                               ATAC peak), 10 closed_* (motif, peak elsewhere),
                                               10 none_* (no motif, a peak)
    data/standins/epiverse_like/chromatin.npy  their tracks, float32 (40, 200, 2): ATAC, CTCF
    data/standins/epiverse_like/sites.tsv      their motifs and ATAC peak centres (0-based)
    models/standins/epiverse_like/             Kipoi model directory (kipoi.model.PyTorchModel,
                                               dict schema: inputs ``seq`` and ``chromatin``)

Usage::

    python examples/standins/epiverse_like.py              # full run, writes examples/
    python examples/standins/epiverse_like.py --quick --out /tmp/smoke
"""
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import JoinedInputs, joined, standin_model  # noqa: E402
from synthetic import (JASPAR_RELEASE, Motif, check_through_kipoi, decode, fit_torch,  # noqa: E402
                       load_motifs, parse_args, predict_torch, sample_motif_instance,
                       save_torch_model, spawn_rngs, write_fasta, write_tsv)

NAME = "epiverse_like"
MODEL_SOURCE, MODEL_MODULE = standin_model(NAME)
SEQ_LEN, TRACKS = MODEL_MODULE.SEQ_LEN, MODEL_MODULE.TRACKS

MOTIF = ("MA1494.2", "HNF4A")
OUTPUT = "H3K27ac"
# Kinds of region: motif in an ATAC peak (marked), motif with the peak elsewhere, no motif.
KINDS = ("open", "closed", "none")
TRAIN_SHARES = (0.5, 0.25, 0.25)
N_EVALUATION = {"open": 20, "closed": 10, "none": 10}
# Motifs stay this far from the ends, so the model sees each whole with some context.
MARGIN = 20
# A "closed" region's ATAC peak is centred at least this far from its motif's centre: beyond
# the 15 bp track kernel plus the peak's width, so the motif sits in background signal.
MIN_PEAK_OFFSET = 45
PEAK_SD = 6.0
PEAK_HEIGHT = (1.5, 3.0)
BACKGROUND = 0.1
# Chance of a CTCF peak at the motif itself, the same for every kind: CTCF says nothing.
CTCF_AT_MOTIF = 0.3

SEED = 8201
FULL_SIZES = {"n_train": 4_000, "n_test": 1_000, "epochs": 8}
QUICK_SIZES = {"n_train": 256, "n_test": 128, "epochs": 1}
BATCH_SIZE = 64
LEARNING_RATE = 2e-3
SITES_HEADER = ("record", "kind", "motif_id", "motif_name", "start", "end", "strand",
                "atac_peak")


def peak(centre: float, height: float) -> np.ndarray:
    """A Gaussian peak ``(SEQ_LEN,)`` of ``height`` at ``centre``."""
    return height * np.exp(-0.5 * ((np.arange(SEQ_LEN) - centre) / PEAK_SD) ** 2)


def make_region(kind: str, motif: Motif, rng: np.random.Generator
                ) -> tuple[np.ndarray, np.ndarray, tuple]:
    """One random region of ``kind``.

    Returns
    -------
    codes : numpy.ndarray
        ``(SEQ_LEN,)`` integer-coded bases, uniform i.i.d. background.
    tracks : numpy.ndarray
        ``(SEQ_LEN, 2)`` float32 ATAC and CTCF signal.
    site : tuple
        ``(start, end, strand, atac_peak_centre)``; start, end and strand are ``-1, -1, '.'``
        for a region without motif.
    """
    codes = rng.integers(0, 4, size=SEQ_LEN)
    tracks = BACKGROUND * rng.exponential(size=(SEQ_LEN, len(TRACKS)))
    width = len(motif.probs)
    start, end, strand = -1, -1, "."
    if kind != "none":
        strand = "+" if rng.integers(2) else "-"
        start = int(rng.integers(MARGIN, SEQ_LEN - MARGIN - width + 1))
        end = start + width
        codes[start:end] = sample_motif_instance(motif, strand, rng)
    centre = (start + end) / 2
    if kind == "open":
        atac = centre
    else:
        # Rejection sampling: a peak position far enough from the motif always exists in 200 bp.
        while True:
            atac = float(rng.integers(MARGIN, SEQ_LEN - MARGIN))
            if kind == "none" or abs(atac - centre) >= MIN_PEAK_OFFSET:
                break
    tracks[:, 0] += peak(atac, rng.uniform(*PEAK_HEIGHT))
    for _ in range(int(rng.integers(0, 3))):
        tracks[:, 1] += peak(float(rng.integers(0, SEQ_LEN)), rng.uniform(*PEAK_HEIGHT))
    if kind != "none" and rng.random() < CTCF_AT_MOTIF:
        tracks[:, 1] += peak(centre, rng.uniform(*PEAK_HEIGHT))
    return codes, tracks.astype(np.float32), (start, end, strand, atac)


def make_set(kinds: list[str], motif: Motif, rng: np.random.Generator
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple]]:
    """Regions of the given kinds: codes ``(N, L)``, tracks ``(N, L, 2)``, labels ``(N, 1)``
    and sites."""
    drawn = [make_region(kind, motif, rng) for kind in kinds]
    labels = np.array([[kind == "open"] for kind in kinds], dtype=np.float32)
    return (np.stack([c for c, _, _ in drawn]), np.stack([t for _, t, _ in drawn]), labels,
            [s for _, _, s in drawn])


def model_yaml(sizes: dict, auroc: float, by_kind: dict) -> dict:
    """Content of the stand-in's Kipoi ``model.yaml``."""
    motif = f"{MOTIF[1]} ({MOTIF[0]})"
    return {
        "defined_as": "kipoi.model.PyTorchModel",
        "args": {"module_file": "model.py", "module_class": "EpiVerseLike",
                 "weights": "weights.pt"},
        "info": {
            "authors": [{"name": "kipoi-explain developers"}],
            "doc": ("Stand-in for the EpiVerse / EpiGePT class of CNN + transformer models of "
                    "DNA plus chromatin tracks, bundled with kipoi-explain; named after the class "
                    "it stands for, not EpiVerse or EpiGePT and not a model of real biology. "
                    f"Predicts whether a {SEQ_LEN} bp region carries an active mark ({OUTPUT}) "
                    "from its DNA and its ATAC and CTCF tracks: separate convolutions of the two "
                    "inputs summed before a ReLU, one token per "
                    f"{MODEL_MODULE.TOKEN_SIZE} bp, one transformer encoder layer "
                    f"({MODEL_MODULE.N_HEADS} heads), max over per-token scores. Planted truth: "
                    f"marked exactly when a {JASPAR_RELEASE} {motif} motif lies in an ATAC peak; "
                    "the CTCF track is a distractor. Regenerate with: "
                    "python examples/standins/epiverse_like.py"),
            "version": "0.1",
            "license": "MIT",
            "tags": ["synthetic", "stand-in", "EpiVerse", "EpiGePT", "transformer",
                     "chromatin tracks", "multi-input"],
            "trained_on": (
                f"Uniform i.i.d. random {SEQ_LEN} bp regions with exponential background tracks "
                f"(mean {BACKGROUND}) and Gaussian peaks (sd {PEAK_SD} bp, height "
                f"{PEAK_HEIGHT[0]}-{PEAK_HEIGHT[1]}). Half hold a {MOTIF[1]} instance inside "
                "an ATAC peak (label 1); a quarter a motif with the ATAC peak at least "
                f"{MIN_PEAK_OFFSET} bp away and a quarter an ATAC peak without motif (label 0). "
                "The CTCF track has 0-2 peaks anywhere, plus one at the motif with probability "
                f"{CTCF_AT_MOTIF} whatever the label. Motif instances are sampled from the "
                "JASPAR PFM on a random strand."),
            "training_procedure": (
                f"Adam (learning rate {LEARNING_RATE}), binary cross-entropy, batch size "
                f"{BATCH_SIZE}, {sizes['epochs']} epochs over {sizes['n_train']} regions, seed "
                f"{SEED}. On {sizes['n_test']} held-out regions: AUROC {auroc:.4f}; mean "
                "prediction by kind: " + ", ".join(f"{k} {v:.3f}" for k, v in by_kind.items())
                + "."),
        },
        "schema": {
            "inputs": {
                "seq": {"shape": f"(4, {SEQ_LEN})", "special_type": "DNASeq",
                        "doc": "One-hot encoded DNA, alphabet A, C, G, T along axis 0."},
                "chromatin": {"shape": f"({len(TRACKS)}, {SEQ_LEN})",
                              "doc": f"Chromatin tracks along axis 0: {', '.join(TRACKS)} "
                                     "signal per base."},
            },
            "targets": {"shape": "(1,)", "doc": f"Probability that the region carries {OUTPUT}.",
                        "column_labels": [OUTPUT]},
        },
        "dependencies": {"pip": ["torch"]},
    }


def main(argv: list[str] | None = None) -> None:
    """Generate regions, train the model and write everything under ``--out``."""
    args = parse_args(__doc__, "tiny data and one epoch, for a fast smoke test", argv)
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    train_rng, test_rng, evaluation_rng = spawn_rngs(SEED, 3)
    (motif,) = load_motifs((MOTIF,))

    evaluation_kinds = [k for k, n in N_EVALUATION.items() for _ in range(n)]
    names = [f"{k}_{i:02d}" for k, n in N_EVALUATION.items() for i in range(n)]
    codes, tracks, _, sites = make_set(evaluation_kinds, motif, evaluation_rng)
    data_dir = args.out / "data" / "standins" / NAME
    data_dir.mkdir(parents=True, exist_ok=True)
    write_fasta(data_dir / "sequences.fa", [(n, decode(c)) for n, c in zip(names, codes)])
    np.save(data_dir / "chromatin.npy", tracks)
    write_tsv(data_dir / "sites.tsv",
              [(n, k, motif.matrix_id, motif.name, s[0], s[1], s[2], f"{s[3]:g}")
               for n, k, s in zip(names, evaluation_kinds, sites)], header=SITES_HEADER)

    def draw(n, rng):
        return [KINDS[i] for i in rng.choice(len(KINDS), size=n, p=TRAIN_SHARES)]

    train_codes, train_tracks, y_train, _ = make_set(draw(sizes["n_train"], train_rng), motif,
                                                     train_rng)
    test_kinds = draw(sizes["n_test"], test_rng)
    test_codes, test_tracks, y_test, _ = make_set(test_kinds, motif, test_rng)
    tic = time.perf_counter()
    torch.manual_seed(SEED)
    model = fit_torch(JoinedInputs(MODEL_MODULE.EpiVerseLike(), (4, len(TRACKS))),
                      joined(train_codes, train_tracks), y_train, sizes["epochs"], SEED,
                      BATCH_SIZE, LEARNING_RATE, tag=NAME)
    predicted = predict_torch(model, joined(test_codes, test_tracks), batch_size=512)[:, 0]
    auroc = float(roc_auc_score(y_test[:, 0], predicted))
    by_kind = {k: float(predicted[np.array(test_kinds) == k].mean()) for k in KINDS}
    print(f"  trained in {time.perf_counter() - tic:.1f} s; held-out AUROC {auroc:.4f}; mean "
          "prediction by kind: " + ", ".join(f"{k} {v:.3f}" for k, v in by_kind.items()),
          flush=True)

    model_dir = args.out / "models" / "standins" / NAME
    save_torch_model(model.model, model_dir, MODEL_SOURCE, model_yaml(sizes, auroc, by_kind))
    x = joined(codes, tracks)
    check_through_kipoi(model_dir, {"seq": x[:, :4].copy(), "chromatin": x[:, 4:].copy()},
                        predict_torch(model, x))
    print(f"Done; model in {model_dir}, evaluation data in {data_dir}", flush=True)


if __name__ == "__main__":
    main()
