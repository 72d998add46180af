"""Diagnosis writers: strict JSON that follows the published schema, and the Markdown and HTML
summaries with their plots, on hand-built diagnoses (no model needed)."""
import base64
import copy
import json
import re

import numpy as np
import pytest

from kipoi_explain.diagnostics import CHECKS as REGISTERED
from kipoi_explain.errors import InputError
from kipoi_explain.results import Diagnosis, Finding
from kipoi_explain.writers.diagnosis import (_plot_filter_scaling, _plot_method_agreement,
                                             schema, validate, write_json, write_summary)

jsonschema = pytest.importorskip("jsonschema")

CHECKS = ["filter_scaling", "redundancy", "gradient_saturation", "attention_conditioning",
          "constraint_cost", "randomization_sanity", "method_agreement"]
PNG = b"\x89PNG\r\n\x1a\n"
FILTER_ADVICE = "read filters 2 and 5 with activation-based PWMs instead"


def settings(checks, **options):
    return {"checks": checks, "target": {"columns": [0], "names": ["task0"], "reduce": "sum"},
            "n_sequences": 200, "n_attribution": 16, "seed": 0, "batch_size": 64,
            "options": {check: options.get(check, {}) for check in checks},
            "version": "0.0.test", "names": [f"seq{i}" for i in range(200)]}


MODEL = {"name": "toy_cnn", "framework": "pytorch", "input_length": 100,
         "output_names": ["task0", "task1"], "output_shape": [2], "fingerprint": "ab12" * 16}


