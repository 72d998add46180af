"""Train ``orca_like``, a stand-in for Orca-class models: sequence to a contact map.

What it stands for: Orca (Zhou, Nature Genetics 2022) predicts 3D genome contact maps (Micro-C
/ Hi-C) at several scales, from 1 Mb to whole chromosomes, from sequence alone, with a
multiscale convolutional encoder and a 2D decoder; it is used for in-silico structural
perturbation, deleting, inserting or inverting sequence and reading the change of the
predicted contacts, which pins domain boundaries and loop anchors on CTCF sites and other
elements. The stand-in keeps one scale and the shape of the problem: 2048 bp of one-hot DNA
to a symmetric 32 x 32 map of 64 bp bins with no task axis, from an encoder and a pairwise
decoder (``models/standins/orca_like/model.py``). It is named after the class it stands for
and is not Orca.

Planted truth, in log observed / expected contacts (distance-normalised, as Orca predicts) of
bins ``i < j``: minus 1 for every CTCF site (JASPAR 2024 MA0139.2) in a bin strictly between
``i`` and ``j`` (sites are domain boundaries); plus 2 when bin ``i`` holds a forward site and
bin ``j`` a reverse one (convergent CTCF sites form a loop between their anchors).

Outputs (relative to ``--out``)::

    data/standins/orca_like/sequences.fa   20 evaluation sequences (loop_*, divergent_*, none_*)
    data/standins/orca_like/sites.tsv      their CTCF sites with the bin of each
    models/standins/orca_like/             Kipoi model directory (kipoi.model.PyTorchModel)

Usage::

    python examples/standins/orca_like.py            # full run, writes examples/
    python examples/standins/orca_like.py --quick --out /tmp/smoke
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

NAME = "orca_like"
MODEL_SOURCE, MODEL_MODULE = standin_model(NAME)
SEQ_LEN = MODEL_MODULE.SEQ_LEN
BIN_SIZE = MODEL_MODULE.BIN_SIZE
N_BINS = MODEL_MODULE.N_BINS

MOTIF = ("MA0139.2", "CTCF")
OUTPUT_NAME = "contact"
INSULATION = 1.0
LOOP = 2.0

SEED = 2022
FULL_SIZES = {"n_train": 1500, "n_test": 300, "epochs": 15}
QUICK_SIZES = {"n_train": 128, "n_test": 64, "epochs": 1}
BATCH_SIZE = 32
LEARNING_RATE = 1e-2
# Evaluation sequences: (name prefix, (bin, strand) of each site, count). In ``loop`` sequences
# a forward site and a reverse site face each other, in ``divergent`` ones they face away.
EVALUATION_KINDS = (("loop", ((8, "+"), (23, "-")), 12),
                    ("divergent", ((8, "-"), (23, "+")), 4),
                    ("none", (), 4))
SITES_HEADER = ("record", "motif_id", "motif_name", "start", "end", "strand", "bin")


def site_bin(site: Site) -> int:
    """The 64 bp bin holding the site's centre."""
    return (site.start + site.end) // 2 // BIN_SIZE


def contact_map(sites: list[Site]) -> np.ndarray:
    """The planted ``(N_BINS, N_BINS)`` log observed / expected map of a sequence with ``sites``."""
    maps = np.zeros((N_BINS, N_BINS), dtype=np.float32)
    forward, reverse = np.zeros(N_BINS), np.zeros(N_BINS)
    for site in sites:
        (forward if site.strand == "+" else reverse)[site_bin(site)] += 1
    boundaries = np.cumsum(forward + reverse)
    for i in range(N_BINS):
        for j in range(i + 1, N_BINS):
            between = boundaries[j - 1] - boundaries[i]
            value = -INSULATION * between + LOOP * forward[i] * reverse[j]
            maps[i, j] += value
            maps[j, i] += value
    return maps


def make_sequence(placements: list[tuple[int, str]], motif: Motif, rng: np.random.Generator
                  ) -> tuple[np.ndarray, list[Site]]:
    """A uniform random sequence with one CTCF site per ``(start, strand)`` placement."""
    codes = rng.integers(0, 4, size=SEQ_LEN)
    width = len(motif.probs)
    sites = [Site(0, start, start + width, strand) for start, strand in placements]
    for site in sites:
        codes[site.start:site.end] = sample_motif_instance(motif, site.strand, rng)
    return codes, sites


