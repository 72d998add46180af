"""Evaluation of explanation methods: the simulation plants what it says, the ground-truth
metrics equal scikit-learn's, known sites map onto sequences (forward and reverse strand), the
benchmark tells a trained model from a randomized one, and the command, its report and a server
give the same."""
import json
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

import kipoi_explain as kx
from conftest import EXAMPLE_DIR, served_locally
from kipoi_explain.errors import InputError
from kipoi_explain.evaluation.truth import (position_scores, row_aupr, row_auroc, row_cosine,
                                            truth_from_bed)
from kipoi_explain.motif.database import jaspar
from kipoi_explain.motif.matrices import information_content

CNN = EXAMPLE_DIR / "models" / "pytorch_cnn"
CTCF_ONLY = {"positive": ["MA0139"], "negative": ["MA0106", "MA0050"], "n_motifs": (1, 2)}


# ---- 1. simulation ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sim():
    return kx.simulate(600, seed=5)


@pytest.mark.slow
def test_simulation_plants_what_it_says(sim):
    assert sim.x.shape == (600, 200, 4) and sim.labels.sum() == 300
    np.testing.assert_array_equal(sim.x.sum(-1), 1)
    counts = sim.sites.groupby("seq").size()
    assert counts.min() >= 3 and counts.max() <= 7
    positives = sim.sites[sim.sites.seq < 300]
    assert set(positives.pool) == {"positive"}
    assert set(sim.sites[sim.sites.seq >= 300].pool) == {"positive", "negative"}
    assert set(sim.sites.strand) == {"+", "-"}
    for seq, rows in sim.sites.groupby("seq"):
        spans = sorted(zip(rows.start, rows.end))
        assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:]))
    assert not sim.truth[300:].any()


@pytest.mark.slow
def test_planted_bases_follow_the_motif_and_truth_marks_informative_columns(sim):
    db = jaspar(sim.settings["release"], "CORE", None)
    sp1 = sim.sites[(sim.sites.motif_id == "MA0079.5") & (sim.sites.strand == "+")]
    pfm = db.pfms[db.ids.index("MA0079.5")]
    windows = np.stack([sim.x[r.seq, r.start:r.end] for r in sp1.itertuples()])
    assert len(windows) > 100
    # Sampled column by column from the PFM: frequencies within sampling error.
    np.testing.assert_allclose(windows.mean(0), pfm, atol=4 / np.sqrt(len(windows)))
    ic = information_content(pfm)
    for r in sp1.itertuples():
        if r.seq < 300:
            np.testing.assert_array_equal(sim.truth[r.seq, r.start:r.end], ic >= 0.1)
            np.testing.assert_allclose(sim.truth_map[r.seq, r.start:r.end].sum(-1),
                                       ic * (ic >= 0.1), rtol=1e-5)


@pytest.mark.slow
def test_simulation_is_seeded_and_refuses_what_cannot_be_drawn():
    a, b = kx.simulate(20, seed=1), kx.simulate(20, seed=1)
    np.testing.assert_array_equal(a.x, b.x)
    assert not np.array_equal(a.x, kx.simulate(20, seed=2).x)
    with pytest.raises(InputError, match="'MA9999': not in JASPAR"):
        kx.simulate(4, positive=["MA9999"])
    with pytest.raises(InputError, match="do not fit into 40 bp"):
        kx.simulate(4, length=40)


# ---- 2. metrics against scikit-learn -----------------------------------------------------

def test_row_metrics_equal_scikit_learn():
    rng = np.random.default_rng(0)
    scores, truth = rng.random((30, 120)), rng.random((30, 120)) < 0.15
    np.testing.assert_allclose(row_auroc(scores, truth),
                               [roc_auc_score(t, s) for s, t in zip(scores, truth)])
    np.testing.assert_allclose(row_aupr(scores, truth),
                               [average_precision_score(t, s) for s, t in zip(scores, truth)])
    maps, truth_map = rng.normal(size=(5, 20, 4)), rng.normal(size=(5, 20, 4))
    expected = [a.ravel() @ b.ravel() / np.linalg.norm(a) / np.linalg.norm(b)
                for a, b in zip(maps, truth_map)]
    np.testing.assert_allclose(row_cosine(maps, truth_map), expected)
    np.testing.assert_allclose(position_scores(maps), np.linalg.norm(maps, axis=-1))
    assert np.isnan(row_auroc(scores[:1], np.zeros((1, 120), bool))[0])


