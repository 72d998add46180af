"""The gRPC service end to end: the real :class:`kipoi_explain.client.Client` against a real
server on a loopback port.

Remote results must equal what the in-process API returns for the same model and inputs; every
refusal must carry its status code, name the offending item and end with the request ID the
trailing metadata carries; health checking, reflection, auth and ListModels must answer.
"""
import threading
from contextlib import contextmanager

import grpc
import numpy as np
import pysam
import pytest
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import \
    ProtoReflectionDescriptorDatabase

import kipoi_explain as kx
from kipoi_explain import codec
from kipoi_explain.client import Client, GenomeIntervals
from kipoi_explain.sequences.genome import read_bed, read_fasta
from kipoi_explain.v2 import explain_pb2 as pb
from kipoi_explain.v2 import explain_pb2_grpc as pb_grpc
from kipoi_explain.variants import score_variants
from kipoi_explain.variants.alleles import VariantRecord

from conftest import EXAMPLE_DIR, other, serve, served_locally

# Every test here talks to a server started for real: slow.
pytestmark = pytest.mark.slow

MODEL_DIRS = {"cnn": EXAMPLE_DIR / "models" / "pytorch_cnn",
              "kcnn": EXAMPLE_DIR / "models" / "keras_cnn"}
GENOME = EXAMPLE_DIR / "data" / "genome.fa"
REGIONS = EXAMPLE_DIR / "data" / "regions.bed"
SEQUENCES = EXAMPLE_DIR / "data" / "sequences.fa"
SERVICE = "kipoi_explain.v2.ExplainService"
OUTPUTS = ["CTCF", "HNF4A", "CEBPB"]
# Merged device batches may sum in another order than the in-process call: float32 round-off.
TOL = {"rtol": 1e-5, "atol": 1e-5}


@pytest.fixture(scope="module")
def local():
    """The same Kipoi model directories the server serves, loaded in this process."""
    return {name: served_locally(path) for name, path in MODEL_DIRS.items()}


@pytest.fixture(scope="module")
def strings():
    """The first six example sequences as (names, DNA strings)."""
    names, seqs = read_fasta(SEQUENCES)
    return names[:6], seqs[:6]


@contextmanager
def running(**settings):
    """An extra server with only the PyTorch model (cheap to start), always stopped."""
    started = serve(models={"cnn": MODEL_DIRS["cnn"]}, **settings)
    try:
        yield started
    finally:
        started.stop(0)


def raw_stub(port):
    """A bare stub, for requests the Client would never build."""
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    return channel, pb_grpc.ExplainServiceStub(channel)


def check_error(err, code, *named):
    """``err`` has status ``code``, its details name every item of ``named``, and they end with
    the request ID the trailing metadata carries."""
    assert err.code() == code, err.details()
    details = err.details()
    for item in named:
        assert item in details, details
    request_id = dict(err.trailing_metadata() or ())["x-request-id"]
    assert request_id and details.endswith(f"(request {request_id})"), details
    return request_id


