"""Train the ``corigami_like`` stand-in: a C.Origami-class model of DNA plus CTCF and ATAC to Hi-C.

What it stands for: C.Origami (Tan et al. 2023) predicts the Hi-C contact map of a 2 Mb window
(256 x 256 bins) from its DNA sequence together with CTCF ChIP-seq and ATAC-seq tracks of the
cell type: a 1D convolutional encoder over the inputs, a transformer, a 1D-to-2D pairing step
and a 2D convolutional decoder. It is analysed by in-silico genetic screening (ISGS: slide a
deletion window over the region and measure the change of the predicted map) and by
attributions. This stand-in keeps the inputs, the 1D encoder and a 1D-to-2D decoder and shrinks
everything else: 1024 bp of one-hot DNA and the two tracks are stacked into the six input
channels of one convolution and a ReLU, max-pooled to 16 bins of 64 bp; each bin gets a
forward- and a reverse-anchor score, and the map's logits are a learned distance decay plus a
domain term (pairs enclosed by a forward anchor on the left and a reverse anchor on the right)
plus a loop term at the anchors' corner (``models/standins/corigami_like/model.py``). The
output is one symmetric 16 x 16 map; training data are simulated. It is named after the class
it stands for and is not C.Origami.

Planted truth: a CTCF motif (JASPAR 2024 MA0139.2) with a CTCF ChIP peak on it is an anchor;
a forward (+) anchor left of a reverse (-) anchor (a convergent pair) closes a domain between
their bins with a loop at the corner. A motif without CTCF signal, a CTCF peak without motif,
divergent or tandem pairs and ATAC peaks (placed independently of anchors) make none.

Outputs (relative to ``--out``)::

    data/standins/corigami_like/sequences.fa   24 evaluation regions: 16 loop_* (a convergent
                                               anchor pair and a CTCF motif without signal),
                                               8 noloop_* (the same pair with divergent motifs)
    data/standins/corigami_like/ctcf.npy       their CTCF tracks, float32 (24, 1024, 1)
    data/standins/corigami_like/atac.npy       their ATAC tracks, float32 (24, 1024, 1)
    data/standins/corigami_like/sites.tsv      their CTCF motifs (0-based), bins and CTCF signal
    models/standins/corigami_like/             Kipoi model directory (kipoi.model.PyTorchModel,
                                               dict schema: inputs ``seq``, ``ctcf``, ``atac``)

Usage::

    python examples/standins/corigami_like.py              # full run, writes examples/
    python examples/standins/corigami_like.py --quick --out /tmp/smoke
"""
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import JoinedInputs, joined, standin_model  # noqa: E402
from synthetic import (JASPAR_RELEASE, Motif, check_through_kipoi, decode, fit_torch,  # noqa: E402
                       load_motifs, parse_args, predict_torch, sample_motif_instance,
                       save_torch_model, spawn_rngs, write_fasta, write_tsv)

NAME = "corigami_like"
MODEL_SOURCE, MODEL_MODULE = standin_model(NAME)
SEQ_LEN, BIN_SIZE, N_BINS = MODEL_MODULE.SEQ_LEN, MODEL_MODULE.BIN_SIZE, MODEL_MODULE.N_BINS

MOTIF = ("MA0139.2", "CTCF")
# Motifs lie this far inside their bin, so max pooling reads each from its own bin only.
BIN_MARGIN = 12
# True map logits: distance decay, domain and loop terms (see the model's decoder).
DECAY = (1.5, -0.5)
ALPHA, BETA = 3.0, 3.0
LOGIT_NOISE = 0.1
PEAK_SD = 15.0
PEAK_HEIGHT = (1.5, 3.0)
BACKGROUND = 0.1
# Chance that a motif of a random (non-loop) configuration carries CTCF signal.
SIGNAL_RATE = 0.6
ATAC_AT_MOTIF = 0.5
# Kinds of training region: a convergent anchor pair, or a random configuration of motifs.
TRAIN_SHARES = {"loop": 0.5, "random": 0.5}
N_EVALUATION = {"loop": 16, "noloop": 8}
# Smallest gap, in bins, between the two anchors of a pair (a domain of at least 3 bins).
MIN_PAIR_GAP = 3

