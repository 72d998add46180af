"""PyTorch architecture of the bundled ``pytorch_cnn`` example model.

Kipoi imports this file (``module_file`` in ``model.yaml``) and loads the
state_dict from ``weights.pt`` into :class:`TFBindingCNN`. The weights are
produced by ``examples/train_examples.py``.
"""
import torch
from torch import nn

SEQ_LEN = 200
N_OUTPUTS = 3


class TFBindingCNN(nn.Module):
    """Small two-layer CNN predicting the presence of three TF motifs.

    Every nonlinearity, pooling and reshape is an ``nn.Module`` attribute
    rather than a functional call, because hook-based attribution methods
    (DeepLIFT, DeepLIFT-SHAP) can only rewrite what they can hook.

    Input: one-hot DNA of shape ``(N, 4, 200)``, alphabet A, C, G, T on axis 1.
    Output: ``(N, 3)`` probabilities, one sigmoid per motif.
    """

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv1d(4, 16, kernel_size=15, padding=7)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool1d(4)
        self.conv2 = nn.Conv1d(16, 16, kernel_size=5, padding=2)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool1d(5)
        self.flatten = nn.Flatten()
        # 200 bp / 4 / 5 = 10 positions x 16 channels.
        self.fc1 = nn.Linear(16 * SEQ_LEN // 20, 32)
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Linear(32, N_OUTPUTS)
        self.out = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return per-motif presence probabilities for one-hot input ``x``."""
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        x = self.relu3(self.fc1(self.flatten(x)))
        return self.out(self.fc2(x))
