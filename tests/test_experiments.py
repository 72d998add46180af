"""In-silico experiments: marginalization and spacing equal naive implanting (strings edited
and predicted one by one), recover the biology the example models were trained on (the
planted motif moves its output more than any decoy; the transformer's motif pair acts only
together), and run the same through the command line and a server."""
import re
import subprocess
import sys

import grpc
import numpy as np
import pandas as pd
import pyfaidx
import pytest
from pyjaspar import jaspardb

import kipoi_explain as kx
from conftest import EXAMPLE_DIR
from kipoi_explain import codec
from kipoi_explain.errors import InputError
from kipoi_explain.experiments.backgrounds import genome_backgrounds, shuffled_backgrounds
from kipoi_explain.sequences import alphabet
from kipoi_explain.v2 import explain_pb2 as pb
from kipoi_explain.v2 import explain_pb2_grpc as pb_grpc

CNN = EXAMPLE_DIR / "models" / "pytorch_cnn"
KCNN = EXAMPLE_DIR / "models" / "keras_cnn"
TRANSFORMER = EXAMPLE_DIR / "models" / "pytorch_transformer"
SEQUENCES = EXAMPLE_DIR / "data" / "sequences.fa"
GENOME = EXAMPLE_DIR / "data" / "genome.fa"
PAIRS = EXAMPLE_DIR / "data" / "pair_sequences.fa"
#: Planted in the example CNNs' training data (examples/train_examples.py), by output.
PLANTED = {"CTCF": "MA0139.2", "HNF4A": "MA1494.2", "CEBPB": "MA0466.4"}
#: JASPAR motifs not planted there, and a literal sequence.
DECOYS = ["MA0035.5", "MA0143.5", "MA0148.5", "MA0079.5", "ACGTACGTACGT"]


@pytest.fixture(scope="module")
def cnn():
    return kx.load_model(CNN)


def naive(model, backgrounds, placements, output):
    """The output for each background with each ``(bases, start)`` written into its string."""
    texts = alphabet.decode(backgrounds)
    for bases, start in placements:
        texts = [t[:start] + bases + t[start + len(bases):] for t in texts]
    return model.predict(kx.from_strings(texts).onehot)[:, output]


def test_marginalize_equals_naive_implanting(cnn):
    motifs = ["MA0139.2", "ACGTTGCA"]
    result = kx.marginalize(cnn, SEQUENCES, motifs, n_backgrounds=12, target="HNF4A", seed=3)
    backgrounds = shuffled_backgrounds(kx.from_fasta(SEQUENCES).onehot, 12, 3)
    # The consensus as Biopython (behind pyjaspar) writes it.
    ctcf = str(jaspardb().fetch_motif_by_id("MA0139.2").consensus)
    assert result.sequences == [ctcf, "ACGTTGCA"]
    np.testing.assert_allclose(result.background, naive(cnn, backgrounds, [], 1), atol=1e-6)
    for k, (bases, start) in enumerate(zip(result.sequences, result.starts)):
        assert start == (200 - len(bases)) // 2
        np.testing.assert_allclose(result.implanted[k],
                                   naive(cnn, backgrounds, [(bases, start)], 1), atol=1e-6)
    table = result.table()
    np.testing.assert_allclose(table["effect"], result.effects.mean(axis=1), rtol=1e-6)
    np.testing.assert_allclose(table["sd"], result.effects.std(axis=1, ddof=1), rtol=1e-5)


@pytest.mark.parametrize("path", [CNN, KCNN], ids=["pytorch", "keras"])
def test_each_planted_motif_moves_its_output_more_than_any_decoy(path):
    model = kx.load_model(path)
    for output, planted in PLANTED.items():
        result = kx.marginalize(model, SEQUENCES, [planted, *DECOYS], n_backgrounds=40,
                                target=output)
        effects = result.table().set_index("motif")["effect"]
        own = effects.iloc[0]
        assert own > 0.2, (output, effects)
        assert own > 5 * effects.iloc[1:].abs().max(), (output, effects)


