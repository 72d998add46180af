"""In-silico experiments on backgrounds: what a motif does on its own (:func:`marginalize`) and
how two motifs combine at each distance and orientation (:func:`spacing`).

Both implant motif consensus sequences into backgrounds (dinucleotide shuffles of the given
sequences, which keep their composition and lose their motifs), describe the implanted
sequences as rows and hand them to the one batching engine, and report the target's change with
its spread over the backgrounds.
"""
from .marginalize import marginalize
from .spacing import ORIENTATIONS, spacing

__all__ = ["ORIENTATIONS", "marginalize", "spacing"]
