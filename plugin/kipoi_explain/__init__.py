"""kipoi-explain: ask a trained DNA sequence model why it predicts what it predicts.

>>> import kipoi_explain as kx
>>> model = kx.load_model("examples/models/pytorch_cnn")
>>> result = kx.explain(model, "examples/data/sequences.fa", method="deepshap", target="CTCF")
>>> result.scores.shape                                    # (N, L, 4), A, C, G, T

The names below are loaded on first use, so ``import kipoi_explain`` loads neither a deep
learning framework nor gRPC, nor the modules of analyses that are not used.
"""
from __future__ import annotations

import importlib

from ._version import __version__
from .errors import InputError, MissingDependency, UnsupportedOperation

#: Public name -> the module that defines it.
_EXPORTS = {
    "AttentionMaps": "results", "Attribution": "results", "Diagnosis": "results",
    "EntityImportance": "results", "Finding": "results", "Interval": "results",
    "Motif": "results", "MotifMatch": "results", "MotifSet": "results",
    "ModiscoResult": "results",
    "Prediction": "results", "Screen": "results", "Seqlets": "results",
    "Marginalization": "results", "Spacing": "results", "Hits": "results",
    "Evaluation": "results",
    "ExtraInput": "layouts", "FeatureLayout": "layouts", "InputLayout": "layouts",
    "TokenLayout": "layouts",
    "Model": "model",
    "load_model": "backends",
    "register_attention": "attention_registry",
    "SequenceSet": "sequences", "from_bed": "sequences", "from_fasta": "sequences",
    "from_strings": "sequences",
    "Target": "targets",
    "METHODS": "methods", "explain": "methods", "input_gradient": "methods.gradients",
    "predict": "predictions",
    "attention": "attention_maps",
    "diagnose": "diagnostics",
    "entities": "transparent",
    "motifs": "motif", "modisco": "motif.modisco",
    "seqlets": "motif.seqlets",
    "insertion": "screens", "screen": "screens",
    "marginalize": "experiments", "spacing": "experiments",
    "hits": "motif.hits", "ablate_hits": "experiments.ablation",
    "load_patterns": "motif.patterns",
    "score_variants": "variants",
    "evaluate": "evaluation", "simulate": "evaluation",
    "reference_model": "evaluation.reference",
    "cli_main": "cli.main",
}

#: Submodules of function-first operations, exported as modules (``kx.layers.activations``).
_MODULES = ("attention_maps", "layers")

__all__ = ["InputError", "MissingDependency", "UnsupportedOperation", "__version__",
           *_EXPORTS, *_MODULES]


def __getattr__(name: str):
    if name in _MODULES:
        return importlib.import_module(f".{name}", __name__)
    if name not in _EXPORTS:
        raise AttributeError(f"module 'kipoi_explain' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
