"""The command line, run as a user runs it: installed console scripts in a subprocess."""
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

import kipoi_explain as kx
from kipoi_explain.writers import read_hdf5

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
MODEL = EXAMPLES / "models" / "pytorch_cnn"
BIN = Path(sys.executable).parent


def installed() -> bool:
    try:
        metadata.distribution("kipoi-explain")
    except metadata.PackageNotFoundError:
        return False
    return True


def run(*args, script="kipoi-explain"):
    command = [str(BIN / script), *map(str, args)] if script else \
        [sys.executable, "-m", "kipoi_explain", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def bed_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "res" / "gxi.h5"
    proc = run("explain", MODEL, "--fasta", EXAMPLES / "data" / "genome.fa", "--bed",
               EXAMPLES / "data" / "regions.bed", "--method", "grad_x_input", "--target",
               "CTCF", "-o", out, script=None)
    return proc, out


@pytest.mark.slow
def test_explain_bed_writes_hdf5_and_png(bed_run):
    proc, out = bed_run
    assert proc.returncode == 0, proc.stderr
    assert "explained 100 sequences" in proc.stdout
    result = read_hdf5(out)
    assert result.scores.shape == (100, 200, 4)
    assert result.intervals[0].chrom in ("chr1", "chr2")
    assert out.with_suffix(".png").stat().st_size > 10_000


def test_cli_result_equals_library_result(bed_run):
    _, out = bed_run
    seqs = kx.from_bed(EXAMPLES / "data" / "regions.bed", EXAMPLES / "data" / "genome.fa", 200)
    expected = kx.explain(kx.load_model(MODEL), seqs, "grad_x_input", target="CTCF")
    np.testing.assert_allclose(read_hdf5(out).scores, expected.scores, rtol=1e-6, atol=1e-8)


@pytest.mark.slow
def test_modisco_format(tmp_path):
    proc = run("explain", MODEL, "--sequences", EXAMPLES / "data" / "sequences.fa", "--method",
               "deeplift", "--target", "0,HNF4A", "--format", "modisco", "--no-plot",
               "--no-progress", "-o", tmp_path / "modisco", script=None)
    assert proc.returncode == 0, proc.stderr
    onehot = np.load(tmp_path / "modisco" / "onehot.npz")["arr_0"]
    hyp = np.load(tmp_path / "modisco" / "hypothetical.npz")["arr_0"]
    assert onehot.shape == hyp.shape == (100, 4, 200)
    assert read_hdf5(tmp_path / "modisco" / "attribution.h5").target["names"] == ["CTCF", "HNF4A"]


@pytest.mark.parametrize("args, message", [
    (["--sequences", "missing.fa"], "does not exist"),
    (["--bed", EXAMPLES / "data" / "regions.bed"], "--bed needs --fasta"),
    (["--sequences", EXAMPLES / "data" / "sequences.fa", "--method", "ism", "--n-steps", "5"],
     "--n-steps"),
    (["--sequences", EXAMPLES / "data" / "sequences.fa", "--target", "NOPE"], "NOPE"),
])
@pytest.mark.slow
def test_bad_input_is_a_clear_error(tmp_path, args, message):
    proc = run("explain", MODEL, *args, "-o", tmp_path / "x.h5", script=None)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_bed_record_on_missing_contig_is_named(tmp_path):
    bed = tmp_path / "bad.bed"
    bed.write_text("chr1\t1000\t1200\tok\nchrX\t10\t210\tmystery\n")
    proc = run("explain", MODEL, "--fasta", EXAMPLES / "data" / "genome.fa", "--bed", bed,
               "-o", tmp_path / "x.h5", script=None)
    assert proc.returncode == 2
    assert "'mystery'" in proc.stderr and "chrX" in proc.stderr
    assert not (tmp_path / "x.h5").exists()


@pytest.mark.slow
@pytest.mark.skipif(not installed(), reason="kipoi-explain is not pip-installed")
@pytest.mark.parametrize("script, args", [("kipoi-explain", ["explain"]),
                                          ("kipoi", ["explain"])])
def test_console_scripts_and_kipoi_plugin(tmp_path, script, args):
    out = tmp_path / "r.h5"
    proc = run(*args, MODEL, "--sequences", EXAMPLES / "data" / "sequences.fa", "--method",
               "saliency", "--no-plot", "-o", out, script=script)
    assert proc.returncode == 0, proc.stderr
    assert read_hdf5(out).method == "saliency"


@pytest.mark.slow
@pytest.mark.skipif(not installed(), reason="kipoi-explain is not pip-installed")
def test_kipoi_plugin_runs_the_other_commands(tmp_path):
    out = tmp_path / "genes.tsv"
    proc = run("explain", "entities", EXAMPLES / "models" / "gennet", "--input",
               EXAMPLES / "data" / "genotypes.tsv", "--level", "gene", "--method", "ablation",
               "--no-plot", "--no-progress", "-o", out, script="kipoi")
    assert proc.returncode == 0, proc.stderr
    header, first = out.read_text().splitlines()[:2]
    assert dict(zip(header.split("\t"), first.split("\t")))["entity"] == "GENE07"


@pytest.fixture(scope="module")
def motifs_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("motifs")
    proc = run("motifs", MODEL, "--fasta", EXAMPLES / "data" / "genome.fa", "--bed",
               EXAMPLES / "data" / "regions.bed", "--seqlets", "deepshap", "--no-progress",
               "-o", out, script=None)
    return proc, out


@pytest.mark.slow
def test_motifs_folder_names_the_planted_jaspar_motifs(motifs_run):
    import pandas as pd
    from memelite.io import read_meme

    proc, out = motifs_run
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(out / "matches.tsv", sep="\t")
    filters = table[table.motif.str.startswith("conv1/")]
    assert filters.motif.nunique() == 16
    best = filters[(filters["rank"] == 1) & (filters.q_value < 0.05)]
    planted = {"MA0139", "MA1494", "MA0466"}
    assert planted <= {m.split(".")[0] for m in best.match_id}
    assert len(read_meme(str(out / "motifs.meme"))) == table.motif.nunique()
    assert len(list((out / "logos").glob("*.png"))) == table.motif.nunique()
    seqlets = pd.read_csv(out / "seqlets.tsv", sep="\t")
    assert len(seqlets) > 0 and {"chrom", "genome_start", "genome_end"} <= set(seqlets.columns)
    assert (out / "seqlets.png").stat().st_size > 10000 and "seqlets.png" in proc.stdout


@pytest.mark.slow
def test_motifs_weights_method_needs_no_sequences(tmp_path):
    proc = run("motifs", MODEL, "--method", "weights", "-o", tmp_path, script=None)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "matches.tsv").exists()


@pytest.mark.slow
def test_motifs_activation_needs_sequences(tmp_path):
    proc = run("motifs", MODEL, "-o", tmp_path, script=None)
    assert proc.returncode == 2 and "--bed" in proc.stderr
