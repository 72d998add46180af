"""Scored-variant outputs: bgzipped VCF (read back with cyvcf2), TSV, HDF5, and the CLI."""
import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import kipoi_explain as kx
from kipoi_explain.variants import STATUSES, score_variants
from kipoi_explain.writers.variant_hdf5 import VariantAttributionWriter, read_variant_attribution
from kipoi_explain.writers.variant_table import VariantTableWriter
from kipoi_explain.writers.vcf import VariantVCFWriter

from conftest import SPEC_VCF, other

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
MODEL = EXAMPLES / "models" / "pytorch_cnn"
GENOME = EXAMPLES / "data" / "genome.fa"
OUTPUTS = ["CTCF", "HNF4A", "CEBPB"]

HEADER = """##fileformat=VCFv4.2
##contig=<ID=chr1,length=30000>
##contig=<ID=chr2,length=30000>
##INFO=<ID=AF,Number=A,Type=Float,Description="Allele Frequency">
##INFO=<ID=AD,Number=R,Type=Integer,Description="Depth per allele">
##INFO=<ID=GL,Number=G,Type=Float,Description="Genotype likelihoods">
##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth">
##INFO=<ID=DB,Number=0,Type=Flag,Description="dbSNP">
##FILTER=<ID=q10,Description="Quality below 10">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1
"""


