"""Train ``enformer_like``, a stand-in for Enformer-class models: conv stem + transformer to
binned multi-task tracks.

What it stands for: Enformer (Avsec et al., Nature Methods 2021) reads 196 kb of sequence with
a convolutional stem and transformer layers and predicts 5,313 human tracks (CAGE, DNase,
ChIP) in 896 bins of 128 bp; it is explained by gradient x input of a TSS bin's CAGE signal,
which reaches enhancers tens of kb away, and by the attention row of the TSS token, which
peaks at those enhancers. The stand-in keeps that structure at toy scale: 512 bp, tokens and
output bins of 16 bp, one self-attention layer without positional encoding, and two tracks
(``models/standins/enformer_like/model.py``). It is named after the class it stands for and
is not Enformer.

Planted truth: a promoter is an SP1 site (JASPAR 2024 MA0079.5) and an enhancer an HNF4A site
(MA1494.2). The ``DNase`` track is 1 in the bin of every site (local accessibility). The
``CAGE`` track is 0.5 in the bin of a promoter, and 2 when the sequence also holds an
enhancer, always at least :data:`MIN_DISTANCE` bp away (beyond a token's 30 bp receptive
field): the TSS signal depends on the distal enhancer, which the model can only see through
attention.

Outputs (relative to ``--out``)::

    data/standins/enformer_like/sequences.fa   20 evaluation sequences (enhanced_*, promoter_only_*)
    data/standins/enformer_like/sites.tsv      their promoter and enhancer sites, with bins
    models/standins/enformer_like/             Kipoi model directory (kipoi.model.PyTorchModel)

Usage::

    python examples/standins/enformer_like.py            # full run, writes examples/
    python examples/standins/enformer_like.py --quick --out /tmp/smoke
"""
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import fit_regression, seed_filters, standin_model  # noqa: E402
from synthetic import (JASPAR_RELEASE, Motif, Site, channels_first,  # noqa: E402
                       check_through_kipoi, decode, kipoiseq_dataloader, load_motifs, parse_args,
                       predict_torch, sample_motif_instance, save_torch_model, spawn_rngs,
                       write_fasta, write_tsv)

NAME = "enformer_like"
MODEL_SOURCE, MODEL_MODULE = standin_model(NAME)
SEQ_LEN = MODEL_MODULE.SEQ_LEN
BIN_SIZE = MODEL_MODULE.BIN_SIZE
N_BINS = MODEL_MODULE.N_BINS
TRACKS = MODEL_MODULE.TRACKS

# Motif 0 makes promoters, motif 1 enhancers.
MOTIFS = (("MA0079.5", "SP1"), ("MA1494.2", "HNF4A"))
ROLES = ("promoter", "enhancer")
PROMOTER_CAGE = 0.5
ENHANCED_CAGE = 2.0
# Centre-to-centre distance from an enhancer to the promoter, beyond a token's receptive field.
MIN_DISTANCE = 96
# Evaluation promoters sit in the central bin, as Enformer's TSS of interest does.
TSS_BIN = N_BINS // 2

SEED = 2021
FULL_SIZES = {"n_train": 5000, "n_test": 1000, "epochs": 12}
QUICK_SIZES = {"n_train": 256, "n_test": 128, "epochs": 1}
BATCH_SIZE = 64
LEARNING_RATE = 2e-3
# Evaluation sequences: (name prefix, has an enhancer, count); all have a promoter.
EVALUATION_KINDS = (("enhanced", True, 14), ("promoter_only", False, 6))
SITES_HEADER = ("record", "motif_id", "motif_name", "role", "start", "end", "strand", "bin")


def centre(site: Site) -> int:
    """Centre base of a site."""
    return (site.start + site.end) // 2


