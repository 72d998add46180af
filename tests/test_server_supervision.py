"""Supervised worker processes: a killed worker fails only its in-flight requests (UNAVAILABLE)
and is restarted while other devices serve on; a request given up (deadline, cancel) frees the
device within a bounded time: between blocks for the commands that run alone (diagnose), and
by replacing a worker that does not reach a block in time."""
import os
import signal
import threading
import time

import grpc
import numpy as np
import pytest

import kipoi_explain as kx
from conftest import EXAMPLE_DIR, make_torch_model, random_onehot, serve, wait_for
from kipoi_explain import codec
from kipoi_explain.client import Client
from kipoi_explain.v2 import explain_pb2 as pb
from kipoi_explain.v2 import explain_pb2_grpc as pb_grpc

# Every test here talks to a server started for real: slow.
pytestmark = pytest.mark.slow

CNN = EXAMPLE_DIR / "models" / "pytorch_cnn"
LENGTH = 200
#: Input length of the stalling test model.
STALL_LENGTH = 50


def request(command, x, **options):
    return pb.RunRequest(command=command, model="cnn", samples=codec.to_samples(x),
                         options=codec.encode_entries(options))


def served_after(client, x):
    """Seconds until a small prediction is answered (the device is free again)."""
    started = time.monotonic()
    client.predict("cnn", x)
    return time.monotonic() - started


@pytest.fixture(scope="module")
def cnn():
    return kx.load_model(CNN)


@pytest.fixture(scope="module")
def two_devices():
    """A server with two workers (two child processes) for the example CNN."""
    running = serve(models={"cnn": CNN}, fastas={}, devices=["cpu", "cpu"])
    yield running
    running.stop(0)


def test_each_device_has_its_own_worker_process(two_devices):
    pids = [worker.host.pid for worker in two_devices.workers]
    assert len(set(pids)) == 2 and os.getpid() not in pids
    for pid in pids:
        os.kill(pid, 0)                             # alive


def test_a_killed_worker_fails_its_requests_unavailable_and_restarts(two_devices, cnn):
    address = f"127.0.0.1:{two_devices.port}"
    first = two_devices.workers[0]
    pid = first.host.pid
    long = random_onehot(1024, LENGTH, seed=1)
    small = random_onehot(2, LENGTH, seed=2)
    with Client(address, timeout=300) as client, grpc.insecure_channel(address) as channel:
        restarts = first.stats.restarts
        doomed = pb_grpc.ExplainServiceStub(channel).Run.future(
            request("explain", long, method="ism", target=0), timeout=300)
        wait_for(lambda: first.load == 1, timeout=120,
                 what="the long request to reach the first worker")
        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        # The other device serves while the first one restarts.
        other = client.explain("cnn", small, "grad_x_input")
        np.testing.assert_allclose(other.scores, kx.explain(cnn, small, "grad_x_input").scores,
                                   atol=1e-5)
        with pytest.raises(grpc.RpcError) as caught:
            doomed.result()
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        assert f"worker process {pid}" in caught.value.details()
        assert "restarted" in caught.value.details()
        wait_for(lambda: first.stats.restarts == restarts + 1 and first.host.pid != pid,
                 timeout=120, what="the restart")
        # Both workers answer again, as before the crash.
        answers = [None, None]

        def predict(i):
            answers[i] = client.predict("cnn", small)
        threads = [threading.Thread(target=predict, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        recovered = time.monotonic() - killed
        for answer in answers:
            np.testing.assert_allclose(answer.predictions, cnn.predict(small), atol=1e-5)
        assert recovered < 120
        assert client.stats().in_flight == 0


def test_a_diagnosis_stops_at_its_deadline():
    """diagnose runs alone on the worker (it changes the model's weights across calls): it
    stops between blocks, within a second or so, where it used to run on for tens."""
    running = serve(models={"cnn": CNN}, fastas={}, cancel_grace_s=60)
    address = f"127.0.0.1:{running.port}"
    long = random_onehot(1024, LENGTH, seed=3)
    try:
        with Client(address, timeout=300) as client, grpc.insecure_channel(address) as channel:
            with pytest.raises(grpc.RpcError) as caught:
                pb_grpc.ExplainServiceStub(channel).Run(
                    request("diagnose", long, n_attribution=1024), timeout=1.0)
            assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            # Freed within blocks, not after the whole job (tens of seconds) nor by a restart.
            assert served_after(client, random_onehot(1, LENGTH, seed=4)) < 20
            assert running.workers[0].stats.restarts == 0
    finally:
        running.stop(0)


STALL_MODEL = f'''"""Test model: stalls on an all-zero input row."""
import time

from torch import nn


class StallOnZeros(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 2, kernel_size={STALL_LENGTH})
        self.flatten = nn.Flatten()

    def forward(self, x):
        if bool((x.abs().sum(dim=(1, 2)) == 0).any()):
            time.sleep(600)
        return self.flatten(self.conv(x))
'''


@pytest.fixture(scope="module")
def stall_dir(tmp_path_factory):
    """A PyTorch Kipoi model directory whose forward sleeps for ten minutes on an all-zero row:
    work that never reaches a block boundary."""
    return make_torch_model(tmp_path_factory.mktemp("stall_model"), STALL_MODEL,
                            "StallOnZeros", (4, STALL_LENGTH), ["a", "b"],
                            "Stalls on an all-zero input row.")


def test_a_worker_that_does_not_stop_is_replaced_after_the_grace(stall_dir):
    running = serve(models={"stall": stall_dir}, fastas={}, cancel_grace_s=1.0)
    address = f"127.0.0.1:{running.port}"
    good = random_onehot(2, STALL_LENGTH, seed=5)
    try:
        with Client(address, timeout=1.0) as hurried, Client(address, timeout=300) as client:
            with pytest.raises(grpc.RpcError) as caught:
                hurried.predict("stall", "N" * STALL_LENGTH, ambiguous="zeros")
            assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            given_up = time.monotonic()
            answer = client.predict("stall", good)
            # Deadline, grace, and a fresh worker process: far less than the stall's 600 s.
            assert time.monotonic() - given_up < 120
            assert answer.predictions.shape == (2, 2)
            assert running.workers[0].stats.restarts == 1
    finally:
        running.stop(0)
