"""constraint_cost: a constrained model against a free one on labelled sequences, and the labels
file reader."""
import copy

import numpy as np
import pytest
import torch
from conftest import LENGTH, make_torch_cnn, random_onehot
from sklearn.metrics import roc_auc_score

import kipoi_explain as kx
from kipoi_explain.diagnostics.constraint_cost import constraint_cost
from kipoi_explain.diagnostics.context import Context
from kipoi_explain.diagnostics.labels import read_labels
from kipoi_explain.errors import InputError

OUTPUTS = ["a", "b"]
N = 300


def load(module):
    return kx.load_model(module, input_length=LENGTH, output_names=OUTPUTS)


def constrained_copy(module, kept_filters=1):
    """The same network with all but ``kept_filters`` first-layer filters fixed at zero."""
    constrained = copy.deepcopy(module)
    with torch.no_grad():
        constrained[0].weight[kept_filters:] = 0
        constrained[0].bias[kept_filters:] = 0
    return constrained


@pytest.fixture(scope="module")
def pair():
    """(free module, x, free model's predictions, 0/1 labels thresholded from them)."""
    free = make_torch_cnn(n_outputs=2)
    x = random_onehot(N, seed=1)
    predictions = load(free).predict(x)
    labels = (predictions > np.median(predictions, axis=0)).astype(np.float64)
    return free, x, predictions, labels


def context(module, x):
    model = load(module)
    return Context(model, x, model.target(0), 64, seed=3)


def test_constraint_that_loses_accuracy_is_flagged_per_output(pair):
    free, x, _, labels = pair
    findings, measurements = constraint_cost(context(constrained_copy(free), x), load(free),
                                             {"b": labels[:, 1]})
    assert [f.where for f in findings] == [{"output": "b", "outputs": [1]}]
    (finding,) = findings
    m = measurements["outputs"]["b"]
    assert finding.severity == "warning" and finding.check == "constraint_cost"
    assert m["metric"] == "auroc" and m["loss"] == "bce" and m["n"] == N
    # labels are the free model's own thresholded predictions: it ranks them perfectly
    assert m["free"] == 1.0 and m["constrained"] < 0.9
    assert finding.value == pytest.approx(m["constrained"] - m["free"])
    assert finding.threshold == -0.01
    assert m["interval"][1] < 0 and m["interval"][0] <= m["difference"] <= m["interval"][1]
    assert m["loss_difference"] > 0 and m["loss_interval"][0] > 0
    assert "AUROC on b" in finding.recommendation and "relax the constraint" in \
        finding.recommendation


def test_identical_models_are_not_flagged(pair):
    free, x, _, labels = pair
    findings, measurements = constraint_cost(context(free, x), load(copy.deepcopy(free)), labels)
    assert [f.severity for f in findings] == ["info", "info"]
    for finding, name in zip(findings, OUTPUTS):
        m = measurements["outputs"][name]
        assert finding.value == 0.0 and m["difference"] == 0.0
        assert m["interval"] == [0.0, 0.0] and m["loss_interval"] == [0.0, 0.0]


def test_drop_within_sampling_noise_is_not_flagged(pair):
    """A real drop measured on too few sequences: the interval reaches 0, so no warning."""
    free, x, _, labels = pair
    constrained = constrained_copy(free, kept_filters=3)
    findings, measurements = constraint_cost(context(constrained, x[:24]), load(free),
                                             labels[:24], max_drop=0.0)
    for finding, name in zip(findings, OUTPUTS):
        m = measurements["outputs"][name]
        assert m["difference"] < 0 and m["interval"][1] >= 0
        assert finding.severity == "info" and "label more sequences" in finding.recommendation


def test_metrics_and_losses_match_independent_computations(pair):
    free, x, _, labels = pair
    constrained = constrained_copy(free)
    labels = labels.copy()
    labels[::7, 0] = np.nan
    findings, measurements = constraint_cost(context(constrained, x), load(free), labels)
    y, kept = labels[:, 0], ~np.isnan(labels[:, 0])
    m = measurements["outputs"]["a"]
    assert m["n"] == kept.sum() and findings[0].details["n"] == kept.sum()
    for model, key in ((constrained, "constrained"), (free, "free")):
        with torch.no_grad():
            p = model(torch.from_numpy(x).permute(0, 2, 1))[:, 0].double()
        assert m[key] == pytest.approx(roc_auc_score(y[kept], p.numpy()[kept]), abs=1e-12)
        bce = torch.nn.functional.binary_cross_entropy(p[kept], torch.from_numpy(y[kept]))
        assert m[f"loss_{key}"] == pytest.approx(bce.item(), rel=1e-6)
        assert m["scale"][key] == "probability"


