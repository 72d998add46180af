"""filter_scaling: a filter with huge weights is flagged, the trained example filters are not."""
import numpy as np
import pytest
from conftest import diagnosis_context, example_model, make_torch_cnn

import kipoi_explain as kx
from kipoi_explain.diagnostics.filter_scaling import filter_scaling


def scale_filter(model, index, factor):
    """Multiply one first-layer filter's weights in place, in the framework's own layout."""
    name = model.filters.conv_layers()[0].name
    arrays = model.layers.get_weights(name)
    kernel = arrays[0]
    if model.framework == "pytorch":
        kernel[index] *= factor          # (F, 4, K)
    else:
        kernel[..., index] *= factor     # (K, 4, F)
    model.layers.set_weights(name, arrays)
    return name


@pytest.mark.parametrize("framework", ["pytorch", "keras"])
def test_example_filters_are_not_flagged(framework, example_regions):
    findings, measured = filter_scaling(diagnosis_context(example_model(framework),
                                                          example_regions[:8]))
    assert [f.severity for f in findings] == ["info"]
    (layer,) = measured["layers"].values()
    assert len(layer["saturation"]) == 16 and layer["flagged"].size == 0


@pytest.mark.parametrize("framework", ["pytorch", "keras"])
def test_filter_with_huge_weights_is_flagged(framework, example_regions):
    model = example_model(framework)
    name = scale_filter(model, 5, 60.0)
    findings, measured = filter_scaling(diagnosis_context(model, example_regions[:8]))
    (finding,) = findings
    assert finding.severity == "warning" and finding.flagged
    assert finding.where == {"layer": name, "filters": [5]}
    assert finding.value > finding.threshold == 0.5
    assert "activation" in finding.recommendation
    # The weight norm reported is the kernel's own norm.
    kernel = model.filters.conv_layers()[0].weights[5]
    assert np.isclose(measured["layers"][name]["weight_norm"][5], np.linalg.norm(kernel))


def test_outlying_norm_alone_is_flagged():
    """Scale that is an outlier among the layer's filters is flagged even before the softmax
    saturates."""
    model = kx.load_model(make_torch_cnn(), input_length=100)
    scale_filter(model, 2, 12.0)
    findings, measured = filter_scaling(diagnosis_context(model, np.zeros((1, 100, 4))))
    (layer,) = measured["layers"].values()
    assert findings[0].where["filters"] == [2]
    assert layer["norm_z"][2] > 5


def test_model_without_input_convolution_is_not_applicable():
    import torch

    module = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(40, 1))
    model = kx.load_model(module, input_length=10)
    findings, measured = filter_scaling(diagnosis_context(model, np.zeros((1, 10, 4))))
    assert measured == {} and findings[0].severity == "info"
    assert "not applicable" in findings[0].message
