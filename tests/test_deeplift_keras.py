"""DeepLIFT multipliers for Keras 3 models, checked against the PyTorch implementation."""
import numpy as np
import pytest
import torch
from torch import nn

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")
layers = keras.layers

from kipoi_explain.backends.keras import deeplift as keras_deeplift  # noqa: E402
from kipoi_explain.backends.torch import deeplift as torch_deeplift  # noqa: E402
from kipoi_explain.errors import UnsupportedOperation  # noqa: E402

LENGTH = 200


def onehot(n, seed, length=LENGTH, dtype=np.float64):
    """``(n, length, 4)`` one-hot sequences, bases last (Keras layout)."""
    idx = np.random.default_rng(seed).integers(0, 4, size=(n, length))
    return np.eye(4, dtype=dtype)[idx]


@pytest.fixture
def float64():
    """Models built inside the test compute in float64."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float64")
    yield
    keras.config.set_dtype_policy(previous)


def twin_models(act_torch, act_keras):
    """The same network in PyTorch (channels first) and Keras (channels last)."""
    torch.manual_seed(0)
    torch_model = nn.Sequential(
        nn.Conv1d(4, 8, 11), act_torch(), nn.MaxPool1d(5),
        nn.Conv1d(8, 6, 3), act_torch(), nn.MaxPool1d(4), nn.Flatten(),
        nn.Linear(6 * 9, 5), act_torch(), nn.Linear(5, 2), nn.Sigmoid(),
    ).double().eval()
    keras_model = keras.Sequential([
        keras.Input((LENGTH, 4)),
        layers.Conv1D(8, 11, activation=act_keras), layers.MaxPooling1D(5),
        layers.Conv1D(6, 3), layers.Activation(act_keras), layers.MaxPooling1D(4),
        layers.Flatten(), layers.Dense(5, activation=act_keras),
        layers.Dense(2), layers.Activation("sigmoid"),
    ])
    conv1, conv2, dense1, dense2 = (keras_model.layers[i] for i in (0, 2, 6, 7))

    def numpy(t):
        return t.detach().numpy()

    # Conv kernels: torch (out, in, k) -> Keras (k, in, out).
    for conv, twin in ((conv1, torch_model[0]), (conv2, torch_model[3])):
        conv.set_weights([numpy(twin.weight).transpose(2, 1, 0), numpy(twin.bias)])
    # torch flattens (channels, positions), Keras (positions, channels).
    weight = numpy(torch_model[7].weight).reshape(5, 6, 9).transpose(2, 1, 0).reshape(54, 5)
    dense1.set_weights([weight, numpy(torch_model[7].bias)])
    dense2.set_weights([numpy(torch_model[9].weight).T, numpy(torch_model[9].bias)])
    return torch_model, keras_model


@pytest.mark.parametrize("act_torch, act_keras",
                         [(nn.ReLU, "relu"), (nn.ELU, "elu"), (nn.Tanh, "tanh")])
@pytest.mark.parametrize("target", [0, 1])
def test_matches_torch(float64, act_torch, act_keras, target):
    torch_model, keras_model = twin_models(act_torch, act_keras)
    x, ref = onehot(8, seed=1), onehot(8, seed=2)
    ours, f_x, f_ref = keras_deeplift.deeplift_multipliers(
        keras_model, x, ref, lambda out: out[:, target])
    expected, t_x, t_ref = torch_deeplift.deeplift_multipliers(
        torch_model, torch.tensor(x.transpose(0, 2, 1)), torch.tensor(ref.transpose(0, 2, 1)),
        lambda out: out[:, target])
    expected = expected.numpy().transpose(0, 2, 1)
    assert np.abs(ours - expected).max() / np.abs(expected).max() < 1e-4
    np.testing.assert_allclose(f_x, t_x.numpy(), rtol=1e-10)
    np.testing.assert_allclose(f_ref, t_ref.numpy(), rtol=1e-10)


def mixed_model(length=100):
    """Fused-activation Conv1D, BatchNorm, residual `+`, Activation, Dropout,
    MaxPooling1D, a nested Sequential, global pools, Flatten and Dense."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((length, 4))
    h = layers.Conv1D(8, 7, padding="same", activation="relu")(inputs)
    h = layers.BatchNormalization()(h)
    h = h + layers.Activation("gelu")(layers.Conv1D(8, 3, padding="same")(h))
    h = layers.Dropout(0.3)(h)
    h = layers.MaxPooling1D(4, strides=2)(h)
    h = keras.Sequential([layers.Conv1D(4, 3), layers.ELU(), layers.LeakyReLU(0.1)])(h)
    pooled = layers.Concatenate()([layers.GlobalMaxPooling1D()(h),
                                   layers.GlobalAveragePooling1D()(h)])
    flat = layers.Dense(3, activation="tanh")(layers.Flatten()(h))
    model = keras.Model(inputs, layers.Dense(2)(layers.Concatenate()([pooled, flat])))
    batchnorm = model.layers[2]
    rng = np.random.default_rng(0)
    batchnorm.set_weights([rng.uniform(0.5, 1.5, 8), rng.normal(size=8), rng.normal(size=8),
                           rng.uniform(0.5, 2.0, 8)])
    return model


