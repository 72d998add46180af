"""Jobs on the local engine: sharded runs equal to plain ones, resumed from their work
directory (a finished job, a driver killed mid-job, a corrupted shard), refused when the model,
input or settings changed, and filled by the tasks of a job array, then merged."""
import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pysam
import pytest

from kipoi_explain.cli import main
from kipoi_explain.writers import read_hdf5

from conftest import EXAMPLE_DIR, other

ROOT = EXAMPLE_DIR.parent
MODEL = EXAMPLE_DIR / "models" / "pytorch_cnn"
GENOME = EXAMPLE_DIR / "data" / "genome.fa"
BED = EXAMPLE_DIR / "data" / "regions.bed"
SCORE = ["--fasta", GENOME, "--method", "deepshap", "--n-references", 3, "--target", "CTCF",
         "--no-progress"]


def run(*args):
    """Exit status, stdout and stderr of ``kipoi-explain ARGS``, run in this process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in args])
    return status, out.getvalue(), err.getvalue()


def body(path):
    """A VCF's records as text (the header left out)."""
    with pysam.VariantFile(str(path)) as vcf:
        return [str(record) for record in vcf]


def values(path):
    """Each record's site, status and scores."""
    with pysam.VariantFile(str(path)) as vcf:
        return [(r.chrom, r.pos, r.id, r.info["KX_STATUS"],
                 np.array(r.info.get("KX_DIFF", (np.nan,)), dtype=float),
                 r.info.get("KX_ATTR_LOCAL", np.nan)) for r in vcf]


def markers(work):
    return {p.name: p.stat().st_mtime_ns for p in (work / "shards").glob("*.done")}


def worker_pids(work):
    """The processes that ran the shards of a work directory."""
    return {json.loads(p.read_text())["pid"] for p in (work / "shards").glob("*.done")}


