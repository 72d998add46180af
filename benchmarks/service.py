"""What serving costs and what dynamic batching buys, on the bundled example models.

    python benchmarks/service.py [--requests 20] [--clients 32] [--rounds 8]

1. **Remote / in-process throughput** for 64-sequence requests, per method: one client sends
   requests back to back to a server in another process; the same calls run in-process. A
   ratio of 1 means serving costs nothing.
2. **Dynamic batching**: 32 concurrent clients, each sending single-sequence requests, against
   a server that merges calls (``max_wait_ms`` 5) and one that does not (``--no-merge``);
   throughput ratio, and p50/p99 latency of each.

The server runs as ``kipoi-explain-server`` in a subprocess on loopback, as it would in use.
"""
from __future__ import annotations

import argparse
import platform
import re
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

import kipoi_explain as kx
from kipoi_explain.client import Client

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
MODELS = {"pytorch_cnn": EXAMPLES / "models" / "pytorch_cnn",
          "keras_cnn": EXAMPLES / "models" / "keras_cnn"}
CALLS = {
    "predict": None,
    "grad_x_input": {},
    "integrated_gradients": {"n_steps": 20},
    "deepshap": {"n_references": 20},
    "ism": {},
}


@contextmanager
def server(*flags: str):
    """``kipoi-explain-server`` with both example models on a free loopback port."""
    command = [sys.executable, "-m", "kipoi_explain.server.main", "--port", "0",
               "--device", "cpu", "--max-queue", "128", "--log-level", "warning",
               *[f"--model={name}={path}" for name, path in MODELS.items()], *flags]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        for line in process.stderr:
            found = re.search(r"listening on [^:]+:(\d+)", line)
            if found:
                break
        else:
            raise RuntimeError("the server did not start")
        threading.Thread(target=lambda: process.stderr.read(), daemon=True).start()
        yield f"127.0.0.1:{found.group(1)}"
    finally:
        process.terminate()
        process.wait(60)


def run(target, method: str, x):
    """One call, local (``target`` a Model) or remote (``target`` a (Client, name) pair)."""
    if isinstance(target, tuple):
        client, name = target
        if CALLS[method] is None:
            return client.predict(name, x)
        return client.explain(name, x, method, target=0, **CALLS[method])
    if CALLS[method] is None:
        return target.predict(x)
    return kx.explain(target, x, method, target=0, **CALLS[method])


def throughput(target, method: str, x, requests: int) -> float:
    """Sequences per second over ``requests`` back-to-back requests (after one warm-up)."""
    run(target, method, x)
    start = time.perf_counter()
    for _ in range(requests):
        run(target, method, x)
    return requests * len(x) / (time.perf_counter() - start)


def concurrent(address: str, name: str, method: str, x, clients: int, rounds: int):
    """``clients`` threads, each sending ``rounds`` single-sequence requests; returns
    (sequences per second, latencies in seconds)."""
    connections = [Client(address) for _ in range(clients)]
    for connection in connections:
        run((connection, name), method, x[:1])
    latencies = [[] for _ in range(clients)]
    barrier = threading.Barrier(clients + 1)

    def work(i):
        barrier.wait()
        for r in range(rounds):
            start = time.perf_counter()
            run((connections[i], name), method, x[(i * rounds + r) % len(x)][None])
            latencies[i].append(time.perf_counter() - start)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    for connection in connections:
        connection.close()
    return clients * rounds / seconds, np.concatenate(latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=64, help="sequences per request (part 1)")
    parser.add_argument("--requests", type=int, default=20, help="requests per measurement")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=8, help="requests per client (part 2)")
    parser.add_argument("--methods", nargs="*", default=list(CALLS))
    parser.add_argument("--workers", choices=("process", "thread"), default="process",
                        help="where the server runs its models (see server/README.md)")
    args = parser.parse_args()
    workers = ("--workers", args.workers)

    x = kx.from_fasta(EXAMPLES / "data" / "sequences.fa").onehot
    print(f"# {platform.processor() or platform.machine()}, kipoi-explain {kx.__version__}, "
          f"server in a subprocess on loopback, CPU, workers: {args.workers}")
    print(f"\n## 1. {args.n}-sequence requests, {args.requests} back to back: sequences/s")
    print(f"{'model':<12} {'call':<22} {'in-process':>11} {'remote':>9} {'ratio':>7}")
    with server(*workers) as address, Client(address) as client:
        for model_name, path in MODELS.items():
            model = kx.load_model(path)
            for method in args.methods:
                local = throughput(model, method, x[:args.n], args.requests)
                remote = throughput((client, model_name), method, x[:args.n], args.requests)
                print(f"{model_name:<12} {method:<22} {local:>11.0f} {remote:>9.0f} "
                      f"{remote / local:>7.2f}", flush=True)

    print(f"\n## 2. {args.clients} concurrent clients x {args.rounds} single-sequence requests")
    print(f"{'model':<12} {'call':<14} {'batching':<9} {'seq/s':>7} {'p50 ms':>8} "
          f"{'p99 ms':>8} {'speed-up':>9}")
    settings = {"on": ("--max-wait-ms", "5"), "off": ("--no-merge",)}
    results = {}
    for mode, flags in settings.items():
        with server(*flags, *workers) as address:
            for model_name in MODELS:
                for method in ("predict", "grad_x_input", "deepshap"):
                    results[mode, model_name, method] = concurrent(
                        address, model_name, method, x, args.clients, args.rounds)
    for model_name in MODELS:
        for method in ("predict", "grad_x_input", "deepshap"):
            for mode in settings:
                rate, latency = results[mode, model_name, method]
                speedup = rate / results["off", model_name, method][0]
                print(f"{model_name:<12} {method:<14} {mode:<9} {rate:>7.0f} "
                      f"{1e3 * np.percentile(latency, 50):>8.1f} "
                      f"{1e3 * np.percentile(latency, 99):>8.1f} {speedup:>9.2f}")


if __name__ == "__main__":
    main()
