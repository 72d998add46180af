"""diagnose(): every check on a healthy example model, the report, options and the CLI."""
import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import EXAMPLE_DIR, example_model

import kipoi_explain as kx
from kipoi_explain import codec
from kipoi_explain.diagnostics import CHECKS, check_options
from kipoi_explain.diagnostics.verdict import verdict
from kipoi_explain.results import advises

MODEL = EXAMPLE_DIR / "models" / "pytorch_cnn"
FASTA, BED = EXAMPLE_DIR / "data" / "genome.fa", EXAMPLE_DIR / "data" / "regions.bed"


@pytest.fixture(scope="module")
def report():
    return kx.diagnose(example_model("pytorch"), kx.from_bed(BED, FASTA, 200), target="CTCF",
                       n_attribution=12)


def test_healthy_example_is_not_flagged(report):
    # No warning or error; flagged are only the measured findings that recommend something.
    assert all(f.severity == "info" for f in report.findings)
    assert report.flagged() == [f for f in report.findings
                                if f.value is not None and advises(f.recommendation)]
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


@pytest.mark.slow
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
    document = json.loads(out.read_text())
    flagged = [f for f in document["findings"] if f["severity"] != "info" or (
        f["value"] is not None and advises(f["recommendation"]))]
    assert f"{len(flagged)} flagged" in proc.stdout
    assert f"verdict: {document['verdict']['text']}" in proc.stdout
    assert "For numbers, run `kipoi-explain evaluate MODEL" in proc.stdout
    for summary in ("report.md", "report.html"):
        text = (tmp_path / summary).read_text()
        assert "Verdict" in text and "kipoi-explain evaluate" in text


@pytest.mark.slow
def test_cli_fail_on_and_errors(tmp_path):
    proc = run("diagnose", MODEL, "--fasta", FASTA, "--bed", BED, "--checks", "nonsense",
               "-o", tmp_path / "r.json")
    assert proc.returncode == 2 and "nonsense" in proc.stderr
    proc = run("diagnose", MODEL, "--fasta", FASTA, "--bed", BED, "--free-model", MODEL,
               "-o", tmp_path / "r.json")
    assert proc.returncode == 2 and "--labels" in proc.stderr


@pytest.mark.slow
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


# --- the verdict, findings' texts, what counts as flagged -----------------------------------

def _formats(value) -> set[str]:
    """The ways a finding's message may print its value."""
    if isinstance(value, int):
        return {str(value)}
    return {f"{value:{spec}}" for spec in (".0%", ".2f", ".2g", ".3g", ".3f", "+.3f")}


def test_every_message_states_its_value(report):
    measured = [f for f in report.findings
                if f.value is not None and np.isfinite(f.value)]
    assert measured
    for finding in measured:
        assert any(text in finding.message for text in _formats(finding.value)), \
            (finding.check, finding.value, finding.message)


def test_coverage_finding_states_the_share_it_is_judged_on(report):
    (coverage,) = [f for f in report.findings if "f(shuffled x)" in f.message]
    assert f"on {coverage.value:.0%} of the sequences" in coverage.message
    scored = coverage.details["scored_sequences"]
    assert coverage.value == pytest.approx(coverage.details["understated_sequences"] / scored)


def test_deepshap_is_checked(report):
    agreement = report.measurements["method_agreement"]["methods"]
    assert "deepshap" in agreement
    assert "deepshap" in report.measurements["randomization_sanity"]["methods"]
    pairs = [f.where["methods"] for f in report.findings if f.check == "method_agreement"]
    assert ["deepshap", "ism"] in pairs
    assert len(pairs) == len(agreement) * (len(agreement) - 1) // 2


def test_recommendation_counts_as_flagged():
    advice = kx.Finding("gradient_saturation", "info", 0.7, 0.5, {"layer": "out"},
                        "explain the logit", "70% saturated")
    quiet = kx.Finding("gradient_saturation", "info", 0.1, 0.5, {}, "none needed", "10%")
    not_applicable = kx.Finding("constraint_cost", "info", None, None, {},
                                "give free_model= and labels=", "not applicable")
    diagnosis = kx.Diagnosis({"name": "m"}, [advice, quiet, not_applicable])
    assert diagnosis.flagged() == [advice]


