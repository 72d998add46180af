"""Train the bundled example transformer, which must attend from one motif to another.

The label of a synthetic sequence is 1 exactly when it holds both a CTCF
and an HNF4A motif (JASPAR 2024, planted 50-200 bp apart, centre to centre);
negatives hold one of the two, neither, or two copies of the same motif, so
only the pair predicts. ``PairTransformer`` (``models/pytorch_transformer/
model.py``) scores every 4 bp token on its own and takes the maximum, and a
token sees only 18 bp, so it can only solve the task through attention
between the two motif tokens. After training, the script checks that it does:
the attention from each motif's token to its partner's is compared with the
attention to background tokens, and the importance of each motif is measured
with and without its partner (ISM on the probability, gradient x input on the
logit).

Everything is seeded and offline (motifs from the JASPAR copy in pyjaspar);
running the script twice gives the same data and the same weights.

Outputs (relative to ``--out``)::

    data/pair_sequences.fa          40 evaluation sequences (20 pos_*, 20 neg_*)
    data/pair_sites.tsv             every planted motif of those sequences
    models/pytorch_transformer/     Kipoi model directory (kipoi.model.PyTorchModel)

Usage::

    python examples/train_transformer.py            # full run, writes examples/
    python examples/train_transformer.py --quick --out /tmp/smoke
"""
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from synthetic import (JASPAR_RELEASE, Motif, Site, channels_first, check_through_kipoi, decode,
                       fit_torch, import_module_file, kipoiseq_dataloader, load_motifs, parse_args,
                       predict_torch, sample_motif_instance, save_torch_model, spawn_rngs,
                       write_fasta, write_tsv)

EXAMPLES_DIR = Path(__file__).resolve().parent
MODEL_SOURCE = EXAMPLES_DIR / "models" / "pytorch_transformer" / "model.py"
# Sequence length and token size are the model's; reading them from model.py
# keeps the data and the architecture in step.
MODEL_MODULE = import_module_file(MODEL_SOURCE, "pytorch_transformer_model")
SEQ_LEN = MODEL_MODULE.SEQ_LEN
TOKEN_SIZE = MODEL_MODULE.TOKEN_SIZE

# Motif A and motif B. Both carry >= 16 bits of information, so chance
# matches in random background are rare (see train_examples.py).
MOTIFS = (
    ("MA0139.2", "CTCF"),
    ("MA1494.2", "HNF4A"),
)
LABEL = "pair"
# Centre-to-centre distance of two planted sites; the lower bound is well
# beyond a token's 18 bp receptive field, so no token sees both sites.
MIN_DISTANCE = 50
MAX_DISTANCE = 200


@dataclass(frozen=True)
class Kind:
    """One kind of synthetic sequence: which motifs it holds and its label."""

    name: str
    motifs: tuple[int, ...]
    label: int
    train_share: float
    n_evaluation: int


KINDS = (
    Kind("CTCF+HNF4A", (0, 1), 1, 0.50, 20),
    Kind("CTCF", (0,), 0, 0.15, 6),
    Kind("HNF4A", (1,), 0, 0.15, 6),
    Kind("none", (), 0, 0.10, 4),
    Kind("CTCF+CTCF", (0, 0), 0, 0.05, 2),
    Kind("HNF4A+HNF4A", (1, 1), 0, 0.05, 2),
)
# Evaluation sites stay this far from the sequence ends, so that a model
# sees each site whole, with context on both sides.
EVALUATION_MARGIN = 20

SEED = 1234
FULL_SIZES = {"n_train": 40_000, "n_test": 5_000, "epochs": 10}
QUICK_SIZES = {"n_train": 512, "n_test": 256, "epochs": 1}
BATCH_SIZE = 128
LEARNING_RATE = 1e-3
# Held-out positives used for the (slower) mutation-based interaction check.
MAX_INTERACTION_SEQS = 200

SITES_HEADER = ("record", "motif_id", "motif_name", "start", "end", "strand")


