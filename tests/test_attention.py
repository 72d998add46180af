"""Attention maps (kipoi_explain.attention): PyTorch and Keras layers read against a manual
recomputation from their weights, reductions, query rows and token positions."""
import numpy as np
import pytest
from conftest import EXAMPLE_DIR, make_torch_cnn, random_onehot

import kipoi_explain as kx
from kipoi_explain import attention_registry
from kipoi_explain.attention_maps import rollout
from kipoi_explain.results import Interval

LENGTH, EMBED, HEADS, KERNEL, POOL = 64, 16, 2, 5, 4
TOKENS = LENGTH // POOL


def analytic_spans():
    """Bases reaching token i of conv(KERNEL, same) + maxpool(POOL), clipped to the input."""
    start = POOL * np.arange(TOKENS) - KERNEL // 2
    end = POOL * np.arange(TOKENS) + POOL + KERNEL // 2
    return np.stack([np.clip(start, 0, LENGTH), np.clip(end, 0, LENGTH)], axis=1)


def analytic_centres():
    """Centre of token i: the middle of its POOL conv positions."""
    return POOL * np.arange(TOKENS) + (POOL - 1) / 2


def causal_mask(n, boolean=True):
    """Mask hiding later tokens: True (or -inf) above the diagonal."""
    import torch

    above = torch.ones(n, n, dtype=torch.bool).triu(1)
    return above if boolean else torch.zeros(n, n).masked_fill(above, float("-inf"))


def padding_mask(n):
    """Key padding mask hiding the last three tokens of each of ``n`` sequences."""
    import torch

    hidden = torch.zeros(n, TOKENS, dtype=torch.bool)
    hidden[:, -3:] = True
    return hidden


