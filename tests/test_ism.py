"""In-silico mutagenesis against a naive mutate-and-predict loop."""
import numpy as np
import pytest

import kipoi_explain as kx
from kipoi_explain.sequences import one_hot

from conftest import LENGTH, random_onehot


@pytest.fixture(scope="module")
def x():
    return random_onehot(3, seed=31)


def _torch_call(module):
    import torch

    def call(a):
        with torch.no_grad():
            return module(torch.tensor(a.transpose(0, 2, 1).copy())).numpy()
    return call


def _keras_call(net):
    return lambda a: np.asarray(net(a, training=False))


def naive_ism(call, x, target, start=0, end=None):
    """Mutate one base at a time; every (position, base) that is not already 1 gets a mutant."""
    end = x.shape[1] if end is None else end
    mutants, where = [], []
    for i in range(len(x)):
        for pos in range(start, end):
            for base in range(4):
                if x[i, pos, base] == 1.0:
                    continue
                mutant = x[i].copy()
                mutant[pos] = 0.0
                mutant[pos, base] = 1.0
                mutants.append(mutant)
                where.append((i, pos, base))
    f_x = call(x)[:, target]
    f_mut = call(np.stack(mutants))[:, target]
    scores = np.zeros(x.shape, dtype=np.float64)
    for (i, pos, base), value in zip(where, f_mut):
        scores[i, pos, base] = value - f_x[i]
    return scores


@pytest.fixture(scope="module")
def torch_model(torch_cnn):
    return kx.load_model(torch_cnn, input_length=LENGTH, output_names=["neg", "pos"])


@pytest.mark.parametrize("target, column", [(0, 0), ("pos", 1)])
def test_torch_ism_equals_naive(torch_model, torch_cnn, x, target, column):
    expected = naive_ism(_torch_call(torch_cnn), x, column)
    result = kx.explain(torch_model, x, "ism", target=target)
    np.testing.assert_allclose(result.scores, expected, rtol=1e-5, atol=1e-6)
    assert (result.scores[x == 1] == 0).all()                  # present base: exactly 0
    assert np.count_nonzero(result.scores) > 0.9 * 3 * LENGTH * 3
    assert result.delta is None and result.hypothetical is None


def test_torch_ism_window(torch_model, torch_cnn, x):
    expected = naive_ism(_torch_call(torch_cnn), x, 1, start=40, end=57)
    result = kx.explain(torch_model, x, "ism", target=1, start=40, end=57)
    np.testing.assert_allclose(result.scores, expected, rtol=1e-5, atol=1e-6)
    assert not result.scores[:, :40].any() and not result.scores[:, 57:].any()
    assert np.count_nonzero(result.scores[:, 40:57]) > 0
    assert result.settings["start"] == 40 and result.settings["end"] == 57
    only_start = kx.explain(torch_model, x, "ism", target=1, start=90)
    np.testing.assert_allclose(only_start.scores, naive_ism(_torch_call(torch_cnn), x, 1, 90),
                               rtol=1e-5, atol=1e-6)


def test_ism_ambiguous_position_mutated_to_all_bases(torch_model, torch_cnn):
    seq = "".join(np.random.default_rng(3).choice(list("ACGT"), LENGTH))
    seq = seq[:5] + "N" + seq[6:50] + "n" + seq[51:]
    for rule in ("zeros", "uniform"):
        x = one_hot([seq], ambiguous=rule)
        result = kx.explain(torch_model, seq, "ism", target=1, ambiguous=rule)
        np.testing.assert_array_equal(result.inputs, x)
        expected = naive_ism(_torch_call(torch_cnn), x, 1)
        np.testing.assert_allclose(result.scores, expected, rtol=1e-5, atol=1e-6)
        assert np.count_nonzero(result.scores[0, 5]) == 4
        assert np.count_nonzero(result.scores[0, 50]) == 4
        assert np.count_nonzero(result.scores[0, 6]) == 3


def test_ism_batch_size_independent(torch_model, x):
    big = kx.explain(torch_model, x, "ism", target=1, batch_size=1000)
    small = kx.explain(torch_model, x, "ism", target=1, batch_size=50)
    np.testing.assert_allclose(small.scores, big.scores, rtol=1e-6, atol=1e-7)
    assert small.settings["batch_size"] == 50


@pytest.mark.parametrize("start, end", [(-1, 10), (10, 10), (20, 5), (0, LENGTH + 1),
                                        (LENGTH, None)])
def test_ism_bad_window(torch_model, x, start, end):
    with pytest.raises(kx.InputError, match="ism window"):
        kx.explain(torch_model, x, "ism", start=start, end=end)


def test_ism_position_importance(torch_model, x):
    result = kx.explain(torch_model, x, "ism", target=1)
    np.testing.assert_allclose(result.position_importance(), -result.scores.sum(-1) / 3,
                               rtol=1e-6)
    assert result.position_importance().shape == (3, LENGTH)


def test_keras_ism_equals_naive(keras_cnn, x):
    model = kx.load_model(keras_cnn)
    expected = naive_ism(_keras_call(keras_cnn), x[:2], 1)
    result = kx.explain(model, x[:2], "ism", target=1, batch_size=256)
    np.testing.assert_allclose(result.scores, expected, rtol=1e-5, atol=1e-6)
    window = kx.explain(model, x[:2], "ism", target=0, start=3, end=9)
    np.testing.assert_allclose(window.scores, naive_ism(_keras_call(keras_cnn), x[:2], 0, 3, 9),
                               rtol=1e-5, atol=1e-6)
    assert not window.scores[:, 9:].any() and (window.scores[x[:2] == 1] == 0).all()