def test_genome_backgrounds_are_gc_matched_windows_of_the_genome(cnn):
    x = kx.from_fasta(SEQUENCES).onehot
    drawn, mismatch = genome_backgrounds(GENOME, x, 30, seed=2)
    genome = pyfaidx.Fasta(str(GENOME))
    text = "|".join(str(genome[name]) for name in genome.keys())
    assert all(window in text for window in alphabet.decode(drawn))
    gc = drawn[..., 1:3].sum(axis=(1, 2)) / 200
    wanted = x[np.arange(30) % len(x)][..., 1:3].sum(axis=(1, 2)) / 200
    assert np.abs(gc - wanted).mean() == pytest.approx(mismatch) and mismatch < 0.02
    assert len({w for w in alphabet.decode(drawn)}) == 30          # each window used once
    result = kx.marginalize(cnn, SEQUENCES, ["MA0139.2", *DECOYS], n_backgrounds=30,
                            genome=str(GENOME), target="CTCF")
    assert result.settings["backgrounds"] == "GC-matched windows of the genome"
    effects = result.table()["effect"]
    assert effects.iloc[0] > 5 * effects.iloc[1:].abs().max()


def test_spacing_equals_naive_implanting():
    model = kx.load_model(TRANSFORMER)
    result = kx.spacing(model, PAIRS, "MA0139.2", "MA1494.2", distances=[40, 90],
                        orientations=["+-", "-+"], n_backgrounds=6, seed=1)
    backgrounds = shuffled_backgrounds(kx.from_fasta(PAIRS).onehot, 6, 1)
    a, b = result.sequences

    def rc(bases):
        return alphabet.decode(alphabet.reverse_complement(kx.from_strings([bases]).onehot))[0]
    first = {"+": a, "-": rc(a)}
    second = {"+": b, "-": rc(b)}
    start_a = result.first_start
    assert start_a == 300 // 4 - len(a) // 2
    np.testing.assert_allclose(result.background, naive(model, backgrounds, [], 0), atol=1e-6)
    for o, orientation in enumerate(result.orientations):
        placed_a = (first[orientation[0]], start_a)
        np.testing.assert_allclose(result.first_alone[o],
                                   naive(model, backgrounds, [placed_a], 0), atol=1e-6)
        for d, distance in enumerate(result.distances):
            start_b = result.second_starts[d]
            # Centre to centre, the second motif to the right.
            assert start_b + len(b) / 2 - (start_a + len(a) / 2) == pytest.approx(distance,
                                                                                  abs=0.5)
            placed_b = (second[orientation[1]], start_b)
            np.testing.assert_allclose(result.second_alone[o, d],
                                       naive(model, backgrounds, [placed_b], 0), atol=1e-6)
            np.testing.assert_allclose(result.both[o, d],
                                       naive(model, backgrounds, [placed_a, placed_b], 0),
                                       atol=1e-6)


def test_the_transformer_motif_pair_acts_only_together():
    """The example transformer was trained to call a sequence positive only when it holds both
    CTCF and HNF4A 50-200 bp apart (examples/train_transformer.py): either motif alone barely
    moves it, both at any trained distance and orientation do, far beyond the sum."""
    model = kx.load_model(TRANSFORMER)
    result = kx.spacing(model, PAIRS, "MA0139.2", "MA1494.2", distances=range(50, 201, 25),
                        n_backgrounds=24)
    alone = np.concatenate([(result.first_alone - result.background).mean(axis=1),
                            (result.second_alone - result.background).mean(axis=2).ravel()])
    assert np.abs(alone).max() < 0.3
    cooperativity = result.cooperativity().mean(axis=2)
    assert cooperativity.shape == (4, 7)
    assert cooperativity.min() > 0.5


