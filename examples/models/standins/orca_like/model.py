"""PyTorch architecture of the bundled ``orca_like`` stand-in model.

Kipoi imports this file (``module_file`` in ``model.yaml``) and loads the state_dict from
``weights.pt`` into :class:`OrcaLike`. The weights are produced by
``examples/standins/orca_like.py``.
"""
import torch
from torch import nn

SEQ_LEN = 2048
BIN_SIZE = 64
N_BINS = SEQ_LEN // BIN_SIZE


class OrcaLike(nn.Module):
    """Sequence encoder and pairwise decoder from one-hot DNA to a symmetric contact map.

    The encoder scans the sequence with motif-sized filters, max-pools them to 64 bp bins and
    reads two site strengths per bin, ``f`` (a forward-oriented CTCF site) and ``r`` (a reverse
    one), each in (0, 1). Like Orca, it predicts contacts normalised by their expectation at
    each distance (log observed / expected), so there is no distance decay to model. The
    decoder builds that map for every bin pair ``i < j``::

        -insulation * (sites strictly between i and j) + loop * f_i * r_j

    (mirrored below the diagonal): every site between two bins insulates them (a boundary),
    and a forward site upstream of a reverse one, the convergent orientation, joins the two
    anchors in a loop. ``insulation`` and ``loop`` are learned. Every nonlinearity and pooling
    is an ``nn.Module``, so hook-based attribution methods can reach them.

    Input: one-hot DNA ``(N, 4, 2048)``, alphabet A, C, G, T on axis 1.
    Output: ``(N, 32, 32)`` log observed / expected contact map; bin ``k`` covers bases
    ``[64 k, 64 k + 64)``.
    """

    def __init__(self):
        super().__init__()
        self.enc = nn.Conv1d(4, 4, kernel_size=19, padding=9)
        self.enc_relu = nn.ReLU()
        self.pool = nn.MaxPool1d(BIN_SIZE)
        self.site = nn.Conv1d(4, 2, kernel_size=1)
        self.site_act = nn.Sigmoid()
        self.between_relu = nn.ReLU()
        self.insulation = nn.Parameter(torch.tensor(1.0))
        self.loop = nn.Parameter(torch.tensor(1.0))
        self.register_buffer("upper", torch.triu(torch.ones(N_BINS, N_BINS), diagonal=1),
                             persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the ``(N, 32, 32)`` log observed / expected contact map of one-hot ``x``."""
        sites = self.site_act(self.site(self.pool(self.enc_relu(self.enc(x)))))
        forward, reverse = sites[:, 0], sites[:, 1]
        total = forward + reverse
        upto = torch.cumsum(total, dim=1)
        # between[i, j] = sites in bins i+1 .. j-1 for i < j; the ReLU zeroes i >= j.
        between = self.between_relu((upto - total)[:, None, :] - upto[:, :, None])
        between = between + between.transpose(1, 2)
        loops = forward[:, :, None] * reverse[:, None, :] * self.upper
        loops = loops + loops.transpose(1, 2)
        return self.loop * loops - self.insulation * between
