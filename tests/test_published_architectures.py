"""Published architectures as their authors' packages define them (bpnet-lite, enformer-pytorch,
borzoi-pytorch, basenji2-pytorch; small seeded configurations, :mod:`benchmarks.published`):
several outputs loaded as they are and addressed by name, and exact DeepLIFT / DeepSHAP through
their attention, GELU, softmax, layer norms and exp/log heads, checked by summation-to-delta and
against Captum and tangermeme where those have the same rule."""
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import kipoi_explain as kx  # noqa: E402
from kipoi_explain.errors import InputError  # noqa: E402
from kipoi_explain.methods.references import references  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import published  # noqa: E402

def build(name):
    pytest.importorskip(published.PACKAGES[name])
    return published.BUILDERS[name]()


def loaded(arch):
    return kx.load_model(arch.module, input_length=arch.length, name=arch.name, **arch.options)


def onehot(n, length, seed=0):
    return np.eye(4, dtype=np.float32)[np.random.default_rng(seed).integers(0, 4, (n, length))]


class Counts(torch.nn.Module):
    """The count head of bpnet-lite's ``(profile, counts)``, for the libraries that take one
    output."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, inputs):
        return self.net(inputs)[1]


def module_input(model, x):
    return torch.tensor(model.layout.to_model(x))


@pytest.fixture(scope="module")
def bpnet():
    arch = build("bpnet")
    return arch, loaded(arch)


@pytest.fixture(scope="module")
def enformer():
    arch = build("enformer")
    return arch, loaded(arch)


# ---- several outputs, named ----------------------------------------------------------------
def test_a_profile_whose_track_axis_is_not_declared_is_refused_naming_output_layout():
    arch = build("bpnet")
    with pytest.raises(InputError, match=r"output 'profile' has shape \(2, 200\).*output_layout"):
        kx.load_model(arch.module, input_length=arch.length, output_names=["profile", "counts"])
    borzoi = build("borzoi")
    with pytest.raises(InputError, match=r"\(7611, 8\).*output_layout"):
        kx.load_model(borzoi.module, input_length=borzoi.length)


def test_heads_are_the_modules_own_outputs_with_tracks_last(bpnet, enformer):
    arch, model = bpnet
    assert [(h.name, h.shape) for h in model.heads] == [("profile", (200, 2)), ("counts", (1,))]
    assert model.output_names == ("profile:output_0", "profile:output_1", "counts")
    x = onehot(3, arch.length)
    split = model.split(model.predict(x))
    with torch.no_grad():
        profile, counts = arch.module(module_input(model, x))
    np.testing.assert_allclose(split["profile"], profile.numpy().transpose(0, 2, 1), atol=1e-5)
    np.testing.assert_allclose(split["counts"], counts.numpy(), atol=1e-5)

    arch, model = enformer
    assert [(h.name, h.shape) for h in model.heads] == [("human", (8, 12)), ("mouse", (8, 5))]
    split = model.split(model.predict(onehot(2, arch.length)))
    with torch.no_grad():
        out = arch.module(module_input(model, onehot(2, arch.length)))
    for head in ("human", "mouse"):
        np.testing.assert_allclose(split[head], out[head].numpy(), atol=1e-5)


def _autograd(arch, model, x, pick):
    inputs = module_input(model, x).requires_grad_(True)
    (grad,) = torch.autograd.grad(pick(arch.module(inputs)).sum(), inputs)
    return model.layout.from_model(grad.numpy())


def test_targets_select_a_head_its_tasks_and_its_bins(bpnet, enformer):
    arch, model = bpnet
    x = onehot(2, arch.length)
    cases = [("profile", (10, 20), lambda out: out[0][:, :, 10:20]),
             ("profile:output_1", None, lambda out: out[0][:, 1]),
             ("counts", None, lambda out: out[1]),
             (["profile:output_0", "counts"], (5, 6), lambda out: out[0][:, 0, 5] + out[1][:, 0])]
    for target, bins, pick in cases:
        result = kx.explain(model, x, "saliency", target=target, bins=bins)
        np.testing.assert_allclose(result.scores, _autograd(arch, model, x, pick),
                                   rtol=1e-4, atol=1e-6, err_msg=str(target))
    arch, model = enformer
    x = onehot(2, arch.length)
    result = kx.explain(model, x, "saliency", target="human:output_3", bins=(2, 5))
    np.testing.assert_allclose(
        result.scores, _autograd(arch, model, x, lambda out: out["human"][:, 2:5, 3]),
        rtol=1e-4, atol=1e-7)
    assert model.target("mouse").names[0] == "mouse:output_0[0]"
    with pytest.raises(InputError, match="no output of that name.*human .12 tasks"):
        model.target("rat")


# ---- exact DeepLIFT through modern blocks ------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("name", ["bpnet", "chrombpnet", "enformer", "borzoi", "basenji2"])
def test_deepshap_sums_to_the_difference_from_each_reference(name):
    arch = build(name)
    model = loaded(arch)
    x = onehot(2, arch.length, seed=1)
    for head, target in arch.heads.items():
        result = kx.explain(model, x, "deepshap", target=target, n_references=2, seed=0)
        refs = references(x, "shuffle", 2, 0)
        spec = model.target(target)
        f_x = spec.apply(model.predict(x))
        f_ref = spec.apply(model.predict(refs.reshape(-1, *x.shape[1:]))).reshape(2, 2)
        expected = f_x - f_ref.mean(1)
        assert np.abs(expected).max() > 1e-3, (name, head)  # a difference worth explaining
        np.testing.assert_allclose(result.scores.sum((1, 2)), expected,
                                   rtol=1e-4, atol=1e-5 * max(1, np.abs(f_x).max()),
                                   err_msg=f"{name} {head}")


def test_bpnet_deeplift_equals_captum_on_the_count_head(bpnet):
    from captum.attr import DeepLift

    arch, model = bpnet
    x = onehot(3, arch.length, seed=2)
    ref = references(x, "shuffle", 1, 0)[:, 0]

    theirs = DeepLift(Counts(arch.module)).attribute(
        module_input(model, x), baselines=module_input(model, ref), target=0)
    ours = kx.explain(model, x, "deeplift", target="counts", baseline=ref)
    np.testing.assert_allclose(ours.scores, model.layout.from_model(theirs.detach().numpy()),
                               rtol=1e-4, atol=1e-6)


def test_chrombpnet_counts_equal_tangermeme_with_its_exp_and_log_rules():
    from bpnetlite.chrombpnet import _Exp, _Log
    from tangermeme.deep_lift_shap import _nonlinear, deep_lift_shap

    arch = build("chrombpnet")
    model = loaded(arch)
    x = onehot(2, arch.length, seed=3)
    refs = references(x, "shuffle", 3, 0)

    theirs = deep_lift_shap(Counts(arch.module), module_input(model, x), target=0,
                            references=torch.tensor(refs.transpose(0, 1, 3, 2).copy()),
                            additional_nonlinear_ops={_Exp: _nonlinear, _Log: _nonlinear},
                            device="cpu")
    ours = kx.explain(model, x, "deepshap", target="counts", n_references=3, seed=0)
    # tangermeme returns hypothetical contributions at the present base.
    np.testing.assert_allclose(ours.hypothetical * x, theirs.numpy().transpose(0, 2, 1),
                               rtol=1e-4, atol=1e-6)


def test_a_gelu_module_of_any_formulation_takes_the_rescale_rule():
    class SigmoidGelu(torch.nn.Module):
        def forward(self, x):
            return torch.sigmoid(1.702 * x) * x

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv1d(4, 3, 5), SigmoidGelu(), torch.nn.Flatten(),
                              torch.nn.Linear(3 * 16, 1)).eval()
    model = kx.load_model(net, input_length=20)
    x, ref = onehot(2, 20), onehot(2, 20, seed=5)
    ours = kx.explain(model, x, "deeplift", baseline=ref)
    # By hand: the rescale multiplier Δgelu/Δz of each unit, through the linear layers.
    conv, linear = net[0], net[3]
    with torch.no_grad():
        z, z_ref = conv(module_input(model, x)), conv(module_input(model, ref))
        ratio = (net[1](z) - net[1](z_ref)) / (z - z_ref)
        upstream = linear.weight.reshape(1, 3, 16) * ratio
    inputs = module_input(model, x).requires_grad_(True)
    (multipliers,) = torch.autograd.grad((conv(inputs) * upstream).sum(), inputs)
    expected = model.layout.from_model(multipliers.numpy()) * (x - ref)
    np.testing.assert_allclose(ours.scores, expected, rtol=1e-4, atol=1e-6)


def test_attention_softmax_and_layer_norm_keep_summation_to_delta_and_the_gradient_limit():
    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv1d(4, 8, 5, padding=2)
            self.norm = torch.nn.LayerNorm(8)
            self.attention = torch.nn.MultiheadAttention(8, 2, batch_first=True)
            self.pool = torch.nn.Linear(8, 1)
            self.out = torch.nn.Linear(8, 2)

        def forward(self, x):
            h = self.norm(self.conv(x).transpose(1, 2))
            q, k, v = h @ self.attention.in_proj_weight.T.chunk(3, dim=1)[0], h, h
            scores = torch.softmax(q @ k.transpose(1, 2) / 8 ** 0.5, dim=-1)
            h = torch.nn.functional.gelu(scores @ v) + h
            weights = torch.softmax(self.pool(h), dim=1)  # attention pooling over positions
            return self.out((weights * h).sum(1)) + torch.logsumexp(h, dim=(2,)).mean(1, True)

    torch.manual_seed(0)
    net = Block().eval()
    model = kx.load_model(net, input_length=30)
    x, ref = onehot(3, 30), onehot(3, 30, seed=9)
    for target in (0, 1):
        result = kx.explain(model, x, "deeplift", target=target, baseline=ref)
        f = model.predict(np.concatenate([x, ref]))[:, target]
        np.testing.assert_allclose(result.scores.sum((1, 2)), f[:3] - f[3:], rtol=1e-4,
                                   atol=1e-5)
    # As the reference approaches the input, every rule's multiplier is the gradient.
    near = x + 1e-3 * (ref - x)
    result = kx.explain(model, x, "deeplift", target=0, baseline=near)
    grad = kx.explain(model, x, "saliency", target=0).scores
    moved = x != near
    np.testing.assert_allclose(result.scores[moved] / (x - near)[moved], grad[moved],
                               rtol=2e-2, atol=2e-2 * np.abs(grad).max())


def test_every_operation_still_without_a_rule_is_named_in_one_error():
    class Sorted(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv1d(4, 2, 3)

        def forward(self, x):
            h = self.conv(x)
            return torch.sort(h, dim=-1).values[..., -1] + torch.cumprod(h, dim=-1)[..., -1]

    model = kx.load_model(Sorted().eval(), input_length=12)
    with pytest.raises(kx.UnsupportedOperation, match=r"torch\.sort.*torch\.cumprod"):
        kx.explain(model, onehot(1, 12), "deeplift", baseline=onehot(1, 12, seed=1))
