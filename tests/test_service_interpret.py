"""Attention maps and entity importance through the gRPC service: the real
:class:`kipoi_explain.client.Client` against a real server on a loopback port.

Both RPCs run the library's own :func:`kipoi_explain.attention` / :func:`kipoi_explain.entities`
alone on the device worker, so a remote result must equal the in-process one exactly (maps,
reductions, token positions, scores, completeness gaps, rankings). Refusals carry their status
code, name the offending item and end with the request ID; concurrent attention and explain
requests on the same model must not see each other's hooks.
"""
import textwrap
import threading

import grpc
import numpy as np
import pytest

import kipoi_explain as kx
from kipoi_explain import codec
from kipoi_explain.client import Client, GenomeIntervals
from kipoi_explain.results import plain
from kipoi_explain.sequences.features import read_features
from kipoi_explain.sequences.genome import read_bed
from kipoi_explain.transparent import entity_map
from kipoi_explain.v2 import explain_pb2 as pb

from conftest import (EXAMPLE_DIR, kipoi_model_yaml, make_tiny_transformer, random_onehot,
                      serve, served_locally)
from test_service import check_error, raw_stub

# Every test here talks to a server started for real: slow.
pytestmark = pytest.mark.slow

GENNET = EXAMPLE_DIR / "models" / "gennet"
CNN = EXAMPLE_DIR / "models" / "pytorch_cnn"
GENOME = EXAMPLE_DIR / "data" / "genome.fa"
REGIONS = EXAMPLE_DIR / "data" / "regions.bed"
GENOTYPES = EXAMPLE_DIR / "data" / "genotypes.tsv"
LENGTH = 100
MAX_SEQUENCES = 256
MAX_SAMPLES = 64
# Merged device batches may sum in another order than the in-process call: float32 round-off.
TOL = {"rtol": 1e-5, "atol": 1e-5}


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    """The tiny conv + transformer Kipoi model, its convolution channels declared as entities
    (so DNA input to Entities is covered)."""
    directory = make_tiny_transformer(tmp_path_factory.mktemp("tiny_transformer"), seed=7)
    (directory / "entities.yaml").write_text(textwrap.dedent("""
        levels:
          filter:
            layer: relu
            units: [f0, f1, f2, f3, f4, f5, f6, f7]
    """))
    return directory


@pytest.fixture(scope="module")
def server(tiny_dir):
    """A server with the tiny transformer, the GenNet example and the PyTorch CNN."""
    running = serve(models={"tiny": tiny_dir, "gennet": GENNET, "cnn": CNN},
                    batching={"max_sequences": MAX_SEQUENCES, "max_samples": MAX_SAMPLES})
    yield running
    running.stop(0)


@pytest.fixture(scope="module")
def local(tiny_dir):
    """The same model directories, loaded in this process."""
    return {name: served_locally(path)
            for name, path in (("tiny", tiny_dir), ("gennet", GENNET), ("cnn", CNN))}


@pytest.fixture(scope="module")
def strings():
    """Five random 100 bp DNA strings."""
    return ["".join("ACGT"[i] for i in row) for row in random_onehot(5, LENGTH, 3).argmax(-1)]


@pytest.fixture(scope="module")
def seqs(strings):
    """The five strings, named."""
    return kx.from_strings(strings, [f"s{i}" for i in range(5)])


@pytest.fixture(scope="module")
def genotypes():
    """The first 40 example samples, columns in the model's input order, and their names."""
    names = entity_map(kx.load_model(str(GENNET))).level("snp").units
    x, samples = read_features(GENOTYPES, (300,), names)
    return x[:40], samples[:40]


def same_positions(mine, theirs):
    np.testing.assert_array_equal(mine.spans, theirs.spans)
    np.testing.assert_array_equal(mine.centers, theirs.centers)      # NaN where no base
    assert mine.spans.dtype == theirs.spans.dtype and mine.centers.dtype == theirs.centers.dtype
    assert mine.source == theirs.source


