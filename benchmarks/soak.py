"""A bounded soak of the server, and how fast it frees a device and recovers from a crash.

    python benchmarks/soak.py [--clients 64] [--seconds 60] [--rounds 1]

1. **Soak**: ``--clients`` concurrent clients, each sending requests back to back for
   ``--seconds`` against ``kipoi-explain-server`` (both example models, one CPU worker process)
   with a mixed load: predictions, saliency, DeepSHAP and ISM of a few sequences, the Keras
   model, requests the server must refuse (an option out of range, an unknown model) and
   diagnoses given a 1 s deadline. Reports requests, answers by status (each kind of request
   has the statuses it may get; any other is counted as unexpected), p50/p99 latency of the
   answered ones, and the resident memory of the server and its worker process before and
   after each of ``--rounds`` rounds (whether memory levels off or keeps growing).
2. **Cancelled diagnose**: a diagnosis of 1024 sequences given a 1 s deadline; the time from
   the deadline to the answer of the next small request (the device freed).
3. **Worker crash**: the worker process is killed (SIGKILL) during a long ISM request; the
   request's status, and the time from the kill to the next answered request.

The server runs in a subprocess on loopback, as in use (:func:`service.server`).
"""
from __future__ import annotations

import argparse
import os
import platform
import random
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import grpc
import numpy as np
from service import server

from kipoi_explain.client import Client

LENGTH = 200
#: Each kind of request: its share of the load, the call, and the statuses it may end with.
MIX = {
    "predict": (30, lambda c, x: c.predict("pytorch_cnn", x[:4]), {"OK"}),
    "saliency": (20, lambda c, x: c.explain("pytorch_cnn", x[:4], "saliency", target=0),
                 {"OK"}),
    "deepshap": (15, lambda c, x: c.explain("pytorch_cnn", x[:2], "deepshap", target=0,
                                            n_references=10), {"OK"}),
    "ism": (10, lambda c, x: c.explain("pytorch_cnn", x[:2], "ism", target=0), {"OK"}),
    "keras": (10, lambda c, x: c.predict("keras_cnn", x[:4]), {"OK"}),
    "out_of_range": (5, lambda c, x: c.explain("pytorch_cnn", x[:1], "integrated_gradients",
                                               n_steps=0), {"INVALID_ARGUMENT"}),
    "unknown_model": (5, lambda c, x: c.predict("nope", x[:1]), {"NOT_FOUND"}),
    "diagnose_1s": (5, lambda c, x: c.diagnose("pytorch_cnn", x, n_attribution=1024),
                    {"DEADLINE_EXCEEDED"}),
}


def sequences(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, LENGTH))]