def test_known_sites_map_onto_fasta_records_and_reverse_intervals(tmp_path):
    x = np.eye(4, dtype=np.float32)[np.random.default_rng(0).integers(0, 4, (2, 50))]
    bed = tmp_path / "sites.bed"
    bed.write_text("rec1\t10\t16\nchr1\t1010\t1016\nother\t0\t5\n")
    truth, truth_map = truth_from_bed(bed, ["rec0", "rec1"], None, x)
    assert truth[1, 10:16].all() and truth.sum() == 6
    np.testing.assert_array_equal(truth_map[1, 10:16], x[1, 10:16])
    forward = kx.Interval("chr1", 1000, 1050, "a", "+")
    reverse = kx.Interval("chr1", 1000, 1050, "b", "-", reverse=True)
    truth, _ = truth_from_bed(bed, ["a", "b"], [forward, reverse], x)
    assert truth[0, 10:16].all() and truth[1, 34:40].all() and truth.sum() == 12
    with pytest.raises(InputError, match="none of its 3 sites falls inside a sequence"):
        truth_from_bed(bed, ["x", "y"], None, x)


# ---- 3. the benchmark tells a trained model from a randomized one ----------------------------

@pytest.fixture(scope="module")
def trained():
    return kx.evaluate(CNN, simulated=True, n=60, methods=["saliency", "deepshap", "ism"],
                       target="CTCF", n_references=8, n_boot=200, **CTCF_ONLY)


@pytest.mark.slow
def test_methods_find_the_planted_ctcf_on_the_trained_model(trained):
    frame = trained.frame()
    auroc = frame[frame.metric == "auroc"].set_index("method")["mean"]
    assert set(auroc.index) == {"saliency", "saliency+corrected", "deepshap",
                                "deepshap+corrected", "ism"}
    assert (auroc > 0.8).all(), auroc
    assert trained.settings["n_sequences"] == 30 and trained.settings["has_truth"]
    for row in trained.table:
        assert row["lo"] <= row["mean"] <= row["hi"]
    assert trained.cost["ism"] > trained.cost["saliency"]
    assert trained.verdict["trust"] and trained.verdict["text"].startswith(
        "for this model and these sequences, trust")
    assert set(trained.verdict["gradient_correction"]) == {"saliency", "deepshap"}


def test_a_randomized_model_explains_nothing_planted():
    model = kx.load_model(CNN)
    torch.manual_seed(0)
    with torch.no_grad():
        for parameter in model.predictor.module.parameters():
            parameter.copy_(torch.randn_like(parameter) * parameter.std())
    result = kx.evaluate(model, simulated=True, n=80, methods=["ism"], target="CTCF",
                         n_boot=200, groups=["truth"], **CTCF_ONLY)
    auroc = result.frame().query("metric == 'auroc'")["mean"].iloc[0]
    assert 0.35 < auroc < 0.7


def test_without_ground_truth_methods_beat_the_random_floor(trained):
    mean = trained.frame().pivot(index="method", columns="metric", values="mean")
    methods = ["saliency", "deepshap", "ism"]
    # Removing what a method ranks first kills the CTCF output; removing random positions
    # does so far more slowly, and putting them back restores it far more slowly.
    assert (mean.loc[methods, "deletion"] < mean.loc["random", "deletion"] / 2).all()
    assert (mean.loc[methods, "insertion"] > mean.loc["random", "insertion"] + 0.3).all()
    assert (mean.loc[methods, "comprehensiveness"] > mean.loc["random",
                                                              "comprehensiveness"]).all()
    assert (mean.loc[methods, "sufficiency"] < mean.loc["random", "sufficiency"]).all()
    # The trained model's maps are not what a randomized model gives.
    assert (mean.loc[methods, "randomization"].abs() < 0.3).all()
    assert (mean.loc[methods, ["rc_stability", "shift_stability"]] > 0.5).all().all()
    assert mean.loc["deepshap", "seed_stability"] < 1 and \
        np.isnan(mean.loc["saliency", "seed_stability"])
    skipped = trained.settings["skipped"]
    assert "infidelity does not apply" in skipped["ism|infidelity"]
    assert "deepshap|max_sensitivity" in skipped
    assert "random" not in trained.verdict["ranked"] + trained.verdict["trust"]