def test_verdict_is_consistent_with_the_findings(report):
    v = report.verdict
    assert v == verdict([f.as_dict() for f in report.findings], report.settings["checks"])
    trusted = [e["method"] for e in v["trust"]]
    avoided = [e["method"] for e in v["avoid"]]
    assert trusted and not set(trusted) & set(avoided)
    assert "ism" in trusted and "deepshap" in trusted
    for entry in v["trust"] + v["avoid"]:
        assert entry["why"]
    # A method that failed randomization or disagreed with ISM is never trusted.
    for f in report.findings:
        if f.check == "randomization_sanity" and f.flagged:
            assert f.where["method"] in avoided
        if f.check == "method_agreement" and f.flagged and "ism" in f.where["methods"]:
            assert set(f.where["methods"]) - {"ism"} <= set(avoided)
    # Flagged gradient findings rule out the local-slope methods.
    if report.flagged("gradient_saturation"):
        assert {"saliency", "grad_x_input"} <= set(avoided)
    # The preferred method is the trusted one that agrees best with ISM; ISM is the reference.
    with_ism = {next(m for m in f.where["methods"] if m != "ism"): f.value
                for f in report.findings
                if f.check == "method_agreement" and "ism" in f.where["methods"]}
    assert trusted[0] == max(set(trusted) - {"ism"}, key=with_ism.get)
    assert trusted[-1] == "ism"
    assert v["text"].startswith(f"Trust {trusted[0]}")
    assert f"For numbers, run `{v['evaluate']}`." in v["text"]
    assert v["evaluate"].startswith("kipoi-explain evaluate MODEL --methods ")


def test_verdict_rules():
    def finding(check, severity, value, where, recommendation="none needed", message="m"):
        return kx.Finding(check, severity, value, 0.5, where, recommendation, message).as_dict()

    v = verdict([
        finding("gradient_saturation", "warning", 0.9, {"layer": "s"}, "use IG", "saturated"),
        finding("randomization_sanity", "warning", 0.9, {"method": "deeplift"}, "do not"),
        finding("randomization_sanity", "info", 0.1, {"method": "deepshap"}),
        finding("method_agreement", "info", 0.6, {"methods": ["deepshap", "ism"]}),
        finding("method_agreement", "warning", 0.1, {"methods": ["deeplift", "ism"]}, "x"),
    ])
    assert [e["method"] for e in v["trust"]] == ["deepshap", "ism"]
    assert [e["method"] for e in v["avoid"]] == ["deeplift", "grad_x_input", "saliency"]
    assert "integrated_gradients" in [e["method"] for e in v["not_checked"]]
    assert "Do not rely on grad_x_input and saliency: saturated (use IG)." in v["text"]
    nothing = verdict([])
    assert nothing["trust"] == [] and "trust none" in nothing["text"]


def test_verdict_travels_through_the_codec(report):
    back = codec.decode(codec.encode(report))
    assert back.verdict == report.verdict and back.as_dict() == report.as_dict()


@pytest.mark.slow
def test_verdict_follows_the_schema_and_reaches_the_summaries(report, tmp_path):
    pytest.importorskip("jsonschema")
    from kipoi_explain.writers.diagnosis import validate, write_json, write_summary

    document = json.loads(write_json(report, tmp_path / "r.json").read_text())
    validate(document)
    assert document["verdict"] == json.loads(json.dumps(report.verdict))
    md = write_summary(document, tmp_path / "r.md").read_text()
    html = write_summary(document, tmp_path / "r.html").read_text()
    for entry in report.verdict["trust"] + report.verdict["avoid"]:
        assert f"`{entry['method']}`" in md and f"<code>{entry['method']}</code>" in html
    assert "## Verdict" in md and "For numbers, run" in md and 'id="verdict"' in html
    # A document without a verdict (written before it existed) is still summarised.
    del document["verdict"]
    validate(document)
    assert "Verdict" not in write_summary(document, tmp_path / "old.md").read_text()