def test_completeness_float32():
    model = mixed_model()
    x = onehot(6, seed=3, length=100, dtype=np.float32)
    ref = onehot(6, seed=4, length=100, dtype=np.float32)
    mult, f_x, f_ref = keras_deeplift.deeplift_multipliers(model, x, ref, lambda out: out[:, 1])
    assert mult.shape == x.shape
    delta = f_x - f_ref
    assert np.abs((mult * (x - ref)).sum((1, 2)) - delta).max() <= 1e-3 * np.abs(delta).max()
    expected = np.asarray(model(x, training=False))[:, 1]
    np.testing.assert_allclose(f_x, expected, rtol=1e-5, atol=1e-6)


def test_reference_equal_to_input_gives_the_gradient(float64):
    model = mixed_model()
    x = onehot(6, seed=5, length=100)
    mult, _, _ = keras_deeplift.deeplift_multipliers(model, x, x.copy(), lambda out: out[:, 0])
    inputs = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        value = model(inputs, training=False)[:, 0]
    gradient = tape.gradient(value, inputs).numpy()
    np.testing.assert_allclose(mult, gradient, rtol=1e-7, atol=1e-12)


def test_fused_activation_is_restored():
    model = mixed_model()
    conv = model.layers[1]
    x = onehot(2, seed=6, length=100, dtype=np.float32)
    keras_deeplift.deeplift_multipliers(model, x, np.zeros_like(x), lambda out: out[:, 0])
    assert conv.activation is keras.activations.relu


@pytest.mark.parametrize("body, message", [
    ([layers.LSTM(3)], r"layer 'lstm' \(LSTM\)"),
    ([layers.Conv1D(3, 3), layers.Lambda(lambda t: t * t), layers.Flatten()],
     r"layer 'lambda' \(Lambda\)"),
    ([layers.Conv1D(3, 3, activation="softmax"), layers.Flatten()],
     "activation 'softmax'.*pre-softmax logits"),
    ([layers.LayerNormalization(), layers.Flatten()], r"\(LayerNormalization\)"),
])
def test_unsupported_layers_raise(body, message):
    model = keras.Sequential([keras.Input((20, 4)), *body, layers.Dense(1)])
    x = onehot(2, seed=7, length=20, dtype=np.float32)
    with pytest.raises(UnsupportedOperation, match=message):
        keras_deeplift.deeplift_multipliers(model, x, np.zeros_like(x), lambda out: out[:, 0])


def test_subclassed_model_raises():
    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__()
            self.flatten = layers.Flatten()
            self.dense = layers.Dense(1)

        def call(self, inputs):
            return self.dense(self.flatten(inputs))

    model = Subclassed()
    x = onehot(2, seed=8, length=20, dtype=np.float32)
    model(x)
    with pytest.raises(UnsupportedOperation, match="subclassed model"):
        keras_deeplift.deeplift_multipliers(model, x, np.zeros_like(x), lambda out: out[:, 0])


def test_every_blocking_layer_is_named_in_one_error():
    model = keras.Sequential([keras.Input((20, 4)), layers.Conv1D(3, 3, activation="softmax"),
                              layers.LayerNormalization(), layers.Lambda(lambda t: t * t),
                              layers.Flatten(), layers.Dense(1)])
    x = onehot(2, seed=9, length=20, dtype=np.float32)
    with pytest.raises(UnsupportedOperation) as info:
        keras_deeplift.deeplift_multipliers(model, x, np.zeros_like(x), lambda out: out[:, 0])
    message = str(info.value)
    for expected in ("activation 'softmax' in layer", "(LayerNormalization)", "(Lambda)",
                     "pre-softmax logits"):
        assert expected in message, message
