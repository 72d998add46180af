"""redundancy: duplicated filters that dropout training leaves behind hide from single-unit
ablation; the example model's filters do not."""
import numpy as np
import pytest
from conftest import diagnosis_context, example_model, random_onehot

import kipoi_explain as kx
from kipoi_explain.diagnostics.redundancy import redundancy

MOTIF = "CCGCGAGGGC"  # a CTCF core; any fixed word works


def planted(n, length=100, seed=0):
    """Random sequences, the first half with MOTIF planted at a random position."""
    x = random_onehot(n, length, seed)
    rng = np.random.default_rng(seed)
    eye = np.eye(4, dtype=np.float32)
    for i in range(n // 2):
        start = rng.integers(0, length - len(MOTIF))
        x[i, start:start + len(MOTIF)] = eye[["ACGT".index(b) for b in MOTIF]]
    return x


def redundant_model(copies=3, length=100):
    """A motif detector spread over ``copies`` identical filters, each enough on its own to
    saturate the output (what dropout training favours), plus three unrelated filters."""
    import torch

    torch.manual_seed(0)
    n_filters = copies + 3
    conv = torch.nn.Conv1d(4, n_filters, len(MOTIF))
    detector = torch.full((4, len(MOTIF)), -1.0)
    detector[["ACGT".index(b) for b in MOTIF], range(len(MOTIF))] = 1.0
    with torch.no_grad():
        conv.weight[:copies] = detector
        conv.bias[:copies] = -(len(MOTIF) - 2)
        conv.weight[copies:] = torch.randn(3, 4, len(MOTIF)) * 0.3
        conv.bias[copies:] = 0.0
    head = torch.nn.Linear(n_filters, 1)
    with torch.no_grad():
        head.weight[:] = 0.0
        head.weight[0, :copies] = 6.0
        head.weight[0, copies:] = 0.05
        head.bias[:] = -4.0
    module = torch.nn.Sequential(conv, torch.nn.ReLU(), torch.nn.AdaptiveMaxPool1d(1),
                                 torch.nn.Flatten(), torch.nn.Dropout(0.5), head,
                                 torch.nn.Sigmoid())
    return kx.load_model(module, input_length=length)


def test_duplicated_filters_are_flagged():
    model = redundant_model()
    findings, measured = redundancy(diagnosis_context(model, planted(40)))
    flagged = [f for f in findings if f.flagged]
    assert len(flagged) == 1
    (finding,) = flagged
    assert finding.where == {"layer": "0", "units": [0, 1, 2]}
    group = measured["layers"]["0"]["groups"][0]
    assert group["group_effect"] > 0.9
    assert max(group["single_effects"]) < 0.05 * group["group_effect"]
    assert finding.value == pytest.approx(max(group["single_effects"]) / group["group_effect"])
    assert "ablation underestimates" in finding.recommendation


def test_effects_match_direct_ablation():
    """The group effect equals a model whose three copies are replaced by hand."""
    model = redundant_model()
    x = planted(20, seed=1)
    _, measured = redundancy(diagnosis_context(model, x))
    layer = measured["layers"]["0"]
    acts = kx.layers.activations(model, x, "0").reshape(-1, 6)
    mean = acts.mean(axis=0)
    keep = np.array([0, 0, 0, 1, 1, 1], dtype=np.float32)
    conv_out = kx.layers.activations(model, x, "0")
    replaced = conv_out * keep + mean * (1 - keep)
    module = model.predictor.module
    import torch

    with torch.no_grad():
        tail = torch.nn.Sequential(*list(module)[1:])
        direct = tail(torch.tensor(replaced.transpose(0, 2, 1))).numpy()[:, 0]
    base = model.predict(x)[:, 0]
    expected = np.mean(np.abs(direct - base)) / np.std(base)
    assert layer["groups"][0]["group_effect"] == pytest.approx(expected, rel=1e-4)
    assert np.allclose(layer["correlation"][:3, :3], 1.0, atol=1e-6)


def test_single_copy_is_not_flagged():
    """One detector is found by single-unit ablation: no group, nothing hidden."""
    model = redundant_model(copies=1)
    findings, measured = redundancy(diagnosis_context(model, planted(40)))
    assert not [f for f in findings if f.flagged]


@pytest.mark.parametrize("framework", ["pytorch", "keras"])
def test_example_model_is_not_flagged(framework, example_regions):
    findings, measured = redundancy(diagnosis_context(example_model(framework), example_regions))
    assert not [f for f in findings if f.flagged]
    (layer,) = measured["layers"].values()
    assert layer["correlation"].shape == (16, 16)


def test_unknown_layer_is_an_error():
    with pytest.raises(kx.InputError, match="nope"):
        redundancy(diagnosis_context(redundant_model(), planted(4)), layers=["nope"])
