"""PyTorch architecture of the bundled ``gennet`` example model.

A GenNet-style "transparent" network: every hidden unit is a named biological
entity. The input holds genotype dosages of 300 SNPs; the first masked layer
connects each SNP only to the gene it belongs to (one unit per gene), the
second connects each gene only to its pathway (one unit per pathway), and a
dense layer combines the pathways into one case probability.

The toy annotation lives here as constants so that ``GenNet()`` builds the
right masks without arguments, as Kipoi's ``PyTorchModel`` requires; the masks
are also buffers, so they travel in ``weights.pt`` with the weights.
``examples/train_gennet.py`` writes ``examples/data/gennet_annotation.tsv`` and
``entities.yaml`` from these same constants. Nothing here is real biology.
"""
import torch
import torch.nn.functional as F
from torch import nn

# Number of SNPs of GENE01, GENE02, ... in input column order: SNPs come in
# contiguous blocks, one block per gene.
GENE_SIZES = (12, 8, 15, 6, 18, 10, 11, 14, 7, 20, 9, 13, 16, 5, 12, 17, 8, 10, 19, 6,
              11, 14, 9, 15, 15)
# Pathway index (0 = PATH_A, 1 = PATH_B, ...) of GENE01, GENE02, ...; the
# genes of a pathway are deliberately not contiguous.
GENE_PATHWAY = (0, 1, 2, 3, 1, 4, 2, 0, 5, 3, 1, 2, 4, 0, 3, 5, 2, 4, 1, 0,
                3, 5, 1, 4, 5)

N_SNPS = sum(GENE_SIZES)
N_GENES = len(GENE_SIZES)
N_PATHWAYS = max(GENE_PATHWAY) + 1


def membership_mask(groups: tuple[int, ...], n_groups: int) -> torch.Tensor:
    """Connectivity mask of a layer whose input unit ``i`` feeds only unit ``groups[i]``.

    Parameters
    ----------
    groups : tuple of int
        Output unit of each input unit.
    n_groups : int
        Number of output units.

    Returns
    -------
    torch.Tensor
        ``(n_groups, len(groups))`` float32 0/1 mask, laid out like ``nn.Linear.weight``.
    """
    mask = torch.zeros(n_groups, len(groups))
    mask[torch.as_tensor(groups), torch.arange(len(groups))] = 1.0
    return mask


def snp_gene_groups() -> tuple[int, ...]:
    """Gene index of every SNP, in input column order."""
    return tuple(gene for gene, size in enumerate(GENE_SIZES) for _ in range(size))


class MaskedLinear(nn.Module):
    """Linear layer whose weights are multiplied by a fixed 0/1 connectivity mask.

    Parameters
    ----------
    mask : torch.Tensor
        ``(out_features, in_features)`` 0/1 mask; registered as a buffer so that
        it is saved in, and restored from, the state_dict.
    """

    def __init__(self, mask: torch.Tensor):
        super().__init__()
        out_features, in_features = mask.shape
        self.register_buffer("mask", mask.float())
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.bias = nn.Parameter(torch.empty(out_features))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Uniform init scaled by each unit's real fan-in, zero outside the mask.

        ``nn.Linear``'s default scales by the dense fan-in, which would make a
        gene unit fed by ~12 of 300 SNPs start almost flat. Zeroing masked-out
        weights keeps the saved weights as sparse as the layer really is.
        """
        bound = 1.0 / self.mask.sum(dim=1, keepdim=True).clamp(min=1.0).sqrt()
        with torch.no_grad():
            self.weight.uniform_(-1.0, 1.0).mul_(bound * self.mask)
            self.bias.uniform_(-1.0, 1.0).mul_(bound.squeeze(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply ``x @ (weight * mask).T + bias``."""
        return F.linear(x, self.weight * self.mask, self.bias)


class GenNet(nn.Module):
    """SNP → gene → pathway → case network with masked, annotation-defined layers.

    Every nonlinearity is an ``nn.Module`` attribute so that hooks can read and
    replace entity activations: ``gene_act`` outputs one value per gene,
    ``pathway_act`` one per pathway (see ``entities.yaml``).

    Input: ``(N, N_SNPS)`` float32 dosages in {0, 1, 2}.
    Output: ``(N, 1)`` case probability.
    """

    def __init__(self):
        super().__init__()
        self.genes = MaskedLinear(membership_mask(snp_gene_groups(), N_GENES))
        self.gene_act = nn.Tanh()
        self.pathways = MaskedLinear(membership_mask(GENE_PATHWAY, N_PATHWAYS))
        self.pathway_act = nn.Tanh()
        self.output = nn.Linear(N_PATHWAYS, 1)
        self.out = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the case probability for genotype dosages ``x``."""
        x = self.gene_act(self.genes(x))
        x = self.pathway_act(self.pathways(x))
        return self.out(self.output(x))
