"""``kipoi-explain entities`` in-process, on the bundled GenNet-style model (only GENE07, in
pathway PATH_C, drives its phenotype) and, for DNA input, on the bundled CNN."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import kipoi_explain as kx
from kipoi_explain.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
GENNET = ROOT / "examples" / "models" / "gennet"
CNN = ROOT / "examples" / "models" / "pytorch_cnn"
GENOTYPES = ROOT / "examples" / "data" / "genotypes.tsv"
SEQUENCES = ROOT / "examples" / "data" / "sequences.fa"
CAUSAL_SNPS = {"rs0071", "rs0074", "rs0076", "rs0079"}
COLUMNS = ["rank", "entity", "level", "layer", "unit", "mean", "mean_abs", "std", "n_samples"]


def run(capsys, *args):
    status = main(["entities", *map(str, args)])
    out, err = capsys.readouterr()
    return status, out, err


def assert_png(path):
    from PIL import Image

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as image:
        image.verify()


@pytest.fixture(scope="module")
def gennet():
    return kx.load_model(GENNET)


@pytest.fixture(scope="module")
def gene_run(tmp_path_factory):
    """Integrated gradients over the genes, with every output file."""
    out = tmp_path_factory.mktemp("entities") / "genes" / "ranking.tsv"
    status = main(["entities", str(GENNET), "--input", str(GENOTYPES), "--level", "gene",
                   "--per-sample", "--no-progress", "-o", str(out)])
    return status, out


def test_gene_ranking_puts_the_causal_gene_first(gene_run):
    status, out = gene_run
    assert status == 0
    table = pd.read_csv(out, sep="\t")
    assert list(table.columns) == COLUMNS
    assert table["entity"].iloc[0] == "GENE07"
    assert len(table) == 25 and table["rank"].tolist() == list(range(1, 26))
    assert (table["level"] == "gene").all() and (table["layer"] == "gene_act").all()
    assert table["mean_abs"].is_monotonic_decreasing
    assert (table["n_samples"] == 200).all()
    assert_png(out.with_suffix(".png"))


def test_files_equal_the_library_result(gene_run, gennet):
    _, out = gene_run
    expected = kx.entities(gennet, str(GENOTYPES), "gene")
    table = pd.read_csv(out, sep="\t")
    assert table["entity"].tolist() == expected.ranking()
    np.testing.assert_allclose(table["mean_abs"], expected.table()["mean_abs"], rtol=1e-5)
    scores = pd.read_csv(out.with_suffix(".samples.tsv"), sep="\t", index_col=0)
    assert scores.index.name == "sample" and scores.index[0] == "S0001"
    assert list(scores.columns) == expected.entities
    np.testing.assert_allclose(scores.to_numpy(), expected.scores, rtol=1e-5, atol=1e-9)
    meta = json.loads(out.with_suffix(".json").read_text())
    assert (meta["level"], meta["layer"], meta["method"]) == \
        ("gene", "gene_act", "integrated_gradients")
    assert meta["target"]["names"] == ["case"]
    assert (meta["n_samples"], meta["n_entities"]) == (200, 25)
    assert meta["settings"]["n_steps"] == 50 and meta["settings"]["baseline"] == "zeros"
    assert meta["model"]["fingerprint"] == gennet.fingerprint()
    assert meta["delta"]["max_abs"] == pytest.approx(float(np.abs(expected.delta).max()))
    assert meta["delta"]["max_abs"] < 1e-4


def test_summary_names_the_top_entities_and_the_files(gene_run, capsys):
    _, out = gene_run
    main(["entities", str(GENNET), "--input", str(GENOTYPES), "--level", "gene",
          "--method", "grad_x_activation", "--no-plot", "--no-progress", "-o", str(out.parent /
                                                                                  "gxa.tsv")])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("ranked 25 gene entities (gene_act) of 'gennet' over 200 "
                               "samples with grad_x_activation (target case) in ")
    assert lines[1].split()[:2] == ["1", "GENE07"]
    assert lines[6:8] == [f"  wrote {out.parent / 'gxa.tsv'}",
                          f"  wrote {out.parent / 'gxa.json'}"]
    assert lines[8].startswith("done in ") and len(lines) == 9


@pytest.mark.parametrize("method, extra", [("grad_x_activation", []),
                                           ("ablation", ["--fill", "mean"])])
def test_pathway_ranking_puts_the_causal_pathway_first(tmp_path, capsys, method, extra):
    out = tmp_path / "pathways.tsv"
    status, _, _ = run(capsys, GENNET, "--input", GENOTYPES, "--level", "pathway",
                       "--method", method, *extra, "--target", "case", "--no-plot",
                       "--no-progress", "-o", out)
    assert status == 0
    table = pd.read_csv(out, sep="\t")
    assert table["entity"].iloc[0] == "PATH_C"
    assert not out.with_suffix(".png").exists()
    assert json.loads(out.with_suffix(".json").read_text())["delta"] is None


def test_snps_from_a_npy_array(tmp_path, capsys):
    table = pd.read_csv(GENOTYPES, sep="\t", index_col=0)
    np.save(tmp_path / "genotypes.npy", table.to_numpy(np.float32))
    out = tmp_path / "snps.tsv"
    status, _, _ = run(capsys, GENNET, "--input", tmp_path / "genotypes.npy", "--level", "snp",
                       "--method", "grad_x_activation", "--per-sample", "--plot-entities", 5,
                       "--no-progress", "-o", out)
    assert status == 0
    assert set(pd.read_csv(out, sep="\t")["entity"].head(4)) == CAUSAL_SNPS
    scores = pd.read_csv(out.with_suffix(".samples.tsv"), sep="\t", index_col=0)
    assert scores.shape == (200, 300) and scores.index[0] == "sample0"
    assert_png(out.with_suffix(".png"))


def test_baseline_number_equals_the_zeros_keyword(tmp_path, capsys):
    tables = []
    for baseline in ("zeros", "0"):
        out = tmp_path / f"b{baseline}.tsv"
        status, _, _ = run(capsys, GENNET, "--input", GENOTYPES, "--level", "gene",
                           "--baseline", baseline, "--n-steps", 8, "--quadrature-rule",
                           "riemann_middle", "--no-plot", "--no-progress", "-o", out)
        assert status == 0
        tables.append(pd.read_csv(out, sep="\t"))
        assert json.loads(out.with_suffix(".json").read_text())["settings"]["n_steps"] == 8
    pd.testing.assert_frame_equal(*tables)


def test_mapping_file_renames_the_units(tmp_path, capsys):
    mapping = tmp_path / "entities.yaml"
    mapping.write_text(yaml.safe_dump({"levels": {"modules": {
        "layer": "pathway_act", "units": [f"module_{c}" for c in "abcdef"]}}}))
    out = tmp_path / "modules.tsv"
    status, _, _ = run(capsys, GENNET, "--input", GENOTYPES, "--level", "modules",
                       "--mapping", mapping, "--method", "grad_x_activation", "--no-plot",
                       "--no-progress", "-o", out)
    assert status == 0
    # PATH_C is the third pathway unit.
    assert pd.read_csv(out, sep="\t")["entity"].iloc[0] == "module_c"


def test_dna_model_reads_a_fasta(tmp_path, capsys):
    mapping = tmp_path / "filters.yaml"
    mapping.write_text(yaml.safe_dump({"levels": {"filters": {
        "layer": "relu1", "units": [f"filter_{i}" for i in range(16)]}}}))
    out = tmp_path / "filters.tsv"
    status, _, _ = run(capsys, CNN, "--input", SEQUENCES, "--level", "filters", "--mapping",
                       mapping, "--method", "grad_x_activation", "--target", "CTCF",
                       "--no-plot", "--no-progress", "-o", out)
    assert status == 0
    expected = kx.entities(kx.load_model(CNN), str(SEQUENCES), "filters", "grad_x_activation",
                           target="CTCF", mapping=mapping)
    assert pd.read_csv(out, sep="\t")["entity"].tolist() == expected.ranking()


@pytest.mark.parametrize("args, message", [
    (["--level", "bogus"], "entity level 'bogus': "),
    (["--level", "gene", "--input", "missing.tsv"], "--input 'missing.tsv': no such file"),
    (["--level", "gene", "--method", "ablation", "--fill", "bogus"],
     "--fill 'bogus': expected zeros, mean, a number or a .npy file"),
    (["--level", "gene", "--baseline", "median"],
     "--baseline 'median': expected zeros, mean, zero_input, a number or a .npy file"),
    (["--level", "gene", "--fill", "0"],
     "--fill do(es) not apply to --method integrated_gradients"),
    (["--level", "gene", "--method", "ablation", "--n-steps", "5"],
     "--n-steps do(es) not apply to --method ablation"),
    (["--level", "gene", "--mapping", "missing.yaml"], "--mapping 'missing.yaml': no such file"),
    (["--level", "gene", "--input", SEQUENCES], "reads features, not DNA"),
    (["--level", "gene", "--target", "NOPE"], "NOPE"),
    (["--level", "gene", "-o", "ranking.txt"], "--output 'ranking.txt': expected a .tsv path"),
])
def test_bad_input_is_a_one_line_error(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    given = ["--input", GENOTYPES, "-o", tmp_path / "r.tsv"]
    status, _, err = run(capsys, GENNET, *given, *args, "--no-progress")
    assert status == 2
    assert message in err
    assert err.startswith("kipoi-explain entities: error: ") and err.count("\n") == 1
    assert not (tmp_path / "r.tsv").exists()


def test_unknown_level_lists_the_declared_ones(tmp_path, capsys):
    status, _, err = run(capsys, GENNET, "--input", GENOTYPES, "--level", "exon", "-o",
                         tmp_path / "r.tsv")
    assert status == 2
    assert err.rstrip().endswith("entities.yaml declares snp, gene, pathway")


def test_dna_model_refuses_a_table(tmp_path, capsys):
    status, _, err = run(capsys, CNN, "--input", GENOTYPES, "--level", "filters", "-o",
                         tmp_path / "r.tsv")
    assert status == 2
    assert "model 'pytorch_cnn' reads DNA; give a FASTA" in err