def test_paired_bootstrap_resamples_the_same_sequences_for_both_models(pair):
    free, x, predictions, labels = pair
    constrained = constrained_copy(free)
    _, measurements = constraint_cost(context(constrained, x), load(free), {"a": labels[:, 0]},
                                      n_boot=100, level=0.9)
    y, p_free = labels[:, 0], predictions[:, 0]
    p_con = load(constrained).predict(x)[:, 0]
    rng = np.random.default_rng(3)
    draws = []
    for _ in range(100):
        i = rng.integers(0, N, N)
        draws.append(roc_auc_score(y[i], p_con[i]) - roc_auc_score(y[i], p_free[i]))
    expected = np.percentile(draws, [5, 95])
    assert measurements["outputs"]["a"]["interval"] == pytest.approx(expected, abs=1e-9)


def test_counted_auroc_equals_auroc_of_repeated_rows():
    from kipoi_explain.diagnostics.constraint_cost import counted_auroc

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200).astype(float)
    scores = rng.integers(0, 15, 200).astype(float)  # many ties, within and across classes
    statistic = counted_auroc(y, scores)
    for _ in range(20):
        i = rng.integers(0, 200, 200)
        assert statistic(np.bincount(i, minlength=200)) == pytest.approx(
            roc_auc_score(y[i], scores[i]), abs=1e-12)
    assert np.isnan(statistic(np.bincount(np.flatnonzero(y)[:5], minlength=200)))


def test_real_valued_labels_use_pearson_and_mse(pair):
    free, x, predictions, _ = pair
    noisy = predictions + np.random.default_rng(0).normal(0, predictions.std(0) / 2,
                                                          predictions.shape)
    constrained = constrained_copy(free)
    findings, measurements = constraint_cost(context(constrained, x), load(free), noisy)
    assert [f.severity for f in findings] == ["warning", "warning"]
    p_con = load(constrained).predict(x)
    for t, name in enumerate(OUTPUTS):
        m = measurements["outputs"][name]
        assert m["metric"] == "pearson" and m["loss"] == "mse" and m["scale"] is None
        assert m["constrained"] == pytest.approx(np.corrcoef(noisy[:, t], p_con[:, t])[0, 1])
        assert m["free"] == pytest.approx(np.corrcoef(noisy[:, t], predictions[:, t])[0, 1])
        assert m["loss_free"] == pytest.approx(np.mean((predictions[:, t] - noisy[:, t]) ** 2),
                                               rel=1e-6)


def test_cross_entropy_on_logits_when_predictions_leave_0_1(pair):
    free, x, _, labels = pair
    logits = copy.deepcopy(free)[:-1]  # the network without its sigmoid
    constrained = constrained_copy(logits)
    _, measurements = constraint_cost(context(constrained, x), load(logits), labels)
    for model, key in ((constrained, "constrained"), (logits, "free")):
        with torch.no_grad():
            z = model(torch.from_numpy(x).permute(0, 2, 1))[:, 1].double()
        assert (z.abs() > 1).any() or (z < 0).any()
        bce = torch.nn.functional.binary_cross_entropy_with_logits(z, torch.from_numpy(
            labels[:, 1]))
        m = measurements["outputs"]["b"]
        assert m["scale"][key] == "logit"
        assert m[f"loss_{key}"] == pytest.approx(bce.item(), rel=1e-6)


def test_stable_logit_loss_for_extreme_logits():
    from kipoi_explain.diagnostics.constraint_cost import row_loss

    z = np.array([-800.0, 800.0, 30.0, -2.0])
    y = np.array([1.0, 0.0, 1.0, 0.0])
    loss, scale = row_loss(y, z, binary=True)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.from_numpy(z), torch.from_numpy(y), reduction="none").numpy()
    assert scale == "logit" and np.allclose(loss, expected)


