"""Keras 3 models (TensorFlow backend): imported only when such a model is loaded.

Keras reads ``KERAS_BACKEND`` once, at its first import: it is set here, before, to TensorFlow
unless the user chose otherwise. Gradients come from ``tf.GradientTape``; Kipoi's own Keras
gradient mixins crash on Keras 3.
"""
import contextlib
import os
import sys

from ...requirements import require_package

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
if "tensorflow" not in sys.modules:
    # With TensorFlow loaded first, a later `import torch._dynamo` (done lazily by torch.optim,
    # torch.compile, ...) segfaults (torch 2.14, triton 3.8, TF 2.21); loading it first is safe.
    with contextlib.suppress(ImportError):
        import torch._dynamo  # noqa: F401
require_package("tensorflow", "a Keras model")
require_package("keras", "a Keras model")

from .network import KerasNetwork, keras_model  # noqa: E402

__all__ = ["KerasNetwork", "keras_model"]
