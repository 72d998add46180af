"""PyTorch models behind the :class:`~kipoi_explain.adapters.base.Model` interface."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ..targets import Target
from .base import ConvLayer, InputLayout, Model, output_names_for, probe


def _device(requested: str | None):
    import torch

    if requested in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)


@dataclass
class TorchModel(Model):
    """A ``torch.nn.Module`` (put in eval mode) taking one input tensor.

    Build it with :func:`kipoi_explain.load_model`, which infers the metadata it can.
    """

    module: object = None
    device: object = None
    _layers: dict = field(default_factory=dict, repr=False)

    framework = "pytorch"

    def __post_init__(self):
        self.module.eval()
        self.device = _device(self.device)
        self.module.to(self.device)
        self._layers = {name: mod for name, mod in self.module.named_modules() if name}

    def _tensor(self, x: np.ndarray, requires_grad: bool = False):
        import torch

        return torch.tensor(self.layout.to_model(x), device=self.device,
                            requires_grad=requires_grad)

    def _select(self, out, target: Target):
        import torch

        columns = torch.as_tensor(target.columns, device=out.device)
        picked = out.reshape(out.shape[0], -1).index_select(1, columns)
        return picked.sum(1) if target.reduce == "sum" else picked.mean(1)

    def _forward(self, x):
        import torch

        with torch.no_grad():
            out = self.module(self._tensor(x))
        return self._check_output(out).detach().cpu().numpy()

    def _gradient(self, x, target):
        import torch

        inputs = self._tensor(x, requires_grad=True)
        with torch.enable_grad():
            value = self._select(self._check_output(self.module(inputs)), target)
            (grad,) = torch.autograd.grad(value.sum(), inputs)
        return self.layout.from_model(grad.cpu().numpy()), value.detach().cpu().numpy()

    def _deeplift(self, x, ref, target):
        from .torch_deeplift import deeplift_multipliers

        mult, f_x, f_ref = deeplift_multipliers(
            self.module, self._tensor(x), self._tensor(ref),
            lambda out: self._select(self._check_output(out), target))
        return (self.layout.from_model(mult.detach().cpu().numpy()),
                f_x.detach().cpu().numpy(), f_ref.detach().cpu().numpy())

    def _check_output(self, out):
        import torch

        if not isinstance(out, torch.Tensor):
            raise InputError(f"model {self.name!r} returned {type(out).__name__}; models with "
                             "several output tensors are not supported yet")
        return out

    def _parameters(self):
        return [t.detach().cpu().numpy() for t in self.module.state_dict().values()]

    def layers(self):
        return list(self._layers)

    def _activations(self, x, layer):
        import torch

        captured = []
        handle = self._layers[layer].register_forward_hook(
            lambda module, args, output: captured.append(output.detach()))
        try:
            with torch.no_grad():
                self.module(self._tensor(x))
        finally:
            handle.remove()
        out = captured[0].cpu().numpy()
        # Channels-first models produce (n, units, positions); callers get positions first.
        return out.transpose(0, 2, 1) if self.layout.channels_first and out.ndim == 3 else out

    def conv_layers(self):
        import torch

        candidates = {name: mod for name, mod in self._layers.items()
                      if isinstance(mod, torch.nn.Conv1d) and mod.in_channels == 4}
        x = probe(self.input_length)
        # A convolution reads the one-hot input when what it receives is that input, bases
        # first; a deeper convolution with 4 channels does not.
        expected = torch.tensor(InputLayout(self.layout.alphabet, alphabet_axis=0).to_model(x))
        direct = set()
        hooks = [mod.register_forward_pre_hook(
            lambda mod, args, name=name: direct.add(name)
            if torch.equal(args[0].detach().cpu(), expected) else None)
            for name, mod in candidates.items()]
        try:
            with torch.no_grad():
                self.module(self._tensor(x))
        finally:
            for hook in hooks:
                hook.remove()
        convs = []
        for name, mod in candidates.items():
            if name in direct:
                # (F, 4, K) in the model's base order -> (F, K, 4) in ACGT order.
                weights = mod.weight.detach().cpu().numpy().transpose(0, 2, 1)
                bias = None if mod.bias is None else mod.bias.detach().cpu().numpy()
                padding = mod.padding if isinstance(mod.padding, str) else mod.padding[0]
                convs.append(ConvLayer(name, self.layout.bases_to_acgt(weights), bias,
                                       mod.stride[0], mod.dilation[0], padding))
        return convs

def torch_model(module, input_length: int | None = None, output_names=None,
                layout: InputLayout | None = None, name: str | None = None,
                device: str | None = None, batch_size: int | None = None,
                source: dict | None = None) -> TorchModel:
    """Wrap a ``torch.nn.Module``.

    ``layout`` defaults to channels first ``(N, 4, L)``, the PyTorch convention. The output
    shape and, if not given, the output names (``output_0``, ...) are read from one forward
    pass on an all-``A`` dummy input of ``input_length``.
    """
    layout = layout or InputLayout(alphabet_axis=0)
    if input_length is None:
        raise InputError("input_length is needed for a torch.nn.Module (e.g. "
                         "load_model(module, input_length=1000))")
    model = TorchModel(name or type(module).__name__, layout, input_length, (), (),
                       batch_size or 128, source or {"type": "torch.nn.Module"},
                       module=module, device=device)
    probe = np.zeros((1, input_length, 4), dtype=np.float32)
    probe[..., 0] = 1
    model.output_shape = tuple(model._forward(probe).shape[1:]) or (1,)
    model.output_names = output_names_for(output_names, model.output_shape)
    return model