@pytest.fixture
def diagnosis():
    """Every check ran and applied; numpy scalars and arrays, NaN and inf included."""
    rng = np.random.default_rng(0)
    norm = rng.uniform(0.5, 2.0, 8).astype(np.float32)
    norm[5] = 30.0
    saturation = rng.uniform(0.0, 0.3, 8)
    saturation[2] = 0.8
    flagged = np.array([2, 5])
    corr = np.corrcoef(rng.normal(size=(8, 50)))
    corr[1, 3] = corr[3, 1] = 0.93
    corr[7, 7] = np.nan
    coverage = rng.uniform(-0.5, 1.5, 16)
    coverage[[1, 4]] = np.nan
    coverage[6] = np.inf
    agreement = rng.uniform(-0.2, 0.9, 16)
    agreement[3] = np.nan
    methods = ["grad_x_input", "integrated_gradients", "ism"]
    median = np.array([[1.0, 0.8, 0.1], [0.8, 1.0, np.nan], [0.1, np.nan, 1.0]])
    findings = [
        Finding("filter_scaling", "warning", np.float32(0.8), 0.5,
                {"layer": "conv1", "filters": flagged}, FILTER_ADVICE,
                "2 of 8 filters of conv1 have a weight-derived PWM dominated by scale",
                {"saturation": saturation[flagged], "weight_norm": norm[flagged]}),
        Finding("redundancy", "warning", 0.083, 0.5, {"layer": "conv1", "units": [1, 3]},
                "ablate units 1 and 3 as a group",
                "units 1, 3 of conv1 correlate >= 0.8", {"group_effect": 0.6}),
        Finding("gradient_saturation", "info", 0.25, 0.5,
                {"layer": "relu1", "units": np.array([0, 4], dtype=np.int64)}, "none needed",
                "2 of 8 units of relu1 (relu) never fire on these sequences"),
        Finding("gradient_saturation", "info", 0.7, 0.5, {"layer": "out"},
                "explain the logit", "70% of the outputs of out (sigmoid) are flat"),
        Finding("gradient_saturation", "warning", np.float64(5e-7), 1e-3,
                {"layer": "input", "layers": ["input"]}, "use integrated gradients",
                "smallest median gradient norm is 5e-07 of the largest (input)"),
        Finding("gradient_saturation", "warning", 0.75, 0.5,
                {"sequences": np.array([0, 2, 5])},
                "use ISM", "median first-order coverage < 0.1 on <script>alert(1)</script>",
                {"coverage": {"median": np.float64(0.05), "n": np.int64(14)}}),
        Finding("attention_conditioning", "error", 3e7, 1e3, {"layer": "mha", "heads": [1]},
                "do not read head 1's attention as importance",
                "layer 'mha': keys of 1 of 2 heads are ill-conditioned"),
        Finding("constraint_cost", "warning", -0.05, -0.01, {"output": "task0", "outputs": [0]},
                "relax the constraint", "AUROC on task0: constrained 0.80, free 0.85"),
        Finding("constraint_cost", "info", None, -0.01, {"output": "task1", "outputs": [1]},
                "label sequences of both classes for task1",
                "AUROC on task1 could not be measured: its labels are all one class"),
        Finding("randomization_sanity", "warning", 0.9, 0.5,
                {"method": "saliency", "layers": ["dense", "conv1"]},
                "do not use saliency maps for this model",
                "median rank correlation of saliency under a fully randomized model: 0.90"),
        Finding("randomization_sanity", "info", np.nan, 0.5,
                {"method": "grad_x_input", "layers": ["dense", "conv1"]}, "none needed",
                "median rank correlation of grad_x_input: nan"),
        Finding("method_agreement", "warning", 0.1, 0.3,
                {"methods": ["grad_x_input", "ism"]}, "prefer ISM",
                "median per-sequence Spearman of grad_x_input and ism: 0.10"),
        Finding("method_agreement", "info", 0.8, 0.3,
                {"methods": ["grad_x_input", "integrated_gradients"]}, "none needed",
                "median per-sequence Spearman of grad_x_input and integrated_gradients: 0.80"),
    ]
    measurements = {
        "filter_scaling": {"layers": {"conv1": {
            "weight_norm": norm, "saturation": saturation,
            "norm_z": (norm - np.median(norm)) / 0.3, "flagged": flagged}}},
        "redundancy": {"layers": {"conv1": {
            "correlation": corr, "scale": np.float64(1.3),
            "groups": [{"units": [1, 3], "single_effects": [0.05, np.float64(0.04)],
                        "group_effect": 0.6, "ratio": 0.083},
                       {"units": [np.int64(4), np.int64(6)], "single_effects": [0.0, 0.0],
                        "group_effect": 0.0, "ratio": None}]}}},
        "gradient_saturation": {
            "nonlinearities": {
                "relu1": {"kind": "relu", "output_layer": False, "n_units": np.int64(8),
                          "dead_units": np.array([0, 4]), "dead_share": 0.25},
                "gelu": {"kind": "other", "output_layer": False},
                "out": {"kind": "sigmoid", "output_layer": np.bool_(True), "n_units": 2,
                        "saturated_share": np.float32(0.7)}},
            "on_logits": True,
            "gradient_norms": {"layers": ["input", "conv1", "dense"],
                               "median": np.array([1e-6, 0.3, 2.0])},
            "coverage": coverage, "completeness_gap": rng.normal(size=16),
            "ism_agreement": agreement},
        "attention_conditioning": {"layers": {"mha": {
            "condition_number": np.array([12.0, 3e7]), "effective_rank": np.array([7.1, 1.2]),
            "head_dim": np.int64(8), "noise_amplification": np.array([0.4, np.inf])}}},
        "constraint_cost": {"outputs": {
            "task0": {"metric": "auroc", "constrained": 0.8, "free": 0.85, "difference": -0.05,
                      "interval": [-0.08, -0.02], "loss": "bce", "loss_constrained": 0.5,
                      "loss_free": 0.45, "loss_difference": 0.05, "loss_interval": [0.02, 0.08],
                      "n": 200, "scale": {"constrained": "probability", "free": "logit"}},
            "task1": {"metric": "auroc", "constrained": np.nan, "free": np.nan,
                      "difference": np.nan, "interval": [np.nan, np.nan], "loss": "bce",
                      "loss_constrained": 0.3, "loss_free": 0.3, "loss_difference": 0.0,
                      "loss_interval": (np.nan, np.nan), "n": 200,
                      "scale": {"constrained": "probability", "free": "probability"}}}},
        "randomization_sanity": {"layers": ["dense", "conv1"], "methods": {
            "saliency": {"median": [0.95, 0.9], "q25": [0.9, 0.85], "q75": [0.97, 0.93]},
            "grad_x_input": {"median": [0.4, None], "q25": [0.3, None], "q75": [0.5, None]}}},
        "method_agreement": {"methods": methods, "median": median, "q25": median - 0.1,
                             "q75": median + 0.1},
    }
    return Diagnosis(MODEL, findings, measurements, settings(
        CHECKS, filter_scaling={"max_saturation": 0.5, "max_norm_z": 5.0},
        redundancy={"max_single_share": 0.5}, method_agreement={"min_agreement": 0.3},
        randomization_sanity={"max_correlation": 0.5, "methods": ["saliency", "grad_x_input"]},
        gradient_saturation={"max_dead_share": 0.5, "max_saturated_share": 0.5,
                             "min_coverage": 0.1, "min_ism_agreement": 0.2,
                             "max_gradient_decay": 1e-3},
        attention_conditioning={"max_condition": 1e3, "error_condition": 1e6},
        constraint_cost={"max_drop": 0.01}))


