"""The CIMLA-class stand-in (examples/standins/cimla_like.py): a random forest served by Kipoi's
SklearnModel, whose target gene is driven by TF03 and TF07 together. Occlusion of one TF at a
time finds the two regulators and equals a plain re-prediction with the TF replaced; gradient
methods are refused with the methods that apply."""
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

import kipoi_explain as kx

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "examples" / "models" / "standins" / "cimla_like"
EXPRESSION = ROOT / "examples" / "data" / "standins" / "cimla_like" / "tf_expression.tsv"
REGULATORS = {"TF03", "TF07"}


@pytest.fixture(scope="module")
def model():
    return kx.load_model(MODEL)


@pytest.fixture(scope="module")
def occlusion(model):
    return kx.explain(model, EXPRESSION, "occlusion", target="TARGET1", window=1,
                      baseline="mean")


def test_occlusion_ranks_the_two_regulators_first(occlusion):
    tfs = pd.read_csv(EXPRESSION, sep="\t", index_col=0).columns
    importance = np.abs(occlusion.scores).mean(axis=0)
    order = np.argsort(-importance)
    assert set(tfs[order[:2]]) == REGULATORS
    # Measured: 0.55 and 0.46 for the regulators, 0.011 for the next TF (the co-expressed
    # decoy TF04 or noise); the two regulators each carry ~40x any other TF.
    assert importance[order[1]] > 10 * importance[order[2]]


def test_occlusion_equals_naive_reprediction(occlusion):
    """Each TF's score is the forest's prediction minus its prediction with that TF set to the
    mean of the cells, computed here with the unpickled estimator and nothing else."""
    forest = joblib.load(MODEL / "model.pkl")
    x = pd.read_csv(EXPRESSION, sep="\t", index_col=0).to_numpy(np.float32)
    reference = forest.predict(x)
    expected = np.empty_like(x)
    for j in range(x.shape[1]):
        occluded = x.copy()
        occluded[:, j] = x[:, j].mean()
        expected[:, j] = reference - forest.predict(occluded)
    assert occlusion.scores.shape == x.shape
    np.testing.assert_allclose(occlusion.scores, expected, atol=1e-4)
    # The check has teeth: the regulators' scores are far from zero in most cells.
    assert (np.abs(expected[:, [2, 6]]) > 0.05).mean() > 0.5


@pytest.mark.parametrize("method", ["saliency", "integrated_gradients", "deepshap"])
def test_gradient_methods_are_refused_naming_those_that_apply(model, method):
    with pytest.raises(kx.InputError, match=rf"method '{method}' needs gradients, which model "
                                            r"'cimla_like' .* does not have; .*explain methods "
                                            r"occlusion; .*method='ablation'"):
        kx.explain(model, EXPRESSION, method)


@pytest.mark.slow
def test_script_quick_run_writes_a_loadable_model(tmp_path, quick_run):
    model = kx.load_model(quick_run("cimla_like", tmp_path, ("tf_expression.tsv",)))
    assert model.output_names == ("TARGET1",) and model.gradients is None
    assert np.isfinite(model.predict(pd.read_csv(EXPRESSION, sep="\t", index_col=0)
                                     .to_numpy(np.float32))).all()