def tracks(sites: list[Site]) -> np.ndarray:
    """The planted ``(N_BINS, 2)`` CAGE and DNase tracks of a sequence with ``sites``."""
    out = np.zeros((N_BINS, len(TRACKS)), dtype=np.float32)
    enhanced = any(s.motif == 1 for s in sites)
    for site in sites:
        out[centre(site) // BIN_SIZE, 1] = 1.0
        if site.motif == 0:
            out[centre(site) // BIN_SIZE, 0] = ENHANCED_CAGE if enhanced else PROMOTER_CAGE
    return out


def make_sequence(promoter: int | None, n_enhancers: int, motifs: list[Motif],
                  rng: np.random.Generator) -> tuple[np.ndarray, list[Site]]:
    """A uniform random sequence with an optional promoter and ``n_enhancers`` enhancers.

    Parameters
    ----------
    promoter : int or None
        Centre of the promoter site; None for none.
    n_enhancers : int
        Enhancer sites, each :data:`MIN_DISTANCE` or more from the promoter and clear of
        every other site.
    motifs : list of Motif
        Promoter and enhancer motif.
    rng : numpy.random.Generator
        Source of randomness.
    """
    codes = rng.integers(0, 4, size=SEQ_LEN)
    sites = []
    if promoter is not None:
        width = len(motifs[0].probs)
        sites.append(Site(0, promoter - width // 2, promoter - width // 2 + width,
                          str(rng.choice(["+", "-"]))))
    width = len(motifs[1].probs)
    while len([s for s in sites if s.motif == 1]) < n_enhancers:
        start = int(rng.integers(0, SEQ_LEN - width + 1))
        site = Site(1, start, start + width, str(rng.choice(["+", "-"])))
        if all(abs(centre(site) - centre(s)) >= (MIN_DISTANCE if s.motif == 0 else width)
               for s in sites):
            sites.append(site)
    for site in sites:
        codes[site.start:site.end] = sample_motif_instance(motifs[site.motif], site.strand, rng)
    return codes, sorted(sites, key=lambda s: s.start)


def make_training_set(n: int, motifs: list[Motif], rng: np.random.Generator
                      ) -> tuple[np.ndarray, np.ndarray, list[list[Site]]]:
    """``n`` sequences: a promoter anywhere in 80% of them, 0-2 enhancers, and their tracks."""
    width = len(motifs[0].probs)
    drawn = [make_sequence(int(rng.integers(width, SEQ_LEN - width)) if rng.random() < 0.8
                           else None, int(rng.integers(0, 3)), motifs, rng) for _ in range(n)]
    sites = [s for _, s in drawn]
    return np.stack([c for c, _ in drawn]), np.stack([tracks(s) for s in sites]), sites


def evaluate(predicted: np.ndarray, truth: np.ndarray, sites: list[list[Site]]) -> dict:
    """Held-out agreement: Pearson r per track, and how well the TSS bins' CAGE tells
    enhanced promoters from lone ones (AUROC)."""
    from sklearn.metrics import roc_auc_score

    pearson = {track: float(np.corrcoef(predicted[..., t].ravel(), truth[..., t].ravel())[0, 1])
               for t, track in enumerate(TRACKS)}
    scores, labels = [], []
    for pred, seq_sites in zip(predicted, sites):
        for site in (s for s in seq_sites if s.motif == 0):
            scores.append(pred[centre(site) // BIN_SIZE, 0])
            labels.append(any(s.motif == 1 for s in seq_sites))
    return {"pearson": pearson, "enhanced_auroc": float(roc_auc_score(labels, scores)),
            "n_promoters": len(labels)}


def write_evaluation_data(data_dir: Path, motifs: list[Motif], rng: np.random.Generator
                          ) -> np.ndarray:
    """Write ``sequences.fa`` and ``sites.tsv``: promoters centred in bin :data:`TSS_BIN`.

    Returns
    -------
    numpy.ndarray
        ``(n, SEQ_LEN)`` integer-coded evaluation sequences.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    names, codes, rows = [], [], []
    for prefix, enhanced, count in EVALUATION_KINDS:
        for i in range(count):
            seq, sites = make_sequence(TSS_BIN * BIN_SIZE + BIN_SIZE // 2, int(enhanced),
                                       motifs, rng)
            names.append(f"{prefix}_{i:02d}")
            codes.append(seq)
            rows += [(names[-1], motifs[s.motif].matrix_id, motifs[s.motif].name,
                      ROLES[s.motif], s.start, s.end, s.strand, centre(s) // BIN_SIZE)
                     for s in sites]
    write_fasta(data_dir / "sequences.fa", [(n, decode(c)) for n, c in zip(names, codes)])
    write_tsv(data_dir / "sites.tsv", rows, header=SITES_HEADER)
    print(f"  wrote {len(names)} sequences and {len(rows)} sites to {data_dir}", flush=True)
    return np.stack(codes)


def model_yaml(motifs: list[Motif], sizes: dict, metrics: dict) -> dict:
    """The stand-in's Kipoi ``model.yaml``, with the measured held-out accuracy."""
    promoter, enhancer = (f"{m.name} ({JASPAR_RELEASE} {m.matrix_id})" for m in motifs)
    pearson = ", ".join(f"{k} {v:.3f}" for k, v in metrics["pearson"].items())
    return {
        "defined_as": "kipoi.model.PyTorchModel",
        "args": {"module_file": "model.py", "module_class": "EnformerLike",
                 "weights": "weights.pt"},
        "default_dataloader": kipoiseq_dataloader(SEQ_LEN, alphabet_axis=0),
        "info": {
            "authors": [{"name": "kipoi-explain developers"}],
            "doc": (f"enformer_like: a small synthetic stand-in for the Enformer class of models "
                    f"(convolutional stem + transformer, binned multi-task tracks); named after "
                    f"the class it stands for, it is not Enformer and not a model of real biology. "
                    f"{SEQ_LEN} bp of one-hot DNA become one token per {BIN_SIZE} bp bin, one "
                    f"self-attention layer (4 heads, no positional encoding) mixes them, and a "
                    f"shared head predicts {' and '.join(TRACKS)} in each of {N_BINS} bins. "
                    f"Planted truth: promoters are {promoter} sites, enhancers {enhancer} sites; "
                    f"the CAGE signal of a promoter's bin rises when an enhancer lies "
                    f">= {MIN_DISTANCE} bp away, beyond the stem's receptive field. Trained by "
                    f"examples/standins/enformer_like.py."),
            "version": "0.1",
            "license": "MIT",
            "tags": ["synthetic", "stand-in", "binned tracks", "transformer", "attention"],
            "trained_on": (
                f"Uniform i.i.d. random {SEQ_LEN} bp sequences; 80% hold a promoter at a random "
                f"position, and each holds 0-2 enhancers >= {MIN_DISTANCE} bp from it (sites "
                f"sampled from the JASPAR PFMs on a random strand). Targets: DNase 1 in the bin of "
                f"every site; CAGE {PROMOTER_CAGE:g} in a promoter's bin, {ENHANCED_CAGE:g} when "
                f"an enhancer is present; 0 elsewhere."),
            "training_procedure": (
                f"The stem's first four filters start from the two PWMs' log-odds (both strands); "
                f"all weights are trained. Adam (learning rate {LEARNING_RATE}), mean squared "
                f"error, batch size {BATCH_SIZE}, {sizes['epochs']} epochs over "
                f"{sizes['n_train']} sequences, seed {SEED}. On {sizes['n_test']} held-out "
                f"sequences: Pearson r of predicted and planted tracks {pearson}; AUROC of the "
                f"promoter bin's CAGE for telling {metrics['n_promoters']} promoters with an "
                f"enhancer from those without {metrics['enhanced_auroc']:.3f}. "
                f"Regenerate with: python examples/standins/enformer_like.py"),
        },
        "schema": {
            "inputs": {"name": "seq", "shape": f"(4, {SEQ_LEN})", "special_type": "DNASeq",
                       "doc": "One-hot encoded DNA sequence, alphabet A, C, G, T along axis 0."},
            "targets": {"shape": f"({N_BINS}, {len(TRACKS)})",
                        "doc": f"Signal per {BIN_SIZE} bp bin (axis 0) and track (axis 1).",
                        "column_labels": list(TRACKS)},
        },
        "dependencies": {"pip": ["kipoiseq", "torch"]},
    }


def main(argv: list[str] | None = None) -> None:
    """Simulate data, train the stand-in, measure it and write everything."""
    args = parse_args(__doc__, "tiny data and one epoch, for a fast smoke test", argv)
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    train_rng, test_rng, evaluation_rng = spawn_rngs(SEED, 3)
    print(f"Loading motifs from {JASPAR_RELEASE}: "
          + ", ".join(f"{i} {n}" for i, n in MOTIFS), flush=True)
    motifs = load_motifs(MOTIFS)

    evaluation_codes = write_evaluation_data(args.out / "data" / "standins" / NAME, motifs,
                                             evaluation_rng)
    train_codes, y_train, _ = make_training_set(sizes["n_train"], motifs, train_rng)
    test_codes, y_test, test_sites = make_training_set(sizes["n_test"], motifs, test_rng)

    print(f"Training EnformerLike on {sizes['n_train']} sequences", flush=True)
    tic = time.perf_counter()
    torch.manual_seed(SEED)
    model = MODEL_MODULE.EnformerLike()
    seed_filters(model.conv, motifs)
    model = fit_regression(model, channels_first(train_codes), y_train, sizes["epochs"], SEED,
                           BATCH_SIZE, LEARNING_RATE, NAME)
    print(f"  trained in {time.perf_counter() - tic:.1f} s", flush=True)
    metrics = evaluate(predict_torch(model, channels_first(test_codes), 256), y_test, test_sites)
    print(f"  held-out: Pearson r {metrics['pearson']}, enhanced-promoter AUROC "
          f"{metrics['enhanced_auroc']:.3f} of {metrics['n_promoters']}", flush=True)

    model_dir = args.out / "models" / "standins" / NAME
    save_torch_model(model, model_dir, MODEL_SOURCE, model_yaml(motifs, sizes, metrics))
    evaluation_x = channels_first(evaluation_codes)
    check_through_kipoi(model_dir, evaluation_x, predict_torch(model, evaluation_x), atol=1e-5)
    print(f"Done; outputs in {args.out}", flush=True)


if __name__ == "__main__":
    main()
