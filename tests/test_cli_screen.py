"""``kipoi-explain screen`` in-process on the bundled PyTorch example: the TSV holds the library's
screen, the PNG is a picture, and bad options are one-line errors with exit status 2."""
import json

import numpy as np
import pandas as pd
import pytest

import kipoi_explain as kx
from conftest import EXAMPLE_DIR
from kipoi_explain.cli.main import main

MODEL = EXAMPLE_DIR / "models" / "pytorch_cnn"
GENOME = EXAMPLE_DIR / "data" / "genome.fa"
#: Three of the example regions (positives), the second read from the - strand.
BED = ("chr1\t1189\t1389\tpos_000\t0\t+\nchr1\t1737\t1937\tpos_001\t0\t-\n"
       "chr1\t2077\t2277\tx\t0\t.\n")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("screen")
    bed = root / "regions.bed"
    bed.write_text(BED)
    rng = np.random.default_rng(5)
    sequences = root / "seqs.fa"
    sequences.write_text("".join(f">s{i}\n{''.join(rng.choice(list('ACGT'), 200))}\n"
                                 for i in range(3)))
    return {"bed": bed, "sequences": sequences}


@pytest.fixture(scope="module")
def model():
    return kx.load_model(str(MODEL))


def run(capsys, *args):
    status = main(["screen", str(MODEL), *map(str, args)])
    out, err = capsys.readouterr()
    return status, out, err


def assert_table(path, expected):
    """The TSV has the library table's columns and values (written to 6 significant digits)."""
    table = pd.read_csv(path, sep="\t")
    expected = expected.table()
    assert table.columns.tolist() == expected.columns.tolist()
    for column in expected.columns:
        if expected[column].dtype.kind == "f":
            np.testing.assert_allclose(table[column], expected[column], rtol=1e-5, atol=1e-9,
                                       err_msg=column)
        else:
            assert table[column].tolist() == expected[column].tolist(), column


def assert_png(path):
    from PIL import Image

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert min(image.size) > 200


def test_bed_delete_screen_fills_from_the_genome(files, model, tmp_path, capsys):
    out = tmp_path / "screen.tsv"
    status, stdout, _ = run(capsys, "--bed", files["bed"], "--fasta", GENOME, "--use-strand",
                            "--window", 20, "--stride", 10, "--perturbation", "delete",
                            "--target", "CTCF", "--no-progress", "-o", out)
    assert status == 0
    seqs = kx.from_bed(files["bed"], GENOME, 200, use_strand=True)
    expected = kx.screen(model, seqs, window=20, stride=10, perturbation="delete",
                         genome=GENOME, target="CTCF")
    assert_table(out, expected)
    table = pd.read_csv(out, sep="\t")
    assert len(table) == 3 * 19
    minus = table[table.sequence == "pos_001"]
    assert (minus.genome_end.to_numpy() == 1937 - minus.start.to_numpy()).all()
    settings = json.loads(out.with_suffix(".json").read_text())
    assert settings["perturbation"] == "delete" and settings["n_windows"] == 19
    assert settings["settings"]["genome"] == str(GENOME)
    assert_png(out.with_suffix(".png"))
    assert f"  wrote {out.with_suffix('.png')}" in stdout


def test_shuffle_screen_of_a_region(files, model, tmp_path, capsys):
    out = tmp_path / "shuffle.tsv"
    status, _, _ = run(capsys, "--sequences", files["sequences"], "--window", 15, "--start", 20,
                       "--end", 120, "--n-shuffles", 2, "--seed", 3, "--target", "all",
                       "--no-progress", "--no-plot", "-o", out)
    assert status == 0
    expected = kx.screen(model, kx.from_fasta(files["sequences"]), window=15, start=20, end=120,
                         n_shuffles=2, seed=3, target="all")
    assert_table(out, expected)
    assert not out.with_suffix(".png").exists()
    assert "chrom" not in pd.read_csv(out, sep="\t").columns


def test_insertion_screen(files, model, tmp_path, capsys):
    out = tmp_path / "insert.tsv"
    status, _, _ = run(capsys, "--sequences", files["sequences"], "--insert", "GCCACTAGAAGGCAA",
                       "--mode", "insert", "--positions", "0,50,185", "--target", "CTCF",
                       "--no-progress", "-o", out)
    assert status == 0
    expected = kx.insertion(model, kx.from_fasta(files["sequences"]), "GCCACTAGAAGGCAA",
                            positions=[0, 50, 185], mode="insert", target="CTCF")
    assert_table(out, expected)
    assert_png(out.with_suffix(".png"))


@pytest.mark.parametrize("args, message", [
    (["--window", 0], "window=0: expected 1 <= window <= 200"),
    (["--window", 300], "window=300"),
    (["--stride", 0], "stride=0: expected a positive integer"),
    (["--perturbation", "mask", "--n-shuffles", 3], "n_shuffles=3: applies to the random"),
    (["--insert", "A" * 250], "sequence: 250 bases, longer than the model's input length 200"),
    (["--insert", "ACGT", "--positions", "197"], "positions: 197 out of range"),
    (["--insert", "ACGT", "--positions", "1,x"], "--positions '1,x': expected"),
    (["--insert", "ACGT", "--window", 10], "--window: window options, not used with --insert"),
    (["--positions", "3"], "--positions: applies with --insert only"),
    (["--target", "NOPE"], "target 'NOPE': no output of that name"),
    (["--plot-sequences", "0"], "--plot-sequences 0: expected at least 1"),
    (["--token", "t"], "--token appl(y/ies) only with --remote"),
])
def test_bad_options_are_one_line_errors(files, tmp_path, capsys, args, message):
    out = tmp_path / "x.tsv"
    status, _, err = run(capsys, "--sequences", files["sequences"], *args, "--no-progress",
                         "-o", out)
    assert status == 2
    assert message in err
    assert err.startswith("kipoi-explain screen: error: ") and err.count("\n") == 1
    assert not out.exists()


def test_output_must_be_a_tsv(files, tmp_path, capsys):
    status, _, err = run(capsys, "--sequences", files["sequences"], "-o", tmp_path / "x.csv")
    assert status == 2 and "expected a .tsv path" in err


def test_a_model_of_features_is_refused(files, tmp_path, capsys):
    gennet = EXAMPLE_DIR / "models" / "gennet"
    status = main(["screen", str(gennet), "--sequences", str(files["sequences"]), "-o",
                   str(tmp_path / "x.tsv")])
    _, err = capsys.readouterr()
    assert status == 2
    assert "a region screen needs a model of one-hot DNA; model 'gennet'" in err
