"""Stages of a command: each timed, its progress on stderr once it lasts, and one summary line
at the end that separates compute from writing and plotting."""
import contextlib
import io
import re
import time

import pytest

from conftest import EXAMPLE_DIR, other
from kipoi_explain import stages
from kipoi_explain.cli.main import main
from kipoi_explain.stages import Stages, stage

MODEL = EXAMPLE_DIR / "models" / "pytorch_cnn"
GENOME = EXAMPLE_DIR / "data" / "genome.fa"
BED = EXAMPLE_DIR / "data" / "regions.bed"
SUMMARY = re.compile(r"^done in (\d+\.\d) s: (.+)$")


def run(*args):
    """Exit status, stdout and stderr of ``kipoi-explain ARGS``, run in this process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in args])
    return status, out.getvalue(), err.getvalue()


def summary(stdout: str) -> tuple[float, dict]:
    """The total and the stages' times of a command's last line."""
    found = SUMMARY.match(stdout.splitlines()[-1])
    assert found, stdout
    parts = dict(re.fullmatch(r"(\w+) (\d+\.\d) s", part).groups()
                 for part in found.group(2).split(", "))
    return float(found.group(1)), {name: float(seconds) for name, seconds in parts.items()}


def assert_adds_up(total: float, parts: dict) -> None:
    # Each figure is rounded to 0.1 s: the sum is off by at most half of that per figure.
    assert abs(sum(parts.values()) - total) <= 0.05 * (len(parts) + 1) + 1e-9


def test_a_short_stage_shows_nothing_and_a_long_one_its_bar(capsys):
    with Stages(delay=0.05) as timed:
        with stage("quick"):
            pass
        assert capsys.readouterr().err == ""
        with stage("slow", total=3, unit="step") as advance:
            for _ in range(3):
                time.sleep(0.15)
                advance()
        with stage("waiting"):
            time.sleep(0.3)
    err = capsys.readouterr().err
    assert "quick" not in err
    assert "slow" in err and "/3" in err and "step" in err
    # A stage of unknown length ticks its elapsed time.
    assert "waiting: 00:00" in err
    assert list(timed.seconds) == ["quick", "slow", "waiting"]
    assert timed.seconds["slow"] == pytest.approx(0.45, abs=0.2)


def test_without_progress_stages_are_timed_but_not_shown(capsys):
    with Stages(progress=False, delay=0.01) as timed:
        with stage("slow", total=2):
            time.sleep(0.2)
    assert capsys.readouterr().err == ""
    assert timed.seconds["slow"] >= 0.2


def test_an_inner_stage_s_time_is_not_the_outer_one_s():
    with Stages(progress=False) as timed:
        with stage("compute"):
            time.sleep(0.1)
            for _ in range(2):
                with stage("writing"):
                    time.sleep(0.1)
            time.sleep(0.1)
    assert timed.seconds["compute"] == pytest.approx(0.2, abs=0.08)
    assert timed.seconds["writing"] == pytest.approx(0.2, abs=0.08)
    total, parts = summary(timed.summary())
    assert list(parts)[:2] == ["compute", "writing"]
    assert_adds_up(total, parts)


def test_a_library_step_outside_a_command_is_a_bar_shown_when_asked(capsys):
    with stage("matching", total=2, unit="motif", progress=False) as advance:
        advance(2)
    assert capsys.readouterr().err == ""
    assert stages.spent("matching") == 0.0


@pytest.fixture(scope="module")
def explained(tmp_path_factory):
    out = tmp_path_factory.mktemp("stages") / "gxi.h5"
    return out, run("explain", MODEL, "--fasta", GENOME, "--bed", BED, "--method",
                    "grad_x_input", "--target", "CTCF", "--plot-sequences", 2, "--no-progress",
                    "-o", out)


def test_explain_summary_separates_compute_from_writing_and_plotting(explained):
    _, (status, stdout, err) = explained
    assert status == 0, err
    total, parts = summary(stdout)
    assert list(parts)[:5] == ["loading", "reading", "compute", "writing", "plotting"]
    assert_adds_up(total, parts)
    # The first line's time is the compute's alone, not the writing's or the plotting's.
    first = re.search(r" in (\d+\.\d) s$", stdout.splitlines()[0])
    assert float(first.group(1)) == parts["compute"]


def test_no_progress_hides_every_bar(explained):
    _, (status, _, err) = explained
    assert status == 0
    assert err == ""


def test_progress_shows_the_stages_that_last(tmp_path, monkeypatch):
    # Every stage counts as lasting: each shows.
    monkeypatch.setattr(stages, "DELAY", 0.0)
    status, stdout, err = run("explain", MODEL, "--fasta", GENOME, "--bed", BED, "--method",
                              "deepshap", "--n-references", 3, "--target", "CTCF",
                              "--plot-sequences", 1, "-o", tmp_path / "x.h5")
    assert status == 0, err
    for name in ("compute", "plotting", "deepshap"):
        assert name in err
    assert "plotting" in summary(stdout)[1]


def test_motifs_matching_and_logos_are_stages(tmp_path):
    status, stdout, err = run("motifs", MODEL, "--fasta", GENOME, "--bed", BED,
                              "--no-progress", "-o", tmp_path / "motifs")
    assert status == 0, err
    total, parts = summary(stdout)
    for name in ("database", "compute", "matching", "writing", "plotting"):
        assert name in parts
    assert_adds_up(total, parts)


def test_score_vcf_counts_writing_apart_from_compute(tmp_path, genome):
    rows = [f"chr1\t{pos}\t.\t{genome['chr1'][pos - 1]}\t{other(genome['chr1'][pos - 1])}\t.\t"
            "PASS\t." for pos in range(1000, 8000, 1000)]
    vcf = tmp_path / "v.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n##contig=<ID=chr1>\n#CHROM\tPOS\tID\tREF\tALT\t"
                   "QUAL\tFILTER\tINFO\n" + "\n".join(rows) + "\n")
    status, stdout, err = run("score-vcf", MODEL, "--vcf", vcf, "--fasta", GENOME,
                              "--method", "grad_x_input", "--target", "CTCF", "--no-progress",
                              "-o", tmp_path / "o.vcf.gz")
    assert status == 0, err
    total, parts = summary(stdout)
    assert {"compute", "writing"} <= set(parts)
    assert_adds_up(total, parts)
