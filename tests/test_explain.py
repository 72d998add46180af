"""explain(): strands, option checking, recorded settings, inputs of every accepted kind."""
import numpy as np
import pytest

import kipoi_explain as kx
from kipoi_explain.sequences import one_hot, reverse_complement

from conftest import LENGTH, random_onehot


@pytest.fixture(scope="module")
def x():
    return random_onehot(4, seed=41)


def _strings(n, seed=0):
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list("ACGT"), LENGTH)) for _ in range(n)]


# ---- reverse complement -----------------------------------------------------------------

@pytest.mark.parametrize("method, options", [
    ("saliency", {}),
    ("grad_x_input", {}),
    ("integrated_gradients", {"n_steps": 8, "baseline": "uniform"}),
    ("ism", {}),
])
def test_reverse_complement_is_average_of_strands(model, x, method, options):
    forward = kx.explain(model, x, method, target=1, **options)
    backward = kx.explain(model, reverse_complement(x), method, target=1, **options)
    both = kx.explain(model, x, method, target=1, reverse_complement=True, **options)
    expected = (forward.scores + reverse_complement(backward.scores)) / 2
    np.testing.assert_allclose(both.scores, expected, rtol=1e-5, atol=1e-7)
    assert not np.allclose(both.scores, forward.scores, rtol=1e-3)     # the strands differ
    np.testing.assert_array_equal(both.inputs, x)
    np.testing.assert_allclose(both.predictions, model.predict(x), rtol=1e-6)
    assert both.settings["reverse_complement"] is True
    if forward.hypothetical is not None:
        np.testing.assert_allclose(
            both.hypothetical,
            (forward.hypothetical + reverse_complement(backward.hypothetical)) / 2,
            rtol=1e-5, atol=1e-7)
    if forward.delta is not None:
        np.testing.assert_allclose(both.delta, (forward.delta + backward.delta) / 2,
                                   rtol=1e-5, atol=1e-7)


def test_reverse_complement_of_rc_symmetric_model_changes_nothing():
    """A model that sums over both strands gives the same scores with or without averaging."""
    import torch

    torch.manual_seed(0)
    conv = torch.nn.Conv1d(4, 3, 5)

    class BothStrands(torch.nn.Module):
        def forward(self, a):                                  # (N, 4, L), ACGT channels
            return (conv(a).relu().sum(-1) + conv(a.flip(1, 2)).relu().sum(-1))[:, :1]

    symmetric = kx.load_model(BothStrands(), input_length=30)
    x = random_onehot(2, length=30)
    plain = kx.explain(symmetric, x, "saliency")
    both = kx.explain(symmetric, x, "saliency", reverse_complement=True)
    np.testing.assert_allclose(both.scores, plain.scores, rtol=1e-5, atol=1e-6)


def test_reverse_complement_ism_window_stays_in_window(model, x):
    both = kx.explain(model, x, "ism", target=1, start=10, end=20, reverse_complement=True)
    assert not both.scores[:, 20:].any()
    forward = kx.explain(model, x, "ism", target=1, start=10, end=20)
    backward = kx.explain(model, reverse_complement(x), "ism", target=1, start=80, end=90)
    np.testing.assert_allclose(both.scores, (forward.scores + reverse_complement(backward.scores))
                               / 2, rtol=1e-5, atol=1e-7)


def test_reverse_complement_array_baseline_follows_the_strand(model, x):
    baseline = np.zeros((LENGTH, 4), dtype=np.float32)
    baseline[:, 0] = 1.0                                       # all-A reference
    options = dict(method="integrated_gradients", target=1, n_steps=8)
    both = kx.explain(model, x, baseline=baseline, reverse_complement=True, **options)
    forward = kx.explain(model, x, baseline=baseline, **options)
    backward = kx.explain(model, reverse_complement(x), baseline=reverse_complement(baseline),
                          **options)
    np.testing.assert_allclose(both.scores, (forward.scores + reverse_complement(backward.scores))
                               / 2, rtol=1e-5, atol=1e-7)


# ---- option checking --------------------------------------------------------------------

def test_unknown_method(model, x):
    with pytest.raises(kx.InputError) as err:
        kx.explain(model, x, "gradcam")
    assert "'gradcam'" in str(err.value) and "saliency" in str(err.value)


def test_unknown_option(model, x):
    with pytest.raises(kx.InputError) as err:
        kx.explain(model, x, "saliency", n_step=5)
    assert "n_step" in str(err.value) and "'saliency'" in str(err.value)
    assert "absolute" in str(err.value)                        # lists what it takes


@pytest.mark.parametrize("method, option", [("ism", "n_steps"), ("saliency", "noise"),
                                            ("integrated_gradients", "start"),
                                            ("smoothgrad", "baseline")])
def test_option_of_another_method(model, x, method, option):
    with pytest.raises(kx.InputError) as err:
        kx.explain(model, x, method, **{option: 1})
    assert option in str(err.value) and repr(method) in str(err.value)


def test_wrong_length(model):
    with pytest.raises(kx.InputError, match="length 99, expected the model's input length 100"):
        kx.explain(model, ["A" * 99], "saliency")
    with pytest.raises(kx.InputError, match="length"):
        kx.explain(model, random_onehot(2, length=101), "saliency")


def test_bad_target_and_reduce(model, x):
    with pytest.raises(kx.InputError, match="neg, pos"):
        kx.explain(model, x, "saliency", target="CTCF")
    with pytest.raises(kx.InputError, match="reduce"):
        kx.explain(model, x, "saliency", target="all", reduce="max")
    with pytest.raises(kx.InputError, match="no bins"):
        kx.explain(model, x, "saliency", bins=(0, 1))


