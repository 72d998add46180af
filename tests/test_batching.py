"""Dynamic batching (``kipoi_explain.server.batching``), through gRPC and at the worker level.

Concurrent requests' model calls are merged into one device batch; every request must still get
exactly what it would get alone (its own sequences, target and options), a request that is
cancelled or past its deadline must leave the batch, a model that crashes must fail only the
request that crashed it, and a full queue must refuse new work.
"""
import logging
import threading
from contextlib import contextmanager

import grpc
import numpy as np
import pytest

import kipoi_explain as kx
from conftest import EXAMPLE_DIR, make_torch_model, random_onehot, serve, wait_for
from kipoi_explain import codec
from kipoi_explain.client import Client
from kipoi_explain.server.batching import DeviceWorker, RequestState
from kipoi_explain.server.hosts import ModelHost, RequestAborted, WorkerFault
from kipoi_explain.v2 import explain_pb2 as pb
from kipoi_explain.v2 import explain_pb2_grpc as pb_grpc

# Every test here talks to a server started for real: slow.
pytestmark = pytest.mark.slow

CNN = str(EXAMPLE_DIR / "models" / "pytorch_cnn")
KCNN = str(EXAMPLE_DIR / "models" / "keras_cnn")
LENGTH = 200
#: Input length of the crashing test model (short: it only has to load and run).
CRASH_LENGTH = 50


# ---- helpers ------------------------------------------------------------------------------
def dna(n, length=LENGTH, seed=0):
    """``n`` random ACGT strings."""
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list("ACGT"), length)) for _ in range(n)]


def concurrently(n, work, timeout=120):
    """Run ``work(i)`` for ``i < n`` on ``n`` threads released together by a barrier, so the
    requests reach the server at the same time; the results in order, or the first error."""
    barrier = threading.Barrier(n, timeout=timeout)
    results, errors = [None] * n, []

    def run(i):
        try:
            barrier.wait()
            results[i] = work(i)
        except BaseException as err:  # noqa: BLE001 - reported to the test thread below
            errors.append(err)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    if errors:
        raise errors[0]
    return results


def worker_stats(client):
    return client.stats().workers[0]


def assert_same(remote, local):
    """A remote Attribution equals the in-process one."""
    np.testing.assert_allclose(remote.scores, local.scores, atol=1e-5)
    np.testing.assert_allclose(remote.predictions, local.predictions, atol=1e-5)
    if local.hypothetical is not None:
        np.testing.assert_allclose(remote.hypothetical, local.hypothetical, atol=1e-5)
    assert remote.target == local.target


def explain_request(model, x, method, **options):
    return pb.RunRequest(command="explain", model=model, samples=codec.to_samples(x),
                         options=codec.encode_entries({"method": method, "target": 0,
                                                       **options}))


def ism_rows(n, length=LENGTH):
    """Model rows ISM runs for ``n`` sequences: at least three mutations per position."""
    return 3 * n * length


#: Sequences of a request that must still be running when the test acts on it: their ISM takes
#: about 12 s on one CPU core (the example model runs ~50k rows/s), and the tests cancel it or
#: let it expire long before.
LONG = 1024


@pytest.fixture(scope="module")
def cnn():
    return kx.load_model(CNN)


@pytest.fixture(scope="module")
def both():
    """A server with the PyTorch and the Keras example models, merging within 20 ms."""
    running = serve(models={"cnn": CNN, "kcnn": KCNN}, batching={"max_wait_ms": 20})
    yield running
    running.stop(0)


CRASH_MODEL = '''"""Test model: crashes on an all-zero input row."""
from torch import nn


class CrashOnZeros(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 4, kernel_size=5, padding=2)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool1d(10)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(4 * 5, 2)

    def forward(self, x):
        if bool((x.abs().sum(dim=(1, 2)) == 0).any()):
            raise RuntimeError("CrashOnZeros: all-zero input row")
        return self.fc(self.flatten(self.pool(self.relu(self.conv(x)))))
'''


@pytest.fixture(scope="module")
def crash_dir(tmp_path_factory):
    """A real PyTorch Kipoi model directory whose forward raises RuntimeError when any input
    row is all zeros (what ``"N" * L`` encodes to with ``ambiguous="zeros"``)."""
    return str(make_torch_model(tmp_path_factory.mktemp("crash_model"), CRASH_MODEL,
                                "CrashOnZeros", (4, CRASH_LENGTH), ["a", "b"],
                                "Raises RuntimeError on an all-zero input row."))