def health_status(port, service=""):
    """The standard gRPC health check's answer for ``service`` ("" is the whole server)."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        return health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=10).status


# 1. Remote results equal in-process results ---------------------------------------------------

@pytest.mark.parametrize("name", ["cnn", "kcnn"])
def test_predict_equals_in_process_for_every_input_form(client, local, strings, name):
    model = local[name]
    seqs = strings[1]

    remote = client.predict(name, seqs)
    np.testing.assert_allclose(remote.predictions,
                               model.predict(kx.from_strings(seqs).onehot), **TOL)
    assert remote.output_names == OUTPUTS
    assert remote.names == [f"seq{i}" for i in range(len(seqs))]
    assert remote.intervals is None
    assert remote.model["fingerprint"] == model.fingerprint()

    # A hard one-hot array, and one with IUPAC N rows (0.25 each), which cannot travel as 0/1.
    onehot = kx.from_strings(seqs).onehot[::-1].copy()      # another order: rows are not mixed
    soft = kx.from_strings([seq[:90] + "NNNNNNNNNN" + seq[100:] for seq in seqs]).onehot
    assert (soft == 0.25).any()
    for array in (onehot, soft):
        np.testing.assert_allclose(client.predict(name, array).predictions,
                                   model.predict(array), **TOL)

    regions = kx.from_bed(read_bed(REGIONS)[:5], GENOME, 200)
    remote = client.predict(name, regions)
    np.testing.assert_allclose(remote.predictions, model.predict(regions.onehot), **TOL)
    assert remote.names == regions.names
    assert remote.intervals == regions.intervals

    remote = client.predict(name, str(SEQUENCES))
    whole = kx.from_fasta(SEQUENCES)
    np.testing.assert_allclose(remote.predictions, model.predict(whole.onehot), **TOL)
    assert remote.names == whole.names


@pytest.mark.parametrize("name", ["cnn", "kcnn"])
def test_predict_on_intervals_read_by_the_server(client, local, name):
    expected = kx.from_bed(REGIONS, GENOME, 200)
    remote = client.predict(name, GenomeIntervals("genome", str(REGIONS)))
    np.testing.assert_allclose(remote.predictions, local[name].predict(expected.onehot), **TOL)
    assert remote.names == expected.names
    # Nothing local to copy them from: these intervals are the server's.
    assert remote.intervals == expected.intervals


EXPLAIN_CASES = [
    ("cnn", "saliency", "CTCF", {}),
    ("cnn", "grad_x_input", 1, {}),
    ("cnn", "integrated_gradients", ["CTCF", "CEBPB"], {"n_steps": 8}),
    ("cnn", "deepshap", "all", {"n_references": 4, "seed": 3}),
    ("cnn", "ism", "HNF4A", {"start": 90, "end": 110}),
    ("cnn", "grad_x_input", ["HNF4A", "CEBPB"], {"reduce": "mean", "reverse_complement": True}),
    ("kcnn", "saliency", "all", {}),
    ("kcnn", "grad_x_input", "CEBPB", {}),
    ("kcnn", "integrated_gradients", 2, {"n_steps": 8}),
    ("kcnn", "deepshap", "CTCF", {"n_references": 4, "seed": 3}),
    ("kcnn", "ism", ["CTCF", "HNF4A"], {"start": 95, "end": 105}),
]


@pytest.mark.parametrize("name, method, target, options", EXPLAIN_CASES)
def test_explain_equals_in_process(client, local, strings, name, method, target, options):
    names, seqs = strings
    named = kx.from_strings(seqs, names)
    expected = kx.explain(local[name], named, method, target=target, **options)
    remote = client.explain(name, named, method, target=target, **options)

    assert remote.method == expected.method == method
    np.testing.assert_allclose(remote.scores, expected.scores, **TOL)
    np.testing.assert_allclose(remote.predictions, expected.predictions, **TOL)
    np.testing.assert_array_equal(remote.inputs, expected.inputs)
    for field in ("delta", "hypothetical"):
        mine, theirs = getattr(remote, field), getattr(expected, field)
        assert (mine is None) == (theirs is None), field
        if theirs is not None:
            np.testing.assert_allclose(mine, theirs, **TOL)
    assert remote.names == expected.names == names
    assert remote.target == expected.target
    assert remote.settings == expected.settings
    assert remote.model["fingerprint"] == expected.model["fingerprint"]
    assert remote.intervals is None


def test_motifs_equal_in_process(client, local, strings):
    expected = kx.motifs(local["cnn"], method="weights")
    remote = client.motifs("cnn", method="weights")
    _same_motifs(remote, expected)

    onehot = kx.from_strings(strings[1]).onehot
    expected = kx.motifs(local["kcnn"], onehot, method="activation", n_matches=3)
    remote = client.motifs("kcnn", onehot, method="activation", n_matches=3)
    _same_motifs(remote, expected)
    assert any(m.matches for m in remote.motifs)       # the match ids compared are not all empty


def test_motifs_by_activation_beside_concurrent_requests(server, client, local):
    """PyTorch activations are read with a forward hook on the layer the device worker also
    runs other requests' batches through: those must not reach the hook."""
    seqs = np.concatenate([kx.from_fasta(SEQUENCES).onehot] * 10)   # 8 blocks of 128 rows
    others = np.eye(4, dtype=np.float32)[np.random.default_rng(1).integers(0, 4, (200, 200))]
    stop, threads, started = threading.Event(), [], []

    def keep_predicting(ready):
        with Client(f"127.0.0.1:{server.port}", timeout=60) as other:
            while True:
                other.predict("cnn", others)
                ready.set()
                if stop.is_set():
                    return

    for _ in range(2):
        started.append(threading.Event())
        threads.append(threading.Thread(target=keep_predicting, args=(started[-1],)))
        threads[-1].start()
    try:
        assert all(ready.wait(60) for ready in started)     # the worker is busy before we ask
        remote = client.motifs("cnn", seqs, method="activation", n_matches=1)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    _same_motifs(remote, kx.motifs(local["cnn"], seqs, method="activation", n_matches=1))


