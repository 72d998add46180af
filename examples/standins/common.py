"""Helpers shared by the stand-in scripts only (the rest is in ``examples/synthetic.py``).

The scripts import this file as ``common``, which works because Python puts the folder of the
script being run (``examples/standins/``) on ``sys.path``; it imports ``synthetic`` the same way
the scripts do.
"""
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from synthetic import Motif, fit_torch, import_module_file, one_hot  # noqa: E402


def standin_model(name: str) -> tuple[Path, ModuleType]:
    """The stand-in's ``models/standins/<name>/model.py`` and that file imported, so that the
    script trains the very class Kipoi will load.

    Returns
    -------
    source : pathlib.Path
        Absolute path of ``model.py``, which the script copies into the model directory.
    module : types.ModuleType
        ``model.py`` imported as ``<name>_model``.
    """
    source = Path(__file__).resolve().parents[1] / "models" / "standins" / name / "model.py"
    return source, import_module_file(source, f"{name}_model")


def pwm_filters(motif: Motif, kernel_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Convolution filters scoring ``motif`` on the plus and the minus strand.

    Weights are the PWM's log2 odds against a uniform background, centred in ``kernel_size``
    positions (zero elsewhere); each bias puts the filter's threshold at half of the best
    score, so after a ReLU the filter fires on close matches only.

    Returns
    -------
    weight : numpy.ndarray
        ``(2, 4, kernel_size)`` float32, plus strand first, in ``nn.Conv1d`` layout.
    bias : numpy.ndarray
        ``(2,)`` float32.
    """
    log_odds = np.log2(np.clip(motif.probs, 1e-3, None) / 0.25).T
    width = log_odds.shape[1]
    weight = np.zeros((2, 4, kernel_size), dtype=np.float32)
    offset = (kernel_size - width) // 2
    weight[0, :, offset:offset + width] = log_odds
    # Reverse complement: reverse the positions, and A<->T, C<->G is reversing the base axis.
    weight[1, :, offset:offset + width] = log_odds[::-1, ::-1]
    best = log_odds.max(axis=0).sum()
    return weight, np.full(2, -best / 2, dtype=np.float32)


def seed_filters(conv: torch.nn.Conv1d, motifs: list[Motif]) -> None:
    """Start two filters of ``conv`` per motif (plus, minus strand) from :func:`pwm_filters`.

    On a CPU-sized budget, training from random filters tends to settle on the all-zero
    output (most targets are zero) before any filter finds a sparse motif; starting filters
    on the motifs avoids that. Every weight is trained afterwards.
    """
    with torch.no_grad():
        for i, motif in enumerate(motifs):
            weight, bias = pwm_filters(motif, conv.kernel_size[0])
            conv.weight[2 * i:2 * i + 2] = torch.from_numpy(weight)
            conv.bias[2 * i:2 * i + 2] = torch.from_numpy(bias)


def fit_regression(model: torch.nn.Module, x: np.ndarray, y: np.ndarray, epochs: int, seed: int,
                   batch_size: int, learning_rate: float, tag: str) -> torch.nn.Module:
    """Train ``model`` with Adam on the mean squared error to sparse real-valued targets ``y``
    (profiles, contact maps): :func:`synthetic.fit_torch` with ``loss='mse'``, set up for them.

    Returns
    -------
    torch.nn.Module
        The trained model in eval mode.
    """
    # Near-zero activations of sparse targets can turn subnormal, which is slow on CPUs.
    torch.set_flush_denormal(True)
    # The models are tiny: a second thread costs more in synchronisation than it gains.
    torch.set_num_threads(1)
    return fit_torch(model, x, y, epochs, seed, batch_size, learning_rate, tag=tag, loss="mse")


class JoinedInputs(torch.nn.Module):
    """A multi-input model with its inputs stacked on the channel axis: the form
    :func:`synthetic.fit_torch` and :func:`synthetic.predict_torch` feed (one array).

    Parameters
    ----------
    model : torch.nn.Module
        Takes its inputs as separate channels-first tensors.
    channels : tuple of int
        Channels of each input, in the order ``model`` takes them, e.g. ``(4, 2)`` for DNA
        and two tracks.
    """

    def __init__(self, model: torch.nn.Module, channels: tuple[int, ...]):
        super().__init__()
        self.model = model
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Split ``x`` into the inputs and run the model."""
        return self.model(*x.split(self.channels, dim=1))


def joined(codes: np.ndarray, tracks: np.ndarray) -> np.ndarray:
    """Integer-coded DNA ``(N, L)`` and tracks ``(N, L, T)`` as the channels-first array
    ``(N, 4 + T, L)`` that :class:`JoinedInputs` takes."""
    return np.ascontiguousarray(np.concatenate([one_hot(codes), tracks], axis=2).transpose(0, 2, 1))
