"""Resolving a user's target against a model's outputs, and reducing outputs to it."""
import numpy as np
import pytest

import kipoi_explain as kx
from kipoi_explain.targets import resolve_target

NAMES = ("CTCF", "GATA1", "SPI1")
SHAPE = (3,)


def _resolve(target, **kw):
    return resolve_target(target, NAMES, kw.pop("shape", SHAPE), **kw)


def test_index():
    spec = _resolve(1)
    assert spec.columns == (1,) and spec.names == ("GATA1",) and spec.reduce == "sum"
    assert _resolve(np.int64(2)).columns == (2,)


def test_default_index_zero_from_model():
    from conftest import make_torch_cnn

    model = kx.load_model(make_torch_cnn(n_outputs=3), input_length=100,
                          output_names=list(NAMES))
    assert model.target().columns == (0,)
    assert model.target("SPI1").columns == (2,)
    spec = model.target("all", reduce="mean")
    assert model.target(spec) is spec


def test_name_and_digit_string():
    assert _resolve("SPI1").columns == (2,)
    assert _resolve("1").columns == (1,)


def test_list_keeps_order():
    spec = _resolve(["SPI1", 0])
    assert spec.columns == (2, 0) and spec.names == ("SPI1", "CTCF")
    assert _resolve(("GATA1",)).columns == (1,)


@pytest.mark.parametrize("target", ["all", None])
def test_all(target):
    spec = _resolve(target)
    assert spec.columns == (0, 1, 2) and spec.names == NAMES


@pytest.mark.parametrize("target", [-1, 3, 10])
def test_index_out_of_range(target):
    with pytest.raises(kx.InputError) as err:
        _resolve(target)
    assert f"target {target}" in str(err.value) and "0..2" in str(err.value)


def test_unknown_name_lists_outputs():
    with pytest.raises(kx.InputError) as err:
        _resolve("FOXA1")
    message = str(err.value)
    assert "'FOXA1'" in message
    assert all(name in message for name in NAMES)


@pytest.mark.parametrize("target", [True, 1.0, {"a": 1}])
def test_wrong_type(target):
    with pytest.raises(kx.InputError, match="expected an output index"):
        _resolve(target)


def test_empty_list():
    with pytest.raises(kx.InputError, match="empty"):
        _resolve([])


@pytest.mark.parametrize("target", [[0, 0], [1, "GATA1"], ["SPI1", 2, 0]])
def test_duplicates(target):
    with pytest.raises(kx.InputError) as err:
        _resolve(target)
    assert "more than once" in str(err.value)
    duplicated = {0: "CTCF", 1: "GATA1", 2: "SPI1"}[
        [t if isinstance(t, int) else NAMES.index(t) for t in target][0]]
    assert duplicated in str(err.value)


def test_bad_reduce():
    with pytest.raises(kx.InputError, match="reduce='max'"):
        _resolve(0, reduce="max")


def test_apply_sum_and_mean():
    outputs = np.array([[1.0, 2.0, 4.0], [-1.0, 0.5, 3.0]])
    np.testing.assert_allclose(_resolve([0, 2]).apply(outputs), [5.0, 2.0])
    np.testing.assert_allclose(_resolve([0, 2], reduce="mean").apply(outputs), [2.5, 1.0])
    np.testing.assert_allclose(_resolve("all", reduce="mean").apply(outputs), [7 / 3, 2.5 / 3])
    np.testing.assert_allclose(_resolve(1).apply(outputs), [2.0, 0.5])


def test_as_dict():
    assert _resolve(["SPI1", 0], reduce="mean").as_dict() == \
        {"columns": [2, 0], "names": ["SPI1", "CTCF"], "reduce": "mean"}


# ---- binned (B, T) outputs --------------------------------------------------------------

def test_bins_select_b_times_t_plus_t():
    shape = (5, 3)                                     # 5 bins, 3 tasks
    spec = _resolve(["SPI1", "CTCF"], shape=shape, bins=(1, 3))
    assert spec.columns == (1 * 3 + 2, 1 * 3 + 0, 2 * 3 + 2, 2 * 3 + 0)
    assert spec.names == ("SPI1[1]", "CTCF[1]", "SPI1[2]", "CTCF[2]")
    outputs = np.random.default_rng(0).normal(size=(4, 5, 3))
    np.testing.assert_allclose(spec.apply(outputs),
                               outputs[:, 1:3][..., [2, 0]].sum(axis=(1, 2)))


def test_bins_default_is_every_bin():
    spec = _resolve(1, shape=(4, 3))
    assert spec.columns == (1, 4, 7, 10)
    outputs = np.arange(24.0).reshape(2, 4, 3)
    np.testing.assert_allclose(spec.apply(outputs), outputs[:, :, 1].sum(1))
    mean = _resolve(1, shape=(4, 3), reduce="mean")
    np.testing.assert_allclose(mean.apply(outputs), outputs[:, :, 1].mean(1))


@pytest.mark.parametrize("bins", [(2, 2), (3, 1), (-1, 2), (0, 5)])
def test_bad_bins(bins):
    with pytest.raises(kx.InputError, match="bins"):
        _resolve(0, shape=(4, 3), bins=bins)


def test_bins_on_unbinned_output():
    with pytest.raises(kx.InputError, match="no bins"):
        _resolve(0, bins=(0, 1))


def test_binned_torch_model_gradient_matches_selected_columns():
    """A (B, T) torch model: the target's gradient is the gradient of the selected columns."""
    import torch

    torch.manual_seed(0)
    conv = torch.nn.Conv1d(4, 2, kernel_size=5, padding=2)

    class Profile(torch.nn.Module):
        def forward(self, x):                              # (N, 4, 20) -> (N, 5 bins, 2 tasks)
            return torch.nn.functional.avg_pool1d(conv(x), 4).transpose(1, 2)

    model = kx.load_model(Profile(), input_length=20, output_names=["a", "b"])
    assert model.output_shape == (5, 2)
    x = np.eye(4, dtype=np.float32)[np.random.default_rng(0).integers(0, 4, (3, 20))]
    spec = model.target("b", bins=(1, 3))
    assert spec.columns == (3, 5)
    inputs = torch.tensor(x.transpose(0, 2, 1).copy(), requires_grad=True)
    (expected,) = torch.autograd.grad(Profile()(inputs)[:, 1:3, 1].sum(), inputs)
    np.testing.assert_allclose(kx.input_gradient(model, x, spec), expected.numpy().transpose(0, 2, 1),
                               rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(spec.apply(model.predict(x)),
                               Profile()(inputs)[:, 1:3, 1].sum(1).detach().numpy(), rtol=1e-6)
