"""Region screens, insertion screens and explanations of models of features through the gRPC
service: the real :class:`kipoi_explain.client.Client` against a real server on a loopback port.

A screen's perturbed rows run through the model's forward pass on the device worker (merged
with other requests' calls), an explanation of features through its gradient primitives; each
remote result must equal the in-process one exactly. Deleted windows are filled from a FASTA of
the server, named, for intervals the server reads; refusals carry their status code, name the
offending item and end with the request ID.
"""
import grpc
import numpy as np
import pytest

import kipoi_explain as kx
from kipoi_explain import codec
from kipoi_explain.client import Client, GenomeIntervals
from kipoi_explain.methods import FEATURE_METHODS
from kipoi_explain.results import plain
from kipoi_explain.sequences.genome import read_bed
from kipoi_explain.v2 import explain_pb2 as pb

from conftest import EXAMPLE_DIR, random_onehot, serve, served_locally
from test_service import check_error, raw_stub

# Every test here talks to a server started for real: slow.
pytestmark = pytest.mark.slow

CNN = EXAMPLE_DIR / "models" / "pytorch_cnn"
GENNET = EXAMPLE_DIR / "models" / "gennet"
GENOME = EXAMPLE_DIR / "data" / "genome.fa"
REGIONS = EXAMPLE_DIR / "data" / "regions.bed"
GENOTYPES = EXAMPLE_DIR / "data" / "genotypes.tsv"
LENGTH = 200
MAX_SEQUENCES = 16
MAX_SAMPLES = 8


@pytest.fixture(scope="module")
def server():
    """A server with the PyTorch CNN, the GenNet example and the example genome."""
    running = serve(models={"cnn": CNN, "gennet": GENNET},
                    batching={"max_sequences": MAX_SEQUENCES, "max_samples": MAX_SAMPLES})
    yield running
    running.stop(0)


@pytest.fixture(scope="module")
def local():
    return {"cnn": served_locally(CNN), "gennet": served_locally(GENNET)}


@pytest.fixture(scope="module")
def intervals():
    """Four example regions, two on the minus strand (read reverse-complemented), so the
    genome fill of a deletion runs both ways."""
    from dataclasses import replace

    found = read_bed(REGIONS)[:4]
    return found[:2] + [replace(interval, strand="-") for interval in found[2:]]


@pytest.fixture(scope="module")
def seqs(intervals):
    """The four regions, read here: their intervals stay local, the one-hot goes."""
    return kx.from_bed(intervals, GENOME, LENGTH)


def same_screen(remote, expected):
    """Every field of two Screens is identical (settings and model as JSON holds them)."""
    for field in ("effects", "perturbed", "starts", "ends", "reference", "predictions"):
        mine, theirs = getattr(remote, field), getattr(expected, field)
        assert mine.dtype == theirs.dtype, field
        np.testing.assert_array_equal(mine, theirs, err_msg=field)
    assert remote.perturbation == expected.perturbation
    assert remote.names == expected.names
    assert remote.intervals == expected.intervals
    assert remote.target == plain(expected.target)
    assert remote.settings == plain(expected.settings)
    assert remote.model == plain(expected.model)
    assert remote.table().equals(expected.table())


def same_attribution(remote, expected):
    for field in ("scores", "inputs", "predictions"):
        mine, theirs = getattr(remote, field), getattr(expected, field)
        assert mine.dtype == theirs.dtype, field
        np.testing.assert_array_equal(mine, theirs, err_msg=field)
    if expected.delta is None:
        assert remote.delta is None
    else:
        np.testing.assert_array_equal(remote.delta, expected.delta)
    assert remote.hypothetical is None and expected.hypothetical is None
    assert (remote.method, remote.names) == (expected.method, expected.names)
    assert remote.target == plain(expected.target)
    assert remote.settings == plain(expected.settings)
    assert remote.model == plain(expected.model)


def test_the_service_declares_screen_and_lists_feature_methods(client, local):
    commands = {c.name: c for c in client.commands()}
    assert {"window", "perturbation", "n_shuffles", "genome"} <= \
        {p.name for p in commands["screen"].params}
    assert {"sequence", "positions", "mode"} <= {p.name for p in commands["insertion"].params}
    models = {m["name"]: m for m in client.models()}
    assert models["gennet"]["methods"] == list(FEATURE_METHODS)
    assert models["cnn"]["methods"] == list(kx.METHODS)