# ---- merged requests through gRPC -----------------------------------------------------------
def test_32_concurrent_clients_get_their_own_results_from_merged_batches(cnn):
    running = serve(models={"cnn": CNN}, batching={"max_wait_ms": 20})
    clients = [Client(f"127.0.0.1:{running.port}", timeout=120) for _ in range(32)]
    try:
        seqs = dna(32, seed=1)
        gxi = concurrently(32, lambda i: clients[i].explain("cnn", seqs[i], "grad_x_input",
                                                            target="CTCF"))
        shap = concurrently(32, lambda i: clients[i].explain("cnn", seqs[i], "deepshap",
                                                             target="CTCF", n_references=4))
        preds = concurrently(32, lambda i: clients[i].predict("cnn", seqs[i]))
        stats = worker_stats(clients[0])
    finally:
        for client in clients:
            client.close()
        running.stop(0)
    for i, seq in enumerate(seqs):
        assert_same(gxi[i], kx.explain(cnn, seq, "grad_x_input", target="CTCF"))
        assert_same(shap[i], kx.explain(cnn, seq, "deepshap", target="CTCF", n_references=4))
        np.testing.assert_allclose(preds[i].predictions,
                                   cnn.predict(kx.from_strings([seq]).onehot), atol=1e-5)
    # A fresh server counts from 0: merges happened, and some batch held several requests' calls.
    assert stats.merged_batches > 0
    assert stats.max_calls_per_batch > 1
    assert stats.batches < stats.calls


def test_without_merging_every_call_runs_alone(cnn):
    running = serve(models={"cnn": CNN}, batching={"max_wait_ms": 20, "merge": False})
    clients = [Client(f"127.0.0.1:{running.port}", timeout=120) for _ in range(8)]
    try:
        seqs = dna(8, seed=4)
        gxi = concurrently(8, lambda i: clients[i].explain("cnn", seqs[i], "grad_x_input"))
        stats = worker_stats(clients[0])
    finally:
        for client in clients:
            client.close()
        running.stop(0)
    for seq, result in zip(seqs, gxi):
        assert_same(result, kx.explain(cnn, seq, "grad_x_input"))
    assert stats.merged_batches == 0 and stats.max_calls_per_batch == 1
    # One call per request: the predictions come from the gradient's own forward pass.
    assert stats.batches == stats.calls == 8


def test_concurrent_requests_keep_their_own_targets(both, cnn):
    seqs = dna(16, seed=2)
    targets = ["CTCF", "HNF4A"] * 8
    clients = [Client(f"127.0.0.1:{both.port}", timeout=120) for _ in range(16)]
    try:
        results = concurrently(16, lambda i: clients[i].explain(
            "cnn", seqs[i], "deepshap", target=targets[i], n_references=4))
    finally:
        for client in clients:
            client.close()
    for seq, target, result in zip(seqs, targets, results):
        assert result.target["names"] == [target]
        assert_same(result, kx.explain(cnn, seq, "deepshap", target=target, n_references=4))
    # The two targets' attributions differ, so a batch that applied one target to every
    # request would have failed the comparison above.
    assert not np.allclose(results[0].scores, kx.explain(cnn, seqs[0], "deepshap",
                                                         target="HNF4A",
                                                         n_references=4).scores, atol=1e-3)


def test_keras_model_concurrent_clients(both):
    kcnn = kx.load_model(KCNN)
    seqs = dna(8, seed=3)
    targets = ["CTCF", "CEBPB"] * 4
    clients = [Client(f"127.0.0.1:{both.port}", timeout=120) for _ in range(8)]
    try:
        gxi = concurrently(8, lambda i: clients[i].explain("kcnn", seqs[i], "grad_x_input",
                                                           target=targets[i]))
        shap = concurrently(8, lambda i: clients[i].explain("kcnn", seqs[i], "deepshap",
                                                            target=targets[i], n_references=4))
        preds = concurrently(8, lambda i: clients[i].predict("kcnn", seqs[i]))
    finally:
        for client in clients:
            client.close()
    for i, seq in enumerate(seqs):
        assert_same(gxi[i], kx.explain(kcnn, seq, "grad_x_input", target=targets[i]))
        assert_same(shap[i], kx.explain(kcnn, seq, "deepshap", target=targets[i],
                                        n_references=4))
        np.testing.assert_allclose(preds[i].predictions,
                                   kcnn.predict(kx.from_strings([seq]).onehot), atol=1e-5)


# ---- the worker itself, without gRPC --------------------------------------------------------
@pytest.fixture
def worker():
    running = DeviceWorker(ModelHost("cpu", {"cnn": lambda device: kx.load_model(
        CNN, device=device)}), max_batch_size=64, max_wait=0.02)
    yield running
    running.stop(30)


