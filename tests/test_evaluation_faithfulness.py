"""Faithfulness metrics without ground truth: deletion / insertion curves against a random
ranking on the example model, the batched curves against a naive loop, and infidelity and
max-sensitivity against Captum's own implementations on the same perturbations."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import kipoi_explain as kx
from conftest import make_torch_cnn, random_onehot
from kipoi_explain.errors import InputError
from kipoi_explain.evaluation import faithfulness as fx
from kipoi_explain.experiments.backgrounds import shuffled_backgrounds

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
LENGTH = 40


class LinearConv(torch.nn.Module):
    """One convolution summed over positions: ``f(x) = sum(w_eff * x) + b``, linear in x."""

    def __init__(self, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.conv = torch.nn.Conv1d(4, 1, kernel_size=5, padding=2)

    def forward(self, x):
        return self.conv(x).sum(dim=(1, 2))[:, None]


@pytest.fixture(scope="module")
def example():
    """The example CNN and its first 20 sequences with a planted CTCF site."""
    model = kx.load_model(str(EXAMPLES / "models" / "pytorch_cnn"))
    seqs = kx.from_fasta(EXAMPLES / "data" / "sequences.fa")
    sites = pd.read_csv(EXAMPLES / "data" / "planted_sites.tsv", sep="\t")
    ctcf = sorted(set(sites.region[sites.motif_name == "CTCF"]))[:20]
    return model, seqs.onehot[[seqs.names.index(name) for name in ctcf]]


@pytest.fixture(scope="module")
def random_curves(example):
    model, x = example
    return fx.faithfulness_curves(model, x, "random", target="CTCF")


@pytest.mark.parametrize("method", ["ism", "deepshap"])
def test_method_beats_random_ranking_on_ctcf_sites(example, random_curves, method):
    model, x = example
    attribution = kx.explain(model, x, method, target="CTCF")
    curves = fx.faithfulness_curves(model, x, attribution, target="CTCF")
    deletion, insertion = curves["deletion"], curves["insertion"]
    floor_del, floor_ins = random_curves["deletion"], random_curves["insertion"]
    # The model is confident on these sequences, and the curves start at f(x).
    assert deletion.original.mean() > 0.7
    np.testing.assert_allclose(deletion.values[:, 0], deletion.original, rtol=1e-6)
    assert deletion.mean_auc < 0.5 * floor_del.mean_auc
    assert insertion.mean_auc > floor_ins.mean_auc + 0.3
    assert (deletion.auc < floor_del.auc).mean() >= 0.9
    assert (insertion.auc > floor_ins.auc).mean() >= 0.9
    comp, suff = fx.comprehensiveness(deletion), fx.sufficiency(insertion)
    assert comp.mean() > fx.comprehensiveness(floor_del).mean() + 0.2
    assert suff.mean() < fx.sufficiency(floor_ins).mean() - 0.2


def naive_curve(model, x, scores, fractions, kind, fillers):
    """One sequence, one shuffle, one fraction, one forward pass at a time."""
    length = x.shape[1]
    values = np.zeros((len(x), len(fractions)))
    for i in range(len(x)):
        order = np.argsort(-scores[i], kind="stable")
        for k, fraction in enumerate(fractions):
            top = order[:int(np.floor(fraction * length + 0.5))]
            for filler in fillers[i]:
                row = x[i].copy() if kind == "deletion" else filler.copy()
                row[top] = filler[top] if kind == "deletion" else x[i][top]
                values[i, k] += model.predict(row[None])[0, 1] / len(fillers[i])
    return values


@pytest.mark.parametrize("replace", ["shuffle", "reference"])
def test_batched_curves_equal_a_naive_loop(model, replace):
    x = random_onehot(3, length=100, seed=3)
    scores = np.random.default_rng(1).normal(size=(3, 100))
    fractions = (0.0, 0.05, 0.3, 1.0)
    if replace == "shuffle":
        fillers = shuffled_backgrounds(x, 3 * 2, seed=7).reshape(2, 3, 100, 4).swapaxes(0, 1)
        options = {"n_shuffles": 2, "seed": 7}
    else:
        fillers = np.full((3, 1, 100, 4), 0.25, dtype=np.float32)
        options = {}
    # Blocks of one row run the model on exactly the rows the loop does: the rows built by
    # index arrays must be the loop's, bit for bit. Larger blocks differ by float32 rounding.
    exact = fx.faithfulness_curves(model, x, scores, target=1, fractions=fractions,
                                   replace=replace, batch_size=1, **options)
    curves = fx.faithfulness_curves(model, x, scores, target=1, fractions=fractions,
                                    replace=replace, batch_size=7, **options)
    for kind in ("deletion", "insertion"):
        expected = naive_curve(model, x, scores, fractions, kind, fillers)
        np.testing.assert_array_equal(exact[kind].values, expected)
        np.testing.assert_allclose(curves[kind].values, expected, rtol=1e-6)
    assert curves["deletion"].values[:, -1] == pytest.approx(curves["insertion"].values[:, 0])
    single = fx.deletion_curve(model, x, scores, target=1, fractions=fractions,
                               replace=replace, **options)
    np.testing.assert_array_equal(single.values, curves["deletion"].values)


def test_curve_inputs_are_checked(model):
    x = random_onehot(2)
    with pytest.raises(InputError, match="scores of shape"):
        fx.deletion_curve(model, x, np.zeros((2, 5)))
    with pytest.raises(InputError, match="replace="):
        fx.deletion_curve(model, x, "random", replace="zeros")
    with pytest.raises(InputError, match="fractions"):
        fx.insertion_curve(model, x, "random", fractions=(0.5,))
    curve = fx.deletion_curve(model, x, "random", fractions=(0, 0.5, 1), replace="reference")
    with pytest.raises(InputError, match="not among the curve's fractions"):
        fx.comprehensiveness(curve)
    with pytest.raises(InputError, match="expected 'insertion'"):
        fx.sufficiency(curve, fractions=(0.5,))


def captum_infidelity(net, x, maps, noise, baseline, normalize):
    """Captum's infidelity on channels-first tensors with the same noise ``(N, P, L, 4)``."""
    from captum.metrics import infidelity, infidelity_perturb_func_decorator

    n, p = noise.shape[:2]
    flat = torch.from_numpy(noise.reshape(n * p, *noise.shape[2:]).transpose(0, 2, 1).copy())
    inputs = torch.from_numpy(x.transpose(0, 2, 1).copy())
    attributions = torch.from_numpy(maps.transpose(0, 2, 1).astype(np.float32).copy())
    if baseline is None:
        def perturb(expanded):
            return flat, expanded - flat
    else:
        @infidelity_perturb_func_decorator(True)
        def perturb(expanded, baselines):
            return expanded - flat * (expanded - baselines)
    return infidelity(net, perturb, inputs, attributions, baselines=baseline, target=0,
                      n_perturb_samples=p, normalize=normalize).numpy()