# 1. Window screens: remote equals in-process ----------------------------------------------

SCREEN_CASES = [
    # perturbation, options
    ("shuffle", {"window": 40, "stride": 20, "n_shuffles": 3, "seed": 5, "target": "CTCF"}),
    ("random", {"window": 25, "n_shuffles": 2, "seed": 1, "target": [0, 2], "reduce": "mean"}),
    ("mask", {"window": 30, "stride": 10, "start": 50, "end": 150, "target": "all"}),
    ("delete", {"window": 20, "stride": 15, "target": "HNF4A"}),
]


@pytest.mark.parametrize("perturbation, options", SCREEN_CASES)
def test_screen_equals_in_process(client, local, seqs, perturbation, options):
    expected = kx.screen(local["cnn"], seqs, perturbation=perturbation, **options)
    remote = client.screen("cnn", seqs, perturbation=perturbation, **options)
    same_screen(remote, expected)
    assert remote.intervals == seqs.intervals          # kept locally, not sent
    assert remote.effects.shape == (4, len(expected.starts))


def test_deletion_filled_from_the_servers_fasta(client, local, intervals):
    """``genome`` names the server's FASTA: the server reads the intervals and the bases after
    them there (reverse-complemented on the minus strand), as in-process with the same file."""
    expected = kx.screen(local["cnn"], kx.from_bed(intervals, GENOME, LENGTH, use_strand=True),
                         window=30, stride=25, perturbation="delete", genome=GENOME,
                         target="CTCF")
    remote = client.screen("cnn", GenomeIntervals("genome", intervals, use_strand=True),
                           window=30, stride=25, perturbation="delete", genome="genome",
                           target="CTCF")
    same_screen(remote, expected)
    assert [i.reverse for i in remote.intervals] == [False, False, True, True]
    # The fill is the genome's, not N: the last window's deletion differs from an N fill.
    unfilled = client.screen("cnn", GenomeIntervals("genome", intervals, use_strand=True),
                             window=30, stride=25, perturbation="delete", target="CTCF")
    assert not np.array_equal(unfilled.effects[:, -1], remote.effects[:, -1])
    np.testing.assert_array_equal(unfilled.reference, remote.reference)


# 2. Insertion screens -------------------------------------------------------------------------

@pytest.mark.parametrize("mode, options", [
    ("replace", {"positions": [0, 37, 100, 186]}),
    ("replace", {"positions": np.array([5, 90]), "target": "all", "reduce": "mean"}),
    ("insert", {"stride": 23, "target": "CTCF"}),
    ("insert", {"positions": 60}),
])
def test_insertion_equals_in_process(client, local, seqs, mode, options):
    element = "CCGCGNGGNGGCAG"                                  # CTCF consensus, with Ns
    expected = kx.insertion(local["cnn"], seqs, element, mode=mode, **options)
    remote = client.insertion("cnn", seqs, element, mode=mode, **options)
    same_screen(remote, expected)
    assert remote.perturbation == mode
    assert (remote.ends - remote.starts == len(element)).all()


def test_screen_of_strings_with_ambiguous_bases(client, local):
    strings = ["".join("ACGT"[i] for i in row) for row in random_onehot(3, LENGTH, 4).argmax(-1)]
    strings = [s[:90] + "NNNNN" + s[95:] for s in strings]
    for ambiguous in ("uniform", "zeros"):
        same_screen(client.screen("cnn", strings, window=50, ambiguous=ambiguous),
                    kx.screen(local["cnn"], strings, window=50, ambiguous=ambiguous))


# 3. Explanations of a model of features --------------------------------------------------

@pytest.fixture(scope="module")
def genotypes():
    """The first six example samples, columns in the model's input order."""
    from kipoi_explain.sequences.features import read_features
    from kipoi_explain.transparent import entity_map

    names = entity_map(kx.load_model(str(GENNET))).level("snp").units
    return read_features(GENOTYPES, (300,), names)[0][:6]


@pytest.mark.parametrize("method, options", [
    ("saliency", {"absolute": True}),
    ("grad_x_input", {}),
    ("smoothgrad", {"n_samples": 4, "noise": 0.2, "seed": 3}),
    ("integrated_gradients", {"n_steps": 8, "baseline": "mean"}),
    ("occlusion", {"window": 10, "stride": 5}),
])
def test_feature_explain_equals_in_process(client, local, genotypes, method, options):
    expected = kx.explain(local["gennet"], genotypes, method, target="case", **options)
    remote = client.explain("gennet", genotypes, method, target="case", **options)
    same_attribution(remote, expected)
    assert remote.scores.shape == (6, 300)
    assert remote.names == [f"sample{i}" for i in range(6)]


