"""The attribution methods' options, declared once for every command that runs a method
(``explain``, ``tracks``, ``score-vcf``)."""
from __future__ import annotations

from ..errors import InputError
from ..methods import explain, method_options
from ..methods.integrated_gradients import QUADRATURES
from ..options import keyword_defaults
from .base import Param
from .kinds import COUNT, FLAG, FLOAT, INT, Text, WordOrArray

OPTIONS = "method options (only those of --method apply)"

#: Every method's options, declared once: the flag, the kind, the help.
METHOD_PARAMS = (
    Param("baseline", WordOrArray(("zeros", "uniform", "shuffle", "mean", "pad")),
          "reference: zeros, uniform or shuffle (DNA); zeros or mean (features); pad or zeros "
          "(tokens); or a .npy array", group=OPTIONS),
    Param("n_steps", COUNT, "integrated_gradients steps", group=OPTIONS, limit="max_samples"),
    Param("quadrature_rule", Text(QUADRATURES), "integrated_gradients quadrature",
          group=OPTIONS),
    Param("inputs_baseline", Text(("zeros",)),
          "integrated_gradients: also integrate the differentiable extra inputs, from zeros",
          group=OPTIONS),
    Param("n_references", COUNT, "shuffled references (deepshap, expected_gradients)",
          group=OPTIONS, limit="max_samples"),
    Param("n_samples", COUNT, "smoothgrad noisy samples", group=OPTIONS, limit="max_samples"),
    Param("noise", FLOAT, "smoothgrad noise standard deviation", group=OPTIONS),
    Param("seed", INT, "seed of shuffles and noise", group=OPTIONS),
    Param("start", INT, "ism: first position to mutate", group=OPTIONS),
    Param("end", INT, "ism: end (exclusive) of the window", group=OPTIONS),
    Param("fast", FLAG, "ism: recompute only what each substitution reaches (PyTorch)",
          cli=False),
    Param("window", INT, "occlusion: bases per occluded window", group=OPTIONS),
    Param("stride", INT, "occlusion: step between windows", group=OPTIONS),
    Param("absolute", FLAG, "saliency: the gradient's absolute value", group=OPTIONS),
    Param("correct_gradients", FLAG, "remove the per-position mean over bases from gradients",
          group=OPTIONS),
)



def method_options_given(args, tokens: bool) -> dict:
    """The method options given on the command line, each one the chosen method takes (those
    the sub-command offers: see :attr:`CommandLine.omit`)."""
    given = {p.name: getattr(args, p.name) for p in METHOD_PARAMS
             if p.cli and p.name not in args.line.omit and getattr(args, p.name) is not None}
    method = args.method or keyword_defaults(explain)["method"]
    try:
        allowed = method_options(method, tokens)
    except KeyError:
        raise InputError(f"--method {method}: not a method for this model") from None
    misplaced = sorted(set(given) - set(allowed))
    if misplaced:
        flags = ", ".join("--" + name.replace("_", "-") for name in misplaced)
        raise InputError(f"{flags} do(es) not apply to --method {method}")
    return given
