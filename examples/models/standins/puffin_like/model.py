"""PyTorch architecture of the bundled ``puffin_like`` stand-in model.

Kipoi imports this file (``module_file`` in ``model.yaml``) and loads the state_dict from
``weights.pt`` into :class:`PuffinLike`. The weights are produced by
``examples/standins/puffin_like.py``.
"""
import torch
from torch import nn

SEQ_LEN = 320
STRANDS = ("plus", "minus")
# Bases per position of the coarse (down-sampled) level of the U-net.
POOL = 4


class PuffinLike(nn.Module):
    """A one-level U-net from one-hot DNA to a base-resolution initiation profile per strand.

    The encoder scans the sequence with motif-sized filters at base resolution; the coarse
    level pools by 4 and convolves wide enough (+-40 bp) to carry a motif's signal to the
    initiation site downstream of it; the decoder upsamples, joins the base-resolution
    features (the U-net skip connection) and predicts one non-negative value per base and
    strand. Every nonlinearity, pooling and reshape is an ``nn.Module`` so that hook-based
    attribution methods can reach them.

    Input: one-hot DNA ``(N, 4, 320)``, alphabet A, C, G, T on axis 1.
    Output: ``(N, 320, 2)`` initiation signal at every base, plus and minus strand.
    """

    def __init__(self):
        super().__init__()
        self.enc = nn.Conv1d(4, 16, kernel_size=11, padding=5)
        self.enc_relu = nn.ReLU()
        self.down = nn.MaxPool1d(POOL)
        self.mid = nn.Conv1d(16, 16, kernel_size=25, padding=12)
        self.mid_relu = nn.ReLU()
        self.up = nn.Upsample(scale_factor=POOL, mode="nearest")
        self.dec = nn.Conv1d(32, 16, kernel_size=9, padding=4)
        self.dec_relu = nn.ReLU()
        self.head = nn.Conv1d(16, len(STRANDS), kernel_size=1)
        self.out = nn.Softplus()
        # The profile is zero almost everywhere: starting there keeps the first updates from
        # driving every ReLU dead, which otherwise ends training at the all-zero profile.
        nn.init.constant_(self.head.bias, -4.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the ``(N, 320, 2)`` profile of one-hot ``x``."""
        skip = self.enc_relu(self.enc(x))
        coarse = self.up(self.mid_relu(self.mid(self.down(skip))))
        features = self.dec_relu(self.dec(torch.cat([skip, coarse], dim=1)))
        return self.out(self.head(features)).transpose(1, 2)
