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
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from synthetic import (JASPAR_RELEASE, Motif, Site, decode, import_module_file,  # noqa: E402
                       kipoiseq_dataloader, load_motifs, one_hot, parse_args, predict_torch,
                       sample_motif_instance, write_fasta, write_tsv, write_yaml)

NAME = "puffin_like"
EXAMPLES_DIR = Path(__file__).resolve().parents[1]
MODEL_SOURCE = EXAMPLES_DIR / "models" / "standins" / NAME / "model.py"
MODEL_MODULE = import_module_file(MODEL_SOURCE, f"{NAME}_model")
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


def channels_first(codes: np.ndarray) -> np.ndarray:
    """Integer-coded sequences to the model's ``(N, 4, L)`` float32 input."""
    return np.ascontiguousarray(one_hot(codes).transpose(0, 2, 1))


def pwm_filters(motif: Motif, kernel_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Convolution filters scoring ``motif`` on the plus and the minus strand.

    Weights are the PWM's log2 odds against a uniform background, centred in ``kernel_size``
    positions (zero elsewhere); each bias puts the filter's threshold at half of the best
    score, so after a ReLU the filter fires on close matches only.

    Returns
    -------
    weight : numpy.ndarray
        ``(2, 4, kernel_size)`` float32, plus strand first, in ``nn.Conv1d`` layout.
    bias : numpy.ndarray
        ``(2,)`` float32.
    """
    log_odds = np.log2(np.clip(motif.probs, 1e-3, None) / 0.25).T
    width = log_odds.shape[1]
    weight = np.zeros((2, 4, kernel_size), dtype=np.float32)
    offset = (kernel_size - width) // 2
    weight[0, :, offset:offset + width] = log_odds
    # Reverse complement: reverse the positions, and A<->T, C<->G is reversing the base axis.
    weight[1, :, offset:offset + width] = log_odds[::-1, ::-1]
    best = log_odds.max(axis=0).sum()
    return weight, np.full(2, -best / 2, dtype=np.float32)


def seed_filters(conv: torch.nn.Conv1d, motifs: list[Motif]) -> None:
    """Start two filters of ``conv`` per motif (plus, minus strand) from :func:`pwm_filters`.

    On a CPU-sized budget, training from random filters tends to settle on the all-zero
    output (most targets are zero) before any filter finds a sparse motif; starting filters
    on the motifs avoids that. Every weight is trained afterwards.
    """
    with torch.no_grad():
        for i, motif in enumerate(motifs):
            weight, bias = pwm_filters(motif, conv.kernel_size[0])
            conv.weight[2 * i:2 * i + 2] = torch.from_numpy(weight)
            conv.bias[2 * i:2 * i + 2] = torch.from_numpy(bias)


def fit_regression(model: torch.nn.Module, x: np.ndarray, y: np.ndarray, epochs: int, seed: int,
                   batch_size: int, learning_rate: float, tag: str) -> torch.nn.Module:
    """Train ``model`` with Adam on the mean squared error to real-valued targets ``y``.

    The stand-ins predict signal (profiles, contact maps), not probabilities, which is why
    ``synthetic.fit_torch`` (binary cross-entropy) does not apply.

    Returns
    -------
    torch.nn.Module
        The trained model in eval mode.
    """
    # Near-zero activations of sparse targets can turn subnormal, which is slow on CPUs.
    torch.set_flush_denormal(True)
    # The models are tiny: a second thread costs more in synchronisation than it gains.
    torch.set_num_threads(1)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    batch_order = torch.Generator().manual_seed(seed)
    x_t, y_t = torch.from_numpy(x), torch.from_numpy(y)
    model.train()
    for epoch in range(epochs):
        tic = time.perf_counter()
        total = 0.0
        for idx in torch.randperm(len(x_t), generator=batch_order).split(batch_size):
            optimizer.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x_t[idx]), y_t[idx])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        print(f"  [{tag}] epoch {epoch + 1}/{epochs} mse {total / len(x_t):.5f} "
              f"({time.perf_counter() - tic:.1f} s)", flush=True)
    return model.eval()


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


def save_model(model: torch.nn.Module, model_dir: Path, source: Path, content: dict) -> None:
    """Write ``model.py`` (a copy of ``source``), ``weights.pt`` (a state_dict), ``model.yaml``."""
    model_dir.mkdir(parents=True, exist_ok=True)
    if (model_dir / "model.py").resolve() != source:
        shutil.copyfile(source, model_dir / "model.py")
    # A plain state_dict, because Kipoi calls torch.load with weights_only=True.
    torch.save(model.state_dict(), model_dir / "weights.pt")
    write_yaml(model_dir / "model.yaml", content)


def check_through_kipoi(model_dir: Path, x: np.ndarray, expected: np.ndarray) -> None:
    """Load ``model_dir`` with Kipoi and check that it predicts ``expected`` for ``x``.

    Raises
    ------
    RuntimeError
        If Kipoi's predictions differ from the in-memory model's.
    """
    import kipoi  # imported here: only this final check needs it

    model = kipoi.get_model(str(model_dir), source="dir", with_dataloader=False)
    predicted = np.asarray(model.predict_on_batch(x))
    if predicted.shape != expected.shape or not np.allclose(predicted, expected, atol=1e-5):
        raise RuntimeError(f"Kipoi predictions {predicted.shape} differ from the trained model's "
                           f"{expected.shape}")
    print(f"  Kipoi loaded {model_dir}; its predictions on {len(x)} sequences match", flush=True)


def main(argv: list[str] | None = None) -> None:
    """Simulate data, train the stand-in, measure it and write everything."""
    args = parse_args(__doc__, "tiny data and one epoch, for a fast smoke test", argv)
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    # Independent streams, so the sizes of the training runs leave the evaluation data unchanged.
    train_rng, test_rng, evaluation_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(SEED).spawn(3))
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
    save_model(model, model_dir, MODEL_SOURCE, model_yaml(motif, sizes, metrics))
    evaluation_x = channels_first(evaluation_codes)
    check_through_kipoi(model_dir, evaluation_x, predict_torch(model, evaluation_x))
    print(f"Done; outputs in {args.out}", flush=True)


if __name__ == "__main__":
    main()
