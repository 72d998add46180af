"""Diagnostics primitives of both backends (layer lists, unit ablation, layer gradient norms,
weight randomization) against independent computations with the frameworks themselves."""
import copy
from pathlib import Path

import numpy as np
import pytest

import kipoi_explain as kx
from kipoi_explain.errors import UnsupportedOperation

from conftest import random_onehot

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "models"
FRAMEWORKS = ["pytorch", "keras"]
EXAMPLE_LAYERS = {
    "pytorch": ["conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "flatten", "fc1", "relu3",
                "fc2", "out"],
    "keras": ["conv1", "pool1", "drop1", "conv2", "act2", "pool2", "flatten", "fc1", "fc2",
              "out"],
}


@pytest.fixture(scope="module")
def examples():
    """The bundled example models, by framework (200 bp in, 3 sigmoid outputs)."""
    return {"pytorch": kx.load_model(str(EXAMPLES / "pytorch_cnn")),
            "keras": kx.load_model(str(EXAMPLES / "keras_cnn"))}


@pytest.fixture(scope="module")
def x200():
    return random_onehot(6, length=200, seed=11)


def direct_predict(model, net, x):
    """Predictions of a framework model ``net`` (the adapter's own or a copy), called directly."""
    inputs = model.layout.to_model(x)
    if model.framework == "pytorch":
        import torch

        with torch.no_grad():
            return net(torch.tensor(inputs)).numpy()
    return np.asarray(net(inputs, training=False))


def with_units_zeroed(model, layer, units):
    """A copy of the adapter's network whose ``layer`` has the kernel and bias of ``units``
    zeroed: for a convolution or dense layer, those units then output exactly 0."""
    if model.framework == "pytorch":
        import torch

        net = copy.deepcopy(model.predictor.module)
        module = dict(net.named_modules())[layer]
        with torch.no_grad():
            module.weight[units] = 0
            module.bias[units] = 0
        return net
    import keras

    net = keras.models.clone_model(model.predictor.keras_model)
    net.set_weights(model.predictor.keras_model.get_weights())
    target = net.get_layer(layer)
    # Keras kernels hold the output units on their last axis, whatever the data format.
    kernel, bias = target.kernel.numpy(), target.bias.numpy()
    kernel[..., units], bias[units] = 0, 0
    target.kernel.assign(kernel)
    target.bias.assign(bias)
    return net


# ---- structure ------------------------------------------------------------------------------

def test_example_structure(examples):
    torch_model, keras_model = examples["pytorch"], examples["keras"]
    assert torch_model.layers.weighted_layers() == ["conv1", "conv2", "fc1", "fc2"]
    assert keras_model.layers.weighted_layers() == ["conv1", "conv2", "fc1", "fc2"]
    # Items, so that the order (forward order) is compared too.
    assert list(torch_model.layers.nonlinearities().items()) == [
        ("relu1", "relu"), ("relu2", "relu"), ("relu3", "relu"), ("out", "sigmoid")]
    assert list(keras_model.layers.nonlinearities().items()) == [
        ("conv1", "relu"), ("act2", "relu"), ("fc1", "relu"), ("out", "sigmoid")]


def test_torch_structure_follows_the_forward_pass():
    """Layers are listed in the order forward() calls them, not the order they were defined;
    frozen layers hold no trainable weights; each activation module has its kind."""
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.head = nn.Linear(3 * 8, 2)
            self.softmax = nn.Softmax(dim=1)
            self.gelu = nn.GELU()
            self.conv = nn.Conv1d(4, 3, 3)
            self.frozen = nn.Conv1d(3, 3, 1)
            self.frozen.requires_grad_(False)
            self.tanh, self.relu6, self.hsig = nn.Tanh(), nn.ReLU6(), nn.Hardsigmoid()

        def forward(self, x):
            h = self.hsig(self.relu6(self.tanh(self.frozen(self.conv(x)))))
            return self.softmax(self.head(self.gelu(h).flatten(1)))

    model = kx.load_model(Net(), input_length=10)
    assert model.layers.weighted_layers() == ["conv", "head"]
    assert list(model.layers.nonlinearities().items()) == [
        ("tanh", "tanh"), ("relu6", "relu"), ("hsig", "sigmoid"), ("gelu", "other")]


