"""Calibrated variant effects: background SNVs drawn once per VCF give each allele an empirical
p-value; they are uniform on random SNVs of the genome (KS test) and small where a variant
breaks a planted motif; the CLI writes them to the VCF and the TSV, the same in a sharded job
and on a server."""
import subprocess
import sys

import numpy as np
import pandas as pd
import pyfaidx
import pysam
import pytest
from scipy import stats

import kipoi_explain as kx
from conftest import EXAMPLE_DIR
from kipoi_explain.sequences import alphabet
from kipoi_explain.variants.null import NullDistribution, null_windows

MODEL = EXAMPLE_DIR / "models" / "pytorch_cnn"
GENOME = EXAMPLE_DIR / "data" / "genome.fa"
SITES = EXAMPLE_DIR / "data" / "planted_sites.tsv"
HEADER = ("##fileformat=VCFv4.2\n##contig=<ID=chr1,length=30000>\n"
          "##contig=<ID=chr2,length=30000>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
SHIFT = {"A": "C", "C": "G", "G": "T", "T": "A"}


def write_vcf(path, rows):
    path.write_text(HEADER + "".join(f"{c}\t{p}\t{i}\t{r}\t{a}\t.\tPASS\t.\n"
                                     for c, p, i, r, a in sorted(rows)))
    return path


@pytest.fixture(scope="module")
def genome():
    return pyfaidx.Fasta(str(GENOME))


@pytest.fixture(scope="module")
def cnn():
    return kx.load_model(MODEL)


@pytest.fixture(scope="module")
def planted_vcf(tmp_path_factory, genome):
    """An SNV at the middle base of each of the first 20 planted CTCF sites."""
    sites = pd.read_csv(SITES, sep="\t")
    rows = []
    for i, site in sites[sites.motif_name == "CTCF"].head(20).iterrows():
        middle = (site.start + site.end) // 2
        ref = str(genome[site.chrom][middle]).upper()
        rows.append((site.chrom, middle + 1, f"site{i}", ref, SHIFT[ref]))
    return write_vcf(tmp_path_factory.mktemp("null") / "planted.vcf", rows)


@pytest.fixture(scope="module")
def random_vcf(tmp_path_factory, genome):
    """300 random SNVs of the genome, drawn independently of the null's draws."""
    rng = np.random.default_rng(12345)
    rows = set()
    while len(rows) < 300:
        chrom = str(rng.choice(["chr1", "chr2"]))
        pos = int(rng.integers(200, 29_800))
        ref = str(genome[chrom][pos]).upper()
        if ref in SHIFT:
            alt = "ACGT"[("ACGT".index(ref) + int(rng.integers(1, 4))) % 4]
            rows.add((chrom, pos + 1, f"r{len(rows)}", ref, alt))
    return write_vcf(tmp_path_factory.mktemp("null") / "random.vcf", rows)


def test_pvalues_and_percentiles_count_the_null():
    rng = np.random.default_rng(0)
    null = rng.normal(size=(200, 2))
    diff = np.concatenate([rng.normal(size=(30, 2)), null[:5]])     # ties with the null
    calibration = NullDistribution(np.sort(np.abs(null), axis=0).T)
    for t in range(2):
        at_least = (np.abs(null[:, t])[None] >= np.abs(diff[:, t])[:, None]).sum(axis=1)
        np.testing.assert_allclose(calibration.pvalues(diff)[:, t], (1 + at_least) / 201)
        np.testing.assert_allclose(calibration.percentiles(diff)[:, t],
                                   100 * (200 - at_least) / 200)


def test_null_windows_are_matched_snvs_of_the_genome(genome):
    ref, alt = null_windows(genome, 200, 50, seed=4)
    text = str(genome["chr1"]) + "|" + str(genome["chr2"])
    changed = np.argwhere((ref != alt).any(axis=2))
    assert sorted(set(changed[:, 1])) == [100] and len(changed) == 50
    assert (ref.sum(axis=2) == 1).all() and (alt.sum(axis=2) == 1).all()
    for window in alphabet.decode(ref[:10]):
        assert window in text
    again, _ = null_windows(genome, 200, 50, seed=4)
    np.testing.assert_array_equal(ref, again)


def test_pvalues_are_uniform_on_random_snvs_and_small_at_planted_sites(cnn, random_vcf,
                                                                       planted_vcf):
    def pvalues(vcf):
        return np.array([e.scores["pval"][0] for e in kx.score_variants(
            cnn, vcf, GENOME, target="CTCF", null=500, null_seed=1)])

    random = pvalues(random_vcf)
    assert stats.kstest(random, "uniform").pvalue > 0.01
    planted = pvalues(planted_vcf)
    assert np.median(planted) < 0.02 and (planted < 0.05).mean() >= 0.8


@pytest.mark.slow
def test_score_vcf_writes_pvalues_alike_in_a_job_and_on_a_server(cnn, planted_vcf, tmp_path,
                                                                  client):
    local = list(kx.score_variants(cnn, planted_vcf, GENOME, null=100, null_seed=2))
    outputs = [tmp_path / "plain.vcf.gz", tmp_path / "job.vcf.gz"]
    for out, extra in zip(outputs, ([], ["--work-dir", tmp_path / "work", "--shard-size", 7])):
        proc = subprocess.run([sys.executable, "-m", "kipoi_explain", "score-vcf", str(MODEL),
                               "--vcf", str(planted_vcf), "--fasta", str(GENOME), "--null",
                               "100", "--null-seed", "2", "--tsv", str(out) + ".tsv",
                               "--no-progress", "-o", str(out), *map(str, extra)],
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
    written = []
    for out in outputs:
        with pysam.VariantFile(str(out)) as vcf:
            assert "KX_PVAL" in vcf.header.info and "KX_PCTL" in vcf.header.info
            written.append({r.id: (r.info["KX_PVAL"], r.info["KX_PCTL"]) for r in vcf})
    assert written[0] == written[1]
    for effect in local:
        np.testing.assert_allclose(written[0][effect.id][0], effect.scores["pval"], rtol=1e-5)
        np.testing.assert_allclose(written[0][effect.id][1], effect.scores["pctl"], rtol=1e-5)
    table = pd.read_csv(str(outputs[0]) + ".tsv", sep="\t")
    assert {"CTCF:pval", "CTCF:pctl", "CEBPB:pval"} <= set(table.columns)
    remote = list(client.score_variants("cnn", str(planted_vcf), fasta="genome", null=100,
                                        null_seed=2))
    for near, far in zip(local, remote):
        np.testing.assert_allclose(far.scores["pval"], near.scores["pval"])


def test_a_null_larger_than_the_server_allows_is_refused(client, planted_vcf):
    import grpc

    with pytest.raises(grpc.RpcError) as caught:
        list(client.score_variants("cnn", str(planted_vcf), fasta="genome", null=5000))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "null=5000" in caught.value.details()