SEED = 8202
FULL_SIZES = {"n_train": 1_500, "n_test": 400, "epochs": 8}
QUICK_SIZES = {"n_train": 128, "n_test": 64, "epochs": 1}
BATCH_SIZE = 32
LEARNING_RATE = 5e-3
SITES_HEADER = ("record", "kind", "motif_id", "motif_name", "start", "end", "strand", "bin",
                "ctcf_signal")


def peak(centre: float, height: float) -> np.ndarray:
    """A Gaussian peak ``(SEQ_LEN,)`` of ``height`` at ``centre``."""
    return height * np.exp(-0.5 * ((np.arange(SEQ_LEN) - centre) / PEAK_SD) ** 2)


def true_map(forward: np.ndarray, reverse: np.ndarray) -> np.ndarray:
    """Logits ``(N_BINS, N_BINS)`` of the planted map for 0/1 anchors per bin."""
    distance = np.abs(np.subtract.outer(np.arange(N_BINS), np.arange(N_BINS)))
    enclosing = np.outer(np.cumsum(forward), np.cumsum(reverse[::-1])[::-1])
    pairs = np.triu(ALPHA * enclosing + BETA * np.outer(forward, reverse), k=1)
    return DECAY[0] + DECAY[1] * distance + pairs + pairs.T


def draw_configuration(kind: str, rng: np.random.Generator) -> list[tuple[int, str, bool]]:
    """Motifs of a region as ``(bin, strand, CTCF signal)``.

    ``loop``: a convergent pair with signal, and a third motif without signal in another bin.
    ``noloop``: the same but the pair is divergent (``-`` left, ``+`` right). ``random``: 0-3
    motifs in distinct bins with random strands, each with signal at :data:`SIGNAL_RATE`.
    """
    if kind == "random":
        n = int(rng.integers(0, 4))
        bins = rng.choice(N_BINS, size=n, replace=False)
        return [(int(b), "+" if rng.integers(2) else "-", bool(rng.random() < SIGNAL_RATE))
                for b in bins]
    while True:
        left, right, decoy = (int(b) for b in rng.choice(N_BINS, size=3, replace=False))
        if right - left >= MIN_PAIR_GAP:
            break
    strands = ("+", "-") if kind == "loop" else ("-", "+")
    return [(left, strands[0], True), (right, strands[1], True),
            (decoy, "+" if rng.integers(2) else "-", False)]


def make_region(kind: str, motif: Motif, rng: np.random.Generator):
    """One random region of ``kind``.

    Returns
    -------
    codes : numpy.ndarray
        ``(SEQ_LEN,)`` integer-coded bases, uniform i.i.d. background.
    tracks : numpy.ndarray
        ``(SEQ_LEN, 2)`` float32 CTCF and ATAC signal.
    logits : numpy.ndarray
        ``(N_BINS, N_BINS)`` noise-free planted map logits.
    sites : list of tuple
        ``(start, end, strand, bin, CTCF signal)`` of every motif.
    """
    codes = rng.integers(0, 4, size=SEQ_LEN)
    tracks = BACKGROUND * rng.exponential(size=(SEQ_LEN, 2))
    forward, reverse = np.zeros(N_BINS), np.zeros(N_BINS)
    width = len(motif.probs)
    sites = []
    for b, strand, signal in draw_configuration(kind, rng):
        start = b * BIN_SIZE + int(rng.integers(BIN_MARGIN, BIN_SIZE - BIN_MARGIN - width + 1))
        codes[start:start + width] = sample_motif_instance(motif, strand, rng)
        centre = start + width / 2
        if signal:
            tracks[:, 0] += peak(centre, rng.uniform(*PEAK_HEIGHT))
            (forward if strand == "+" else reverse)[b] = 1
        if rng.random() < ATAC_AT_MOTIF:
            tracks[:, 1] += peak(centre, rng.uniform(*PEAK_HEIGHT))
        sites.append((start, start + width, strand, b, int(signal)))
    # A CTCF peak without motif and ATAC peaks anywhere: signal that must not make anchors.
    if rng.random() < 0.5:
        tracks[:, 0] += peak(float(rng.integers(0, SEQ_LEN)), rng.uniform(*PEAK_HEIGHT))
    for _ in range(int(rng.integers(0, 3))):
        tracks[:, 1] += peak(float(rng.integers(0, SEQ_LEN)), rng.uniform(*PEAK_HEIGHT))
    return codes, tracks.astype(np.float32), true_map(forward, reverse), sites