def processes(root: int) -> dict[str, list[int]]:
    """The server (``root``'s child) and its worker processes (children started by
    multiprocessing's spawn, not its resource tracker)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1]
                                               .split()[1])
            except (OSError, IndexError, ValueError):
                continue
    servers = [pid for pid, parent in parents.items() if parent == root]
    workers = [pid for pid, parent in parents.items() if parent in servers and
               b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]
    return {"server": servers, "workers": workers}


def rss_mib(pids: list[int]) -> float:
    """Resident memory of ``pids``, in MiB."""
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def tree_rss_mib(root: int) -> dict[str, float]:
    return {role: rss_mib(pids) for role, pids in processes(root).items()}


def soak(address: str, clients: int, seconds: float):
    kinds = list(MIX)
    weights = [MIX[k][0] for k in kinds]
    statuses, unexpected, latencies = Counter(), Counter(), []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client_loop(i: int) -> None:
        rng = random.Random(i)
        x = sequences(1024, i)
        small = x[:4]
        with Client(address, timeout=120) as client:
            while time.monotonic() < stop:
                kind = rng.choices(kinds, weights)[0]
                started = time.monotonic()
                try:
                    if kind == "diagnose_1s":
                        with Client(address, timeout=1.0) as hurried:
                            MIX[kind][1](hurried, x)
                    else:
                        MIX[kind][1](client, small)
                    status = "OK"
                except grpc.RpcError as err:
                    status = err.code().name
                elapsed = time.monotonic() - started
                with lock:
                    statuses[status] += 1
                    if status not in MIX[kind][2]:
                        unexpected[f"{kind}: {status}"] += 1
                    if status == "OK":
                        latencies.append(elapsed)

    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses, unexpected, np.array(latencies)


def cancelled_diagnose(address: str) -> float:
    x = sequences(1024, 99)
    with Client(address, timeout=1.0) as hurried, Client(address, timeout=120) as client:
        client.predict("pytorch_cnn", x[:1])
        started = time.monotonic()
        try:
            hurried.diagnose("pytorch_cnn", x, n_attribution=1024)
            raise RuntimeError("the diagnosis finished within its 1 s deadline")
        except grpc.RpcError as err:
            assert err.code() == grpc.StatusCode.DEADLINE_EXCEEDED, err
        client.predict("pytorch_cnn", x[:1])
        return time.monotonic() - started - 1.0


def crash_recovery(address: str) -> tuple[str, float]:
    x = sequences(1024, 7)
    outcome = {}
    with Client(address, timeout=300) as client:
        client.predict("pytorch_cnn", x[:1])

        def long_request():
            try:
                client.explain("pytorch_cnn", x, "ism", target=0)
                outcome["status"] = "OK"
            except grpc.RpcError as err:
                outcome["status"] = err.code().name
        thread = threading.Thread(target=long_request)
        thread.start()
        time.sleep(1.0)
        (victim,) = processes(os.getpid())["workers"]
        os.kill(victim, signal.SIGKILL)
        killed = time.monotonic()
        thread.join()
        while True:
            try:
                client.predict("pytorch_cnn", x[:1])
                break
            except grpc.RpcError as err:
                if err.code() != grpc.StatusCode.UNAVAILABLE:
                    raise
        return outcome["status"], time.monotonic() - killed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    print(f"# {platform.machine()}, {os.cpu_count()} CPU cores, server in a subprocess on "
          f"loopback, one CPU worker process")
    with server("--max-queue", str(args.clients + 8)) as address:
        with Client(address, timeout=120) as warm:
            for kind in ("predict", "keras", "saliency"):
                MIX[kind][1](warm, sequences(4, 0))
        for round_ in range(1, args.rounds + 1):
            before = tree_rss_mib(os.getpid())
            started = time.monotonic()
            statuses, unexpected, latencies = soak(address, args.clients, args.seconds)
            took = time.monotonic() - started
            after = tree_rss_mib(os.getpid())
            total = sum(statuses.values())
            print(f"## 1.{round_} soak: {args.clients} clients, {args.seconds:g} s of requests "
                  f"({took:.0f} s until the last answer)")
            print(f"requests {total}  ({total / took:.1f}/s)")
            print("by status: " + ", ".join(f"{k} {v}" for k, v in statuses.most_common()))
            print(f"unexpected statuses: {sum(unexpected.values())}"
                  + (f" ({dict(unexpected)})" if unexpected else ""))
            print(f"answered: p50 {1e3 * np.percentile(latencies, 50):.0f} ms, "
                  f"p99 {1e3 * np.percentile(latencies, 99):.0f} ms")
            print(f"RSS MiB, server / worker: before {before['server']:.0f} / "
                  f"{before['workers']:.0f}, after {after['server']:.0f} / "
                  f"{after['workers']:.0f}")
        print("## 2. cancelled diagnose (1024 sequences, 1 s deadline)")
        print(f"from the deadline to the next answer: {cancelled_diagnose(address):.2f} s")
        print("## 3. worker process killed during a long ISM request")
        status, recovered = crash_recovery(address)
        print(f"the request: {status}; from the kill to the next answer: {recovered:.2f} s")


if __name__ == "__main__":
    main()
