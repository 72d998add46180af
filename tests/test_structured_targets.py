"""Targets over structured outputs: contact maps (B, B) / (B, B, T) and task × bin sets."""
import numpy as np
import pytest
import torch

import kipoi_explain as kx
from kipoi_explain.targets import Target, resolve_target

TASKS = ("CTCF", "RAD21")
LENGTH, POOL = 32, 4
N_BINS = LENGTH // POOL


def _outputs(*shape):
    return np.random.default_rng(1).normal(size=(3, *shape))


# ---- resolving against shapes ----------------------------------------------------------

def test_single_map_named_once_window():
    spec = resolve_target(0, ("contact",), (4, 4), bins=((1, 3), (2, 4)))
    assert spec.columns == (1 * 4 + 2, 1 * 4 + 3, 2 * 4 + 2, 2 * 4 + 3)
    assert spec.names == ("contact[1,2]", "contact[1,3]", "contact[2,2]", "contact[2,3]")


def test_single_map_named_once_whole_map_by_default():
    spec = resolve_target("all", ("contact",), (3, 3))
    assert spec.columns == tuple(range(9))
    out = _outputs(3, 3)
    np.testing.assert_allclose(spec.apply(out), out.sum(axis=(1, 2)))


def test_two_axis_output_with_map_window_is_one_map():
    """Today's adapters name each column of a (B, B) map as a task; a map window reads it as
    one map."""
    names = tuple(f"output_{i}" for i in range(5))
    spec = resolve_target(0, names, (5, 5), bins=((0, 2), (3, 5)), reduce="mean")
    assert spec.names == ("map[0,3]", "map[0,4]", "map[1,3]", "map[1,4]")
    out = _outputs(5, 5)
    np.testing.assert_allclose(spec.apply(out), out[:, 0:2, 3:5].mean(axis=(1, 2)))
    with pytest.raises(kx.InputError, match="0..0"):
        resolve_target(1, names, (5, 5), bins=((0, 2), (3, 5)))


def test_single_bin_pair():
    spec = resolve_target(None, ("contact",), (6, 6), bins=((2, 3), (4, 5)))
    assert spec.columns == (2 * 6 + 4,) and spec.names == ("contact[2,4]",)


@pytest.mark.parametrize("reduce", ["sum", "mean"])
def test_maps_per_task_window_equals_numpy_slice(reduce):
    shape = (6, 6, 2)
    spec = resolve_target(["RAD21", "CTCF"], TASKS, shape, reduce, bins=((1, 4), (2, 6)))
    assert spec.names[:3] == ("RAD21[1,2]", "CTCF[1,2]", "RAD21[1,3]")
    out = _outputs(*shape)
    window = out[:, 1:4, 2:6, :]
    expected = window.sum(axis=(1, 2, 3)) if reduce == "sum" else window.mean(axis=(1, 2, 3))
    np.testing.assert_allclose(spec.apply(out), expected)
    one = resolve_target("RAD21", TASKS, shape, bins=((0, 6), (5, 6)))
    np.testing.assert_allclose(one.apply(out), out[:, :, 5, 1].sum(axis=1))


def test_maps_per_task_whole_map_by_default():
    out = _outputs(4, 4, 2)
    np.testing.assert_allclose(resolve_target(1, TASKS, (4, 4, 2)).apply(out),
                               out[..., 1].sum(axis=(1, 2)))


def test_profile_task_by_bin_set():
    shape = (10, 2)
    spec = resolve_target("all", TASKS, shape, bins={"CTCF": (2, 4), 1: [7, 10]})
    assert spec.names == ("CTCF[2]", "CTCF[3]", "RAD21[7]", "RAD21[8]", "RAD21[9]")
    out = _outputs(*shape)
    np.testing.assert_allclose(spec.apply(out), out[:, 2:4, 0].sum(1) + out[:, 7:10, 1].sum(1))


def test_dict_leaves_unnamed_tasks_every_bin():
    out = _outputs(5, 2)
    spec = resolve_target(["CTCF", "RAD21"], TASKS, (5, 2), bins={"RAD21": (0, 1)})
    np.testing.assert_allclose(spec.apply(out), out[:, :, 0].sum(1) + out[:, 0, 1])


def test_maps_per_task_dict_of_windows():
    out = _outputs(5, 5, 2)
    spec = resolve_target("all", TASKS, (5, 5, 2),
                          bins={"CTCF": ((0, 2), (3, 5)), "RAD21": ((4, 5), (4, 5))})
    np.testing.assert_allclose(spec.apply(out),
                               out[:, 0:2, 3:5, 0].sum(axis=(1, 2)) + out[:, 4, 4, 1])


def test_as_dict_round_trips():
    spec = resolve_target("all", TASKS, (4, 4, 2), "mean", bins=((0, 2), (1, 3)))
    document = spec.as_dict()
    assert document["names"][0] == "CTCF[0,1]"
    again = Target(tuple(document["columns"]), tuple(document["names"]), document["reduce"])
    assert again == spec


# ---- errors ------------------------------------------------------------------------------

