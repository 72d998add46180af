"""DeepLIFT multipliers for PyTorch modules, checked against Captum and tangermeme."""
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from kipoi_explain.backends.torch.deeplift import UnsupportedOperation, deeplift_multipliers

captum_attr = pytest.importorskip("captum.attr")

LENGTH = 200
N = 8


def onehot(n, seed):
    """``(n, 4, LENGTH)`` float64 one-hot sequences."""
    idx = np.random.default_rng(seed).integers(0, 4, size=(n, LENGTH))
    return torch.tensor(np.eye(4)[idx].transpose(0, 2, 1))


def shuffled(x, seed):
    """Each sequence with its positions permuted: a reference of the same composition."""
    rng = np.random.default_rng(seed)
    return torch.stack([s[:, torch.as_tensor(rng.permutation(LENGTH))] for s in x])


def randomize_batchnorm(model):
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm1d):
                module.running_mean.normal_()
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_()
    return model


def captum_model(act, seed=0):
    """Two outputs; no two hooked nonlinearities share a tensor.

    Captum 0.9 hands a nonlinearity a stale upstream gradient when its output
    feeds another hooked module directly (captum#1104, e.g. ReLU -> MaxPool1d),
    so the Captum comparisons put a BatchNorm between them.
    """
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Conv1d(4, 8, 11), act(), nn.BatchNorm1d(8), nn.MaxPool1d(5),
        nn.Conv1d(8, 6, 3), act(), nn.Dropout(0.2), nn.Flatten(),
        nn.Linear(6 * 36, 5), act(), nn.Linear(5, 2), nn.Sigmoid(),
    )
    return randomize_batchnorm(model).double().eval()


def captum_deeplift(model, x, ref, target):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return captum_attr.DeepLift(model).attribute(x, baselines=ref, target=target)


def max_rel_diff(actual, expected):
    return ((actual - expected).abs().max() / expected.abs().max()).item()


def assert_complete(mult, x, ref, f_x, f_ref, rtol):
    delta = f_x - f_ref
    total = (mult * (x - ref)).flatten(1).sum(1)
    assert (total - delta).abs().max() <= rtol * delta.abs().max()


@pytest.mark.parametrize("act", [nn.ReLU, nn.ELU, nn.Tanh, nn.Sigmoid, nn.LeakyReLU, nn.Softplus])
@pytest.mark.parametrize("target", [0, 1])
def test_matches_captum(act, target):
    model = captum_model(act)
    x = onehot(N, seed=1)
    ref = shuffled(x, seed=2)
    mult, f_x, f_ref = deeplift_multipliers(model, x, ref, lambda out: out[:, target])
    expected = captum_deeplift(model, x, ref, target)
    assert max_rel_diff(mult * (x - ref), expected) < 1e-4
    assert_complete(mult, x, ref, f_x, f_ref, rtol=1e-3)
    with torch.no_grad():
        out = model(torch.cat([x, ref]))[:, target]
    torch.testing.assert_close(torch.cat([f_x, f_ref]), out)


def test_float32_matches_captum():
    model = captum_model(nn.ReLU).float()
    x = onehot(N, seed=3).float()
    ref = shuffled(x, seed=4)
    mult, f_x, f_ref = deeplift_multipliers(model, x, ref, lambda out: out[:, 1])
    assert max_rel_diff(mult * (x - ref), captum_deeplift(model, x, ref, 1)) < 1e-4
    assert_complete(mult, x, ref, f_x, f_ref, rtol=1e-3)


def test_deepshap_matches_captum_averaged_over_references():
    model = captum_model(nn.ReLU)
    x = onehot(4, seed=5)
    refs = [shuffled(x, seed=10 + k) for k in range(3)]
    ours = torch.stack([
        deeplift_multipliers(model, x, ref, lambda out: out[:, 0])[0] * (x - ref)
        for ref in refs
    ]).mean(0)
    expected = torch.stack([captum_deeplift(model, x, ref, 0) for ref in refs]).mean(0)
    assert max_rel_diff(ours, expected) < 1e-4


