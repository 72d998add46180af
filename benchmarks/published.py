"""Published architectures as their authors' packages define them, in small seeded
configurations: bpnet-lite's BPNet and ChromBPNet, enformer-pytorch's Enformer, borzoi-pytorch's
Borzoi and basenji2-pytorch's Basenji2.

Nothing is downloaded: the weights are random (seeded, He-normal as
:func:`architectures.initialised` sets them: the packages' own initialisation leaves the outputs
of these deep networks nearly constant, so that attributions would sit at float32 rounding), the
configurations shrunk (fewer and
narrower layers, short inputs) so that a test or a quick benchmark runs them on a CPU; every
block the published model has (dilated residual convolutions, attention pooling, relative
multi-head attention, layer norms, GELU, softplus, exp/log count heads) is kept. Each builder
returns the module as its package returns it (a tuple, a dict of heads, channels first or
last) and the :func:`kipoi_explain.load_model` options a user gives it.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch
from architectures import initialised


@dataclass
class Published:
    """A published architecture, ready to load.

    Attributes
    ----------
    name : str
    module : torch.nn.Module
        In eval mode.
    length : int
        Input length.
    options : dict
        What :func:`kipoi_explain.load_model` needs besides the module and length: the input
        layout where it is channels last, which axis of each output holds the tracks, the
        outputs' names.
    heads : dict
        Target of each head a test explains: ``{head: target}``.
    """

    name: str
    module: torch.nn.Module
    length: int
    options: dict = field(default_factory=dict)
    heads: dict = field(default_factory=dict)


def bpnet(seed: int = 0, length: int = 400, filters: int = 16, layers: int = 4) -> Published:
    """bpnet-lite's BPNet: stranded profile ``(N, 2, L')`` and total counts ``(N, 1)``."""
    from bpnetlite import BPNet

    torch.manual_seed(seed)
    net = BPNet(n_filters=filters, n_layers=layers, n_outputs=2, n_control_tracks=0,
                trimming=length // 4, verbose=False)
    return Published("BPNet", initialised(net, seed), length,
                     {"output_names": ["profile", "counts"],
                      "output_layout": {"profile": "tasks,bins"}},
                     {"profile": "profile", "counts": "counts"})


def chrombpnet(seed: int = 0, length: int = 400, filters: int = 16, layers: int = 4,
               bias_filters: int = 8, bias_layers: int = 2, output: int | None = None
               ) -> Published:
    """bpnet-lite's ChromBPNet: a frozen bias BPNet and an accessibility BPNet, their profiles
    added and their counts combined as ``log(exp(a) + exp(b))``. The published sizes:
    ``length=2114, filters=512, layers=8, bias_filters=128, bias_layers=4, output=1000``."""
    from bpnetlite import BPNet, ChromBPNet

    torch.manual_seed(seed)
    trimming = (length - (output or length // 2)) // 2
    bias = BPNet(n_filters=bias_filters, n_layers=bias_layers, n_outputs=1,
                 n_control_tracks=0, trimming=trimming, verbose=False)
    accessibility = BPNet(n_filters=filters, n_layers=layers, n_outputs=1, n_control_tracks=0,
                          trimming=trimming, verbose=False)
    return Published("ChromBPNet", initialised(ChromBPNet(bias, accessibility), seed), length,
                     {"output_names": ["profile", "counts"],
                      "output_layout": {"profile": "tasks,bins"}},
                     {"profile": "profile", "counts": "counts"})


def enformer(seed: int = 0, bins: int = 8, dim: int = 48, depth: int = 2,
             heads: int = 2) -> Published:
    """enformer-pytorch's Enformer: channels-last one-hot in, a dict of species heads
    ``(N, bins, tracks)`` out (GELU as ``sigmoid(1.702 x) x``, attention pooling, relative
    multi-head attention). Its input is 128 bp per bin, and twice the bins it returns."""
    from enformer_pytorch import Enformer

    torch.manual_seed(seed)
    net = Enformer.from_hparams(dim=dim, depth=depth, heads=heads, attn_dim_key=8,
                                num_downsamples=7, dim_divisible_by=8, target_length=bins,
                                output_heads={"human": 12, "mouse": 5}, dropout_rate=0.0,
                                attn_dropout=0.0, pos_dropout=0.0)
    from kipoi_explain import InputLayout

    return Published("Enformer", initialised(net, seed), 128 * 2 * bins,
                     {"layout": InputLayout(alphabet_axis=1), "output_layout": "bins,tasks"},
                     {"human": "human:output_3", "mouse": "mouse"})


def borzoi(seed: int = 0, bins: int = 8, length: int = 512) -> Published:
    """borzoi-pytorch's Borzoi (its published convolution widths, a narrow transformer):
    tracks first, ``(N, 7611, bins)``: the central ``bins`` of 32 bp of the ``length``."""
    from borzoi_pytorch import Borzoi
    from borzoi_pytorch.config_borzoi import BorzoiConfig

    torch.manual_seed(seed)
    config = BorzoiConfig(dim=64, depth=1, heads=2, attn_dim_key=8, attn_dim_value=16,
                          dropout_rate=0.0, attn_dropout=0.0, pos_dropout=0.0,
                          bins_to_return=bins, return_center_bins_only=True)
    return Published("Borzoi", initialised(Borzoi(config), seed), length,
                     {"output_layout": "tasks,bins"}, {"tracks": 0})


def basenji2(seed: int = 0) -> Published:
    """basenji2-pytorch's Basenji2 (its own blocks, fewer filters): bins first,
    ``(N, bins, tracks)``, softplus output."""
    from basenji2_pytorch import Basenji2, basenji2_params

    torch.manual_seed(seed)
    params = copy.deepcopy(basenji2_params["model"])
    params.update(seq_length=2048, target_length=16)
    params["trunk"] = [
        {"name": "conv_block", "filters": 16, "kernel_size": 15, "pool_size": 2},
        {"name": "conv_tower", "filters_init": 16, "filters_mult": 1.25, "kernel_size": 5,
         "pool_size": 2, "repeat": 5},
        {"name": "dilated_residual", "filters": 16, "rate_mult": 1.5, "repeat": 2,
         "dropout": 0.3, "round": True},
        {"name": "Cropping1D", "cropping": 8},
        {"name": "conv_block", "filters": 32, "dropout": 0.05},
    ]
    params["head_human"] = {"name": "final", "units": 6, "activation": "softplus"}
    return Published("Basenji2", initialised(Basenji2(params), seed), 2048,
                     {"output_layout": "bins,tasks"}, {"tracks": 0})


#: The package each builder needs, by name.
PACKAGES = {"bpnet": "bpnetlite", "chrombpnet": "bpnetlite", "enformer": "enformer_pytorch",
            "borzoi": "borzoi_pytorch", "basenji2": "basenji2_pytorch"}

#: Every builder, by name.
BUILDERS = {"bpnet": bpnet, "chrombpnet": chrombpnet, "enformer": enformer, "borzoi": borzoi,
            "basenji2": basenji2}
