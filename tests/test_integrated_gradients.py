"""Integrated gradients and expected gradients against Captum and hand-written references."""
import numpy as np
import pytest

import kipoi_explain as kx
from kipoi_explain.methods.integrated_gradients import quadrature
from kipoi_explain.methods.references import references
from kipoi_explain.sequences.shuffles import dinucleotide_shuffles

from conftest import LENGTH, random_onehot

RTOL, ATOL = 1e-4, 1e-6


@pytest.fixture(scope="module")
def x():
    return random_onehot(4, seed=21)


def _t(a):
    import torch

    return torch.tensor(np.ascontiguousarray(a.transpose(0, 2, 1)))


def _captum_ig(module, x, baseline, target, n_steps, method):
    from captum.attr import IntegratedGradients

    inputs = _t(x).requires_grad_()
    attr = IntegratedGradients(module).attribute(inputs, baselines=_t(baseline), target=target,
                                                 n_steps=n_steps, method=method)
    return attr.detach().numpy().transpose(0, 2, 1)


def _f(module, a, target):
    return module(_t(a)).detach().numpy()[:, target]


@pytest.mark.parametrize("rule", ["gausslegendre", "riemann_trapezoid"])
@pytest.mark.parametrize("baseline, value", [("zeros", 0.0), ("uniform", 0.25)])
def test_ig_equals_captum(model, torch_cnn, x, rule, baseline, value):
    ref = np.full_like(x, value)
    expected = _captum_ig(torch_cnn, x, ref, 1, 32, rule)
    if rule == "riemann_trapezoid":
        # Captum's trapezoid weights are 1/n with halved ends (they sum to (n-1)/n); the
        # library uses the true trapezoid rule, 1/(n-1) with halved ends, i.e. n/(n-1) times
        # Captum's. See test_quadrature_rules_match_captum.
        expected = expected * 32 / 31
    result = kx.explain(model, x, "integrated_gradients", target="pos", baseline=baseline,
                        n_steps=32, quadrature_rule=rule)
    np.testing.assert_allclose(result.scores, expected, rtol=RTOL, atol=ATOL)
    # completeness gap computed directly from the module
    gap = result.scores.sum(axis=(1, 2)) - (_f(torch_cnn, x, 1) - _f(torch_cnn, ref, 1))
    np.testing.assert_allclose(result.delta, gap, rtol=1e-3, atol=1e-5)
    assert result.delta.shape == (len(x),)


def test_ig_batch_size_and_other_target(model, torch_cnn, x):
    expected = _captum_ig(torch_cnn, x, np.zeros_like(x), 0, 16, "gausslegendre")
    for batch_size in (5, 1000):                      # 5 rows -> one pair per block
        result = kx.explain(model, x, "integrated_gradients", target=0, n_steps=16,
                            batch_size=batch_size)
        np.testing.assert_allclose(result.scores, expected, rtol=RTOL, atol=ATOL)


def test_ig_array_baseline_and_hypothetical(model, torch_cnn, x):
    ref = np.full((LENGTH, 4), 0.25, dtype=np.float32)
    ref[:10] = [0.3, 0.2, 0.2, 0.3]
    expected = _captum_ig(torch_cnn, x, np.broadcast_to(ref, x.shape), 1, 20, "gausslegendre")
    result = kx.explain(model, x, "integrated_gradients", target=1, baseline=ref, n_steps=20)
    np.testing.assert_allclose(result.scores, expected, rtol=RTOL, atol=ATOL)
    # for one-hot input, the present base's hypothetical contribution is the position's total
    np.testing.assert_allclose((result.hypothetical * x).sum(-1), result.scores.sum(-1),
                               rtol=1e-4, atol=1e-6)


def test_ig_converges_to_completeness(model, x):
    coarse = kx.explain(model, x, "integrated_gradients", target=1, n_steps=2,
                        quadrature_rule="riemann_left")
    fine = kx.explain(model, x, "integrated_gradients", target=1, n_steps=64)
    assert np.abs(fine.delta).max() < 1e-3
    assert np.abs(fine.delta).max() < np.abs(coarse.delta).max()