def test_keras_structure_follows_the_graph():
    """Layers in graph order even when created in another order; fused activations count,
    linear ones and softmax do not; frozen layers hold no trainable weights."""
    import keras

    head = keras.layers.Dense(2, activation="softmax", name="head")
    inputs = keras.Input((10, 4))
    h = keras.layers.Conv1D(3, 3, activation="relu6", name="conv")(inputs)
    h = keras.layers.Conv1D(3, 1, name="frozen", trainable=False)(h)
    h = keras.layers.Activation("tanh", name="tanh")(h)
    h = keras.layers.Activation("hard_sigmoid", name="hsig")(h)
    h = keras.layers.LeakyReLU(name="leaky")(h)
    h = keras.layers.ReLU(name="relu")(h)
    h = keras.layers.Dense(3, activation="gelu", name="dense_gelu")(h)
    h = keras.layers.Dense(3, name="dense_linear")(h)
    h = keras.layers.Softmax(name="softmax")(h)
    model = kx.load_model(keras.Model(inputs, head(keras.layers.Flatten(name="flat")(h))))
    assert model.layers.weighted_layers() == ["conv", "dense_gelu", "dense_linear", "head"]
    assert list(model.layers.nonlinearities().items()) == [
        ("conv", "relu"), ("tanh", "tanh"), ("hsig", "sigmoid"), ("leaky", "other"),
        ("relu", "relu"), ("dense_gelu", "other")]


# ---- ablation -------------------------------------------------------------------------------

@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_keeping_every_unit_changes_nothing(examples, x200, framework):
    model = examples[framework]
    expected = model.predict(x200)
    for layer in EXAMPLE_LAYERS[framework]:
        units = kx.layers.activations(model, x200[:1], layer).shape[-1]
        np.testing.assert_allclose(kx.layers.ablated_predict(model, x200, layer, np.ones(units)), expected,
                                   rtol=1e-5, atol=1e-7, err_msg=layer)


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("layer", ["conv1", "conv2"])
def test_ablating_filters_equals_zeroing_them(examples, x200, framework, layer):
    model = examples[framework]
    units = [1, 5]
    keep = np.ones(16, dtype=bool)
    keep[units] = False
    got = kx.layers.ablated_predict(model, x200, layer, keep, batch_size=4)
    expected = direct_predict(model, with_units_zeroed(model, layer, units), x200)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert np.abs(got - model.predict(x200)).max() > 1e-4


def test_keras_channels_first_ablation_uses_the_channel_axis():
    import keras

    keras.utils.set_random_seed(2)
    net = keras.Sequential([
        keras.Input((4, 30)),
        keras.layers.Conv1D(5, 3, data_format="channels_first", name="conv"),
        keras.layers.Flatten(name="flat"),
        keras.layers.Dense(2, name="dense")])
    model = kx.load_model(net)
    x = random_onehot(4, length=30, seed=3)
    keep = np.array([1, 1, 0, 1, 1])
    got = kx.layers.ablated_predict(model, x, "conv", keep)
    np.testing.assert_allclose(got, direct_predict(model, with_units_zeroed(model, "conv", [2]),
                                                   x), rtol=1e-5, atol=1e-6)
    assert np.abs(got - model.predict(x)).max() > 1e-4


