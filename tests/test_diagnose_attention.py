"""Attention queries and keys (PyTorch, Keras) and the attention_conditioning check."""
import json

import numpy as np
import pytest
from conftest import make_torch_cnn, random_onehot

import kipoi_explain as kx
from kipoi_explain.diagnostics.attention_conditioning import (attention_conditioning,
                                                           attention_map, key_conditioning)
from kipoi_explain.diagnostics.context import Context
from kipoi_explain.results import Diagnosis

LENGTH, EMBED, HEADS, HEAD_DIM = 50, 16, 2, 8


def torch_attention_net(seed=0, batch_first=True, kdim=None, bias=True, add_bias_kv=False,
                        add_zero_attn=False):
    """Conv1d embedding -> multi-head attention (2 heads of 8) -> mean over positions -> linear.

    With ``kdim``, keys and values come from a second convolution with ``kdim`` channels and
    the attention is called with keywords; otherwise it is self-attention called positionally.
    """
    import torch

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Conv1d(4, EMBED, 5, padding=2)
            self.key_embed = torch.nn.Conv1d(4, kdim, 5, padding=2) if kdim else None
            self.attention = torch.nn.MultiheadAttention(
                EMBED, HEADS, batch_first=batch_first, kdim=kdim, vdim=kdim, bias=bias,
                add_bias_kv=add_bias_kv, add_zero_attn=add_zero_attn)
            self.head = torch.nn.Linear(EMBED, 1)

        def attention_inputs(self, x):
            """What the attention layer receives: query and key/value, in its own layout."""
            query = self.embed(x).transpose(1, 2)
            key = query if self.key_embed is None else self.key_embed(x).transpose(1, 2)
            if not batch_first:
                query, key = query.transpose(0, 1), key.transpose(0, 1)
            return query, key

        def forward(self, x):
            query, key = self.attention_inputs(x)
            if self.key_embed is None:
                out, _ = self.attention(query, key, key, need_weights=False)
            else:
                out, _ = self.attention(query=query, key=key, value=key, need_weights=False)
            return self.head((out if batch_first else out.transpose(0, 1)).mean(1))

    torch.manual_seed(seed)
    return Net().eval()