def test_no_sequences_and_bad_input_type(model):
    with pytest.raises(kx.InputError, match="no sequences"):
        kx.explain(model, [], "saliency")
    with pytest.raises(kx.InputError, match="cannot read sequences from dict"):
        kx.explain(model, {"a": "ACGT"}, "saliency")


# ---- what is recorded -------------------------------------------------------------------

def test_settings_record_defaults_and_version(model, x):
    result = kx.explain(model, x, "integrated_gradients", target="pos")
    settings = result.settings
    assert settings["n_steps"] == 50 and settings["quadrature_rule"] == "gausslegendre"
    assert settings["baseline"] == "zeros" and settings["correct_gradients"] is False
    assert settings["reverse_complement"] is False and settings["reduce"] == "sum"
    # The model's own block size, sized to the memory free when it was loaded.
    assert settings["batch_size"] == model.batch_size and model.batch_size >= 8
    assert settings["ambiguous"] == "uniform" and settings["bins"] is None
    assert settings["version"] == kx.__version__ and isinstance(kx.__version__, str)
    assert result.method == "integrated_gradients"
    assert result.target == {"columns": [1], "names": ["pos"], "reduce": "sum"}
    assert result.model["fingerprint"] == model.fingerprint()
    assert result.model["framework"] == "pytorch" and result.model["output_names"] == ["neg", "pos"]
    assert len(result) == 4

    override = kx.explain(model, x, "integrated_gradients", n_steps=7, batch_size=16)
    assert override.settings["n_steps"] == 7 and override.settings["batch_size"] == 16


def test_predictions_equal_model_predict(model, torch_cnn, x):
    import torch

    result = kx.explain(model, x, "saliency")
    direct = torch_cnn(torch.tensor(x.transpose(0, 2, 1).copy())).detach().numpy()
    assert result.predictions.shape == (4, 2)
    np.testing.assert_allclose(result.predictions, direct, rtol=1e-6)
    np.testing.assert_allclose(result.predictions, model.predict(x), rtol=1e-6)
    assert result.scores.dtype == np.float32


def test_names_default_and_given(model, x, tmp_path):
    assert kx.explain(model, x, "saliency").names == ["seq0", "seq1", "seq2", "seq3"]
    seqs = _strings(2)
    fasta = tmp_path / "two.fa"
    fasta.write_text(f">enhancer\n{seqs[0]}\n>promoter\n{seqs[1]}\n")
    for source in (fasta, str(fasta)):
        result = kx.explain(model, source, "saliency")
        assert result.names == ["enhancer", "promoter"] and result.intervals is None
        np.testing.assert_array_equal(result.inputs, one_hot(seqs))
    named = kx.explain(model, kx.from_strings(seqs, names=["a", "b"]), "saliency")
    assert named.names == ["a", "b"]


def test_string_and_list_of_strings(model):
    seqs = _strings(3, seed=5)
    single = kx.explain(model, seqs[0], "grad_x_input", target=1)
    several = kx.explain(model, seqs, "grad_x_input", target=1)
    assert single.scores.shape == (1, LENGTH, 4) and single.names == ["seq0"]
    assert several.scores.shape == (3, LENGTH, 4)
    np.testing.assert_array_equal(several.inputs, one_hot(seqs))
    np.testing.assert_allclose(single.scores[0], several.scores[0], rtol=1e-6, atol=1e-8)
    from_array = kx.explain(model, one_hot(seqs), "grad_x_input", target=1)
    np.testing.assert_allclose(several.scores, from_array.scores, rtol=1e-6, atol=1e-8)
    lower = kx.explain(model, [s.lower() for s in seqs], "grad_x_input", target=1)
    np.testing.assert_array_equal(lower.scores, several.scores)


def test_position_importance(model, x):
    result = kx.explain(model, x, "grad_x_input", target=1)
    importance = result.position_importance()
    assert importance.shape == (4, LENGTH)
    np.testing.assert_allclose(importance, (kx.input_gradient(model, x, 1) * x).sum(-1), rtol=1e-5,
                               atol=1e-8)
    saliency = kx.explain(model, x, "saliency", target=1)
    np.testing.assert_allclose(saliency.position_importance(), importance, rtol=1e-5, atol=1e-8)


def test_reduce_mean_over_targets(model, x):
    both = kx.explain(model, x, "saliency", target="all", reduce="mean")
    expected = (kx.input_gradient(model, x, 0) + kx.input_gradient(model, x, 1)) / 2
    np.testing.assert_allclose(both.scores, expected, rtol=1e-5, atol=1e-8)
    summed = kx.explain(model, x, "saliency", target=["neg", "pos"])
    np.testing.assert_allclose(summed.scores, 2 * expected, rtol=1e-5, atol=1e-8)
    assert both.target["reduce"] == "mean" and both.target["names"] == ["neg", "pos"]


def test_explain_accepts_a_keras_model_directly(keras_cnn, x):
    result = kx.explain(keras_cnn, x[:2], "saliency", target=1)
    assert result.model["framework"] == "keras"
    np.testing.assert_allclose(result.scores, kx.input_gradient(kx.load_model(keras_cnn), x[:2], 1),
                               rtol=1e-6, atol=1e-9)


def test_explain_needs_input_length_for_bare_torch_module(torch_cnn, x):
    with pytest.raises(kx.InputError, match="input_length"):
        kx.explain(torch_cnn, x, "saliency")
