"""PyTorch modules: imported only when such a model is loaded."""
from ...requirements import require_package

require_package("torch", "a PyTorch model")

from .network import TorchNetwork, torch_model  # noqa: E402

__all__ = ["TorchNetwork", "torch_model"]