def make_training_set(n: int, motif: Motif, rng: np.random.Generator
                      ) -> tuple[np.ndarray, np.ndarray, list[list[Site]]]:
    """``n`` sequences with 0-4 sites in distinct bins, anywhere in their bin, random strands."""
    width = len(motif.probs)
    codes, maps, all_sites = [], [], []
    for _ in range(n):
        bins = np.sort(rng.choice(N_BINS, size=rng.integers(0, 5), replace=False))
        # Centres anywhere in the bin, the whole site inside the sequence.
        placements = [(int(np.clip(b * BIN_SIZE + rng.integers(BIN_SIZE) - width // 2,
                                   0, SEQ_LEN - width)), str(rng.choice(["+", "-"])))
                      for b in bins]
        seq, sites = make_sequence(placements, motif, rng)
        codes.append(seq)
        maps.append(contact_map(sites))
        all_sites.append(sites)
    return np.stack(codes), np.stack(maps), all_sites


def evaluate(predicted: np.ndarray, truth: np.ndarray, sites: list[list[Site]]) -> dict:
    """Held-out agreement: Pearson r of the maps above the diagonal, and loop calls.

    Every bin pair ``i < j`` with a forward site in ``i`` and a reverse one in ``j`` is a planted
    loop; it counts as recovered when the prediction there exceeds the map without the loop by
    more than half the planted loop strength.
    """
    upper = np.triu_indices(N_BINS, 1)
    pearson = float(np.corrcoef(predicted[:, upper[0], upper[1]].ravel(),
                                truth[:, upper[0], upper[1]].ravel())[0, 1])
    hits = []
    for pred, true, seq_sites in zip(predicted, truth, sites):
        for a in (s for s in seq_sites if s.strand == "+"):
            for b in (s for s in seq_sites if s.strand == "-" and site_bin(s) > site_bin(a)):
                i, j = site_bin(a), site_bin(b)
                hits.append(pred[i, j] - (true[i, j] - LOOP) > LOOP / 2)
    return {"pearson": pearson, "loop_recall": float(np.mean(hits)), "n_loops": len(hits)}


def write_evaluation_data(data_dir: Path, motif: Motif, rng: np.random.Generator) -> np.ndarray:
    """Write ``sequences.fa`` and ``sites.tsv`` (0-based half-open sites, their bins).

    Evaluation sites sit at the centre of their bin.

    Returns
    -------
    numpy.ndarray
        ``(n, SEQ_LEN)`` integer-coded evaluation sequences.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    width = len(motif.probs)
    names, codes, rows = [], [], []
    for prefix, layout, count in EVALUATION_KINDS:
        for i in range(count):
            placements = [(b * BIN_SIZE + BIN_SIZE // 2 - width // 2, strand)
                          for b, strand in layout]
            seq, sites = make_sequence(placements, motif, rng)
            names.append(f"{prefix}_{i:02d}")
            codes.append(seq)
            rows += [(names[-1], motif.matrix_id, motif.name, s.start, s.end, s.strand,
                      site_bin(s)) for s in sites]
    write_fasta(data_dir / "sequences.fa", [(n, decode(c)) for n, c in zip(names, codes)])
    write_tsv(data_dir / "sites.tsv", rows, header=SITES_HEADER)
    print(f"  wrote {len(names)} sequences and {len(rows)} sites to {data_dir}", flush=True)
    return np.stack(codes)


def model_yaml(motif: Motif, sizes: dict, metrics: dict) -> dict:
    """The stand-in's Kipoi ``model.yaml``, with the measured held-out accuracy."""
    return {
        "defined_as": "kipoi.model.PyTorchModel",
        "args": {"module_file": "model.py", "module_class": "OrcaLike", "weights": "weights.pt"},
        "default_dataloader": kipoiseq_dataloader(SEQ_LEN, alphabet_axis=0),
        "info": {
            "authors": [{"name": "kipoi-explain developers"}],
            "doc": (f"orca_like: a small synthetic stand-in for the Orca class of models (sequence "
                    f"to multiscale contact maps); named after the class it stands for, it is not "
                    f"Orca and not a model of real biology. An encoder reads {motif.name} sites "
                    f"({JASPAR_RELEASE} {motif.matrix_id}) per {BIN_SIZE} bp bin of {SEQ_LEN} bp "
                    f"of one-hot DNA and a pairwise decoder builds a symmetric {N_BINS} x {N_BINS} "
                    f"log observed / expected contact map. Planted truth: sites between two bins "
                    f"insulate them (boundaries), a forward site upstream of a reverse one "
                    f"(convergent) makes a loop between their bins. Trained by "
                    f"examples/standins/orca_like.py."),
            "version": "0.1",
            "license": "MIT",
            "tags": ["synthetic", "stand-in", "contact map", "3D genome", "CTCF"],
            "trained_on": (
                f"Uniform i.i.d. random {SEQ_LEN} bp sequences with 0-4 {motif.name} instances "
                f"(distinct bins, random strand, sampled from the JASPAR PFM); targets are the "
                f"planted log observed / expected maps: -{INSULATION:g} per site "
                f"strictly between the two bins, +{LOOP:g} for a forward site in the upstream "
                f"bin and a reverse site in the downstream one."),
            "training_procedure": (
                f"The encoder's first two filters start from the {motif.name} PWM's log-odds "
                f"(forward and reverse) and the site read-out from those two filters; all "
                f"weights are trained. Adam (learning rate "
                f"{LEARNING_RATE}), mean squared error, batch size {BATCH_SIZE}, {sizes['epochs']} "
                f"epochs over {sizes['n_train']} sequences, seed {SEED}. On {sizes['n_test']} "
                f"held-out sequences: Pearson r of predicted and planted maps above the diagonal "
                f"{metrics['pearson']:.3f}; {metrics['loop_recall']:.1%} of {metrics['n_loops']} "
                f"planted loops recovered (more than half the loop strength above the map "
                f"without it). Regenerate with: python examples/standins/orca_like.py"),
        },
        "schema": {
            "inputs": {"name": "seq", "shape": f"(4, {SEQ_LEN})", "special_type": "DNASeq",
                       "doc": "One-hot encoded DNA sequence, alphabet A, C, G, T along axis 0."},
            "targets": {"shape": f"({N_BINS}, {N_BINS})",
                        "doc": (f"Symmetric log observed / expected contacts of {BIN_SIZE} bp "
                                f"bins, one map (no task axis)."),
                        "column_labels": [OUTPUT_NAME]},
        },
        "dependencies": {"pip": ["kipoiseq", "torch"]},
    }


