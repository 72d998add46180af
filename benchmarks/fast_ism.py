"""Fast ISM against naive ISM: time and equality on the zoo layouts and published models.

    python benchmarks/fast_ism.py [--device cpu] [--positions 100] [--n 1] [--repeats 1]
                                  [--batch-size 128] [--models ...] [--quick]

Both run through ``kx.explain(model, x, "ism")`` on the same PyTorch module, sequences (random,
seeded), batch size and device: fast ISM (``fast=True``, the default, windowed recomputation:
:mod:`kipoi_explain.backends.torch.fast_ism`) and naive batched ISM (``fast=False``, every
mutant through the whole model). Each mutates ``--positions`` central positions (all three
substitutions of each), so that naive ISM on the large models stays affordable on a CPU; the
target is the sum of all outputs (of every head of a model of several). Models
(:mod:`architectures` and :mod:`published`, random weights, seeded):

* ``basset_zoo``: Basset as the Kipoi zoo ports it, ``(N, 4, 600, 1)``, ``Conv2d`` ``(k, 1)``;
* ``beluga_zoo``: DeepSEA / Beluga as the zoo ports it, ``(N, 4, 1, L)``, ``Conv2d`` ``(1, 8)``;
* ``bpnet``, ``chrombpnet``: bpnet-lite's BPNet and ChromBPNet (profile and counts);
* ``enformer``: enformer-pytorch's Enformer, small (width 48, two transformer layers, both
  species heads);
* ``borzoi``: borzoi-pytorch's Borzoi (its fixed convolution tower, one small transformer
  layer, all 7,611 tracks);
* ``basenji2``: basenji2-pytorch's Basenji2 blocks at 16-32 filters.

``--quick`` shrinks the zoo models to a few filters and mutates 30 positions. Each time is the
best of ``--repeats`` runs after one warm-up run. One Markdown table comes out: fast and naive
seconds, the speed-up (naive over fast), both in forward-pass equivalents (FPE: the time over
one batched forward pass of the same sequences), and the largest difference between their
scores next to the largest score. Fast ISM fallbacks (with their reason) are listed below it.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import platform
import sys
import time

import numpy as np
import torch

import kipoi_explain as kx

import architectures as arch
import published
from compare import Notes
from forward_equivalents import best_time

SEED = 0
HEADER = ["model", "input", "length", "mutants", "fast (s)", "naive (s)", "speed-up",
          "fast (FPE)", "naive (FPE)", "max abs diff", "max abs score"]


def basset_zoo(quick: bool) -> tuple:
    """Basset in the zoo's layout: ``(module, length, load_model options)``."""
    net = arch.BassetZoo(600, (32, 24, 24), dense=32, tasks=8) if quick else arch.BassetZoo()
    return arch.initialised(net, SEED), 600, \
        {"layout": kx.InputLayout(alphabet_axis=0, dummy_axis=2)}


def beluga_zoo(quick: bool) -> tuple:
    """Beluga in the zoo's layout (1,000 bp with ``quick``)."""
    length = 1000 if quick else 2000
    net = arch.BelugaZoo(length, (16, 24), dense=32, tasks=8) if quick else \
        arch.BelugaZoo(length)
    return arch.initialised(net, SEED), length, \
        {"layout": kx.InputLayout(alphabet_axis=0, dummy_axis=1)}


def from_package(name: str) -> tuple:
    """A published model of :mod:`published`, loaded as it is (several outputs included)."""
    model = published.BUILDERS[name](SEED)
    return model.module, model.length, model.options


def machine(device: torch.device) -> str:
    if device.type == "cuda":
        where = f"GPU {torch.cuda.get_device_name(device)}"
    else:
        where = f"CPU {platform.processor() or platform.machine()}, " \
                f"{torch.get_num_threads()} threads"
    return f"{where}; kipoi-explain {importlib.metadata.version('kipoi-explain')}, " \
           f"torch {torch.__version__}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--n", type=int, default=1, help="sequences (default 1)")
    parser.add_argument("--positions", type=int, default=None,
                        help="central positions mutated (default 100; 30 with --quick)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--models", nargs="*", default=None,
                        help="basset_zoo beluga_zoo " + " ".join(published.PACKAGES))
    parser.add_argument("--quick", action="store_true",
                        help="small zoo models, 30 positions: a few minutes on two cores")
    args = parser.parse_args()
    positions = args.positions or (30 if args.quick else 100)
    device = torch.device(args.device)
    models = {"basset_zoo": lambda: basset_zoo(args.quick),
              "beluga_zoo": lambda: beluga_zoo(args.quick)}
    models.update({name: lambda name=name: from_package(name)
                   for name, package in published.PACKAGES.items()
                   if importlib.util.find_spec(package) is not None})
    wanted = args.models or list(models)
    began = time.perf_counter()
    print(f"# {machine(device)}")
    print(f"# {args.n} sequence(s), {positions} central positions mutated, batch size "
          f"{args.batch_size}, best of {args.repeats}")
    print("| " + " | ".join(HEADER) + " |")
    print("|" + "|".join("---" for _ in HEADER) + "|")
    notes = Notes()
    for name in wanted:
        net, length, options = models[name]()
        model = kx.load_model(net, input_length=length, device=args.device, name=name,
                              **options)
        x = np.eye(4, dtype=np.float32)[np.random.default_rng(SEED).integers(
            0, 4, size=(args.n, length))]
        window = dict(start=(length - positions) // 2, end=(length + positions) // 2)
        results = {}

        def explain(fast):
            return notes.watching(name, lambda: kx.explain(
                model, x, "ism", target="all", fast=fast, batch_size=args.batch_size,
                **window))()

        print(f"{time.strftime('%H:%M:%S')} {name}", file=sys.stderr, flush=True)
        seconds = {}
        for fast in (True, False):
            seconds[fast] = best_time(lambda: results.__setitem__(fast, explain(fast)),
                                      args.repeats)
        forward = best_time(lambda: model.predict(x, args.batch_size), max(3, args.repeats))
        diff = float(np.abs(results[True].scores - results[False].scores).max())
        scale = float(np.abs(results[False].scores).max())
        shape = "x".join(str(s) for s in model.layout.to_model(x[:1]).shape[1:])
        cells = [name, shape, str(length), str(3 * args.n * positions),
                 f"{seconds[True]:.3g}", f"{seconds[False]:.3g}",
                 f"{seconds[False] / seconds[True]:.3g}", f"{seconds[True] / forward:.3g}",
                 f"{seconds[False] / forward:.3g}", f"{diff:.1e}", f"{scale:.1e}"]
        print("| " + " | ".join(cells) + " |", flush=True)
    for line in notes.lines:
        print(f"- {line}")
    print(f"# {time.perf_counter() - began:.0f} s in all")


if __name__ == "__main__":
    main()