def test_verdict_names_what_the_weaker_method_loses():
    table = [{"method": "ism", "metric": "auroc", "mean": 0.9, "lo": 0.88, "hi": 0.92, "n": 9},
             {"method": "saliency", "metric": "auroc", "mean": 0.7, "lo": 0.65, "hi": 0.75,
              "n": 9},
             {"method": "saliency+corrected", "metric": "auroc", "mean": 0.75, "lo": 0.7,
              "hi": 0.8, "n": 9}]
    from kipoi_explain.evaluation.verdict import verdict

    found = verdict(table, {"ism": 300.0, "saliency": 3.0, "saliency+corrected": 3.0})
    assert found["trust"] == ["ism"] and found["ranked"][0] == "ism"
    assert "saliency loses 20.0 points of AUROC to ism" in found["text"]
    assert "gradient correction helps saliency by 5.0 points of AUROC" in found["text"]


# ---- 4. command, report, server --------------------------------------------------------------

@pytest.mark.slow
def test_command_writes_a_report_that_follows_its_schema(tmp_path):
    import jsonschema

    from kipoi_explain.writers.evaluation import schema

    out = tmp_path / "evaluation"
    proc = subprocess.run(
        [sys.executable, "-m", "kipoi_explain", "evaluate", str(CNN), "--simulate", "--n", "30",
         "--positive", "MA0139", "--negative", "MA0106", "--n-motifs", "1,2", "--methods",
         "saliency,grad_x_input", "--target", "CTCF", "--n-boot", "50", "-o", str(out)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"evaluated 2 method\(s\) on 15 sequences of 'pytorch_cnn' .*: for this "
                     r"model and these sequences, trust", proc.stdout)
    document = json.loads((out / "report.json").read_text())
    jsonschema.Draft202012Validator(schema()).validate(document)
    assert {row["method"] for row in document["table"]} == {
        "saliency", "saliency+corrected", "grad_x_input", "grad_x_input+corrected", "random"}
    assert {row["metric"] for row in document["table"]} == set(document["metrics"]) - {
        "seed_stability"}
    page = (out / "report.html").read_text()
    assert "Verdict:" in page and page.count("data:image/png;base64,") >= 4
    assert not re.search(r"(src|href)=\"(https?:|//)", page), "the page loads nothing else"
    assert (out / "plots" / "roc.png").stat().st_size > 5000
    assert "| `saliency` |" in (out / "report.md").read_text()


def test_report_renders_in_a_real_browser(tmp_path):
    import shutil

    browser = next((shutil.which(b) for b in ("chromium", "chromium-browser",
                                              "google-chrome") if shutil.which(b)), None)
    if browser is None:
        pytest.skip("no Chromium on this machine")
    result = kx.evaluate(CNN, simulated=True, n=20, methods=["saliency"], target="CTCF",
                         n_boot=20, groups=["truth", "faithfulness"], **CTCF_ONLY)
    from kipoi_explain.writers.evaluation import write_evaluation

    write_evaluation(result, tmp_path)
    shot = tmp_path / "shot.png"
    proc = subprocess.run([browser, "--headless", "--disable-gpu", "--no-sandbox",
                           f"--screenshot={shot}", "--window-size=1200,2000",
                           "--enable-logging=stderr", "--v=0",
                           (tmp_path / "report.html").as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert shot.stat().st_size > 10000
    assert "Uncaught" not in proc.stderr and "CONSOLE(" not in proc.stderr


@pytest.mark.slow
def test_server_evaluates_as_the_library(client):
    options = {"simulated": True, "n": 20, "methods": ["saliency"], "target": "CTCF",
               "n_boot": 50, "positive": ["MA0139"], "negative": ["MA0106"],
               "n_motifs": [1, 2], "groups": ["truth", "faithfulness"]}
    remote = client.evaluate("cnn", **options)
    local = kx.evaluate(served_locally(CNN), **options)
    assert remote.table == local.table
    assert remote.verdict["text"] == local.verdict["text"]
    with pytest.raises(Exception, match="sites"):
        client.evaluate("cnn", str(EXAMPLE_DIR / "data" / "sequences.fa"),
                        sites=str(EXAMPLE_DIR / "data" / "regions.bed"))


def test_every_metric_is_defined_in_the_docs():
    from pathlib import Path

    from kipoi_explain.evaluation.metrics import METRICS

    docs = (Path(__file__).resolve().parents[1] / "docs" / "evaluation.md").read_text()
    for name, info in METRICS.items():
        assert f"| `{name}` ({info.title}) |" in docs and info.definition in docs, name


def test_given_sites_score_genome_regions(tmp_path):
    """Known sites of the example genome (the planted CTCF sites) as the ground truth of the
    100 BED windows: methods find them on the CTCF output."""
    import pandas as pd

    planted = pd.read_csv(EXAMPLE_DIR / "data" / "planted_sites.tsv", sep="\t")
    ctcf = planted[planted.motif_name == "CTCF"]
    sites = tmp_path / "ctcf.bed"
    ctcf[["chrom", "start", "end"]].to_csv(sites, sep="\t", header=False, index=False)
    seqs = kx.from_bed(EXAMPLE_DIR / "data" / "regions.bed", EXAMPLE_DIR / "data" / "genome.fa",
                       200)
    result = kx.evaluate(CNN, seqs, methods=["saliency", "ism"], target="CTCF", sites=sites,
                         groups=["truth"], n_boot=100)
    table = result.frame().set_index(["method", "metric"])["mean"]
    # Sequences without a CTCF site have no AUROC: only the windows holding one count.
    assert result.frame().query("metric == 'auroc'")["n"].iloc[0] == ctcf.region.nunique()
    assert table["ism", "auroc"] > 0.85 and table["saliency", "auroc"] > 0.8
    assert result.settings["sites"] == str(sites) and result.settings["intervals"]


@pytest.mark.slow
def test_reference_cnn_trained_by_the_command(tmp_path):
    """``evaluate reference:exponential --simulate`` trains Koo & Ploenzke's shallow CNN with an
    exponential first layer on the simulated task (Keras) and evaluates it. Measured: held-out
    AUROC 0.975, saliency AUROC 0.91 (relu: 0.95 and 0.82)."""
    pytest.importorskip("keras")
    out = tmp_path / "reference"
    proc = subprocess.run(
        [sys.executable, "-m", "kipoi_explain", "evaluate", "reference:exponential",
         "--simulate", "--n", "100", "--methods", "saliency", "--groups", "truth",
         "--uncorrected-only", "--no-progress", "-o", str(out)],
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "training the reference CNN (exponential first layer)" in proc.stdout
    document = json.loads((out / "report.json").read_text())
    assert document["model"]["activation"] == "exponential"
    assert document["model"]["heldout_auroc"] > 0.9
    auroc = next(r["mean"] for r in document["table"] if r["metric"] == "auroc")
    assert auroc > 0.8
    with pytest.raises(InputError, match="reference:relu or reference:exponential"):
        from kipoi_explain.evaluation.reference import named_reference

        named_reference("reference:tanh")


def test_bad_arguments_are_refused_before_any_work():
    with pytest.raises(InputError, match="methods: 'nonsense' unknown; expected some of"):
        kx.evaluate(CNN, simulated=True, n=10, methods=["saliency", "nonsense"])
    with pytest.raises(InputError, match="groups: speed unknown"):
        kx.evaluate(CNN, simulated=True, n=10, groups=["truth", "speed"])
    with pytest.raises(InputError, match="give no sequences or sites with it"):
        kx.evaluate(CNN, str(EXAMPLE_DIR / "data" / "sequences.fa"), simulated=True)
    with pytest.raises(InputError, match="needs sequences"):
        kx.evaluate(CNN)
