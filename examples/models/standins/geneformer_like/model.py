"""PyTorch architecture of the ``geneformer_like`` stand-in (a Geneformer-class transformer over
gene tokens).

A cell is its expressed genes as token ids in rank-value order (most expressed first), padded at
the end with ``<pad>`` (id 0). Kipoi imports this file (``module_file`` in ``model.yaml``) and
loads the state_dict from ``weights.pt`` into :class:`GeneRankTransformer`;
``examples/standins/geneformer_like.py`` trains it. Nothing here is real biology.
"""
import torch
from torch import nn

#: Genes per cell (tokens); shorter cells are padded at the end.
LENGTH = 24
#: ``<pad>`` plus the made-up genes GENE01..GENE60; ``vocabulary.txt`` lists them in id order.
VOCABULARY_SIZE = 61
PAD = 0
D_MODEL = 32
N_HEADS = 4


class GeneRankTransformer(nn.Module):
    """Gene embedding + rank (position) embedding, two transformer encoder layers, mean over the
    cell's genes, and a logistic head: the probability that the cell is in the disease state.

    The gene embedding is the model's first ``nn.Embedding`` (where kipoi-explain attributes
    token ids); the rank embedding is a parameter added after it, so that the model can tell a
    highly ranked gene from a lowly ranked one. Pad tokens are masked out of attention and of the
    mean, as Geneformer masks them.

    Input: ``(N, 24)`` int64 token ids. Output: ``(N, 1)`` probability of ``disease``.
    """

    def __init__(self):
        super().__init__()
        self.genes = nn.Embedding(VOCABULARY_SIZE, D_MODEL, padding_idx=PAD)
        self.rank = nn.Parameter(0.1 * torch.randn(1, LENGTH, D_MODEL))
        self.encoder = nn.ModuleList(
            nn.TransformerEncoderLayer(D_MODEL, N_HEADS, dim_feedforward=64, dropout=0.0,
                                       batch_first=True) for _ in range(2))
        self.head = nn.Linear(D_MODEL, 1)
        self.out = nn.Sigmoid()

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Return the disease probability of the cells ``ids``."""
        pad = ids == PAD
        h = self.genes(ids) + self.rank
        for layer in self.encoder:
            h = layer(h, src_key_padding_mask=pad)
        keep = (~pad).unsqueeze(-1).to(h.dtype)
        pooled = (h * keep).sum(1) / keep.sum(1).clamp(min=1.0)
        return self.out(self.head(pooled))
