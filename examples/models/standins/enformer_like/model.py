"""PyTorch architecture of the bundled ``enformer_like`` stand-in model.

Kipoi imports this file (``module_file`` in ``model.yaml``) and loads the state_dict from
``weights.pt`` into :class:`EnformerLike`. The weights are produced by
``examples/standins/enformer_like.py``.
"""
import torch
from torch import nn

SEQ_LEN = 512
# Bases per token and per output bin: the stem's max-pooling width.
BIN_SIZE = 16
N_BINS = SEQ_LEN // BIN_SIZE
TRACKS = ("CAGE", "DNase")
D_MODEL = 32
N_HEADS = 4


class SwapAxes(nn.Module):
    """Swap the last two axes: ``(N, C, T)`` <-> ``(N, T, C)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``x`` with its last two axes swapped."""
        return x.transpose(1, 2)


class EnformerLike(nn.Module):
    """Convolutional stem, one transformer layer and a per-bin multi-task head.

    The stem turns each 16 bp bin into a token that sees 30 bp of sequence, a self-attention
    layer lets every token gather information from any other (there is no positional
    encoding: attention is by content), and a head shared by all tokens predicts every track
    in every bin. A bin's signal can therefore depend on elements far beyond the stem's
    receptive field only through attention. Every nonlinearity, pooling and reshape is an
    ``nn.Module``, so hook-based attribution methods can reach them.

    Input: one-hot DNA ``(N, 4, 512)``, alphabet A, C, G, T on axis 1.
    Output: ``(N, 32, 2)`` non-negative signal per 16 bp bin (bin ``k`` covers bases
    ``[16 k, 16 k + 16)``, also token ``k``) and track (``CAGE``, ``DNase``).
    """

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, D_MODEL, kernel_size=15, padding=7)
        self.conv_relu = nn.ReLU()
        self.pool = nn.MaxPool1d(BIN_SIZE)
        self.to_tokens = SwapAxes()
        # Without dropout, training sees the attention used at inference.
        self.transformer = nn.TransformerEncoderLayer(D_MODEL, N_HEADS, dim_feedforward=64,
                                                      dropout=0.0, activation=nn.ReLU(),
                                                      batch_first=True)
        self.head_fc1 = nn.Linear(D_MODEL, D_MODEL)
        self.head_relu = nn.ReLU()
        self.head_fc2 = nn.Linear(D_MODEL, len(TRACKS))
        self.out = nn.Softplus()
        # Most bins carry no signal: starting there keeps early updates from killing the ReLUs.
        nn.init.constant_(self.head_fc2.bias, -4.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the ``(N, 32, 2)`` binned tracks of one-hot ``x``."""
        tokens = self.transformer(self.to_tokens(self.pool(self.conv_relu(self.conv(x)))))
        return self.out(self.head_fc2(self.head_relu(self.head_fc1(tokens))))
