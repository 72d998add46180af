"""Throughput and memory of variant scoring on the bundled example model and genome.

    python benchmarks/variants.py [--n 100000] [--n-attr 10000] [--chunk-size 256]

Writes ``--n`` random SNVs (seeded; REF from the FASTA; positions at least one model window
away from the contig ends) to a VCF in a temporary directory, then streams
:func:`kipoi_explain.variants.score_variants` over them without attributions, and over the
first ``--n-attr`` of them with ``method="grad_x_input"``. Prints variants per second and peak
memory: the process's peak RSS (``ru_maxrss``) before and after each run and, with
``--tracemalloc`` (which slows the Python side), the peak of Python allocations during the run
(numpy buffers included; torch's own allocator is not traced). Scoring streams in chunks, so
neither should grow with ``--n``.
"""
from __future__ import annotations

import argparse
import platform
import resource
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from pathlib import Path

import numpy as np

import kipoi_explain as kx
from kipoi_explain.variants import score_variants

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
MODEL = EXAMPLES / "models" / "pytorch_cnn"
GENOME = EXAMPLES / "data" / "genome.fa"


def maxrss_mib() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 1024     # bytes on macOS


def write_snvs(path: Path, n: int, margin: int, seed: int = 0) -> None:
    """``n`` SNVs, REF from the genome, sorted by contig and position."""
    import pyfaidx

    fasta = pyfaidx.Fasta(str(GENOME), as_raw=True)
    contigs = {name: fasta[name][:].upper() for name in fasta.keys()}
    rng = np.random.default_rng(seed)
    names = list(contigs)
    which = rng.integers(0, len(names), size=n)
    lines = ["##fileformat=VCFv4.2"]
    lines += [f"##contig=<ID={name},length={len(seq)}>" for name, seq in contigs.items()]
    lines.append("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO")
    for c, name in enumerate(names):
        seq = contigs[name]
        k = int((which == c).sum())
        positions = np.sort(rng.integers(margin + 1, len(seq) - margin, size=k))
        shifts = rng.integers(1, 4, size=k)
        for i, (pos, shift) in enumerate(zip(positions, shifts)):
            ref = seq[pos - 1]
            alt = "ACGT"["ACGT".index(ref) + shift & 3] if ref in "ACGT" else "A"
            lines.append(f"{name}\t{pos}\t{name}_{i}\t{ref}\t{alt}\t.\tPASS\t.")
    path.write_text("\n".join(lines) + "\n")


def run(model, vcf: Path, label: str, trace: bool = False, **kwargs) -> None:
    rss_before = maxrss_mib()
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    statuses, n = Counter(), 0
    for effect in score_variants(model, vcf, GENOME, **kwargs):
        statuses[effect.status] += 1
        n += 1
    elapsed = time.perf_counter() - started
    traced = ""
    if trace:
        traced = f"; tracemalloc peak {tracemalloc.get_traced_memory()[1] / 2**20:.1f} MiB"
        tracemalloc.stop()
    print(f"{label}: {n} variants in {elapsed:.1f} s = {n / elapsed:,.0f} variants/s; "
          f"statuses {dict(statuses)}; peak RSS {rss_before:.0f} -> {maxrss_mib():.0f} MiB"
          f"{traced}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="SNVs without attributions")
    parser.add_argument("--n-attr", type=int, default=10_000,
                        help="SNVs (the first of the --n) scored with grad_x_input")
    parser.add_argument("--chunk-size", type=int, default=256)
    parser.add_argument("--tracemalloc", action="store_true",
                        help="also trace the peak of Python allocations (slower)")
    args = parser.parse_args()

    import torch

    model = kx.load_model(MODEL)
    print(f"kipoi-explain {kx.__version__}, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), Python {platform.python_version()}, "
          f"{platform.machine()}; model {model.name} (L={model.input_length}, "
          f"{len(model.output_names)} outputs), chunk_size={args.chunk_size}")
    with tempfile.TemporaryDirectory() as tmp:
        vcf = Path(tmp) / "snvs.vcf"
        started = time.perf_counter()
        write_snvs(vcf, args.n, margin=model.input_length)
        print(f"wrote {args.n} SNVs in {time.perf_counter() - started:.1f} s")
        run(model, vcf, "scores only", args.tracemalloc, chunk_size=args.chunk_size)
        if args.n_attr:
            subset = Path(tmp) / "subset.vcf"
            with open(vcf) as source, open(subset, "w") as out:
                kept = 0
                for line in source:
                    if not line.startswith("#"):
                        if kept == args.n_attr:
                            break
                        kept += 1
                    out.write(line)
            note = "" if args.n_attr >= args.n else f" (subset: first {kept} of {args.n})"
            run(model, subset, f"grad_x_input{note}", args.tracemalloc, method="grad_x_input",
                chunk_size=args.chunk_size)


if __name__ == "__main__":
    main()