@pytest.mark.parametrize("baseline", [None, 0.0])
@pytest.mark.parametrize("normalize", [False, True])
def test_infidelity_equals_captum(baseline, normalize):
    net = make_torch_cnn(length=LENGTH, seed=2)
    model = kx.load_model(net, input_length=LENGTH)
    x = random_onehot(4, length=LENGTH, seed=5)
    maps = kx.explain(model, x, "grad_x_input", target=0).scores
    noise = fx.gaussian_perturbations(4, 6, x.shape[1:], 0.2, seed=9)
    ours = fx.infidelity(model, x, maps, target=0, perturbations=noise, baseline=baseline,
                         normalize=normalize)
    theirs = captum_infidelity(net, x, maps, noise, baseline, normalize)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-9)
    drawn = fx.infidelity(model, x, maps, target=0, n_perturbations=6, noise_scale=0.2, seed=9,
                          baseline=baseline, normalize=normalize)
    np.testing.assert_array_equal(drawn, ours)


def test_linear_model_first_order_terms_are_exact():
    # f(x) = sum(w * x) + b: f(x) - f(x - D) = sum(w * D). Saliency (phi = w) matches it for
    # any D; gradient x input (phi = w * x) for D = I * (x - 0), the multiplicative noise.
    model = kx.load_model(LinearConv(), input_length=LENGTH)
    x = random_onehot(5, length=LENGTH, seed=2)
    saliency = kx.explain(model, x, "saliency", target=0).scores
    gxi = kx.explain(model, x, "grad_x_input", target=0).scores
    additive = fx.infidelity(model, x, saliency, n_perturbations=8, noise_scale=0.3)
    multiplicative = fx.infidelity(model, x, gxi, n_perturbations=8, noise_scale=0.3,
                                   baseline=0.0)
    mismatched = fx.infidelity(model, x, gxi, n_perturbations=8, noise_scale=0.3)
    assert additive.max() < 1e-9 and multiplicative.max() < 1e-9
    assert mismatched.min() > 1e-3
    # A constant gradient does not move under noise.
    explain = lambda rows: kx.explain(model, rows, "saliency", target=0).scores  # noqa: E731
    np.testing.assert_array_equal(fx.max_sensitivity(explain, x, radius=0.1), 0.0)


def test_max_sensitivity_equals_captum():
    from captum.metrics import sensitivity_max

    model = kx.load_model(make_torch_cnn(length=LENGTH, seed=4), input_length=LENGTH)
    x = random_onehot(4, length=LENGTH, seed=6)
    delta = fx.uniform_perturbations(4, 5, x.shape[1:], 0.05, seed=3)
    flat = torch.from_numpy(delta.reshape(20, LENGTH, 4))

    def captum(explain, perturb):
        # Captum passes the inputs as a tuple (and wants a tuple back), the perturbed inputs as
        # a tensor.
        def explanation(t):
            if isinstance(t, tuple):
                return (explanation(t[0]),)
            return torch.from_numpy(explain(t.numpy()))

        return sensitivity_max(explanation,
                               torch.from_numpy(x), perturb_func=perturb,
                               n_perturb_samples=5).numpy()

    # Captum's own x + delta: the gradient itself takes inputs outside [0, 1].
    gradient = lambda rows: kx.input_gradient(model, rows, target=0)  # noqa: E731
    plain = fx.max_sensitivity(gradient, x, perturbations=delta, reflect=False)
    np.testing.assert_allclose(plain, captum(gradient, lambda t: t + flat), rtol=1e-5)
    # The default keeps x + delta in [0, 1], so that kx.explain takes it.
    saliency = lambda rows: kx.explain(model, rows, "saliency", target=0).scores  # noqa: E731
    ours = fx.max_sensitivity(saliency, x, perturbations=delta)
    theirs = captum(saliency, lambda t: 1 - torch.abs(1 - torch.abs(t + flat)))
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)
    assert (ours > 0).all()
    np.testing.assert_array_equal(
        fx.max_sensitivity(saliency, x, radius=0.05, n_perturbations=5, seed=3), ours)
