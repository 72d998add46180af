"""What a job costs on each engine, on the bundled example model and genome.

    python benchmarks/scale.py [--n 4000] [--n-references 20] [--shard-size 500]

1. **Throughput**: ``score-vcf --method deepshap`` over ``--n`` random SNVs as a job on
   ``--engine local``, and on ``--engine ray`` with 1 and 2 workers joining a Ray cluster
   started here on loopback beforehand (its start-up, paid once per cluster, is reported on
   its own). Variants per second over the whole job (the command's own timer) and while
   shards run (from the shard markers: first start to last end), each against the local
   engine; what lies between is the job's start (joining the cluster, starting workers that
   import the libraries and load the model), paid once per job. At one worker the ratios
   are Ray's overhead.
2. **Memory**: a worker's peak resident memory (from the shard markers) and the driver's
   (``wait4``) for a VCF of ``--n`` and of 10 x ``--n`` SNVs (``grad_x_input``, fast): flat
   when shards bound what a worker holds and the merge streams.
3. **Resume**: the local job run again on its work directory, every shard done: the time to
   check the shards and write the outputs, against the time of the job.

Every run is a ``kipoi-explain`` process, as a user runs it; outputs are checked equal.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from variants import GENOME, MODEL, write_snvs

RAY = Path(sys.executable).with_name("ray")


def start_cluster(temp: str) -> tuple[str, dict, float]:
    """A Ray head on a free loopback port with every CPU, its files in ``temp``; its address,
    the environment that joins it, and the seconds it took to start."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16)}
    started = time.perf_counter()
    subprocess.run([str(RAY), "start", "--head", "--port", str(port), "--disable-usage-stats",
                    "--include-dashboard=false", "--node-ip-address", "127.0.0.1",
                    "--temp-dir", temp], env=env, check=True, capture_output=True)
    return f"127.0.0.1:{port}", env, time.perf_counter() - started


def job(vcf: Path, out: Path, work: Path, options: list, env=None, engine=()) -> dict:
    """One ``score-vcf`` job; its own time, the process's wall time and peak memory, and the
    workers' peak memory."""
    command = [sys.executable, "-m", "kipoi_explain", "score-vcf", str(MODEL), "--vcf",
               str(vcf), "--fasta", str(GENOME), "-o", str(out), "--work-dir", str(work),
               "--no-progress", *map(str, options), *map(str, engine)]
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    stdout, stderr = process.stdout.read(), process.stderr.read()
    if status:
        raise SystemExit(f"{' '.join(command)} failed:\n{stderr[-3000:]}")
    found = re.search(r"(\d+) VCF records read, (\d+) written .* in ([\d.]+) s", stdout)
    markers = [json.loads(p.read_text()) for p in (work / "shards").glob("*.done")]
    # While shards run: from the first shard's start to the last one's end.
    span = max(m["finished"] for m in markers) - \
        min(m["finished"] - m["seconds"] for m in markers)
    return {"records": int(found[1]), "seconds": float(found[3]), "wall": wall, "span": span,
            "driver_mib": usage.ru_maxrss / 1024,
            "worker_mib": max(m["peak_rss_mib"] for m in markers),
            "workers": len({(m["host"], m["pid"]) for m in markers}), "stdout": stdout}


def body(path: Path) -> list[str]:
    import pysam

    with pysam.VariantFile(str(path)) as vcf:
        return [str(record) for record in vcf]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=4000, help="SNVs of the throughput runs")
    parser.add_argument("--n-references", type=int, default=20)
    parser.add_argument("--shard-size", type=int, default=500)
    args = parser.parse_args()
    import ray
    import torch

    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"torch {torch.__version__}, ray {ray.__version__}, kipoi-explain job of "
          f"score-vcf deepshap ({args.n_references} references), shards of "
          f"{args.shard_size} records")
    # Ray's sockets live in its temporary folder, whose path must stay short (AF_UNIX).
    with tempfile.TemporaryDirectory() as tmp, \
            tempfile.TemporaryDirectory(prefix="kxray", dir="/tmp") as ray_temp:
        folder = Path(tmp)
        vcf = folder / "snvs.vcf"
        write_snvs(vcf, args.n, margin=200)
        address, env, startup = start_cluster(ray_temp)
        try:
            options = ["--method", "deepshap", "--n-references", args.n_references,
                       "--target", "CTCF", "--shard-size", args.shard_size]
            runs = {"local": job(vcf, folder / "local.vcf.gz", folder / "local", options)}
            for workers in (1, 2):
                runs[f"ray, {workers} worker(s)"] = job(
                    vcf, folder / f"ray{workers}.vcf.gz", folder / f"ray{workers}", options, env,
                    ("--engine", "ray", "--ray-address", address, "--workers", workers))
            resumed = job(vcf, folder / "again.vcf.gz", folder / "local", options)
            same = all(body(folder / name) == body(folder / "local.vcf.gz")
                       for name in ("ray1.vcf.gz", "ray2.vcf.gz", "again.vcf.gz"))
            memory = {}
            for n in (args.n, 10 * args.n):
                small = folder / f"m{n}.vcf"
                write_snvs(small, n, margin=200, seed=1)
                memory[n] = job(small, folder / f"m{n}.vcf.gz", folder / f"m{n}",
                                ["--method", "grad_x_input", "--shard-size", args.shard_size],
                                env, ("--engine", "ray", "--ray-address", address,
                                      "--workers", 1))
        finally:
            subprocess.run([str(RAY), "stop", "--force"], env=env, capture_output=True,
                           check=False)
    local = runs["local"]["records"] / runs["local"]["seconds"]
    steady = runs["local"]["records"] / runs["local"]["span"]
    print(f"\nRay cluster start-up (once per cluster): {startup:.1f} s\n")
    print("| engine | variants/s, job | vs local | variants/s, shards running | vs local | "
          "job start (s) | job time (s) | process wall (s) |")
    print("|---|---|---|---|---|---|---|---|")
    for name, run in runs.items():
        rate, running = run["records"] / run["seconds"], run["records"] / run["span"]
        print(f"| {name} | {rate:.0f} | {rate / local:.2f} | {running:.0f} | "
              f"{running / steady:.2f} | {run['seconds'] - run['span']:.1f} | "
              f"{run['seconds']:.1f} | {run['wall']:.1f} |")
    print(f"\nOutputs identical (VCF records) on every engine and after resuming: {same}")
    print(f"Resume of the local job, all {args.n // args.shard_size} shards done: "
          f"{resumed['seconds']:.1f} s (the job: {runs['local']['seconds']:.1f} s; process "
          f"{resumed['wall']:.1f} s)")
    print("\n| SNVs (grad_x_input, 1 Ray worker) | worker peak RSS (MiB) | driver peak RSS (MiB) |")
    print("|---|---|---|")
    for n, run in memory.items():
        print(f"| {n} | {run['worker_mib']:.0f} | {run['driver_mib']:.0f} |")
    per_worker = runs["ray, 1 worker(s)"]["records"] / runs["ray, 1 worker(s)"]["seconds"]
    print(f"\nOne worker scores {per_worker:.0f} variants/s here ({os.cpu_count()} CPUs); "
          f"workers share nothing but the work directory, so N workers (one per GPU) score "
          f"about N x the per-worker rate of their device: a cohort of 10 million SNVs takes "
          f"{1e7 / per_worker / 3600:.1f} h on one such worker, "
          f"{1e7 / per_worker / 3600 / 8:.1f} h on 8.")


if __name__ == "__main__":
    main()