def tiny_mlp(framework):
    """Flatten -> dense(3) -> ReLU -> dense(2) -> sigmoid on 8 bp, and a function computing it
    with numpy from the weights, optionally with the hidden dense outputs replaced."""
    if framework == "pytorch":
        import torch

        torch.manual_seed(4)
        net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(32, 3), torch.nn.ReLU(),
                                  torch.nn.Linear(3, 2), torch.nn.Sigmoid()).eval()
        model = kx.load_model(net, input_length=8)
        w1, b1, w2, b2 = (p.detach().numpy().T for p in net.parameters())
        hidden_layer = "1"
    else:
        import keras

        keras.utils.set_random_seed(4)
        net = keras.Sequential([keras.Input((8, 4)), keras.layers.Flatten(),
                                keras.layers.Dense(3, name="hidden"),
                                keras.layers.Activation("relu"),
                                keras.layers.Dense(2, activation="sigmoid")])
        model = kx.load_model(net)
        w1, b1, w2, b2 = net.get_weights()
        hidden_layer = "hidden"

    def by_hand(x, keep=np.ones(3), fill=0.0):
        flat = model.layout.to_model(x).reshape(len(x), -1)
        hidden = (flat @ w1 + b1) * keep + fill * (1 - keep)
        return 1 / (1 + np.exp(-(np.maximum(hidden, 0) @ w2 + b2)))

    return model, hidden_layer, by_hand


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_ablating_with_a_fill_value_equals_numpy(framework):
    model, layer, by_hand = tiny_mlp(framework)
    x = random_onehot(5, length=8, seed=6)
    np.testing.assert_allclose(model.predict(x), by_hand(x), rtol=1e-5)
    keep = np.array([1.0, 0.0, 0.0])
    fill = np.array([9.0, 0.7, 1.3])                      # unit 0 is kept: its fill is unused
    expected = by_hand(x, keep, fill)
    np.testing.assert_allclose(kx.layers.ablated_predict(model, x, layer, keep, fill), expected, rtol=1e-5)
    np.testing.assert_allclose(kx.layers.ablated_predict(model, x, layer, keep, 0.7),
                               by_hand(x, keep, 0.7), rtol=1e-5)
    assert np.abs(expected - model.predict(x)).max() > 1e-3


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_ablating_the_output_layer_sets_the_output(examples, x200, framework):
    model = examples[framework]
    got = kx.layers.ablated_predict(model, x200, "out", [1, 0, 1], fill=0.25)
    expected = model.predict(x200)
    expected[:, 1] = 0.25
    np.testing.assert_allclose(got, expected, rtol=1e-6)


# ---- layer gradient norms --------------------------------------------------------------------

def torch_layer_gradient_norms(model, x, columns):
    """Run the example network's forward() by hand, keeping every intermediate's gradient."""
    import torch

    net = model.predictor.module
    h = torch.tensor(model.layout.to_model(x))
    outputs = {}
    for name in EXAMPLE_LAYERS["pytorch"]:
        h = getattr(net, name)(h)
        h.retain_grad()
        outputs[name] = h
    h[:, columns].sum().backward()
    return np.stack([outputs[name].grad.reshape(len(x), -1).norm(dim=1).numpy()
                     for name in EXAMPLE_LAYERS["pytorch"]], axis=1)


def keras_layer_gradient_norms(model, x, columns):
    """Apply the example network's layers one by one under a tape, then differentiate the
    target with respect to each layer's output."""
    import tensorflow as tf

    net = model.predictor.keras_model
    h = tf.constant(model.layout.to_model(x))
    outputs = []
    with tf.GradientTape() as tape:
        for name in EXAMPLE_LAYERS["keras"]:
            h = net.get_layer(name)(h, training=False)
            outputs.append(h)
        value = tf.reduce_sum(tf.gather(h, columns, axis=1))
    grads = tape.gradient(value, outputs)
    return np.stack([tf.norm(tf.reshape(g, (len(x), -1)), axis=1).numpy() for g in grads], axis=1)


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("target", [1, [0, 2]])
def test_layer_gradient_norms_equal_framework_gradients(examples, x200, framework, target):
    model = examples[framework]
    layers = EXAMPLE_LAYERS[framework]
    columns = [target] if isinstance(target, int) else target
    independent = {"pytorch": torch_layer_gradient_norms, "keras": keras_layer_gradient_norms}
    expected = independent[framework](model, x200, columns)
    got = kx.layers.gradient_norms(model, x200, layers, target, batch_size=4)
    assert got.shape == (len(x200), len(layers))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-8)
    # d target / d output is 1 in each selected column.
    np.testing.assert_allclose(got[:, -1], np.sqrt(len(columns)), rtol=1e-6)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_gradient_norm_before_the_sigmoid_is_its_slope(examples, x200, framework):
    """fc2 feeds the output sigmoid: d sigmoid(z_t) / dz is s (1 - s) in column t only."""
    model = examples[framework]
    s = model.predict(x200)[:, 2]
    np.testing.assert_allclose(kx.layers.gradient_norms(model, x200, ["fc2"], 2)[:, 0], s * (1 - s),
                               rtol=1e-4)


