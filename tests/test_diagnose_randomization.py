"""randomization_sanity: a method blind to the weights is flagged, real methods are not."""
import numpy as np
import pytest
from conftest import diagnosis_context, example_model

import kipoi_explain as kx

from kipoi_explain.diagnostics.randomization_sanity import randomization_sanity
from kipoi_explain.diagnostics.stats import row_spearman


def edge_detector(model, x, target, batch_size, progress):
    """Importance from the input alone (GC content in a sliding window), whatever the model."""
    gc = x[..., 1] + x[..., 2]
    window = np.apply_along_axis(lambda row: np.convolve(row, np.ones(5), "same"), 1, gc)
    return x * window[..., None]


@pytest.mark.parametrize("framework", ["pytorch", "keras"])
def test_input_only_method_is_flagged_and_real_methods_are_not(framework, example_regions):
    model = example_model(framework)
    before = model.fingerprint()
    ctx = diagnosis_context(model, example_regions[:12])
    findings, measured = randomization_sanity(
        ctx, methods=("grad_x_input", "integrated_gradients", "deeplift", edge_detector))
    by_method = {f.where["method"]: f for f in findings}
    assert by_method["edge_detector"].flagged
    assert by_method["edge_detector"].value == pytest.approx(1.0)
    for name in ("grad_x_input", "integrated_gradients", "deeplift"):
        assert not by_method[name].flagged, by_method[name].message
        assert by_method[name].value < 0.5
    assert model.fingerprint() == before  # weights restored
    layers = measured["layers"]
    assert layers == model.layers.weighted_layers()[::-1]
    assert len(measured["methods"]["grad_x_input"]["median"]) == len(layers)


def test_correlation_matches_direct_randomization(example_regions):
    """The curve's last point equals a correlation computed by hand on the randomized model."""
    model = example_model("pytorch")
    x = example_regions[:6]
    ctx = diagnosis_context(model, x)
    _, measured = randomization_sanity(ctx, methods=("grad_x_input",))
    original = np.abs((kx.input_gradient(model, x, 0) * x).sum(-1))
    with kx.layers.randomized(model, model.layers.weighted_layers()[::-1], seed=0):
        changed = np.abs((kx.input_gradient(model, x, 0) * x).sum(-1))
    expected = np.median(row_spearman(original, changed))
    assert measured["methods"]["grad_x_input"]["median"][-1] == pytest.approx(expected)
