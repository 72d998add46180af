"""Running the server: its configuration file, the ``kipoi-explain-server`` command (start,
serve, drain on SIGTERM, refuse bad arguments), TLS, and the per-RPC request log."""
import logging
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import pytest

from conftest import EXAMPLE_DIR, random_onehot, serve
from kipoi_explain.client import Client
from kipoi_explain.errors import InputError
from kipoi_explain.server.config import load_config
from kipoi_explain.v2 import explain_pb2 as pb
from kipoi_explain.v2 import explain_pb2_grpc as pb_grpc

# Every test here talks to a server started for real: slow.
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
CNN = EXAMPLE_DIR / "models" / "pytorch_cnn"
GENOME = EXAMPLE_DIR / "data" / "genome.fa"
SERVICE = "/kipoi_explain.v2.ExplainService"


# ---- the configuration file ----------------------------------------------------------------
@pytest.fixture
def conf_dir(tmp_path, monkeypatch):
    """A folder with the files a configuration names, and a working directory elsewhere (so
    relative paths can only resolve against the configuration's own folder)."""
    folder = tmp_path / "conf"
    for sub in ("models/cnn", "zoo", "data", "tls"):
        (folder / sub).mkdir(parents=True)
    for name in ("data/genome.fa", "tls/server.crt", "tls/server.key"):
        (folder / name).write_text("x\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    return folder


def write_config(folder, text):
    path = folder / "server.yaml"
    path.write_text(text)
    return path


def test_load_config_resolves_every_setting(conf_dir, monkeypatch):
    monkeypatch.setenv("KX_TEST_TOKEN", "from-the-environment")
    config = load_config(write_config(conf_dir, """
host: 0.0.0.0
port: 6000
models:
  cnn: models/cnn
  big: {path: models/cnn, batch_size: 16}
  basset: {zoo: zoo, name: Basset}
fastas:
  genome: data/genome.fa
devices: [cpu]
batching: {max_batch_size: 8, max_wait_ms: 2.5, max_queue: 3, max_sequences: 10,
           max_samples: 50}
max_message_mb: 8
auth: {tokens: [alpha, beta], token_env: KX_TEST_TOKEN}
tls: {cert: tls/server.crt, key: tls/server.key}
shutdown_grace_s: 5
log_level: debug
"""))
    assert config.models == {
        "cnn": {"source": str(conf_dir / "models" / "cnn")},
        "big": {"source": str(conf_dir / "models" / "cnn"), "batch_size": 16},
        "basset": {"source": "Basset", "zoo": str(conf_dir / "zoo")}}
    assert config.fastas == {"genome": str(conf_dir / "data" / "genome.fa")}
    assert (config.host, config.port, config.devices) == ("0.0.0.0", 6000, ["cpu"])
    assert vars(config.batching) == {"max_batch_size": 8, "max_wait_ms": 2.5, "max_queue": 3,
                                     "max_sequences": 10, "max_samples": 50, "merge": True}
    assert config.max_message_bytes == 8 * 2 ** 20
    assert config.tokens == ["alpha", "beta", "from-the-environment"]
    assert config.tls == {"cert": str(conf_dir / "tls" / "server.crt"),
                          "key": str(conf_dir / "tls" / "server.key")}
    assert (config.shutdown_grace_s, config.log_level) == (5.0, "debug")


def test_load_config_defaults(conf_dir):
    config = load_config(write_config(conf_dir, "models: {cnn: models/cnn}\ndevices: cpu\n"))
    assert (config.host, config.port, config.devices) == ("127.0.0.1", 50051, ["cpu"])
    assert config.tokens == [] and config.tls is None and config.fastas == {}
    assert config.batching.max_queue == 64
    assert (config.workers, config.cancel_grace_s) == ("process", 5.0)


VALID_MODELS = "models: {cnn: models/cnn}\n"


@pytest.mark.parametrize("text, key", [
    pytest.param(VALID_MODELS + "modles: {x: models/cnn}\n", "modles", id="unknown-key"),
    pytest.param("models: {cnn: nowhere}\n", "models.cnn.path", id="missing-path"),
    pytest.param("models: {cnn: {path: nowhere}}\n", "models.cnn.path", id="missing-long-path"),
    pytest.param("models: {cnn: {path: models/cnn, weights: w.pt}}\n", "weights",
                 id="unknown-model-key"),
    pytest.param("models: {basset: {zoo: zoo}}\n", "models.basset", id="zoo-without-name"),
    pytest.param("models: {}\n", "models", id="empty-models"),
    pytest.param("port: 1\n", "models", id="no-models"),
    pytest.param("models: [cnn]\n", "models", id="models-not-a-mapping"),
    pytest.param(VALID_MODELS + "fastas: {genome: data/missing.fa}\n", "fastas.genome",
                 id="missing-fasta"),
    pytest.param(VALID_MODELS + "batching: {max_batch_size: 0}\n", "batching.max_batch_size",
                 id="batch-size-zero"),
    pytest.param(VALID_MODELS + "batching: {max_wait_ms: -1}\n", "batching.max_wait_ms",
                 id="negative-wait"),
    pytest.param(VALID_MODELS + "batching: {max_batch: 4}\n", "max_batch",
                 id="unknown-batching-key"),
    pytest.param(VALID_MODELS + "batching: {max_queue: many}\n", "batching.max_queue",
                 id="batching-not-a-number"),
    pytest.param(VALID_MODELS + "port: http\n", "port", id="port-not-a-number"),
    pytest.param(VALID_MODELS + "devices: [tpu]\n", "devices", id="unknown-device"),
    pytest.param(VALID_MODELS + "max_message_mb: 0\n", "max_message_mb", id="no-message-size"),
    pytest.param(VALID_MODELS + "workers: fork\n", "workers", id="unknown-workers"),
    pytest.param(VALID_MODELS + "cancel_grace_s: 0\n", "cancel_grace_s", id="no-grace"),
    pytest.param(VALID_MODELS + "auth: {token_env: KX_TEST_UNSET_TOKEN}\n", "auth.token_env",
                 id="token-env-unset"),
    pytest.param(VALID_MODELS + "auth: {token: secret}\n", "auth", id="unknown-auth-key"),
    pytest.param(VALID_MODELS + "auth: secret\n", "auth", id="auth-not-a-mapping"),
    pytest.param(VALID_MODELS + "tls: {cert: tls/server.crt}\n", "tls.key", id="tls-without-key"),
    pytest.param(VALID_MODELS + "tls: tls/server.crt\n", "tls", id="tls-not-a-mapping"),
])
def test_load_config_errors_name_the_key(conf_dir, monkeypatch, text, key):
    monkeypatch.delenv("KX_TEST_UNSET_TOKEN", raising=False)
    with pytest.raises(InputError, match=re.escape(key)):
        load_config(write_config(conf_dir, text))


def test_load_config_single_token_string_is_one_token(conf_dir):
    """``tokens: secret`` (a string, not a list) must not become the one-letter tokens s, e, c,
    r, e, t: any one of those would then pass the bearer check."""
    try:
        config = load_config(write_config(conf_dir, VALID_MODELS + "auth: {tokens: secret}\n"))
    except InputError as err:
        assert "auth.tokens" in str(err)
    else:
        assert config.tokens == ["secret"]


def test_load_config_unreadable_file(tmp_path):
    with pytest.raises(InputError, match="cannot be read"):
        load_config(tmp_path / "absent.yaml")
    path = tmp_path / "list.yaml"
    path.write_text("- models\n")
    with pytest.raises(InputError, match="expected a mapping"):
        load_config(path)


# ---- the console script --------------------------------------------------------------------
class ServerProcess:
    """``kipoi-explain-server`` in a subprocess; its stderr is read on a thread (so the pipe
    never fills) and searched for lines."""

    def __init__(self, command):
        self.process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, text=True)
        self.lines = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        listening = self.wait_for_line(r"listening on (\S+):(\d+)")
        self.address = f"127.0.0.1:{listening.group(2)}"

    def _read(self):
        for line in self.process.stderr:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for_line(self, pattern, timeout=180):
        """The first stderr line matching ``pattern``; fails if the process ends first."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines:
                    found = re.search(pattern, line)
                    if found:
                        return found
                if not self._reader.is_alive() or time.monotonic() > deadline:
                    raise AssertionError(f"no stderr line matching {pattern!r}; stderr:\n"
                                         + "".join(self.lines))
                self._changed.wait(0.5)

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(30)


def server_command(*extra):
    return [sys.executable, "-m", "kipoi_explain.server.main", "--model", f"cnn={CNN}",
            "--fasta", f"genome={GENOME}", "--port", "0", "--device", "cpu", *extra]


def serving(address):
    """Whether the server's health check answers SERVING."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(),
                                                              timeout=10)
        except grpc.RpcError:
            return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def test_console_serves_and_drains_on_sigterm():
    server = ServerProcess(server_command())
    try:
        with Client(server.address, timeout=120) as client:
            assert [m["name"] for m in client.models()] == ["cnn"]
            assert client.fastas() == ["genome"]
            # Integrated gradients, 1000 steps of 15 sequences (~1.2 s on a free core): in
            # flight when the signal arrives. Its answer is small on purpose: see the note below.
            outcome = {}

            def slow():
                with Client(server.address, timeout=120) as own:
                    try:
                        outcome["result"] = own.explain(
                            "cnn", random_onehot(15, 200), "integrated_gradients", n_steps=1000,
                            quadrature_rule="riemann_trapezoid")
                    except grpc.RpcError as err:
                        outcome["error"] = err

            thread = threading.Thread(target=slow)
            thread.start()
            deadline = time.monotonic() + 60
            while client.stats().in_flight != 1:
                assert time.monotonic() < deadline, "the slow request never started"
                time.sleep(0.02)
            server.process.send_signal(signal.SIGTERM)
            server.wait_for_line(r"signal \d+: draining")
            # The drain starts on a thread after that line; health turns NOT_SERVING (or
            # health checks are refused) right before the server stops taking calls.
            deadline = time.monotonic() + 60
            while serving(server.address):
                assert time.monotonic() < deadline, "health never left SERVING"
                time.sleep(0.02)
            with Client(server.address, timeout=30) as late:
                with pytest.raises(grpc.RpcError) as refused:
                    late.predict("cnn", random_onehot(1, 200))
            # gRPC refuses a call that reaches a stopping server with CANCELLED, or with
            # UNAVAILABLE once its port is closed: either way the call never ran.
            assert refused.value.code() in (grpc.StatusCode.UNAVAILABLE,
                                            grpc.StatusCode.CANCELLED)
            assert thread.is_alive()            # refused while the slow request still runs
            thread.join(120)
        assert "error" not in outcome, outcome.get("error")
        # (A megabyte-sized answer still being sent when the drained server closes its
        # connections is sometimes cut off, "Connection reset by peer": gRPC core closes the
        # socket as soon as the last call completes.)
        assert outcome["result"].scores.shape == (15, 200, 4)
        assert server.process.wait(60) == 0
    finally:
        server.stop()


