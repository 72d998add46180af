"""Fast ISM (windowed recomputation) against naive ISM on several convolutional architectures.

The naive reference is ISM of the same network behind a plain predict function (a model
without a graph, so ISM mutates and predicts every mutant in full), and for one case a hand
loop over the mutants.
"""
import logging
import os
import time

import numpy as np
import pytest

import kipoi_explain as kx
from kipoi_explain.backends.torch.fast_ism import _Plan
from kipoi_explain.sequences import one_hot

from conftest import random_onehot

torch = pytest.importorskip("torch")
nn, F = torch.nn, torch.nn.functional


# ---- architectures ---------------------------------------------------------------------------

def basset_like(length, filters=(16, 12, 8), kernels=(7, 5, 3), pools=(3, 4, 2), dense=16,
                outputs=3, batch_norm=True):
    """Conv-(BatchNorm)-ReLU-MaxPool blocks, flatten, two dense layers (Basset's shape)."""
    layers, channels, size = [], 4, length
    for i, (out, kernel, pool) in enumerate(zip(filters, kernels, pools)):
        # 'same' padding on the first block, explicit and 'valid' on the next ones.
        padding = "same" if i == 0 else (kernel // 2 if i == 1 else 0)
        layers += [nn.Conv1d(channels, out, kernel, padding=padding)]
        layers += [nn.BatchNorm1d(out)] if batch_norm else []
        # In-place activations overwrite what the reference pass keeps: they must still work.
        layers += [nn.ReLU(inplace=i == 1), nn.MaxPool1d(pool)]
        size = ((size if padding != 0 else size - kernel + 1)) // pool
        channels = out
    layers += [nn.Flatten(), nn.Linear(channels * size, dense), nn.ReLU(), nn.Dropout(0.3),
               nn.Linear(dense, outputs)]
    return nn.Sequential(*layers)


class BPNetLike(nn.Module):
    """A stem convolution and dilated residual convolutions; a count head (global average and
    dense layer) or a profile head (convolution, output ``(N, bins, tasks)``).

    With ``padding='valid'`` the residual branch is cropped to the convolution's output, as in
    BPNet / ChromBPNet; ``gated`` multiplies two branches (sigmoid x tanh) before the sum.
    """

    def __init__(self, filters=8, layers=4, tasks=2, padding="same", head="count",
                 gated=False):
        super().__init__()
        self.stem = nn.Conv1d(4, filters, 9, padding=padding)
        self.dilated = nn.ModuleList(nn.Conv1d(filters, filters, 3, dilation=2 ** i,
                                               padding=padding) for i in range(1, layers + 1))
        self.gates = nn.ModuleList(nn.Conv1d(filters, filters, 3, dilation=2 ** i,
                                             padding=padding) for i in range(1, layers + 1))
        self.padding, self.head, self.gated = padding, head, gated
        self.profile = nn.Conv1d(filters, tasks, 7, padding=padding)
        self.count = nn.Linear(filters, tasks)

    def forward(self, x):
        x = torch.relu(self.stem(x))
        for conv, gate in zip(self.dilated, self.gates):
            # In place, as models often do: windows and reference are overwritten alike.
            y = F.relu(conv(x), inplace=True)
            if self.gated:
                y = torch.sigmoid(gate(x)) * torch.tanh(y)
            if self.padding == "valid":
                crop = conv.dilation[0]
                x = x[:, :, crop:-crop]
            x = x + y
        if self.head == "profile":
            return self.profile(x).transpose(1, 2)
        return self.count(x.mean(dim=-1))


def strided(length):
    """Strided and dilated, grouped convolutions; average pooling with padding; max pooling
    with ``ceil_mode``; adaptive pooling to one position."""
    return nn.Sequential(
        nn.Conv1d(4, 8, 6, stride=2, padding=2), nn.ELU(),
        nn.AvgPool1d(3, stride=2, padding=1),
        nn.Conv1d(8, 8, 3, dilation=2, groups=2, padding="same"), nn.GELU(),
        nn.MaxPool1d(3, stride=2, padding=1, ceil_mode=True),
        nn.Conv1d(8, 6, 4, stride=3), nn.Softplus(),
        nn.AdaptiveMaxPool1d(1), nn.Flatten(), nn.Linear(6, 2))


class Functional(nn.Module):
    """Functional calls and tensor methods: ``F.conv1d`` with parameters, per-channel scaling,
    concatenation of two branches, ``F.pad``, ``F.max_pool1d``, ``x.sigmoid() * x`` and a
    flatten through ``x.view(x.size(0), -1)``."""

    def __init__(self, length):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(6, 4, 5) * 0.4)
        self.bias = nn.Parameter(torch.randn(6) * 0.1)
        self.scale = nn.Parameter(torch.rand(1, 6, 1) + 0.5)
        self.left, self.right = nn.Conv1d(6, 4, 3, padding=1), nn.Conv1d(6, 4, 5, padding=2)
        self.out = nn.Linear(8 * ((length + 5) // 2), 2)

    def forward(self, x):
        x = F.relu(F.conv1d(x, self.weight, self.bias, padding=2)) * self.scale + 0.1
        x = torch.cat([self.left(x).relu(), torch.tanh(self.right(x))], dim=1)
        x = F.max_pool1d(F.pad(x, (3, 2)), 2)
        x = x.sigmoid() * x
        return self.out(x.view(x.size(0), -1))


class ChannelsLast(nn.Module):
    """Input ``(N, L, 4)``: transposes to the convolution, a per-position dense layer and
    layer norm on ``(N, L, C)``, global mean."""

    def __init__(self):
        super().__init__()
        self.conv, self.conv2 = nn.Conv1d(4, 8, 7, padding=3), nn.Conv1d(8, 8, 5)
        self.dense, self.norm = nn.Linear(8, 8), nn.LayerNorm(8)
        self.out = nn.Linear(8, 2)

    def forward(self, x):
        h = self.conv(x.transpose(1, 2)).relu()
        h = self.norm(F.gelu(self.dense(h.permute(0, 2, 1))))
        return self.out(self.conv2(h.transpose(1, 2)).mean(-1))


class Attention(nn.Module):
    """A convolution, then self-attention over every position: no windowed ISM after it."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 8, 5, padding=2)
        self.attention = nn.MultiheadAttention(8, 2, batch_first=True)
        self.out = nn.Linear(8, 2)

    def forward(self, x):
        h = self.conv(x).relu().transpose(1, 2)
        h = self.attention(h, h, h)[0]
        return self.out(h.mean(1))


class Untraceable(nn.Module):
    """Control flow on the input's values: torch.fx cannot trace it."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 4, 5, padding=2)
        self.out = nn.Linear(4, 2)

    def forward(self, x):
        h = self.conv(x)
        if h.sum() > 0:
            h = h.relu()
        return self.out(h.mean(-1))


# ---- helpers ---------------------------------------------------------------------------------

def built(factory, seed=0):
    torch.manual_seed(seed)
    net = factory()
    for module in net.modules():
        # He initialisation keeps the signal's scale through the layers: substitutions move
        # the outputs by O(1), so that a tolerance of 1e-5 is tight.
        if isinstance(module, (nn.Conv1d, nn.Linear)):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        # Non-trivial running statistics, so that batch norm is more than an identity.
        if isinstance(module, nn.BatchNorm1d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    return net.eval()


def loaded(net, length, layout=None):
    """The network as a TorchModel (fast ISM) and behind a predict function (naive ISM)."""
    layout = layout or kx.InputLayout(alphabet_axis=0)

    def predict(a):
        with torch.no_grad():
            return net(torch.tensor(a)).numpy()

    return (kx.load_model(net, input_length=length, layout=layout),
            kx.load_model(predict, input_length=length, layout=layout))


def assert_same_as_naive(fast_model, naive_model, x, caplog, **options):
    with caplog.at_level(logging.WARNING, logger="kipoi_explain"):
        fast = kx.explain(fast_model, x, "ism", **options)
    assert not caplog.records, caplog.text                      # the fast path ran
    naive = kx.explain(naive_model, x, "ism", **options)
    assert_close(fast.scores, naive)
    # The comparison has substance: substitutions move the target well above the tolerance.
    assert np.abs(naive.scores).max() > 1e-2
    return fast


def assert_close(scores, naive):
    """``scores`` equal the naive ISM scores to 1e-5 relative to the model's outputs.

    float32 differences of a target summing outputs of total size S are exact to a few units
    in the last place of S, for naive ISM as for fast ISM: allow about 16 of them.
    """
    size = np.abs(naive.predictions).reshape(len(naive.scores), -1).sum(1).max()
    np.testing.assert_allclose(scores, naive.scores, rtol=1e-5, atol=1e-6 * max(1, size))


def hand_ism(net, x, column):
    """Every substitution as its own forward pass of the module (channels first)."""
    def call(a):
        with torch.no_grad():
            return net(torch.tensor(a.transpose(0, 2, 1).copy())).numpy()[:, column]

    f_x = call(x)
    scores = np.zeros(x.shape, dtype=np.float64)
    for i in range(len(x)):
        for pos in range(x.shape[1]):
            for base in range(4):
                if x[i, pos, base] != 1.0:
                    mutant = x[i:i + 1].copy()
                    mutant[0, pos] = np.eye(4)[base]
                    scores[i, pos, base] = call(mutant)[0] - f_x[i]
    return scores


def windowed_layers(model, length):
    """Names of the layers fast ISM computes on windows for this model."""
    plan = _Plan.build(model.fast_ism, length)
    return {node.target for node, step in plan.steps.items()
            if step.kind == "window" and node.op == "call_module"}


# ---- equality with naive ISM -----------------------------------------------------------------

def test_basset_like_equals_hand_loop():
    length = 60
    net = built(lambda: basset_like(length, outputs=2))
    model = kx.load_model(net, input_length=length)
    x = random_onehot(2, length, seed=1)
    result = kx.explain(model, x, "ism", target=1)
    np.testing.assert_allclose(result.scores, hand_ism(net, x, 1), rtol=1e-5, atol=1e-5)
    assert (result.scores[x == 1] == 0).all()


@pytest.mark.parametrize("target", [0, "all"])
def test_basset_like(caplog, target):
    length = 150
    fast_model, naive_model = loaded(built(lambda: basset_like(length)), length)
    assert_same_as_naive(fast_model, naive_model, random_onehot(3, length, seed=2), caplog,
                         target=target)
    # Every convolution, batch norm and pooling layer ran on windows; the dense layers did not.
    assert {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"} <= \
        windowed_layers(fast_model, length)
    assert "13" not in windowed_layers(fast_model, length)


@pytest.mark.parametrize("padding, head, gated, layers", [("same", "count", False, 4),
                                                          ("same", "count", True, 6),
                                                          ("valid", "profile", False, 4)])
def test_bpnet_like(caplog, padding, head, gated, layers):
    """With 6 layers the receptive field outgrows the sequence: the last layer runs in full
    on the pasted windows."""
    length = 160
    net = built(lambda: BPNetLike(padding=padding, head=head, gated=gated, layers=layers))
    fast_model, naive_model = loaded(net, length)
    x = random_onehot(2, length, seed=3)
    assert_same_as_naive(fast_model, naive_model, x, caplog, target="all")
    if head == "profile":
        # A profile output (bins, tasks): one task over a window of bins.
        assert fast_model.output_shape[1] == 2
        caplog.clear()
        assert_same_as_naive(fast_model, naive_model, x, caplog, target=1, bins=(10, 30))
    assert {"stem", "dilated.0", "dilated.3"} <= windowed_layers(fast_model, length)
    if layers == 6:
        assert not {"dilated.5", "gates.5"} & windowed_layers(fast_model, length)


def test_strided_and_pooled(caplog):
    length = 97
    fast_model, naive_model = loaded(built(lambda: strided(length)), length)
    assert_same_as_naive(fast_model, naive_model, random_onehot(2, length, seed=4), caplog,
                         target="all")
    assert {"0", "2", "3", "5", "6"} <= windowed_layers(fast_model, length)


def test_functional_calls(caplog):
    length = 81
    fast_model, naive_model = loaded(built(lambda: Functional(length)), length)
    fast = assert_same_as_naive(fast_model, naive_model, random_onehot(2, length, seed=5),
                                caplog, target=0)
    assert {"left", "right"} <= windowed_layers(fast_model, length)
    assert fast.scores.shape == (2, length, 4)


def test_channels_last_and_alphabet(caplog):
    length = 90
    layout = kx.InputLayout(alphabet="TGCA", alphabet_axis=1)
    fast_model, naive_model = loaded(built(ChannelsLast), length, layout)
    assert_same_as_naive(fast_model, naive_model, random_onehot(2, length, seed=6), caplog,
                         target=1)
    assert {"conv", "dense", "norm", "conv2"} <= windowed_layers(fast_model, length)


def test_window_and_small_blocks(caplog):
    """A window of positions, and blocks far smaller than a sequence's mutants or straddling
    sequences: the held reference must follow the blocks."""
    length = 120
    fast_model, naive_model = loaded(built(lambda: BPNetLike(layers=3)), length)
    x = random_onehot(4, length, seed=7)
    fast = assert_same_as_naive(fast_model, naive_model, x, caplog, target=0, start=37, end=55,
                                batch_size=7)
    assert not fast.scores[:, :37].any() and not fast.scores[:, 55:].any()
    assert np.count_nonzero(fast.scores[:, 37:55]) == 4 * 18 * 3
    caplog.clear()
    assert_same_as_naive(fast_model, naive_model, x, caplog, target=1, batch_size=1000)


@pytest.mark.parametrize("rule", ["zeros", "uniform"])
def test_positions_without_a_base(caplog, rule):
    length = 100
    fast_model, naive_model = loaded(built(lambda: basset_like(length)), length)
    seq = "".join(np.random.default_rng(8).choice(list("ACGT"), length))
    seq = seq[:5] + "NN" + seq[7:60] + "N" + seq[61:]
    fast = assert_same_as_naive(fast_model, naive_model, one_hot([seq], ambiguous=rule), caplog,
                                target=2)
    assert np.count_nonzero(fast.scores[0, 5]) == 4 and np.count_nonzero(fast.scores[0, 60]) == 4


# ---- fallbacks -------------------------------------------------------------------------------

@pytest.mark.parametrize("factory, reason", [
    (Attention, "'attention' (MultiheadAttention) is not an operation fast ISM can restrict"),
    (Untraceable, "torch.fx cannot trace it"),
])
def test_fallback_to_naive_logs_the_reason(caplog, factory, reason):
    length = 40
    fast_model, naive_model = loaded(built(factory), length)
    x = random_onehot(2, length, seed=9)
    with caplog.at_level(logging.WARNING, logger="kipoi_explain"):
        result = kx.explain(fast_model, x, "ism", target=0)
    assert len(caplog.records) == 1 and reason in caplog.records[0].getMessage()
    assert "runs naive ISM" in caplog.records[0].getMessage()
    naive = kx.explain(naive_model, x, "ism", target=0)
    assert_close(result.scores, naive)
    assert np.abs(naive.scores).max() > 1e-2


def test_mixed_precision_and_other_frameworks_decline(caplog):
    length = 40
    net = built(lambda: basset_like(length, filters=(4, 4, 4), kernels=(3, 3, 3),
                                    pools=(2, 2, 2)))
    mixed = kx.load_model(net, input_length=length, precision="mixed")
    naive = loaded(net, length)[1]
    x, target = random_onehot(1, length), mixed.target(0)
    with caplog.at_level(logging.WARNING, logger="kipoi_explain"):
        assert mixed.fast_ism.ism_scores(x, target, 64, False, 0, length) is None
    assert naive.fast_ism is None
    assert len(caplog.records) == 1 and "precision='mixed'" in caplog.text


# ---- speed (reported, not asserted) ----------------------------------------------------------

def basset(length=1000):
    """Basset's architecture (Kelley et al. 2016): 300/200/200 filters of 19/11/7, max pooling
    3/4/4, two dense layers of 1000, 164 outputs."""
    return basset_like(length, filters=(300, 200, 200), kernels=(19, 11, 7), pools=(3, 4, 4),
                       dense=1000, outputs=164)


@pytest.mark.skipif(not os.environ.get("KX_FAST_ISM_BENCHMARK"),
                    reason="timing run: set KX_FAST_ISM_BENCHMARK=1")
@pytest.mark.parametrize("name", ["basset", "bpnet"])
def test_speedup_report(name):
    """Fast against naive ISM, both through explain at the same batch size, on 1000 bp."""
    length, n = 1000, int(os.environ.get("KX_FAST_ISM_SEQUENCES", "2"))
    factory = basset if name == "basset" else \
        (lambda: BPNetLike(filters=64, layers=9, padding="same"))
    model = kx.load_model(built(factory), input_length=length)
    x = random_onehot(n, length, seed=10)
    results, seconds = {}, {}
    for fast in (True, False):
        began = time.perf_counter()
        results[fast] = kx.explain(model, x, "ism", target=0, fast=fast, batch_size=128)
        seconds[fast] = time.perf_counter() - began
    print(f"\n{name} {length} bp, {n} sequences on {model.predictor.device} ({torch.get_num_threads()} "
          f"threads): fast {seconds[True]:.1f} s, naive {seconds[False]:.1f} s, "
          f"{seconds[False] / seconds[True]:.1f}x")
    assert_close(results[True].scores, results[False])