def test_feature_explain_reads_a_table_and_npy_here(client, local, genotypes, tmp_path):
    """A table is read here, its columns put in the model's input order (these come
    reversed), its first column naming the samples."""
    import pandas as pd

    table = pd.read_csv(GENOTYPES, sep="\t", index_col=0).iloc[:10]
    reversed_columns = tmp_path / "g.tsv"
    table[table.columns[::-1]].to_csv(reversed_columns, sep="\t")
    expected = kx.explain(local["gennet"], str(reversed_columns), "grad_x_input")
    remote = client.explain("gennet", str(reversed_columns), "grad_x_input")
    same_attribution(remote, expected)
    assert remote.names[:2] == ["S0001", "S0002"] and remote.scores.shape == (10, 300)
    np.testing.assert_array_equal(remote.inputs[:6], genotypes)
    npy = tmp_path / "g.npy"
    np.save(npy, genotypes)
    named = client.explain("gennet", str(npy), "saliency", samples=list("abcdef"))
    np.testing.assert_array_equal(named.scores,
                                  kx.explain(local["gennet"], genotypes, "saliency").scores)
    assert named.names == list("abcdef")


# 4. Error codes -------------------------------------------------------------------------------

@pytest.mark.parametrize("options, code, named", [
    ({"perturbation": "invert"}, "INVALID_ARGUMENT", ["'invert'", "shuffle, random"]),
    ({"window": 500}, "INVALID_ARGUMENT", ["window=500"]),
    ({"perturbation": "mask", "n_shuffles": 2}, "INVALID_ARGUMENT", ["n_shuffles=2"]),
    ({"n_shuffles": MAX_SAMPLES + 1}, "INVALID_ARGUMENT",
     [f"n_shuffles={MAX_SAMPLES + 1}", "max_samples"]),
    ({"target": "NOPE"}, "INVALID_ARGUMENT", ["'NOPE'"]),
    ({"batch_size": 4}, "INVALID_ARGUMENT", ["batch_size", "server"]),
    ({"positions": [3]}, "INVALID_ARGUMENT", ["positions", "a window screen"]),
    ({"perturbation": "delete", "genome": "hg19"}, "NOT_FOUND", ["genome 'hg19'", "not a FASTA"]),
    ({"perturbation": "delete", "genome": str(GENOME)}, "NOT_FOUND", [f"genome {str(GENOME)!r}"]),
    ({"perturbation": "delete", "genome": "genome"}, "INVALID_ARGUMENT",
     ["genome", "no genomic intervals"]),
    ({"perturbation": "mask", "genome": "genome"}, "INVALID_ARGUMENT",
     ["genome", "'mask' takes no genome"]),
])
def test_bad_screen_requests(client, seqs, options, code, named):
    with pytest.raises(grpc.RpcError) as caught:
        client.screen("cnn", seqs, **options)
    check_error(caught.value, getattr(grpc.StatusCode, code), *named)


@pytest.mark.parametrize("sequence, options, named", [
    ("ACGT", {"mode": "paste"}, ["mode 'paste'", "replace, insert"]),
    ("ACGT", {"positions": [197]}, ["positions: 197 out of range"]),
    ("A" * 201, {}, ["201 bases", "200"]),
    ("ACGT", {"window": 4}, ["window", "an insertion screen"]),
])
def test_bad_insertion_requests(client, seqs, sequence, options, named):
    with pytest.raises(grpc.RpcError) as caught:
        client.insertion("cnn", seqs, sequence, **options)
    check_error(caught.value, grpc.StatusCode.INVALID_ARGUMENT, *named)


