"""PyTorch architecture of the ``get_like`` stand-in (a GET-class transformer over regions).

A gene's input is a matrix of its ``REGIONS`` accessible regions (rows, in genome order, the
gene's promoter in the middle) by ``FEATURES`` features (columns: motif scores, then the
region's accessibility). Kipoi imports this file (``module_file`` in ``model.yaml``) and loads
the state_dict from ``weights.pt`` into :class:`RegionTransformer`;
``examples/standins/get_like.py`` trains it. Nothing here is real biology.
"""
import torch
from torch import nn

REGIONS = 15
#: Nine motif scores and the accessibility of each region.
FEATURES = 10
#: The region holding the gene's promoter, whose expression is predicted.
CENTRE = REGIONS // 2
D_MODEL = 32
N_HEADS = 4


class RegionTransformer(nn.Module):
    """A linear embedding of each region's features plus a learned position embedding, a
    transformer encoder layer over the regions, and a linear head on the promoter region's
    output: the gene's log expression.

    Input: ``(N, 15, 10)`` float32 features. Output: ``(N, 1)`` log expression.
    """

    def __init__(self):
        super().__init__()
        self.embed = nn.Linear(FEATURES, D_MODEL)
        self.position = nn.Parameter(0.1 * torch.randn(1, REGIONS, D_MODEL))
        self.encoder = nn.TransformerEncoderLayer(D_MODEL, N_HEADS, dim_feedforward=64,
                                                  dropout=0.0, batch_first=True)
        self.head = nn.Linear(D_MODEL, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the log expression of the genes whose region features are ``x``."""
        h = self.encoder(self.embed(x) + self.position)
        return self.head(h[:, CENTRE])
