"""Adapters: layouts, predictions, gradients, layers and filters equal direct framework calls."""
import copy

import numpy as np
import pytest

import kipoi_explain as kx
from kipoi_explain.layouts import InputLayout

from conftest import LENGTH, make_keras_cnn, make_torch_cnn, random_onehot


# ---- InputLayout ------------------------------------------------------------------------

@pytest.mark.parametrize("layout, shape", [
    (InputLayout(), (3, 12, 4)),
    (InputLayout(alphabet_axis=0), (3, 4, 12)),
    (InputLayout(alphabet_axis=0, dummy_axis=1), (3, 4, 1, 12)),
    (InputLayout(alphabet_axis=0, dummy_axis=0), (3, 1, 4, 12)),
    (InputLayout(alphabet_axis=1, dummy_axis=2), (3, 12, 4, 1)),
    (InputLayout("TGCA", alphabet_axis=1), (3, 12, 4)),
    (InputLayout("gatc", alphabet_axis=0, dummy_axis=1), (3, 4, 1, 12)),
])
def test_layout_round_trip(layout, shape):
    x = np.random.default_rng(0).normal(size=(3, 12, 4)).astype(np.float32)
    model_x = layout.to_model(x)
    assert model_x.shape == shape and model_x.dtype == np.float32
    np.testing.assert_array_equal(layout.from_model(model_x), x)


def test_layout_to_model_places_bases():
    x = random_onehot(2, length=6)
    first = InputLayout(alphabet_axis=0).to_model(x)
    np.testing.assert_array_equal(first, x.transpose(0, 2, 1))
    permuted = InputLayout("TGCA").to_model(x)
    # the model's channel 0 holds T (ACGT index 3), channel 3 holds A
    np.testing.assert_array_equal(permuted, x[..., [3, 2, 1, 0]])
    mixed = InputLayout("CATG", alphabet_axis=0).to_model(x)
    np.testing.assert_array_equal(mixed, x[..., [1, 0, 3, 2]].transpose(0, 2, 1))


def test_layout_bases_to_acgt():
    layout = InputLayout("GTAC")
    model_order = np.array([[10.0, 20.0, 30.0, 40.0]])       # values of G, T, A, C
    np.testing.assert_array_equal(layout.bases_to_acgt(model_order), [[30.0, 40.0, 10.0, 20.0]])


@pytest.mark.parametrize("kwargs", [{"alphabet": "ACGU"}, {"alphabet": "ACG"},
                                    {"alphabet_axis": 2}, {"dummy_axis": 3}])
def test_bad_layout(kwargs):
    with pytest.raises(kx.InputError):
        InputLayout(**kwargs)


# ---- PyTorch ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def torch_model(torch_cnn):
    return kx.load_model(torch_cnn, input_length=LENGTH, output_names=["a", "b"])


def test_torch_metadata(torch_model):
    assert torch_model.framework == "pytorch"
    assert torch_model.input_length == LENGTH
    assert torch_model.output_shape == (2,) and torch_model.output_names == ("a", "b")
    assert torch_model.layout == InputLayout(alphabet_axis=0)
    default = kx.load_model(make_torch_cnn(), input_length=LENGTH)
    assert default.output_names == ("output_0", "output_1")


def test_torch_predict_equals_module(torch_model, torch_cnn):
    import torch

    x = random_onehot(7)
    expected = torch_cnn(torch.tensor(x.transpose(0, 2, 1).copy())).detach().numpy()
    np.testing.assert_allclose(torch_model.predict(x), expected, rtol=1e-6)
    np.testing.assert_allclose(torch_model.predict(x, batch_size=2), expected, rtol=1e-6)


@pytest.mark.parametrize("target, column", [(0, 0), (1, 1), ("b", 1)])
def test_torch_gradient_equals_autograd(torch_model, torch_cnn, target, column):
    import torch

    x = random_onehot(4, seed=3)
    inputs = torch.tensor(x.transpose(0, 2, 1).copy(), requires_grad=True)
    (expected,) = torch.autograd.grad(torch_cnn(inputs)[:, column].sum(), inputs)
    got = kx.input_gradient(torch_model, x, target, batch_size=3)
    assert got.shape == x.shape
    np.testing.assert_allclose(got, expected.numpy().transpose(0, 2, 1), rtol=1e-5, atol=1e-8)