def _same_motifs(remote, expected):
    assert remote.method == expected.method
    assert remote.database == expected.database
    assert remote.settings == expected.settings
    assert remote.model["fingerprint"] == expected.model["fingerprint"]
    assert [m.name for m in remote.motifs] == [m.name for m in expected.motifs]
    for mine, theirs in zip(remote.motifs, expected.motifs):
        np.testing.assert_allclose(mine.pfm, theirs.pfm, **TOL)
        np.testing.assert_allclose(mine.pwm, theirs.pwm, **TOL)
        assert (mine.n_sites, mine.core) == (theirs.n_sites, theirs.core)
        assert [x.id for x in mine.matches] == [x.id for x in theirs.matches]


def test_diagnose_equals_in_process(client, local):
    onehot = kx.from_fasta(SEQUENCES).onehot[:16]
    checks = ["filter_scaling", "method_agreement"]
    expected = kx.diagnose(local["cnn"], onehot, checks, target="CTCF", n_attribution=4)
    remote = client.diagnose("cnn", onehot, checks, target="CTCF", n_attribution=4)
    assert [f.check for f in remote.findings] == [f.check for f in expected.findings]
    assert {f.check for f in remote.findings} == set(checks)
    for mine, theirs in zip(remote.findings, expected.findings):
        assert (mine.severity, mine.where, mine.threshold) == \
            (theirs.severity, theirs.where, theirs.threshold)
        assert mine.value == pytest.approx(theirs.value, rel=1e-4, abs=1e-5)
    # As the JSON report holds them (tuples of defaults travel as lists).
    assert remote.as_dict()["settings"] == expected.as_dict()["settings"]
    assert remote.measurements.keys() == expected.measurements.keys()
    assert remote.model["fingerprint"] == expected.model["fingerprint"]
    # The weights the server randomized or ablated for the check are back: predictions agree.
    np.testing.assert_allclose(client.predict("cnn", onehot).predictions,
                               local["cnn"].predict(onehot), **TOL)


VCF_HEADER = "##fileformat=VCFv4.2\n##contig=<ID=chr1>\n##contig=<ID=chr2>\n" \
             "##contig=<ID=chrX>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


@pytest.fixture(scope="module")
def vcf(tmp_path_factory, genome):
    """One record of each kind, and the statuses of its ALT alleles in order."""
    s1, s2 = genome["chr1"], genome["chr2"]
    rows = [
        ("chr1", 1000, "snv1", s1[999], other(s1[999]), ["OK"]),
        ("chr2", 5000, "snv2", s2[4999], other(s2[4999]), ["OK"]),
        ("chr2", 8000, "del", s2[7999:8004], s2[7999], ["OK"]),
        ("chr1", 9000, "ins", s1[8999], s1[8999] + "GATTACA", ["OK"]),
        ("chr1", 4000, "mismatch", other(s1[3999]), "T" if s1[3999] != "T" else "A",
         ["REF_MISMATCH"]),
        ("chr1", 3000, "symbolic", s1[2999], "<DEL>", ["SYMBOLIC_ALLELE"]),
        ("chr1", 2000, "multi", s1[1999], ",".join(b for b in "ACGT" if b != s1[1999]),
         ["OK"] * 3),
        ("chrX", 100, "nocontig", "A", "C", ["CONTIG_NOT_IN_FASTA"]),
        ("chr2", 9500, "mixed", s2[9499], f"{other(s2[9499])},<DEL>", ["OK", "SYMBOLIC_ALLELE"]),
    ]
    path = tmp_path_factory.mktemp("vcf") / "small.vcf"
    path.write_text(VCF_HEADER + "".join(f"{c}\t{p}\t{i}\t{r}\t{a}\t.\tPASS\t.\n"
                                         for c, p, i, r, a, _ in rows))
    return path, rows