def site_starts(lengths: list[int], margin: int, rng: np.random.Generator) -> list[int]:
    """Pick start positions for zero, one or two sites.

    Two sites are placed :data:`MIN_DISTANCE` to :data:`MAX_DISTANCE` bp
    apart (centre to centre, centre = ``start + length // 2``), in random
    order; a single site lands anywhere.

    Parameters
    ----------
    lengths : list of int
        Length of every site, at most two.
    margin : int
        Minimum distance between any site and either sequence end.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    list of int
        One start per entry of ``lengths``.
    """
    if len(lengths) < 2:
        return [int(rng.integers(margin, SEQ_LEN - margin - n + 1)) for n in lengths]
    first_left = bool(rng.integers(2))
    left, right = lengths if first_left else lengths[::-1]
    distance = int(rng.integers(MIN_DISTANCE, MAX_DISTANCE + 1))
    # right start = left start + offset; both sites must fit inside the margins.
    offset = left // 2 + distance - right // 2
    left_start = int(rng.integers(margin, SEQ_LEN - margin - right - offset + 1))
    starts = [left_start, left_start + offset]
    return starts if first_left else starts[::-1]


def make_sequence(kind: Kind, motifs: list[Motif], margin: int,
                  rng: np.random.Generator) -> tuple[np.ndarray, list[Site]]:
    """Draw one random sequence of the given kind with its planted sites.

    Parameters
    ----------
    kind : Kind
        Which motifs to plant.
    motifs : list of Motif
        Motif A and motif B.
    margin : int
        Minimum distance between a site and the sequence ends.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    codes : numpy.ndarray
        ``(SEQ_LEN,)`` integer-coded sequence, uniform i.i.d. background.
    sites : list of Site
        Planted sites, sorted by start.
    """
    codes = rng.integers(0, 4, size=SEQ_LEN)
    starts = site_starts([len(motifs[m].probs) for m in kind.motifs], margin, rng)
    sites = []
    for motif_index, start in zip(kind.motifs, starts):
        strand = "+" if rng.integers(2) else "-"
        instance = sample_motif_instance(motifs[motif_index], strand, rng)
        codes[start:start + len(instance)] = instance
        sites.append(Site(motif_index, start, start + len(instance), strand))
    return codes, sorted(sites, key=lambda s: s.start)


def make_labelled_set(n: int, motifs: list[Motif], rng: np.random.Generator
                      ) -> tuple[np.ndarray, np.ndarray, list[Kind], list[list[Site]]]:
    """Generate ``n`` training-style sequences, kinds drawn by :attr:`Kind.train_share`.

    Returns
    -------
    codes : numpy.ndarray
        ``(n, SEQ_LEN)`` integer-coded sequences.
    labels : numpy.ndarray
        ``(n, 1)`` float32 0/1 labels.
    kinds : list of Kind
        Kind of every sequence.
    sites : list of list of Site
        Planted sites of every sequence.
    """
    shares = np.array([k.train_share for k in KINDS])
    kinds = [KINDS[i] for i in rng.choice(len(KINDS), size=n, p=shares / shares.sum())]
    drawn = [make_sequence(kind, motifs, 0, rng) for kind in kinds]
    codes = np.stack([c for c, _ in drawn])
    labels = np.array([[k.label] for k in kinds], dtype=np.float32)
    return codes, labels, kinds, [s for _, s in drawn]