def torch_stem():
    from torch import nn

    return nn.Sequential(nn.Conv1d(4, EMBED, KERNEL, padding=KERNEL // 2), nn.MaxPool1d(POOL))


def torch_transformer(kind="mha", seed=0, batch_first=True, add_bias_kv=False,
                      add_zero_attn=False, mask=None, n_layers=2, sharpen=8.0):
    """Conv(KERNEL, same) + maxpool(POOL) stem, attention, mean over tokens, linear head.

    ``kind`` is ``mha`` (``nn.MultiheadAttention`` called directly), ``layer`` (one
    ``nn.TransformerEncoderLayer``) or ``encoder`` (an ``nn.TransformerEncoder`` of
    ``n_layers``). ``mask`` is None, ``causal`` or ``padding`` (the last three keys hidden; mha
    only). ``net.tokens(x)`` is what the first attention layer receives.
    """
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = torch_stem()
            if kind == "mha":
                self.attention = nn.MultiheadAttention(
                    EMBED, HEADS, batch_first=batch_first, add_bias_kv=add_bias_kv,
                    add_zero_attn=add_zero_attn)
            else:
                layer = nn.TransformerEncoderLayer(EMBED, HEADS, dim_feedforward=32,
                                                   dropout=0.0, batch_first=True)
                self.attention = layer if kind == "layer" else nn.TransformerEncoder(
                    layer, n_layers, enable_nested_tensor=False)
            self.head = nn.Linear(EMBED, 1)

        def tokens(self, x):
            return self.stem(x).transpose(1, 2)

        def forward(self, x):
            h = self.tokens(x)
            if kind == "mha":
                q = h if batch_first else h.transpose(0, 1)
                out, _ = self.attention(
                    q, q, q, need_weights=False,
                    attn_mask=causal_mask(TOKENS) if mask == "causal" else None,
                    key_padding_mask=padding_mask(len(h)) if mask == "padding" else None)
                out = out if batch_first else out.transpose(0, 1)
            elif mask == "causal":
                out = self.attention(h, causal_mask(TOKENS, boolean=False), is_causal=True)
            else:
                out = self.attention(h)
            return self.head(out.mean(1))

    torch.manual_seed(seed)
    net = Net().eval()
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, nn.MultiheadAttention):
                # Sharper maps than at initialisation, so a wrong query or key shows.
                module.in_proj_weight *= sharpen
                module.in_proj_bias.normal_()
                if module.bias_k is not None:
                    module.bias_k.normal_()
    return net


def softmax(logits):
    weights = np.exp(logits - logits.max(-1, keepdims=True))
    return weights / weights.sum(-1, keepdims=True)


def split_heads(projected):
    """``(N, T, HEADS * d)`` -> ``(N, HEADS, T, d)``."""
    n, tokens, _ = projected.shape
    return projected.reshape(n, tokens, HEADS, -1).transpose(0, 2, 1, 3)


def scaled_logits(q, k):
    """Q K^T / sqrt(d) per head of projected ``(N, HEADS, T, d)`` queries and keys."""
    return q @ k.transpose(0, 1, 3, 2) / np.sqrt(q.shape[-1])


def manual_torch_maps(mha, h, attn_mask=None, key_padding_mask=None):
    """softmax(Q K^T / sqrt(d)) of ``nn.MultiheadAttention`` ``mha`` on batch-first tokens ``h``
    ``(N, T, E)``, from ``in_proj_weight`` / ``in_proj_bias`` (and ``bias_k``, ``add_zero_attn``)
    in float64, with a boolean or additive ``attn_mask`` and a boolean ``key_padding_mask``."""
    h = h.detach().double().numpy()
    weight = mha.in_proj_weight.detach().double().numpy()
    bias = mha.in_proj_bias.detach().double().numpy()
    n, tokens, embed = h.shape
    assert mha.num_heads == HEADS
    q = h @ weight[:embed].T + bias[:embed]
    k = h @ weight[embed:2 * embed].T + bias[embed:2 * embed]
    extra = []
    if mha.bias_k is not None:
        extra.append(np.broadcast_to(mha.bias_k.detach().double().numpy().reshape(1, 1, embed),
                                     (n, 1, embed)))
    if mha.add_zero_attn:
        extra.append(np.zeros((n, 1, embed)))
    q, k = split_heads(q), split_heads(np.concatenate([k, *extra], axis=1))
    logits = scaled_logits(q, k)
    blocked = np.zeros(logits.shape, dtype=bool)
    if attn_mask is not None:
        attn_mask = attn_mask.numpy()
        if attn_mask.dtype == bool:
            blocked[..., :tokens, :tokens] |= attn_mask
        else:
            logits[..., :tokens, :tokens] += attn_mask
    if key_padding_mask is not None:
        blocked[..., :tokens] |= key_padding_mask.numpy()[:, None, None, :]
    return softmax(np.where(blocked, -np.inf, logits))


@pytest.fixture(scope="module")
def x():
    return random_onehot(6, LENGTH, seed=3)


def torch_inputs(x):
    import torch

    return torch.tensor(x.transpose(0, 2, 1))


def assert_rows_sum_to_one(maps):
    np.testing.assert_allclose(maps.sum(-1), 1, atol=1e-5)


@pytest.mark.parametrize("config", [
    {}, {"batch_first": False}, {"add_bias_kv": True}, {"add_zero_attn": True},
    {"batch_first": False, "add_bias_kv": True, "add_zero_attn": True},
    {"mask": "causal"}, {"mask": "padding", "batch_first": False},
    {"mask": "causal", "add_bias_kv": True}])
def test_multihead_attention_maps_equal_recomputation_from_weights(config, x):
    import torch

    net = torch_transformer("mha", **config)
    model = kx.load_model(net, input_length=LENGTH)
    result = kx.attention(model, x, batch_size=4)
    extra = int(config.get("add_bias_kv", False)) + int(config.get("add_zero_attn", False))
    assert result.layers == ["attention"] and result.heads == [0, 1]
    assert result.maps.shape == (6, 1, HEADS, TOKENS, TOKENS + extra)
    with torch.no_grad():
        expected = manual_torch_maps(
            net.attention, net.tokens(torch_inputs(x)),
            attn_mask=causal_mask(TOKENS) if config.get("mask") == "causal" else None,
            key_padding_mask=padding_mask(6) if config.get("mask") == "padding" else None)
    assert expected.max(-1).mean() > 0.3  # not near-uniform: the comparison has teeth
    np.testing.assert_allclose(result.maps[:, 0], expected, rtol=1e-5, atol=1e-6)
    assert_rows_sum_to_one(result.maps)
    if config.get("mask") == "causal":
        upper = np.triu_indices(TOKENS, 1)
        assert result.maps[..., upper[0], upper[1]].max() == 0
    if config.get("mask") == "padding":
        assert result.maps[..., TOKENS - 3:TOKENS].max() == 0
    np.testing.assert_array_equal(result.reduced, result.maps)  # reduce=None
    np.testing.assert_allclose(result.predictions, model.predict(x), rtol=1e-6)


def test_transformer_encoder_layer_is_read_although_its_fast_path_skips_it(x):
    import torch

    net = torch_transformer("layer")
    inputs = torch_inputs(x)
    calls = []
    attention_forward = net.attention.self_attn.forward
    # Counted through an instance attribute, not a hook: any hook turns the fast path off.
    net.attention.self_attn.forward = lambda *a, **k: calls.append(1) or attention_forward(*a, **k)
    with torch.no_grad():
        net(inputs)
    del net.attention.self_attn.forward
    # Precondition: the fused path never calls self_attn, so the library must turn it off.
    assert calls == [] and torch.backends.mha.get_fastpath_enabled()
    model = kx.load_model(net, input_length=LENGTH)
    assert model.attention.attention_layers() == ["attention.self_attn"]
    result = kx.attention(model, x)
    assert torch.backends.mha.get_fastpath_enabled()  # restored afterwards
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        kx.attention(model, x[:1])
        assert not torch.backends.mha.get_fastpath_enabled()  # restored, not forced on
    finally:
        torch.backends.mha.set_fastpath_enabled(True)
    with torch.no_grad():
        expected = manual_torch_maps(net.attention.self_attn, net.tokens(inputs))
    assert expected.max(-1).mean() > 0.3
    np.testing.assert_allclose(result.maps[:, 0], expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mask", [None, "causal"])
def test_transformer_encoder_stack_maps_equal_recomputation_layer_by_layer(mask, x):
    import torch

    net = torch_transformer("encoder", mask=mask, n_layers=2)
    model = kx.load_model(net, input_length=LENGTH)
    names = ["attention.layers.0.self_attn", "attention.layers.1.self_attn"]
    assert model.attention.attention_layers() == names
    result = kx.attention(model, x, batch_size=4)
    assert result.layers == names and result.maps.shape == (6, 2, HEADS, TOKENS, TOKENS)
    causal = causal_mask(TOKENS, boolean=False) if mask else None
    # The second layer sees the first layer's output; with gradients enabled the encoder layer
    # takes its ordinary (not fused) path, as the library does.
    with torch.enable_grad():
        h = net.tokens(torch_inputs(x))
        first = net.attention.layers[0](h, src_mask=causal, is_causal=bool(mask))
    for index, tokens in enumerate([h, first]):
        expected = manual_torch_maps(net.attention.layers[index].self_attn, tokens,
                                     attn_mask=causal)
        assert expected.max(-1).mean() > 0.3
        np.testing.assert_allclose(result.maps[:, index], expected, rtol=1e-5, atol=1e-6)
    assert_rows_sum_to_one(result.maps)
    if mask:
        upper = np.triu_indices(TOKENS, 1)
        assert result.maps[..., upper[0], upper[1]].max() == 0


def custom_attention_classes():
    """Two identical hand-written attention modules: one to register, one to leave alone."""
    import torch
    from torch import nn

    class Base(nn.Module):
        def __init__(self):
            super().__init__()
            self.query = nn.Linear(EMBED, EMBED)
            self.key = nn.Linear(EMBED, EMBED)
            self.value = nn.Linear(EMBED, EMBED)

        @staticmethod
        def heads(t):
            return t.reshape(len(t), -1, HEADS, EMBED // HEADS).transpose(1, 2)

        def probabilities(self, h):
            q, k = self.heads(self.query(h)), self.heads(self.key(h))
            return torch.softmax(q @ k.transpose(-1, -2) / (EMBED // HEADS) ** 0.5, -1)

        def forward(self, h):
            mixed = self.probabilities(h) @ self.heads(self.value(h))
            return mixed.transpose(1, 2).reshape(h.shape)

    class Registered(Base):
        pass

    class Unregistered(Base):
        pass

    return Registered, Unregistered


def test_registered_custom_attention_is_found_and_read(monkeypatch, x):
    import torch
    from torch import nn

    monkeypatch.setattr(attention_registry, "_HOOKS", dict(attention_registry._HOOKS))
    Registered, Unregistered = custom_attention_classes()

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = torch_stem()
            self.custom = Registered()
            self.other = Unregistered()
            self.head = nn.Linear(EMBED, 1)

        def forward(self, x):
            h = self.stem(x).transpose(1, 2)
            return self.head(self.other(self.custom(h)).mean(1))

    torch.manual_seed(0)
    net = Net().eval()
    with torch.no_grad():
        for projection in (net.custom.query, net.custom.key):
            projection.weight *= 12
            projection.bias.normal_()
    assert kx.load_model(net, input_length=LENGTH).attention.attention_layers() == []
    with pytest.raises(kx.InputError, match="register_attention"):
        kx.attention(kx.load_model(net, input_length=LENGTH), x)

    kx.register_attention(Registered, lambda module, args, kwargs: module.probabilities(args[0]))
    model = kx.load_model(net, input_length=LENGTH)
    assert model.attention.attention_layers() == ["custom"]
    result = kx.attention(model, x)
    with torch.no_grad():
        h = net.stem(torch_inputs(x)).transpose(1, 2).double().numpy()
    q, k = (split_heads(h @ linear.weight.detach().double().numpy().T
                        + linear.bias.detach().double().numpy())
            for linear in (net.custom.query, net.custom.key))
    expected = softmax(scaled_logits(q, k))
    assert expected.max(-1).mean() > 0.3
    np.testing.assert_allclose(result.maps[:, 0], expected, rtol=1e-5, atol=1e-6)
    # The default token hook (the first argument) places the tokens on the stem's bins.
    np.testing.assert_allclose(result.key_positions.centers, analytic_centres(), atol=1e-6)


def keras_transformer(seed=0, causal=False):
    """Keras counterpart: Conv1D(same) + MaxPooling1D + MultiHeadAttention + mean + Dense."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((LENGTH, 4))
    h = keras.layers.Conv1D(EMBED, KERNEL, padding="same", name="conv")(inputs)
    h = keras.layers.MaxPooling1D(POOL, name="pool")(h)
    attended = keras.layers.MultiHeadAttention(HEADS, EMBED // HEADS, name="attention")(
        h, h, use_causal_mask=causal)
    pooled = keras.layers.GlobalAveragePooling1D()(attended)
    net = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid", name="out")(pooled))
    layer = net.get_layer("attention")
    for dense in (layer._query_dense, layer._key_dense):
        kernel, bias = dense.get_weights()
        dense.set_weights([kernel * 4, np.random.default_rng(seed).normal(size=bias.shape)])
    return net


@pytest.mark.slow
@pytest.mark.parametrize("causal", [False, True])
def test_keras_multihead_attention_maps_equal_recomputation_from_kernels(causal, x):
    import keras

    net = keras_transformer(causal=causal)
    model = kx.load_model(net)
    assert model.attention.attention_layers() == ["attention"]
    result = kx.attention(model, x, batch_size=4)
    assert result.maps.shape == (6, 1, HEADS, TOKENS, TOKENS)
    h = np.asarray(keras.Model(net.inputs, net.get_layer("pool").output)([x]), dtype=np.float64)
    layer = net.get_layer("attention")
    projected = []
    for dense in (layer._query_dense, layer._key_dense):
        kernel, bias = (w.astype(np.float64) for w in dense.get_weights())  # (E, H, d), (H, d)
        projected.append(np.einsum("nte,ehd->nhtd", h, kernel) + bias[None, :, None, :])
    logits = scaled_logits(*projected)
    if causal:
        logits = np.where(np.triu(np.ones((TOKENS, TOKENS), bool), 1), -np.inf, logits)
    expected = softmax(logits)
    assert expected.max(-1).mean() > 0.3
    np.testing.assert_allclose(result.maps[:, 0], expected, rtol=1e-5, atol=1e-6)
    assert_rows_sum_to_one(result.maps)


@pytest.fixture(scope="module")
def encoder3():
    """Three stacked encoder layers, read once unreduced."""
    net = torch_transformer("encoder", n_layers=3, sharpen=6.0)
    return kx.load_model(net, input_length=LENGTH)


@pytest.fixture(scope="module")
def maps3(encoder3, x):
    return kx.attention(encoder3, x)


@pytest.mark.parametrize("reduce, axes", [("heads", 2), ("layers", 1), ("mean", (1, 2))])
def test_mean_reductions_equal_numpy_means(encoder3, maps3, x, reduce, axes):
    result = kx.attention(encoder3, x, reduce=reduce)
    np.testing.assert_array_equal(result.maps, maps3.maps)  # .maps stays unreduced
    assert result.reduce == reduce and result.settings["reduce"] == reduce
    np.testing.assert_allclose(result.reduced, maps3.maps.mean(axis=axes), atol=1e-7)
    assert_rows_sum_to_one(result.reduced)


def naive_rollout(maps):
    """Abnar & Zuidema's rollout, one sequence and one layer at a time."""
    n, layers, _, tokens, _ = maps.shape
    out = np.zeros((n, tokens, tokens))
    for i in range(n):
        flow = np.eye(tokens)
        for layer in range(layers):
            a = 0.5 * maps[i, layer].astype(np.float64).mean(axis=0) + 0.5 * np.eye(tokens)
            a = a / a.sum(axis=1, keepdims=True)
            flow = a @ flow
        out[i] = flow
    return out


def test_rollout_equals_layer_by_layer_product(encoder3, maps3, x):
    result = kx.attention(encoder3, x, reduce="rollout")
    expected = naive_rollout(maps3.maps)
    np.testing.assert_allclose(result.reduced, expected, rtol=1e-5, atol=1e-6)
    assert_rows_sum_to_one(result.reduced)
    # Order matters (last layer on the left): reversing the layers gives another answer.
    assert not np.allclose(naive_rollout(maps3.maps[:, ::-1]), expected, atol=1e-4)
    # Two of the layers, asked in reverse order, are still rolled out in forward order.
    two = kx.attention(encoder3, x, layers=[2, 0], reduce="rollout")
    np.testing.assert_allclose(two.reduced, naive_rollout(maps3.maps[:, [0, 2]]), rtol=1e-5,
                               atol=1e-6)


def test_rollout_renormalises_maps_whose_rows_do_not_sum_to_one():
    # rollout() is public: maps cut to some of the keys no longer sum to 1 per row.
    maps = np.random.default_rng(0).uniform(size=(2, 3, 2, 5, 5)).astype(np.float32)
    flow = rollout(maps)
    np.testing.assert_allclose(flow, naive_rollout(maps), rtol=1e-5, atol=1e-6)
    assert_rows_sum_to_one(flow)


def test_rollout_needs_square_maps(x):
    model = kx.load_model(torch_transformer("mha", add_bias_kv=True), input_length=LENGTH)
    with pytest.raises(kx.InputError, match=f"{TOKENS} x {TOKENS + 1}"):
        kx.attention(model, x, reduce="rollout")
    with pytest.raises(kx.InputError, match="3 x 4"):
        rollout(np.full((1, 1, 1, 3, 4), 0.25))


def test_layer_selection_by_index_and_name(encoder3, maps3, x):
    names = encoder3.attention.attention_layers()
    by_index = kx.attention(encoder3, x, layers=[-1, 1])
    by_name = kx.attention(encoder3, x, layers=[names[2], names[1]])
    assert by_index.layers == by_name.layers == names[1:]  # forward order
    np.testing.assert_array_equal(by_index.maps, maps3.maps[:, 1:])
    np.testing.assert_array_equal(by_name.maps, by_index.maps)
    single = kx.attention(encoder3, x, layers=names[0], heads=[1])
    assert single.layers == names[:1] and single.heads == [1]
    np.testing.assert_array_equal(single.maps, maps3.maps[:, :1, 1:])


def test_query_picks_the_row_of_the_nearest_token(encoder3, maps3, x):
    result = kx.attention(encoder3, x, reduce="mean", query=37)
    token = int(np.argmin(np.abs(analytic_centres() - 37)))
    assert token == 9
    np.testing.assert_array_equal(result.query, np.full(6, token))
    assert result.reduced.shape == (6, TOKENS)
    np.testing.assert_allclose(result.reduced, maps3.maps.mean(axis=(1, 2))[:, token],
                               atol=1e-7)

    positions = np.array([0, 37, LENGTH - 1, 21, 10, 50])
    tokens = np.array([int(np.argmin(np.abs(analytic_centres() - p))) for p in positions])
    assert len(set(tokens)) == 6
    per_sequence = kx.attention(encoder3, x, query=positions)
    np.testing.assert_array_equal(per_sequence.query, tokens)
    assert per_sequence.reduced.shape == (6, 3, HEADS, TOKENS)
    np.testing.assert_array_equal(per_sequence.reduced,
                                  maps3.maps[np.arange(6), :, :, tokens])
    assert per_sequence.settings["query"] == positions.tolist()


@pytest.mark.parametrize("options, message", [
    ({"query": LENGTH}, f"query position {LENGTH} of sequence 0: outside the input"),
    ({"query": -1}, "outside the input"),
    ({"query": 2.5}, "expected one base position or one per sequence"),
    ({"query": [1, 2]}, r"one per sequence \(6 integers\)"),
    ({"heads": [2]}, "heads=\\[2\\]: expected indices 0 to 1"),
    ({"heads": []}, "expected indices 0 to 1"),
    ({"layers": [3]}, "attention layer index 3: the model has 3 attention layers"),
    ({"layers": ["head"]}, "'head': not an attention layer; attention layers are "
                           "attention.layers.0.self_attn"),
    ({"reduce": "max"}, "reduce='max': expected one of None, heads, layers, mean, rollout"),
])
def test_bad_options_name_the_problem(encoder3, x, options, message):
    with pytest.raises(kx.InputError, match=message):
        kx.attention(encoder3, x, **options)


def test_layers_of_different_shapes_are_refused(x):
    import torch
    from torch import nn

    class TwoScales(nn.Module):
        """Attention on the stem's tokens, then on tokens pooled two by two."""

        def __init__(self):
            super().__init__()
            self.stem = torch_stem()
            self.fine = nn.MultiheadAttention(EMBED, HEADS, batch_first=True)
            self.coarse = nn.MultiheadAttention(EMBED, HEADS, batch_first=True)
            self.head = nn.Linear(EMBED, 1)

        def forward(self, x):
            h = self.stem(x).transpose(1, 2)
            h = self.fine(h, h, h, need_weights=False)[0]
            h = nn.functional.max_pool1d(h.transpose(1, 2), 2).transpose(1, 2)
            return self.head(self.coarse(h, h, h, need_weights=False)[0].mean(1))

    torch.manual_seed(0)
    model = kx.load_model(TwoScales().eval(), input_length=LENGTH)
    with pytest.raises(kx.InputError, match=rf"different map shapes.*fine \(2, {TOKENS}, "
                                            rf"{TOKENS}\).*coarse \(2, {TOKENS // 2}, "
                                            rf"{TOKENS // 2}\).*layers="):
        kx.attention(model, x)
    assert kx.attention(model, x, layers=["coarse"]).maps.shape == \
        (6, 1, HEADS, TOKENS // 2, TOKENS // 2)


def test_model_without_attention_layers_is_refused(x):
    model = kx.load_model(make_torch_cnn(length=LENGTH), input_length=LENGTH)
    with pytest.raises(kx.InputError, match="no attention layers.*register_attention"):
        kx.attention(model, x)


@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_token_spans_are_the_stems_receptive_fields(framework, x):
    model = kx.load_model(torch_transformer("mha"), input_length=LENGTH) \
        if framework == "torch" else kx.load_model(keras_transformer())
    result = kx.attention(model, x)
    for positions in (result.query_positions, result.key_positions):
        np.testing.assert_array_equal(positions.spans, analytic_spans())
        np.testing.assert_allclose(positions.centers, analytic_centres(), atol=1e-6)
        assert positions.source == "receptive field of attention"


def test_extra_keys_have_no_bases(x):
    model = kx.load_model(torch_transformer("mha", add_bias_kv=True, add_zero_attn=True),
                          input_length=LENGTH)
    keys = kx.attention(model, x).key_positions
    np.testing.assert_array_equal(keys.spans[:TOKENS], analytic_spans())
    np.testing.assert_array_equal(keys.spans[TOKENS:], -1)
    assert np.isnan(keys.centers[TOKENS:]).all()


def test_later_layers_keep_the_first_layers_positions(encoder3, x):
    result = kx.attention(encoder3, x, layers=[2])
    assert result.layers == [encoder3.attention.attention_layers()[2]]
    for positions in (result.query_positions, result.key_positions):
        np.testing.assert_array_equal(positions.spans, analytic_spans())
        np.testing.assert_allclose(positions.centers, analytic_centres(), atol=1e-6)
        assert positions.source == "receptive field of attention.layers.0.self_attn"


def test_genome_spans_of_bed_intervals(encoder3):
    data = EXAMPLE_DIR / "data"
    intervals = [Interval("chr1", 1189, 1389, "forward", "+"),
                 Interval("chr1", 1737, 1937, "reverse", "-")]
    seqs = kx.from_bed(intervals, data / "genome.fa", LENGTH, use_strand=True)
    result = kx.attention(encoder3, seqs)
    assert result.names == ["forward", "reverse"]
    forward, reverse = result.intervals
    assert not forward.reverse and reverse.reverse and forward.end - forward.start == LENGTH
    spans = analytic_spans()
    np.testing.assert_array_equal(result.genome_spans(0), forward.start + spans)
    np.testing.assert_array_equal(result.genome_spans(1, keys=False),
                                  np.stack([reverse.end - spans[:, 1],
                                            reverse.end - spans[:, 0]], axis=1))
    # The reverse interval's one-hot is the reverse complement of the genome window.
    plus = kx.from_bed([Interval("chr1", reverse.start, reverse.end)], data / "genome.fa")
    np.testing.assert_array_equal(seqs.onehot[1], plus.onehot[0][::-1, ::-1])
    with pytest.raises(ValueError, match="not read from genome intervals"):
        kx.attention(encoder3, random_onehot(1, LENGTH)).genome_spans(0)



@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The shared tiny Kipoi transformer (conv(9, same) + ReLU + maxpool(10), two encoder
    layers) and its rolled-out maps for three sequences."""
    from conftest import make_tiny_transformer

    model = kx.load_model(str(make_tiny_transformer(tmp_path_factory.mktemp("tiny") / "tiny")))
    seqs = random_onehot(3, 100, seed=5)
    return model, seqs, kx.attention(model, seqs, reduce="rollout")


def tiny_spans():
    start, end = 10 * np.arange(10) - 4, 10 * np.arange(10) + 14
    return np.stack([np.clip(start, 0, 100), np.clip(end, 0, 100)], axis=1)


def test_kipoi_transformer_maps_equal_recomputation(tiny):
    import torch

    model, seqs, result = tiny
    assert model.attention.attention_layers() == ["block1.self_attn", "block2.self_attn"]
    assert result.maps.shape == (3, 2, 2, 10, 10)
    net = model.predictor.module
    with torch.enable_grad():  # the encoder layers' ordinary path, as the library takes it
        tokens = net.pool(net.relu(net.conv(torch.tensor(seqs.transpose(0, 2, 1)))))
        tokens = tokens.transpose(1, 2)
        second = net.block1(tokens)
    for index, (layer, h) in enumerate([(net.block1, tokens), (net.block2, second)]):
        np.testing.assert_allclose(result.maps[:, index], manual_torch_maps(layer.self_attn, h),
                                   rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result.reduced, naive_rollout(result.maps), rtol=1e-5, atol=1e-6)


def test_kipoi_transformer_tokens_are_centred_on_their_bins(tiny):
    np.testing.assert_allclose(tiny[2].key_positions.centers, 10 * np.arange(10) + 4.5)


def test_kipoi_transformer_token_spans_are_exact(tiny):
    # A max-pooled edge base often changes no channel's maximum for one probe and one
    # substitution; the spans must still come out whole.
    np.testing.assert_array_equal(tiny[2].key_positions.spans, tiny_spans())