def cli(*args):
    proc = subprocess.run([sys.executable, "-m", "kipoi_explain", *map(str, args)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    return proc


@pytest.fixture(scope="module")
def input_vcf(tmp_path_factory, genome):
    s1, s2 = genome["chr1"], genome["chr2"]
    b = s1[1999]
    alts = [x for x in "ACGT" if x != b]
    rows = [
        f"chr1\t1000\trs1\t{s1[999]}\t{other(s1[999])}\t30\tPASS\tAF=0.1;AD=5,6;DP=11;DB\tGT\t0/1",
        f"chr1\t2000\trsMulti\t{b}\t{','.join(alts)}\t50\tq10\t"
        f"AF=0.1,0.2,0.3;AD=1,2,3,4;DP=10\tGT\t1/2",
        f"chr1\t3000\trsSym\t{s1[2999]}\t<DEL>\t.\tPASS\tAF=0.5;DP=3\tGT\t0/1",
        f"chr1\t50\trsEdge\t{s1[49]}\t{other(s1[49])}\t.\t.\tDP=4\tGT\t0/1",
        f"chr1\t5000\trsMono\t{s1[4999]}\t.\t.\tPASS\tDP=7\tGT\t0/0",
        f"chr2\t8000\trsDel\t{s2[7999:8003]}\t{s2[7999]}\t.\tPASS\tAF=0.2\tGT\t0/1",
        "chrZ\t100\trsNoContig\tA\tC\t.\tPASS\t.\tGT\t0/1",
        f"chr1\t4000\trsMismatch\t{other(s1[3999])}\tA\t.\tq10\t.\tGT\t0/1",
    ]
    path = tmp_path_factory.mktemp("writer") / "in.vcf"
    path.write_text(HEADER + "\n".join(rows) + "\n")
    return path


EXPECTED = [("rs1", "OK"), ("rsMulti", "OK"), ("rsMulti", "OK"), ("rsMulti", "OK"),
            ("rsSym", "SYMBOLIC_ALLELE"), ("rsEdge", "NEAR_CONTIG_END"), ("rsMono", "NO_ALT"),
            ("rsDel", "OK"), ("rsNoContig", "CONTIG_NOT_IN_FASTA"),
            ("rsMismatch", "REF_MISMATCH")]
#: The VCF holds them sorted (the input is not): by the header's contigs, then position.
CONTIGS = {"chr1": 0, "chr2": 1, "chrZ": 2}
SORTED = [("rsEdge", "NEAR_CONTIG_END"), ("rs1", "OK"), ("rsMulti", "OK"), ("rsMulti", "OK"),
          ("rsMulti", "OK"), ("rsSym", "SYMBOLIC_ALLELE"), ("rsMismatch", "REF_MISMATCH"),
          ("rsMono", "NO_ALT"), ("rsDel", "OK"), ("rsNoContig", "CONTIG_NOT_IN_FASTA")]


def in_vcf_order(effects):
    return sorted(effects, key=lambda e: (CONTIGS[e.chrom], e.pos))


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory, input_vcf):
    out = tmp_path_factory.mktemp("cli_vcf") / "res"
    proc = cli("score-vcf", MODEL, "--vcf", input_vcf, "--fasta", GENOME, "-o",
               out / "scored.vcf.gz", "--tsv", out / "scored.tsv", "--attributions",
               out / "attr.h5", "--method", "grad_x_input", "--no-progress", "--chunk-size", 3)
    return proc, out


@pytest.fixture(scope="module")
def in_process(input_vcf):
    model = kx.load_model(MODEL)
    return list(score_variants(model, input_vcf, GENOME, method="grad_x_input"))


def read_cyvcf2(path):
    from cyvcf2 import VCF

    vcf = VCF(str(path))
    records = list(vcf)
    return vcf, records


def order_from_description(description):
    return description.split("in the order ")[1].rstrip('"').split("|")


@pytest.mark.slow
def test_cli_output_parses_with_cyvcf2(cli_run, in_process):
    proc, out = cli_run
    assert proc.returncode == 0, proc.stderr
    assert "8 VCF records read, 8 written as 10 alleles" in proc.stdout
    assert not (out / "scored.vcf.gz.partial").exists()
    assert "in.vcf is not sorted; the output was sorted in memory" in proc.stdout
    vcf, records = read_cyvcf2(out / "scored.vcf.gz")
    assert [(r.ID, r.INFO.get("KX_STATUS")) for r in records] == SORTED
    # Tabix-indexed: a region query reads the records there.
    assert [r.ID for r in vcf("chr1:1500-3500")] == ["rsMulti"] * 3 + ["rsSym"]
    assert len(records) == len(in_process)
    for field in ("KX_REF", "KX_ALT", "KX_DIFF", "KX_LOGIT_DIFF", "KX_STATUS",
                  "KX_ATTR_LOCAL", "KX_ATTR_TOTAL"):
        assert vcf.get_header_type(field)["ID"] == field
    declared = {(h.type, h.info().get("ID")) for h in vcf.header_iter()}
    for field in ("KX_REF", "KX_ALT", "KX_DIFF", "KX_LOGIT_DIFF", "KX_STATUS"):
        assert ("INFO", field) in declared
    for status in STATUSES:
        assert ("FILTER", f"KX_{status}") in declared
    assert not any(kind == "FORMAT" for kind, _ in declared)
    desc = vcf.get_header_type("KX_DIFF")["Description"]
    assert order_from_description(desc) == OUTPUTS
    assert vcf.get_header_type("KX_DIFF")["Type"] == "Float"
    assert vcf.samples == []                                  # sites-only
    for record, effect in zip(records, in_vcf_order(in_process)):
        assert len(record.ALT) == (0 if effect.alt is None else 1)
        assert record.POS == effect.pos and record.REF == effect.ref
        if effect.status == "OK":
            assert record.FILTER in (None, "q10")             # input FILTER kept
            for key, field in (("ref", "KX_REF"), ("alt", "KX_ALT"), ("diff", "KX_DIFF"),
                               ("logit_diff", "KX_LOGIT_DIFF")):
                values = np.atleast_1d(record.INFO.get(field))
                assert values.shape == (3,)
                np.testing.assert_allclose(values, effect.scores[key], rtol=1e-4, atol=1e-7)
            np.testing.assert_allclose(record.INFO.get("KX_ATTR_LOCAL"),
                                       effect.attribution["local"], rtol=1e-4, atol=1e-7)
        else:
            # The reason is added to the input's own FILTER values (PASS is dropped).
            kept = [f for f in effect.record.filter.keys() if f != "PASS"]
            assert record.FILTER == ";".join(kept + [f"KX_{effect.status}"])
            assert record.INFO.get("KX_DIFF") is None
            assert record.INFO.get("KX_ATTR_LOCAL") is None


def test_cli_vcf_splits_per_allele_info(cli_run, genome):
    _, out = cli_run
    _, records = read_cyvcf2(out / "scored.vcf.gz")
    multi = [r for r in records if r.ID == "rsMulti"]
    b = genome["chr1"][1999]
    assert [r.ALT[0] for r in multi] == [x for x in "ACGT" if x != b]
    np.testing.assert_allclose([r.INFO.get("AF") for r in multi], [0.1, 0.2, 0.3], rtol=1e-6)
    assert [tuple(r.INFO.get("AD")) for r in multi] == [(1, 2), (1, 3), (1, 4)]
    assert all(r.INFO.get("DP") == 10 for r in multi)
    assert all(r.QUAL == 50 for r in multi)
    first = next(r for r in records if r.ID == "rs1")
    assert first.INFO.get("DB") is True and first.INFO.get("AF") == pytest.approx(0.1)
    assert tuple(first.INFO.get("AD")) == (5, 6)
    mono = next(r for r in records if r.ID == "rsMono")
    assert mono.ALT == [] and mono.INFO.get("DP") == 7
    sym = next(r for r in records if r.ID == "rsSym")
    assert sym.ALT == ["<DEL>"] and sym.INFO.get("AF") == pytest.approx(0.5)


def score_to_vcf(vcf, out):
    """Score ``vcf`` in process, write it with the VCF writer, read it back with cyvcf2."""
    with VariantVCFWriter(out, vcf, OUTPUTS) as writer:
        for effect in score_variants(kx.load_model(MODEL), vcf, GENOME):
            writer.write(effect)
    return read_cyvcf2(out)[1]


def test_number_g_info_is_dropped(tmp_path, input_vcf, genome):
    b = genome["chr1"][1999]
    path = tmp_path / "g.vcf"
    path.write_text(HEADER + f"chr1\t2000\tg\t{b}\t{other(b)}\t.\tPASS\tGL=1,2,3;DP=3\tGT\t0/1\n")
    records = score_to_vcf(path, tmp_path / "g.vcf.gz")
    assert records[0].INFO.get("GL") is None and records[0].INFO.get("DP") == 3


def test_number_r_info_on_record_without_alt(tmp_path, genome):
    s1 = genome["chr1"]
    path = tmp_path / "r.vcf"
    path.write_text(HEADER + f"chr1\t5000\tm\t{s1[4999]}\t.\t.\tPASS\tAD=7\tGT\t0/0\n")
    records = score_to_vcf(path, tmp_path / "r.vcf.gz")
    assert records[0].INFO.get("KX_STATUS") == "NO_ALT"
    assert np.atleast_1d(records[0].INFO.get("AD"))[0] == 7


def test_cli_tsv_one_row_per_record(cli_run, in_process):
    _, out = cli_run
    with open(out / "scored.tsv") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert [(r["id"], r["status"]) for r in rows] == EXPECTED
    for row, effect in zip(rows, in_process):
        for i, name in enumerate(OUTPUTS):
            if effect.status == "OK":
                assert float(row[f"{name}:diff"]) == pytest.approx(effect.scores["diff"][i],
                                                                    rel=1e-4, abs=1e-8)
            else:
                assert row[f"{name}:diff"] == ""
        assert (row["attr_local"] == "") == (effect.status != "OK")


def test_ref_mismatch_names_the_fasta_bases(cli_run, in_process, genome):
    # The status stays REF_MISMATCH; the TSV, the VCF and the effect say what the FASTA holds.
    found = genome["chr1"][3999]
    detail = f"FASTA has {found} at chr1:4000"
    mismatch = next(e for e in in_process if e.id == "rsMismatch")
    assert (mismatch.status, mismatch.detail) == ("REF_MISMATCH", detail)
    assert all(e.detail is None for e in in_process if e.status != "REF_MISMATCH")
    _, out = cli_run
    with open(out / "scored.tsv") as handle:
        rows = {r["id"]: r for r in csv.DictReader(handle, delimiter="\t")}
    assert (rows["rsMismatch"]["status"], rows["rsMismatch"]["status_detail"]) == \
        ("REF_MISMATCH", detail)
    assert rows["rs1"]["status_detail"] == ""
    _, records = read_cyvcf2(out / "scored.vcf.gz")
    record = next(r for r in records if r.ID == "rsMismatch")
    assert (record.INFO.get("KX_STATUS"), record.INFO.get("KX_FASTA_REF")) == \
        ("REF_MISMATCH", found)


def test_cli_attributions_hdf5(cli_run, in_process):
    _, out = cli_run
    ok = [e for e in in_process if e.status == "OK"]
    assert len(ok) == 5
    for effect in ok:
        stored = read_variant_attribution(out / "attr.h5", effect.key)
        for name in ("ref", "alt", "diff"):
            np.testing.assert_allclose(stored[name], effect.attribution[name], rtol=1e-4,
                                       atol=1e-7)
        np.testing.assert_array_equal(stored["alt_to_ref"], effect.alt_to_ref)
        assert stored["window_start"] == effect.window_start
    unscored = next(e for e in in_process if e.status == "NO_ALT")
    with pytest.raises(KeyError):
        read_variant_attribution(out / "attr.h5", unscored.key)


def test_writers_directly_and_interrupted(tmp_path, input_vcf, in_process):
    path = tmp_path / "direct.vcf.gz"
    with VariantVCFWriter(path, input_vcf, OUTPUTS, "grad_x_input") as writer:
        for effect in in_process:
            writer.write(effect)
    assert writer.written == len(in_process)
    _, records = read_cyvcf2(path)
    assert [(r.ID, r.INFO.get("KX_STATUS")) for r in records] == SORTED

    for make, name in ((lambda p: VariantVCFWriter(p, input_vcf, OUTPUTS, "grad_x_input"),
                        "x.vcf.gz"),
                       (lambda p: VariantTableWriter(p, OUTPUTS), "x.tsv"),
                       (lambda p: VariantAttributionWriter(p, 200, "grad_x_input", {}), "x.h5")):
        final = tmp_path / "broken" / name
        final.parent.mkdir(exist_ok=True)
        with pytest.raises(RuntimeError):
            with make(final) as writer:
                writer.write(in_process[0])
                raise RuntimeError("interrupted")
        assert not final.exists(), name
        assert not final.with_name(final.name + ".partial").exists(), name


@pytest.mark.slow
def test_spec_example_through_cli(tmp_path, spec_fasta):
    fasta, _ = spec_fasta
    out = tmp_path / "spec.vcf.gz"
    proc = cli("score-vcf", MODEL, "--vcf", SPEC_VCF, "--fasta", fasta, "-o", out,
               "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert "5 VCF records read, 5 written" in proc.stdout
    _, records = read_cyvcf2(out)
    assert [(r.POS, r.REF, r.ALT, r.FILTER, r.INFO.get("KX_STATUS")) for r in records] == [
        (14370, "G", ["A"], None, "OK"), (17330, "T", ["A"], "q10", "OK"),
        (1110696, "A", ["G"], None, "OK"), (1110696, "A", ["T"], None, "OK"),
        (1230237, "T", [], "KX_NO_ALT", "NO_ALT"), (1234567, "GTC", ["G"], None, "OK"),
        (1234567, "GTC", ["GTCT"], None, "OK")]
    assert [r.INFO.get("AF") for r in records[2:4]] == pytest.approx([0.333, 0.667])
    assert [r.ID for r in records] == ["rs6054257", None, "rs6040355", "rs6040355", None,
                                       "microsat1", "microsat1"]


@pytest.mark.slow
@pytest.mark.parametrize("case", ["attributions_without_method", "bad_suffix", "missing_vcf",
                                  "garbage_vcf"])
def test_cli_errors_exit_2(tmp_path, input_vcf, case):
    args = ["score-vcf", MODEL, "--vcf", input_vcf, "--fasta", GENOME, "--no-progress"]
    expect = {"attributions_without_method": "--method", "bad_suffix": ".vcf.gz",
              "missing_vcf": "does not exist", "garbage_vcf": "cannot be read"}[case]
    out = tmp_path / "o.vcf.gz"
    if case == "attributions_without_method":
        args += ["-o", out, "--attributions", tmp_path / "a.h5"]
    elif case == "bad_suffix":
        out = tmp_path / "o.vcf"
        args += ["-o", out]
    elif case == "missing_vcf":
        args[3] = tmp_path / "nope.vcf"
        args += ["-o", out]
    else:
        garbage = tmp_path / "garbage.vcf"
        garbage.write_bytes(b"\x00\x01not a vcf at all\n\xff\xfe")
        args[3] = garbage
        args += ["-o", out]
    proc = cli(*args)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert "score-vcf: error:" in proc.stderr and expect in proc.stderr
    assert not out.exists()
