"""Train ``puffin_like``, a stand-in for Puffin-class models: sequence to a base-resolution
transcription initiation profile.

What it stands for: Puffin (Dudnyk et al., Science 2024) predicts base-resolution transcription
initiation signal (CAGE, PRO-cap and similar, per strand) from kilobases of sequence with an
interpretable, U-net-like network, and explains it by attributing the signal at a position to
promoter motifs (SP/KLF, ETS, NFY, YY1, TATA, ...) and by inserting or deleting motifs in silico.
The stand-in keeps the shape of that problem and drops the scale: 320 bp of sequence, one
promoter motif, a one-level U-net (``models/standins/puffin_like/model.py``) and a two-strand
output profile ``(320, 2)``. It is named after the class it stands for and is not Puffin.

Planted truth: every SP1 site (JASPAR 2024 MA0079.5) drives initiation :data:`OFFSET` bp
downstream of its centre, in its own orientation: a site on the plus strand makes a Gaussian
peak (height 1, sd 3 bp) on the ``plus`` track at ``centre + 40``, a site on the minus strand
one on the ``minus`` track at ``centre - 40``. Nothing else makes signal.

Outputs (relative to ``--out``)::

    data/standins/puffin_like/sequences.fa    24 evaluation sequences (plus_*, minus_*, none_*)
    data/standins/puffin_like/sites.tsv       their SP1 sites and the planted peak positions
    models/standins/puffin_like/              Kipoi model directory (kipoi.model.PyTorchModel)

Usage::

    python examples/standins/puffin_like.py            # full run, writes examples/
    python examples/standins/puffin_like.py --quick --out /tmp/smoke
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

NAME = "puffin_like"
MODEL_SOURCE, MODEL_MODULE = standin_model(NAME)
SEQ_LEN = MODEL_MODULE.SEQ_LEN
STRANDS = MODEL_MODULE.STRANDS

MOTIF = ("MA0079.5", "SP1")
# Distance from a site's centre to the initiation peak it drives, downstream in its orientation.
OFFSET = 40
PEAK_SD = 3.0
# Peaks stay this far inside the sequence, so that each is seen whole.
PEAK_MARGIN = 10

SEED = 2024
FULL_SIZES = {"n_train": 4000, "n_test": 1000, "epochs": 8}
QUICK_SIZES = {"n_train": 256, "n_test": 128, "epochs": 1}
BATCH_SIZE = 64
LEARNING_RATE = 1e-3
# Evaluation sequences: (name prefix, strand of the one site or None, count).
EVALUATION_KINDS = (("plus", "+", 12), ("minus", "-", 6), ("none", None, 6))
SITES_HEADER = ("record", "motif_id", "motif_name", "start", "end", "strand", "track", "peak")


def peak_position(site: Site) -> int:
    """Base at which ``site`` drives initiation: :data:`OFFSET` downstream of its centre."""
    centre = (site.start + site.end) // 2
    return centre + OFFSET if site.strand == "+" else centre - OFFSET


def place_site(motif: Motif, strand: str, taken: np.ndarray, rng: np.random.Generator) -> Site:
    """A site of ``motif`` whose bases and peak fall inside the sequence and off ``taken`` bases.

    ``taken`` (bool, ``(SEQ_LEN,)``) marks bases of sites placed earlier and is updated.
    """
    width = len(motif.probs)
    while True:
        start = int(rng.integers(0, SEQ_LEN - width + 1))
        site = Site(0, start, start + width, strand)
        if (PEAK_MARGIN <= peak_position(site) < SEQ_LEN - PEAK_MARGIN
                and not taken[start:start + width].any()):
            taken[start:start + width] = True
            return site


def profile(sites: list[Site]) -> np.ndarray:
    """The planted ``(SEQ_LEN, 2)`` initiation profile of a sequence with ``sites``."""
    positions = np.arange(SEQ_LEN)
    out = np.zeros((SEQ_LEN, len(STRANDS)), dtype=np.float32)
    for site in sites:
        track = 0 if site.strand == "+" else 1
        out[:, track] += np.exp(-0.5 * ((positions - peak_position(site)) / PEAK_SD) ** 2)
    return out


def make_sequence(strands: list[str], motif: Motif, rng: np.random.Generator
                  ) -> tuple[np.ndarray, list[Site]]:
    """A uniform random sequence with one SP1 site per entry of ``strands``."""
    codes = rng.integers(0, 4, size=SEQ_LEN)
    taken = np.zeros(SEQ_LEN, dtype=bool)
    sites = [place_site(motif, strand, taken, rng) for strand in strands]
    for site in sites:
        codes[site.start:site.end] = sample_motif_instance(motif, site.strand, rng)
    return codes, sorted(sites, key=lambda s: s.start)


def make_training_set(n: int, motif: Motif, rng: np.random.Generator
                      ) -> tuple[np.ndarray, np.ndarray, list[list[Site]]]:
    """``n`` sequences with 0-2 sites on random strands, their profiles and sites."""
    drawn = [make_sequence(list(rng.choice(["+", "-"], size=rng.integers(0, 3))), motif, rng)
             for _ in range(n)]
    sites = [s for _, s in drawn]
    return np.stack([c for c, _ in drawn]), np.stack([profile(s) for s in sites]), sites


def evaluate(predicted: np.ndarray, truth: np.ndarray, sites: list[list[Site]]) -> dict:
    """Held-out agreement: profile correlation and how often each planted peak is recovered.

    A peak counts as recovered when the prediction's maximum on the site's track, within
    +-20 bp of the planted peak, lies within 3 bp of it and exceeds half the planted height.
    """
    pearson = float(np.corrcoef(predicted.ravel(), truth.ravel())[0, 1])
    hits = []
    for pred, seq_sites in zip(predicted, sites):
        for site in seq_sites:
            track, peak = (0 if site.strand == "+" else 1), peak_position(site)
            lo = max(peak - 20, 0)
            window = pred[lo:peak + 21, track]
            hits.append(abs(lo + int(window.argmax()) - peak) <= 3 and window.max() > 0.5)
    return {"pearson": pearson, "peak_recall": float(np.mean(hits)), "n_peaks": len(hits)}


def write_evaluation_data(data_dir: Path, motif: Motif, rng: np.random.Generator) -> np.ndarray:
    """Write ``sequences.fa`` and ``sites.tsv`` (0-based half-open sites, peak positions).

    Returns
    -------
    numpy.ndarray
        ``(n, SEQ_LEN)`` integer-coded evaluation sequences.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    names, codes, rows = [], [], []
    for prefix, strand, count in EVALUATION_KINDS:
        for i in range(count):
            seq, sites = make_sequence([strand] if strand else [], motif, rng)
            names.append(f"{prefix}_{i:02d}")
            codes.append(seq)
            rows += [(names[-1], motif.matrix_id, motif.name, s.start, s.end, s.strand,
                      STRANDS[0 if s.strand == "+" else 1], peak_position(s)) for s in sites]
    write_fasta(data_dir / "sequences.fa", [(n, decode(c)) for n, c in zip(names, codes)])
    write_tsv(data_dir / "sites.tsv", rows, header=SITES_HEADER)
    print(f"  wrote {len(names)} sequences and {len(rows)} sites to {data_dir}", flush=True)
    return np.stack(codes)


