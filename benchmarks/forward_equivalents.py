"""Cost of every attribution method in forward-pass equivalents, on the bundled example models.

    python benchmarks/forward_equivalents.py [--n 64] [--repeats 3]

A forward-pass equivalent (FPE) is the method's wall time divided by the time of one batched
forward pass over the same sequences: a ratio that survives noisy, shared machines. Each time is
the best of ``--repeats`` runs after one warm-up run.
"""
from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path


import kipoi_explain as kx

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
MODELS = {"pytorch_cnn": EXAMPLES / "models" / "pytorch_cnn",
          "keras_cnn": EXAMPLES / "models" / "keras_cnn"}
METHODS = {
    "saliency": {},
    "grad_x_input": {},
    "smoothgrad": {"n_samples": 25},
    "integrated_gradients": {"n_steps": 50},
    "expected_gradients": {"n_references": 20},
    "deeplift": {},
    "deepshap": {"n_references": 20},
    "ism": {},
}


def best_time(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=64, help="sequences (default 64)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--methods", nargs="*", default=list(METHODS))
    args = parser.parse_args()

    x = kx.from_fasta(EXAMPLES / "data" / "sequences.fa").onehot[:args.n]
    print(f"# {args.n} sequences of {x.shape[1]} bp; {platform.processor() or platform.machine()}, "
          f"kipoi-explain {kx.__version__}; best of {args.repeats}")
    print(f"{'model':<12} {'method':<22} {'seconds':>9} {'forward s':>10} {'FPE':>9}")
    for model_name, path in MODELS.items():
        model = kx.load_model(path)
        forward = best_time(lambda: model.predict(x), args.repeats)
        for method in args.methods:
            seconds = best_time(lambda: kx.explain(model, x, method, target=0,
                                                   **METHODS[method]), args.repeats)
            print(f"{model_name:<12} {method:<22} {seconds:>9.3f} {forward:>10.4f} "
                  f"{seconds / forward:>9.1f}")


if __name__ == "__main__":
    main()