@pytest.fixture
def not_applicable():
    """filter_scaling did not run; the other checks ran but had nothing (or little) to measure."""
    checks = CHECKS[1:]
    findings = [
        Finding("redundancy", "info", 0.2, 0.8, {"layer": "conv1", "units": []}, "none needed",
                "0 group(s) of units of conv1 correlate >= 0.8"),
        Finding("gradient_saturation", "info", 0.0, 1e-3, {"layer": None, "layers": []},
                "none needed", "all gradient norms are 0"),
        Finding("attention_conditioning", "info", None, None, {}, "",
                "no attention layers; check not applicable"),
        Finding("constraint_cost", "info", None, None, {}, "give free_model= and labels=",
                "not applicable: needs a free model and labels"),
        Finding("randomization_sanity", "info", None, None, {"method": "deeplift"},
                "check the other methods", "deeplift left out: unsupported layer"),
        Finding("method_agreement", "info", None, None, {"methods": []},
                "give at least two methods", "fewer than two methods ran: nothing to compare"),
    ]
    measurements = {
        "redundancy": {"layers": {"conv1": {"correlation": np.eye(3), "groups": [],
                                            "scale": 1.0}}},
        "gradient_saturation": {"nonlinearities": {"gelu": {"kind": "other",
                                                            "output_layer": False}},
                                "on_logits": False,
                                "gradient_norms": {"layers": ["input", "dense"],
                                                   "median": np.zeros(2)},
                                "coverage": np.full(4, np.nan), "completeness_gap": np.zeros(4),
                                "ism_agreement": np.full(4, np.nan)},
        "attention_conditioning": {}, "constraint_cost": {},
        "randomization_sanity": {"layers": ["dense"], "methods": {}},
        "method_agreement": {"methods": [], "median": np.empty((0, 0)), "q25": np.empty((0, 0)),
                             "q75": np.empty((0, 0))},
    }
    return Diagnosis(MODEL, findings, measurements, settings(checks))


def test_schema_is_valid_and_names_every_check():
    jsonschema.Draft202012Validator.check_schema(schema())
    assert schema()["$defs"]["check"]["enum"] == list(REGISTERED) == CHECKS
    assert set(schema()["$defs"]["measurements"]["properties"]) == set(REGISTERED)


def strict_load(text):
    def refuse(token):
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(text, parse_constant=refuse)


def test_json_round_trip_follows_schema(diagnosis, tmp_path):
    path = write_json(diagnosis, tmp_path / "report.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]
    document = strict_load(path.read_text())
    validate(document)
    assert document == diagnosis.as_dict()
    assert document["schema_version"] == 1
    measured = document["measurements"]
    coverage = measured["gradient_saturation"]["coverage"]
    assert [i for i, v in enumerate(coverage) if v is None] == [1, 4, 6]
    assert measured["filter_scaling"]["layers"]["conv1"]["flagged"] == [2, 5]
    assert measured["attention_conditioning"]["layers"]["mha"]["noise_amplification"][1] is None
    assert measured["method_agreement"]["median"][1][2] is None
    assert document["findings"][0]["where"] == {"layer": "conv1", "filters": [2, 5]}
    assert document["findings"][0]["value"] == pytest.approx(0.8)
    assert document["findings"][10]["value"] is None


def test_not_applicable_document_follows_schema(not_applicable, tmp_path):
    document = strict_load(write_json(not_applicable, tmp_path / "r.json").read_text())
    validate(document)
    assert document["measurements"]["constraint_cost"] == {}
    assert "filter_scaling" not in document["measurements"]


@pytest.mark.parametrize("break_it", [
    lambda d: d["findings"][0].update(severity="fatal"),
    lambda d: d["findings"][0].update(check="gradient_magic"),
    lambda d: d["findings"][0].pop("where"),
    lambda d: d["findings"][0].update(where=["conv1"]),
    lambda d: d["findings"][0].update(value="0.8"),
    lambda d: d["findings"][0]["where"].update(filters=[2.5]),
    lambda d: d["measurements"].update(gradient_magic={}),
    lambda d: d["measurements"]["filter_scaling"]["layers"]["conv1"].pop("flagged"),
    lambda d: d["measurements"]["gradient_saturation"]["nonlinearities"]["relu1"].pop(
        "dead_share"),
    lambda d: d["measurements"]["constraint_cost"]["outputs"]["task0"].update(interval=[0.1]),
    lambda d: d["settings"].update(checks=["filter_scaling", "nonsense"]),
    lambda d: d.update(schema_version=2),
    lambda d: d.pop("measurements"),
])
def test_schema_rejects_malformed_documents(diagnosis, break_it):
    document = diagnosis.as_dict()
    validate(document)
    broken = copy.deepcopy(document)
    break_it(broken)
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)


