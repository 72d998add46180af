"""Stability metrics: reverse complement, shifts and seeds, on models whose answer is known
(a reverse-complement-symmetric module, a circular linear convolution, deterministic methods)
and on the example model."""
from pathlib import Path

import numpy as np
import pytest
import torch

import kipoi_explain as kx
from conftest import make_torch_cnn, random_onehot
from kipoi_explain.errors import InputError
from kipoi_explain.evaluation import stability as sx

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
LENGTH = 60


class ReverseComplementSymmetric(torch.nn.Module):
    """The mean of a module on a sequence and on its reverse complement (channels first: flip
    the bases and the positions): the same output for both strands."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, x):
        return (self.module(x) + self.module(x.flip(1, 2))) / 2


class CircularConv(torch.nn.Module):
    """A convolution with circular padding summed over positions: linear, with the same
    gradient at every position, so gradient x input moves with the bases exactly."""

    def __init__(self, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.conv = torch.nn.Conv1d(4, 1, kernel_size=5, padding=2, padding_mode="circular")

    def forward(self, x):
        return self.conv(x).sum(dim=(1, 2))[:, None]


def explainer(model, method, **options):
    return lambda rows: kx.explain(model, rows, method, target=0, **options).scores


def test_reverse_complement_symmetric_model_is_stable():
    x = random_onehot(6, length=LENGTH, seed=1)
    plain = kx.load_model(make_torch_cnn(length=LENGTH, seed=3), input_length=LENGTH)
    symmetric = kx.load_model(ReverseComplementSymmetric(make_torch_cnn(length=LENGTH, seed=3)),
                              input_length=LENGTH)
    for method in ("saliency", "grad_x_input"):
        result = sx.reverse_complement_stability(explainer(symmetric, method), x)
        assert result.kind == "reverse_complement"
        for name in sx.AGREEMENTS:
            np.testing.assert_allclose(result.values[name], 1.0, atol=1e-5)
            assert result.mean[name] == pytest.approx(1.0, abs=1e-5)
    # One strand only: the maps of the two strands differ.
    assert sx.reverse_complement_stability(explainer(plain, "saliency"), x).mean["cosine"] < 0.9


def test_shift_stability_follows_the_bases():
    x = random_onehot(5, length=LENGTH, seed=2)
    model = kx.load_model(CircularConv(), input_length=LENGTH)
    result = sx.shift_stability(explainer(model, "grad_x_input"), x, shifts=(-4, 2, 7))
    for name in sx.AGREEMENTS:
        assert result.detail[name].shape == (3, 5)
    # The gradient is constant up to float32 rounding (6e-8), which also breaks the ties of
    # the four distinct position scores: Spearman is near 1, not 1.
    np.testing.assert_allclose(result.detail["pearson"], 1.0, atol=1e-6)
    np.testing.assert_allclose(result.detail["cosine"], 1.0, atol=1e-6)
    assert result.detail["spearman"].min() > 0.98
    # A map the same at every position: constant position scores have no correlation (NaN,
    # and a NaN mean rather than a warning), and the maps are identical.
    constant = sx.shift_stability(lambda rows: np.ones_like(rows), x, shifts=(3,))
    assert np.isnan(constant.values["pearson"]).all() and np.isnan(constant.mean["spearman"])
    np.testing.assert_array_equal(constant.values["cosine"], 1.0)
    with pytest.raises(InputError, match="shifts"):
        sx.shift_stability(explainer(model, "saliency"), x, shifts=(0,))


def test_shift_stability_compares_the_right_positions():
    # A map of the bases themselves (the identity "method"): any misalignment of the compared
    # positions would compare unrelated random bases.
    x = random_onehot(4, length=LENGTH, seed=3)
    result = sx.shift_stability(lambda rows: rows * np.array([1.0, 2.0, 3.0, 4.0]), x)
    for name in sx.AGREEMENTS:
        np.testing.assert_array_equal(result.detail[name], 1.0)


def test_seed_stability():
    x = random_onehot(4, length=LENGTH, seed=4)
    model = kx.load_model(make_torch_cnn(length=LENGTH, seed=5), input_length=LENGTH)
    called = []

    def saliency(rows, seed):
        called.append(seed)
        return kx.explain(model, rows, "saliency", target=0).scores

    result = sx.seed_stability(saliency, x, seeds=(0, 1, 2))
    assert called == [0, 1, 2]
    assert result.settings["pairs"] == [(0, 1), (0, 2), (1, 2)]
    for name in sx.AGREEMENTS:
        assert (result.values[name] == 1.0).all() and result.mean[name] == 1.0

    def smoothgrad(rows, seed):
        return kx.explain(model, rows, "smoothgrad", target=0, n_samples=4, noise=0.5,
                          seed=seed).scores

    noisy = sx.seed_stability(smoothgrad, x)
    assert 0.2 < noisy.mean["cosine"] < 0.999
    with pytest.raises(InputError, match="seeds"):
        sx.seed_stability(saliency, x, seeds=(1, 1))


def test_stability_on_the_example_model():
    model = kx.load_model(str(EXAMPLES / "models" / "pytorch_cnn"))
    x = kx.from_fasta(EXAMPLES / "data" / "sequences.fa").onehot[:8]
    for method in ("saliency", "ism"):
        explain = explainer(model, method)
        rc = sx.reverse_complement_stability(explain, x)
        shift = sx.shift_stability(explain, x, shifts=(-1, 1))
        # Trained on motifs on either strand at any position, without being symmetric: maps
        # agree in part across strands, more across a shift of one base.
        assert 0.3 < rc.mean["pearson"] < 0.99
        assert shift.mean["pearson"] > 0.5
        assert np.isfinite(rc.values["cosine"]).all() and rc.values["cosine"].shape == (8,)