def test_torch_gradient_with_permuted_alphabet(torch_cnn):
    """A model whose channels are T, G, C, A: gradients come back in A, C, G, T order."""
    import torch

    model = kx.load_model(torch_cnn, input_length=LENGTH,
                          layout=InputLayout("TGCA", alphabet_axis=0))
    x = random_onehot(3, seed=5)
    model_x = x[..., ::-1].transpose(0, 2, 1).copy()          # channels T, G, C, A
    inputs = torch.tensor(model_x, requires_grad=True)
    out = torch_cnn(inputs)
    (expected,) = torch.autograd.grad(out[:, 1].sum(), inputs)
    np.testing.assert_allclose(model.predict(x), out.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(kx.input_gradient(model, x, 1),
                               expected.numpy().transpose(0, 2, 1)[..., ::-1], rtol=1e-5,
                               atol=1e-8)


def test_torch_dummy_axis_model():
    """A Conv2d model taking (N, 4, 1, L)."""
    import torch

    torch.manual_seed(1)
    net = torch.nn.Sequential(torch.nn.Conv2d(4, 3, (1, 5)), torch.nn.ReLU(),
                              torch.nn.Flatten(), torch.nn.Linear(3 * 16, 2)).eval()
    model = kx.load_model(net, input_length=20,
                          layout=InputLayout(alphabet_axis=0, dummy_axis=1))
    x = random_onehot(3, length=20)
    inputs = torch.tensor(x.transpose(0, 2, 1)[:, :, None].copy(), requires_grad=True)
    out = net(inputs)
    (expected,) = torch.autograd.grad(out[:, 0].sum(), inputs)
    np.testing.assert_allclose(model.predict(x), out.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(kx.input_gradient(model, x, 0), expected.numpy()[:, :, 0].transpose(0, 2, 1),
                               rtol=1e-5, atol=1e-8)


def test_torch_layers_and_conv_activation(torch_model, torch_cnn):
    import torch

    assert torch_model.layers.layer_names() == ["0", "1", "2", "3", "4", "5"]
    x = random_onehot(3, seed=7)
    conv = torch_cnn[0]
    expected = torch.nn.functional.conv1d(torch.tensor(x.transpose(0, 2, 1).copy()),
                                          conv.weight, conv.bias, padding=3)
    got = kx.layers.activations(torch_model, x, "0")
    assert got.shape == (3, LENGTH, 6)                   # (N, positions, units)
    np.testing.assert_allclose(got, expected.detach().numpy().transpose(0, 2, 1), rtol=1e-5,
                               atol=1e-6)
    relu = kx.layers.activations(torch_model, x, "1", batch_size=2)
    np.testing.assert_allclose(relu, np.maximum(got, 0), rtol=1e-5, atol=1e-6)
    pooled = kx.layers.activations(torch_model, x, "2")
    assert pooled.shape == (3, LENGTH // 4, 6)
    np.testing.assert_allclose(pooled, np.maximum(got, 0).reshape(3, LENGTH // 4, 4, 6).max(2),
                               rtol=1e-5, atol=1e-6)
    dense = kx.layers.activations(torch_model, x, "4")               # 2-D output is returned as is
    assert dense.shape == (3, 2)


def test_unknown_layer(torch_model):
    with pytest.raises(kx.InputError) as err:
        kx.layers.activations(torch_model, random_onehot(1), "conv9")
    assert "'conv9'" in str(err.value) and "0, 1, 2" in str(err.value)


def test_torch_conv_layers_acgt_order(torch_cnn):
    raw = torch_cnn[0].weight.detach().numpy()                      # (F, 4, K), ACGT channels
    plain = kx.load_model(torch_cnn, input_length=LENGTH).filters.conv_layers()
    assert len(plain) == 1 and plain[0].name == "0"
    assert plain[0].weights.shape == (6, 7, 4)
    np.testing.assert_array_equal(plain[0].weights, raw.transpose(0, 2, 1))
    np.testing.assert_array_equal(plain[0].bias, torch_cnn[0].bias.detach().numpy())
    assert (plain[0].stride, plain[0].dilation, plain[0].padding) == (1, 1, 3)

    permuted = kx.load_model(torch_cnn, input_length=LENGTH,
                             layout=InputLayout("GTAC", alphabet_axis=0)).filters.conv_layers()[0]
    # model channel j holds base "GTAC"[j]; ACGT base b comes from channel "GTAC".index(b)
    for i, base in enumerate("ACGT"):
        np.testing.assert_array_equal(permuted.weights[:, :, i], raw[:, "GTAC".index(base), :])


def test_fingerprint_changes_with_one_weight():
    import torch

    net = make_torch_cnn()
    twin = copy.deepcopy(net)
    model, twin_model = (kx.load_model(m, input_length=LENGTH) for m in (net, twin))
    before = model.fingerprint()
    assert len(before) == 64 and twin_model.fingerprint() == before
    with torch.no_grad():
        twin[4].weight[1, 17] += 1e-3
    assert twin_model.fingerprint() != before
    assert model.describe()["fingerprint"] == before
    assert kx.load_model(make_torch_cnn(seed=1), input_length=LENGTH).fingerprint() != before


@pytest.mark.parametrize("shape, match", [((2, LENGTH, 5), "expected one-hot"),
                                          ((LENGTH, 4), "expected one-hot"),
                                          ((2, LENGTH - 1, 4), "input length 99"),
                                          ((2, 4, LENGTH), "expected one-hot")])
def test_torch_bad_input(torch_model, shape, match):
    x = np.zeros(shape, dtype=np.float32)
    with pytest.raises(kx.InputError, match=match):
        torch_model.predict(x)
    with pytest.raises(kx.InputError, match=match):
        kx.input_gradient(torch_model, x)


def test_load_model_errors(torch_cnn, tmp_path):
    with pytest.raises(kx.InputError, match="input_length"):
        kx.load_model(torch_cnn)
    with pytest.raises(kx.InputError, match="zoo_path"):
        kx.load_model(torch_cnn, input_length=LENGTH, zoo_path="x")
    with pytest.raises(kx.InputError, match="does not exist"):
        kx.load_model(str(tmp_path / "missing.keras"))
    with pytest.raises(kx.InputError, match="not a Kipoi model directory"):
        kx.load_model(str(tmp_path / "model.onnx"))
    with pytest.raises(kx.InputError, match="cannot load a model from int"):
        kx.load_model(3)
    model = kx.load_model(torch_cnn, input_length=LENGTH)
    assert kx.load_model(model) is model
    with pytest.raises(kx.InputError, match="3 names"):
        kx.load_model(torch_cnn, input_length=LENGTH, output_names=["a", "b", "c"])


# ---- Keras ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def keras_model(keras_cnn):
    return kx.load_model(keras_cnn, output_names=["a", "b"])


def test_keras_metadata(keras_model):
    assert keras_model.framework == "keras"
    assert keras_model.input_length == LENGTH and keras_model.output_shape == (2,)
    assert keras_model.layout == InputLayout(alphabet_axis=1)
    assert keras_model.layers.layer_names() == ["conv", "pool", "flatten", "dense"]


def test_keras_predict_equals_call(keras_model, keras_cnn):
    x = random_onehot(6)
    expected = np.asarray(keras_cnn(x, training=False))
    np.testing.assert_allclose(keras_model.predict(x), expected, rtol=1e-6)
    np.testing.assert_allclose(keras_model.predict(x, batch_size=4), expected, rtol=1e-6)


@pytest.mark.parametrize("target, column", [(0, 0), ("b", 1)])
def test_keras_gradient_equals_gradient_tape(keras_model, keras_cnn, target, column):
    import tensorflow as tf

    x = random_onehot(4, seed=2)
    inputs = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        value = tf.reduce_sum(keras_cnn(inputs, training=False)[:, column])
    expected = tape.gradient(value, inputs).numpy()
    np.testing.assert_allclose(kx.input_gradient(keras_model, x, target, batch_size=3), expected,
                               rtol=1e-5, atol=1e-8)


def test_keras_saved_file_identical_predictions(keras_cnn, tmp_path):
    path = tmp_path / "cnn.keras"
    keras_cnn.save(path)
    x = random_onehot(5, seed=9)
    from_file = kx.load_model(str(path))
    from_path = kx.load_model(path)
    assert from_file.name == "cnn.keras" and from_file.source["type"] == "keras file"
    expected = np.asarray(keras_cnn(x, training=False))
    np.testing.assert_array_equal(from_file.predict(x), expected)
    np.testing.assert_array_equal(from_path.predict(x), expected)
    assert from_file.fingerprint() == kx.load_model(keras_cnn).fingerprint()


def test_keras_conv_activation_and_filters(keras_model, keras_cnn):
    x = random_onehot(2, seed=4)
    kernel, bias = (np.asarray(w) for w in keras_cnn.get_layer("conv").get_weights())
    padded = np.pad(x, ((0, 0), (3, 3), (0, 0)))
    windows = np.stack([padded[:, i:i + 7] for i in range(LENGTH)], axis=1)   # (N, L, K, 4)
    manual = np.maximum(np.einsum("nlkc,kcf->nlf", windows, kernel) + bias, 0)
    np.testing.assert_allclose(kx.layers.activations(keras_model, x, "conv"), manual, rtol=1e-5, atol=1e-6)
    assert kx.layers.activations(keras_model, x, "dense").shape == (2, 2)

    (conv,) = keras_model.filters.conv_layers()
    assert conv.name == "conv" and conv.weights.shape == (6, 7, 4)
    np.testing.assert_array_equal(conv.weights, kernel.transpose(2, 0, 1))
    np.testing.assert_array_equal(conv.bias, bias)
    assert conv.padding == "same"
    permuted = kx.load_model(keras_cnn, layout=InputLayout("TACG")).filters.conv_layers()[0]
    for i, base in enumerate("ACGT"):
        np.testing.assert_array_equal(permuted.weights[:, :, i], kernel[:, "TACG".index(base)].T)


def test_keras_channels_first_model():
    import keras

    keras.utils.set_random_seed(3)
    net = keras.Sequential([keras.Input((4, 30)), keras.layers.Permute((2, 1)),
                            keras.layers.Conv1D(3, 5, name="c"), keras.layers.Flatten(),
                            keras.layers.Dense(1)])
    model = kx.load_model(net)
    assert model.layout.channels_first and model.input_length == 30
    assert model.output_shape == (1,)
    x = random_onehot(3, length=30)
    np.testing.assert_allclose(model.predict(x), np.asarray(net(x.transpose(0, 2, 1))),
                               rtol=1e-6)


def test_keras_channels_first_conv_activations_are_positions_first():
    """A Conv1D with data_format="channels_first" outputs (N, units, positions)."""
    import keras

    keras.utils.set_random_seed(4)
    net = keras.Sequential([keras.Input((4, 30)),
                            keras.layers.Conv1D(3, 5, data_format="channels_first", name="c"),
                            keras.layers.Flatten(), keras.layers.Dense(1)])
    model = kx.load_model(net)
    x = random_onehot(2, length=30)
    kernel, bias = (np.asarray(w) for w in net.get_layer("c").get_weights())
    windows = np.stack([x[:, i:i + 5] for i in range(26)], axis=1)          # (N, 26, K, 4)
    manual = np.einsum("nlkc,kcf->nlf", windows, kernel) + bias
    np.testing.assert_allclose(kx.layers.activations(model, x, "c"), manual, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(model.filters.conv_layers()[0].weights, kernel.transpose(2, 0, 1))


def test_keras_permuted_input_activations_are_positions_first():
    import keras

    keras.utils.set_random_seed(4)
    net = keras.Sequential([keras.Input((4, 30)), keras.layers.Permute((2, 1)),
                            keras.layers.Conv1D(3, 5, name="c"), keras.layers.Flatten(),
                            keras.layers.Dense(1)])
    model = kx.load_model(net)
    x = random_onehot(2, length=30)
    kernel, bias = (np.asarray(w) for w in net.get_layer("c").get_weights())
    windows = np.stack([x[:, i:i + 5] for i in range(26)], axis=1)
    manual = np.einsum("nlkc,kcf->nlf", windows, kernel) + bias
    np.testing.assert_allclose(kx.layers.activations(model, x, "c"), manual, rtol=1e-5, atol=1e-6)


def test_keras_fingerprint_changes_with_one_weight():
    net = make_keras_cnn(seed=0)
    model = kx.load_model(net)
    before = model.fingerprint()
    assert kx.load_model(make_keras_cnn(seed=0)).fingerprint() == before
    weights = net.get_weights()
    weights[2][5, 0] += 1e-3
    net.set_weights(weights)
    assert model.fingerprint() != before


def test_keras_bad_input(keras_model):
    with pytest.raises(kx.InputError, match="input length 50"):
        keras_model.predict(np.zeros((1, 50, 4), dtype=np.float32))
    with pytest.raises(kx.InputError, match="expected one-hot"):
        kx.input_gradient(keras_model, np.zeros((1, LENGTH, 3), dtype=np.float32))
