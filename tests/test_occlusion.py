"""Occlusion (kipoi_explain.methods.occlusion): equal to Captum's ``Occlusion`` on a DNA CNN and
on the GenNet-style feature model, equal to a naive loop on features, independent of the
batching, and finding the planted sites of the bundled example."""
import numpy as np
import pytest
from conftest import EXAMPLE_DIR, LENGTH, example_model, random_onehot

import kipoi_explain as kx

GENNET = EXAMPLE_DIR / "models" / "gennet"
GENOTYPES = EXAMPLE_DIR / "data" / "genotypes.tsv"


@pytest.fixture(scope="module")
def gennet():
    return kx.load_model(str(GENNET))


@pytest.fixture(scope="module")
def genotypes(gennet):
    return kx.explain(gennet, GENOTYPES, "occlusion", batch_size=1000).inputs[:12]


@pytest.mark.parametrize("window, stride, baseline, fill", [
    (5, 1, "zeros", 0.0), (6, 2, "zeros", 0.0), (8, 4, "uniform", 0.25)])
def test_dna_occlusion_equals_captum_on_the_present_base(model, torch_cnn, window, stride,
                                                          baseline, fill):
    """Captum gives every base of a position its mean effect; kipoi-explain keeps the present
    base's (windows tile the sequence: (LENGTH - window) is a multiple of stride)."""
    import torch
    from captum.attr import Occlusion

    x = random_onehot(3, seed=1)
    result = kx.explain(model, x, "occlusion", target="pos", window=window, stride=stride,
                        baseline=baseline)
    expected = Occlusion(torch_cnn).attribute(
        torch.tensor(x.transpose(0, 2, 1)), sliding_window_shapes=(4, window),
        strides=(4, stride), baselines=fill, target=1).numpy().transpose(0, 2, 1)
    assert np.abs(expected).max() > 1e-3
    np.testing.assert_allclose(result.scores, expected * x, atol=1e-6)
    np.testing.assert_allclose(result.position_importance(), expected[..., 0], atol=1e-6)
    assert result.settings["window"] == window and result.settings["stride"] == stride


def test_feature_occlusion_equals_a_naive_loop_and_captum(gennet, genotypes):
    import torch
    from captum.attr import Occlusion

    x = genotypes
    result = kx.explain(gennet, x, "occlusion")
    f_x = gennet.predict(x)[:, 0]
    naive = np.zeros_like(x)
    for j in range(x.shape[1]):
        occluded = x.copy()
        occluded[:, j] = 0
        naive[:, j] = f_x - gennet.predict(occluded)[:, 0]
    np.testing.assert_allclose(result.scores, naive, atol=1e-6)
    assert np.abs(naive).max() > 1e-2
    windowed = kx.explain(gennet, x, "occlusion", window=3, stride=3, baseline="mean")
    expected = Occlusion(gennet.predictor.module).attribute(
        torch.tensor(x), sliding_window_shapes=(3,), strides=3,
        baselines=torch.tensor(x.mean(0)), target=0).numpy()
    np.testing.assert_allclose(windowed.scores, expected, atol=1e-6)


def test_results_do_not_depend_on_the_batch_size(model):
    x = random_onehot(2, seed=2)
    small = kx.explain(model, x, "occlusion", batch_size=7, window=4)
    large = kx.explain(model, x, "occlusion", batch_size=500, window=4)
    np.testing.assert_allclose(small.scores, large.scores, atol=1e-6)


def test_positions_no_window_covers_score_zero(model):
    """Windows of 10 every 7 bases start at 0..84 and cover bases 0..93 only."""
    x = random_onehot(2, seed=3)
    scores = kx.explain(model, x, "occlusion", window=10, stride=7).position_importance()
    assert np.all(scores[:, 94:] == 0) and np.all(np.abs(scores[:, :94]).max(axis=1) > 0)


def test_occlusion_finds_the_planted_sites(example_regions):
    """The bundled CNN's CTCF output: in each of the first 10 regions with a planted CTCF
    site, the top-scoring position lies within 10 bp of one."""
    import pandas as pd

    names = pd.read_csv(EXAMPLE_DIR / "data" / "regions.bed", sep="\t", header=None)[3].tolist()
    sites = pd.read_csv(EXAMPLE_DIR / "data" / "planted_sites.tsv", sep="\t")
    ctcf = sites[sites["motif_name"] == "CTCF"]
    regions = list(dict.fromkeys(ctcf["region"]))[:10]
    rows = [names.index(region) for region in regions]
    result = kx.explain(example_model("pytorch"), example_regions[rows], "occlusion",
                        target="CTCF")
    for region, top in zip(regions, result.position_importance().argmax(axis=1)):
        site = ctcf[ctcf["region"] == region]
        near = (top >= site["window_start"] - 10) & (top < site["window_end"] + 10)
        assert near.any(), (region, top, site[["window_start", "window_end"]].values)


@pytest.mark.parametrize("options, message", [
    ({"window": LENGTH + 1}, "window=101: expected 1 <= window <= 100"),
    ({"window": 0}, "window=0"),
    ({"stride": 0}, "stride=0: expected a positive integer"),
    ({"baseline": "shuffle"}, "baseline 'shuffle'"),
    ({"baseline": np.zeros((3, 4))}, r"baseline array of shape \(3, 4\)"),
])
def test_bad_options_are_named(model, options, message):
    with pytest.raises(kx.InputError, match=message):
        kx.explain(model, random_onehot(1), "occlusion", **options)
