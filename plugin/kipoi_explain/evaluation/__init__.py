"""Evaluation of explanation methods: which one explains this model best, with numbers.

:func:`evaluate` (exported as ``kipoi_explain.evaluate``) runs each method and scores it
against a ground truth (simulated planted motifs, :func:`simulate`, or known sites) and without
one; :mod:`~kipoi_explain.evaluation.metrics` defines every metric.
"""
from .evaluate import DEFAULT_METHODS, evaluate
from .simulate import simulate

__all__ = ["DEFAULT_METHODS", "evaluate", "simulate"]
