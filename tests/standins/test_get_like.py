"""The GET-class stand-in (examples/standins/get_like.py): attributions over region x motif
features find the planted driver, MOTIF06 in the distal region 3, of a gene's expression;
integrated gradients are complete (they sum to f(x) - f(0)) and occlusion of whole regions
agrees."""
from pathlib import Path

import numpy as np
import pytest

import kipoi_explain as kx

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "examples" / "models" / "standins" / "get_like"
FEATURES = ROOT / "examples" / "data" / "standins" / "get_like" / "features.npy"
ENHANCER, DRIVER_MOTIF = 3, 5  # MOTIF06 in region 3
PROMOTER, ACCESSIBILITY = 7, 9
# The planted truth's three inputs: the driver motif, its region's accessibility (a weaker
# factor of the same product) and the promoter's accessibility (an additive term).
PLANTED = {(ENHANCER, DRIVER_MOTIF), (ENHANCER, ACCESSIBILITY), (PROMOTER, ACCESSIBILITY)}


@pytest.fixture(scope="module")
def model():
    return kx.load_model(MODEL)


@pytest.fixture(scope="module")
def x():
    return np.load(FEATURES)


@pytest.fixture(scope="module")
def integrated_gradients(model):
    return kx.explain(model, FEATURES, "integrated_gradients", target="expression")


def test_integrated_gradients_rank_the_driver_motif_in_its_region_first(integrated_gradients,
                                                                       x):
    assert integrated_gradients.scores.shape == x.shape == (40, 15, 10)
    importance = np.abs(integrated_gradients.scores).mean(axis=0)
    ranked = [np.unravel_index(i, importance.shape) for i in np.argsort(-importance, axis=None)]
    assert ranked[0] == (ENHANCER, DRIVER_MOTIF)
    # Measured: 0.52 for the driver, 0.23 for the promoter's accessibility, 0.074 for the
    # enhancer's accessibility and at most 0.008 for any of the 147 unplanted features (the
    # driver motif elsewhere, other motifs in the enhancer).
    assert importance[ranked[0]] > 2 * importance[ranked[1]]
    assert set(ranked[:3]) == PLANTED
    assert importance[ranked[3]] < 0.05 * importance[ranked[0]]
    # Gene by gene: wherever the enhancer carries the motif, it is the top feature.
    carries = x[:, ENHANCER, DRIVER_MOTIF] > 0
    assert carries.sum() >= 10
    top = [np.unravel_index(np.abs(s).argmax(), s.shape) for s in integrated_gradients.scores]
    assert all(top[i] == (ENHANCER, DRIVER_MOTIF) for i in np.flatnonzero(carries))


def test_integrated_gradients_are_complete(model, integrated_gradients, x):
    """The scores of a gene sum to its prediction minus that of the all-zero baseline (predicted
    here), up to the reported delta, which is small next to the predictions' range."""
    gap = integrated_gradients.predictions[:, 0] - model.predict(np.zeros_like(x))[:, 0]
    error = integrated_gradients.scores.sum(axis=(1, 2)) - gap
    np.testing.assert_allclose(integrated_gradients.delta, error, atol=1e-4)
    # Measured: |delta| <= 0.006 with gaps up to 2.45.
    assert np.abs(error).max() < 0.01 * np.abs(gap).max()


def test_occlusion_of_whole_regions_finds_the_enhancer(model, x):
    result = kx.explain(model, FEATURES, "occlusion", target="expression", window=1)
    # A window covers one region's every feature, which all get the region's score.
    assert np.ptp(result.scores, axis=2).max() == 0
    region = result.scores[:, :, 0]
    zeroed = x.copy()
    zeroed[:, ENHANCER] = 0
    np.testing.assert_allclose(region[:, ENHANCER],
                               result.predictions[:, 0] - model.predict(zeroed)[:, 0],
                               atol=1e-5)
    importance = np.abs(region).mean(axis=0)
    order = np.argsort(-importance)
    # Measured: 0.58 for the enhancer, 0.25 for the promoter, at most 0.008 elsewhere.
    assert list(order[:2]) == [ENHANCER, PROMOTER]
    assert importance[order[0]] > 2 * importance[order[1]]
    assert importance[order[2]] < 0.05 * importance[order[0]]


@pytest.mark.slow
def test_script_quick_run_writes_a_loadable_model(tmp_path, quick_run):
    model = kx.load_model(quick_run("get_like", tmp_path, ("features.npy",)))
    assert model.layout.shape == (15, 10) and model.output_names == ("expression",)
    assert np.isfinite(model.predict(np.load(FEATURES))).all()