def make_set(kinds: list[str], motif: Motif, rng: np.random.Generator):
    """Regions of the given kinds: codes ``(N, L)``, tracks ``(N, L, 2)``, noisy contact
    probabilities ``(N, R, R)`` (the training labels), noise-free ones, and sites."""
    drawn = [make_region(kind, motif, rng) for kind in kinds]
    logits = np.stack([d[2] for d in drawn])
    noise = np.triu(rng.normal(0.0, LOGIT_NOISE, size=logits.shape))
    noisy = 1 / (1 + np.exp(-(logits + noise + np.triu(noise, 1).transpose(0, 2, 1))))
    return (np.stack([d[0] for d in drawn]), np.stack([d[1] for d in drawn]),
            noisy.astype(np.float32), (1 / (1 + np.exp(-logits))).astype(np.float32),
            [d[3] for d in drawn])


def model_yaml(sizes: dict, r: float, corner: dict) -> dict:
    """Content of the stand-in's Kipoi ``model.yaml``."""
    motif = f"{MOTIF[1]} ({MOTIF[0]})"
    track = {"shape": f"(1, {SEQ_LEN})"}
    return {
        "defined_as": "kipoi.model.PyTorchModel",
        "args": {"module_file": "model.py", "module_class": "COrigamiLike",
                 "weights": "weights.pt"},
        "info": {
            "authors": [{"name": "kipoi-explain developers"}],
            "doc": ("Stand-in for the C.Origami class of models predicting Hi-C contact maps "
                    "from DNA plus CTCF ChIP-seq and ATAC-seq (Tan et al. 2023), bundled with "
                    "kipoi-explain; named after the class it stands for, not C.Origami and not "
                    f"a model of real biology. Predicts the {N_BINS} x {N_BINS} contact map "
                    f"({BIN_SIZE} bp bins) of a {SEQ_LEN} bp region: one convolution over the "
                    "DNA and track channels, a ReLU and max pooling per bin give forward and "
                    "reverse CTCF anchor scores; the map's logits are a learned distance decay "
                    "plus a domain term enclosed by convergent anchors plus a loop at their "
                    f"corner. Planted truth: a {JASPAR_RELEASE} {motif} motif with CTCF signal "
                    "is an anchor, and a convergent pair (+ left, - right) closes a domain with a "
                    "corner loop. "
                    "Regenerate with: python examples/standins/corigami_like.py"),
            "version": "0.1",
            "license": "MIT",
            "tags": ["synthetic", "stand-in", "C.Origami", "Hi-C", "contact map",
                     "chromatin tracks", "multi-input"],
            "trained_on": (
                f"Uniform i.i.d. random {SEQ_LEN} bp regions with exponential background tracks "
                f"(mean {BACKGROUND}) and Gaussian peaks (sd {PEAK_SD} bp, height "
                f"{PEAK_HEIGHT[0]}-{PEAK_HEIGHT[1]}). Half hold a convergent pair of "
                f"{MOTIF[1]} motifs with CTCF peaks at least {MIN_PAIR_GAP} bins apart plus a "
                "motif without signal; half 0-3 motifs in random bins and orientations, each "
                f"with a CTCF peak at probability {SIGNAL_RATE}. ATAC peaks sit on motifs at "
                f"probability {ATAC_AT_MOTIF} whatever their role, and 0-2 anywhere; half the "
                "regions also have a CTCF peak without motif. Target: the sigmoid of logits "
                f"{DECAY[0]} {DECAY[1]:+} x distance + {ALPHA} x domain + {BETA} x corner, with "
                f"symmetric Gaussian logit noise (sd {LOGIT_NOISE})."),
            "training_procedure": (
                f"Adam (learning rate {LEARNING_RATE}), binary cross-entropy on contact "
                f"probabilities as soft labels, batch size {BATCH_SIZE}, {sizes['epochs']} "
                f"epochs over {sizes['n_train']} regions, seed {SEED}. On {sizes['n_test']} "
                f"held-out regions: Pearson r {r:.3f} between predicted and noise-free maps "
                "(upper triangle, distance >= 1); mean predicted corner contact "
                + ", ".join(f"{k} {v:.3f}" for k, v in corner.items()) + "."),
        },
        "schema": {
            "inputs": {
                "seq": {"shape": f"(4, {SEQ_LEN})", "special_type": "DNASeq",
                        "doc": "One-hot encoded DNA, alphabet A, C, G, T along axis 0."},
                "ctcf": {**track, "doc": "CTCF ChIP-seq signal per base."},
                "atac": {**track, "doc": "ATAC-seq signal per base."},
            },
            "targets": {"shape": f"({N_BINS}, {N_BINS})",
                        "doc": f"Symmetric contact probabilities of {BIN_SIZE} bp bins.",
                        "column_labels": ["contact"]},
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
    codes, tracks, _, _, sites = make_set(evaluation_kinds, motif, evaluation_rng)
    data_dir = args.out / "data" / "standins" / NAME
    data_dir.mkdir(parents=True, exist_ok=True)
    write_fasta(data_dir / "sequences.fa", [(n, decode(c)) for n, c in zip(names, codes)])
    np.save(data_dir / "ctcf.npy", tracks[:, :, :1])
    np.save(data_dir / "atac.npy", tracks[:, :, 1:])
    write_tsv(data_dir / "sites.tsv",
              [(n, k, motif.matrix_id, motif.name, *s)
               for n, k, region in zip(names, evaluation_kinds, sites) for s in region],
              header=SITES_HEADER)

    def draw(n, rng):
        return [list(TRAIN_SHARES)[i]
                for i in rng.choice(len(TRAIN_SHARES), size=n, p=list(TRAIN_SHARES.values()))]

    train_codes, train_tracks, y_train, _, _ = make_set(draw(sizes["n_train"], train_rng), motif,
                                                        train_rng)
    test_kinds = ["loop"] * (sizes["n_test"] // 2) + ["noloop"] * (sizes["n_test"] // 4) + \
        draw(sizes["n_test"] - 3 * (sizes["n_test"] // 4), test_rng)
    test_codes, test_tracks, _, y_test, test_sites = make_set(test_kinds, motif, test_rng)
    tic = time.perf_counter()
    torch.manual_seed(SEED)
    model = fit_torch(JoinedInputs(MODEL_MODULE.COrigamiLike(), (4, 1, 1)),
                      joined(train_codes, train_tracks), y_train, sizes["epochs"], SEED,
                      BATCH_SIZE, LEARNING_RATE, tag=NAME)
    predicted = predict_torch(model, joined(test_codes, test_tracks), batch_size=256)
    upper = np.triu_indices(N_BINS, k=1)
    r = float(np.corrcoef(predicted[:, upper[0], upper[1]].ravel(),
                          y_test[:, upper[0], upper[1]].ravel())[0, 1])
    # The corner of the first two motifs' bins: the loop of loop regions, none in noloop ones.
    corner = {k: float(np.mean([predicted[i, s[0][3], s[1][3]]
                                for i, (kind, s) in enumerate(zip(test_kinds, test_sites))
                                if kind == k])) for k in N_EVALUATION}
    print(f"  trained in {time.perf_counter() - tic:.1f} s; held-out Pearson r {r:.3f}; mean "
          "corner contact: " + ", ".join(f"{k} {v:.3f}" for k, v in corner.items()), flush=True)

    model_dir = args.out / "models" / "standins" / NAME
    save_torch_model(model.model, model_dir, MODEL_SOURCE, model_yaml(sizes, r, corner))
    x = joined(codes, tracks)
    check_through_kipoi(model_dir, {"seq": x[:, :4].copy(), "ctcf": x[:, 4:5].copy(),
                                    "atac": x[:, 5:6].copy()}, predict_torch(model, x))
    print(f"Done; model in {model_dir}, evaluation data in {data_dir}", flush=True)


if __name__ == "__main__":
    main()
