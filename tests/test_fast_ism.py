"""Fast ISM (windowed recomputation) against naive ISM on several convolutional architectures.

The naive reference is ISM of the same network behind a plain predict function (a model
without a graph, so ISM mutates and predicts every mutant in full), and for one case a hand
loop over the mutants.
"""
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import kipoi_explain as kx
from kipoi_explain.backends.torch.fast_ism import _Plan
from kipoi_explain.sequences import one_hot

from conftest import random_onehot

torch = pytest.importorskip("torch")
nn, F = torch.nn, torch.nn.functional
# A global name, as models import it: the tracer wraps calls of it by name.
rearrange = pytest.importorskip("einops").rearrange

# The benchmarks' architectures: the zoo layouts, and the published models (small, random).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import architectures  # noqa: E402
import published  # noqa: E402


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
    """A convolution, then self-attention over every position: windows end there, the
    attention and what follows run in full."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 8, 5, padding=2)
        self.attention = nn.MultiheadAttention(8, 2, batch_first=True)
        self.out = nn.Linear(8, 2)

    def forward(self, x):
        h = self.conv(x).relu().transpose(1, 2)
        h = self.attention(h, h, h)[0]
        return self.out(h.mean(1))


class AttentionFirst(nn.Module):
    """Self-attention on the input itself: nothing can run on a window."""

    def __init__(self):
        super().__init__()
        self.attention = nn.MultiheadAttention(4, 2, batch_first=True)
        self.out = nn.Linear(4, 2)

    def forward(self, x):
        h = x.transpose(1, 2)
        return self.out(self.attention(h, h, h)[0].mean(1))


class Keywords(nn.Module):
    """A block whose forward takes ``**kwargs`` (as Enformer's ``Residual``)."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x, **kwargs):
        return self.fn(x, **kwargs) + x


class PadToEven(nn.Module):
    """Branches on the length, as Basenji2's ``KerasMaxPool1d`` does: traced at the length
    explained."""

    def forward(self, x):
        if x.shape[-1] % 2 == 1:
            x = F.pad(x, (0, 1), value=-float("inf"))
        b, c, n = x.shape
        return F.max_pool1d(x, 2).reshape(b, c, n // 2)


class ValueBranch(nn.Module):
    """Branches on the values: torch.fx cannot trace into it; it runs as a whole."""

    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, 3, padding=1)

    def forward(self, x):
        h = self.conv(x)
        return h.relu() if h.sum() > 0 else h.tanh()


class HardToTrace(nn.Module):
    """Convolutions through a ``**kwargs`` block and a length branch, an einops rearrange and
    a 4-D block pooling as Enformer's attention pooling writes it, then a block torch.fx
    cannot trace into, then a dense layer."""

    def __init__(self, length):
        super().__init__()
        self.stem = nn.Conv1d(4, 8, 7, padding=3)
        self.residual = Keywords(nn.Sequential(nn.BatchNorm1d(8), nn.GELU(),
                                               nn.Conv1d(8, 8, 3, padding=1)))
        self.pool = PadToEven()
        self.logits = nn.Conv2d(8, 8, 1)
        self.opaque = ValueBranch(8)
        self.out = nn.Linear(8 * ((length + 1) // 4), 2)

    def forward(self, x):
        h = self.pool(self.residual(self.stem(x)))
        h = rearrange(h, "b d (n p) -> b d n p", p=2)
        h = (h * self.logits(h).softmax(dim=-1)).sum(dim=-1)
        return self.out(self.opaque(h).flatten(1))


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


def loaded(net, length, layout=None, **options):
    """The network as a TorchModel (fast ISM, given ``options``: ``output_layout``) and behind
    a predict function (naive ISM, which reads a 2-D output as bins by tasks)."""
    layout = layout or kx.InputLayout(alphabet_axis=0)

    def predict(a):
        with torch.no_grad():
            return net(torch.tensor(a)).numpy()

    return (kx.load_model(net, input_length=length, layout=layout, **options),
            kx.load_model(predict, input_length=length, layout=layout))


def assert_same_as_naive(fast_model, naive_model, x, caplog, ulps=1e-6, **options):
    with caplog.at_level(logging.WARNING, logger="kipoi_explain"):
        fast = kx.explain(fast_model, x, "ism", **options)
    assert not caplog.records, caplog.text                      # the fast path ran
    naive = kx.explain(naive_model, x, "ism", **options)
    assert_close(fast.scores, naive, ulps)
    # The comparison has substance: substitutions move the target well above the tolerance.
    assert np.abs(naive.scores).max() > 1e-2
    return fast


def assert_close(scores, naive, ulps=1e-6):
    """``scores`` equal the naive ISM scores to 1e-5 relative to the model's outputs.

    float32 differences of a target summing outputs of total size S are exact to a few units
    in the last place of S, for naive ISM as for fast ISM: allow about 16 of them (``ulps``
    times S).
    """
    size = np.abs(naive.predictions).reshape(len(naive.scores), -1).sum(1).max()
    np.testing.assert_allclose(scores, naive.scores, rtol=10 * ulps,
                               atol=ulps * max(1, size))


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
    # A profile (bins, tasks) says which axis holds the tasks.
    options = dict(output_layout="bins,tasks") if head == "profile" else {}
    fast_model, naive_model = loaded(net, length, **options)
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


# ---- zoo layouts, cuts, untraceable blocks, published models ---------------------------------

@pytest.mark.parametrize("factory, dummy_axis, length", [
    (lambda length: architectures.BassetZoo(length, (12, 8, 8), dense=16, tasks=3), 2, 600),
    (lambda length: architectures.BelugaZoo(length, (8, 8), kernel=8, dense=16, tasks=3), 1,
     240),
])
def test_zoo_layouts_with_an_axis_of_size_1(caplog, factory, dummy_axis, length):
    """Basset's ``(N, 4, L, 1)`` with ``Conv2d`` kernels ``(k, 1)`` and DeepSEA / Beluga's
    ``(N, 4, 1, L)`` with ``(1, k)``."""
    net = architectures.initialised(factory(length), 0)
    layout = kx.InputLayout(alphabet_axis=0, dummy_axis=dummy_axis)
    fast_model, naive_model = loaded(net, length, layout)
    assert_same_as_naive(fast_model, naive_model, random_onehot(2, length, seed=11), caplog,
                         target="all")
    # Every convolution, norm and pooling layer ran on windows, up to the flatten.
    windowed = windowed_layers(fast_model, length)
    assert {f"layers.{i}" for i in range(12)} <= windowed and "layers.12" not in windowed


def test_attention_cuts_the_windows(caplog):
    """Windows up to the attention; the attention and what follows run in full on the pasted
    windows."""
    length = 60
    fast_model, naive_model = loaded(built(Attention), length)
    assert_same_as_naive(fast_model, naive_model, random_onehot(2, length, seed=12), caplog,
                         target="all")
    assert windowed_layers(fast_model, length) == {"conv"}


def test_blocks_torch_fx_cannot_trace(caplog):
    """``**kwargs``, a branch on the length, einops and a 4-D block pooling run on windows; a
    block that branches on values runs as a whole, in full."""
    length = 83
    fast_model, naive_model = loaded(built(lambda: HardToTrace(length)), length)
    assert_same_as_naive(fast_model, naive_model, random_onehot(2, length, seed=13), caplog,
                         target="all")
    assert {"stem", "residual.fn.0", "residual.fn.2", "logits"} <= \
        windowed_layers(fast_model, length)
    assert "opaque" not in windowed_layers(fast_model, length)


@pytest.mark.parametrize("name, windowed", [
    ("enformer", {"stem.0", "conv_tower.2.0.2", "conv_tower.2.2.to_attn_logits"}),
    ("borzoi", {"conv_dna.conv_layer", "res_tower.8.conv_layer"}),
    ("basenji2", {"model.trunk.0.block.1", "model.head.final.block.1"}),
    ("bpnet", {"iconv", "rconvs.3", "fconv"}),
    ("chrombpnet", {"bias.fconv", "accessibility.fconv"}),
])
@pytest.mark.slow
def test_published_models(caplog, name, windowed):
    """The authors' own classes (:mod:`published`: small, random), loaded as they are, with
    every output of every head; the substitutions of 12 central positions (all of them would
    take naive ISM long)."""
    pytest.importorskip(published.PACKAGES[name])
    arch = published.BUILDERS[name]()
    model = kx.load_model(arch.module, input_length=arch.length, **arch.options)
    x = random_onehot(1, arch.length, seed=14)
    window = dict(target="all", start=arch.length // 2 - 6, end=arch.length // 2 + 6)
    with caplog.at_level(logging.WARNING, logger="kipoi_explain"):
        fast = kx.explain(model, x, "ism", **window)
    assert not caplog.records, caplog.text                      # the fast path ran
    naive = kx.explain(model, x, "ism", fast=False, **window)
    # Deep and wide float32 stacks round differently with the batch: Borzoi's naive ISM
    # differs by 3e-6 of the outputs' sum between batch sizes 1 and 36.
    assert_close(fast.scores, naive, 1e-5 if name == "borzoi" else 1e-6)
    assert np.abs(naive.scores).max() > 1e-2
    assert windowed <= windowed_layers(model, arch.length)


# ---- fallbacks -------------------------------------------------------------------------------

@pytest.mark.parametrize("factory, reason", [
    (AttentionFirst, "layer 'attention' (MultiheadAttention), where a mutation reaches 1 of "
                     "40 positions, is not an operation fast ISM can restrict to a window "
                     "before any convolution or pooling ran on a window: nothing to save"),
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
    print(f"\n{name} {length} bp, {n} sequences on {model.predictor.device} "
          f"({torch.get_num_threads()} threads): fast {seconds[True]:.1f} s, "
          f"naive {seconds[False]:.1f} s, "
          f"{seconds[False] / seconds[True]:.1f}x")
    assert_close(results[True].scores, results[False])
