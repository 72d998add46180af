"""PyTorch architecture of the ``corigami_like`` stand-in (a C.Origami-class contact-map model).

Kipoi imports this file (``module_file`` in ``model.yaml``), loads the state_dict from
``weights.pt`` into :class:`COrigamiLike` and calls it with its inputs by name (the schema's
inputs are a dict). The weights are produced by ``examples/standins/corigami_like.py``.
"""
import torch
from torch import nn

SEQ_LEN = 1024
BIN_SIZE = 64
N_BINS = SEQ_LEN // BIN_SIZE
CHANNELS = 8


class COrigamiLike(nn.Module):
    """A 1D encoder of DNA, CTCF and ATAC per bin, and a pairwise decoder to a contact map.

    Encoder: as in C.Origami, the DNA's four channels and the two tracks are stacked into six
    input channels of one convolution (19 bp: the 15 bp CTCF motif and some flank) and a ReLU,
    so a unit can fire where a motif and track signal coincide; max pooling makes one feature
    vector per 64 bp bin, and a 1x1 convolution turns it into two anchor scores per bin in
    (0, 1): a forward- and a reverse-oriented CTCF anchor.

    Decoder (the 1D-to-2D step): the logit of contact ``(i, j)``, ``i < j``, is a learned
    function of the distance ``j - i`` plus ``alpha * F(i) * R(j)``, where ``F(i)`` sums the
    forward anchors at or left of ``i`` and ``R(j)`` the reverse anchors at or right of ``j``
    (a domain enclosed by a convergent pair, as loop extrusion makes), plus
    ``beta * f(i) * r(j)`` (the loop at the corner where the two anchors meet). The map is
    made symmetric by construction and ends in a sigmoid (contact probability).

    Inputs: ``seq``, one-hot DNA ``(N, 4, 1024)`` (A, C, G, T on axis 1); ``ctcf`` and
    ``atac``, tracks ``(N, 1, 1024)``.
    Output: ``(N, 16, 16)`` contact map of 64 bp bins.
    """

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4 + 1 + 1, CHANNELS, kernel_size=19, padding=9)
        self.stem_relu = nn.ReLU()
        self.pool = nn.MaxPool1d(BIN_SIZE)
        self.anchor = nn.Conv1d(CHANNELS, 2, kernel_size=1)
        # Anchors start rare (sigmoid(-3) ~ 0.05), as they are: summed over 16 bins, anchors
        # starting at 0.5 would saturate the domain term and hide the few true ones.
        nn.init.constant_(self.anchor.bias, -3.0)
        self.anchor_act = nn.Sigmoid()
        self.distance_logit = nn.Parameter(torch.zeros(N_BINS))
        self.alpha = nn.Parameter(torch.tensor(1.0))
        self.beta = nn.Parameter(torch.tensor(1.0))
        index = torch.arange(N_BINS)
        self.register_buffer("distance", (index[None, :] - index[:, None]).abs(), persistent=False)
        self.register_buffer("upper", torch.triu(torch.ones(N_BINS, N_BINS), diagonal=1),
                             persistent=False)
        self.out = nn.Sigmoid()

    def forward(self, seq: torch.Tensor, ctcf: torch.Tensor, atac: torch.Tensor) -> torch.Tensor:
        """Return the contact map ``(N, 16, 16)`` of DNA ``seq`` with its ``ctcf`` and ``atac``."""
        stem = self.stem_relu(self.conv(torch.cat([seq, ctcf, atac], dim=1)))
        anchors = self.anchor_act(self.anchor(self.pool(stem)))
        forward, reverse = anchors[:, 0], anchors[:, 1]
        enclosing_forward = forward.cumsum(dim=1)
        enclosing_reverse = reverse.flip(1).cumsum(dim=1).flip(1)
        pairs = (self.alpha * enclosing_forward[:, :, None] * enclosing_reverse[:, None, :]
                 + self.beta * forward[:, :, None] * reverse[:, None, :]) * self.upper
        return self.out(self.distance_logit[self.distance] + pairs + pairs.transpose(1, 2))