@pytest.mark.parametrize("make", [
    lambda: nn.Sequential(nn.Conv1d(4, 8, 11), nn.ReLU(), nn.MaxPool1d(5), nn.Flatten(),
                          nn.Linear(8 * 38, 2), nn.Sigmoid()),
    lambda: nn.Sequential(nn.Conv1d(4, 8, 11), nn.ReLU(), nn.MaxPool1d(4, 2), nn.Conv1d(8, 4, 3),
                          nn.ELU(), nn.MaxPool1d(3), nn.Flatten(), nn.Linear(4 * 30, 2)),
], ids=["relu-maxpool", "overlapping-pools"])
def test_adjacent_nonlinearities_match_tangermeme(make):
    """ReLU feeding MaxPool1d directly, where Captum 0.9 is off (captum#1104)."""
    deep_lift_shap = pytest.importorskip("tangermeme.deep_lift_shap").deep_lift_shap
    torch.manual_seed(0)
    model = make().double().eval()
    x = onehot(4, seed=6)
    refs = torch.stack([shuffled(x, seed=20 + k) for k in range(2)], dim=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = deep_lift_shap(model, x, target=1, references=refs, raw_outputs=True,
                                  device="cpu", dtype=torch.float64)
    for k in range(refs.shape[1]):
        mult, f_x, f_ref = deeplift_multipliers(model, x, refs[:, k], lambda out: out[:, 1])
        assert max_rel_diff(mult, expected[:, k]) < 1e-4
        assert_complete(mult, x, refs[:, k], f_x, f_ref, rtol=1e-6)


class Residual(nn.Module):
    """In-place ReLU (whose input is reused) called twice, skip connection,
    adaptive pools, affine head."""

    def __init__(self, act):
        super().__init__()
        self.conv1 = nn.Conv1d(4, 8, 5, padding=2)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv1d(8, 8, 3, padding=1)
        self.bn = nn.BatchNorm1d(8)
        self.act = act()
        self.max = nn.AdaptiveMaxPool1d(10)
        self.avg = nn.AdaptiveAvgPool1d(5)
        self.fc = nn.Linear(8 * 15, 3)

    def forward(self, x):
        h = self.conv1(x)
        y = self.relu(h)  # in place: `h` below is relu(h) as well
        h = self.relu(h + self.act(self.bn(self.conv2(y))))
        z = torch.cat([self.max(h), self.avg(h)], dim=2)
        return self.fc(z.view(z.size(0), -1)) * 0.5 + torch.ones(3, dtype=z.dtype)


@pytest.mark.parametrize("act", [nn.GELU, nn.SiLU, nn.Softplus, nn.Hardswish])
def test_completeness_float32(act):
    torch.manual_seed(0)
    model = randomize_batchnorm(Residual(act)).eval()
    x = onehot(N, seed=7).float()
    ref = shuffled(x, seed=8)
    mult, f_x, f_ref = deeplift_multipliers(model, x, ref, lambda out: out[:, 2])
    assert mult.shape == x.shape
    assert_complete(mult, x, ref, f_x, f_ref, rtol=1e-3)
    with torch.no_grad():
        torch.testing.assert_close(f_x, model(x)[:, 2])
        torch.testing.assert_close(f_ref, model(ref)[:, 2])


class ChangedAfter(nn.Module):
    """A ReLU's output changed afterwards, in place (``in_place``) or not."""

    def __init__(self, in_place):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv1d(4, 8, 5, padding=2), nn.Conv1d(8, 8, 3, padding=1)
        self.relu1, self.relu2 = nn.ReLU(), nn.ReLU()
        self.fc = nn.Linear(8, 2)
        self.in_place = in_place

    def forward(self, x):
        h = self.conv1(x)
        y = self.relu1(h)
        if self.in_place:
            y += h
        else:
            y = y + h
        return self.fc(self.relu2(self.conv2(y)).mean(-1))


@pytest.mark.parametrize("same_half", [False, True])
def test_outputs_changed_in_place_afterwards(same_half):
    """A rule module's output that the network changes in place later must not change the
    multipliers, whether every position takes the rescaled multiplier (no copy is made) or
    some positions meet their reference (the local gradient's graph reads the output)."""
    torch.manual_seed(0)
    in_place = ChangedAfter(in_place=True).double().eval()
    plain = ChangedAfter(in_place=False).double().eval()
    plain.load_state_dict(in_place.state_dict())
    x = onehot(N, seed=11)
    ref = shuffled(x, seed=12)
    if same_half:
        ref[:, :, : LENGTH // 2] = x[:, :, : LENGTH // 2]
    got = deeplift_multipliers(in_place, x, ref, lambda out: out[:, 1])
    expected = deeplift_multipliers(plain, x, ref, lambda out: out[:, 1])
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b)
    assert_complete(got[0], x, ref, got[1], got[2], rtol=1e-6)


def test_reference_equal_to_input_gives_the_gradient():
    torch.manual_seed(0)
    model = randomize_batchnorm(Residual(nn.Tanh)).double().eval()
    x = onehot(N, seed=9)
    mult, _, _ = deeplift_multipliers(model, x, x.clone(), lambda out: out[:, 0])
    inputs = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model(inputs)[:, 0].sum(), inputs)
    torch.testing.assert_close(mult, grad)