def sections(markdown):
    """Check name -> text of its section."""
    parts = re.split(r"^## .*\(`(\w+)`\)$", markdown, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


@pytest.mark.slow
def test_markdown_summary(diagnosis, tmp_path):
    path = write_summary(diagnosis, tmp_path / "report.md")
    text = path.read_text()
    found = sections(text)
    assert list(found) == CHECKS
    assert FILTER_ADVICE in found["filter_scaling"]
    # flagged findings come first, although the check listed its info findings first
    gradient = found["gradient_saturation"]
    assert gradient.index("**WARNING**") < gradient.index("**INFO**")
    assert gradient.rindex("**WARNING**") < gradient.index("**INFO**")
    assert "where: layer `conv1`; filters 2, 5" in found["filter_scaling"]
    assert "where: method `saliency`; layers `dense`, `conv1`" in found["randomization_sanity"]
    assert "value 0.8, threshold 0.5" in found["filter_scaling"]
    # summary table: per check, counts of info, warning, error
    for check in CHECKS:
        counts = [sum(f.check == check and f.severity == s for f in diagnosis.findings)
                  for s in ("info", "warning", "error")]
        assert f"| `{check}` | {' | '.join(map(str, counts))} |" in text
    assert "`ab12ab12ab12`" in text
    assert "200 (16 for the attribution-based checks)" in text
    # raw HTML in a message is shown as text, not passed through
    assert "<script>" not in text and r"\<script\>" in text
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert sorted(links) == [f"report_plots/{check}.png" for check in sorted(CHECKS)]
    for link in links:
        assert (tmp_path / link).read_bytes().startswith(PNG)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md", "report_plots"]


@pytest.mark.slow
def test_html_summary_is_one_file(diagnosis, tmp_path):
    path = write_summary(diagnosis, tmp_path / "report.html")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
    text = path.read_text()
    assert text.startswith("<!DOCTYPE html>")
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert len(images) == len(CHECKS)
    assert all(base64.b64decode(image).startswith(PNG) for image in images)
    assert "<script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert text.count('<span class="badge error">error</span>') == 1
    assert text.count('<span class="badge warning">warning</span>') == sum(
        f.severity == "warning" for f in diagnosis.findings)
    for check in CHECKS:
        assert f'<h2 id="{check}">' in text
    assert "where: layer <code>mha</code>; heads 1" in text


def test_summaries_of_not_applicable_checks(not_applicable, tmp_path):
    text = write_summary(not_applicable, tmp_path / "na.md").read_text()
    found = sections(text)
    assert list(found) == CHECKS[1:]
    assert "no attention layers; check not applicable" in found["attention_conditioning"]
    # redundancy draws its correlation heat map, gradient_saturation says its norms are 0;
    # the rest have nothing to draw
    plots = ["redundancy.png", "gradient_saturation.png"]
    assert re.findall(r"\]\(([^)]+)\)", text) == [f"na_plots/{name}" for name in plots]
    assert sorted(p.name for p in (tmp_path / "na_plots").iterdir()) == sorted(plots)
    html = write_summary(not_applicable, tmp_path / "na.html").read_text()
    assert html.count("data:image/png;base64,") == 2


@pytest.mark.slow
def test_summary_from_saved_json(diagnosis, tmp_path):
    document = json.loads(write_json(diagnosis, tmp_path / "r.json").read_text())
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    from_object = write_summary(diagnosis, tmp_path / "a" / "r.md").read_text()
    assert write_summary(document, tmp_path / "b" / "r.md").read_text() == from_object


def test_summary_needs_a_known_suffix(diagnosis, tmp_path):
    with pytest.raises(InputError, match=r"\.md or \.html"):
        write_summary(diagnosis, tmp_path / "report.txt")


def test_filter_scaling_plot_marks_flagged_filters(diagnosis):
    measured = diagnosis.as_dict()["measurements"]["filter_scaling"]
    figure = _plot_filter_scaling(measured, {"max_saturation": 0.5})
    (ax,) = figure.axes
    plain, flagged = (c.get_offsets() for c in ax.collections)
    layer = measured["layers"]["conv1"]
    expected = np.column_stack([layer["weight_norm"], layer["saturation"]])
    np.testing.assert_allclose(flagged, expected[[2, 5]])
    np.testing.assert_allclose(plain, np.delete(expected, [2, 5], axis=0))
    assert [line.get_ydata()[0] for line in ax.lines] == [0.5]


def test_method_agreement_plot_annotates_values(diagnosis):
    measured = diagnosis.as_dict()["measurements"]["method_agreement"]
    figure = _plot_method_agreement(measured, {})
    texts = [t.get_text() for t in figure.axes[0].texts]
    assert texts == ["1.00", "0.80", "0.10", "0.80", "1.00", "n/a", "0.10", "n/a", "1.00"]
