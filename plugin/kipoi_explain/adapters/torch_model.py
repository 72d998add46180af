"""PyTorch models behind the :class:`~kipoi_explain.adapters.base.Model` interface."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import numpy as np

from ..engine import auto_batch_size, available_memory
from ..errors import InputError, UnsupportedOperation
from ..targets import Target
from .base import ConvLayer, FeatureLayout, InputLayout, Model, output_names_for, probe


def _device(requested: str | None):
    import torch

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu") \
        if requested in (None, "auto") else torch.device(requested)
    if device.type == "cuda":
        # TF32 convolutions round inputs to 10 mantissa bits, and how much depends on the
        # batch the rows land in: attributions would change with the batching (by up to a
        # fifth of the largest score, measured on an H100). Explanations need float32.
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    return device


#: ``float32``, or ``mixed``: bfloat16 autocast.
PRECISIONS = ("float32", "mixed")


@dataclass
class TorchModel(Model):
    """A ``torch.nn.Module`` (put in eval mode) taking one input tensor.

    Build it with :func:`kipoi_explain.load_model`, which infers the metadata it can.
    """

    module: object = None
    device: object = None
    precision: str = "float32"
    _layers: dict = field(default_factory=dict, repr=False)
    _order: list = field(default_factory=list, repr=False)

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

    def _extra_tensors(self, context: dict | None, requires_grad: bool = False) -> dict:
        """The extra inputs as tensors in the model's layout; differentiable ones track their
        gradient when ``requires_grad``."""
        import torch

        if not self.extra_inputs:
            return {}
        if context is None:
            raise self._missing_inputs()
        return {spec.name: torch.tensor(
            spec.to_model(context[spec.name], self.layout.channels_first), device=self.device,
            requires_grad=requires_grad and spec.differentiable) for spec in self.extra_inputs}

    def _run(self, main, context: dict | None = None, extras: dict | None = None):
        """The module's output for the main input tensor ``main`` and the extra inputs (tensors
        ``extras``, else made from ``context``), in float32 whatever the precision."""
        import torch

        if extras is None:
            extras = self._extra_tensors(context)
        inputs = self._framework_inputs(main, extras)
        with torch.autocast(self.device.type, dtype=torch.bfloat16,
                            enabled=self.precision == "mixed"):
            out = self.module(**inputs) if isinstance(inputs, dict) else self.module(*inputs)
        return self._check_output(out).float()

    def _activation_bytes(self) -> tuple[int, int]:
        """Memory one input row takes in a gradient call: every module's output (kept for the
        backward pass) and its gradient, measured on a probe batch; and the largest module
        output of one row."""
        import torch

        total, largest = [0], [0]
        leaves = [mod for mod in self._layers.values() if not list(mod.children())]

        def count(module, args, output):
            if isinstance(output, torch.Tensor):
                total[0] += output.numel() * output.element_size()
                largest[0] = max(largest[0], output.numel() * output.element_size() // 2)

        hooks = [mod.register_forward_hook(count) for mod in leaves]
        try:
            with torch.no_grad():
                self._run(self._tensor(self._probe(2)), self._probe_context(2))
        finally:
            for hook in hooks:
                hook.remove()
        inputs = self._probe(1).nbytes + sum(
            v.nbytes for v in (self._probe_context(1) or {}).values())
        # Two probe rows' outputs: one row's outputs and their gradients.
        return total[0] + 2 * inputs, max(largest[0], inputs)

    def _select(self, out, target: Target):
        import torch

        columns = torch.as_tensor(target.columns, device=out.device)
        picked = out.reshape(out.shape[0], -1).index_select(1, columns)
        return picked.sum(1) if target.reduce == "sum" else picked.mean(1)

    def _forward(self, x, context=None):
        import torch

        with torch.no_grad():
            out = self._run(self._tensor(x), context)
        return out.detach().cpu().numpy()

    def _gradient(self, x, target, context=None):
        import torch

        if self.takes_tokens:
            raise InputError(f"model {self.name!r} takes token ids, which have no gradient; "
                             "gradient methods attribute at the token embedding instead")
        inputs = self._tensor(x, requires_grad=True)
        with torch.enable_grad():
            extras = self._extra_tensors(context, requires_grad=True)
            wrt = [extras[spec.name] for spec in self.differentiable_extras()]
            value = self._select(self._run(inputs, extras=extras), target)
            grads = torch.autograd.grad(value.sum(), [inputs, *wrt], allow_unused=True)
        grads = [torch.zeros_like(t) if g is None else g for g, t in zip(grads, [inputs, *wrt])]
        extra_grads = [spec.from_model(g.cpu().numpy(), self.layout.channels_first)
                       for spec, g in zip(self.differentiable_extras(), grads[1:])]
        return (self.layout.from_model(grads[0].cpu().numpy()), value.detach().cpu().numpy(),
                *extra_grads)

    def _deeplift(self, x, ref, target, context=None):
        import torch

        from .torch_deeplift import deeplift_multipliers

        # The references see the same extra inputs as the inputs: the difference from
        # reference is in the main input alone.
        extras = {name: torch.cat([t, t]) for name, t in self._extra_tensors(context).items()}
        mult, f_x, f_ref = deeplift_multipliers(
            self.module, self._tensor(x), self._tensor(ref),
            lambda out: self._select(self._check_output(out), target),
            call=lambda both: self._run(both, extras=extras))
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

    def _activations(self, x, layer, context=None):
        import torch

        captured = []
        handle = self._layers[layer].register_forward_hook(
            lambda module, args, output: captured.append(output.detach()))
        try:
            with torch.no_grad():
                self._run(self._tensor(x), context)
        finally:
            handle.remove()
        out = captured[0].float().cpu().numpy()
        return out.transpose(0, 2, 1) if out.ndim == 3 and self._unit_axis(3) == 1 else out

    def _unit_axis(self, ndim: int) -> int:
        # Channels-first models produce (n, units, positions); callers get positions first.
        return 1 if self.layout.channels_first and ndim == 3 else ndim - 1

    def _call_order(self) -> list[str]:
        """Every module, in the order a forward pass first reaches it.

        A module the forward pass never calls itself (the ``out_proj`` that
        ``nn.MultiheadAttention`` applies functionally) takes the place of its caller.
        """
        import torch

        if not self._order:
            called = []
            hooks = [mod.register_forward_pre_hook(
                lambda mod, args, name=name: called.append(name) if name not in called else None)
                for name, mod in self._layers.items()]
            try:
                with torch.no_grad():
                    self._run(self._tensor(self._probe(1)), self._probe_context(1))
            finally:
                for hook in hooks:
                    hook.remove()
            rank = {name: i for i, name in enumerate(called)}

            def position(name):
                while name not in rank and "." in name:
                    name = name.rsplit(".", 1)[0]
                return rank.get(name, len(rank))

            self._order = sorted(self._layers, key=lambda name: (position(name), name))
        return self._order

    def weighted_layers(self):
        return [name for name in self._call_order()
                if any(p.requires_grad for p in self._layers[name].parameters(recurse=False))]

    def nonlinearities(self):
        kinds = {"ReLU": "relu", "ReLU6": "relu", "Sigmoid": "sigmoid", "Hardsigmoid": "sigmoid",
                 "Tanh": "tanh", "Hardtanh": "tanh"}
        others = ("LeakyReLU", "PReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish",
                  "Softplus", "Softsign", "LogSigmoid", "Tanhshrink", "Hardswish")
        return {name: kinds.get(type(mod).__name__, "other") for name in self._call_order()
                if type(mod := self._layers[name]).__name__ in (*kinds, *others)}

    @contextlib.contextmanager
    def _bypassed(self, layer):
        handle = self._layers[layer].register_forward_hook(lambda mod, args, out: args[0])
        try:
            yield
        finally:
            handle.remove()

    def _get_weights(self, layer):
        return [p.detach().cpu().numpy().copy()
                for p in self._layers[layer].parameters(recurse=False) if p.requires_grad]

    def _set_weights(self, layer, arrays):
        import torch

        params = [p for p in self._layers[layer].parameters(recurse=False) if p.requires_grad]
        with torch.no_grad():
            for param, array in zip(params, arrays, strict=True):
                param.copy_(torch.as_tensor(array))

    def _ablated_forward(self, x, layer, keep, fill, context=None):
        import torch

        def replace(module, args, output):
            axis = self._unit_axis(output.ndim)
            if output.shape[axis] != keep.shape[-1]:
                raise InputError(f"layer {layer!r} has {output.shape[axis]} units; keep has "
                                 f"{keep.shape[-1]} entries")
            kept = torch.as_tensor(_per_unit(keep, output.ndim, axis), device=output.device)
            value = torch.as_tensor(_per_unit(fill, output.ndim, axis), device=output.device)
            return output * kept + value * (1 - kept)

        handle = self._layers[layer].register_forward_hook(replace)
        try:
            with torch.no_grad():
                out = self._run(self._tensor(x), context)
        finally:
            handle.remove()
        return out.detach().cpu().numpy()

    def _layer_gradient(self, x, layer, target, values=None, context=None):
        import torch

        captured = []

        def capture(module, args, output):
            if captured:
                return None
            if values is not None:
                # Back to the module's own layout: channels-first models give (n, units, L).
                given = values.transpose(0, 2, 1) if values.ndim == 3 and \
                    self._unit_axis(3) == 1 else values
                output = torch.tensor(given, device=output.device, requires_grad=True)
            captured.append(output)
            return output

        handle = self._layers[layer].register_forward_hook(capture)
        try:
            with torch.enable_grad():
                inputs = self._tensor(x, requires_grad=not self.takes_tokens)
                value = self._select(self._run(inputs, context), target)
                (grad,) = torch.autograd.grad(value.sum(), captured, allow_unused=True)
        finally:
            handle.remove()
        if grad is None:
            grad = torch.zeros_like(captured[0])
        grad, output = grad.float().cpu().numpy(), captured[0].detach().float().cpu().numpy()
        if output.ndim == 3 and self._unit_axis(3) == 1:
            grad, output = grad.transpose(0, 2, 1), output.transpose(0, 2, 1)
        return grad, output, value.detach().cpu().numpy()

    def _layer_gradient_norms(self, x, layers, target, context=None):
        import torch

        captured = {}

        def keep_first(module, args, output, name):
            captured.setdefault(name, output)

        hooks = [self._layers[name].register_forward_hook(
            lambda mod, args, out, name=name: keep_first(mod, args, out, name)) for name in layers]
        try:
            with torch.enable_grad():
                inputs = self._tensor(x, requires_grad=not self.takes_tokens)
                value = self._select(self._run(inputs, context), target)
                present = [name for name in layers if name in captured]
                grads = torch.autograd.grad(value.sum(), [captured[name] for name in present],
                                            allow_unused=True)
        finally:
            for hook in hooks:
                hook.remove()
        norms = np.zeros((len(x), len(layers)), dtype=np.float64)
        for name, grad in zip(present, grads):
            if grad is not None:
                norms[:, layers.index(name)] = grad.reshape(len(x), -1).norm(dim=1).cpu().numpy()
        return norms

    def embedding_layer(self):
        import torch

        found = [name for name in self._call_order()
                 if isinstance(self._layers[name], torch.nn.Embedding)]
        if not found:
            raise UnsupportedOperation(f"model {self.name!r} has no torch.nn.Embedding layer to "
                                       "attribute token ids at")
        return found[0]

    def attention_layers(self):
        from .torch_attention import is_attention

        return [name for name in self._call_order() if is_attention(self._layers[name])]

    def _attention_calls(self, x, layers, context):
        from .torch_attention import call_arguments

        return call_arguments(lambda: self._run(self._tensor(x), context),
                              {name: self._layers[name] for name in layers})

    def _attention_qk(self, x, layer, context=None):
        from .torch_attention import queries_and_keys

        return queries_and_keys(self._layers[layer],
                                *self._attention_calls(x, [layer], context)[layer])

    def _attention_maps(self, x, layers, context=None):
        from .torch_attention import probabilities

        calls = self._attention_calls(x, layers, context)
        return [probabilities(self._layers[name], *calls[name]) for name in layers]

    def _attention_tokens(self, x, layer, context=None):
        from .torch_attention import token_inputs

        return token_inputs(self._layers[layer],
                            *self._attention_calls(x, [layer], context)[layer])

    def conv_layers(self):
        import torch

        if not self.takes_dna:
            return []
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
                self._run(self._tensor(x), self._probe_context(len(x)))
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


def _per_unit(array: np.ndarray, ndim: int, axis: int) -> np.ndarray:
    """``(units,)`` or ``(n, units)`` reshaped to broadcast along ``axis`` of an ``ndim`` output."""
    shape = [1] * ndim
    shape[axis] = array.shape[-1]
    if array.ndim == 2:
        shape[0] = array.shape[0]
    return array.reshape(shape)


def torch_model(module, input_length: int | None = None, output_names=None,
                layout: InputLayout | FeatureLayout | None = None, name: str | None = None,
                device: str | None = None, batch_size: int | None = None,
                source: dict | None = None, extra_inputs=(), input_names=(),
                keyword_inputs: bool = False, precision: str = "float32") -> TorchModel:
    """Wrap a ``torch.nn.Module``.

    ``layout`` defaults to channels first ``(N, 4, L)``, the PyTorch convention; a
    :class:`FeatureLayout` declares an input that is no DNA, a :class:`TokenLayout` token ids.
    The output shape and, if not given, the output names (``output_0``, ...) are read from one
    forward pass.

    A module of several inputs takes the main one and ``extra_inputs``
    (:class:`~kipoi_explain.adapters.base.ExtraInput`), positionally in the order of
    ``input_names`` or, with ``keyword_inputs``, by those names; ``input_names`` defaults to
    ``("x", *extra names)``: the main input first.
    """
    layout = layout or InputLayout(alphabet_axis=0)
    extra_inputs = tuple(extra_inputs)
    if extra_inputs and not input_names:
        input_names = ("x", *(spec.name for spec in extra_inputs))
    if extra_inputs and len(input_names) != len(extra_inputs) + 1:
        raise InputError(f"input_names {tuple(input_names)}: expected the main input's name and "
                         f"each extra input's ({len(extra_inputs) + 1} names)")
    if precision not in PRECISIONS:
        raise InputError(f"precision={precision!r}: expected one of {', '.join(PRECISIONS)}")
    if input_length is None and isinstance(layout, InputLayout):
        raise InputError("input_length is needed for a torch.nn.Module (e.g. "
                         "load_model(module, input_length=1000)), or layout=FeatureLayout(shape) "
                         "for an input that is no DNA")
    auto = batch_size == "auto"
    model = TorchModel(name or type(module).__name__, layout, input_length, (), (),
                       128 if auto else batch_size or 128, source or {"type": "torch.nn.Module"},
                       tuple(extra_inputs), tuple(input_names), keyword_inputs,
                       module=module, device=device, precision=precision)
    model.output_shape = tuple(model._forward(model._probe(1), model._probe_context(1)
                                              ).shape[1:]) or (1,)
    model.output_names = output_names_for(output_names, model.output_shape)
    if auto:
        per_row, largest = model._activation_bytes()
        model.batch_size = auto_batch_size(
            per_row, available_memory(model.device),
            largest_per_row=None if model.device.type == "cuda" else largest)
    return model
