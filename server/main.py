"""``kipoi-explain-server``: start the gRPC explanation service.

    kipoi-explain-server --config server.yaml
    kipoi-explain-server --model cnn=examples/models/pytorch_cnn \\
        --fasta genome=examples/data/genome.fa --port 50051 [--token SECRET]
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import signal
import sys
import threading
import time
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from kipoi_explain.errors import InputError
from kipoi_explain.v2 import explain_pb2 as pb
from kipoi_explain.v2 import explain_pb2_grpc as pb_grpc

from .batching import DeviceWorker
from .hosts import ChildHost, ModelHost, WorkerFault, load_models, loader
from .config import (Batching, ServerConfig, check, load_config, model_spec, resolve_devices,
                     resolve_path)
from .interceptors import RequestInterceptor
from .service import ExplainServicer

log = logging.getLogger("kipoi_explain.server")

#: Seconds between the last request finishing and the connections closing, on shutdown.
DRAIN_LINGER_S = 0.5

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["ExplainService"].full_name


@dataclass
class RunningServer:
    """A started server: its bound port, its parts, and a graceful stop."""

    server: grpc.Server
    port: int
    servicer: ExplainServicer
    health: health.HealthServicer
    workers: list[DeviceWorker]

    def stop(self, grace: float | None = None) -> None:
        """Refuse new requests, let those in flight finish (up to ``grace`` seconds), then stop
        the device workers once their queued calls are done."""
        self.health.enter_graceful_shutdown()
        self.servicer.draining = True
        deadline = time.monotonic() + (grace or 0)
        while self.servicer.in_flight and time.monotonic() < deadline:
            time.sleep(0.05)
        # gRPC closes connections as soon as its last call ends, which can cut off a large
        # answer still being sent: give the last answers a moment to leave first.
        time.sleep(min(DRAIN_LINGER_S, max(0.0, deadline - time.monotonic())))
        self.server.stop(max(0.0, deadline - time.monotonic())).wait()
        for worker in self.workers:
            worker.stop()


def hosts(config: ServerConfig) -> list[ModelHost | ChildHost]:
    """Each device's host: a supervised child process holding its models (``workers:
    process``), or this process (``workers: thread``). Children's models are also loaded
    here once, on the CPU, to be described (never run)."""
    loaders = {name: loader(spec) for name, spec in config.models.items()}
    if config.workers == "thread":
        return [ModelHost(device, loaders) for device in config.devices]
    catalog = load_models("cpu", loaders)
    fingerprints = {name: model.fingerprint() for name, model in catalog.items()}
    return [ChildHost(device, config.models, catalog, fingerprints, config.cancel_grace_s)
            for device in config.devices]


def start(config: ServerConfig) -> RunningServer:
    """Load the allowed models on every device, and serve them on ``config.host:port``
    (port 0: any free port, see ``RunningServer.port``)."""
    workers = [DeviceWorker(host, config.batching.max_batch_size,
                            config.batching.max_wait_ms / 1e3, config.batching.merge)
               for host in hosts(config)]
    servicer = ExplainServicer(config, workers)
    limits = [("grpc.max_receive_message_length", config.max_message_bytes),
              ("grpc.max_send_message_length", config.max_message_bytes)]
    # Threads for every admitted request, plus a few so health checks and refusals still answer.
    pool = futures.ThreadPoolExecutor(max_workers=config.batching.max_queue + 4,
                                      thread_name_prefix="kx-rpc")
    server = grpc.server(pool, interceptors=[RequestInterceptor(config.tokens)], options=limits)
    pb_grpc.add_ExplainServiceServicer_to_server(servicer, server)
    checker = health.HealthServicer(experimental_non_blocking=True)
    health_pb2_grpc.add_HealthServicer_to_server(checker, server)
    for name in ("", SERVICE_NAME):
        checker.set(name, health_pb2.HealthCheckResponse.SERVING)
    reflection.enable_server_reflection((SERVICE_NAME, health.SERVICE_NAME,
                                         reflection.SERVICE_NAME), server)
    address = f"{config.host}:{config.port}"
    if config.tls:
        credentials = grpc.ssl_server_credentials(
            [(Path(config.tls["key"]).read_bytes(), Path(config.tls["cert"]).read_bytes())],
            root_certificates=Path(config.tls["client_ca"]).read_bytes()
            if config.tls.get("client_ca") else None,
            require_client_auth=bool(config.tls.get("client_ca")))
        port = server.add_secure_port(address, credentials)
    else:
        port = server.add_insecure_port(address)
    if port == 0:
        raise InputError(f"cannot listen on {address}")
    server.start()
    return RunningServer(server, port, servicer, checker, workers)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="kipoi-explain-server",
        description="Serve explanations of allow-listed Kipoi models over gRPC.")
    parser.add_argument("--config", help="YAML configuration (see server/README.md)")
    parser.add_argument("--model", action="append", default=[], metavar="NAME=KIPOI_MODEL_DIR",
                        help="a model clients may use, by name (repeatable)")
    parser.add_argument("--fasta", action="append", default=[], metavar="NAME=FASTA",
                        help="a FASTA clients may read intervals from (repeatable)")
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default 50051; 0: any free port)")
    parser.add_argument("--token", action="append", default=[],
                        help="accept this bearer token (repeatable; none: no auth)")
    parser.add_argument("--device", action="append", default=[],
                        help="cpu, cuda:K or auto (repeatable; default auto)")
    parser.add_argument("--max-batch-size", type=int, help="rows per merged model call")
    parser.add_argument("--max-wait-ms", type=float, help="wait for calls to merge (ms)")
    parser.add_argument("--max-queue", type=int, help="requests in flight before refusing")
    parser.add_argument("--workers", choices=("process", "thread"),
                        help="each device's models in a supervised child process (default), "
                             "or in this process")
    parser.add_argument("--no-merge", action="store_true",
                        help="run every request's model calls alone (no dynamic batching)")
    parser.add_argument("--tls-cert", help="PEM certificate (with --tls-key: serve TLS)")
    parser.add_argument("--tls-key", help="PEM private key")
    parser.add_argument("--log-level", default=None, help="debug, info, warning (default info)")
    return parser.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    """The configuration file, if given, with the command line's settings on top."""
    if args.config:
        config = load_config(args.config)
    elif not args.model:
        raise InputError("give --config server.yaml, or at least one --model NAME=DIR")
    else:
        config = ServerConfig(models={}, devices=resolve_devices("auto"), batching=Batching())
    here = Path.cwd()
    for flag, items, target in (("--model", args.model, config.models),
                                ("--fasta", args.fasta, config.fastas)):
        for item in items:
            name, sep, value = item.partition("=")
            if not sep or not name or not value:
                raise InputError(f"{flag} {item!r}: expected NAME=PATH")
            target[name] = model_spec(here, name, value) if flag == "--model" else \
                resolve_path(here, value, f"{flag} {name}")
    if args.device:
        config.devices = [d for device in args.device for d in resolve_devices(device)]
    config = dataclasses.replace(config, **{key: getattr(args, key) for key in (
        "host", "port", "log_level", "workers") if getattr(args, key) is not None})
    config.batching = dataclasses.replace(config.batching, **{key: getattr(args, key) for key in (
        "max_batch_size", "max_wait_ms", "max_queue") if getattr(args, key) is not None})
    if args.no_merge:
        config.batching.merge = False
    config.tokens += args.token
    if bool(args.tls_cert) != bool(args.tls_key):
        raise InputError("--tls-cert and --tls-key go together")
    if args.tls_cert:
        config.tls = {"cert": resolve_path(here, args.tls_cert, "--tls-cert"),
                      "key": resolve_path(here, args.tls_key, "--tls-key")}
    check(config)
    return config


def console(argv=None) -> int:
    args = parse_args(argv)
    try:
        config = config_from_args(args)
        logging.basicConfig(level=config.log_level.upper(), stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        running = start(config)
    except (InputError, WorkerFault) as err:
        print(f"kipoi-explain-server: error: {err}", file=sys.stderr)
        return 2
    stopping = threading.Event()

    def shutdown(signum, frame):
        if not stopping.is_set():
            log.info("signal %d: draining in-flight requests (up to %.0f s)", signum,
                     config.shutdown_grace_s)
            stopping.set()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    print(f"kipoi-explain-server listening on {config.host}:{running.port} "
          f"(models: {', '.join(config.models)}; devices: {', '.join(config.devices)}; "
          f"{'TLS' if config.tls else 'plaintext'}; "
          f"{'token auth' if config.tokens else 'no auth'})", file=sys.stderr, flush=True)
    stopping.wait()
    running.stop(config.shutdown_grace_s)
    return 0

if __name__ == "__main__":
    sys.exit(console())