def same_maps(remote, expected):
    """Every field of two AttentionMaps is identical (settings and model as JSON holds them)."""
    for field in ("maps", "reduced", "predictions", "inputs"):
        mine, theirs = getattr(remote, field), getattr(expected, field)
        assert mine.dtype == theirs.dtype, field
        np.testing.assert_array_equal(mine, theirs, err_msg=field)
    if expected.query is None:
        assert remote.query is None
    else:
        np.testing.assert_array_equal(remote.query, expected.query)
    same_positions(remote.query_positions, expected.query_positions)
    same_positions(remote.key_positions, expected.key_positions)
    assert (remote.layers, remote.heads, remote.reduce) == \
        (expected.layers, expected.heads, expected.reduce)
    assert remote.names == expected.names
    assert remote.intervals == expected.intervals
    assert remote.settings == plain(expected.settings)
    assert remote.model == plain(expected.model)


def same_importance(remote, expected):
    assert (remote.level, remote.layer, remote.method, remote.entities) == \
        (expected.level, expected.layer, expected.method, expected.entities)
    assert remote.scores.dtype == expected.scores.dtype == np.float32
    np.testing.assert_array_equal(remote.scores, expected.scores)
    np.testing.assert_array_equal(remote.predictions, expected.predictions)
    if expected.delta is None:
        assert remote.delta is None
    else:
        np.testing.assert_array_equal(remote.delta, expected.delta)
    assert remote.samples == expected.samples
    assert remote.target == plain(expected.target)
    assert remote.settings == plain(expected.settings)
    assert remote.model == plain(expected.model)
    assert remote.ranking() == expected.ranking()


# 1. ListModels --------------------------------------------------------------------------------

def test_list_models_describes_inputs_attention_layers_and_entities(client, local):
    models = {m["name"]: m for m in client.models()}
    assert list(models) == ["tiny", "gennet", "cnn"]

    gennet = models["gennet"]
    assert (gennet["input"], gennet["input_shape"], gennet["input_length"]) == \
        ("features", [300], 0)
    assert gennet["entity_levels"] == ["snp", "gene", "pathway"]
    assert gennet["input_features"] == list(entity_map(local["gennet"]).level("snp").units)
    assert gennet["attention_layers"] == []
    assert gennet["methods"] == list(kx.methods.FEATURE_METHODS)   # gennet is differentiable
    assert gennet["output_names"] == ["case"]
    assert gennet["fingerprint"] == local["gennet"].fingerprint()

    tiny = models["tiny"]
    assert (tiny["input"], tiny["input_shape"], tiny["input_length"]) == ("dna", [], LENGTH)
    assert tiny["attention_layers"] == local["tiny"].attention.attention_layers() == \
        ["block1.self_attn", "block2.self_attn"]
    assert tiny["entity_levels"] == ["filter"] and tiny["input_features"] == []

    cnn = models["cnn"]                              # the existing fields are unchanged
    assert cnn["methods"] == list(kx.METHODS)
    assert (cnn["input"], cnn["attention_layers"], cnn["entity_levels"]) == ("dna", [], [])


def test_the_service_declares_both_commands(client):
    commands = {c.name: c for c in client.commands()}
    for name, options in (("attention", {"layers", "heads", "reduce", "query"}),
                          ("entities", {"level", "method", "target", "mapping"})):
        assert options <= {p.name for p in commands[name].params}
        assert commands[name].samples == "required"
    method = pb.DESCRIPTOR.services_by_name["ExplainService"].methods_by_name["Run"]
    assert not method.client_streaming and not method.server_streaming


# 2. Attention: remote equals in-process -------------------------------------------------------

ATTENTION_CASES = [
    # reduce, layers, heads, query
    (None, None, None, None),
    (None, "block1.self_attn", 1, None),
    ("heads", [-1], None, 50),
    ("layers", None, [1, 0], np.array([5, 20, 50, 70, 99])),
    ("mean", ["block2.self_attn", 0], None, [0, 9, 10, 55, 99]),
    ("rollout", None, None, np.int64(42)),
]