@pytest.mark.parametrize("name, method", [("cnn", None), ("kcnn", "grad_x_input")])
def test_score_variants_equal_in_process(client, local, vcf, name, method):
    path, rows = vcf
    expected = list(score_variants(local[name], str(path), str(GENOME), method))
    remote = list(client.score_variants(name, str(path), "genome", method))

    # One effect per ALT in VCF order, every record answered.
    assert [(e.id, e.status) for e in remote] == \
        [(row[2], status) for row in rows for status in row[5]]
    assert [(e.record_index, e.alt_index) for e in remote] == \
        [(e.record_index, e.alt_index) for e in expected]
    assert sorted({e.record_index for e in remote}) == list(range(len(rows)))
    for mine, theirs in zip(remote, expected):
        assert (mine.chrom, mine.pos, mine.id, mine.ref, mine.alt, mine.status, mine.outputs) == \
            (theirs.chrom, theirs.pos, theirs.id, theirs.ref, theirs.alt, theirs.status,
             theirs.outputs)
        # The record the effect carries is the one read here, not a reconstruction.
        assert isinstance(mine.record, pysam.VariantRecord)
        assert (mine.record.chrom, mine.record.pos, mine.record.id) == \
            (mine.chrom, mine.pos, mine.id)
        assert mine.record.alts[mine.alt_index] == mine.alt
        assert mine.scores.keys() == theirs.scores.keys()
        for key in theirs.scores:
            np.testing.assert_allclose(mine.scores[key], theirs.scores[key], **TOL)
        assert mine.window_start == theirs.window_start
        if theirs.alt_to_ref is None:
            assert mine.alt_to_ref is None
        else:
            np.testing.assert_array_equal(mine.alt_to_ref, theirs.alt_to_ref)
        assert (mine.attribution is None) == (theirs.attribution is None)
        for key in (theirs.attribution or {}):
            np.testing.assert_allclose(mine.attribution[key], theirs.attribution[key], **TOL)
    if method is not None:
        assert any(e.attribution for e in remote)


# 2. Error codes -------------------------------------------------------------------------------

def test_invalid_sequences_are_invalid_argument_naming_the_record(client, strings, tmp_path,
                                                                  server):
    seqs = strings[1]
    fasta = tmp_path / "bad.fa"
    fasta.write_text(f">good\n{seqs[0]}\n>broken_rec\n{seqs[1][:50]}X{seqs[1][51:]}\n")
    with pytest.raises(grpc.RpcError) as caught:
        client.predict("cnn", str(fasta))
    check_error(caught.value, grpc.StatusCode.INVALID_ARGUMENT, "broken_rec", "'X'")

    with pytest.raises(grpc.RpcError) as caught:
        client.explain("cnn", [seqs[0][:199]], "saliency")
    check_error(caught.value, grpc.StatusCode.INVALID_ARGUMENT, "seq0", "199", "200")

    # 10 bytes cannot be a (1, 200, 4) uint8 array: the Client never sends this, a raw stub can.
    channel, stub = raw_stub(server.port)
    with channel, pytest.raises(grpc.RpcError) as caught:
        stub.Run(pb.RunRequest(command="predict", model="cnn", samples=pb.Samples(
            onehot=pb.Array(shape=[1, 200, 4], data=bytes(10), dtype="uint8"))), timeout=30)
    check_error(caught.value, grpc.StatusCode.INVALID_ARGUMENT, "samples.onehot", "10 bytes")