@contextmanager
def held(worker, name="cnn"):
    """Within the block the worker thread is busy with a call that waits for the block to end
    (reading the weights, made to wait), so calls submitted meanwhile queue up; when the block
    ends they are batched together."""
    started, release = threading.Event(), threading.Event()
    predictor = worker.model(name).predictor
    parameters = predictor.parameters

    def waiting():
        started.set()
        release.wait(60)
        return parameters()

    predictor.parameters = waiting
    gate = RequestState("gate")
    thread = threading.Thread(target=worker.bind(gate, name).predictor.parameters)
    thread.start()
    assert started.wait(60)
    try:
        yield
    finally:
        release.set()
        thread.join(60)
        worker.release(gate)
        del predictor.parameters


def queued_calls(worker, calls, name="cnn"):
    """Submit ``calls`` (each ``(RequestState, primitive, args)``) from one thread each while the
    worker is held, release them together; each call's result or exception, in order."""
    outcomes = [None] * len(calls)
    routed = [worker.bind(state, name) for state, _, _ in calls]

    def run(i):
        _, primitive, args = calls[i]
        try:
            capability, method = primitive.split(".")
            outcomes[i] = getattr(getattr(routed[i], capability), method)(*args)
        except Exception as err:  # noqa: BLE001 - the outcome under test
            outcomes[i] = err

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    with held(worker, name):
        for thread in threads:
            thread.start()
        # The worker's queue is the only place that says every call has arrived.
        wait_for(lambda: len(worker._pending) == len(calls), what="all calls queued")
    for thread in threads:
        thread.join(60)
    for state, _, _ in calls:
        worker.release(state)
    return outcomes


def test_worker_merged_calls_equal_unmerged(worker, cnn):
    xs = [random_onehot(2, LENGTH, seed=i) for i in range(6)]
    refs = [random_onehot(2, LENGTH, seed=100 + i) for i in range(6)]
    targets = [cnn.target("CTCF")] * 3 + [cnn.target("HNF4A")] * 3

    forward = queued_calls(worker, [(RequestState(f"f{i}"), "predictor.forward", (x,))
                                    for i, x in enumerate(xs)])
    assert worker.stats.batches == 2            # the gate, then all six forwards as one batch
    assert worker.stats.max_calls_per_batch == 6
    assert worker.stats.merged_batches == 1
    for x, out in zip(xs, forward):
        np.testing.assert_allclose(out, cnn.predictor.forward(x), atol=1e-5)

    gradient = queued_calls(worker, [(RequestState(f"g{i}"), "gradients.input_gradient", (x, t))
                                     for i, (x, t) in enumerate(zip(xs, targets))])
    # Calls for different targets never share a batch: one batch per target.
    assert worker.stats.batches == 2 + 1 + 2
    for x, target, out in zip(xs, targets, gradient):
        for got, want in zip(out, cnn.gradients.input_gradient(x, target)):
            np.testing.assert_allclose(got, want, atol=1e-5)

    deeplift = queued_calls(worker, [(RequestState(f"d{i}"), "deeplift.deeplift_multipliers",
                                      (x, r, t))
                                     for i, (x, r, t) in enumerate(zip(xs, refs, targets))])
    for x, ref, target, out in zip(xs, refs, targets, deeplift):
        for got, want in zip(out, cnn.deeplift.deeplift_multipliers(x, ref, target)):
            np.testing.assert_allclose(got, want, atol=1e-5)
    assert worker.stats.rows == 3 * sum(len(x) for x in xs)


def test_worker_aborted_request_leaves_the_batch(worker, cnn):
    x_live, x_gone = random_onehot(2, LENGTH, seed=1), random_onehot(3, LENGTH, seed=2)
    cancelled = threading.Event()
    live = RequestState("live")
    gone = RequestState("gone", is_active=lambda: not cancelled.is_set())
    outcomes = [None, None]
    routed = [worker.bind(live, "cnn"), worker.bind(gone, "cnn")]

    def run(i, x):
        try:
            outcomes[i] = routed[i].predictor.forward(x)
        except Exception as err:  # noqa: BLE001 - the outcome under test
            outcomes[i] = err

    threads = [threading.Thread(target=run, args=(0, x_live)),
               threading.Thread(target=run, args=(1, x_gone))]
    with held(worker):
        for thread in threads:
            thread.start()
        wait_for(lambda: len(worker._pending) == 2, what="both calls queued")
        cancelled.set()             # the client goes away while its call waits in the queue
    for thread in threads:
        thread.join(60)
    worker.release(live)
    worker.release(gone)

    assert isinstance(outcomes[1], RequestAborted)
    np.testing.assert_allclose(outcomes[0], cnn.predictor.forward(x_live), atol=1e-5)
    # Only the gate's job and the live call ran; the aborted call's rows were never computed.
    assert worker.stats.calls == 2
    assert worker.stats.rows == len(x_live)

    # A request aborted before it calls is refused without queueing anything.
    gone_already = RequestState("late")
    gone_already.aborted.set()
    with pytest.raises(RequestAborted):
        worker.bind(gone_already, "cnn").predictor.forward(x_live)
    worker.release(gone_already)
    assert worker.stats.calls == 2


