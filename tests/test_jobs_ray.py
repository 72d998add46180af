"""Jobs on a real Ray cluster started on loopback by the tests: the same output as the local
engine with one or two workers, and a worker killed with SIGKILL mid-job replaced, its shard
run again, the output unchanged. Kept small: a cluster of two CPUs, a few shards."""
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyBigWig
import pytest

from conftest import EXAMPLE_DIR, free_port
from test_jobs import SCORE, body, local_job, markers, run, snv_vcf, worker_pids

# Every test here starts a Ray cluster for real: slow.
pytestmark = pytest.mark.slow

pytest.importorskip("ray")

ROOT = EXAMPLE_DIR.parent
MODEL = EXAMPLE_DIR / "models" / "pytorch_cnn"
GENOME = EXAMPLE_DIR / "data" / "genome.fa"
RAY = Path(sys.executable).with_name("ray")


@pytest.fixture(scope="module")
def cluster():
    """A Ray head on 127.0.0.1 with two CPUs and token authentication; its address and the
    environment a driver needs to join it."""
    # Ray's sockets live in its temporary folder, whose path must stay short (AF_UNIX).
    folder = tempfile.mkdtemp(prefix="kxray", dir="/tmp")
    port = free_port()
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16)}
    start = subprocess.run([str(RAY), "start", "--head", "--port", str(port), "--num-cpus", "2",
                            "--include-dashboard=false", "--disable-usage-stats",
                            "--node-ip-address", "127.0.0.1",
                            "--temp-dir", folder],
                           env=env, capture_output=True, text=True, timeout=300)
    assert start.returncode == 0, start.stderr
    yield f"127.0.0.1:{port}", env
    subprocess.run([str(RAY), "stop", "--force"], env=env, capture_output=True, timeout=300)
    shutil.rmtree(folder, ignore_errors=True)


def driver(env, *args):
    return subprocess.Popen([str(a) for a in (sys.executable, "-m", "kipoi_explain", *args)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


@pytest.fixture(scope="module")
def local(vcf, tmp_path_factory):
    """The job on the local engine, the reference every Ray run must equal."""
    folder = tmp_path_factory.mktemp("local")
    local_job(vcf, folder, 8)
    return folder / "o.vcf.gz"


@pytest.fixture(scope="module")
def vcf(tmp_path_factory, genome):
    return snv_vcf(tmp_path_factory.mktemp("ray") / "v.vcf", genome)


def test_two_ray_workers_write_what_the_local_engine_writes(cluster, local, vcf, tmp_path):
    address, env = cluster
    job = driver(env, "score-vcf", MODEL, "--vcf", vcf, "-o", tmp_path / "o.vcf.gz",
                 "--work-dir", tmp_path / "work", "--shard-size", 8, "--engine", "ray",
                 "--ray-address", address, "--workers", 2, *SCORE)
    out, err = job.communicate(timeout=600)
    assert job.returncode == 0, err
    assert "120 VCF records read, 120 written" in out
    assert body(tmp_path / "o.vcf.gz") == body(local)
    pids = worker_pids(tmp_path / "work")
    assert len(pids) == 2 and os.getpid() not in pids                # two worker processes


def test_a_worker_killed_mid_job_is_replaced(cluster, local, vcf, tmp_path):
    address, env = cluster
    work = tmp_path / "work"
    job = driver(env, "score-vcf", MODEL, "--vcf", vcf, "-o", tmp_path / "o.vcf.gz",
                 "--work-dir", work, "--shard-size", 8, "--engine", "ray", "--ray-address",
                 address, "--workers", 2, *SCORE)
    deadline = time.monotonic() + 300
    while len(markers(work) if (work / "shards").is_dir() else ()) < 2:
        assert job.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    victim = next(iter(worker_pids(work)))
    os.kill(victim, signal.SIGKILL)
    done_at_kill = len(markers(work))
    out, err = job.communicate(timeout=600)
    assert job.returncode == 0, err
    assert done_at_kill < 15
    assert "120 VCF records read, 120 written" in out
    assert body(tmp_path / "o.vcf.gz") == body(local)
    pids = worker_pids(work)
    assert victim in pids and len(pids) == 3                       # the replacement worker


def test_one_worker_on_a_ray_instance_of_its_own_tracks_like_local(tmp_path):
    common = ["tracks", MODEL, "--fasta", GENOME, "--region", "chr2:1001-3000",
              "--n-references", 2, "--shard-size", 5, "--no-progress"]
    status, _, err = run(*common, "-o", tmp_path / "local.bw")
    assert status == 0, err
    job = driver(os.environ, *common, "-o", tmp_path / "ray.bw", "--engine", "ray",
                 "--workers", 1)
    out, err = job.communicate(timeout=600)
    assert job.returncode == 0, err
    assert "tracked 2000 bases" in out
    with pyBigWig.open(str(tmp_path / "local.bw")) as a, \
            pyBigWig.open(str(tmp_path / "ray.bw")) as b:
        np.testing.assert_array_equal(a.values("chr2", 1000, 3000, numpy=True),
                                      b.values("chr2", 1000, 3000, numpy=True))
