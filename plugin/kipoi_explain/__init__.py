"""kipoi-explain: ask a trained DNA sequence model why it predicts what it predicts.

>>> import kipoi_explain as kx
>>> model = kx.load_model("examples/models/pytorch_cnn")
>>> result = kx.explain(model, "examples/data/sequences.fa", method="deepshap", target="CTCF")
>>> result.scores.shape                                    # (N, L, 4), A, C, G, T
"""
from ._version import __version__
from .adapters import ExtraInput, FeatureLayout, InputLayout, Model, TokenLayout, load_model
from .adapters.attention_registry import register_attention
from .attention_maps import attention
from .cli import cli_main
from .diagnostics import diagnose
from .errors import InputError, UnsupportedOperation
from .methods import METHODS, explain
from .motif import motifs
from .motif.seqlets import seqlets
from .results import (AttentionMaps, Attribution, EntityImportance, Diagnosis, Finding, Interval, Motif, MotifMatch, MotifSet,
                      Screen, Seqlets)
from .screens import insertion, screen
from .sequences import SequenceSet, from_bed, from_fasta, from_strings
from .targets import Target
from .transparent import entities

__all__ = ["AttentionMaps", "Attribution", "ExtraInput", "FeatureLayout", "TokenLayout", "Diagnosis", "EntityImportance", "Finding", "InputError", "InputLayout", "Interval",
           "METHODS", "Model", "Motif", "MotifMatch", "MotifSet", "Screen", "SequenceSet", "Seqlets",
           "Target", "UnsupportedOperation", "__version__", "attention", "cli_main", "diagnose", "entities", "explain",
           "from_bed", "from_fasta", "from_strings", "insertion", "load_model", "motifs",
           "register_attention", "screen", "seqlets"]