@pytest.mark.parametrize("method, options, named", [
    ("gradcam", {}, ["'gradcam'"]),
    ("saliency", {"target": "NOT_AN_OUTPUT"}, ["NOT_AN_OUTPUT"]),
    ("saliency", {"n_steps": 4}, ["n_steps", "saliency"]),
    ("saliency", {"batch_size": 2}, ["batch_size", "server"]),
])
def test_bad_explain_arguments_are_invalid_argument(client, strings, method, options, named):
    with pytest.raises(grpc.RpcError) as caught:
        client.explain("cnn", strings[1][:2], method, **options)
    check_error(caught.value, grpc.StatusCode.INVALID_ARGUMENT, *named)


def test_score_variants_needs_the_request_first(server):
    channel, stub = raw_stub(server.port)
    records = pb.RunStreamRequest(items=pb.ValueList(values=[codec.encode(
        VariantRecord("chr1", 1000, None, "A", ("C",)))]))
    with channel, pytest.raises(grpc.RpcError) as caught:
        list(stub.RunStream(iter([records]), timeout=30))
    check_error(caught.value, grpc.StatusCode.INVALID_ARGUMENT, "first message", "request")


def test_server_paths_are_refused(client, strings, tmp_path):
    meme = tmp_path / "motifs.meme"
    meme.write_text("MEME version 4\n")
    with pytest.raises(grpc.RpcError) as caught:
        client.motifs("cnn", method="weights", database=str(meme))
    check_error(caught.value, grpc.StatusCode.INVALID_ARGUMENT, "database")

    with pytest.raises(grpc.RpcError) as caught:
        client.diagnose("cnn", strings[1], ["constraint_cost"], free_model="kcnn",
                        labels=str(tmp_path / "labels.tsv"))
    check_error(caught.value, grpc.StatusCode.INVALID_ARGUMENT, "labels")


def test_unknown_names_are_not_found(client, strings):
    with pytest.raises(grpc.RpcError) as caught:
        client.predict("basset", strings[1])
    check_error(caught.value, grpc.StatusCode.NOT_FOUND, "'basset'")

    with pytest.raises(grpc.RpcError) as caught:
        client.predict("cnn", GenomeIntervals("hg38", [kx.Interval("chr1", 1000, 1200)]))
    check_error(caught.value, grpc.StatusCode.NOT_FOUND, "'hg38'")

    with pytest.raises(grpc.RpcError) as caught:
        client.diagnose("cnn", strings[1], ["constraint_cost"], free_model="unconstrained",
                        labels=np.zeros((len(strings[1]), 3), dtype=np.float32))
    check_error(caught.value, grpc.StatusCode.NOT_FOUND, "'unconstrained'")


def test_request_id_is_echoed_and_generated(server):
    channel, stub = raw_stub(server.port)
    with channel:
        with pytest.raises(grpc.RpcError) as caught:
            stub.Run(pb.RunRequest(command="predict", model="nope"), timeout=30,
                     metadata=(("x-request-id", "trace-42"),))
        assert check_error(caught.value, grpc.StatusCode.NOT_FOUND, "'nope'") == "trace-42"

        ids = set()
        for _ in range(2):
            with pytest.raises(grpc.RpcError) as caught:
                stub.Run(pb.RunRequest(command="predict", model="nope"), timeout=30)
            ids.add(check_error(caught.value, grpc.StatusCode.NOT_FOUND))
        assert len(ids) == 2 and "trace-42" not in ids      # a fresh ID per request

        # Successful calls carry it too.
        _, call = stub.ListModels.with_call(pb.ListModelsRequest(), timeout=30,
                                            metadata=(("x-request-id", "trace-43"),))
        assert dict(call.trailing_metadata())["x-request-id"] == "trace-43"


@pytest.fixture(scope="module")
def limited():
    """A server taking at most 4 sequences per request and 0.01 MiB per message."""
    with running(batching={"max_sequences": 4}, max_message_mb=0.01) as started:
        yield started