@pytest.mark.parametrize("reduce, layers, heads, query", ATTENTION_CASES)
def test_attention_equals_in_process(client, local, seqs, reduce, layers, heads, query):
    expected = kx.attention(local["tiny"], seqs, layers, heads, reduce, query)
    remote = client.attention("tiny", seqs, layers, heads, reduce, query)
    same_maps(remote, expected)
    assert remote.maps.shape[:3] == (5, len(expected.layers), len(expected.heads))
    if query is not None:
        assert remote.reduced.shape[-1] == remote.maps.shape[-1]   # one row per sequence


def test_attention_of_strings_and_fasta_equals_in_process(client, local, strings, tmp_path):
    fasta = tmp_path / "tiny.fa"
    fasta.write_text("".join(f">r{i}\n{s}\n" for i, s in enumerate(strings)))
    same_maps(client.attention("tiny", str(fasta), reduce="mean"),
              kx.attention(local["tiny"], str(fasta), reduce="mean"))
    with_n = [s[:40] + "NNNN" + s[44:] for s in strings[:2]]
    same_maps(client.attention("tiny", with_n, ambiguous="zeros"),
              kx.attention(local["tiny"], with_n, ambiguous="zeros"))


def test_attention_on_intervals_read_by_the_server(client, local):
    intervals = read_bed(REGIONS)[:4]
    expected = kx.attention(local["tiny"], kx.from_bed(intervals, GENOME, LENGTH),
                            reduce="rollout", query=50)
    remote = client.attention("tiny", GenomeIntervals("genome", intervals), reduce="rollout",
                              query=50)
    same_maps(remote, expected)
    # Nothing local to copy them from: these are the server's intervals, genome spans and all.
    assert remote.intervals == expected.intervals and len(remote.intervals) == 4
    np.testing.assert_array_equal(remote.genome_spans(2), expected.genome_spans(2))


def test_token_positions_without_bases_survive_the_wire(client, seqs):
    """A key no base reaches (a learnt bias key) has span -1 and a NaN centre: float64 and NaN
    travel unchanged."""
    maps = client.attention("tiny", seqs, reduce="mean")
    positions = maps.key_positions
    positions.spans = np.concatenate([positions.spans, [[-1, -1]]])
    positions.centers = np.concatenate([positions.centers, [np.nan]])
    back = codec.decode(codec.encode(maps))
    same_positions(back.key_positions, positions)
    assert np.isnan(back.key_positions.centers[-1])


# 3. Entities: remote equals in-process --------------------------------------------------------

ENTITY_CASES = [
    # level, method, target, options
    ("gene", "integrated_gradients", 0, {"n_steps": 8}),
    ("pathway", "integrated_gradients", "case",
     {"baseline": "mean", "n_steps": 6, "quadrature_rule": "riemann_trapezoid"}),
    ("snp", "integrated_gradients", "all", {"baseline": 1.0, "n_steps": 4}),
    ("gene", "grad_x_activation", 0, {}),
    ("snp", "grad_x_activation", "all", {"reduce": "mean"}),
    ("gene", "ablation", 0, {"fill": "mean"}),
    ("pathway", "ablation", "case", {"fill": np.full(6, 0.25, dtype=np.float32)}),
    ("snp", "ablation", 0, {"fill": 1.0}),
]


@pytest.mark.parametrize("level, method, target, options", ENTITY_CASES)
def test_entities_equal_in_process(client, local, genotypes, level, method, target, options):
    x, _ = genotypes
    expected = kx.entities(local["gennet"], x, level, method, target=target, **options)
    remote = client.entities("gennet", x, level, method, target=target, **options)
    same_importance(remote, expected)
    assert remote.samples == [f"sample{i}" for i in range(len(x))]
    assert (remote.delta is not None) == (method == "integrated_gradients")


def test_entities_from_a_table_read_by_the_client(client, local, tmp_path):
    """A TSV is read here with the model's input order; a table whose columns come in another
    order gives the same scores, and the sample names come along."""
    expected = kx.entities(local["gennet"], str(GENOTYPES), "gene", n_steps=8)
    remote = client.entities("gennet", str(GENOTYPES), "gene", n_steps=8)
    same_importance(remote, expected)
    assert remote.samples[:2] == ["S0001", "S0002"] and len(remote.samples) == 200
    assert remote.ranking()[0] == "GENE07"             # the example's causal gene

    import pandas as pd

    table = pd.read_csv(GENOTYPES, sep="\t", index_col=0)
    shuffled = tmp_path / "shuffled.tsv"
    table[table.columns[::-1]].to_csv(shuffled, sep="\t")
    reordered = client.entities("gennet", str(shuffled), "gene", n_steps=8)
    np.testing.assert_array_equal(reordered.scores, expected.scores)