def make_evaluation_set(motifs: list[Motif], rng: np.random.Generator
                        ) -> tuple[list[str], np.ndarray, list[list[Site]]]:
    """Draw the evaluation sequences: :attr:`Kind.n_evaluation` of each kind.

    Positives are named ``pos_00``, ``pos_01``, ... and negatives ``neg_00``,
    ... ; the negative kinds come in random order.

    Returns
    -------
    names : list of str
        Record names, positives first.
    codes : numpy.ndarray
        ``(n, SEQ_LEN)`` integer-coded sequences.
    sites : list of list of Site
        Planted sites of every sequence.
    """
    positives = [k for k in KINDS if k.label for _ in range(k.n_evaluation)]
    negatives = [k for k in KINDS if not k.label for _ in range(k.n_evaluation)]
    negatives = [negatives[i] for i in rng.permutation(len(negatives))]
    names = ([f"pos_{i:02d}" for i in range(len(positives))]
             + [f"neg_{i:02d}" for i in range(len(negatives))])
    drawn = [make_sequence(kind, motifs, EVALUATION_MARGIN, rng) for kind in positives + negatives]
    return names, np.stack([c for c, _ in drawn]), [s for _, s in drawn]


def write_evaluation_data(data_dir: Path, names: list[str], codes: np.ndarray,
                          sites: list[list[Site]], motifs: list[Motif]) -> None:
    """Write ``pair_sequences.fa`` and ``pair_sites.tsv`` (0-based half-open sites)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    write_fasta(data_dir / "pair_sequences.fa", [(n, decode(c)) for n, c in zip(names, codes)])
    rows = [(name, motifs[s.motif].matrix_id, motifs[s.motif].name, s.start, s.end, s.strand)
            for name, seq_sites in zip(names, sites) for s in seq_sites]
    write_tsv(data_dir / "pair_sites.tsv", rows, header=SITES_HEADER)
    print(f"  wrote {len(names)} sequences and {len(rows)} planted sites to {data_dir}", flush=True)


def train(x: np.ndarray, y: np.ndarray, epochs: int) -> torch.nn.Module:
    """Train a freshly seeded ``PairTransformer`` on ``(N, 4, SEQ_LEN)`` inputs."""
    torch.manual_seed(SEED)
    model = MODEL_MODULE.PairTransformer()
    return fit_torch(model, x, y, epochs, SEED, BATCH_SIZE, LEARNING_RATE, tag="transformer")


def pair_sites(sites: list[Site]) -> tuple[Site, Site]:
    """The motif A and motif B site of a positive sequence."""
    by_motif = {s.motif: s for s in sites}
    return by_motif[0], by_motif[1]


def centre_token(site: Site) -> int:
    """Index of the token whose 4 bp bin holds the site's centre base."""
    return (site.start + site.end) // 2 // TOKEN_SIZE


