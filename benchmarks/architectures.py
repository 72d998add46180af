"""The PyTorch models :mod:`compare` benchmarks: Basset's architecture and a BPNet-like dilated
residual network, randomly initialised (seeded).

Both take one-hot DNA channels first, ``(N, 4, L)``, and use one ``nn.ReLU`` module per
activation: Captum's and tangermeme's DeepLIFT attach their rules to modules, and Captum's
cannot tell apart two calls of one module.

:class:`BassetZoo` and :class:`BelugaZoo` are the layouts of the Kipoi model zoo's PyTorch
ports, with an extra axis of size 1 and 2-D layers whose kernels span one position of it:
Basset's ``(N, 4, L, 1)`` and DeepSEA / Beluga's ``(N, 4, 1, L)``.
"""
from __future__ import annotations

import torch
from torch import nn


class Basset(nn.Module):
    """Basset (Kelley et al. 2016): three convolution / batch-norm / ReLU / max-pool blocks, two
    dense layers with dropout, one logit per task (no sigmoid: attributions explain logits).

    Parameters
    ----------
    length : int
        Input length; convolutions are padded to keep it, so pooling alone shrinks it.
    filters, kernels, pools : tuple of int
        Per block (Basset: 300/200/200 filters, kernels 19/11/7, pools 3/4/4).
    dense : int
        Units of each of the two dense layers (Basset: 1000).
    tasks : int
        Outputs (Basset: 164 DNase-seq cell types).
    """

    def __init__(self, length: int = 1000, filters=(300, 200, 200), kernels=(19, 11, 7),
                 pools=(3, 4, 4), dense: int = 1000, tasks: int = 164):
        super().__init__()
        blocks, channels, size = [], 4, length
        for out, kernel, pool in zip(filters, kernels, pools):
            blocks += [nn.Conv1d(channels, out, kernel, padding=kernel // 2),
                       nn.BatchNorm1d(out), nn.ReLU(), nn.MaxPool1d(pool)]
            channels, size = out, size // pool
        self.features = nn.Sequential(*blocks)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(channels * size, dense), nn.BatchNorm1d(dense), nn.ReLU(),
            nn.Dropout(0.3), nn.Linear(dense, dense), nn.BatchNorm1d(dense), nn.ReLU(),
            nn.Dropout(0.3), nn.Linear(dense, tasks))

    def forward(self, x):
        return self.classifier(self.features(x))


class BPNetLike(nn.Module):
    """BPNet's body with its count head (Avsec et al. 2021): a wide first convolution, then
    dilated convolutions (kernel 3, dilation ``2**i``, i = 1..layers) each added to its input
    (residual), global average over positions and a linear layer, one output per task.

    Parameters
    ----------
    filters : int
        Channels throughout (BPNet: 64).
    first_kernel : int
        Width of the first convolution (BPNet: 21 or 25).
    layers : int
        Dilated residual layers (BPNet: 9).
    tasks : int
        Count outputs.
    """

    def __init__(self, filters: int = 64, first_kernel: int = 21, layers: int = 9,
                 tasks: int = 2):
        super().__init__()
        self.first = nn.Conv1d(4, filters, first_kernel, padding="same")
        self.first_relu = nn.ReLU()
        self.dilated = nn.ModuleList(nn.Conv1d(filters, filters, 3, dilation=2 ** i,
                                               padding="same") for i in range(1, layers + 1))
        self.relus = nn.ModuleList(nn.ReLU() for _ in range(layers))
        self.count = nn.Linear(filters, tasks)

    def forward(self, x):
        x = self.first_relu(self.first(x))
        for conv, relu in zip(self.dilated, self.relus):
            x = x + relu(conv(x))
        return self.count(x.mean(dim=-1))


