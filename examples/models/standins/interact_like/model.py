"""PyTorch architecture of the ``interact_like`` stand-in (an INTERACT-class CNN + transformer).

Kipoi imports this file (``module_file`` in ``model.yaml``) and loads the state_dict from
``weights.pt`` into :class:`MethylationTransformer`; ``examples/standins/interact_like.py``
trains it. Nothing here is real biology.
"""
import torch
from torch import nn

SEQ_LEN = 400
# Bases per token: the stem's max-pooling width.
TOKEN_SIZE = 10
# The CpG whose methylation is predicted: C at CENTRE, G at CENTRE + 1, both in one token.
CENTRE = SEQ_LEN // 2
CENTRE_TOKEN = CENTRE // TOKEN_SIZE
D_MODEL = 32
N_HEADS = 4


class SwapAxes(nn.Module):
    """Swap the last two axes: ``(N, C, T)`` -> ``(N, T, C)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``x`` with its last two axes swapped."""
        return x.transpose(1, 2)


class PositionEmbedding(nn.Module):
    """Add a learned vector per token position, so that attention can depend on distance."""

    def __init__(self, n_tokens: int, dim: int):
        super().__init__()
        self.embedding = nn.Parameter(0.02 * torch.randn(1, n_tokens, dim))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Return ``tokens`` plus the position embedding, shape ``(N, T, D)``."""
        return tokens + self.embedding


class SelectToken(nn.Module):
    """Keep one token: ``(N, T, D)`` -> ``(N, D)``."""

    def __init__(self, index: int):
        super().__init__()
        self.index = index

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Return token ``index`` of every sequence."""
        return tokens[:, self.index]


class MethylationTransformer(nn.Module):
    """Convolutional stem + one self-attention layer, read out at the central CpG's token.

    The stem turns each 10 bp bin into a token whose receptive field (18 bp) cannot reach a
    motif centred 30 bp or more from the CpG, a transformer encoder layer (learned position
    embedding, 4 heads) lets tokens exchange information, and the methylation level is read
    from the central CpG's token alone, as INTERACT predicts the methylation of the CpG at
    the centre of its window. What the model knows about the sequence around the CpG must
    therefore reach that token through attention. Every nonlinearity and reshape is an
    ``nn.Module``, so hook-based attribution methods can reach them.

    Input: one-hot DNA ``(N, 4, 400)``, alphabet A, C, G, T on axis 1, the CpG at 200-201.
    Output: ``(N, 1)`` methylation level (beta value) of that CpG.
    Token ``t`` covers bases ``[10 t, 10 t + 10)`` (receptive field ``10 t - 4`` to
    ``10 t + 13``); there are 40 tokens, the CpG's is 20.
    """

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, D_MODEL, kernel_size=9, padding=4)
        self.conv_relu = nn.ReLU()
        self.pool = nn.MaxPool1d(TOKEN_SIZE)
        self.to_tokens = SwapAxes()
        self.position = PositionEmbedding(SEQ_LEN // TOKEN_SIZE, D_MODEL)
        # No dropout, so that training sees the attention used at inference.
        self.encoder = nn.TransformerEncoderLayer(D_MODEL, N_HEADS, dim_feedforward=64,
                                                  dropout=0.0, activation=nn.ReLU(),
                                                  batch_first=True, norm_first=True)
        self.centre = SelectToken(CENTRE_TOKEN)
        self.head_fc1 = nn.Linear(D_MODEL, D_MODEL)
        self.head_relu = nn.ReLU()
        self.head_fc2 = nn.Linear(D_MODEL, 1)
        self.out = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the central CpG's methylation level for one-hot ``x``."""
        tokens = self.position(self.to_tokens(self.pool(self.conv_relu(self.conv(x)))))
        centre = self.centre(self.encoder(tokens))
        return self.out(self.head_fc2(self.head_relu(self.head_fc1(centre))))
