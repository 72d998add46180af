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


# ---- models of several outputs ------------------------------------------------------------
def _heads():
    from kipoi_explain.outputs import heads_for

    # BPNet's profile (2 strands by 10 bins, channels first) and counts; Enformer-like species.
    return heads_for([(None, (2, 10)), (None, (1,)), (None, (10, 3))],
                     {"profile": ["plus", "minus"], "counts": None, "mouse": None},
                     {"profile": "tasks,bins", "mouse": "bins,tasks"}, False, "m")


def test_heads_take_names_layouts_and_columns_one_after_the_other():
    from kipoi_explain.outputs import qualified_names

    heads = _heads()
    assert [(h.name, h.shape, h.offset, h.task_axis) for h in heads] == [
        ("profile", (10, 2), 0, 0), ("counts", (1,), 20, 0), ("mouse", (10, 3), 21, 1)]
    assert qualified_names(heads)[:3] == ("profile:plus", "profile:minus", "counts")


def test_a_target_names_a_head_a_task_or_bins_inside_heads():
    heads = _heads()
    names = ("profile:plus", "profile:minus", "counts", "mouse:output_0", "mouse:output_1",
             "mouse:output_2")
    resolve = lambda target, bins=None: resolve_target(target, names, (51,), bins=bins,  # noqa
                                                       heads=heads)
    assert resolve("counts").columns == (20,)
    # Bins first, tasks last inside a head: bin b of strand t is column 2 b + t.
    assert resolve("profile:minus", (3, 5)).columns == (7, 9)
    assert resolve("profile:minus", (3, 5)).names == ("profile:minus[3]", "profile:minus[4]")
    assert resolve(["counts", "mouse:2"], (9, 10)).columns == (20, 21 + 9 * 3 + 2)
    assert resolve("minus").columns == resolve("profile:minus").columns
    assert resolve(2).columns == (20,)
    assert len(resolve("all").columns) == 51
    assert resolve(["profile", "mouse"], {"profile:plus": (0, 1), "mouse:output_1": (1, 2)}
                   ).columns == (0,) + tuple(range(1, 20, 2)) + tuple(
                       sorted({21 + 3 * b + t for b in range(10) for t in (0, 2)} | {25}))


@pytest.mark.parametrize("target, bins, message", [
    ("rat", None, r"no output of that name; the model's outputs are profile \(2 tasks"),
    (["counts", "counts"], None, "'counts' selected more than once"),
    ("counts", {"profile:plus": (0, 1)}, "profile:plus not among the selected outputs"),
    ("profile", (5, 11), "output 'profile': target bins .* out of range"),
])
def test_a_wrong_target_of_heads_is_a_one_line_error(target, bins, message):
    heads = _heads()
    with pytest.raises(kx.InputError, match=message):
        resolve_target(target, (), (51,), bins=bins, heads=heads)


def test_a_task_name_two_heads_share_must_say_which():
    from kipoi_explain.outputs import heads_for

    heads = heads_for([("human", (3,)), ("mouse", (3,))], None, None, False, "m")
    with pytest.raises(kx.InputError, match="human, mouse each have a task of that name; say "
                                            "which, e.g. 'human:output_1'"):
        resolve_target("output_1", (), (6,), heads=heads)
    assert resolve_target("mouse:output_1", (), (6,), heads=heads).columns == (4,)
