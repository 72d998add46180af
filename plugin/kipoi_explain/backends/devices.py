"""The accelerators a process can run models on."""
from __future__ import annotations


def cuda_devices() -> list[str]:
    """``cuda:0``, ``cuda:1``, ... for every CUDA device PyTorch sees (none without torch or a
    GPU)."""
    try:
        import torch
    except ImportError:
        return []
    return [f"cuda:{i}" for i in range(torch.cuda.device_count())]