def token_fields(model: torch.nn.Module) -> np.ndarray:
    """Receptive field ``[first, last]`` (bases, inclusive) of every token, shape ``(T, 2)``."""
    kernel, padding = model.conv.kernel_size[0], model.conv.padding[0]
    starts = np.arange(SEQ_LEN // TOKEN_SIZE) * TOKEN_SIZE
    return np.stack([starts - padding, starts + TOKEN_SIZE - 1 + kernel - 1 - padding], axis=1)


def background_tokens(fields: np.ndarray, sites: list[Site]) -> np.ndarray:
    """Boolean mask of the tokens whose receptive field touches no planted site."""
    touched = np.zeros(len(fields), dtype=bool)
    for s in sites:
        touched |= (fields[:, 0] < s.end) & (fields[:, 1] >= s.start)
    return ~touched


def attention_maps(model: torch.nn.Module, x: np.ndarray, batch_size: int = 256) -> list[np.ndarray]:
    """Attention probabilities of every encoder layer, averaged over heads.

    Each layer's input is captured with a forward pre-hook, and its
    ``self_attn`` module is called again on it with ``need_weights=True``
    (inference may take PyTorch's fused fast path, which returns no weights).

    Parameters
    ----------
    model : torch.nn.Module
        Trained ``PairTransformer``.
    x : numpy.ndarray
        ``(N, 4, SEQ_LEN)`` inputs.
    batch_size : int
        Sequences per forward pass.

    Returns
    -------
    list of numpy.ndarray
        Per layer, ``(N, T, T)`` query x key probabilities (rows sum to 1).
    """
    maps = [[] for _ in model.encoder]
    for i in range(0, len(x), batch_size):
        inputs = []
        handles = [layer.register_forward_pre_hook(lambda _, args: inputs.append(args[0]))
                   for layer in model.encoder]
        try:
            with torch.no_grad():
                model(torch.from_numpy(x[i:i + batch_size]))
                for layer, layer_input, out in zip(model.encoder, inputs, maps):
                    _, weights = layer.self_attn(layer_input, layer_input, layer_input,
                                                 need_weights=True, average_attn_weights=False)
                    out.append(weights.mean(dim=1).numpy())
        finally:
            for handle in handles:
                handle.remove()
    return [np.concatenate(m) for m in maps]


def site_tokens(site: Site) -> np.ndarray:
    """Boolean mask of the tokens whose 4 bp bin overlaps the site."""
    bins = np.arange(SEQ_LEN // TOKEN_SIZE) * TOKEN_SIZE
    return (bins < site.end) & (bins + TOKEN_SIZE > site.start)


def attention_to_partner(model: torch.nn.Module, codes: np.ndarray,
                         sites: list[list[Site]]) -> list[dict[str, dict[str, np.ndarray]]]:
    """Per layer, how much each motif's centre token attends to its partner.

    Parameters
    ----------
    model : torch.nn.Module
        Trained ``PairTransformer``.
    codes : numpy.ndarray
        ``(N, SEQ_LEN)`` positive sequences (both motifs planted).
    sites : list of list of Site
        Their planted sites.

    Returns
    -------
    list of dict
        Per layer, for the directions ``'A->B'`` and ``'B->A'``, one entry
        per sequence of: ``centre``, the attention to the partner's centre
        token divided by the mean attention to background tokens; ``site``,
        the same for the partner token with the most attention among those
        whose bin overlaps the partner site (a motif's strongest token can
        sit one bin off its centre, depending on strand); ``beats_all``,
        whether that token gets more attention than every background token.
    """
    fields = token_fields(model)
    results = []
    for probs in attention_maps(model, channels_first(codes)):
        stats = {d: {"centre": [], "site": [], "beats_all": []} for d in ("A->B", "B->A")}
        for row, seq_sites in zip(probs, sites):
            a, b = pair_sites(seq_sites)
            background = background_tokens(fields, seq_sites)
            for direction, query, key in (("A->B", a, b), ("B->A", b, a)):
                weights = row[centre_token(query)]
                baseline = weights[background].mean()
                best = weights[site_tokens(key)].max()
                stats[direction]["centre"].append(weights[centre_token(key)] / baseline)
                stats[direction]["site"].append(best / baseline)
                stats[direction]["beats_all"].append(best > weights[background].max())
        results.append({d: {k: np.array(v) for k, v in s.items()} for d, s in stats.items()})
    return results


def destroy(codes: np.ndarray, sites: list[Site], rng: np.random.Generator) -> np.ndarray:
    """Copy of ``codes`` (one sequence per site) with each site replaced by random bases."""
    out = codes.copy()
    for seq, site in zip(out, sites):
        seq[site.start:site.end] = rng.integers(0, 4, size=site.end - site.start)
    return out


def ism_importance(model: torch.nn.Module, codes: np.ndarray, sites: list[Site]) -> np.ndarray:
    """Mean drop of the output over all single-base substitutions inside each sequence's site.

    Parameters
    ----------
    model : torch.nn.Module
        Trained ``PairTransformer``.
    codes : numpy.ndarray
        ``(N, SEQ_LEN)`` integer-coded sequences.
    sites : list of Site
        One site per sequence, all of the same length.

    Returns
    -------
    numpy.ndarray
        ``(N,)`` importance; positive when substitutions lower the output.
    """
    length = sites[0].end - sites[0].start
    offsets = np.repeat(np.arange(length), 3)
    shifts = np.tile(np.arange(1, 4), length)
    mutants = np.repeat(codes[:, None], len(offsets), axis=1)
    for seq_mutants, seq, site in zip(mutants, codes, sites):
        positions = site.start + offsets
        # Adding 1..3 modulo 4 visits each of the three other bases once.
        seq_mutants[np.arange(len(offsets)), positions] = (seq[positions] + shifts) % 4
    reference = predict_torch(model, channels_first(codes), batch_size=1024)[:, 0]
    mutated = predict_torch(model, channels_first(mutants.reshape(-1, SEQ_LEN)), batch_size=1024)
    return reference - mutated[:, 0].reshape(len(codes), -1).mean(axis=1)


def logit_gradient_x_input(model: torch.nn.Module, codes: np.ndarray) -> np.ndarray:
    """Gradient x input of the pre-sigmoid logit, one value per base, shape ``(N, SEQ_LEN)``.

    The logit rather than the probability, because the sigmoid saturates on
    confident predictions and would flatten the gradient of both cases.
    """
    logits = []
    handle = model.out.register_forward_hook(lambda _, args, __: logits.append(args[0]))
    try:
        x = torch.from_numpy(channels_first(codes)).requires_grad_(True)
        model(x)
        # Sequences do not interact, so the gradient of the sum is per-sequence.
        logits[0].sum().backward()
    finally:
        handle.remove()
    return (x.grad * x).sum(dim=1).detach().numpy()


def interaction(model: torch.nn.Module, codes: np.ndarray, sites: list[list[Site]],
                rng: np.random.Generator) -> dict[str, dict[str, np.ndarray]]:
    """Importance of each motif with its partner intact and with the partner destroyed.

    Parameters
    ----------
    model : torch.nn.Module
        Trained ``PairTransformer``.
    codes : numpy.ndarray
        ``(N, SEQ_LEN)`` positive sequences.
    sites : list of list of Site
        Their planted sites.
    rng : numpy.random.Generator
        Draws the bases that replace a destroyed partner.

    Returns
    -------
    dict
        For ``'A'`` and ``'B'`` (the motif whose importance is measured) and
        each of ``'ism'`` and ``'grad_x_input'``: ``(N, 2)`` arrays, column 0
        with the partner intact and column 1 with it destroyed. Gradient x
        input is summed over the site's bases.
    """
    a_sites, b_sites = zip(*(pair_sites(s) for s in sites))
    out = {}
    for name, own, partner in (("A", a_sites, b_sites), ("B", b_sites, a_sites)):
        variants = (codes, destroy(codes, partner, rng))
        grads = [logit_gradient_x_input(model, v) for v in variants]
        out[name] = {
            "ism": np.stack([ism_importance(model, v, own) for v in variants], axis=1),
            "grad_x_input": np.stack([[g[site.start:site.end].sum() for g, site in zip(grad, own)]
                                      for grad in grads], axis=1),
        }
    return out


def report_attention(model: torch.nn.Module, codes: np.ndarray, sites: list[list[Site]],
                     motifs: list[Motif], what: str) -> str:
    """Log the partner attention of every layer; return the mean centre ratios as one line."""
    names = {"A": motifs[0].name, "B": motifs[1].name}
    print(f"Attention to the partner motif, {what} (from the motif's centre token, mean over "
          "heads, divided by the mean attention to a background token):", flush=True)
    means = []
    for index, stats in enumerate(attention_to_partner(model, codes, sites)):
        for direction, s in stats.items():
            query, key = (names[m] for m in direction.split("->"))
            summary = "; ".join(
                f"{label} ratio mean {s[k].mean():.1f}, median {np.median(s[k]):.1f}, "
                f"min {s[k].min():.2f}"
                for k, label in (("centre", "partner centre token"), ("site", "best partner-site token")))
            print(f"  layer {index} {query}->{key}: {summary}; the best partner-site token beats "
                  f"every background token in {int(s['beats_all'].sum())}/{len(s['site'])}",
                  flush=True)
        means.append(f"layer {index}: " + ", ".join(
            f"{names[d[0]]}->{names[d[-1]]} {s['centre'].mean():.1f}" for d, s in stats.items()))
    return "; ".join(means)


def report_interaction(model: torch.nn.Module, codes: np.ndarray, sites: list[list[Site]],
                       motifs: list[Motif], what: str, rng: np.random.Generator) -> None:
    """Log each motif's importance with its partner intact and destroyed."""
    names = {"A": motifs[0].name, "B": motifs[1].name}
    print(f"Importance of each motif with its partner intact -> destroyed, {what}:", flush=True)
    for motif, stats in interaction(model, codes, sites, rng).items():
        partner = names["B" if motif == "A" else "A"]
        for method, values in stats.items():
            dropped = int((values[:, 1] < values[:, 0]).sum())
            print(f"  {names[motif]} ({method}): {values[:, 0].mean():.4f} -> "
                  f"{values[:, 1].mean():.4f} without {partner}; lower in "
                  f"{dropped}/{len(values)}", flush=True)


def report_kinds(model: torch.nn.Module, codes: np.ndarray, kinds: list[Kind]) -> None:
    """Log the mean prediction for every kind of sequence."""
    predictions = predict_torch(model, channels_first(codes), batch_size=1024)[:, 0]
    names = np.array([k.name for k in kinds])
    print("  mean prediction by kind: " + ", ".join(
        f"{k.name}={predictions[names == k.name].mean():.3f}"
        for k in KINDS if (names == k.name).any()), flush=True)


def model_yaml(motifs: list[Motif], sizes: dict, auroc: float, attention: str) -> dict:
    """Build the content of the transformer's Kipoi ``model.yaml``.

    Parameters
    ----------
    motifs : list of Motif
        Motif A and motif B.
    sizes : dict
        ``n_train``, ``n_test`` and ``epochs`` of the run.
    auroc : float
        Held-out AUROC.
    attention : str
        Mean partner/background attention ratios, from :func:`report_attention`.

    Returns
    -------
    dict
        Ready for ``yaml.safe_dump``.
    """
    a, b = (f"{m.name} ({m.matrix_id})" for m in motifs)
    return {
        "defined_as": "kipoi.model.PyTorchModel",
        "args": {"module_file": "model.py", "module_class": "PairTransformer",
                 "weights": "weights.pt"},
        "default_dataloader": kipoiseq_dataloader(SEQ_LEN, alphabet_axis=0),
        "info": {
            "authors": [{"name": "kipoi-explain developers"}],
            "doc": (f"Synthetic example PyTorch transformer bundled with kipoi-explain. Predicts, "
                    f"for a {SEQ_LEN} bp DNA sequence, whether it holds both the {JASPAR_RELEASE} "
                    f"motifs {a} and {b}. A convolutional stem makes one token per {TOKEN_SIZE} bp, "
                    f"one self-attention layer (4 heads, no positional encoding) mixes them, and the "
                    f"output is the maximum of a per-token score; since no token sees both motifs, "
                    f"the model has to attend from one to the other. Trained on simulated data by "
                    f"examples/train_transformer.py; not a model of real biology."),
            "version": "0.1",
            "license": "MIT",
            "tags": ["synthetic", "example", "TFBS", "transformer", "attention"],
            "trained_on": (
                f"Uniform i.i.d. random {SEQ_LEN} bp sequences. Positives (50%) hold one "
                f"{motifs[0].name} and one {motifs[1].name} instance, {MIN_DISTANCE}-{MAX_DISTANCE} "
                f"bp apart centre to centre; negatives hold only {motifs[0].name} (15%), only "
                f"{motifs[1].name} (15%), neither (10%), or two instances of the same motif at that "
                f"distance (5% each). Instances are sampled from the JASPAR PFMs on a random strand."),
            "training_procedure": (
                f"Adam (learning rate {LEARNING_RATE}), binary cross-entropy, batch size "
                f"{BATCH_SIZE}, {sizes['epochs']} epochs over {sizes['n_train']} sequences, seed "
                f"{SEED}. AUROC on {sizes['n_test']} held-out sequences: {auroc:.4f}. Attention "
                f"from a motif's centre token to its partner's, as a multiple of the mean "
                f"attention to a background token, mean over held-out positives and heads: "
                f"{attention}. "
                f"Regenerate with: python examples/train_transformer.py"),
        },
        "schema": {
            "inputs": {
                "name": "seq",
                "shape": f"(4, {SEQ_LEN})",
                "special_type": "DNASeq",
                "doc": "One-hot encoded DNA sequence, alphabet A, C, G, T along axis 0.",
            },
            "targets": {
                "shape": "(1,)",
                "doc": f"Probability that both {motifs[0].name} and {motifs[1].name} are present.",
                "column_labels": [LABEL],
            },
        },
        "dependencies": {"pip": ["kipoiseq", "torch"]},
    }


def main(argv: list[str] | None = None) -> None:
    """Generate data, train the transformer, check its attention and write everything."""
    args = parse_args(__doc__, "tiny data and one epoch, for a fast smoke test", argv)
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    # Independent streams, so changing e.g. the test-set size leaves the
    # training data and the evaluation data unchanged.
    train_rng, test_rng, evaluation_rng, check_rng = spawn_rngs(SEED, 4)

    print(f"Loading motifs from {JASPAR_RELEASE}: "
          + ", ".join(f"{i} {n}" for i, n in MOTIFS), flush=True)
    motifs = load_motifs(MOTIFS)

    print("Writing evaluation sequences", flush=True)
    names, evaluation_codes, evaluation_sites = make_evaluation_set(motifs, evaluation_rng)
    write_evaluation_data(args.out / "data", names, evaluation_codes, evaluation_sites, motifs)

    print(f"Simulating {sizes['n_train']} training and {sizes['n_test']} held-out sequences",
          flush=True)
    train_codes, y_train, _, _ = make_labelled_set(sizes["n_train"], motifs, train_rng)
    test_codes, y_test, test_kinds, test_sites = make_labelled_set(sizes["n_test"], motifs, test_rng)
    print(f"  positive rate: {y_train.mean():.3f}", flush=True)

    print("Training PairTransformer", flush=True)
    tic = time.perf_counter()
    model = train(channels_first(train_codes), y_train, sizes["epochs"])
    print(f"  trained in {time.perf_counter() - tic:.1f} s", flush=True)
    predictions = predict_torch(model, channels_first(test_codes), batch_size=1024)
    auroc = float(roc_auc_score(y_test[:, 0], predictions[:, 0]))
    print(f"  held-out AUROC: {auroc:.4f}", flush=True)
    report_kinds(model, test_codes, test_kinds)

    positive = y_test[:, 0] == 1
    test_positive_sites = [s for s, p in zip(test_sites, positive) if p]
    attention = report_attention(model, test_codes[positive], test_positive_sites, motifs,
                              f"{int(positive.sum())} held-out positives")
    n_evaluation_positives = sum(k.n_evaluation for k in KINDS if k.label)
    evaluation_positives = (evaluation_codes[:n_evaluation_positives],
                            evaluation_sites[:n_evaluation_positives])
    report_attention(model, *evaluation_positives, motifs,
                     f"the {n_evaluation_positives} evaluation positives")
    report_interaction(model, *evaluation_positives, motifs,
                       f"the {n_evaluation_positives} evaluation positives", check_rng)
    n_check = min(MAX_INTERACTION_SEQS, int(positive.sum()))
    report_interaction(model, test_codes[positive][:n_check], test_positive_sites[:n_check],
                       motifs, f"{n_check} held-out positives", check_rng)

    model_dir = args.out / "models" / "pytorch_transformer"
    save_torch_model(model, model_dir, MODEL_SOURCE, model_yaml(motifs, sizes, auroc, attention))
    evaluation_x = channels_first(evaluation_codes)
    check_through_kipoi(model_dir, evaluation_x, predict_torch(model, evaluation_x))
    print(f"Done; outputs in {args.out}", flush=True)


if __name__ == "__main__":
    main()
