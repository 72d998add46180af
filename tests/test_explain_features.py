"""``explain`` on models of features (no DNA): the bundled GenNet-style model against Captum
and its ground truth (only rs0071, rs0074, rs0076, rs0079 matter), tables read by name, and
DNA-only methods and options refused by name."""
import numpy as np
import pandas as pd
import pytest
from conftest import EXAMPLE_DIR

import kipoi_explain as kx
from kipoi_explain.methods import FEATURE_METHODS
from kipoi_explain.transparent import read_entity_map

GENNET = EXAMPLE_DIR / "models" / "gennet"
GENOTYPES = EXAMPLE_DIR / "data" / "genotypes.tsv"
CAUSAL_SNPS = {"rs0071", "rs0074", "rs0076", "rs0079"}


@pytest.fixture(scope="module")
def gennet():
    return kx.load_model(str(GENNET))


@pytest.fixture(scope="module")
def snps():
    return list(read_entity_map(GENNET).level("snp").units)


@pytest.fixture(scope="module")
def few(gennet):
    """16 example samples as an array and as a tensor for Captum."""
    import torch

    x = kx.explain(gennet, GENOTYPES, "saliency").inputs[:16]
    return x, torch.tensor(x)


@pytest.mark.parametrize("baseline", ["zeros", "mean"])
def test_integrated_gradients_equal_captum(gennet, few, baseline):
    import torch
    from captum.attr import IntegratedGradients

    x, tensor = few
    result = kx.explain(gennet, x, "integrated_gradients", n_steps=32, baseline=baseline)
    reference = 0.0 if baseline == "zeros" else torch.tensor(x.mean(0))[None]
    expected, delta = IntegratedGradients(gennet.predictor.module).attribute(
        tensor, baselines=reference, target=0, n_steps=32, method="gausslegendre",
        return_convergence_delta=True)
    assert result.scores.shape == (16, 300) and result.hypothetical is None
    np.testing.assert_allclose(result.scores, expected.detach().numpy(), atol=2e-6)
    np.testing.assert_allclose(result.delta, delta.detach().numpy(), atol=2e-6)


@pytest.mark.parametrize("method, captum_class, options, absolute", [
    ("saliency", "Saliency", {}, False),
    ("saliency", "Saliency", {"absolute": True}, True),
    ("grad_x_input", "InputXGradient", {}, None),
])
def test_gradient_methods_equal_captum(gennet, few, method, captum_class, options, absolute):
    import captum.attr

    x, tensor = few
    explainer = getattr(captum.attr, captum_class)(gennet.predictor.module)
    extra = {} if absolute is None else {"abs": absolute}
    expected = explainer.attribute(tensor.clone().requires_grad_(), target=0, **extra)
    result = kx.explain(gennet, x, method, **options)
    assert np.abs(expected.detach().numpy()).max() > 1e-3
    np.testing.assert_allclose(result.scores, expected.detach().numpy(), atol=1e-6)


def test_smoothgrad_without_noise_is_the_gradient(gennet, few):
    x, _ = few
    noiseless = kx.explain(gennet, x, "smoothgrad", n_samples=3, noise=0.0)
    np.testing.assert_allclose(noiseless.scores, kx.explain(gennet, x, "saliency").scores,
                               atol=1e-6)
    noisy = kx.explain(gennet, x, "smoothgrad", n_samples=3, noise=0.5)
    assert not np.allclose(noisy.scores, noiseless.scores, atol=1e-4)


@pytest.mark.parametrize("method", ["occlusion", "integrated_gradients"])
def test_the_causal_snps_rank_first(gennet, snps, method):
    result = kx.explain(gennet, GENOTYPES, method, batch_size=2048)
    order = np.argsort(-np.abs(result.scores).mean(axis=0))
    assert {snps[i] for i in order[:4]} == CAUSAL_SNPS
    assert result.names[:2] == ["S0001", "S0002"] and result.intervals is None
    assert result.model["input"] == "features" and result.settings["reverse_complement"] is False


def test_table_columns_are_put_in_the_models_order(gennet, snps, tmp_path):
    """A table whose columns are shuffled gives the same scores: the columns are matched to the
    input entities of entities.yaml by name."""
    table = pd.read_csv(GENOTYPES, sep="\t", index_col=0).iloc[:5]
    shuffled = table[list(np.random.default_rng(0).permutation(table.columns))]
    shuffled.to_csv(tmp_path / "shuffled.tsv", sep="\t")
    result = kx.explain(gennet, tmp_path / "shuffled.tsv", "saliency")
    expected = kx.explain(gennet, table[snps].to_numpy(np.float32), "saliency")
    np.testing.assert_allclose(result.scores, expected.scores, atol=1e-7)
    assert result.names == list(table.index)
    table.drop(columns="rs0071").to_csv(tmp_path / "missing.tsv", sep="\t")
    with pytest.raises(kx.InputError, match="missing: rs0071"):
        kx.explain(gennet, tmp_path / "missing.tsv", "saliency")


def test_a_feature_model_without_entities():
    """A bare torch module of features: arrays in, no names to check."""
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(5, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1))
    model = kx.load_model(net, layout=kx.FeatureLayout((5,)))
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    result = kx.explain(model, x, "integrated_gradients", n_steps=64)
    assert result.names == [f"sample{i}" for i in range(4)]
    assert np.abs(result.delta).max() < 1e-4


@pytest.mark.parametrize("method", ["ism", "deepshap", "deeplift", "expected_gradients"])
def test_dna_only_methods_are_refused_with_those_that_apply(gennet, few, method):
    with pytest.raises(kx.InputError, match=rf"method '{method}' needs one-hot DNA input; "
                                            r"model 'gennet' takes features of shape \(300,\): "
                                            rf"use {', '.join(FEATURE_METHODS)}$"):
        kx.explain(gennet, few[0], method)


@pytest.mark.parametrize("method, options, message", [
    ("saliency", {"reverse_complement": True}, "reverse_complement needs one-hot DNA input"),
    ("grad_x_input", {"correct_gradients": True}, "correct_gradients .* needs one-hot DNA"),
    ("integrated_gradients", {"baseline": "shuffle"}, "baseline 'shuffle' .* needs one-hot"),
    ("occlusion", {"baseline": "uniform"}, "baseline 'uniform' .*: use 'zeros', 'mean' or an"),
    ("integrated_gradients", {"baseline": np.zeros(299)}, r"baseline array of shape \(299,\)"),
])
def test_dna_only_options_are_refused_by_name(gennet, few, method, options, message):
    with pytest.raises(kx.InputError, match=message):
        kx.explain(gennet, few[0], method, **options)


def test_sequences_for_a_model_of_features_are_refused(gennet):
    with pytest.raises(kx.InputError, match=r"explain: model 'gennet' takes features of shape "
                                            r"\(300,\), not DNA sequences; give an array "
                                            r"\(N, 300\)"):
        kx.explain(gennet, kx.from_strings(["ACGT", "GGCC"]), "saliency")
