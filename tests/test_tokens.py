"""Models of token ids: attributions at the embedding (checked against Captum's layer methods),
occlusion by the pad token and Geneformer-style deletion (checked against naive loops)."""
import numpy as np
import pytest
import torch
from captum.attr import LayerGradientXActivation, LayerIntegratedGradients

import kipoi_explain as kx
from kipoi_explain import InputError, TokenLayout

VOCAB = ("<pad>",) + tuple(f"GENE{i:02d}" for i in range(1, 20))
LENGTH = 8


class RankNet(torch.nn.Module):
    """Token embedding (with a learned position embedding), one attention layer, mean over tokens."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.embed = torch.nn.Embedding(len(VOCAB), 8)
        self.position = torch.nn.Parameter(torch.randn(LENGTH, 8) * 0.1)
        self.attn = torch.nn.MultiheadAttention(8, 2, batch_first=True)
        self.head = torch.nn.Linear(8, 2)

    def forward(self, ids):
        h = self.embed(ids) + self.position
        h = h + self.attn(h, h, h, need_weights=False)[0]
        return self.head(torch.tanh(h).mean(1))


@pytest.fixture(scope="module")
def net():
    return RankNet().eval()


@pytest.fixture(scope="module")
def model(net):
    return kx.load_model(net, layout=TokenLayout(LENGTH, VOCAB, pad=0))


def ids(n=4, seed=0):
    rng = np.random.default_rng(seed)
    x = np.stack([rng.permutation(np.arange(1, len(VOCAB)))[:LENGTH] for _ in range(n)])
    x[0, -2:] = 0  # a shorter sample, padded
    return x


def test_gradient_x_embedding_equals_captum(model, net):
    x = ids()
    result = kx.explain(model, x, "grad_x_input", target=1, batch_size=3)
    expected = LayerGradientXActivation(net, net.embed).attribute(torch.tensor(x), target=1)
    np.testing.assert_allclose(result.scores, expected.detach().sum(-1).numpy(), rtol=1e-4,
                               atol=1e-6)


def test_integrated_gradients_from_the_pad_embedding_equals_captum(model, net):
    x = ids()
    result = kx.explain(model, x, "integrated_gradients", target=0, batch_size=16)
    expected, delta = LayerIntegratedGradients(net, net.embed).attribute(
        torch.tensor(x), baselines=torch.zeros_like(torch.tensor(x)), target=0, n_steps=50,
        return_convergence_delta=True)
    np.testing.assert_allclose(result.scores, expected.detach().sum(-1).numpy(), atol=1e-5)
    np.testing.assert_allclose(result.delta, delta.numpy(), atol=1e-5)


def naive(net, rows, target):
    with torch.no_grad():
        return net(torch.tensor(np.asarray(rows))).numpy()[:, target]


def test_deletion_moves_later_tokens_forward_and_pads_the_end(model, net):
    x = ids()
    result = kx.explain(model, x, "deletion", target=1, batch_size=5)
    base = naive(net, x, 1)
    for i, row in enumerate(x):
        for j in range(LENGTH):
            if row[j] == 0:
                assert result.scores[i, j] == 0
                continue
            deleted = np.r_[row[:j], row[j + 1:], 0]
            assert result.scores[i, j] == pytest.approx(base[i] - naive(net, [deleted], 1)[0],
                                                        abs=1e-5)


def test_occlusion_replaces_tokens_by_pad(model, net):
    x = ids()
    result = kx.explain(model, x, "occlusion", target=0, batch_size=5)
    base = naive(net, x, 0)
    occluded = np.repeat(x, LENGTH, axis=0)
    occluded[np.arange(len(occluded)), np.tile(np.arange(LENGTH), len(x))] = 0
    expected = base[:, None] - naive(net, occluded, 0).reshape(len(x), LENGTH)
    np.testing.assert_allclose(result.scores, expected, atol=1e-5)


def test_token_names_are_read_and_bad_tokens_named(model, tmp_path):
    x = ids(2)
    names = [[VOCAB[i] for i in row if i] for row in x]
    path = tmp_path / "cells.txt"
    path.write_text("".join(f"cell{i}\t{' '.join(row)}\n" for i, row in enumerate(names)))
    from_file = kx.explain(model, path, "deletion", target=0)
    np.testing.assert_array_equal(from_file.inputs, x)
    assert from_file.names == ["cell0", "cell1"]
    with pytest.raises(InputError, match="sample 'cell0', token 1: 'NOPE'"):
        path.write_text("cell0\tGENE01 NOPE\n")
        kx.explain(model, path, "deletion")
    with pytest.raises(InputError, match="has 9 tokens"):
        kx.explain(model, [list(VOCAB[1:10])], "deletion")
    with pytest.raises(InputError, match="sample 1, token 0: 25"):
        kx.explain(model, np.array([[1] * LENGTH, [25] + [1] * (LENGTH - 1)]), "deletion")
    with pytest.raises(InputError, match="method 'ism'"):
        kx.explain(model, x, "ism")
