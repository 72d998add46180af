"""Saliency, gradient x input and SmoothGrad against Captum and tf.GradientTape."""
import numpy as np
import pytest

import kipoi_explain as kx

from conftest import LENGTH, random_onehot

RTOL, ATOL = 1e-4, 1e-7


@pytest.fixture(scope="module")
def x():
    return random_onehot(5, seed=11)


def _captum(method_cls, module, x, target, **kwargs):
    import torch

    inputs = torch.tensor(x.transpose(0, 2, 1).copy(), requires_grad=True)
    attr = method_cls(module).attribute(inputs, target=target, **kwargs)
    return attr.detach().numpy().transpose(0, 2, 1)


@pytest.mark.parametrize("target", [1, "pos"])
def test_saliency_equals_captum_signed(model, torch_cnn, x, target):
    from captum.attr import Saliency

    expected = _captum(Saliency, torch_cnn, x, 1, abs=False)
    result = kx.explain(model, x, "saliency", target=target)
    assert result.scores.shape == (5, LENGTH, 4)
    assert (expected < 0).any()                            # signed gradients really differ
    np.testing.assert_allclose(result.scores, expected, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(result.hypothetical, expected, rtol=RTOL, atol=ATOL)


def test_saliency_target_zero_differs_from_target_one(model, torch_cnn, x):
    from captum.attr import Saliency

    expected = _captum(Saliency, torch_cnn, x, 0, abs=False)
    np.testing.assert_allclose(kx.explain(model, x, "saliency", target=0).scores, expected,
                               rtol=RTOL, atol=ATOL)
    assert not np.allclose(kx.explain(model, x, "saliency", target=1).scores, expected)


def test_saliency_absolute_equals_captum_default(model, torch_cnn, x):
    from captum.attr import Saliency

    expected = _captum(Saliency, torch_cnn, x, 1)         # Captum's default abs=True
    result = kx.explain(model, x, "saliency", target=1, absolute=True)
    np.testing.assert_allclose(result.scores, expected, rtol=RTOL, atol=ATOL)
    assert (result.scores >= 0).all()
    assert (result.hypothetical < 0).any()                 # hypothetical stays signed


@pytest.mark.parametrize("target", [1, "pos"])
def test_grad_x_input_equals_captum(model, torch_cnn, x, target):
    from captum.attr import InputXGradient

    expected = _captum(InputXGradient, torch_cnn, x, 1)
    result = kx.explain(model, x, "grad_x_input", target=target)
    np.testing.assert_allclose(result.scores, expected, rtol=RTOL, atol=ATOL)
    # only the present base scores; hypothetical contributions are the gradient (zero reference)
    assert (result.scores[x == 0] == 0).all()
    np.testing.assert_allclose(result.hypothetical, kx.input_gradient(model, x, 1), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("method", ["saliency", "grad_x_input", "smoothgrad"])
def test_correct_gradients(model, x, method):
    options = {"noise": 0.0, "n_samples": 2} if method == "smoothgrad" else {}
    grad = kx.input_gradient(model, x, 1)
    corrected = kx.explain(model, x, method, target=1, correct_gradients=True, **options)
    plain = kx.explain(model, x, method, target=1, **options)
    expected_grad = grad - grad.mean(-1, keepdims=True)
    # hypothetical = the (corrected) gradient for all three methods, since the reference is 0
    np.testing.assert_allclose(corrected.hypothetical, expected_grad, rtol=RTOL, atol=1e-6)
    np.testing.assert_allclose(corrected.hypothetical.sum(-1), 0, atol=1e-6)
    assert np.abs(plain.hypothetical.sum(-1)).max() > 1e-3    # the correction does something
    if method == "saliency":
        np.testing.assert_allclose(corrected.scores, expected_grad, rtol=RTOL, atol=1e-6)
        np.testing.assert_allclose(corrected.scores.sum(-1), 0, atol=1e-6)
    if method == "grad_x_input":
        np.testing.assert_allclose(corrected.scores, expected_grad * x, rtol=RTOL, atol=1e-6)


def test_smoothgrad_zero_noise_equals_saliency(model, x):
    smooth = kx.explain(model, x, "smoothgrad", target=1, noise=0.0, n_samples=5)
    np.testing.assert_allclose(smooth.scores, kx.input_gradient(model, x, 1), rtol=1e-5, atol=1e-8)


def test_smoothgrad_equals_manual_average(model, x):
    """Row r (sequence r // n_samples) draws its noise from seed (seed, r)."""
    n_samples, noise, seed = 3, 0.2, 7
    expected = np.zeros(x.shape)
    for i in range(len(x)):
        for s in range(n_samples):
            r = i * n_samples + s
            eps = np.random.default_rng((seed, r)).standard_normal((LENGTH, 4)).astype(np.float32)
            expected[i] += kx.input_gradient(model, x[i:i + 1] + noise * eps, 1)[0] / n_samples
    got = kx.explain(model, x, "smoothgrad", target=1, n_samples=n_samples, noise=noise,
                     seed=seed)
    np.testing.assert_allclose(got.scores, expected, rtol=1e-4, atol=1e-7)
    assert not np.allclose(got.scores, kx.input_gradient(model, x, 1), rtol=1e-2)


def test_smoothgrad_seed_and_batch_size(model, x):
    kwargs = dict(method="smoothgrad", target=1, n_samples=4, noise=0.3)
    first = kx.explain(model, x, seed=1, batch_size=64, **kwargs).scores
    again = kx.explain(model, x, seed=1, batch_size=64, **kwargs).scores
    small = kx.explain(model, x, seed=1, batch_size=3, **kwargs).scores
    other = kx.explain(model, x, seed=2, batch_size=64, **kwargs).scores
    np.testing.assert_array_equal(first, again)
    np.testing.assert_allclose(small, first, rtol=1e-6, atol=1e-9)
    assert np.abs(other - first).max() > 1e-4


def test_smoothgrad_records_settings(model, x):
    result = kx.explain(model, x[:1], "smoothgrad", n_samples=2)
    assert result.settings["n_samples"] == 2 and result.settings["noise"] == 0.1
    assert result.settings["seed"] == 0


# ---- Keras ------------------------------------------------------------------------------

@pytest.mark.parametrize("target", [0, 1])
def test_keras_saliency_equals_gradient_tape(keras_cnn, x, target):
    import tensorflow as tf

    inputs = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        out = keras_cnn(inputs, training=False)[:, target]
    expected = tape.gradient(out, inputs).numpy()
    model = kx.load_model(keras_cnn)
    result = kx.explain(model, x, "saliency", target=target, batch_size=2)
    np.testing.assert_allclose(result.scores, expected, rtol=RTOL, atol=ATOL)
    gxi = kx.explain(model, x, "grad_x_input", target=target)
    np.testing.assert_allclose(gxi.scores, expected * x, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("framework", ["pytorch", "keras"])
@pytest.mark.parametrize("method", ["saliency", "grad_x_input"])
def test_gradient_methods_take_predictions_from_their_own_pass(framework, method, x):
    """One forward pass per block: the predictions come from the pass the gradient needs, and
    equal a separate prediction."""
    from conftest import make_keras_cnn, make_torch_cnn

    network = make_torch_cnn() if framework == "pytorch" else make_keras_cnn()
    model = kx.load_model(network, input_length=LENGTH) if framework == "pytorch" \
        else kx.load_model(network)
    expected = model.predict(x)
    calls = []
    predictor = model.predictor
    original = predictor.forward
    predictor.forward = lambda *args, **kwargs: calls.append(1) or original(*args, **kwargs)
    try:
        result = kx.explain(model, x, method, target=0)
    finally:
        predictor.forward = original
    assert calls == [], "no separate forward pass for the predictions"
    np.testing.assert_allclose(result.predictions, expected, rtol=1e-6, atol=1e-7)