def spacing_rule_model(spacing: int = 30, length: int = 120, n: int = 6000, seed: int = 0):
    """A small CNN trained here on a spacing rule: positive when CTCF's and HNF4A's consensus
    lie ``spacing`` bp apart (centre to centre, CTCF first); negative for the same pair at any
    other distance from 16 to 70 bp, or one of them alone. The example transformer cannot
    serve: it has no positional encoding, so it sees the pair the same at every distance past
    its tokens' 18 bp (its curve is flat by construction, see the test above)."""
    import torch

    rng = np.random.default_rng(seed)
    db = jaspardb()
    first, second = (str(db.fetch_motif_by_id(i).consensus) for i in ("MA0139.2", "MA1494.2"))
    codes = rng.integers(0, 4, size=(n, length))
    labels = np.zeros(n, dtype=np.float32)
    wrong = np.setdiff1d(np.arange(16, 71), np.arange(spacing - 3, spacing + 4))
    for i in range(n):
        kind = i % 4
        distance = spacing if kind < 2 else int(rng.choice(wrong))
        start = int(rng.integers(5, length - distance - len(second) // 2 - len(first) // 2 - 6))
        end = start + len(first) // 2 + distance - len(second) // 2
        for bases, at in ((first, start), (second, end))[:(2 if kind < 3 else 1)]:
            codes[i, at:at + len(bases)] = ["ACGT".index(b) for b in bases]
        labels[i] = kind < 2
    x = torch.tensor(np.eye(4, dtype=np.float32)[codes].transpose(0, 2, 1))
    torch.manual_seed(seed)
    module = torch.nn.Sequential(
        torch.nn.Conv1d(4, 16, 15, padding=7), torch.nn.ReLU(), torch.nn.MaxPool1d(5),
        torch.nn.Conv1d(16, 16, 11, padding=5), torch.nn.ReLU(), torch.nn.AdaptiveMaxPool1d(1),
        torch.nn.Flatten(), torch.nn.Linear(16, 1))
    # Adam by hand: torch.optim imports torch._dynamo, which segfaults in a process where
    # TensorFlow was loaded first (as other test modules do).
    params = list(module.parameters())
    moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in params]
    y = torch.tensor(labels)[:, None]
    step = 0
    for _ in range(12):
        for batch in torch.randperm(n).split(128):
            step += 1
            module.zero_grad()
            torch.nn.functional.binary_cross_entropy_with_logits(module(x[batch]),
                                                                 y[batch]).backward()
            with torch.no_grad():
                for p, (m, v) in zip(params, moments):
                    m.mul_(0.9).add_(p.grad, alpha=0.1)
                    v.mul_(0.999).addcmul_(p.grad, p.grad, value=0.001)
                    p -= 3e-3 * (m / (1 - 0.9 ** step)) / (
                        (v / (1 - 0.999 ** step)).sqrt() + 1e-8)
    return kx.load_model(module.eval(), input_length=length)


@pytest.mark.slow
def test_the_spacing_curve_peaks_at_the_planted_spacing():
    model = spacing_rule_model()
    backgrounds = np.eye(4, dtype=np.float32)[np.random.default_rng(1).integers(0, 4, (40, 120))]
    result = kx.spacing(model, backgrounds, "MA0139.2", "MA1494.2", distances=range(16, 71),
                        orientations=["++"], n_backgrounds=20, anchor=10)
    curve = result.cooperativity().mean(axis=2)[0]
    peak = result.distances[int(np.argmax(curve))]
    assert abs(peak - 30) <= 1, dict(zip(result.distances, np.round(curve, 2)))
    far = np.abs(np.asarray(result.distances) - 30) > 5
    # On the logit: the pair at a wrong distance is what the model learned to call negative.
    assert curve.max() > 5 and (curve[far] < curve.max() / 3).all()


@pytest.mark.parametrize("call, message", [
    (lambda m: kx.marginalize(m, SEQUENCES, "MA9999.1"), "'MA9999.1': not in JASPAR"),
    (lambda m: kx.marginalize(m, SEQUENCES, "hello world"), "expected a JASPAR matrix ID"),
    (lambda m: kx.marginalize(m, SEQUENCES, "A" * 201), "longer than the model's input"),
    (lambda m: kx.marginalize(m, SEQUENCES, "ACGT", position=197), "0 <= position <= 196"),
    (lambda m: kx.marginalize(m, SEQUENCES, "ACGT", n_backgrounds=0), "n_backgrounds=0"),
    (lambda m: kx.spacing(m, SEQUENCES, "MA0139.2", "ACGT", distances=[5]),
     "distances: 5; with the first motif at 43, the motifs are apart and inside the "
     "input for 10 <= distance <= 147"),
    (lambda m: kx.spacing(m, SEQUENCES, "ACGT", "ACGT", orientations=["+x"]),
     "orientations: +x"),
])
def test_bad_experiments_are_input_errors(cnn, call, message):
    with pytest.raises(InputError, match=re.escape(message)):
        call(cnn)


def test_a_meme_file_gives_every_motif_as_its_consensus(cnn, tmp_path):
    meme = tmp_path / "two.meme"
    meme.write_text("MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n\n"
                    "MOTIF m1 first\nletter-probability matrix: alength= 4 w= 3\n"
                    "0.7 0.1 0.1 0.1\n0.1 0.1 0.7 0.1\n0.1 0.1 0.1 0.7\n\n"
                    "MOTIF m2\nletter-probability matrix: alength= 4 w= 2\n"
                    "0.1 0.7 0.1 0.1\n0.1 0.1 0.1 0.7\n")
    result = kx.marginalize(cnn, SEQUENCES, str(meme), n_backgrounds=3)
    assert result.motifs == ["m1 first", "m2"] and result.sequences == ["AGT", "CT"]


@pytest.mark.slow
def test_cli_writes_a_table_settings_and_plots(tmp_path):
    out = tmp_path / "marg"
    proc = subprocess.run([sys.executable, "-m", "kipoi_explain", "marginalize", str(CNN),
                           "--sequences", str(SEQUENCES), "--motif", "MA0139.2,ACGTACGTAC",
                           "--n-backgrounds", "8", "--target", "CTCF", "--seed", "0",
                           "-o", str(out)], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "marginalized 2 motif(s) over 8 backgrounds of 'pytorch_cnn', target CTCF" in \
        proc.stdout
    table = pd.read_csv(out / "marginalize.tsv", sep="\t")
    assert list(table["motif"]) == ["MA0139.2 CTCF", "ACGTACGTAC"]
    assert (out / "marginalize.json").is_file() and (out / "marginalize.png").stat().st_size
    spaced = tmp_path / "space"
    proc = subprocess.run([sys.executable, "-m", "kipoi_explain", "spacing", str(TRANSFORMER),
                           "--sequences", str(PAIRS), "--first", "MA0139.2", "--second",
                           "MA1494.2", "--distances", "60,120", "--orientations", "++,--",
                           "--n-backgrounds", "4", "-o", str(spaced)], capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(spaced / "spacing.tsv", sep="\t")
    assert list(zip(table["orientation"], table["distance"])) == [
        ("++", 60), ("++", 120), ("--", 60), ("--", 120)]
    assert (spaced / "spacing.png").stat().st_size


def test_a_server_runs_experiments_as_the_library_does(client, cnn, tmp_path):
    local = kx.marginalize(cnn, SEQUENCES, ["MA0139.2", "ACGTAC"], n_backgrounds=6,
                           target="CTCF")
    remote = client.marginalize("cnn", str(SEQUENCES), ["MA0139.2", "ACGTAC"],
                                n_backgrounds=6, target="CTCF")
    assert remote.motifs == local.motifs
    np.testing.assert_allclose(remote.implanted, local.implanted, atol=1e-5)
    # A MEME file is read by the client and sent as consensus sequences.
    meme = tmp_path / "one.meme"
    meme.write_text("MEME version 4\n\nALPHABET= ACGT\n\nMOTIF m1\nletter-probability matrix: "
                    "alength= 4 w= 2\n0.7 0.1 0.1 0.1\n0.1 0.1 0.7 0.1\n")
    assert client.marginalize("cnn", str(SEQUENCES), str(meme), n_backgrounds=2).sequences \
        == ["AG"]
    # Genome backgrounds come from the server's FASTA, named as the server names it.
    near = kx.marginalize(cnn, SEQUENCES, "MA0139.2", n_backgrounds=4, genome=str(GENOME))
    far = client.marginalize("cnn", str(SEQUENCES), "MA0139.2", n_backgrounds=4,
                             genome="genome")
    np.testing.assert_allclose(far.implanted, near.implanted, atol=1e-5)


@pytest.mark.slow
def test_a_server_never_reads_a_motif_file_of_its_own(server):
    request = pb.RunRequest(command="marginalize", model="cnn",
                            samples=codec.to_samples(["ACGT" * 50]),
                            options=codec.encode_entries({"motifs": ["/etc/hostname"]}))
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        with pytest.raises(grpc.RpcError) as caught:
            pb_grpc.ExplainServiceStub(channel).Run(request, timeout=60)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "never a file of its own" in caught.value.details()