def test_too_many_sequences_are_resource_exhausted(limited, strings):
    with Client(f"127.0.0.1:{limited.port}", timeout=60) as client:
        with pytest.raises(grpc.RpcError) as caught:
            client.predict("cnn", strings[1][:5])
        check_error(caught.value, grpc.StatusCode.RESOURCE_EXHAUSTED, "5 sequences",
                    "max_sequences")
        assert client.predict("cnn", strings[1][:4]).predictions.shape == (4, 3)


IG = {"method": "integrated_gradients"}


@pytest.mark.parametrize("command, options, named", [
    ("explain", IG | {"n_steps": 5000}, ("n_steps=5000", "at most 1024", "batching.max_samples")),
    ("explain", IG | {"n_steps": 2000.0}, ("n_steps=2000.0", "expected an integer")),
    ("explain", IG | {"n_steps": "2000"}, ("n_steps='2000'", "expected an integer")),
    ("explain", IG | {"n_steps": 0}, ("n_steps=0", "at least 1")),
    ("explain", {"method": "ism", "start": "abc"}, ("start='abc'", "an integer")),
    ("explain", {"method": "smoothgrad", "noise": float("nan")}, ("noise=nan", "finite")),
    ("explain", {"method": "deepshap", "n_references": 10 ** 6}, ("n_references=1000000",
                                                                   "batching.max_samples")),
    ("explain", {"method": "x" * 100_000}, ("method 'xxx", "... (100002 characters): expected",)),
    ("diagnose", {"n_attribution": 5000}, ("n_attribution=5000", "batching.max_samples")),
])
def test_options_are_type_and_range_checked_against_the_config(server, strings, command,
                                                               options, named):
    channel, stub = raw_stub(server.port)
    with channel:
        with pytest.raises(grpc.RpcError) as caught:
            stub.Run(pb.RunRequest(command=command, model="cnn",
                                   samples=codec.to_samples(strings[1][:2]),
                                   options=codec.encode_entries(options)), timeout=60)
    check_error(caught.value, grpc.StatusCode.INVALID_ARGUMENT, *named)
    assert len(caught.value.details()) < 1200


def test_a_stream_chunk_size_is_capped_by_max_sequences(server):
    start = pb.RunRequest(command="score_variants", model="cnn",
                          options=codec.encode_entries({"fasta": "genome", "chunk_size": 10 ** 6,
                                                        "method": "deepshap"}))
    channel, stub = raw_stub(server.port)
    with channel:
        with pytest.raises(grpc.RpcError) as caught:
            list(stub.RunStream(iter([pb.RunStreamRequest(start=start)]), timeout=60))
    check_error(caught.value, grpc.StatusCode.INVALID_ARGUMENT, "chunk_size=1000000",
                "batching.max_sequences")


@pytest.mark.parametrize("samples, named", [
    (pb.Samples(onehot=codec.to_array(np.full((1, 200, 4), 1e38, np.float32))),
     ("record 'seq0'", "outside [0, 1]")),
    (pb.Samples(onehot=pb.Array(shape=[1, 2 ** 32, 2 ** 32], dtype="float32")),
     ("samples.onehot", "0 bytes", "shape (1, 4294967296, 4294967296)")),
    (pb.Samples(onehot=pb.Array(shape=[2, 2 ** 62, 4], dtype="float32", data=b"1234")),
     ("samples.onehot", "4 bytes",)),
])
def test_malformed_arrays_are_invalid_before_anything_is_allocated(server, samples, named):
    channel, stub = raw_stub(server.port)
    with channel:
        with pytest.raises(grpc.RpcError) as caught:
            stub.Run(pb.RunRequest(command="predict", model="cnn", samples=samples), timeout=60)
    check_error(caught.value, grpc.StatusCode.INVALID_ARGUMENT, *named)


def test_a_huge_model_name_is_quoted_in_part(server):
    channel, stub = raw_stub(server.port)
    with channel:
        with pytest.raises(grpc.RpcError) as caught:
            stub.Run(pb.RunRequest(command="predict", model="m" * 100_000,
                                   samples=pb.Samples(dna=pb.DnaStrings(sequences=["ACGT"]))),
                     timeout=60)
    check_error(caught.value, grpc.StatusCode.NOT_FOUND, "'mmmm", "(100002 characters)", "cnn")
    assert len(caught.value.details()) < 1200