class Body(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.conv = nn.Conv1d(4, 4, 3)
        self.fn = fn

    def forward(self, x):
        return self.fn(self.conv(x))


class Net(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.body = nn.Sequential(nn.Conv1d(4, 4, 3), Body(fn))
        self.head = nn.Linear(4 * (LENGTH - 4), 2)

    def forward(self, x):
        return self.head(self.body(x).flatten(1))


#: Operations that now have exact rules, each in a module's ``forward``.
RULED = [
    lambda t: t.exp_(),                                   # in place, rescale
    lambda t: torch.sigmoid(1.702 * t) * t,               # GELU inline: a product
    lambda t: t * t,                                      # a product of a tensor with itself
    lambda t: t.max(dim=1, keepdim=True)[0] + t,          # a max reduction
    lambda t: torch.amax(t, dim=1, keepdim=True) * t,
    lambda t: F.softmax(t, dim=1),
    lambda t: torch.log_softmax(t, dim=-1) + torch.logsumexp(t, dim=1, keepdim=True),
    lambda t: 1 / (t.abs() + 1),                          # division by a dependent tensor
    lambda t: t / (t.square() + 1),
    lambda t: F.layer_norm(t, t.shape[-1:]),
    lambda t: torch.einsum("bcl,bdl->bcd", t, t).mean(-1, keepdim=True) + t,
    lambda t: (t @ t.transpose(1, 2)).softmax(-1) @ t,    # attention
]


@pytest.mark.parametrize("fn", RULED)
def test_functional_rules_keep_summation_to_delta(fn):
    model = Net(fn).double().eval()
    x, ref = onehot(3, seed=11), onehot(3, seed=12)
    mult, f_x, f_ref = deeplift_multipliers(model, x, ref, lambda out: out[:, 0])
    torch.testing.assert_close(((x - ref) * mult).sum((1, 2)), f_x - f_ref, rtol=1e-9,
                               atol=1e-9)
    assert (f_x - f_ref).abs().max() > 1e-3


@pytest.mark.parametrize("fn, op", [
    (lambda t: torch.clamp(t, min=t.mean(1, keepdim=True)), "torch.clamp"),
    (lambda t: torch.where(t > 0, t, 0.0), "Tensor.gt"),
    (lambda t: t - t.mean(0), "a reduction over the batch dimension"),
    (lambda t: torch.sort(t, dim=-1).values, "torch.sort"),
    (lambda t: torch.einsum("bcl,bcl,bcl->bcl", t, t, t),
     "a product of more than two input-dependent tensors"),
])
def test_an_operation_without_a_rule_raises(fn, op):
    model = Net(fn).double().eval()
    x = onehot(2, seed=11)
    with pytest.raises(UnsupportedOperation, match=r"in module 'body\.1' \(Body\)") as info:
        deeplift_multipliers(model, x, torch.zeros_like(x), lambda out: out[:, 0])
    assert op in str(info.value)


def test_every_blocker_is_named_in_one_error():
    """A sort in one module, a cumulative product and a data-dependent mask in another: one
    error names all three, each where it is called."""
    class Ranked(nn.Module):
        def forward(self, t):
            return torch.sort(t, dim=1).values * 2.0

    class Pool(nn.Module):
        def forward(self, t):
            return torch.cumprod(t, dim=-1) + torch.where(t > 0, t, 0.0)

    class Blocked(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(4, 4, 3)
            self.rank, self.pool = Ranked(), Pool()
            self.head = nn.Linear(4 * (LENGTH - 2), 1)

        def forward(self, x):
            return self.head(self.pool(self.rank(self.conv(x))).flatten(1))

    x = onehot(2, seed=19)
    with pytest.raises(UnsupportedOperation) as info:
        deeplift_multipliers(Blocked().double().eval(), x, torch.zeros_like(x),
                             lambda out: out[:, 0])
    message = str(info.value)
    assert "\n" not in message
    for expected in ("torch.sort called in module 'rank' (Ranked)",
                     "torch.cumprod called in module 'pool' (Pool)",
                     "Tensor.gt called in module 'pool' (Pool)"):
        assert expected in message, message


ELEMENTWISE_CALLS = [
    torch.exp, lambda t: t.exp(), F.gelu, lambda t: F.gelu(t, approximate="tanh"), F.softplus,
    lambda t: torch.clamp(t, min=-0.3, max=0.4), lambda t: torch.pow(t, 2), torch.sigmoid,
    lambda t: F.elu(t, alpha=0.5), lambda t: torch.log1p(t.abs()), F.relu,
]


@pytest.mark.parametrize("fn", ELEMENTWISE_CALLS)
def test_functional_elementwise_calls_take_the_rescale_rule(fn):
    """torch.exp, F.gelu, x.clamp(...) called in forward: completeness holds."""
    torch.manual_seed(3)
    model = Net(fn).double().eval()
    x = onehot(3, seed=13)
    ref = shuffled(x, seed=14)
    mult, f_x, f_ref = deeplift_multipliers(model, x, ref, lambda out: out[:, 0])
    assert_complete(mult, x, ref, f_x, f_ref, rtol=1e-9)


@pytest.mark.parametrize("fn, module", [
    (F.gelu, nn.GELU()), (torch.sigmoid, nn.Sigmoid()), (F.softplus, nn.Softplus()),
    (torch.tanh, nn.Tanh()), (F.relu, nn.ReLU()),
])
def test_functional_call_equals_the_module_rule(fn, module):
    torch.manual_seed(4)
    functional = Net(fn).double().eval()
    torch.manual_seed(4)
    with_module = Net(module).double().eval()
    x = onehot(3, seed=15)
    ref = shuffled(x, seed=16)
    a = deeplift_multipliers(functional, x, ref, lambda out: out[:, 1])[0]
    b = deeplift_multipliers(with_module, x, ref, lambda out: out[:, 1])[0]
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_exp_multipliers_are_the_secant_slope_by_hand():
    """conv -> exp -> linear: the multiplier of z = conv(x) is (e^z - e^z_ref) / (z - z_ref),
    then back through the linear layers as plain gradients."""
    class ExpNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.head = nn.Conv1d(4, 3, 5), nn.Linear(3 * (LENGTH - 4), 1)

        def forward(self, x):
            return self.head(torch.exp(self.conv(x)).flatten(1))

    torch.manual_seed(5)
    model = ExpNet().double().eval()
    conv, head = model.conv, model.head
    x = onehot(2, seed=17)
    ref = shuffled(x, seed=18)
    mult = deeplift_multipliers(model, x, ref, lambda out: out[:, 0])[0]
    with torch.no_grad():
        z, z_ref = conv(x), conv(ref)
        secant = (torch.exp(z) - torch.exp(z_ref)) / (z - z_ref)
    inputs = x.clone().requires_grad_(True)
    linearised = head((secant * conv(inputs)).flatten(1))[:, 0].sum()
    (expected,) = torch.autograd.grad(linearised, inputs)
    torch.testing.assert_close(mult, expected, rtol=1e-10, atol=1e-12)


def test_linear_functional_code_is_allowed():
    def linear_ops(t):
        t = F.pad(t.permute(0, 2, 1).contiguous().permute(0, 2, 1), (1, 1))[:, :, 1:-1]
        return 2.0 * t / 3.0 - t.mean(dim=1, keepdim=True) + t.new_ones(t.shape[-1])

    model = Net(linear_ops).double().eval()
    x = onehot(3, seed=12)
    ref = torch.zeros_like(x)
    mult, f_x, f_ref = deeplift_multipliers(model, x, ref, lambda out: out[:, 0])
    assert_complete(mult, x, ref, f_x, f_ref, rtol=1e-9)


def test_nonlinear_output_fn_raises():
    model = captum_model(nn.ReLU)
    x = onehot(2, seed=13)
    with pytest.raises(UnsupportedOperation, match="torch.sigmoid called in output_fn"):
        deeplift_multipliers(model, x, torch.zeros_like(x), lambda out: torch.sigmoid(out)[:, 0])


def test_training_mode_batchnorm_raises():
    model = captum_model(nn.ReLU).train()
    x = onehot(2, seed=14)
    with pytest.raises(UnsupportedOperation, match="batch_norm .training-mode"):
        deeplift_multipliers(model, x, torch.zeros_like(x), lambda out: out[:, 0])


def test_hooks_and_flags_are_restored():
    model = captum_model(nn.ReLU)
    x = onehot(4, seed=15)
    ref = shuffled(x, seed=16)
    first = deeplift_multipliers(model, x, ref, lambda out: out[:, 0])[0]
    with pytest.raises(UnsupportedOperation):
        deeplift_multipliers(model, x, ref, lambda out: out.exp()[:, 0])
    for module in model.modules():
        assert not module._forward_hooks and not module._forward_pre_hooks
        assert not module._backward_hooks
    assert all(p.requires_grad for p in model.parameters())
    assert not torch.overrides._is_torch_function_mode_enabled()
    second = deeplift_multipliers(model, x, ref, lambda out: out[:, 0])[0]
    torch.testing.assert_close(first, second)
    inputs = x.clone().requires_grad_(True)
    model(inputs)[:, 0].sum().backward()
    assert inputs.grad is not None and all(p.grad is not None for p in model.parameters())
