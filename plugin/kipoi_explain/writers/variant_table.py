"""A TSV summary of scored alleles: one row per output VCF record, streamed."""
from __future__ import annotations

import csv
from pathlib import Path

from ..results import VariantEffect
from .atomic import finish, partial_path

SCORE_KEYS = ("ref", "alt", "diff", "logit_diff")


class VariantTableWriter:
    """Context manager writing one row per allele: identity, status, scores per output (with
    ``null``, their p-value and percentile too) and, with attributions, the change of
    importance near the variant and over the window."""

    def __init__(self, path, output_names, null: bool = False):
        self.path = Path(path)
        self.keys = SCORE_KEYS + (("pval", "pctl") if null else ())
        self.partial = partial_path(self.path)
        self._handle = open(self.partial, "w", newline="")
        self._rows = csv.writer(self._handle, delimiter="\t")
        self.output_names = list(output_names)
        self._rows.writerow(["chrom", "pos", "id", "ref", "alt", "status"]
                            + [f"{name}:{key}" for name in self.output_names
                               for key in self.keys]
                            + ["attr_local", "attr_total", "motif_id", "motif_name",
                               "motif_delta", "status_detail"])

    def write(self, effect: VariantEffect) -> None:
        scores = [f"{effect.scores[key][i]:.6g}" if effect.scores else ""
                  for i in range(len(self.output_names)) for key in self.keys]
        attribution = [f"{effect.attribution[k]:.6g}" for k in ("local", "total")] \
            if effect.attribution else ["", ""]
        motif = [effect.motif["id"], effect.motif["name"], f"{effect.motif['delta']:.4g}"] \
            if effect.motif else ["", "", ""]
        self._rows.writerow([effect.chrom, effect.pos, effect.id or ".", effect.ref,
                             effect.alt or ".", effect.status, *scores, *attribution, *motif,
                             effect.detail or ""])

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, traceback):
        self._handle.close()
        finish(self.partial, self.path, exc_type is None)
        return False