def test_installed_console_script_serves_and_stops_on_sigint():
    script = Path(sys.executable).parent / "kipoi-explain-server"
    if not script.is_file():
        pytest.skip("kipoi-explain-server is not installed next to the interpreter")
    server = ServerProcess([str(script), *server_command()[3:]])
    try:
        with Client(server.address, timeout=120) as client:
            result = client.explain("cnn", random_onehot(2, 200), "grad_x_input")
            assert result.scores.shape == (2, 200, 4)
        server.process.send_signal(signal.SIGINT)
        assert server.process.wait(60) == 0
    finally:
        server.stop()


@pytest.mark.parametrize("arguments, message", [
    (["--port", "0"], "--model"),
    (["--model", "bad", "--port", "0"], "--model 'bad': expected NAME=PATH"),
])
def test_console_refuses_bad_arguments(arguments, message):
    done = subprocess.run([sys.executable, "-m", "kipoi_explain.server.main", *arguments],
                          cwd=REPO, capture_output=True, text=True, timeout=180)
    assert done.returncode == 2
    assert "kipoi-explain-server: error:" in done.stderr
    assert message in done.stderr


# ---- TLS -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for localhost, and its key."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "server.crt", folder / "server.key"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=120)
    return cert, key


def test_tls(certificate):
    cert, key = certificate
    running = serve(models={"cnn": CNN}, fastas={}, tls={"cert": str(cert), "key": str(key)})
    try:
        with Client(f"localhost:{running.port}", root_certificates=cert, timeout=60) as secure:
            assert [m["name"] for m in secure.models()] == ["cnn"]
            result = secure.explain("cnn", random_onehot(1, 200), "grad_x_input")
            assert result.scores.shape == (1, 200, 4)
        with Client(f"localhost:{running.port}", timeout=30) as plain:
            with pytest.raises(grpc.RpcError) as refused:
                plain.models()
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        running.stop(0)