def test_entities_from_npy_with_sample_names(client, local, genotypes, tmp_path):
    npy = tmp_path / "genotypes.npy"
    np.save(npy, genotypes[0][:10])
    expected = kx.entities(local["gennet"], str(npy), "pathway", "ablation")
    remote = client.entities("gennet", str(npy), "pathway", "ablation")
    same_importance(remote, expected)
    named = client.entities("gennet", str(npy), "pathway", "ablation", samples=genotypes[1][:10])
    np.testing.assert_array_equal(named.scores, expected.scores)
    assert named.samples == genotypes[1][:10] != expected.samples


@pytest.mark.parametrize("method, options", [("grad_x_activation", {}),
                                             ("integrated_gradients", {"n_steps": 4}),
                                             ("ablation", {"fill": "zeros"})])
def test_entities_of_a_dna_model_from_sequences(client, local, seqs, method, options):
    expected = kx.entities(local["tiny"], seqs, "filter", method, target="right", **options)
    remote = client.entities("tiny", seqs, "filter", method, target="right", **options)
    same_importance(remote, expected)
    assert remote.samples == seqs.names
    renamed = client.entities("tiny", seqs.onehot, "filter", method, target="right",
                              samples=list("abcde"), **options)
    np.testing.assert_array_equal(renamed.scores, expected.scores)
    assert renamed.samples == list("abcde")


# 4. Error codes -------------------------------------------------------------------------------

@pytest.mark.parametrize("model, options, code, named", [
    ("tiny", {"layers": "nope"}, "INVALID_ARGUMENT", ["'nope'", "block1.self_attn"]),
    ("tiny", {"layers": [5]}, "INVALID_ARGUMENT", ["index 5", "2 attention layers"]),
    ("tiny", {"heads": [3]}, "INVALID_ARGUMENT", ["heads=[3]", "0 to 1"]),
    ("tiny", {"reduce": "max"}, "INVALID_ARGUMENT", ["reduce='max'", "rollout"]),
    ("tiny", {"query": 100}, "INVALID_ARGUMENT", ["query position 100", "0 to 99"]),
    ("tiny", {"query": [1, 2]}, "INVALID_ARGUMENT", ["query=[1, 2]", "5 integers"]),
    ("cnn", {}, "FAILED_PRECONDITION", ["'cnn'", "no attention layers"]),
    ("gennet", {}, "INVALID_ARGUMENT", ["'gennet'", "features of shape (300,)"]),
    ("enformer", {}, "NOT_FOUND", ["'enformer'"]),
])
def test_bad_attention_requests(client, seqs, model, options, code, named):
    onehot = seqs.onehot if model != "cnn" else random_onehot(5, 200)
    with pytest.raises(grpc.RpcError) as caught:
        client.attention(model, onehot, **options)
    check_error(caught.value, getattr(grpc.StatusCode, code), *named)


@pytest.mark.parametrize("level, method, options, code, named", [
    ("tissue", "ablation", {}, "INVALID_ARGUMENT", ["'tissue'", "snp, gene, pathway"]),
    ("gene", "shap", {}, "INVALID_ARGUMENT", ["'shap'", "grad_x_activation"]),
    ("gene", "ablation", {"n_steps": 4}, "INVALID_ARGUMENT", ["n_steps", "'ablation'"]),
    ("gene", "ablation", {"fill": "median"}, "INVALID_ARGUMENT", ["fill='median'"]),
    ("gene", "integrated_gradients", {"baseline": np.zeros(7, np.float32)},
     "INVALID_ARGUMENT", ["baseline", "(7,)"]),
    ("gene", "ablation", {"target": "control"}, "INVALID_ARGUMENT", ["control"]),
    ("gene", "ablation", {"mapping": "/etc/entities.yaml"}, "INVALID_ARGUMENT",
     ["mapping", "entities.yaml"]),
    ("gene", "ablation", {"batch_size": 4}, "INVALID_ARGUMENT", ["batch_size", "server"]),
    ("gene", "integrated_gradients", {"n_steps": MAX_SAMPLES + 1}, "INVALID_ARGUMENT",
     [f"n_steps={MAX_SAMPLES + 1}", "max_samples"]),
])
def test_bad_entities_requests(client, genotypes, level, method, options, code, named):
    with pytest.raises(grpc.RpcError) as caught:
        client.entities("gennet", genotypes[0][:3], level, method, **options)
    check_error(caught.value, getattr(grpc.StatusCode, code), *named)