def test_oversized_message_is_resource_exhausted_and_server_keeps_serving(limited, strings,
                                                                          local):
    onehot = kx.from_fasta(SEQUENCES).onehot[:40]       # >= 32 kB even as uint8 > 0.01 MiB
    with Client(f"127.0.0.1:{limited.port}", timeout=60) as client:
        with pytest.raises(grpc.RpcError) as caught:
            client.predict("cnn", onehot)
        # Refused by gRPC on arrival (before the sequence count is looked at), not a crash.
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "larger than max" in caught.value.details()
        remote = client.predict("cnn", strings[1][:1])
    np.testing.assert_allclose(remote.predictions,
                               local["cnn"].predict(kx.from_strings(strings[1][:1]).onehot), **TOL)
    assert health_status(limited.port) == health_pb2.HealthCheckResponse.SERVING


def test_bearer_token_auth(strings):
    with running(tokens=["s3cret"]) as started:
        address = f"127.0.0.1:{started.port}"
        with Client(address, timeout=60) as anonymous:
            with pytest.raises(grpc.RpcError) as caught:
                anonymous.models()
            check_error(caught.value, grpc.StatusCode.UNAUTHENTICATED, "authorization")
        with Client(address, token="guess", timeout=60) as wrong:
            with pytest.raises(grpc.RpcError) as caught:
                wrong.predict("cnn", strings[1][:1])
            check_error(caught.value, grpc.StatusCode.UNAUTHENTICATED, "invalid bearer token")
        with Client(address, token="s3cret", timeout=60) as right:
            assert [m["name"] for m in right.models()] == ["cnn"]
            assert right.predict("cnn", strings[1][:1]).predictions.shape == (1, 3)
        # Load balancers check health without a token.
        assert health_status(started.port, SERVICE) == health_pb2.HealthCheckResponse.SERVING


# 3. Health and reflection ---------------------------------------------------------------------

def test_health_serving_then_gone_after_stop():
    with running() as started:
        port = started.port
        for service in ("", SERVICE):
            assert health_status(port, service) == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(grpc.RpcError) as caught:
            health_status(port, "no.such.Service")
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        watch = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(service=SERVICE), timeout=30)
        assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
        # The open watch keeps the stop waiting out its grace, long enough to deliver the
        # NOT_SERVING that graceful shutdown announces before the server goes.
        started.stop(0.5)
        assert next(watch).status == health_pb2.HealthCheckResponse.NOT_SERVING
        with pytest.raises(grpc.RpcError) as caught:
            next(watch)
        assert caught.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)
        channel.close()
        with pytest.raises(grpc.RpcError) as caught:
            health_status(port)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def test_reflection_lists_the_service(server):
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        services = set(database.get_services())
        assert {SERVICE, "grpc.health.v1.Health"} <= services
        service = DescriptorPool(database).FindServiceByName(SERVICE)
        assert {"ListModels", "Run", "RunStream", "Stats"} <= set(service.methods_by_name)
        run = service.methods_by_name["Run"]
        assert run.input_type.full_name == "kipoi_explain.v2.RunRequest"
        assert run.output_type.full_name == "kipoi_explain.v2.RunResponse"


# 4. ListModels --------------------------------------------------------------------------------

def test_list_models(client, local):
    models = {m["name"]: m for m in client.models()}
    assert list(models) == ["cnn", "kcnn"]
    for name, framework in (("cnn", "pytorch"), ("kcnn", "keras")):
        info = models[name]
        assert info["framework"] == framework
        assert info["input_length"] == 200
        assert info["output_names"] == OUTPUTS
        assert info["output_shape"] == [3]
        assert info["methods"] == list(kx.METHODS)     # both are differentiable
        assert info["fingerprint"] == local[name].fingerprint()
    assert models["cnn"]["fingerprint"] != models["kcnn"]["fingerprint"]
    assert client.fastas() == ["genome"]
