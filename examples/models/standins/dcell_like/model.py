"""PyTorch architecture of the ``dcell_like`` stand-in (a DCell-class visible neural network).

Every hidden unit is a named term of a made-up ontology, wired like the Gene Ontology
hierarchy in DCell: genes feed only the small term that annotates them, small terms feed
only their larger term, and the larger terms feed the root term, whose state gives the
growth prediction. The hierarchy lives here as constants so that ``DCellLike()`` builds its
masks without arguments, as Kipoi's ``PyTorchModel`` requires; the masks are buffers, so they
travel in ``weights.pt`` with the weights. ``examples/standins/dcell_like.py`` writes
``entities.yaml`` from these same constants. Nothing here is real biology.
"""
import torch
import torch.nn.functional as F
from torch import nn

# Small term (0 = S01, 1 = S02, ...) annotating GENE01, GENE02, ...; a term's genes are
# deliberately not contiguous.
GENE_TERM = (0, 1, 2, 3, 4, 5, 6, 7, 2, 4, 0, 6, 1, 3, 7, 5, 4, 2, 6, 0, 3, 1, 5, 7)
# Larger term (0 = L1, 1 = L2, 2 = L3) of S01, S02, ...
TERM_PARENT = (0, 1, 0, 2, 1, 2, 0, 1)
N_GENES = len(GENE_TERM)
N_SMALL = max(GENE_TERM) + 1
N_LARGE = max(TERM_PARENT) + 1


def membership_mask(groups: tuple[int, ...], n_groups: int) -> torch.Tensor:
    """``(n_groups, len(groups))`` 0/1 mask, laid out like ``nn.Linear.weight``, of a layer
    whose input unit ``i`` feeds only output unit ``groups[i]``."""
    mask = torch.zeros(n_groups, len(groups))
    mask[torch.as_tensor(groups), torch.arange(len(groups))] = 1.0
    return mask


class MaskedLinear(nn.Linear):
    """``nn.Linear`` whose weight is multiplied by a fixed 0/1 connectivity mask (a buffer)."""

    def __init__(self, mask: torch.Tensor):
        super().__init__(mask.shape[1], mask.shape[0])
        self.register_buffer("mask", mask.float())
        # Scale by each unit's real fan-in: the dense default would start a term fed by
        # three of 24 genes almost flat.
        bound = 1.0 / self.mask.sum(dim=1, keepdim=True).sqrt()
        with torch.no_grad():
            self.weight.uniform_(-1.0, 1.0).mul_(bound * self.mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply ``x @ (weight * mask).T + bias``."""
        return F.linear(x, self.weight * self.mask, self.bias)


class WildTypeTanh(nn.Module):
    """A term's state: ``tanh(z) - tanh(z_wild)``, where ``z_wild`` is the term's input for the
    wild type, so that every term of the wild type is in state 0.

    A deletion is a change from the wild type; centring the states there makes a term's
    state, and so its gradient x activation or ablation to 0, measure that change rather
    than the term's resting level.
    """

    def forward(self, z: torch.Tensor, z_wild: torch.Tensor) -> torch.Tensor:
        """Return ``tanh(z) - tanh(z_wild)``."""
        return torch.tanh(z) - torch.tanh(z_wild)


class DCellLike(nn.Module):
    """Genes → small terms → larger terms → root → growth, one unit per term.

    Each term's state is a :class:`WildTypeTanh` module attribute so that hooks can read and
    replace it: ``small_act`` (one unit per small term), ``large_act`` (one per larger term)
    and ``root_act`` (the root term); see ``entities.yaml``. The wild type (no deletion) puts
    every term in state 0; since the states feeding a layer are then 0, that layer's wild-type
    input is its bias.

    Input: ``(N, 24)`` float32 gene disruptions, 1 = deleted, 0 = wild type.
    Output: ``(N, 1)`` relative growth in [0, 1].
    """

    def __init__(self):
        super().__init__()
        self.small = MaskedLinear(membership_mask(GENE_TERM, N_SMALL))
        self.small_act = WildTypeTanh()
        self.large = MaskedLinear(membership_mask(TERM_PARENT, N_LARGE))
        self.large_act = WildTypeTanh()
        self.root = nn.Linear(N_LARGE, 1)
        self.root_act = WildTypeTanh()
        self.output = nn.Linear(1, 1)
        self.out = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the predicted growth of the genotypes ``x``."""
        x = self.small_act(self.small(x), self.small.bias)
        x = self.large_act(self.large(x), self.large.bias)
        return self.out(self.output(self.root_act(self.root(x), self.root.bias)))