def test_entities_of_a_model_without_entities_is_failed_precondition(client):
    with pytest.raises(grpc.RpcError) as caught:
        client.entities("cnn", random_onehot(2, 200), "gene")
    check_error(caught.value, grpc.StatusCode.FAILED_PRECONDITION, "'cnn'", "no entities")
    with pytest.raises(grpc.RpcError) as caught:
        client.entities("basenji", random_onehot(2, 200), "gene")
    check_error(caught.value, grpc.StatusCode.NOT_FOUND, "'basenji'")


def test_samples_of_the_wrong_kind_are_invalid_argument(server, seqs, genotypes):
    """Features for a DNA model, sequences for a model of features, and malformed features:
    requests the Client never builds, sent on a bare stub."""
    features = codec.feature_samples(genotypes[0][:2])
    onehot = codec.to_samples(seqs.onehot[:2])

    def request(model, level, samples=None, names=()):
        message = pb.RunRequest(command="entities", model=model,
                                options=codec.encode_entries({"level": level}))
        if samples is not None:
            message.samples.CopyFrom(samples)
            message.samples.names.extend(names)
        return message

    cases = [
        (request("tiny", "filter", features), ["features", "'tiny'", "one-hot DNA"]),
        (request("gennet", "gene", onehot), ["sequences", "'gennet'", "features of shape (300,)"]),
        (request("gennet", "gene"), ["samples", "send features"]),
        (request("gennet", "gene", codec.feature_samples(genotypes[0][:2, :299])), ["(299,)"]),
        (request("gennet", "gene", features, ["a", "b", "c"]), ["samples.names", "3 names", "2"]),
        (request("tiny", "filter", onehot, ["a", "b", "c"]),
         ["samples.names", "3 names", "2 sequences"]),
        (request("gennet", "gene", pb.Samples(features=pb.Array(shape=[2, 300], data=bytes(12)))),
         ["features", "12 bytes"]),
    ]
    channel, stub = raw_stub(server.port)
    with channel:
        for message, named in cases:
            with pytest.raises(grpc.RpcError) as caught:
                stub.Run(message, timeout=30)
            check_error(caught.value, grpc.StatusCode.INVALID_ARGUMENT, *named)


def test_other_rpcs_refuse_a_model_of_features(client, strings):
    with pytest.raises(grpc.RpcError) as caught:
        client.explain("gennet", strings[:2], "saliency")
    check_error(caught.value, grpc.StatusCode.INVALID_ARGUMENT, "explain", "'gennet'",
                "features of shape (300,)")
    with pytest.raises(grpc.RpcError) as caught:
        client.predict("gennet", strings[:2])
    check_error(caught.value, grpc.StatusCode.INVALID_ARGUMENT, "'gennet'", "(N, 300)")


def test_too_many_sequences_or_samples_are_resource_exhausted(client, genotypes):
    n = MAX_SEQUENCES + 1
    with pytest.raises(grpc.RpcError) as caught:
        client.attention("tiny", random_onehot(n, LENGTH))
    check_error(caught.value, grpc.StatusCode.RESOURCE_EXHAUSTED, f"{n} sequences",
                "max_sequences")
    with pytest.raises(grpc.RpcError) as caught:
        client.entities("gennet", np.zeros((n, 300), np.float32), "gene")
    check_error(caught.value, grpc.StatusCode.RESOURCE_EXHAUSTED, f"{n} samples",
                "max_sequences")
    with pytest.raises(grpc.RpcError) as caught:
        client.entities("tiny", random_onehot(n, LENGTH), "filter")
    check_error(caught.value, grpc.StatusCode.RESOURCE_EXHAUSTED, f"{n} samples")