# ---- request log ---------------------------------------------------------------------------
def log_lines(caplog, request_id):
    return [r.getMessage() for r in caplog.records
            if r.name == "kipoi_explain.server" and request_id in r.getMessage()]


def test_each_rpc_logs_one_line_with_request_id_method_and_status(server, caplog):
    caplog.set_level(logging.INFO, logger="kipoi_explain.server")
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        stub = pb_grpc.ExplainServiceStub(channel)
        # The client's own request ID is kept, and returned in the trailing metadata.
        _, call = stub.ListModels.with_call(pb.ListModelsRequest(), timeout=60,
                                            metadata=(("x-request-id", "ops-test-0001"),))
        assert ("x-request-id", "ops-test-0001") in call.trailing_metadata()
        (line,) = log_lines(caplog, "ops-test-0001")
        assert f"{SERVICE}/ListModels" in line and " OK " in line

        # Without one the server makes one up; a failure logs its status, and its message
        # carries the same ID.
        with pytest.raises(grpc.RpcError) as failed:
            stub.Run(pb.RunRequest(command="predict", model="nonexistent"), timeout=60)
        request_id = dict(failed.value.trailing_metadata())["x-request-id"]
        assert request_id and f"(request {request_id})" in failed.value.details()
        (line,) = log_lines(caplog, request_id)
        assert f"{SERVICE}/Run/predict " in line and "NOT_FOUND" in line