def model_yaml(motif: Motif, sizes: dict, metrics: dict) -> dict:
    """The stand-in's Kipoi ``model.yaml``, with the measured held-out accuracy."""
    return {
        "defined_as": "kipoi.model.PyTorchModel",
        "args": {"module_file": "model.py", "module_class": "PuffinLike", "weights": "weights.pt"},
        "default_dataloader": kipoiseq_dataloader(SEQ_LEN, alphabet_axis=0),
        "info": {
            "authors": [{"name": "kipoi-explain developers"}],
            "doc": (f"puffin_like: a small synthetic stand-in for the Puffin class of models "
                    f"(sequence to base-resolution transcription initiation profiles, "
                    f"U-net-like); named after the class it stands for, it is not Puffin and not "
                    f"a model of real biology. A one-level U-net maps {SEQ_LEN} bp of one-hot DNA "
                    f"to an initiation signal at every base on the plus and minus strand. Planted "
                    f"truth: an {motif.name} site ({JASPAR_RELEASE} {motif.matrix_id}) drives a "
                    f"peak {OFFSET} bp downstream of its centre in its own orientation. Trained by "
                    f"examples/standins/puffin_like.py."),
            "version": "0.1",
            "license": "MIT",
            "tags": ["synthetic", "stand-in", "profile", "transcription initiation"],
            "trained_on": (
                f"Uniform i.i.d. random {SEQ_LEN} bp sequences with 0, 1 or 2 {motif.name} "
                f"instances sampled from the JASPAR PFM on a random strand; targets are the "
                f"planted profiles: a Gaussian peak (height 1, sd {PEAK_SD:g} bp) {OFFSET} bp "
                f"downstream of each site on its strand's track, zero elsewhere."),
            "training_procedure": (
                f"The encoder's first two filters start from the {motif.name} PWM's log-odds "
                f"(plus and minus strand); all weights are trained. "
                f"Adam (learning rate {LEARNING_RATE}), mean squared error, batch size "
                f"{BATCH_SIZE}, {sizes['epochs']} epochs over {sizes['n_train']} sequences, seed "
                f"{SEED}. On {sizes['n_test']} held-out sequences: Pearson r of predicted and "
                f"planted profiles {metrics['pearson']:.3f}; {metrics['peak_recall']:.1%} of "
                f"{metrics['n_peaks']} planted peaks recovered (maximum within 3 bp, above half "
                f"height). "
                f"Regenerate with: python examples/standins/puffin_like.py"),
        },
        "schema": {
            "inputs": {"name": "seq", "shape": f"(4, {SEQ_LEN})", "special_type": "DNASeq",
                       "doc": "One-hot encoded DNA sequence, alphabet A, C, G, T along axis 0."},
            "targets": {"shape": f"({SEQ_LEN}, {len(STRANDS)})",
                        "doc": "Initiation signal at every base (axis 0), per strand (axis 1).",
                        "column_labels": list(STRANDS)},
        },
        "dependencies": {"pip": ["kipoiseq", "torch"]},
    }