def test_maps_larger_than_a_message_are_resource_exhausted(tiny_dir, local, seqs):
    """Maps the server could not send are refused with advice, not a transport failure; a
    smaller request still answers."""
    running = serve(models={"tiny": tiny_dir}, max_message_mb=0.02)
    try:
        with Client(f"127.0.0.1:{running.port}", timeout=60) as small:
            with pytest.raises(grpc.RpcError) as caught:
                small.attention("tiny", random_onehot(8, LENGTH))
            check_error(caught.value, grpc.StatusCode.RESOURCE_EXHAUSTED, "MiB",
                        "max_message_mb", "fewer sequences, layers or heads")
            same_maps(small.attention("tiny", seqs.onehot[:2], heads=0),
                      kx.attention(local["tiny"], seqs.onehot[:2], heads=0))
    finally:
        running.stop(0)


# 5. Concurrency -------------------------------------------------------------------------------

def test_concurrent_attention_and_explain_requests_are_exact(server, local, seqs):
    """Attention hooks the shared attention layers and turns torch's fused attention off while
    it runs; explain requests on the same model at the same time must neither hit those hooks
    nor fail, and every answer equals its in-process result."""
    x = random_onehot(12, LENGTH, seed=11)
    jobs = []
    for reduce in (None, "mean", "rollout"):
        jobs.append(("attention", reduce, kx.attention(local["tiny"], x, reduce=reduce)))
    for method in ("saliency", "grad_x_input", "ism"):
        jobs.append(("explain", method, kx.explain(local["tiny"], x, method, target="left")))
    jobs.append(("entities", "filter", kx.entities(local["tiny"], x, "filter",
                                                   "grad_x_activation")))
    failures, barrier = [], threading.Barrier(len(jobs))

    def run(kind, what, expected):
        try:
            with Client(f"127.0.0.1:{server.port}", timeout=120) as own:
                barrier.wait(30)
                for _ in range(2):
                    if kind == "attention":
                        same_maps(own.attention("tiny", x, reduce=what), expected)
                    elif kind == "entities":
                        same_importance(own.entities("tiny", x, what, "grad_x_activation"),
                                        expected)
                    else:
                        remote = own.explain("tiny", x, what, target="left")
                        np.testing.assert_allclose(remote.scores, expected.scores, **TOL)
        except Exception as err:  # noqa: BLE001 - reported below with the job that failed
            failures.append((kind, what, repr(err)))

    threads = [threading.Thread(target=run, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_keras_attention_equals_in_process(tmp_path, seqs):
    import keras

    keras.utils.set_random_seed(5)
    inputs = keras.Input((LENGTH, 4))
    tokens = keras.layers.MaxPooling1D(10)(
        keras.layers.Conv1D(8, 9, padding="same", activation="relu")(inputs))
    attended = keras.layers.MultiHeadAttention(2, 4, name="mha")(tokens, tokens)
    pooled = keras.layers.GlobalAveragePooling1D()(keras.layers.Add()([tokens, attended]))
    outputs = keras.layers.Dense(2, activation="sigmoid")(pooled)
    keras.Model(inputs, outputs).save(tmp_path / "model.keras")
    (tmp_path / "model.yaml").write_text(kipoi_model_yaml(
        "kipoi.model.KerasModel", {"weights": "model.keras"}, (LENGTH, 4), 1,
        ["left", "right"], "Untrained Keras conv + MultiHeadAttention for service tests."))

    running = serve(models={"kmha": tmp_path})
    try:
        with Client(f"127.0.0.1:{running.port}", timeout=120) as remote:
            assert remote.models()[0]["attention_layers"] == ["mha"]
            model = served_locally(tmp_path)
            for reduce, query in ((None, None), ("heads", 30)):
                same_maps(remote.attention("kmha", seqs, reduce=reduce, query=query),
                          kx.attention(model, seqs, reduce=reduce, query=query))
    finally:
        running.stop(0)