def test_quadrature_rules_match_captum():
    from captum.attr._utils.approximation_methods import approximation_parameters

    for rule in ("gausslegendre", "riemann_trapezoid", "riemann_left", "riemann_right",
                 "riemann_middle"):
        step_sizes, alphas = approximation_parameters(rule)
        nodes, weights = quadrature(rule, 9)
        np.testing.assert_allclose(nodes, alphas(9), rtol=1e-7, atol=1e-7)
        if rule == "riemann_trapezoid":
            # true trapezoid weights (sum 1), where Captum's sum to (n-1)/n
            np.testing.assert_allclose(weights, np.array(step_sizes(9)) * 9 / 8, rtol=1e-12)
        else:
            np.testing.assert_allclose(weights, step_sizes(9), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(weights.sum(), 1.0, rtol=1e-12)


@pytest.mark.parametrize("options, match", [
    ({"n_steps": 0}, "n_steps=0"),
    ({"quadrature_rule": "simpson"}, "simpson"),
    ({"quadrature_rule": "riemann_trapezoid", "n_steps": 1}, "n_steps >= 2"),
    ({"baseline": "random"}, "baseline 'random'"),
    ({"baseline": np.zeros((LENGTH + 1, 4))}, "baseline array of shape"),
    ({"baseline": "shuffle", "n_references": 0}, "n_references=0"),
])
def test_ig_bad_options(model, x, options, match):
    with pytest.raises(kx.InputError, match=match):
        kx.explain(model, x, "integrated_gradients", **options)


# ---- shuffled references ----------------------------------------------------------------

def _dinucleotide_counts(onehot):
    idx = onehot.argmax(-1)
    counts = np.zeros((4, 4), dtype=int)
    np.add.at(counts, (idx[:-1], idx[1:]), 1)
    return counts


def test_dinucleotide_shuffles_keep_counts(x):
    refs = dinucleotide_shuffles(x, 3, seed=5)
    assert refs.shape == (len(x), 3, LENGTH, 4) and refs.dtype == np.float32
    for i in range(len(x)):
        for k in range(3):
            np.testing.assert_array_equal(refs[i, k].sum(-1), 1)
            np.testing.assert_array_equal(_dinucleotide_counts(refs[i, k]),
                                          _dinucleotide_counts(x[i]))
            assert not np.array_equal(refs[i, k], x[i])
    np.testing.assert_array_equal(dinucleotide_shuffles(x, 3, seed=5), refs)
    assert not np.array_equal(dinucleotide_shuffles(x, 3, seed=6), refs)
    # sequence i's shuffles do not depend on the other sequences
    np.testing.assert_array_equal(dinucleotide_shuffles(x[:2], 3, seed=5), refs[:2])


def test_ig_shuffle_baseline_is_average_over_shuffles(model, torch_cnn, x):
    refs = references(x, "shuffle", 3, seed=4)
    np.testing.assert_array_equal(refs, dinucleotide_shuffles(x, 3, seed=4))
    expected = np.mean([_captum_ig(torch_cnn, x, refs[:, k], 1, 16, "gausslegendre")
                        for k in range(3)], axis=0)
    kwargs = dict(method="integrated_gradients", target=1, baseline="shuffle", n_references=3,
                  n_steps=16)
    result = kx.explain(model, x, seed=4, **kwargs)
    np.testing.assert_allclose(result.scores, expected, rtol=RTOL, atol=ATOL)
    f_ref = np.mean([_f(torch_cnn, refs[:, k], 1) for k in range(3)], axis=0)
    gap = result.scores.sum(axis=(1, 2)) - (_f(torch_cnn, x, 1) - f_ref)
    np.testing.assert_allclose(result.delta, gap, rtol=1e-3, atol=1e-5)

    np.testing.assert_array_equal(kx.explain(model, x, seed=4, **kwargs).scores, result.scores)
    np.testing.assert_allclose(kx.explain(model, x, seed=4, batch_size=7, **kwargs).scores,
                               result.scores, rtol=1e-5, atol=1e-7)
    assert not np.allclose(kx.explain(model, x, seed=5, **kwargs).scores, result.scores)


# ---- Keras ------------------------------------------------------------------------------

def test_keras_ig_equals_gradient_tape(keras_cnn, x):
    import tensorflow as tf

    n_steps = 24
    nodes, weights = np.polynomial.legendre.leggauss(n_steps)
    alphas, weights = 0.5 * (nodes + 1), 0.5 * weights
    ref = np.full_like(x, 0.25)
    total = np.zeros(x.shape)
    for alpha, weight in zip(alphas, weights):
        point = tf.constant(ref + np.float32(alpha) * (x - ref))
        with tf.GradientTape() as tape:
            tape.watch(point)
            value = tf.reduce_sum(keras_cnn(point, training=False)[:, 0])
        total += weight * tape.gradient(value, point).numpy()
    expected = total * (x - ref)
    result = kx.explain(kx.load_model(keras_cnn), x, "integrated_gradients", target=0,
                        baseline="uniform", n_steps=n_steps)
    np.testing.assert_allclose(result.scores, expected, rtol=RTOL, atol=ATOL)
    f = np.asarray(keras_cnn(x))[:, 0] - np.asarray(keras_cnn(ref))[:, 0]
    np.testing.assert_allclose(result.delta, expected.sum(axis=(1, 2)) - f, rtol=1e-3, atol=1e-5)


# ---- expected gradients -----------------------------------------------------------------

def test_expected_gradients_matches_reference_implementation(model, torch_cnn, x):
    """mean_k grad(ref_k + a_k (x - ref_k)) * (x - ref_k), one uniform a per (sequence, ref)."""
    import torch

    k, seed = 4, 3
    refs = dinucleotide_shuffles(x, k, seed)
    alphas = np.random.default_rng(seed).uniform(size=len(x) * k).astype(np.float32)
    expected = np.zeros(x.shape)
    for i in range(len(x)):
        for j in range(k):
            point = refs[i, j] + alphas[i * k + j] * (x[i] - refs[i, j])
            inputs = _t(point[None]).requires_grad_()
            (grad,) = torch.autograd.grad(torch_cnn(inputs)[:, 1].sum(), inputs)
            expected[i] += grad.numpy()[0].T * (x[i] - refs[i, j]) / k
    result = kx.explain(model, x, "expected_gradients", target=1, n_references=k, seed=seed)
    assert result.scores.shape == x.shape and result.delta.shape == (len(x),)
    np.testing.assert_allclose(result.scores, expected, rtol=RTOL, atol=ATOL)
    # a base absent from the input and from every reference scores exactly 0
    absent = (x == 0) & (refs.sum(1) == 0)
    assert absent.any() and (result.scores[absent] == 0).all()


def test_expected_gradients_seed_and_batch_size(model, x):
    kwargs = dict(method="expected_gradients", target=1, n_references=5)
    first = kx.explain(model, x, seed=0, batch_size=128, **kwargs)
    np.testing.assert_array_equal(kx.explain(model, x, seed=0, batch_size=128, **kwargs).scores,
                                  first.scores)
    small = kx.explain(model, x, seed=0, batch_size=3, **kwargs)
    np.testing.assert_allclose(small.scores, first.scores, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(small.delta, first.delta, rtol=1e-4, atol=1e-6)
    assert not np.allclose(kx.explain(model, x, seed=1, **kwargs).scores, first.scores)
    assert first.settings["n_references"] == 5 and first.settings["baseline"] == "shuffle"


@pytest.mark.parametrize("method, options", [
    ("expected_gradients", {"n_references": 3}),
    ("integrated_gradients", {"baseline": "shuffle", "n_references": 2, "n_steps": 8}),
])
def test_random_references_do_not_depend_on_other_sequences(model, x, method, options):
    """Sequence i's references and path points depend on i and the seed only."""
    everything = kx.explain(model, x, method, target=1, seed=9, **options)
    first_two = kx.explain(model, x[:2], method, target=1, seed=9, **options)
    np.testing.assert_allclose(first_two.scores, everything.scores[:2], rtol=1e-5, atol=1e-7)
