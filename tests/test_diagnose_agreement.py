"""method_agreement: a method unrelated to the model disagrees; the example's methods agree."""
import numpy as np
import pytest
from conftest import diagnosis_context, example_model

import kipoi_explain as kx

from kipoi_explain.diagnostics.method_agreement import method_agreement
from kipoi_explain.diagnostics.stats import row_spearman


def noise(model, x, target, batch_size, progress):
    """Random scores: agrees with nothing."""
    return np.random.default_rng(0).normal(size=x.shape).astype(np.float32)


@pytest.mark.parametrize("framework", ["pytorch", "keras"])
def test_example_methods_agree(framework, example_regions):
    ctx = diagnosis_context(example_model(framework), example_regions[:16])
    findings, measured = method_agreement(ctx)
    assert measured["methods"] == ["grad_x_input", "integrated_gradients", "deeplift",
                                   "deepshap", "ism"]
    assert len(findings) == 10 and not [f.message for f in findings if f.flagged]
    median = np.asarray(measured["median"])
    assert np.allclose(median, median.T) and np.allclose(np.diag(median), 1.0)


def test_unrelated_method_is_flagged(example_regions):
    model = example_model("pytorch")
    x = example_regions[:16]
    findings, measured = method_agreement(diagnosis_context(model, x),
                                          methods=("grad_x_input", noise))
    (finding,) = findings
    assert finding.flagged and finding.where == {"methods": ["grad_x_input", "noise"]}
    gxi = (kx.input_gradient(model, x, 0) * x).sum(-1)
    scores = (noise(model, x, None, 0, False) * x).sum(-1)
    assert finding.value == pytest.approx(np.median(row_spearman(gxi, scores)))


def test_unsupported_method_is_left_out(example_regions):
    """DeepLIFT raises on an operation without a rule (a sort); the other methods are still
    compared."""
    import torch

    import kipoi_explain as kx

    class Functional(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv1d(4, 3, 5)
            self.fc = torch.nn.Linear(3, 1)

        def forward(self, x):
            return self.fc(torch.sort(torch.relu(self.conv(x)), dim=-1).values[..., -1])

    model = kx.load_model(Functional(), input_length=200)
    findings, measured = method_agreement(diagnosis_context(model, example_regions[:4]),
                                          methods=("grad_x_input", "deeplift", "ism"))
    assert measured["methods"] == ["grad_x_input", "ism"]
    assert "deeplift left out" in findings[0].message
