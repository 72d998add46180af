"""Results of consecutive parts combined into the result of the whole set."""
import dataclasses

import numpy as np
import pytest

import kipoi_explain as kx
from kipoi_explain.combine import concatenate

from conftest import random_onehot


def test_attribution_parts_combine_into_the_whole(model):
    x = random_onehot(6, seed=2)
    names = [f"s{i}" for i in range(6)]
    whole = kx.explain(model, kx.SequenceSet(x, names), "deepshap", target="pos",
                       n_references=2)
    parts = [kx.explain(model, kx.SequenceSet(x[lo:hi], names[lo:hi]), "deepshap",
                        target="pos", n_references=2, sample_index=lo)
             for lo, hi in ((0, 4), (4, 6))]
    merged = concatenate(parts)
    for field in ("scores", "hypothetical", "inputs", "predictions", "delta"):
        np.testing.assert_allclose(getattr(merged, field), getattr(whole, field), rtol=1e-5,
                                   atol=1e-7, err_msg=field)
    assert merged.names == whole.names and merged.settings == whole.settings
    assert merged.model == whole.model and merged.target == whole.target


def test_screen_parts_keep_their_windows(model):
    x = random_onehot(4, seed=5)
    parts = [kx.screen(model, x[lo:hi], window=20, perturbation="mask", target="pos",
                       sample_index=lo) for lo, hi in ((0, 1), (1, 4))]
    merged = concatenate(parts)
    whole = kx.screen(model, x, window=20, perturbation="mask", target="pos")
    np.testing.assert_array_equal(merged.starts, whole.starts)
    np.testing.assert_allclose(merged.effects, whole.effects, rtol=1e-5, atol=1e-7)


def test_parts_that_disagree_are_refused(model):
    x = random_onehot(4, seed=5)
    a = kx.explain(model, x[:2], "saliency", target="pos")
    b = kx.explain(model, x[2:], "saliency", target="neg")
    with pytest.raises(ValueError, match="parts disagree on target"):
        concatenate([a, b])
    c = kx.explain(model, x[2:], "saliency", target="pos", absolute=True)
    with pytest.raises(ValueError, match=r"parts disagree on settings\['absolute'\]"):
        concatenate([a, c])
    with pytest.raises(ValueError, match="parts disagree on hypothetical"):
        concatenate([a, dataclasses.replace(a, hypothetical=None)])


def test_rows_per_block_may_differ_and_are_recorded(model):
    x = random_onehot(4, seed=5)
    a = kx.explain(model, x[:2], "saliency", target="pos", batch_size=2)
    b = kx.explain(model, x[2:], "saliency", target="pos", batch_size=8)
    assert concatenate([a, b]).settings["batch_size"] == [2, 8]
