"""PyTorch architecture of the ``epiverse_like`` stand-in (an EpiVerse/EpiGePT-class model).

Kipoi imports this file (``module_file`` in ``model.yaml``), loads the state_dict from
``weights.pt`` into :class:`EpiVerseLike` and calls it with its inputs by name (the schema's
inputs are a dict). The weights are produced by ``examples/standins/epiverse_like.py``.
"""
import torch
from torch import nn

SEQ_LEN = 200
#: Channels of the ``chromatin`` input, in order.
TRACKS = ("ATAC", "CTCF")
# Bases per token: the stem's max-pooling width.
TOKEN_SIZE = 4
D_MODEL = 16
N_HEADS = 2


class SwapAxes(nn.Module):
    """Swap the last two axes: ``(N, C, T)`` <-> ``(N, T, C)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``x`` with its last two axes swapped."""
        return x.transpose(1, 2)


class EpiVerseLike(nn.Module):
    """DNA and chromatin tracks through a convolutional stem, then self-attention.

    The DNA and the tracks each go through their own convolution; the two are summed before
    the ReLU, so a unit can fire only where a sequence pattern and a track pattern coincide
    (the AND the planted truth needs). Max pooling makes one token per 4 bp, a transformer
    encoder layer mixes the tokens, a per-token head scores each token and the sequence score
    is the maximum over tokens. Every nonlinearity, pooling and reshape is an ``nn.Module``,
    so hook-based attribution methods can reach them.

    Inputs: ``seq``, one-hot DNA ``(N, 4, 200)`` (A, C, G, T on axis 1); ``chromatin``,
    tracks ``(N, 2, 200)`` (ATAC, CTCF on axis 1).
    Output: ``(N, 1)`` probability that the region carries the predicted active mark.
    """

    def __init__(self):
        super().__init__()
        self.seq_conv = nn.Conv1d(4, D_MODEL, kernel_size=15, padding=7)
        self.track_conv = nn.Conv1d(len(TRACKS), D_MODEL, kernel_size=15, padding=7)
        self.stem_relu = nn.ReLU()
        self.pool = nn.MaxPool1d(TOKEN_SIZE)
        self.to_tokens = SwapAxes()
        # Without dropout, training sees the attention used at inference.
        self.encoder = nn.TransformerEncoderLayer(D_MODEL, N_HEADS, dim_feedforward=32,
                                                  dropout=0.0, activation=nn.ReLU(),
                                                  batch_first=True)
        self.head = nn.Linear(D_MODEL, 1)
        self.to_channels = SwapAxes()
        self.token_max = nn.AdaptiveMaxPool1d(1)
        self.flatten = nn.Flatten()
        self.out = nn.Sigmoid()

    def forward(self, seq: torch.Tensor, chromatin: torch.Tensor) -> torch.Tensor:
        """Return the probability of the active mark given DNA ``seq`` and ``chromatin``."""
        stem = self.stem_relu(self.seq_conv(seq) + self.track_conv(chromatin))
        tokens = self.encoder(self.to_tokens(self.pool(stem)))
        scores = self.to_channels(self.head(tokens))
        return self.out(self.flatten(self.token_max(scores)))