def test_not_applicable_without_free_model_or_labels(pair):
    free, x, _, labels = pair
    for options in ({}, {"free_model": load(free)}, {"labels": labels}):
        findings, measurements = constraint_cost(context(free, x), **options)
        assert measurements == {}
        assert [(f.severity, f.value, f.threshold, f.where) for f in findings] == \
            [("info", None, None, {})]
        assert findings[0].message == "not applicable: needs a free model and labels"


def test_one_class_labels_are_reported_as_unmeasurable(pair):
    free, x, _, _ = pair
    findings, _ = constraint_cost(context(free, x), load(free), {"a": np.ones(N)})
    assert findings[0].severity == "info" and findings[0].value is None
    assert "one class" in findings[0].message


@pytest.mark.parametrize("labels, message", [
    (np.zeros((N - 1, 2)), "299 rows; there are 300 sequences"),
    (np.zeros(N), r"shape \(300,\): expected \(N, 2\)"),
    ({"c": np.zeros(N)}, "'c': no output of that name; outputs are a, b"),
    ({"a": np.zeros(N - 2)}, "298 rows; there are 300"),
    ({"a": ["x"] * N}, "labels\\['a'\\]: expected numbers"),
    ({"a": np.r_[np.zeros(N - 1), np.inf]}, "row 299: inf; expected a finite number"),
])
def test_bad_labels_are_input_errors(pair, labels, message):
    free, x, _, _ = pair
    with pytest.raises(InputError, match=message):
        constraint_cost(context(free, x), load(free), labels)


def test_free_model_with_other_outputs_or_length_is_an_input_error(pair):
    free, x, _, labels = pair
    other_names = kx.load_model(free, input_length=LENGTH, output_names=["a", "c"])
    with pytest.raises(InputError, match=r"output names: constrained \['a', 'b'\], free "
                                         r"\['a', 'c'\]"):
        constraint_cost(context(free, x), other_names, labels)
    shorter = kx.load_model(make_torch_cnn(length=80), input_length=80, output_names=OUTPUTS)
    with pytest.raises(InputError, match="input length: constrained 100, free 80"):
        constraint_cost(context(free, x), shorter, labels)


NAMES = ["s0", "s1", "s2"]


def test_read_labels_in_input_order(tmp_path):
    path = tmp_path / "labels.tsv"
    path.write_text("a\tb\n1\t0.5\n0\t\n\nNA\t-2\n\n")
    labels = read_labels(path, NAMES, OUTPUTS)
    assert list(labels) == ["a", "b"]
    np.testing.assert_array_equal(labels["a"], [1, 0, np.nan])
    np.testing.assert_array_equal(labels["b"], [0.5, np.nan, -2])


def test_read_labels_by_name_from_csv(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("b,name\n3,s2\n1,s0\n9,other\n2,s1\n")
    labels = read_labels(path, NAMES, OUTPUTS)
    assert list(labels) == ["b"]
    np.testing.assert_array_equal(labels["b"], [1, 2, 3])


@pytest.mark.parametrize("text, message", [
    ("name\ta\ns0\t1\ns2\t0\n", "no row for 1 sequence\\(s\\): 's1'"),
    ("name\ta\ns0\t1\ns1\t0\ns2\t1\ns1\t1\n", "'s1' appear on more than one row"),
    ("a\n1\n0\n", "2 rows; there are 3 sequences"),
    ("a\tc\td\n1\t1\t1\n0\t0\t0\n1\t1\t1\n", "column\\(s\\) 'c', 'd' are not outputs of the "
                                              "model; outputs are a, b"),
    ("a\n1\nyes\n0\n", "line 3, column 'a': 'yes' is not a number"),
    ("name\tb\ns0\t1\ns1\t0\ns2\tinf\n", "sequence 's2' \\(line 4\\), column 'b': 'inf'"),
    ("name\ns0\ns1\ns2\n", "no output columns"),
    ("", "empty"),
])
def test_read_labels_errors(tmp_path, text, message):
    path = tmp_path / "labels.tsv"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        read_labels(path, NAMES, OUTPUTS)
