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
    ([layers.Conv1D(3, 3, activation=lambda t: t * t), layers.Flatten()],
     r"activation '<lambda>' in layer 'conv1d.*' \(Conv1D\)"),
    ([layers.GroupNormalization(2), layers.Flatten()], r"\(GroupNormalization\)"),
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
    # Softmax, LayerNormalization and attention have rules now; the blockers around them
    # are still all named.
    inputs = keras.Input((20, 4))
    h = layers.Conv1D(8, 3, activation="softmax")(inputs)
    h = layers.LayerNormalization()(layers.GroupNormalization(2)(h))
    h = layers.MultiHeadAttention(2, 4)(h, layers.Lambda(lambda t: t * t)(h))
    outputs = layers.Dense(1)(layers.Flatten()(layers.LSTM(3, return_sequences=True)(h)))
    model = keras.Model(inputs, outputs)
    x = onehot(2, seed=9, length=20, dtype=np.float32)
    with pytest.raises(UnsupportedOperation) as info:
        keras_deeplift.deeplift_multipliers(model, x, np.zeros_like(x), lambda out: out[:, 0])
    message = str(info.value)
    for expected in ("(GroupNormalization)", "(Lambda)", "(LSTM)"):
        assert expected in message, message
    for covered in ("softmax", "LayerNormalization", "MultiHeadAttention"):
        assert covered not in message, message


# --- Rules for modern blocks: products, softmax, layer normalisation, attention ------------