def test_worker_respects_max_batch_size(cnn):
    worker = DeviceWorker(ModelHost("cpu", {"cnn": lambda device: kx.load_model(
        CNN, device=device)}), max_batch_size=4, max_wait=0.02)
    try:
        model = worker.model("cnn")
        sizes = []
        forward = model.predictor.forward

        def recorded(x, context=None):
            sizes.append(len(x))
            return forward(x, context=context)

        # Record the rows of every device call the worker makes.
        model.predictor.forward = recorded
        rows = [1, 2, 3, 1, 2, 1, 1, 6, 1]      # 6: one call larger than the limit
        xs = [random_onehot(n, LENGTH, seed=i) for i, n in enumerate(rows)]
        outcomes = queued_calls(worker, [(RequestState(f"r{i}"), "predictor.forward", (x,))
                                         for i, x in enumerate(xs)])
    finally:
        worker.stop(30)
    for x, out in zip(xs, outcomes):
        np.testing.assert_allclose(out, cnn.predictor.forward(x), atol=1e-5)
    assert sum(sizes) == sum(rows)
    # Merged batches stay within the limit; the oversized call ran, alone.
    assert all(size <= 4 for size in sizes if size != 6)
    assert sizes.count(6) == 1
    assert len(sizes) < len(rows)               # and some calls were merged
    assert worker.stats.rows == sum(rows)


def test_worker_fault_fails_only_the_crashing_call_and_restarts(crash_dir):
    worker = DeviceWorker(ModelHost("cpu", {"crash": lambda device: kx.load_model(
        crash_dir, device=device)}), max_batch_size=64, max_wait=0.02)
    reference = kx.load_model(crash_dir)
    try:
        good = [random_onehot(2, CRASH_LENGTH, seed=i) for i in range(3)]
        bad = np.zeros((1, CRASH_LENGTH, 4), np.float32)
        calls = [(RequestState(f"good{i}"), "predictor.forward", (x,))
                 for i, x in enumerate(good)]
        calls.insert(1, (RequestState("bad"), "predictor.forward", (bad,)))
        outcomes = queued_calls(worker, calls, "crash")
        assert isinstance(outcomes[1], WorkerFault)
        assert "RuntimeError" in str(outcomes[1]) and "all-zero input row" in str(outcomes[1])
        for x, out in zip(good, outcomes[:1] + outcomes[2:]):
            np.testing.assert_allclose(out, reference.predictor.forward(x), atol=1e-5)
        assert worker.stats.restarts == 1
        # The reloaded worker serves the next request.
        x = random_onehot(2, CRASH_LENGTH, seed=9)
        state = RequestState("after")
        np.testing.assert_allclose(worker.bind(state, "crash").predictor.forward(x),
                                   reference.predictor.forward(x), atol=1e-5)
        worker.release(state)
    finally:
        worker.stop(30)


# ---- faults, deadlines, cancellation and a full queue through gRPC ---------------------------
def test_crashing_model_fails_with_internal_and_the_server_recovers(crash_dir):
    reference = kx.load_model(crash_dir)
    running = serve(models={"crash": crash_dir}, fastas={}, batching={"max_wait_ms": 50})
    address = f"127.0.0.1:{running.port}"
    good = dna(8, CRASH_LENGTH, seed=4)
    clients = [Client(address, timeout=120) for _ in range(9)]

    def request(i):
        # Request 8 sends an all-N sequence encoded as zeros: the model raises on it.
        if i == 8:
            try:
                clients[i].predict("crash", "N" * CRASH_LENGTH, ambiguous="zeros")
            except grpc.RpcError as err:
                return err
            return None
        return clients[i].predict("crash", good[i])

    try:
        outcomes = concurrently(9, request)
        bad = outcomes[8]
        assert isinstance(bad, grpc.RpcError)
        assert bad.code() == grpc.StatusCode.INTERNAL
        assert "RuntimeError" in bad.details() and "all-zero input row" in bad.details()
        # The requests sent with it (merged into its batch when they met) all succeed.
        for seq, result in zip(good, outcomes[:8]):
            np.testing.assert_allclose(result.predictions,
                                       reference.predict(kx.from_strings([seq]).onehot),
                                       atol=1e-5)
        assert worker_stats(clients[0]).restarts >= 1
        after = clients[0].predict("crash", good[0])
        np.testing.assert_allclose(after.predictions, outcomes[0].predictions, atol=1e-5)
    finally:
        for client in clients:
            client.close()
        running.stop(0)