# ---- randomization ---------------------------------------------------------------------------

@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_randomized_restores_the_weights(examples, x200, framework):
    model = examples[framework]
    before = model.predict(x200)
    fingerprint = model.fingerprint()
    saved = {name: model.layers.get_weights(name) for name in model.layers.weighted_layers()}
    with kx.layers.randomized(model, ["conv2", "fc1"], seed=3):
        inside = model.predict(x200)
        assert model.fingerprint() != fingerprint
        for name, arrays in saved.items():
            changed = [not np.array_equal(a, b) for a, b in zip(arrays, model.layers.get_weights(name))]
            assert changed == [name in ("conv2", "fc1")] * len(arrays), name
    assert np.abs(inside - before).max() > 1e-3
    assert model.fingerprint() == fingerprint
    np.testing.assert_array_equal(model.predict(x200), before)
    for name, arrays in saved.items():
        for a, b in zip(arrays, model.layers.get_weights(name)):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_randomized_restores_after_an_exception(examples, x200, framework):
    model = examples[framework]
    fingerprint = model.fingerprint()
    with pytest.raises(RuntimeError, match="inside"):
        with kx.layers.randomized(model, ["fc2"], seed=0):
            assert model.fingerprint() != fingerprint
            raise RuntimeError("inside")
    assert model.fingerprint() == fingerprint


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_randomized_is_seeded_and_keeps_the_scale(examples, x200, framework):
    model = examples[framework]
    original = model.layers.get_weights("conv2")
    with kx.layers.randomized(model, ["conv2"], seed=5):
        first = model.predict(x200)
        drawn = model.layers.get_weights("conv2")
    with kx.layers.randomized(model, ["conv2"], seed=5):
        np.testing.assert_array_equal(model.predict(x200), first)
    with kx.layers.randomized(model, ["conv2"], seed=6):
        assert np.abs(model.predict(x200) - first).max() > 1e-4
    kernel = max(range(len(original)), key=lambda i: original[i].size)      # 16*16*5 entries
    w, r = original[kernel], drawn[kernel]
    assert r.shape == w.shape and r.dtype == w.dtype
    assert abs(r.mean() - w.mean()) < 4 * w.std() / np.sqrt(w.size)
    assert r.std() == pytest.approx(w.std(), rel=0.1)
    assert abs(np.corrcoef(r.ravel(), w.ravel())[0, 1]) < 0.15


# ---- errors ----------------------------------------------------------------------------------

@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_bad_layer_or_keep(examples, x200, framework):
    model = examples[framework]
    with pytest.raises(kx.InputError, match="nope"):
        kx.layers.ablated_predict(model, x200, "nope", np.ones(16))
    with pytest.raises(kx.InputError, match="nope"):
        kx.layers.gradient_norms(model, x200, ["conv1", "nope"])
    with pytest.raises(kx.InputError, match="16 units"):
        kx.layers.ablated_predict(model, x200, "conv1", np.ones(15))


def test_keras_skip_connection_is_unsupported():
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((20, 4))
    a = keras.layers.Conv1D(3, 3, padding="same", name="a")(inputs)
    b = keras.layers.Conv1D(3, 3, padding="same", name="b")(a)
    summed = keras.layers.Add(name="add")([a, b])
    net = keras.Model(inputs, keras.layers.Dense(1, name="out")(
        keras.layers.Flatten(name="flat")(summed)))
    model = kx.load_model(net)
    x = random_onehot(3, length=20)
    with pytest.raises(UnsupportedOperation, match="'b'"):
        kx.layers.ablated_predict(model, x, "b", np.ones(3))
    with pytest.raises(UnsupportedOperation, match="'b'"):
        kx.layers.gradient_norms(model, x, ["b"])
    # Every path to the output goes through 'a' and 'add': those can be split.
    np.testing.assert_allclose(kx.layers.ablated_predict(model, x, "a", np.ones(3)), model.predict(x),
                               rtol=1e-5, atol=1e-7)
    assert kx.layers.gradient_norms(model, x, ["a", "add"]).shape == (3, 2)