def transformer_model(length=40, dtype="float32"):
    """Conv stem, gated multi-head self-attention, LayerNormalization, softmax attention
    pooling, GELU head and a softmax output."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((length, 4), dtype=dtype)
    h = layers.Conv1D(16, 5, padding="same", activation="relu")(inputs)
    h = layers.MaxPooling1D(2)(h)
    h = layers.LayerNormalization()(h + layers.MultiHeadAttention(2, 8)(h, h))
    attended = layers.MultiHeadAttention(2, 4, value_dim=6, use_gate=True)(
        h, h, use_causal_mask=True)
    h = layers.LayerNormalization(axis=[1, 2], center=False)(h + attended)
    weights = layers.Softmax(axis=1)(layers.Dense(1)(h))
    pooled = keras.ops.sum(layers.Multiply()([weights, h]), axis=1)
    head = layers.Dense(8, activation="gelu")(pooled)
    return keras.Model(inputs, layers.Dense(3, activation="softmax")(head))


def assert_complete(model, x, ref, target, rtol):
    """Summation-to-delta, and the outputs the model itself gives; the multipliers."""
    mult, f_x, f_ref = keras_deeplift.deeplift_multipliers(
        model, x, ref, lambda out: out[:, target])
    delta = f_x - f_ref
    error = np.abs((mult * (x - ref)).sum(tuple(range(1, x.ndim))) - delta)
    assert error.max() <= rtol * max(1.0, np.abs(delta).max()), (error.max(), delta)
    np.testing.assert_allclose(f_x, np.asarray(model(x, training=False))[:, target],
                               rtol=10 * rtol, atol=10 * rtol)
    return mult


@pytest.mark.slow
@pytest.mark.parametrize("dtype, rtol", [("float32", 1e-4), ("float64", 1e-10)])
def test_transformer_completeness(request, dtype, rtol):
    if dtype == "float64":
        request.getfixturevalue("float64")
    model = transformer_model(dtype=dtype)
    x = onehot(4, seed=10, length=40, dtype=dtype)
    ref = onehot(4, seed=11, length=40, dtype=dtype)
    for target in range(3):
        assert_complete(model, x, ref, target, rtol)


def test_transformer_reference_equal_to_input_gives_the_gradient(float64):
    model = transformer_model(dtype="float64")
    x = onehot(3, seed=12, length=40)
    mult, _, _ = keras_deeplift.deeplift_multipliers(model, x, x.copy(), lambda out: out[:, 2])
    np.testing.assert_allclose(mult, gradient(model, x, 2), rtol=1e-7, atol=1e-12)


def gradient(model, x, target):
    inputs = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        value = model(inputs, training=False)[:, target]
    return tape.gradient(value, inputs).numpy()


def _masked_softmax(h):
    # Keras applies a constant mask as a `where`: linear.
    mask = np.array([1, 0, 1, 1, 1, 1, 0, 1], bool)
    return layers.Softmax(axis=[1, 2])(h, mask=mask)


def _attention_with_mask(h):
    mask = np.tril(np.ones((1, 6, 6), bool))
    return layers.MultiHeadAttention(2, 3, attention_axes=1)(h, h, attention_mask=mask)


def _dense_pair(h, op):
    return op(layers.Dense(5)(h), layers.Dense(5, activation="tanh")(h))


BLOCKS = {
    "multiply": lambda h: _dense_pair(h, lambda a, b: layers.Multiply()([a, b, a])),
    "ops_multiply_divide": lambda h: _dense_pair(
        h, lambda a, b: keras.ops.divide(a * b, 1.5 + b)),
    "dot": lambda h: _dense_pair(h, lambda a, b: layers.Dot(axes=2)([a, b])),
    "dot_normalized": lambda h: _dense_pair(
        h, lambda a, b: layers.Dot(axes=(1, 1), normalize=True)([a, b])),
    "matmul": lambda h: _dense_pair(
        h, lambda a, b: keras.ops.matmul(a, keras.ops.transpose(b, (0, 2, 1)))),
    "einsum": lambda h: _dense_pair(h, lambda a, b: keras.ops.einsum("btd,bsd->bts", a, b)),
    "softmax_activation": lambda h: layers.Activation("softmax")(layers.Dense(5)(h)),
    "dense_log_softmax": lambda h: layers.Dense(5, activation="log_softmax")(h),
    "ops_softmax": lambda h: keras.ops.softmax(h, axis=1),
    "ops_log_softmax": lambda h: keras.ops.log_softmax(h, axis=-1),
    "ops_logsumexp": lambda h: keras.ops.logsumexp(layers.Dense(5)(h), axis=2),
    "masked_softmax": _masked_softmax,
    "layer_norm_affine": lambda h: layers.LayerNormalization(
        beta_initializer="normal", gamma_initializer="normal")(h),
    "layer_norm_axes": lambda h: layers.LayerNormalization(axis=(1, 2), scale=False)(h),
    "attention_cross": lambda h: layers.MultiHeadAttention(3, 2, output_shape=4)(
        h, layers.Dense(5)(h), layers.Dense(7)(h)),
    "attention_masked_scores": lambda h: layers.MultiHeadAttention(2, 4)(
        h, h, return_attention_scores=True)[1],
    "attention_mask": _attention_with_mask,
    "gelu_activation": lambda h: layers.Activation("gelu")(h),
    "gelu_dense": lambda h: layers.Dense(5, activation="gelu")(h),
    "ops_gelu": lambda h: keras.ops.gelu(h, approximate=True) - keras.ops.gelu(h, False),
}


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:.*was passed an input with a mask:UserWarning")
@pytest.mark.parametrize("name", list(BLOCKS))
def test_block_completeness(float64, name):
    keras.utils.set_random_seed(1)
    inputs = keras.Input((6, 8), dtype="float64")
    model = keras.Model(inputs, layers.Flatten()(BLOCKS[name](inputs)))
    rng = np.random.default_rng(13)
    x, ref = rng.normal(size=(3, 6, 8)), rng.normal(size=(3, 6, 8))
    for target in (0, 5):
        assert_complete(model, x, ref, target, 1e-10)


def test_product_with_a_constant_gives_the_gradient(float64):
    # A constant factor leaves the network linear: the multipliers are its gradient.
    keras.utils.set_random_seed(2)
    inputs = keras.Input((6, 8), dtype="float64")
    h = layers.Dense(5)(inputs) * np.linspace(-1, 1, 5)
    model = keras.Model(inputs, layers.Dense(2)(layers.Flatten()(h)))
    rng = np.random.default_rng(14)
    x, ref = rng.normal(size=(3, 6, 8)), rng.normal(size=(3, 6, 8))
    mult = assert_complete(model, x, ref, 1, 1e-10)
    np.testing.assert_allclose(mult, gradient(model, x, 1), rtol=1e-10)


def test_square_takes_the_shapley_multiplier(float64):
    # For y = sum(x * x), both players get half of d/dx at the midpoint: 2 (x + ref) / 2.
    inputs = keras.Input((6, 8), dtype="float64")
    h = layers.Multiply()([inputs, inputs])
    model = keras.Model(inputs, keras.ops.sum(h, axis=(1, 2), keepdims=True)[:, :, 0])
    rng = np.random.default_rng(15)
    x, ref = rng.normal(size=(3, 6, 8)), rng.normal(size=(3, 6, 8))
    mult = assert_complete(model, x, ref, 0, 1e-10)
    np.testing.assert_allclose(mult, x + ref, rtol=1e-12)


@pytest.mark.parametrize("block", [
    lambda h: layers.Activation("gelu")(h),
    lambda h: keras.ops.gelu(h, approximate=True),
    lambda h: keras.ops.gelu(h, approximate=False),
])
def test_gelu_takes_the_rescale_rule(float64, block):
    inputs = keras.Input((6, 8), dtype="float64")
    model = keras.Model(inputs, keras.ops.sum(block(inputs), axis=(1, 2), keepdims=True)[:, 0])
    rng = np.random.default_rng(16)
    x, ref = rng.normal(size=(3, 6, 8)), rng.normal(size=(3, 6, 8))
    mult = assert_complete(model, x, ref, 0, 1e-10)
    gelu = keras.Model(inputs, block(inputs))
    expected = (np.asarray(gelu(x)) - np.asarray(gelu(ref))) / (x - ref)
    np.testing.assert_allclose(mult, expected, rtol=1e-10)


@pytest.mark.filterwarnings("ignore:.*was passed an input with a mask:UserWarning")
def test_mask_that_depends_on_the_input_is_named():
    inputs = keras.Input((6, 8))
    h = layers.Dense(8)(inputs)
    weights = layers.Softmax()(h, mask=keras.ops.greater(h, 0))
    model = keras.Model(inputs, layers.Dense(1)(layers.Flatten()(weights)))
    x = np.random.default_rng(17).normal(size=(2, 6, 8)).astype(np.float32)
    with pytest.raises(UnsupportedOperation) as info:
        keras_deeplift.deeplift_multipliers(model, x, np.zeros_like(x), lambda out: out[:, 0])
    message = str(info.value)
    for expected in ("(Greater)", "a mask that differs between input and reference in layer"):
        assert expected in message, message


def test_explain_runs_deeplift_through_attention():
    kx = pytest.importorskip("kipoi_explain")
    model = transformer_model()
    x = onehot(2, seed=18, length=40, dtype=np.float32)
    scores = np.asarray(kx.explain(model, x, method="deeplift").scores)
    assert scores.shape[0] == 2 and np.isfinite(scores).all() and np.abs(scores).max() > 0
