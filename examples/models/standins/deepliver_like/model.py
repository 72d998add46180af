"""PyTorch architecture of the ``deepliver_like`` stand-in model.

Kipoi imports this file (``module_file`` in ``model.yaml``) and loads the
state_dict from ``weights.pt`` into :class:`DeepLiverLike`. The weights are
produced by ``examples/standins/deepliver_like.py``.
"""
import torch
from torch import nn

SEQ_LEN = 300


class DeepLiverLike(nn.Module):
    """Two convolutions (with batch normalisation), a global max pool over positions and two
    dense layers predicting whether a sequence is a liver enhancer.

    DeepLiver follows its convolution with a bidirectional LSTM; here a second convolution and
    a global max pool take its place (the LSTM's job, finding motifs anywhere and combining
    them, is done by pooling and the dense layers), so that every layer has an exact DeepLIFT
    rule. Every nonlinearity, pooling and reshape is an ``nn.Module`` attribute, because
    hook-based attribution methods (DeepLIFT, DeepSHAP) can only rewrite what they can hook.

    Input: one-hot DNA ``(N, 4, 300)``, alphabet A, C, G, T on axis 1.
    Output: ``(N, 1)`` probability of a liver enhancer.
    """

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv1d(4, 32, kernel_size=15, padding=7)
        self.bn1 = nn.BatchNorm1d(32)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool1d(3)
        self.conv2 = nn.Conv1d(32, 32, kernel_size=5, padding=2)
        self.bn2 = nn.BatchNorm1d(32)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.AdaptiveMaxPool1d(1)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(32, 32)
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Linear(32, 1)
        self.out = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the liver-enhancer probability for one-hot input ``x``."""
        x = self.pool1(self.relu1(self.bn1(self.conv1(x))))
        x = self.pool2(self.relu2(self.bn2(self.conv2(x))))
        x = self.relu3(self.fc1(self.flatten(x)))
        return self.out(self.fc2(x))
