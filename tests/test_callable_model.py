"""Models without gradients (kipoi_explain.backends.predict_function): scikit-learn estimators,
loaded through Kipoi's ``SklearnModel`` or given as a predict function, explained by
perturbation methods; gradient methods are refused with the methods that do apply."""
import numpy as np
import pytest
import yaml
from conftest import random_onehot

import kipoi_explain as kx
from kipoi_explain.backends.predict_function import PredictFunction

N_FEATURES, DECIDING = 8, 3
LENGTH, MOTIF, MOTIF_AT = 40, "GATTACA", 15


def feature_data(n, seed):
    """Standard-normal features; the label is whether feature 3 is positive."""
    x = np.random.default_rng(seed).standard_normal((n, N_FEATURES)).astype(np.float32)
    return x, (x[:, DECIDING] > 0).astype(int)


def dna_data(n, seed):
    """Random sequences, GATTACA planted at position 15 in the second half (label 1)."""
    x = random_onehot(n, LENGTH, seed)
    x[n // 2:, MOTIF_AT:MOTIF_AT + len(MOTIF)] = np.eye(4, dtype=np.float32)[
        ["ACGT".index(base) for base in MOTIF]]
    return x, (np.arange(n) >= n // 2).astype(int)


def sklearn_dir(directory, estimator, input_shape, special_type=None):
    """A Kipoi model directory serving ``estimator.predict_proba`` via kipoi.model.SklearnModel."""
    import joblib

    directory.mkdir()
    joblib.dump(estimator, directory / "model.pkl")
    inputs = {"name": "x", "shape": str(tuple(input_shape)), "doc": "Model input."}
    if special_type:
        inputs["special_type"] = special_type
    (directory / "model.yaml").write_text(yaml.safe_dump({
        "defined_as": "kipoi.model.SklearnModel",
        "args": {"pkl_file": "model.pkl", "predict_method": "predict_proba"},
        "info": {"authors": [{"name": "kipoi-explain tests"}], "doc": "scikit-learn test model"},
        "schema": {"inputs": inputs,
                   "targets": {"shape": "(2,)", "doc": "Class probabilities.",
                               "column_labels": ["neg", "pos"]}},
        "dependencies": {"pip": ["scikit-learn"]}}, sort_keys=False))
    return directory


@pytest.fixture(scope="module")
def forest():
    from sklearn.ensemble import RandomForestClassifier

    x, y = feature_data(400, seed=0)
    return RandomForestClassifier(n_estimators=20, max_depth=4, random_state=0).fit(x, y)


@pytest.fixture(scope="module")
def logistic():
    from sklearn.linear_model import LogisticRegression

    x, y = dna_data(300, seed=0)
    return LogisticRegression(C=1.0, max_iter=500).fit(x.reshape(len(x), -1), y)


@pytest.fixture(scope="module")
def forest_model(forest, tmp_path_factory):
    return kx.load_model(sklearn_dir(tmp_path_factory.mktemp("kipoi") / "forest", forest,
                                     (N_FEATURES,)))


@pytest.fixture(scope="module")
def dna_model(logistic, tmp_path_factory):
    return kx.load_model(sklearn_dir(tmp_path_factory.mktemp("kipoi") / "logistic", logistic,
                                     (LENGTH, 4), "DNASeq"))


def test_kipoi_sklearn_model_loads_with_its_metadata(forest, forest_model, dna_model):
    x, _ = feature_data(5, seed=1)
    assert isinstance(forest_model.predictor, PredictFunction) and forest_model.gradients is None
    assert forest_model.output_names == ("neg", "pos") and forest_model.output_shape == (2,)
    assert forest_model.layout == kx.FeatureLayout((N_FEATURES,))
    assert forest_model.source["kipoi_class"] == "kipoi.model.SklearnModel"
    np.testing.assert_allclose(forest_model.predict(x), forest.predict_proba(x), atol=1e-6)
    assert dna_model.takes_dna and dna_model.input_length == LENGTH


def test_occlusion_ranks_the_deciding_feature_first(forest_model):
    x, _ = feature_data(50, seed=2)
    result = kx.explain(forest_model, x, "occlusion", target="pos", baseline="mean")
    importance = np.abs(result.scores).mean(axis=0)
    assert result.scores.shape == (50, N_FEATURES) and result.hypothetical is None
    assert np.argmax(importance) == DECIDING
    assert importance[DECIDING] > 3 * np.delete(importance, DECIDING).max()


def test_ism_and_occlusion_find_the_planted_motif(dna_model):
    x, y = dna_data(20, seed=3)
    positives = x[y == 1]
    motif = np.arange(MOTIF_AT, MOTIF_AT + len(MOTIF))
    for method in ("ism", "occlusion"):
        options = {"window": 3} if method == "occlusion" else {}
        importance = kx.explain(dna_model, positives, method, target="pos",
                                **options).position_importance()
        top = np.argsort(-importance, axis=1)[:, :5]
        assert np.isin(top, np.arange(MOTIF_AT - 2, MOTIF_AT + len(MOTIF) + 2)).all(), method
        assert importance[:, motif].mean() > 5 * np.abs(np.delete(importance, motif, 1)).mean()


@pytest.mark.parametrize("method", ["saliency", "integrated_gradients", "deepshap"])
def test_gradient_methods_name_the_methods_that_apply(forest_model, dna_model, method):
    with pytest.raises(kx.InputError, match=rf"method '{method}' needs gradients, which model "
                                            r"'logistic' \(callable, a predict function\) does "
                                            r"not have; .*: explain methods ism, occlusion; "
                                            r".*method='ablation'"):
        kx.explain(dna_model, random_onehot(2, LENGTH), method)
    with pytest.raises(kx.InputError, match=r"'forest'.*explain methods occlusion; "):
        kx.explain(forest_model, feature_data(2, seed=0)[0], method)


def test_dna_only_methods_on_features_name_those_that_apply(forest_model):
    with pytest.raises(kx.InputError, match=r"method 'ism' needs one-hot DNA input; model "
                                            r"'forest' takes features of shape \(8,\): use "
                                            r"occlusion$"):
        kx.explain(forest_model, feature_data(2, seed=0)[0], "ism")


def test_gradient_primitives_raise_unsupported_operation(dna_model):
    with pytest.raises(kx.UnsupportedOperation, match="the gradient needs gradients.*ism, "
                                                      "occlusion"):
        kx.input_gradient(dna_model, random_onehot(1, LENGTH))


def test_a_predict_function_is_a_model(logistic):
    """The public layout (N, L, 4) reaches the function; a 1-D result is one output."""
    def predict(x):
        return logistic.predict_proba(x.reshape(len(x), -1))[:, 1]

    model = kx.load_model(predict, input_length=LENGTH, output_names=["pos"])
    x, _ = dna_data(6, seed=4)
    assert model.output_shape == (1,) and model.name == "test_a_predict_function_is_a_model." \
                                                         "<locals>.predict"
    np.testing.assert_allclose(model.predict(x)[:, 0], predict(x), atol=1e-6)
    result = kx.explain(model, x, "ism")
    flipped = x.copy()
    flipped[0, 0] = np.roll(x[0, 0], 1)
    base = int(np.argmax(flipped[0, 0]))
    assert result.scores[0, 0, base] == pytest.approx(predict(flipped[:1])[0] - predict(x[:1])[0],
                                                      abs=1e-6)


def test_fingerprint_tells_estimators_apart(forest):
    def make(estimator):
        return kx.load_model(estimator.predict_proba, layout=kx.FeatureLayout((N_FEATURES,)))

    from sklearn.ensemble import RandomForestClassifier

    x, y = feature_data(400, seed=5)
    other = RandomForestClassifier(n_estimators=20, max_depth=4, random_state=1).fit(x, y)
    assert make(forest).fingerprint() == make(forest).fingerprint()
    assert make(forest).fingerprint() != make(other).fingerprint()
    unpicklable = kx.load_model(lambda v: v.sum(axis=1), layout=kx.FeatureLayout((3,)))
    assert len(unpicklable.fingerprint()) == 64


@pytest.mark.parametrize("call, message", [
    (lambda: kx.load_model(lambda x: x), "input_length is needed for a predict function"),
    (lambda: kx.load_model(lambda x: x[:1], layout=kx.FeatureLayout((3,))),
     "returned shape"),
    (lambda: kx.load_model(lambda x: x.sum(1), layout=kx.FeatureLayout((3,)), device="cpu"),
     "option.*device do not apply"),
])
def test_bad_predict_functions_are_named(call, message):
    with pytest.raises(kx.InputError, match=message):
        call()