def logged_status(caplog, request_id):
    """The status the server logged for request ``request_id`` (waits for its log line, which
    is written just after the request leaves the in-flight count)."""
    lines = []

    def find():
        lines[:] = [r.getMessage() for r in caplog.records
                    if r.name == "kipoi_explain.server" and r.getMessage().startswith(request_id)]
        return bool(lines)

    wait_for(find, what=f"the log line of request {request_id}")
    return lines[0].split()[2]


def test_deadline_exceeded_stops_the_work(both, caplog):
    caplog.set_level(logging.INFO, logger="kipoi_explain.server")
    address = f"127.0.0.1:{both.port}"
    with Client(address, timeout=120) as client, grpc.insecure_channel(address) as channel:
        before = worker_stats(client)
        seqs = random_onehot(LONG, LENGTH, seed=5)
        with pytest.raises(grpc.RpcError) as caught:
            pb_grpc.ExplainServiceStub(channel).Run(
                explain_request("cnn", seqs, "ism"), timeout=0.3,
                metadata=(("x-request-id", "deadline-test"),))
        assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        # The server, too, saw the deadline pass and ended the request with that status.
        assert logged_status(caplog, "deadline-test") == "DEADLINE_EXCEEDED"
        wait_for(lambda: client.stats().in_flight == 0, what="the expired request to end")
        # It stopped calling the model for it: far fewer rows than a full ISM.
        assert worker_stats(client).rows - before.rows < ism_rows(LONG) // 2
        result = client.explain("cnn", seqs[:2], "grad_x_input")
        assert result.scores.shape == (2, LENGTH, 4)


def test_cancelled_request_leaves_and_the_server_stays_healthy(both, cnn, caplog):
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    caplog.set_level(logging.INFO, logger="kipoi_explain.server")
    address = f"127.0.0.1:{both.port}"
    with Client(address, timeout=120) as client, grpc.insecure_channel(address) as channel:
        before = worker_stats(client)
        stub = pb_grpc.ExplainServiceStub(channel)
        future = stub.Run.future(explain_request("cnn", random_onehot(LONG, LENGTH, seed=6),
                                                     "ism"), timeout=120,
                                     metadata=(("x-request-id", "cancel-test"),))
        wait_for(lambda: client.stats().in_flight == 1, what="the request to start")
        assert future.cancel()
        assert future.cancelled()
        assert logged_status(caplog, "cancel-test") == "CANCELLED"
        wait_for(lambda: client.stats().in_flight == 0, what="the cancelled request to end")
        assert worker_stats(client).rows - before.rows < ism_rows(LONG) // 2
        status = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(),
                                                           timeout=30)
        assert status.status == health_pb2.HealthCheckResponse.SERVING
        seq = dna(1, seed=7)[0]
        assert_same(client.explain("cnn", seq, "grad_x_input"),
                    kx.explain(cnn, seq, "grad_x_input"))


def test_full_queue_answers_resource_exhausted():
    running = serve(models={"cnn": CNN}, batching={"max_queue": 1})
    address = f"127.0.0.1:{running.port}"
    try:
        with Client(address, timeout=120) as client, grpc.insecure_channel(address) as channel:
            # A long request holds the only place in the queue (cancelled below rather than
            # awaited, so its length costs nothing and no timing decides the outcome).
            slow = pb_grpc.ExplainServiceStub(channel).Run.future(
                explain_request("cnn", random_onehot(LONG, LENGTH, seed=8), "ism"), timeout=120)
            wait_for(lambda: client.stats().in_flight == 1, what="the slow request to start")
            with pytest.raises(grpc.RpcError) as caught:
                client.predict("cnn", dna(1)[0])
            assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "max_queue" in caught.value.details()
            assert client.stats().rejected == 1
            slow.cancel()
            wait_for(lambda: client.stats().in_flight == 0, what="the slow request to end")
            assert client.predict("cnn", dna(1)[0]).predictions.shape == (1, 3)
            assert client.stats().rejected == 1
    finally:
        running.stop(0)
