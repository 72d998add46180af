"""diagnose(): every check on a healthy example model, the report, options and the CLI."""
import json
import subprocess
import sys

import pytest
from conftest import EXAMPLE_DIR, example_model

import kipoi_explain as kx
from kipoi_explain.diagnostics import CHECKS, check_options

MODEL = EXAMPLE_DIR / "models" / "pytorch_cnn"
FASTA, BED = EXAMPLE_DIR / "data" / "genome.fa", EXAMPLE_DIR / "data" / "regions.bed"


@pytest.fixture(scope="module")
def report():
    return kx.diagnose(example_model("pytorch"), kx.from_bed(BED, FASTA, 200), target="CTCF",
                       n_attribution=12)


def test_healthy_example_is_not_flagged(report):
    assert report.flagged() == []
    assert report.settings["checks"] == list(CHECKS)
    assert {f.check for f in report.findings} == set(CHECKS)
    assert report.settings["target"]["names"] == ["CTCF"]
    assert report.settings["n_sequences"] == 100 and report.settings["n_attribution"] == 12
    # Checks that need what this model lacks say so instead of vanishing.
    for check in ("attention_conditioning", "constraint_cost"):
        (finding,) = [f for f in report.findings if f.check == check]
        assert finding.severity == "info" and "not applicable" in finding.message


def test_report_is_strict_json_with_the_documented_keys(report):
    document = json.loads(json.dumps(report.as_dict(), allow_nan=False))
    assert set(document) >= {"schema_version", "model", "findings", "settings", "measurements"}
    assert document["model"]["fingerprint"] == report.model["fingerprint"]
    for finding in document["findings"]:
        assert set(finding) >= {"check", "severity", "value", "threshold", "where",
                                "recommendation"}
        assert finding["check"] in CHECKS and finding["severity"] in ("info", "warning", "error")


def test_options_reach_the_check(example_regions):
    strict = kx.diagnose(example_model("pytorch"), example_regions[:20],
                         checks=["filter_scaling"],
                         options={"filter_scaling": {"max_saturation": -1.0}})
    (finding,) = strict.findings
    assert finding.flagged and finding.threshold == -1.0
    assert strict.settings["options"]["filter_scaling"]["max_saturation"] == -1.0


def test_bad_checks_and_options_are_named(example_regions):
    with pytest.raises(kx.InputError, match="nonsense"):
        kx.diagnose(MODEL, example_regions[:2], checks=["nonsense"])
    with pytest.raises(kx.InputError, match="max_saturation.*redundancy|redundancy.*takes"):
        kx.diagnose(MODEL, example_regions[:2], options={"redundancy": {"max_saturation": 1}})
    assert "min_correlation" in check_options("redundancy")


def run(*args):
    return subprocess.run([sys.executable, "-m", "kipoi_explain", *map(str, args)],
                          capture_output=True, text=True, timeout=600)


def test_cli_writes_json_markdown_and_html(tmp_path):
    out = tmp_path / "report.json"
    proc = run("diagnose", MODEL, "--fasta", FASTA, "--bed", BED, "--checks",
               "filter_scaling,redundancy,gradient_saturation", "--target", "CTCF",
               "--n-attribution", "8", "-o", out, "--no-progress")
    assert proc.returncode == 0, proc.stderr
    document = json.loads(out.read_text())
    assert document["settings"]["checks"] == ["filter_scaling", "redundancy",
                                              "gradient_saturation"]
    assert (tmp_path / "report.md").is_file() and (tmp_path / "report.html").is_file()
    assert "0 flagged" in proc.stdout


def test_cli_fail_on_and_errors(tmp_path):
    proc = run("diagnose", MODEL, "--fasta", FASTA, "--bed", BED, "--checks", "nonsense",
               "-o", tmp_path / "r.json")
    assert proc.returncode == 2 and "nonsense" in proc.stderr
    proc = run("diagnose", MODEL, "--fasta", FASTA, "--bed", BED, "--free-model", MODEL,
               "-o", tmp_path / "r.json")
    assert proc.returncode == 2 and "--labels" in proc.stderr


def test_cli_constraint_cost_compares_two_models_on_labels(tmp_path):
    """The example regions labelled by their planted motifs; the Keras example is the 'free'
    model the PyTorch one is compared with."""
    import pandas as pd

    sites = pd.read_csv(EXAMPLE_DIR / "data" / "planted_sites.tsv", sep="\t")
    names = pd.read_csv(BED, sep="\t", header=None)[3]
    labels = pd.DataFrame({"name": names})
    for motif in ("CTCF", "HNF4A", "CEBPB"):
        labels[motif] = names.isin(sites.loc[sites.motif_name == motif, "region"]).astype(int)
    labels.sample(frac=1, random_state=0).to_csv(tmp_path / "labels.tsv", sep="\t",
                                                 index=False)
    out = tmp_path / "cost.json"
    proc = run("diagnose", MODEL, "--fasta", FASTA, "--bed", BED, "--checks", "constraint_cost",
               "--free-model", EXAMPLE_DIR / "models" / "keras_cnn", "--labels",
               tmp_path / "labels.tsv", "-o", out, "--no-progress")
    assert proc.returncode == 0, proc.stderr
    outputs = json.loads(out.read_text())["measurements"]["constraint_cost"]["outputs"]
    assert set(outputs) == {"CTCF", "HNF4A", "CEBPB"}
    for name, measured in outputs.items():
        assert measured["metric"] == "auroc" and measured["n"] == 100
        assert measured["constrained"] > 0.9 and measured["free"] > 0.9
        lo, hi = measured["interval"]
        assert lo <= measured["difference"] <= hi
