"""Scored alleles as a bgzipped VCF: one record per ALT, every input record accounted for.

The output is a sites-only VCF (samples are dropped: their genotypes refer to all ALTs of a
record). The header keeps the input's meta-lines and declares the ``KX_`` INFO fields and one
FILTER per reason an allele was not scored. Multi-allelic records are split, their ``Number=A``
and ``Number=R`` INFO values split with them (``Number=G`` values are dropped). The file is
written under a ``.partial`` name and renamed when complete, so an interrupted run never leaves
a file that looks finished.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError
from ..results import VariantEffect
from ..variants.alleles import OK, STATUSES, open_vcf

SCORES = {"ref": "KX_REF", "alt": "KX_ALT", "diff": "KX_DIFF", "logit_diff": "KX_LOGIT_DIFF"}
SCORE_DOCS = {"ref": "prediction for the reference window",
              "alt": "prediction for the alternative window",
              "diff": "alt - ref prediction",
              "logit_diff": "log odds ratio, logit(alt) - logit(ref)"}


class VariantVCFWriter:
    """Context manager writing :class:`~kipoi_explain.results.VariantEffect` records."""

    def __init__(self, path, template_vcf, output_names, method: str | None = None,
                 motifs: bool = False):
        import pysam

        self.path = Path(path)
        self.partial = self.path.with_name(self.path.name + ".partial")
        header = pysam.VariantHeader()
        with open_vcf(template_vcf) as template:
            for record in template.header.records:
                if record.type != "FORMAT":
                    header.add_record(record)
            try:
                chroms = [record.chrom for record in template]
            except (OSError, ValueError) as err:
                raise InputError(f"VCF {str(template_vcf)!r} cannot be read: {err}") from err
        #: Records of the input, for progress and for checking that all are written.
        self.n_records = len(chroms)
        # htslib writes only records on declared contigs; inputs need not declare them.
        for contig in dict.fromkeys(chroms):
            if contig not in header.contigs:
                header.contigs.add(contig)
        order = "|".join(output_names)
        for key, field in SCORES.items():
            header.info.add(field, ".", "Float", f"kipoi-explain: {SCORE_DOCS[key]}, one value "
                                                 f"per model output in the order {order}")
        header.info.add("KX_STATUS", 1, "String",
                        "kipoi-explain: OK, or why the allele was not scored")
        if method is not None:
            header.info.add("KX_ATTR_LOCAL", 1, "Float", f"kipoi-explain: change of {method} "
                            "importance near the variant (alt on reference coordinates - ref)")
            header.info.add("KX_ATTR_TOTAL", 1, "Float", f"kipoi-explain: change of {method} "
                            "importance over the window")
        if motifs:
            header.info.add("KX_MOTIF", 1, "String", "kipoi-explain: database motif (ID|name) "
                            "with a site (p <= 1e-4) in either allele whose best score over "
                            "placements overlapping the variant changes most")
            header.info.add("KX_MOTIF_DELTA", 1, "Float", "kipoi-explain: that change of the "
                            "best log-odds score, alt - ref, in bits (negative: disrupted, "
                            "positive: created)")
            header.info.add("KX_MOTIF_LOG10P", 1, "Float", "kipoi-explain: change of the "
                            "site's -log10 p-value, alt - ref (how motifs are ranked)")
        for status, doc in STATUSES.items():
            header.filters.add(f"KX_{status}", None, None, f"kipoi-explain: {doc}")
        self.header = header
        self._out = pysam.VariantFile(str(self.partial), "wz", header=header)
        self.written = 0

    def write(self, effect: VariantEffect) -> None:
        record = effect.record
        # pysam needs two alleles; "." is VCF's own missing ALT, as in the input.
        alleles = (effect.ref, effect.alt if effect.alt is not None else ".")
        info = self._split_info(effect)
        info["KX_STATUS"] = effect.status
        if effect.status == OK:
            for key, field in SCORES.items():
                info[field] = tuple(float(v) for v in effect.scores[key])
            if effect.attribution is not None:
                info["KX_ATTR_LOCAL"] = float(effect.attribution["local"])
                info["KX_ATTR_TOTAL"] = float(effect.attribution["total"])
            if effect.motif is not None:
                info["KX_MOTIF"] = f"{effect.motif['id']}|{effect.motif['name']}".replace(
                    " ", "_").replace(";", "_")
                info["KX_MOTIF_DELTA"] = effect.motif["delta"]
                info["KX_MOTIF_LOG10P"] = effect.motif["log10_p_change"]
        filters = list(record.filter.keys())
        if effect.status != OK:
            filters = [f for f in filters if f != "PASS"] + [f"KX_{effect.status}"]
        out = self._out.new_record(contig=record.chrom, start=record.start, stop=record.stop,
                                   alleles=alleles,
                                   id=record.id, qual=record.qual, filter=filters or None,
                                   info=info)
        self._out.write(out)
        self.written += 1

    def _split_info(self, effect: VariantEffect) -> dict:
        record, values = effect.record, {}
        for key in record.info.keys():
            number = record.header.info[key].number
            if number == "G":
                continue
            value = record.info[key]
            if number == "A":
                if effect.alt is None:
                    continue
                value = value[effect.alt_index]
            elif number == "R":
                value = (value[0], None if effect.alt is None else value[effect.alt_index + 1])
            values[key] = value
        return values

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, traceback):
        self._out.close()
        if exc_type is None:
            os.replace(self.partial, self.path)
        return False