def test_bad_requests_on_a_bare_stub(server, seqs, genotypes):
    """Requests the Client never builds: a genome with an insertion, a screen of a model of
    features, features for a DNA model, sample names with sequences."""
    onehot = codec.to_samples(seqs.onehot[:2])
    features = codec.feature_samples(genotypes[:2])

    def request(command, model, samples, names=(), **options):
        message = pb.RunRequest(command=command, model=model,
                                options=codec.encode_entries(options))
        message.samples.CopyFrom(samples)
        message.samples.names.extend(names)
        return message

    cases = [
        (request("insertion", "cnn", onehot, sequence="ACGT", genome="genome"),
         ["genome", "insertion"]),
        (request("screen", "gennet", onehot), ["'gennet'", "a region screen"]),
        (request("explain", "cnn", features, method="saliency"),
         ["explain", "features", "'cnn'", "one-hot DNA"]),
        (request("explain", "gennet", features, ["a"], method="saliency"),
         ["samples.names", "1 names", "2"]),
        (request("explain", "cnn", onehot, ["a", "b", "c"], method="saliency"),
         ["samples.names", "3 names", "2 sequences"]),
        (request("explain", "gennet", codec.feature_samples(genotypes[:2, :299]),
                 method="saliency"), ["(299,)"]),
    ]
    channel, stub = raw_stub(server.port)
    with channel:
        for message, named in cases:
            with pytest.raises(grpc.RpcError) as caught:
                stub.Run(message, timeout=30)
            check_error(caught.value, grpc.StatusCode.INVALID_ARGUMENT, *named)


def test_feature_explain_refuses_dna_methods_and_too_many_samples(client, genotypes):
    with pytest.raises(grpc.RpcError) as caught:
        client.explain("gennet", genotypes, "deepshap")
    check_error(caught.value, grpc.StatusCode.INVALID_ARGUMENT, "'deepshap'",
                "integrated_gradients")
    with pytest.raises(grpc.RpcError) as caught:
        client.explain("gennet", genotypes, "integrated_gradients", n_steps=MAX_SAMPLES + 1)
    check_error(caught.value, grpc.StatusCode.INVALID_ARGUMENT, "max_samples")
    n = MAX_SEQUENCES + 1
    with pytest.raises(grpc.RpcError) as caught:
        client.explain("gennet", np.zeros((n, 300), np.float32), "saliency")
    check_error(caught.value, grpc.StatusCode.RESOURCE_EXHAUSTED, f"{n} samples",
                "max_sequences")


def test_too_many_sequences_are_resource_exhausted(client):
    n = MAX_SEQUENCES + 1
    for call in (lambda x: client.screen("cnn", x), lambda x: client.insertion("cnn", x, "ACG")):
        with pytest.raises(grpc.RpcError) as caught:
            call(random_onehot(n, LENGTH))
        check_error(caught.value, grpc.StatusCode.RESOURCE_EXHAUSTED, f"{n} sequences",
                    "max_sequences")


# 5. Concurrency -------------------------------------------------------------------------------

def test_concurrent_screens_and_explanations_are_exact(server, local, seqs, genotypes):
    """Screens run the model's forward pass through the device worker, merged with other
    requests' calls; every answer still equals its in-process result (merged batches may sum
    in another order: float32 round-off)."""
    import threading

    jobs = [
        ("screen", {"window": 20, "n_shuffles": 2, "seed": 9},
         kx.screen(local["cnn"], seqs, window=20, n_shuffles=2, seed=9)),
        ("screen", {"window": 10, "perturbation": "mask", "target": "all"},
         kx.screen(local["cnn"], seqs, window=10, perturbation="mask", target="all")),
        ("insertion", {"sequence": "TGACGTCA", "stride": 4},
         kx.insertion(local["cnn"], seqs, "TGACGTCA", stride=4)),
        ("explain", {"method": "integrated_gradients", "n_steps": 8},
         kx.explain(local["gennet"], genotypes, "integrated_gradients", n_steps=8)),
    ]
    failures, barrier = [], threading.Barrier(len(jobs))

    def run(kind, options, expected):
        try:
            with Client(f"127.0.0.1:{server.port}", timeout=120) as own:
                barrier.wait(30)
                if kind == "explain":
                    remote = own.explain("gennet", genotypes, **options)
                    np.testing.assert_allclose(remote.scores, expected.scores, rtol=1e-5,
                                               atol=1e-6)
                    return
                remote = getattr(own, kind)("cnn", seqs, **options)
                np.testing.assert_allclose(remote.effects, expected.effects, rtol=1e-5,
                                           atol=1e-6)
                np.testing.assert_array_equal(remote.starts, expected.starts)
        except Exception as err:  # noqa: BLE001 - reported below with the job that failed
            failures.append((kind, repr(err)))

    threads = [threading.Thread(target=run, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