@pytest.mark.parametrize("bins", [((0, 5), (0, 2)), ((2, 2), (0, 1)), ((-1, 1), (0, 1)),
                                  ((0, 1), (3, 1))])
def test_map_window_out_of_range(bins):
    with pytest.raises(kx.InputError, match=r"out of range.*\(\(row_start, row_end\)"):
        resolve_target(0, TASKS, (4, 4, 2), bins=bins)


@pytest.mark.parametrize("bins", [(0, 2), ((0, 2),), ((0, 2), 3), ((0, 2), (0, 1, 2)),
                                  (((0, 1), (0, 1)), (0, 1)), ((0.0, 2), (0, 1))])
def test_map_window_wrong_nesting(bins):
    with pytest.raises(kx.InputError, match=r"contact map|expected a map window"):
        resolve_target(0, TASKS, (4, 4, 2), bins=bins)


def test_profile_window_wrong_nesting_in_dict():
    with pytest.raises(kx.InputError, match=r"expected \(start, end\) with 0 <= start < end <= 5"):
        resolve_target("all", TASKS, (5, 2), bins={"CTCF": ((0, 1), (0, 1))})


def test_dict_errors():
    with pytest.raises(kx.InputError, match="empty dict"):
        resolve_target("all", TASKS, (5, 2), bins={})
    with pytest.raises(kx.InputError, match="'RAD21' is not among the selected outputs CTCF"):
        resolve_target("CTCF", TASKS, (5, 2), bins={"RAD21": (0, 1)})
    with pytest.raises(kx.InputError, match="'GATA1'"):
        resolve_target("all", TASKS, (5, 2), bins={"GATA1": (0, 1)})


def test_bins_on_unbinned_and_too_many_axes():
    with pytest.raises(kx.InputError, match="no bins"):
        resolve_target(0, TASKS, (2,), bins=((0, 1), (0, 1)))
    with pytest.raises(kx.InputError, match=r"expected \(T,\), \(B, T\), \(R, C\) or \(R, C, T\)"):
        resolve_target(0, TASKS, (3, 3, 3, 2))


# ---- end to end: a seeded torch model whose output is a contact map ----------------------

class ContactMap(torch.nn.Module):
    """Conv stem, pooled to bins, outer product of bin features: (N, 4, L) -> (N, B, B)
    (or (N, B, B, T) with ``tasks``)."""

    def __init__(self, tasks: int = 0):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv1d(4, 3 * max(tasks, 1), kernel_size=5, padding=2)
        self.tasks = tasks

    def forward(self, x):
        bins = torch.nn.functional.avg_pool1d(torch.tanh(self.conv(x)), POOL)   # (N, F, B)
        if not self.tasks:
            return torch.einsum("nfi,nfj->nij", bins, bins)
        bins = bins.reshape(len(x), self.tasks, 3, -1)
        return torch.einsum("ntfi,ntfj->nijt", bins, bins)


@pytest.fixture(scope="module")
def x():
    return np.eye(4, dtype=np.float32)[np.random.default_rng(0).integers(0, 4, (3, LENGTH))]


def _window_sum(module, onehot, rows, cols, task=None):
    out = module(onehot)[:, rows[0]:rows[1], cols[0]:cols[1]]
    return (out if task is None else out[..., task]).sum(dim=(1, 2))


@pytest.mark.parametrize("tasks", [0, 2])
def test_saliency_of_map_window_is_autograd_of_window_sum(x, tasks):
    module = ContactMap(tasks)
    model = kx.load_model(module, input_length=LENGTH,
                          output_layout="rows,cols,tasks" if tasks else "rows,cols")
    rows, cols = (1, 3), (4, 7)
    target = 1 if tasks else 0
    result = kx.explain(model, x, "saliency", target=target, bins=(rows, cols))
    inputs = torch.tensor(x.transpose(0, 2, 1).copy(), requires_grad=True)
    (grad,) = torch.autograd.grad(
        _window_sum(module, inputs, rows, cols, target if tasks else None).sum(), inputs)
    np.testing.assert_allclose(result.scores, grad.numpy().transpose(0, 2, 1),
                               rtol=1e-5, atol=1e-6)
    assert np.abs(result.scores).max() > 0


def test_ism_of_map_window_is_naive_mutation_loop(x):
    module = ContactMap()
    model = kx.load_model(module, input_length=LENGTH, output_layout="rows,cols")
    rows, cols = (0, 2), (5, 8)
    result = kx.explain(model, x, "ism", target=0, bins=(rows, cols))

    def f(onehot):
        with torch.no_grad():
            return _window_sum(module, torch.tensor(onehot.transpose(0, 2, 1).copy()),
                               rows, cols).numpy()

    expected = np.zeros_like(x)
    reference = f(x)
    for n in range(len(x)):
        for i in range(LENGTH):
            for b in range(4):
                mutant = x[n:n + 1].copy()
                mutant[0, i] = np.eye(4, dtype=np.float32)[b]
                expected[n, i, b] = f(mutant)[0] - reference[n]
    np.testing.assert_allclose(result.scores, expected, rtol=1e-4, atol=1e-5)
    assert np.abs(expected).max() > 0