def keras_attention_net(seed=0, separate_key=False):
    """The Keras counterpart; with ``separate_key`` the key comes from its own convolution."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((LENGTH, 4))
    embedded = keras.layers.Conv1D(EMBED, 5, padding="same", name="embed")(inputs)
    attention = keras.layers.MultiHeadAttention(HEADS, HEAD_DIM, name="attention")
    if separate_key:
        key = keras.layers.Conv1D(12, 5, padding="same", name="key_embed")(inputs)
        attended = attention(embedded, value=embedded, key=key)
    else:
        attended = attention(embedded, embedded)
    pooled = keras.layers.GlobalAveragePooling1D()(attended)
    return keras.Model(inputs, keras.layers.Dense(1, name="head")(pooled))


def rank_one_torch_keys(net, head):
    """Give ``head`` keys ``x W`` with ``W = u v^T``: its keys all point one way."""
    import torch

    rows = slice(EMBED + head * HEAD_DIM, EMBED + (head + 1) * HEAD_DIM)
    with torch.no_grad():
        net.attention.in_proj_weight[rows] = torch.outer(torch.randn(HEAD_DIM), torch.randn(EMBED))
        net.attention.in_proj_bias[rows] = 0
    return net


def rank_one_keras_keys(net, head):
    dense = net.get_layer("attention")._key_dense
    kernel, bias = dense.get_weights()  # (embed, heads, head_dim), (heads, head_dim)
    rng = np.random.default_rng(0)
    kernel[:, head] = np.outer(rng.normal(size=EMBED), rng.normal(size=HEAD_DIM))
    bias[head] = 0
    dense.set_weights([kernel, bias])
    return net


def run_check(model, **options):
    ctx = Context(model, random_onehot(16, LENGTH, seed=1), model.target(0), 8)
    return attention_conditioning(ctx, **options)


def softmax_attention(queries, keys):
    logits = queries @ keys.transpose(0, 1, 3, 2) / np.sqrt(queries.shape[-1])
    weights = np.exp(logits - logits.max(-1, keepdims=True))
    return weights / weights.sum(-1, keepdims=True)


@pytest.mark.parametrize("config", [
    {}, {"batch_first": False}, {"kdim": 12},
    {"kdim": 12, "batch_first": False, "add_bias_kv": True},
    {"bias": False, "add_zero_attn": True}])
def test_torch_queries_and_keys_reproduce_the_layers_attention(config):
    import torch

    net = torch_attention_net(**config)
    with torch.no_grad():
        for conv in filter(None, (net.embed, net.key_embed)):
            conv.weight *= 15  # sharp maps, so that any error in q or k shows
        if net.attention.in_proj_bias is not None:
            net.attention.in_proj_bias.normal_()
    model = kx.load_model(net, input_length=LENGTH)
    x = random_onehot(5, LENGTH)
    assert model.attention.attention_layers() == ["attention"]
    queries, keys = kx.attention_maps.queries_and_keys(model, x, "attention", batch_size=2)
    extra = int(config.get("add_bias_kv", False)) + int(config.get("add_zero_attn", False))
    assert queries.shape == (5, HEADS, LENGTH, HEAD_DIM)
    assert keys.shape == (5, HEADS, LENGTH + extra, HEAD_DIM)
    with torch.no_grad():
        query, key = net.attention_inputs(torch.tensor(x.transpose(0, 2, 1)))
        _, expected = net.attention(query, key, key, need_weights=True,
                                    average_attn_weights=False)
    assert expected.numpy().max(-1).mean() > 0.3
    np.testing.assert_allclose(softmax_attention(queries, keys), expected.numpy(), atol=1e-5)


@pytest.mark.parametrize("separate_key", [False, True])
def test_keras_queries_and_keys_reproduce_the_layers_attention(separate_key):
    import keras

    net = keras_attention_net(separate_key=separate_key)
    for conv in net.layers:
        if isinstance(conv, keras.layers.Conv1D):
            kernel, bias = conv.get_weights()
            conv.set_weights([kernel * 15, bias])  # sharp maps, so that any error shows
    model = kx.load_model(net)
    x = random_onehot(5, LENGTH)
    assert model.attention.attention_layers() == ["attention"]
    queries, keys = kx.attention_maps.queries_and_keys(model, x, "attention", batch_size=2)
    assert queries.shape == keys.shape == (5, HEADS, LENGTH, HEAD_DIM)
    query = keras.Model(net.inputs, net.get_layer("embed").output)([x])
    key = keras.Model(net.inputs, net.get_layer("key_embed").output)([x]) if separate_key \
        else query
    _, expected = net.get_layer("attention")(query, query, key, return_attention_scores=True)
    expected = np.asarray(expected)
    assert expected.max(-1).mean() > 0.3
    np.testing.assert_allclose(softmax_attention(queries, keys), expected, atol=1e-5)


def test_attention_map_is_a_row_softmax_of_scaled_logits():
    rng = np.random.default_rng(0)
    queries, keys = rng.normal(size=(3, 2, 4, 8)), rng.normal(size=(3, 2, 6, 8))
    logits = np.einsum("nhqd,nhkd->nhqk", queries, keys) / np.sqrt(8)
    expected = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    np.testing.assert_allclose(attention_map(queries, keys), expected, rtol=1e-12)


def test_key_conditioning_matches_per_sequence_svd():
    rng = np.random.default_rng(0)
    keys = rng.normal(size=(5, 3, 20, 4)) * np.array([1.0, 0.1, 0.01, 0.001])
    keys[:, 2] = rng.normal(size=(5, 20, 1)) * rng.normal(size=(1, 1, 4))  # rank 1
    condition, rank = key_conditioning(keys)
    expected_condition, expected_rank = np.zeros((5, 3)), np.zeros((5, 3))
    for i in range(5):
        for h in range(3):
            centred = keys[i, h] - keys[i, h].mean(0)
            sigma = np.linalg.svd(centred, compute_uv=False)
            p = sigma / sigma.sum()
            expected_condition[i, h] = min(np.linalg.cond(centred), 1e12)
            expected_rank[i, h] = np.exp(-(p[p > 0] * np.log(p[p > 0])).sum())
    np.testing.assert_allclose(condition[:2], np.median(expected_condition, 0)[:2], rtol=1e-8)
    np.testing.assert_allclose(rank, np.median(expected_rank, 0), rtol=1e-6)
    assert condition[2] > 1e12 / 10 and rank[2] == pytest.approx(1, abs=1e-6)


@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_healthy_attention_is_not_flagged(framework):
    net = torch_attention_net() if framework == "torch" else keras_attention_net()
    model = kx.load_model(net, input_length=LENGTH) if framework == "torch" else kx.load_model(net)
    findings, measurements = run_check(model)
    assert [f.severity for f in findings] == ["info"]
    assert findings[0].where == {"layer": "attention", "heads": []}
    layer = measurements["layers"]["attention"]
    assert layer["head_dim"] == HEAD_DIM
    assert len(layer["condition_number"]) == len(layer["effective_rank"]) == HEADS
    assert np.all(np.asarray(layer["condition_number"]) < 100)
    assert np.all(np.asarray(layer["noise_amplification"]) < 1)


@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_rank_one_keys_are_flagged_on_their_head(framework):
    if framework == "torch":
        model = kx.load_model(rank_one_torch_keys(torch_attention_net(), head=1),
                              input_length=LENGTH)
    else:
        model = kx.load_model(rank_one_keras_keys(keras_attention_net(), head=1))
    findings, measurements = run_check(model)
    assert len(findings) == 1 and findings[0].flagged
    assert findings[0].where == {"layer": "attention", "heads": [1]}
    assert findings[0].severity == "error"  # rank 1: singular up to float32 rounding
    assert findings[0].value > 1e6 and findings[0].threshold == 1e6
    layer = measurements["layers"]["attention"]
    assert layer["effective_rank"][1] == pytest.approx(1, abs=0.01)
    assert layer["effective_rank"][0] > 4
    diagnosis = Diagnosis({}, findings, {"attention_conditioning": measurements})
    json.dumps(diagnosis.as_dict(), allow_nan=False)


def test_unstable_maps_are_flagged_on_their_head():
    import torch

    net = torch_attention_net()
    with torch.no_grad():
        net.attention.in_proj_weight[:2 * EMBED] *= 30  # logits x 900: near-ties decide maps
    model = kx.load_model(net, input_length=LENGTH)
    _, measurements = run_check(model)
    amplification = measurements["layers"]["attention"]["noise_amplification"]
    assert np.all(amplification > 1)
    between = amplification.mean()  # the two heads differ: flag exactly the more unstable one
    findings, _ = run_check(model, max_amplification=between)
    assert [f.severity for f in findings] == ["info", "warning"]
    assert findings[1].where == {"layer": "attention", "heads": [int(amplification.argmax())]}
    assert findings[1].value == pytest.approx(amplification.max())
    assert findings[1].threshold == between


def test_model_without_attention_is_not_applicable():
    model = kx.load_model(make_torch_cnn(), input_length=100)
    ctx = Context(model, random_onehot(4), model.target(0), 4)
    findings, measurements = attention_conditioning(ctx)
    assert len(findings) == 1 and findings[0].severity == "info"
    assert "not applicable" in findings[0].message and measurements == {}