def main(argv: list[str] | None = None) -> None:
    """Simulate data, train the stand-in, measure it and write everything."""
    args = parse_args(__doc__, "tiny data and one epoch, for a fast smoke test", argv)
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    # Independent streams, so the sizes of the training runs leave the evaluation data unchanged.
    train_rng, test_rng, evaluation_rng = spawn_rngs(SEED, 3)
    print(f"Loading {MOTIF[1]} ({MOTIF[0]}) from {JASPAR_RELEASE}", flush=True)
    (motif,) = load_motifs((MOTIF,))

    evaluation_codes = write_evaluation_data(args.out / "data" / "standins" / NAME, motif,
                                             evaluation_rng)
    train_codes, y_train, _ = make_training_set(sizes["n_train"], motif, train_rng)
    test_codes, y_test, test_sites = make_training_set(sizes["n_test"], motif, test_rng)

    print(f"Training PuffinLike on {sizes['n_train']} sequences", flush=True)
    tic = time.perf_counter()
    torch.manual_seed(SEED)
    model = MODEL_MODULE.PuffinLike()
    seed_filters(model.enc, [motif])
    model = fit_regression(model, channels_first(train_codes), y_train,
                           sizes["epochs"], SEED, BATCH_SIZE, LEARNING_RATE, NAME)
    print(f"  trained in {time.perf_counter() - tic:.1f} s", flush=True)
    metrics = evaluate(predict_torch(model, channels_first(test_codes), 256), y_test, test_sites)
    print(f"  held-out: Pearson r {metrics['pearson']:.3f}, peak recall "
          f"{metrics['peak_recall']:.3f} of {metrics['n_peaks']}", flush=True)

    model_dir = args.out / "models" / "standins" / NAME
    save_torch_model(model, model_dir, MODEL_SOURCE, model_yaml(motif, sizes, metrics))
    evaluation_x = channels_first(evaluation_codes)
    check_through_kipoi(model_dir, evaluation_x, predict_torch(model, evaluation_x), atol=1e-5)
    print(f"Done; outputs in {args.out}", flush=True)


if __name__ == "__main__":
    main()
