"""PyTorch architecture of the ``basset_like`` stand-in model.

Kipoi imports this file (``module_file`` in ``model.yaml``) and loads the
state_dict from ``weights.pt`` into :class:`BassetLike`. The weights are
produced by ``examples/standins/basset_like.py``.
"""
import torch
from torch import nn

SEQ_LEN = 300
N_TASKS = 4


class BassetLike(nn.Module):
    """Basset's shape, scaled down: three convolutions (19, 11 and 7 bp wide), each followed by
    batch normalisation, ReLU and max pooling, two dense layers and one sigmoid per cell type.

    Basset has 300/200/200 filters, dropout and 164 outputs; this has 32 filters per layer, no
    dropout and 4 outputs. Every nonlinearity, pooling and reshape is an ``nn.Module``
    attribute, because hook-based attribution methods (DeepLIFT, DeepSHAP) can only rewrite
    what they can hook.

    Input: one-hot DNA ``(N, 4, 300)``, alphabet A, C, G, T on axis 1.
    Output: ``(N, 4)`` probabilities that the sequence is accessible in each cell type.
    """

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv1d(4, 32, kernel_size=19, padding=9)
        self.bn1 = nn.BatchNorm1d(32)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool1d(3)
        self.conv2 = nn.Conv1d(32, 32, kernel_size=11, padding=5)
        self.bn2 = nn.BatchNorm1d(32)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool1d(4)
        self.conv3 = nn.Conv1d(32, 32, kernel_size=7, padding=3)
        self.bn3 = nn.BatchNorm1d(32)
        self.relu3 = nn.ReLU()
        self.pool3 = nn.MaxPool1d(5)
        self.flatten = nn.Flatten()
        # 300 bp / 3 / 4 / 5 = 5 positions x 32 channels.
        self.fc1 = nn.Linear(32 * 5, 64)
        self.relu4 = nn.ReLU()
        self.fc2 = nn.Linear(64, N_TASKS)
        self.out = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return per-cell-type accessibility probabilities for one-hot input ``x``."""
        x = self.pool1(self.relu1(self.bn1(self.conv1(x))))
        x = self.pool2(self.relu2(self.bn2(self.conv2(x))))
        x = self.pool3(self.relu3(self.bn3(self.conv3(x))))
        x = self.relu4(self.fc1(self.flatten(x)))
        return self.out(self.fc2(x))