def snv_vcf(path, genome):
    """120 records: SNVs on both contigs, one REF mismatch, one contig the FASTA lacks."""
    rng = np.random.default_rng(7)
    rows = []
    for chrom in ("chr1", "chr2"):
        for pos in sorted(rng.choice(np.arange(300, 29700), 59, replace=False)):
            ref = genome[chrom][pos - 1]
            rows.append(f"{chrom}\t{pos}\t{chrom}_{pos}\t{ref}\t{other(ref)}\t.\tPASS\t.")
    rows.insert(30, f"chr1\t5000\tmismatch\t{other(genome['chr1'][4999])}\tA\t.\tPASS\t.")
    rows.append("chrZ\t100\tnowhere\tA\tC\t.\tPASS\t.")
    path.write_text("##fileformat=VCFv4.2\n##contig=<ID=chr1>\n##contig=<ID=chr2>\n"
                    "##contig=<ID=chrZ>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                    + "\n".join(rows) + "\n")
    return path


@pytest.fixture(scope="module")
def vcf(tmp_path_factory, genome):
    return snv_vcf(tmp_path_factory.mktemp("jobs") / "v.vcf", genome)


@pytest.fixture(scope="module")
def plain(vcf, tmp_path_factory):
    out = tmp_path_factory.mktemp("plain") / "o.vcf.gz"
    status, stdout, err = run("score-vcf", MODEL, "--vcf", vcf, "-o", out, *SCORE)
    assert status == 0, err
    return out


def local_job(vcf, folder, shard_size: int) -> str:
    """``score-vcf`` of ``vcf`` as a job on the local engine, into ``folder`` (``o.vcf.gz``,
    ``work/``); its standard output."""
    status, stdout, err = run("score-vcf", MODEL, "--vcf", vcf, "-o", folder / "o.vcf.gz",
                              "--work-dir", folder / "work", "--shard-size", shard_size,
                              *SCORE)
    assert status == 0, err
    return stdout


@pytest.fixture(scope="module")
def job(vcf, tmp_path_factory):
    folder = tmp_path_factory.mktemp("job")
    return folder, local_job(vcf, folder, 10)


def test_job_writes_what_a_plain_run_writes(plain, job):
    folder, stdout = job
    assert "120 VCF records read, 120 written as 120 alleles" in stdout
    mine, theirs = values(folder / "o.vcf.gz"), values(plain)
    assert [m[:4] for m in mine] == [t[:4] for t in theirs]
    assert {m[3] for m in mine} == {"OK", "REF_MISMATCH", "CONTIG_NOT_IN_FASTA"}
    for m, t in zip(mine, theirs):
        # Other batches, the same numbers but for the last bits.
        np.testing.assert_allclose(m[4], t[4], rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(m[5], t[5], rtol=1e-3, atol=1e-6)
    manifest = json.loads((folder / "work" / "manifest.json").read_text())
    assert manifest["shards"] == 12 and manifest["input"]["count"] == 120
    assert manifest["settings"]["n_references"] == 3
    assert len(markers(folder / "work")) == 12


def test_rerun_resumes_without_recomputing(vcf, job):
    folder, _ = job
    before = markers(folder / "work")
    started = time.perf_counter()
    status, stdout, err = run("score-vcf", MODEL, "--vcf", vcf, "-o", folder / "again.vcf.gz",
                              "--work-dir", folder / "work", "--shard-size", 10, *SCORE)
    assert status == 0, err
    assert "12 of 12 shards done, 0 to run" in stdout
    assert markers(folder / "work") == before
    assert body(folder / "again.vcf.gz") == body(folder / "o.vcf.gz")
    assert time.perf_counter() - started < 30


def test_a_changed_job_is_refused(vcf, job, tmp_path):
    import torch

    work = folder_work = job[0] / "work"
    status, _, err = run("score-vcf", MODEL, "--vcf", vcf, "-o", tmp_path / "o.vcf.gz",
                         "--work-dir", work, "--shard-size", 10, *SCORE, "--n-references", 4)
    assert status == 2
    assert "holds another job: settings differs (n_references: 3 there, 4 now)" in err
    status, _, err = run("score-vcf", MODEL, "--vcf", vcf, "-o", tmp_path / "o.vcf.gz",
                         "--work-dir", work, "--shard-size", 20, *SCORE)
    assert status == 2 and "shard size differs (10 there, 20 now)" in err
    grown = tmp_path / "v.vcf"
    grown.write_text(vcf.read_text() + "chr1\t400\tnew\tA\tC\t.\tPASS\t.\n")
    status, _, err = run("score-vcf", MODEL, "--vcf", grown, "-o", tmp_path / "o.vcf.gz",
                         "--work-dir", work, "--shard-size", 10, *SCORE)
    assert status == 2 and "input differs (the input changed" in err
    changed = tmp_path / "model"
    changed.mkdir()
    for item in MODEL.iterdir():
        (changed / item.name).write_bytes(item.read_bytes())
    weights = torch.load(changed / "weights.pt")
    first = next(iter(weights))
    weights[first] = weights[first] + 0.01
    torch.save(weights, changed / "weights.pt")
    status, _, err = run("score-vcf", changed, "--vcf", vcf, "-o", tmp_path / "o.vcf.gz",
                         "--work-dir", folder_work, "--shard-size", 10, *SCORE)
    assert status == 2 and "model differs (its weights' fingerprint is" in err
    assert not list(tmp_path.glob("o.vcf.gz*"))


def test_corrupted_shard_is_computed_again(vcf, job, tmp_path):
    folder, _ = job
    work = tmp_path / "work"
    (work / "shards").mkdir(parents=True)
    for item in (folder / "work").iterdir():
        if item.is_file():
            (work / item.name).write_bytes(item.read_bytes())
    for item in (folder / "work" / "shards").iterdir():
        (work / "shards" / item.name).write_bytes(item.read_bytes())
    shard = work / "shards" / "000003.pkl"
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    before = markers(work)
    status, stdout, err = run("score-vcf", MODEL, "--vcf", vcf, "-o", tmp_path / "o.vcf.gz",
                              "--work-dir", work, "--shard-size", 10, *SCORE)
    assert status == 0, err
    assert "shard 3 (records 30-39): its output does not match its checksum" in stdout
    assert "11 of 12 shards done, 1 to run" in stdout
    after = markers(work)
    assert [name for name in after if after[name] != before[name]] == ["000003.done"]
    assert body(tmp_path / "o.vcf.gz") == body(folder / "o.vcf.gz")


@pytest.mark.slow
def test_driver_killed_mid_job_resumes(vcf, tmp_path):
    work = tmp_path / "work"
    args = ["score-vcf", MODEL, "--vcf", vcf, "--work-dir", work, "--shard-size", 2, *SCORE]
    driver = subprocess.Popen([str(a) for a in [sys.executable, "-m", "kipoi_explain", *args,
                                                "-o", tmp_path / "o.vcf.gz"]],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while len(markers(work) if (work / "shards").is_dir() else ()) < 3:
        assert driver.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    finished = markers(work)
    assert 3 <= len(finished) < 60
    # The outputs are opened only once every shard is done: nothing of them is left.
    assert not list(tmp_path.glob("o.vcf.gz*"))
    status, stdout, err = run(*args, "-o", tmp_path / "o.vcf.gz")
    assert status == 0, err
    assert f"{len(finished)} of 60 shards done, {60 - len(finished)} to run" in stdout
    after = markers(work)
    assert all(after[name] == mtime for name, mtime in finished.items())
    # The same as a job that was never stopped.
    status, _, err = run("score-vcf", MODEL, "--vcf", vcf, "--work-dir", tmp_path / "whole",
                         "--shard-size", 2, *SCORE, "-o", tmp_path / "whole.vcf.gz")
    assert status == 0, err
    assert body(tmp_path / "o.vcf.gz") == body(tmp_path / "whole.vcf.gz")


def test_job_array_fills_one_work_directory_then_merges(vcf, job, tmp_path):
    folder, _ = job
    work = tmp_path / "work"
    common = ["score-vcf", MODEL, "--vcf", vcf, "-o", tmp_path / "o.vcf.gz", "--tsv",
              tmp_path / "o.tsv", "--work-dir", work, "--shard-size", 10, "--num-shards", 2,
              *SCORE]
    status, stdout, err = run(*common, "--shard-index", 1)
    assert status == 0, err
    assert "ran 6 shard(s) of task 1 of 2; 6 of 12 shards remain" in stdout
    assert f"kipoi-explain merge {work}" in stdout
    assert not (tmp_path / "o.vcf.gz").exists()
    status, _, err = run("merge", work)
    assert status == 2 and "6 of 12 shards are not done (e.g. 0, 2, 4, 6, 8)" in err
    status, stdout, err = run(*common, "--shard-index", 0)
    assert status == 0 and "ran 6 shard(s) of task 0 of 2; all 12 shards are done" in stdout
    assert not (tmp_path / "o.vcf.gz").exists()
    status, stdout, err = run("merge", work, "--no-progress")
    assert status == 0, err
    assert "120 VCF records read, 120 written" in stdout
    assert body(tmp_path / "o.vcf.gz") == body(folder / "o.vcf.gz")
    assert (tmp_path / "o.tsv").is_file()


def test_explain_and_screen_of_bed_intervals_as_jobs(tmp_path):
    common = ["--fasta", GENOME, "--bed", BED, "--no-plot", "--no-progress"]
    explain = ["explain", MODEL, *common, "--method", "expected_gradients",
               "--n-references", 3, "--target", "HNF4A"]
    assert run(*explain, "-o", tmp_path / "plain.h5")[0] == 0
    status, stdout, err = run(*explain, "-o", tmp_path / "job.h5", "--work-dir",
                              tmp_path / "work", "--shard-size", 30)
    assert status == 0, err
    assert "explained 100 sequences" in stdout
    plain, sharded = read_hdf5(tmp_path / "plain.h5"), read_hdf5(tmp_path / "job.h5")
    assert sharded.names == plain.names and sharded.intervals == plain.intervals
    np.testing.assert_allclose(sharded.scores, plain.scores, rtol=1e-4, atol=1e-6)
    screen = ["screen", MODEL, *common, "--window", 20, "--n-shuffles", 2, "--target", "CTCF"]
    assert run(*screen, "-o", tmp_path / "plain.tsv")[0] == 0
    status, _, err = run(*screen, "-o", tmp_path / "job.tsv", "--shard-size", 33)
    assert status == 0, err
    plain, sharded = (np.loadtxt(tmp_path / name, skiprows=1, usecols=-1, delimiter="\t")
                      for name in ("plain.tsv", "job.tsv"))
    np.testing.assert_allclose(sharded, plain, rtol=1e-4, atol=1e-6)
    # No --work-dir: a temporary one, removed at the end.
    assert not any(p.name.startswith("kipoi-explain-job-") for p in tmp_path.iterdir())


def test_a_failing_shard_names_itself_and_writes_nothing(tmp_path):
    # An N in the 24th interval, refused by --ambiguous error only when its shard reads it.
    genome = tmp_path / "genome.fa"
    lines = GENOME.read_text().splitlines()
    row = 1 + 13300 // 60
    lines[row] = "N" + lines[row][1:]
    genome.write_text("\n".join(lines) + "\n")
    bed = tmp_path / "r.bed"
    bed.write_text("\n".join(BED.read_text().splitlines()[:25]) + "\n")
    status, _, err = run("explain", MODEL, "--fasta", genome, "--bed", bed, "--no-plot",
                         "--ambiguous", "error", "--no-progress", "-o", tmp_path / "a.h5",
                         "--work-dir", tmp_path / "work", "--shard-size", 10)
    assert status == 2
    assert err.startswith("kipoi-explain explain: error: shard 2 (intervals 20-24): "), err
    assert "neg_009" in err and "Traceback" not in err and not (tmp_path / "a.h5").exists()
    assert sorted(markers(tmp_path / "work")) == ["000000.done", "000001.done"]


def test_a_window_past_the_contig_is_refused_before_any_shard(tmp_path):
    bed = tmp_path / "r.bed"
    lines = BED.read_text().splitlines()[:25]
    lines[23] = "chr1\t29950\t30000\tedge"
    bed.write_text("\n".join(lines) + "\n")
    status, _, err = run("explain", MODEL, "--fasta", GENOME, "--bed", bed, "--no-plot",
                         "--no-progress", "-o", tmp_path / "a.h5", "--work-dir",
                         tmp_path / "work", "--shard-size", 10)
    assert status == 2 and "record 'edge'" in err and "Traceback" not in err, err
    assert not (tmp_path / "a.h5").exists() and not markers(tmp_path / "work")


@pytest.mark.parametrize("extra, message", [
    (["--remote", "127.0.0.1:1", "--engine", "local"], "--remote runs the command on a server"),
    (["--num-shards", 2, "--work-dir", "w"], "--num-shards and --shard-index go together"),
    (["--num-shards", 2, "--shard-index", 2, "--work-dir", "w"],
     "--shard-index 2: expected 0 to 1"),
    (["--num-shards", 2, "--shard-index", 0], "the tasks of a job array fill one --work-dir"),
    (["--engine", "local", "--workers", 2], "--workers: apply to --engine ray"),
])
def test_job_options_are_checked(vcf, tmp_path, extra, message):
    status, _, err = run("score-vcf", MODEL, "--vcf", vcf, "-o", tmp_path / "o.vcf.gz",
                         *SCORE, *extra)
    assert status == 2 and message in err, err
    assert not os.path.exists("w")
