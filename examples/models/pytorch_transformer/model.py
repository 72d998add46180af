"""PyTorch architecture of the bundled ``pytorch_transformer`` example model.

Kipoi imports this file (``module_file`` in ``model.yaml``) and loads the
state_dict from ``weights.pt`` into :class:`PairTransformer`. The weights are
produced by ``examples/train_transformer.py``.
"""
import torch
from torch import nn

SEQ_LEN = 300
# Bases per token: the stem's max-pooling width.
TOKEN_SIZE = 4
D_MODEL = 32
N_HEADS = 4
N_LAYERS = 1


class SwapAxes(nn.Module):
    """Swap the last two axes: ``(N, C, T)`` <-> ``(N, T, C)``.

    A module rather than a ``transpose`` call so that the reshapes show up
    in the module tree next to the layers they connect.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``x`` with its last two axes swapped."""
        return x.transpose(1, 2)


class PairTransformer(nn.Module):
    """Convolutional stem + self-attention, detecting a pair of motifs at a distance.

    The stem turns each 4 bp bin into a token whose receptive field (18 bp)
    covers at most one motif, the encoder lets tokens exchange information,
    a per-token head scores every token and the sequence score is the
    maximum over tokens. Because the planted motifs are 50-200 bp apart, no
    token sees both without attention, so the model can only solve its task
    by attending from one motif to the other. There is no positional
    encoding: attention is purely content-based. Every nonlinearity, pooling
    and reshape is an ``nn.Module``, so hook-based attribution methods can
    reach them.

    Input: one-hot DNA of shape ``(N, 4, 300)``, alphabet A, C, G, T on axis 1.
    Output: ``(N, 1)`` probability that both motifs are present.
    Token ``t`` covers bases ``[4 t, 4 t + 4)`` (its receptive field is
    bases ``4 t - 7`` to ``4 t + 10``); there are 75 tokens.
    """

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, D_MODEL, kernel_size=15, padding=7)
        self.conv_relu = nn.ReLU()
        self.pool = nn.MaxPool1d(TOKEN_SIZE)
        self.to_tokens = SwapAxes()
        # One layer keeps attention interpretable: in a two-layer trial the
        # first layer stayed near uniform and only the second attended to the
        # partner. Without dropout, training sees the attention used at inference.
        self.encoder = nn.ModuleList([
            nn.TransformerEncoderLayer(D_MODEL, N_HEADS, dim_feedforward=64, dropout=0.0,
                                       activation=nn.ReLU(), batch_first=True)
            for _ in range(N_LAYERS)])
        self.head_fc1 = nn.Linear(D_MODEL, D_MODEL)
        self.head_relu = nn.ReLU()
        self.head_fc2 = nn.Linear(D_MODEL, 1)
        self.to_channels = SwapAxes()
        self.token_max = nn.AdaptiveMaxPool1d(1)
        self.flatten = nn.Flatten()
        self.out = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the probability that the motif pair is present in one-hot ``x``."""
        tokens = self.to_tokens(self.pool(self.conv_relu(self.conv(x))))
        for layer in self.encoder:
            tokens = layer(tokens)
        scores = self.head_fc2(self.head_relu(self.head_fc1(tokens)))
        return self.out(self.flatten(self.token_max(self.to_channels(scores))))
