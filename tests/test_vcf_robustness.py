"""score-vcf on VCFs as real tools write them: every record htslib reads gives its records out,
with a status; what cannot be carried is named; a file htslib cannot read is a one-line error
naming the record, and leaves nothing behind."""
import gzip
import subprocess
import sys

import pysam
import pytest

from conftest import EXAMPLE_DIR, other

ROOT = EXAMPLE_DIR.parent
MODEL = EXAMPLE_DIR / "models" / "pytorch_cnn"
GENOME = EXAMPLE_DIR / "data" / "genome.fa"
HEADER = ("##fileformat=VCFv4.3\n##contig=<ID=chr1,length=30000>\n"
          "##contig=<ID=chrLong,length=5000000000>\n"
          '##INFO=<ID=AF,Number=A,Type=Float,Description="Allele frequency">\n'
          '##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth">\n'
          '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
          "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n")


def score(vcf, out, *extra):
    return subprocess.run([sys.executable, "-m", "kipoi_explain", "score-vcf", str(MODEL),
                           "--vcf", str(vcf), "--fasta", str(GENOME), "-o", str(out),
                           "--no-progress", *map(str, extra)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)


def records(path):
    with pysam.VariantFile(str(path)) as vcf:
        return [(r.chrom, r.pos, r.id, r.alts, r.info["KX_STATUS"],
                 tuple(r.info.get("KX_DROPPED", ()))) for r in vcf]


@pytest.fixture(scope="module")
def real_world(tmp_path_factory, genome):
    """Records that broke score-vcf: a position past 2^31, 305 ALTs with one AF value, a
    repeated FORMAT key, positions 0 and past the contig's end."""
    chr1 = genome["chr1"]
    alts = sorted({a + b + c for a in "ACGT" for b in "ACGT" for c in "ACGT"} - {chr1[999:1002]})
    alts = (alts * 6)[:305]
    rows = [f"chr1\t500\tsnv\t{chr1[499]}\t{other(chr1[499])}\t.\tPASS\tDP=3\tGT:GT\t0/1:0/1",
            f"chr1\t1000\tmany\t{chr1[999:1002]}\t{','.join(alts)}\t.\tPASS\tAF=0.5\tGT\t0/1",
            "chr1\t0\ttelomere\tN\tA\t.\tPASS\t.\tGT\t0/1",
            "chr1\t30001\tpast_end\tA\tC\t.\tPASS\t.\tGT\t0/1",
            "chrLong\t3000000000\tlong\tA\tC\t.\tPASS\tAF=0.1\tGT\t0/1"]
    folder = tmp_path_factory.mktemp("real_world")
    vcf = folder / "in.vcf"
    vcf.write_text(HEADER + "\n".join(rows) + "\n")
    out = folder / "o.vcf.gz"
    return score(vcf, out), out


@pytest.mark.slow
def test_every_record_htslib_reads_comes_out_with_a_status(real_world):
    proc, out = real_world
    assert proc.returncode == 0, proc.stderr
    assert "5 VCF records read, 5 written as 309 alleles" in proc.stdout
    assert "Traceback" not in proc.stderr
    found = records(out)
    assert len(found) == 309
    by_id = {}
    for chrom, pos, ident, alts, status, dropped in found:
        by_id.setdefault(ident, []).append((pos, status, dropped))
    assert by_id["snv"] == [(500, "OK", ())]                       # GT:GT did not stop it
    assert len(by_id["many"]) == 305 and {s for _, s, _ in by_id["many"]} == {"OK"}
    # One AF value for 305 ALTs disagrees with Number=A: named, not split.
    assert all(d == ("AF",) for *_, d in by_id["many"])
    assert "AF in 305" in proc.stdout
    assert by_id["telomere"] == [(0, "OUTSIDE_CONTIG", ())]
    assert by_id["past_end"] == [(30001, "OUTSIDE_CONTIG", ())]
    assert by_id["long"] == [(3000000000, "CONTIG_NOT_IN_FASTA", ())]


def test_positions_past_2_to_the_29_are_indexed_with_csi(real_world):
    _, out = real_world
    assert (out.parent / "o.vcf.gz.csi").is_file()
    assert not (out.parent / "o.vcf.gz.tbi").exists()
    with pysam.VariantFile(str(out)) as vcf:
        assert [r.id for r in vcf.fetch("chr1", 400, 600)] == ["snv"]
    lines = [line for line in gzip.open(out, "rt") if line.startswith("chrLong")]
    assert lines[0].split("\t")[1] == "3000000000"


@pytest.mark.slow
def test_a_gzip_vcf_is_read(tmp_path, genome):
    chr1 = genome["chr1"]
    text = HEADER + f"chr1\t700\tv\t{chr1[699]}\t{other(chr1[699])}\t.\tPASS\t.\tGT\t0/1\n"
    vcf = tmp_path / "in.vcf.gz"
    vcf.write_bytes(gzip.compress(text.encode()))
    proc = score(vcf, tmp_path / "o.vcf.gz")
    assert proc.returncode == 0, proc.stderr
    assert "is gzip, not bgzip: it was read through a decompressed temporary copy" in proc.stdout
    assert records(tmp_path / "o.vcf.gz")[0][4] == "OK"


@pytest.mark.parametrize("body, message", [
    ("chr1\t100\ta\tA\tC\t.\tPASS\t.\tGT\t0/1\nchr1\t200\tb\tA\n",
     "record 2, after chr1:100 cannot be read"),
    ("chr1\tabc\ta\tA\tC\t.\tPASS\t.\tGT\t0/1\n", "record 1 cannot be read"),
])
@pytest.mark.slow
def test_an_unreadable_record_is_named_and_nothing_is_left(tmp_path, body, message):
    vcf = tmp_path / "in.vcf"
    vcf.write_text(HEADER + body)
    proc = score(vcf, tmp_path / "out" / "o.vcf.gz", "--tsv", tmp_path / "out" / "o.tsv")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("kipoi-explain score-vcf: error: VCF "
                                                           "'in.vcf': " + message)
    out = tmp_path / "out"
    assert not out.exists() or not any(out.iterdir())              # no partial file is left


def test_closing_a_vcf_ends_an_iteration_on_another_thread(tmp_path, genome):
    """A client's request stream reads the VCF on gRPC's thread while the call may end (and
    the file close) on another: the reading stops, it never reads the closed file."""
    import threading

    from kipoi_explain.variants.alleles import open_vcf

    chr1 = genome["chr1"]
    rows = [f"chr1\t{p}\tv{p}\t{chr1[p - 1]}\t{other(chr1[p - 1])}\t.\tPASS\t.\tGT\t0/1"
            for p in range(100, 20_100)]
    vcf = tmp_path / "many.vcf"
    vcf.write_text(HEADER + "\n".join(rows) + "\n")
    reader = open_vcf(vcf)
    read, started = [], threading.Event()

    def consume():
        for record in reader:
            read.append(record.pos)
            started.set()

    thread = threading.Thread(target=consume)
    thread.start()
    assert started.wait(60)
    reader.close()
    thread.join(60)
    assert not thread.is_alive() and 0 < len(read) <= len(rows)
    assert read == list(range(100, 100 + len(read)))
