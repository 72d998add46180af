"""Scored alleles as a bgzipped VCF: one record per ALT, every input record accounted for.

The output is a sites-only VCF (samples are dropped: their genotypes refer to all ALTs of a
record). The header keeps the input's meta-lines and declares the ``KX_`` INFO fields and one
FILTER per reason an allele was not scored. Multi-allelic records are split, their ``Number=A``
and ``Number=R`` INFO values split with them (``Number=G`` values are dropped). An INFO value
that cannot be carried into a split record (its number of values disagrees with its header's
``Number``, or htslib cannot write it) is left out and named in that record's ``KX_DROPPED``;
:attr:`VariantVCFWriter.dropped` counts them.

Records are formatted by htslib and written as text through BGZF, with the input's POS as it
is: positions past 2^31 (long contigs; VCF 4.3 allows 64-bit positions) are kept, and the
index is then a CSI (``.csi``), since a tabix ``.tbi`` holds positions below 2^29 only.

The output is sorted and indexed: a sorted input (each contig in one block,
positions non-decreasing) is written in its own order as records stream in; an unsorted one
is held and sorted in memory (by the header's contig order, then position), which
:attr:`VariantVCFWriter.sorted_input` tells. The file and its index are written under
``.partial`` names and renamed when complete, so an interrupted run never leaves a file that
looks finished.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from ..results import VariantEffect
from ..variants.alleles import OK, STATUSES, open_vcf
from .atomic import finish, partial_path

SCORES = {"ref": "KX_REF", "alt": "KX_ALT", "diff": "KX_DIFF", "logit_diff": "KX_LOGIT_DIFF"}
#: With a null distribution (``score_variants(null=N)``).
CALIBRATED = {"pval": "KX_PVAL", "pctl": "KX_PCTL"}
SCORE_DOCS = {"ref": "prediction for the reference window",
              "alt": "prediction for the alternative window",
              "diff": "alt - ref prediction",
              "logit_diff": "log odds ratio, logit(alt) - logit(ref)"}


class VariantVCFWriter:
    """Context manager writing :class:`~kipoi_explain.results.VariantEffect` records."""

    def __init__(self, path, template_vcf, output_names, method: str | None = None,
                 motifs: bool = False, null: int = 0):
        import pysam

        self.path = Path(path)
        self.partial = partial_path(self.path)
        header = pysam.VariantHeader()
        with open_vcf(template_vcf) as template:
            for record in template.header.records:
                if record.type != "FORMAT":
                    header.add_record(record)
            sites = [(record.chrom, record.pos) for record in template]
        #: Records of the input, for progress and for checking that all are written.
        self.n_records = len(sites)
        # htslib writes only records on declared contigs; inputs need not declare them.
        for contig in dict.fromkeys(chrom for chrom, _ in sites):
            if contig not in header.contigs:
                header.contigs.add(contig)
        #: Whether the input is sorted (else the output is sorted in memory).
        self.sorted_input = _is_sorted(sites)
        self._rank = {name: rank for rank, name in enumerate(header.contigs)}
        self._held = []
        order = "|".join(output_names)
        for key, field in SCORES.items():
            header.info.add(field, ".", "Float", f"kipoi-explain: {SCORE_DOCS[key]}, one value "
                                                 f"per model output in the order {order}")
        if null:
            header.info.add("KX_PVAL", ".", "Float", f"kipoi-explain: empirical p-value of "
                            f"|alt - ref| against {null} matched background SNVs, one value "
                            f"per model output in the order {order}")
            header.info.add("KX_PCTL", ".", "Float", f"kipoi-explain: percentile of |alt - ref| "
                            f"among {null} matched background SNVs, one value per model output")
        header.info.add("KX_STATUS", 1, "String",
                        "kipoi-explain: OK, or why the allele was not scored")
        header.info.add("KX_FASTA_REF", 1, "String",
                        "kipoi-explain: with KX_STATUS=REF_MISMATCH, the bases the reference "
                        "FASTA holds at REF's position")
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
        header.info.add("KX_DROPPED", ".", "String", "kipoi-explain: INFO fields of the input "
                        "record left out of this one: their number of values disagrees with "
                        "their Number, or the value cannot be written")
        for status, doc in STATUSES.items():
            header.filters.add(f"KX_{status}", None, None, f"kipoi-explain: {doc}")
        self.header = header
        self._out = pysam.BGZFile(str(self.partial), "wb")
        self._out.write(str(header).encode())
        self.written = 0
        #: INFO fields left out of split records, and how often.
        self.dropped = Counter()
        #: The index a position this large needs: a CSI instead of a tabix .tbi.
        self._largest = max((pos for _, pos in sites), default=0)
        self.index = f"{self.path}.{'csi' if self._largest >= TBI_LIMIT else 'tbi'}"

    def write(self, effect: VariantEffect) -> None:
        record = effect.record
        # pysam needs two alleles; "." is VCF's own missing ALT, as in the input.
        alleles = (effect.ref, effect.alt if effect.alt is not None else ".")
        info, dropped = _split_info(effect)
        info["KX_STATUS"] = effect.status
        if effect.status == "REF_MISMATCH" and effect.detail:
            info["KX_FASTA_REF"] = effect.detail.split()[2]      # "FASTA has ACG at chr1:4000"
        if effect.status == OK:
            for key, field in SCORES.items():
                info[field] = tuple(float(v) for v in effect.scores[key])
            for key, field in CALIBRATED.items():
                if key in effect.scores:
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
        # htslib formats the record; POS is put in as the input has it, which may exceed
        # the 32 bits pysam takes (the record is made at position 1 with the same length).
        out = self.header.new_record(contig=record.chrom, start=0,
                                     stop=max(1, record.stop - record.start), alleles=alleles,
                                     id=record.id, qual=record.qual, filter=filters or None)
        dropped += [key for key, value in info.items() if not _put(out, key, value)]
        if dropped:
            out.info["KX_DROPPED"] = tuple(dropped)
            self.dropped.update(dropped)
        chrom, _, rest = str(out).split("\t", 2)
        line = f"{chrom}\t{record.pos}\t{rest}"
        if self.sorted_input:
            self._out.write(line.encode())
        else:
            self._held.append((self._rank[record.chrom], record.pos, self.written, line))
        self.written += 1

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, traceback):
        import pysam

        ok = exc_type is None
        index = partial_path(self.index)
        try:
            if ok:
                for *_, line in sorted(self._held, key=lambda held: held[:3]):
                    self._out.write(line.encode())
            self._out.close()
            if ok:
                pysam.tabix_index(str(self.partial), preset="vcf", force=True,
                                  index=str(index), csi=self.index.endswith(".csi"))
        except BaseException:
            ok = False
            raise
        finally:
            finish(self.partial, self.path, ok)
            finish(index, self.index, ok)
        return False


#: Positions a tabix .tbi index holds (2^29); past it the index is a CSI.
TBI_LIMIT = 1 << 29


def _split_info(effect: VariantEffect) -> tuple[dict, list[str]]:
    """The record's INFO values for this allele, and the fields left out because their values
    do not split by their Number (a count that disagrees with it)."""
    record, values, unsplit = effect.record, {}, []
    n_alts = len(record.alts or ())
    for key in record.info.keys():
        number = record.header.info[key].number
        if number == "G":
            continue
        value = record.info[key]
        if number in ("A", "R"):
            if not isinstance(value, tuple) or len(value) != n_alts + (number == "R"):
                unsplit.append(key)
                continue
            if number == "A":
                if effect.alt is None:
                    continue
                value = value[effect.alt_index]
            else:
                value = (value[0], None if effect.alt is None else value[effect.alt_index + 1])
        values[key] = value
    return values, unsplit


def _put(record, key: str, value) -> bool:
    """Set an INFO value on a new record; False when htslib cannot hold it (a value of the
    wrong type or size for its declaration)."""
    try:
        record.info[key] = value
    except (ValueError, TypeError, OverflowError, KeyError):
        return False
    return True


def _is_sorted(sites: list[tuple[str, int]]) -> bool:
    """Whether each contig's records form one block with non-decreasing positions."""
    done, previous = set(), (None, 0)
    for chrom, pos in sites:
        if chrom != previous[0]:
            if chrom in done:
                return False
            done.add(previous[0])
        elif pos < previous[1]:
            return False
        previous = (chrom, pos)
    return True