class BassetZoo(nn.Module):
    """Basset as the Kipoi zoo ports it: input ``(N, 4, L, 1)``, ``nn.Conv2d`` kernels
    ``(k, 1)`` without padding, ``nn.BatchNorm2d``, max pooling ``(p, 1)``; a flatten and
    three dense layers (one logit per task).

    Parameters
    ----------
    length : int
        Input length (the zoo's Basset: 600).
    filters, kernels, pools : tuple of int
        Per block (Basset: 300/200/200 filters, kernels 19/11/7, pools 3/4/4).
    dense : int
        Units of each of the two hidden dense layers (Basset: 1000).
    tasks : int
        Outputs (Basset: 164).
    """

    def __init__(self, length: int = 600, filters=(300, 200, 200), kernels=(19, 11, 7),
                 pools=(3, 4, 4), dense: int = 1000, tasks: int = 164):
        super().__init__()
        layers, channels, size = [], 4, length
        for out, kernel, pool in zip(filters, kernels, pools):
            layers += [nn.Conv2d(channels, out, (kernel, 1)), nn.BatchNorm2d(out), nn.ReLU(),
                       nn.MaxPool2d((pool, 1), (pool, 1))]
            channels, size = out, (size - kernel + 1) // pool
        layers += [nn.Flatten(), nn.Linear(channels * size, dense), nn.ReLU(), nn.Dropout(0.3),
                   nn.Linear(dense, dense), nn.ReLU(), nn.Dropout(0.3), nn.Linear(dense, tasks)]
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)


class BelugaZoo(nn.Module):
    """DeepSEA / Beluga as the Kipoi zoo ports it: input ``(N, 4, 1, L)``, blocks of two
    ``nn.Conv2d`` kernels ``(1, 8)`` with ReLU, max pooling ``(1, 4)`` and dropout, then a
    flatten and two dense layers (logits, no sigmoid).

    Parameters
    ----------
    length : int
        Input length (Beluga: 2000).
    filters : tuple of int
        Channels of each block's two convolutions (Beluga: 320, 480, then 640 unpooled; here
        every block pools).
    kernel, pool : int
        Convolution width and pooling size along the sequence (Beluga: 8 and 4).
    dense : int
        Units of the hidden dense layer (Beluga: 2003).
    tasks : int
        Outputs (Beluga: 2002).
    """

    def __init__(self, length: int = 2000, filters=(320, 480), kernel: int = 8, pool: int = 4,
                 dense: int = 2003, tasks: int = 2002):
        super().__init__()
        layers, channels, size = [], 4, length
        for out in filters:
            layers += [nn.Conv2d(channels, out, (1, kernel)), nn.ReLU(),
                       nn.Conv2d(out, out, (1, kernel)), nn.ReLU(),
                       nn.MaxPool2d((1, pool), (1, pool)), nn.Dropout(0.2)]
            channels, size = out, (size - 2 * (kernel - 1)) // pool
        layers += [nn.Flatten(), nn.Linear(channels * size, dense), nn.ReLU(),
                   nn.Linear(dense, tasks)]
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)


def initialised(net: nn.Module, seed: int) -> nn.Module:
    """``net`` with seeded He-normal weights and non-trivial batch-norm statistics, in eval mode.

    He initialisation keeps activations of order one through the layers, so that attributions
    and mutation effects are well above float32 rounding and the equality checks mean something
    (PyTorch's default initialisation shrinks the signal layer by layer).
    """
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Linear)):
                fan_in = module.weight[0].numel()
                module.weight.copy_(torch.randn(module.weight.shape, generator=generator)
                                    * (2.0 / fan_in) ** 0.5)
                if module.bias is not None:
                    module.bias.copy_(0.1 * torch.randn(module.bias.shape, generator=generator))
            elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
                module.running_mean.uniform_(-0.5, 0.5, generator=generator)
                module.running_var.uniform_(0.5, 2.0, generator=generator)
    return net.eval()


def models(length: int = 1000, quick: bool = False, seed: int = 0) -> dict[str, nn.Module]:
    """The benchmark models by name, at ``length`` bp; ``quick``: a few filters each, for tests."""
    if quick:
        return {"basset": initialised(Basset(length, (12, 8, 8), dense=16, tasks=4), seed),
                "bpnet_like": initialised(BPNetLike(8, layers=4), seed)}
    return {"basset": initialised(Basset(length), seed),
            "bpnet_like": initialised(BPNetLike(), seed)}
