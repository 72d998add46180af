"""kipoi-explain against Captum and tangermeme: time and equality of the same attributions.

    python benchmarks/compare.py [--device auto] [--n 8] [--n-ism 1] [--repeats 1]
                                 [--batch-size auto] [--quick]

Needs the ``benchmarks`` extra (``pip install kipoi-explain[benchmarks]``: Captum and
tangermeme). Models (:mod:`architectures`, random weights, seeded, explained at output 0):
Basset's architecture and a BPNet-like dilated residual network with a count head, at 1,000 bp.
Every library gets the same network, the same sequences (random, seeded), the same batch size
(by default kipoi-explain's automatic size for the network and device) and the same device,
and returns its result on the host:

* ``deepshap``, 20 dinucleotide-shuffled references per sequence: ours shuffles them itself
  (``kx.explain(..., "deepshap", n_references=20)``); tangermeme's ``deep_lift_shap`` and
  Captum's ``DeepLiftShap`` are given those same references (Captum, whose references are
  shared by all inputs, one call per sequence). Our contributions ``m * (x - ref)`` are
  compared with Captum's, our hypothetical contributions at the present base with
  tangermeme's (its default output).
* ``integrated_gradients``, 50 Gauss-Legendre steps from all-zero input, against Captum's
  ``IntegratedGradients``.
* ``saliency`` (absolute gradient) against Captum's ``Saliency``.
* ``ism`` (every substitution of every position) against tangermeme's
  ``saturation_mutagenesis`` (its raw outputs: it decides itself whether to use its own fast
  ISM) and, where kipoi-explain has fast ISM, against ours made naive: the same network behind
  a plain predict function, which ISM can only run mutant by mutant.

Known difference: Captum 0.9's DeepLIFT loses its max-pool rule where a ReLU module feeds the
``MaxPool1d`` (as in Basset): its multipliers through the pool are plain gradients (the stale
output gradient of adjacent hooked modules, meta-pytorch/captum#1104), so its DeepSHAP scores
on Basset break summation-to-delta and differ from ours and tangermeme's, which agree. Without
max pooling (the BPNet-like network) all three agree.

Published architectures (``--published``, :mod:`published`: the authors' own classes from
bpnet-lite and enformer-pytorch, random seeded weights): DeepSHAP on ChromBPNet (at its
published size unless ``--quick``; the count head) and on an Enformer-class model (narrower and
shallower than Enformer, whose 196 kb input does not fit a CPU benchmark; the human head, one
track over the two central bins), with the same references for every library, in a second
table that adds each library's completeness error: ``max |sum of scores - (f(x) - mean
f(ref))|``. tangermeme gets the rules bpnet-lite registers for ChromBPNet's ``_Exp``/``_Log``;
it has none for Enformer's GELU module, softmax or attention products, and warns. Captum's
DeepLiftShap has no rule for them either.

At defaults (a third table): our DeepSHAP, 20 references, with nothing else set (the model's
automatic block size) against tangermeme's ``deep_lift_shap`` with its defaults (20 shuffles,
blocks of 32), on Basset and the BPNet-like network: time only (their shuffles are not ours).

Each time is the best of ``--repeats`` runs after one warm-up run. One table comes out, in
Markdown: ratio is their time over ours (above 1: ours is faster); FPE, ours in forward-pass
equivalents (its time over one batched forward pass over the same sequences); max abs diff,
the largest difference between their scores and ours, next to the largest score. Their
warnings and our fast-ISM fallbacks are listed below the table.

The CPU defaults (8 sequences, 1 for ISM, which mutates each of them 3,000 times) keep a run
to a few minutes on two cores.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import logging
import platform
import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np
import torch

import kipoi_explain as kx
from kipoi_explain.methods.references import references

import published
from architectures import models
from forward_equivalents import best_time

TARGET, N_REFERENCES, N_STEPS, SEED = 0, 20, 50, 0
#: Equality tolerance of every comparison (float32 scores).
TOLERANCE = 1e-4


@dataclass
class Row:
    method: str
    model: str
    length: int
    ours: float
    library: str
    theirs: float
    forward: float
    diff: float
    scale: float

    def cells(self) -> list[str]:
        return [self.method, self.model, str(self.length), f"{self.ours:.3g}",
                f"{self.library}: {self.theirs:.3g}", f"{self.theirs / self.ours:.3g}",
                f"{self.ours / self.forward:.3g}", f"{self.diff:.1e}", f"{self.scale:.1e}"]


HEADER = ["method", "model", "length", "ours (s)", "theirs (library: s)", "ratio theirs/ours",
          "ours (FPE)", "max abs diff", "max abs score"]


def timed(label: str, fn, repeats: int):
    """Best time of ``fn`` (see :func:`forward_equivalents.best_time`) and its last result;
    ``label`` goes to stderr first, to show where a long run is."""
    print(f"{time.strftime('%H:%M:%S')} {label}", file=sys.stderr, flush=True)
    result = {}

    def call():
        result["value"] = fn()

    return best_time(call, repeats), result["value"]


class Notes:
    """Warnings raised (but Captum's routine ones) and kipoi-explain log records made while a
    library runs, once each."""

    def __init__(self):
        self.lines: list[str] = []

    def watching(self, label: str, fn):
        def run():
            records = []
            handler = logging.Handler(logging.WARNING)
            handler.emit = records.append
            logger = logging.getLogger("kipoi_explain")
            logger.addHandler(handler)
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    value = fn()
            finally:
                logger.removeHandler(handler)
            # Captum warns on every call that it sets hooks and that the input needs gradients.
            messages = [str(w.message) for w in caught if "captum" not in w.filename]
            for message in messages + [r.getMessage() for r in records]:
                line = f"{label}: {' '.join(message.split())[:300]}"
                if line not in self.lines:
                    self.lines.append(line)
            return value

        return run


def compare_model(name: str, net: torch.nn.Module, length: int, args, device: torch.device,
                  notes: Notes) -> list[Row]:
    """Every comparison on one network."""
    from captum.attr import DeepLiftShap, IntegratedGradients, Saliency
    from tangermeme.deep_lift_shap import deep_lift_shap
    from tangermeme.saturation_mutagenesis import saturation_mutagenesis

    layout = kx.InputLayout(alphabet_axis=0)
    model = kx.load_model(net, input_length=length, layout=layout, device=str(device),
                          batch_size=args.batch_size, name=name)
    # "auto" is resolved for this network; every library then gets the same number.
    batch_size = model.batch_size
    notes.lines.append(f"batch size on {name}: {batch_size} rows")
    rng = np.random.default_rng(SEED)
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (args.n, length))]
    x_ism = x[:args.n_ism]

    def channels_first(a):
        return torch.tensor(a.transpose(0, 2, 1).copy(), device=device)

    def host(t):
        return t.detach().cpu().numpy().transpose(0, 2, 1)

    X, X_ism = channels_first(x), channels_first(x_ism)
    # The unit of FPE: cheap, so timed more often than the methods, which steadies it.
    forward = best_time(lambda: model.predict(x), max(5, args.repeats))
    forward_ism = best_time(lambda: model.predict(x_ism), max(5, args.repeats))
    rows = []

    def row(method, library, ours, theirs, ours_scores, their_scores, x_forward=forward):
        rows.append(Row(method, name, length, ours, library, theirs, x_forward,
                        float(np.abs(ours_scores - their_scores).max()),
                        float(np.abs(ours_scores).max())))

    def ours(method, inputs, on=model, **options):
        label = f"ours {method} ({on.name})"
        return timed(label, notes.watching(label, lambda: kx.explain(
            on, inputs, method, target=TARGET, **options)), args.repeats)

    def theirs(label, fn):
        label = f"{label} ({name})"
        return timed(label, notes.watching(label, fn), args.repeats)

    # DeepSHAP: ours makes its shuffles; the others get the very same references.
    t_ours, a = ours("deepshap", x, n_references=N_REFERENCES, seed=SEED)
    refs = references(x, "shuffle", N_REFERENCES, SEED)
    refs_t = torch.tensor(refs.transpose(0, 1, 3, 2).copy(), device=device)
    t_tm, tm = theirs("tangermeme deep_lift_shap", lambda: host(deep_lift_shap(
        net, X, target=TARGET, references=refs_t, batch_size=batch_size, device=device)))
    row("deepshap", "tangermeme", t_ours, t_tm, a.hypothetical * x, tm)
    shap = DeepLiftShap(net)
    t_cp, cp = theirs("captum DeepLiftShap", lambda: np.concatenate([host(shap.attribute(
        X[i:i + 1], baselines=refs_t[i], target=TARGET)) for i in range(len(x))]))
    row("deepshap", "captum", t_ours, t_cp, a.scores, cp)

    t_ours, a = ours("integrated_gradients", x, n_steps=N_STEPS, baseline="zeros",
                     quadrature_rule="gausslegendre")
    ig = IntegratedGradients(net)
    t_cp, cp = theirs("captum IntegratedGradients", lambda: host(ig.attribute(
        X, baselines=torch.zeros_like(X), target=TARGET, n_steps=N_STEPS,
        method="gausslegendre", internal_batch_size=batch_size)))
    row("integrated_gradients", "captum", t_ours, t_cp, a.scores, cp)

    t_ours, a = ours("saliency", x, absolute=True)
    saliency = Saliency(net)
    t_cp, cp = theirs("captum Saliency", lambda: host(saliency.attribute(
        X, target=TARGET, abs=True)))
    row("saliency", "captum", t_ours, t_cp, a.scores, cp)

    t_ours, a = ours("ism", x_ism)

    def tangermeme_ism():
        y0, y_hat = saturation_mutagenesis(net, X_ism, batch_size=batch_size,
                                           device=device, raw_outputs=True)
        # (N, 4, L, outputs) mutants and (N, outputs) originals: the target's effects.
        effect = y_hat[..., TARGET] - y0[:, None, None, TARGET]
        return effect.cpu().numpy().transpose(0, 2, 1)

    t_tm, tm = theirs("tangermeme saturation_mutagenesis", tangermeme_ism)
    row("ism", "tangermeme", t_ours, t_tm, a.scores, tm, forward_ism)
    if importlib.util.find_spec("kipoi_explain.backends.torch.fast_ism") is not None:
        def predict(batch):
            with torch.no_grad():
                return net(torch.tensor(batch, device=device)).cpu().numpy()

        naive = kx.load_model(predict, input_length=length, layout=layout,
                              batch_size=batch_size, name=f"{name} (naive)")
        t_naive, b = ours("ism", x_ism, on=naive)
        row("ism", "naive ISM (ours)", t_ours, t_naive, a.scores, b.scores, forward_ism)
    return rows


@dataclass
class PublishedRow:
    method: str
    model: str
    length: int
    ours: float
    library: str
    theirs: float | None
    our_error: float
    their_error: float | None
    diff: float | None
    scale: float

    def cells(self) -> list[str]:
        failed = self.theirs is None
        return [self.method, self.model, str(self.length), f"{self.ours:.3g}",
                f"{self.library}: " + ("error" if failed else f"{self.theirs:.3g}"),
                "-" if failed else f"{self.theirs / self.ours:.3g}", f"{self.our_error:.1e}",
                "-" if self.their_error is None else f"{self.their_error:.1e}",
                "-" if self.diff is None else f"{self.diff:.1e}", f"{self.scale:.1e}"]


PUBLISHED_HEADER = ["method", "model", "length", "ours (s)", "theirs (library: s)",
                    "ratio theirs/ours", "ours: completeness error",
                    "theirs: completeness error", "max abs diff", "max abs score"]


class Picked(torch.nn.Module):
    """One number per sequence from a model's outputs (the target every library explains):
    ``pick(outputs)`` of shape ``(N,)``, returned as ``(N, 1)``; the input is channels first,
    as tangermeme requires, and handed to a channels-last model transposed."""

    def __init__(self, net, pick, channels_last: bool):
        super().__init__()
        self.net, self.pick, self.channels_last = net, pick, channels_last

    def forward(self, inputs):
        return self.pick(self.net(inputs.transpose(1, 2) if self.channels_last else inputs)
                         ).reshape(-1, 1)


def published_cases(quick: bool) -> list[tuple]:
    """``(architecture, target, bins, pick, channels_last, tangermeme's extra rules)`` of each
    published model compared."""
    from bpnetlite.chrombpnet import _Exp, _Log
    from tangermeme.deep_lift_shap import _nonlinear

    chrom = (published.chrombpnet(SEED) if quick else published.chrombpnet(
        SEED, length=2114, filters=512, layers=8, bias_filters=128, bias_layers=4, output=1000))
    bins = 4 if quick else 16
    enformer = published.enformer(SEED, bins=bins, dim=48 if quick else 96,
                                  depth=1 if quick else 2)
    centre = (bins // 2 - 1, bins // 2 + 1)
    return [(chrom, "counts", None, lambda out: out[1][:, 0], False,
             {_Exp: _nonlinear, _Log: _nonlinear}),
            (enformer, "human:output_0", centre,
             lambda out: out["human"][:, centre[0]:centre[1], 0].sum(1), True, None)]


def compare_published(case, args, device: torch.device, notes: Notes) -> list[PublishedRow]:
    """DeepSHAP on one published architecture: ours, tangermeme's and Captum's, with the same
    references, and each one's completeness error."""
    from captum.attr import DeepLiftShap
    from tangermeme.deep_lift_shap import deep_lift_shap

    arch, target, bins, pick, channels_last, extra_rules = case
    model = kx.load_model(arch.module, input_length=arch.length, name=arch.name,
                          device=str(device), **arch.options)
    spec = model.target(target, bins=bins)
    net = Picked(arch.module, pick, channels_last).to(device)
    x = np.eye(4, dtype=np.float32)[np.random.default_rng(SEED).integers(
        0, 4, (args.n_published, arch.length))]
    refs = references(x, "shuffle", N_REFERENCES, SEED)
    f_x = spec.apply(model.predict(x))
    f_refs = spec.apply(model.predict(refs.reshape(-1, *x.shape[1:])))
    delta = f_x - f_refs.reshape(len(x), -1).mean(1)

    def tensor(a):
        return torch.tensor(np.swapaxes(a, -1, -2).copy(), device=device)

    def host(t):
        return np.swapaxes(t.detach().cpu().numpy(), -1, -2)

    def error(scores):
        return float(np.abs(scores.sum((1, 2)) - delta).max())

    label = f"ours deepshap ({arch.name})"
    t_ours, ours = timed(label, notes.watching(label, lambda: kx.explain(
        model, x, "deepshap", target=target, bins=bins, n_references=N_REFERENCES,
        seed=SEED)), args.repeats)
    rows = []

    def row(library, seconds, scores, compared):
        rows.append(PublishedRow(
            "deepshap", arch.name, arch.length, t_ours, library, seconds, error(ours.scores),
            None if scores is None else error(scores),
            None if scores is None else float(np.abs(compared - scores).max()),
            float(np.abs(ours.scores).max())))

    def attempt(library, fn):
        label = f"{library} ({arch.name})"
        try:
            return timed(label, notes.watching(label, fn), args.repeats)
        except Exception as err:  # noqa: BLE001 - their failure is a finding of the table
            message = " ".join(str(err).split())[:300]
            notes.lines.append(f"{label}: {type(err).__name__}: {message}")
            return None, None

    refs_t = tensor(refs)
    seconds, theirs = attempt("tangermeme deep_lift_shap", lambda: host(deep_lift_shap(
        net, tensor(x), target=0, references=refs_t, batch_size=model.batch_size,
        device=device, additional_nonlinear_ops=extra_rules, warning_threshold=1e9)))
    row("tangermeme", seconds, theirs, ours.hypothetical * x)
    shap = DeepLiftShap(net)
    seconds, theirs = attempt("captum DeepLiftShap", lambda: np.concatenate([host(
        shap.attribute(tensor(x[i:i + 1]), baselines=refs_t[i], target=0))
        for i in range(len(x))]))
    row("captum", seconds, theirs, ours.scores)
    return rows


def compare_defaults(name: str, net: torch.nn.Module, length: int, args,
                     device: torch.device, notes: Notes) -> tuple[float, float, int]:
    """Our DeepSHAP with nothing set but its 20 references, and tangermeme's at its defaults:
    both times, and the block size ours chose."""
    from tangermeme.deep_lift_shap import deep_lift_shap

    model = kx.load_model(net, input_length=length, layout=kx.InputLayout(alphabet_axis=0),
                          device=str(device), name=name)
    x = np.eye(4, dtype=np.float32)[np.random.default_rng(SEED).integers(0, 4, (args.n, length))]
    label = f"ours deepshap at defaults ({name})"
    t_ours, _ = timed(label, notes.watching(label, lambda: kx.explain(
        model, x, "deepshap", n_references=N_REFERENCES)), args.repeats)
    X = torch.tensor(x.transpose(0, 2, 1).copy(), device=device)
    label = f"tangermeme deep_lift_shap at defaults ({name})"
    t_tm, _ = timed(label, notes.watching(label, lambda: deep_lift_shap(
        net, X, target=TARGET, device=device)), args.repeats)
    return t_ours, t_tm, model.batch_size


def print_table(header: list[str], rows) -> None:
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(row.cells() if hasattr(row, "cells") else row) + " |")


def machine(device: torch.device) -> str:
    """The processor (or GPU) and the versions of what is compared."""
    if device.type == "cuda":
        where = f"GPU {torch.cuda.get_device_name(device)}"
    else:
        where = platform.processor() or platform.machine()
        try:
            with open("/proc/cpuinfo") as handle:
                where = next(line.split(":", 1)[1].strip() for line in handle
                             if line.startswith("model name"))
        except (OSError, StopIteration):
            pass
        where = f"CPU {where}, {torch.get_num_threads()} threads"
    versions = ", ".join(f"{package} {importlib.metadata.version(package)}"
                         for package in ("kipoi-explain", "torch", "captum", "tangermeme"))
    return f"{where}; {versions}"


def batch_size(text: str):
    """``--batch-size``: ``auto`` or a positive number of rows."""
    if text == "auto":
        return text
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected auto or a positive number of rows")
    return int(text)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    parser.add_argument("--n", type=int, default=None,
                        help="sequences for the gradient methods (default 8 on CPU, 64 on GPU)")
    parser.add_argument("--n-ism", type=int, default=None,
                        help="sequences for ISM (default 1 on CPU, 16 on GPU)")
    parser.add_argument("--length", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=1,
                        help="timed runs after the warm-up; the best counts (default 1)")
    parser.add_argument("--batch-size", default="auto", type=batch_size,
                        help="rows per block, the same for every library: a number, or auto "
                             "(default): kipoi-explain's automatic size for each network")
    parser.add_argument("--models", nargs="*", default=None, help="basset, bpnet_like")
    parser.add_argument("--published", nargs="*", default=None,
                        help="published architectures to compare DeepSHAP on: chrombpnet, "
                             "enformer (default both; none: skip)")
    parser.add_argument("--n-published", type=int, default=2,
                        help="sequences for the published architectures (default 2)")
    parser.add_argument("--quick", action="store_true",
                        help="small networks at 200 bp, 2 sequences: a smoke test")
    args = parser.parse_args(argv)

    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(args.device)
    gpu = device.type == "cuda"
    if args.quick:
        args.length = 200
    args.n = args.n or (2 if args.quick else 64 if gpu else 8)
    args.n_ism = min(args.n, args.n_ism or (1 if args.quick or not gpu else 16))
    networks = models(args.length, quick=args.quick, seed=SEED)
    names = args.models or list(networks)

    notes = Notes()
    start = time.perf_counter()
    rows = [row for name in names for row in compare_model(
        name, networks[name], args.length, args, device, notes)]
    print(f"# {machine(device)}")
    print(f"# {args.n} sequences ({args.n_ism} for ism) of {args.length} bp, batch size "
          f"{args.batch_size} (see below), best of {args.repeats} after a warm-up; target "
          f"output {TARGET}; "
          f"deepshap {N_REFERENCES} references, integrated_gradients {N_STEPS} steps")
    print_table(HEADER, rows)
    published_rows = []
    wanted = ("chrombpnet", "enformer") if args.published is None else tuple(args.published)
    if wanted:
        cases = {case[0].name.lower(): case for case in published_cases(args.quick)}
        published_rows = [row for name in wanted for row in compare_published(
            cases[name], args, device, notes)]
        print(f"# DeepSHAP on published architectures: {args.n_published} sequences, "
              f"{N_REFERENCES} references, the same for every library")
        print_table(PUBLISHED_HEADER, published_rows)
    defaults = []
    for name in names:
        t_ours, t_tm, rows_per_block = compare_defaults(name, networks[name], args.length, args,
                                                        device, notes)
        defaults.append([name, str(args.length), f"{t_ours:.3g}", f"{t_tm:.3g}",
                         f"{t_tm / t_ours:.3g}", str(rows_per_block)])
    print(f"# DeepSHAP at defaults: {args.n} sequences, {N_REFERENCES} references")
    print_table(["model", "length", "ours (s)", "tangermeme (s)", "ratio theirs/ours",
                 "our block size"], defaults)
    unequal = [row for row in rows if not row.diff <= TOLERANCE]
    for row in unequal:
        print(f"! {row.method} on {row.model}: {row.library} differs from ours by "
              f"{row.diff:.1e} > {TOLERANCE:g}")
    for line in notes.lines:
        print(f"- {line}")
    print(f"# {time.perf_counter() - start:.0f} s in all")


if __name__ == "__main__":
    main()