def seed_site_layer(model: torch.nn.Module) -> None:
    """Start the site read-out on the two seeded CTCF filters: ``f`` from the forward one,
    ``r`` from the reverse one, both near 0 without a site.

    From a random read-out, every bin starts as half a site, a boundary everywhere, and the
    loop term gets too little gradient to grow within a CPU-sized budget. Every weight is
    trained afterwards.
    """
    with torch.no_grad():
        model.site.weight.zero_()
        model.site.weight[0, 0, 0] = 1.0
        model.site.weight[1, 1, 0] = 1.0
        model.site.bias.fill_(-4.0)


def main(argv: list[str] | None = None) -> None:
    """Simulate data, train the stand-in, measure it and write everything."""
    args = parse_args(__doc__, "tiny data and one epoch, for a fast smoke test", argv)
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    train_rng, test_rng, evaluation_rng = spawn_rngs(SEED, 3)
    print(f"Loading {MOTIF[1]} ({MOTIF[0]}) from {JASPAR_RELEASE}", flush=True)
    (motif,) = load_motifs((MOTIF,))

    evaluation_codes = write_evaluation_data(args.out / "data" / "standins" / NAME, motif,
                                             evaluation_rng)
    train_codes, y_train, _ = make_training_set(sizes["n_train"], motif, train_rng)
    test_codes, y_test, test_sites = make_training_set(sizes["n_test"], motif, test_rng)

    print(f"Training OrcaLike on {sizes['n_train']} sequences", flush=True)
    tic = time.perf_counter()
    torch.manual_seed(SEED)
    model = MODEL_MODULE.OrcaLike()
    seed_filters(model.enc, [motif])
    seed_site_layer(model)
    model = fit_regression(model, channels_first(train_codes), y_train, sizes["epochs"], SEED,
                           BATCH_SIZE, LEARNING_RATE, NAME)
    print(f"  trained in {time.perf_counter() - tic:.1f} s", flush=True)
    metrics = evaluate(predict_torch(model, channels_first(test_codes), 256), y_test, test_sites)
    print(f"  held-out: Pearson r {metrics['pearson']:.3f}, loop recall "
          f"{metrics['loop_recall']:.3f} of {metrics['n_loops']}", flush=True)

    model_dir = args.out / "models" / "standins" / NAME
    save_torch_model(model, model_dir, MODEL_SOURCE, model_yaml(motif, sizes, metrics))
    evaluation_x = channels_first(evaluation_codes)
    check_through_kipoi(model_dir, evaluation_x, predict_torch(model, evaluation_x), atol=1e-5)
    print(f"Done; outputs in {args.out}", flush=True)


if __name__ == "__main__":
    main()
