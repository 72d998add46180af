"""The shared engine's block sizing and the PyTorch adapter's precision switch."""
import numpy as np
import pytest
import torch

import kipoi_explain as kx
from kipoi_explain.engine import CPU_TENSOR_BYTES, auto_batch_size, available_memory

from conftest import random_onehot


def test_auto_batch_size_fills_the_memory_share():
    assert auto_batch_size(1000, 1_000_000, fraction=0.5) == 496   # 500 rounded down to 8s
    assert auto_batch_size(10**9, 10**6) == 1                       # never below one row
    assert auto_batch_size(1, 10**12) == 8192                       # capped
    assert auto_batch_size(100, 2000, fraction=1.0) == 16
    # On a CPU, blocks whose largest activation stays within CPU_TENSOR_BYTES.
    assert auto_batch_size(1000, 10**12, largest_per_row=CPU_TENSOR_BYTES // 20) == 16
    assert auto_batch_size(1000, 10**12, largest_per_row=2 * CPU_TENSOR_BYTES) == 1


def test_available_memory_is_positive():
    assert available_memory() > 0


def basset_block(length=200):
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv1d(4, 32, 9, padding=4), torch.nn.ReLU(), torch.nn.MaxPool1d(4),
        torch.nn.Flatten(), torch.nn.Linear(32 * length // 4, 3))


def test_auto_batch_size_follows_the_model_activation_memory():
    small = kx.load_model(basset_block(200), input_length=200, batch_size="auto")
    large = kx.load_model(basset_block(2000), input_length=2000, batch_size="auto")
    (per_row_small, largest), (per_row_large, _) = small.predictor.activation_bytes(), \
        large.predictor.activation_bytes()
    # The conv, ReLU and pool outputs of one row and their gradients, plus input and output.
    assert per_row_small >= 2 * 4 * (32 * 200 * 2 + 32 * 50)
    assert 9 < per_row_large / per_row_small < 11
    assert largest == 32 * 200 * 4                    # the conv's and the ReLU's output
    assert small.batch_size >= large.batch_size >= 1
    # On a CPU the largest activation of a block stays within CPU_TENSOR_BYTES.
    assert small.batch_size == auto_batch_size(per_row_small, available_memory(),
                                               largest_per_row=largest)
    x = random_onehot(3, 200)
    np.testing.assert_allclose(kx.explain(small, x, "saliency").scores,
                               kx.explain(kx.load_model(basset_block(200), input_length=200), x,
                                          "saliency").scores, rtol=1e-6)


def test_mixed_precision_is_close_to_float32():
    x = random_onehot(8, 200)
    full = kx.load_model(basset_block(), input_length=200)
    mixed = kx.load_model(basset_block(), input_length=200, precision="mixed")
    ref, low = full.predict(x), mixed.predict(x)
    assert low.dtype == np.float32 and not np.array_equal(ref, low)
    np.testing.assert_allclose(low, ref, rtol=0.05, atol=0.02 * np.abs(ref).max())
    g_ref = kx.explain(full, x, "grad_x_input").scores
    g_low = kx.explain(mixed, x, "grad_x_input").scores
    assert np.corrcoef(g_ref.ravel(), g_low.ravel())[0, 1] > 0.99
    with pytest.raises(kx.InputError, match="precision='half'"):
        kx.load_model(basset_block(), input_length=200, precision="half")
