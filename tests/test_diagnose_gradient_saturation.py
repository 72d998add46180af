"""gradient_saturation: a saturated sigmoid stack and dead ReLUs are flagged, the example models
are not."""
import numpy as np
import pytest
from conftest import diagnosis_context, example_model, make_torch_cnn
from test_diagnose_redundancy import MOTIF, planted

import kipoi_explain as kx
from kipoi_explain.diagnostics.gradient_saturation import gradient_saturation


def detector(scale):
    """Conv weights and bias that score MOTIF at ``+3 * scale`` and other words far below."""
    import torch

    weight = torch.full((4, len(MOTIF)), -1.0)
    weight[["ACGT".index(b) for b in MOTIF], range(len(MOTIF))] = 1.0
    return weight * scale, -scale * (len(MOTIF) - 3)


def saturated_stack(length=100):
    """Motif detectors behind large-weight sigmoids, twice: outputs are 0 or 1 nearly
    everywhere, so gradients vanish while the prediction still depends on the motif."""
    import torch

    conv = torch.nn.Conv1d(4, 4, len(MOTIF))
    hidden, out = torch.nn.Linear(4, 8), torch.nn.Linear(8, 1)
    with torch.no_grad():
        conv.weight[:], conv.bias[:] = detector(4.0)
        hidden.weight[:], hidden.bias[:] = 10.0, -20.0
        out.weight[:], out.bias[:] = 1.0, 0.0
    module = torch.nn.Sequential(conv, torch.nn.Sigmoid(), torch.nn.AdaptiveMaxPool1d(1),
                                 torch.nn.Flatten(), hidden, torch.nn.Sigmoid(), out)
    return kx.load_model(module, input_length=length)


def test_saturated_sigmoid_stack_is_flagged():
    model = saturated_stack()
    x = planted(40)
    assert np.ptp(model.predict(x)) > 7  # the motif still moves the prediction
    findings, measured = gradient_saturation(diagnosis_context(model, x))
    flagged = {f.where.get("layer") or f.message.split(":")[0]: f for f in findings if f.flagged}
    assert {"1", "5"} <= set(flagged)
    assert measured["nonlinearities"]["1"]["saturated_share"] > 0.9
    assert not measured["nonlinearities"]["5"]["output_layer"]
    coverage = next(f for f in findings if "coverage" in f.message)
    assert coverage.flagged and coverage.value > 0.5
    assert "integrated gradients" in coverage.recommendation
    decay = next(f for f in findings if "gradient norm" in f.message)
    assert decay.flagged and "input" in decay.where["layers"]


def test_dead_relus_are_flagged():
    import torch

    module = make_torch_cnn()
    with torch.no_grad():
        module[0].bias[1:] = -100.0
    model = kx.load_model(module, input_length=100)
    findings, measured = gradient_saturation(diagnosis_context(model, planted(20)))
    dead = next(f for f in findings if f.where.get("layer") == "1")
    assert dead.flagged and dead.where["units"] == [1, 2, 3, 4, 5]
    assert dead.value == pytest.approx(5 / 6)
    # An independent count: units whose output is never positive.
    acts = kx.layers.activations(model, planted(20), "1")
    assert list(np.flatnonzero(acts.max(axis=(0, 1)) <= 0)) == [1, 2, 3, 4, 5]


@pytest.mark.slow
@pytest.mark.parametrize("framework", ["pytorch", "keras"])
@pytest.mark.parametrize("target", [0, 1, 2])
def test_example_models_are_not_flagged(framework, target, example_regions):
    model = example_model(framework)
    findings, measured = gradient_saturation(diagnosis_context(model, example_regions, target))
    assert not [f.message for f in findings if f.severity != "info"]
    # Only the saturated output may carry advice (explain the logit), as information.
    advised = [f for f in findings if f.flagged]
    assert all(f.where["layer"] == kx.layers.output_activation(model) for f in advised)
    # The sigmoid output is recognised, reported for information, and bypassed for the rest.
    output = [name for name, s in measured["nonlinearities"].items() if s["output_layer"]]
    assert output == [kx.layers.output_activation(model)] and measured["on_logits"]


def test_logits_bypass_the_output_sigmoid(example_regions):
    model = example_model("pytorch")
    x = example_regions[:5]
    p = model.predict(x)
    with kx.layers.logits(model):
        z = model.predict(x)
    assert np.allclose(1 / (1 + np.exp(-z)), p, atol=1e-6)
    assert np.allclose(model.predict(x), p)
