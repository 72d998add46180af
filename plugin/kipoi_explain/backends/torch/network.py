"""PyTorch modules: every capability, from one :class:`TorchNetwork` provider."""
from __future__ import annotations

import contextlib

import numpy as np
import torch

from ...capabilities import (AttentionAccess, DeepLiftRules, FastISM, FirstLayerFilters,
                             InputGradients, LayerAccess, Predictor)
from ...engine import auto_batch_size, available_memory
from ...errors import InputError, UnsupportedOperation
from ...layouts import ConvLayer, FeatureLayout, InputLayout, probe, probe_inputs
from ...model import Model, missing_inputs
from ...outputs import Outputs, named_arrays, read_outputs
from ...targets import Target
from . import attention as torch_attention
from .deeplift import deeplift_multipliers
from .fast_ism import fast_ism

#: ``float32``, or ``mixed``: bfloat16 autocast.
PRECISIONS = ("float32", "mixed")

#: Module classes whose output is an elementwise nonlinearity of a kind of its own; the others
#: of :data:`_OTHER_NONLINEARITIES` are ``other``.
_NONLINEARITY_KINDS = {"ReLU": "relu", "ReLU6": "relu", "Sigmoid": "sigmoid",
                       "Hardsigmoid": "sigmoid", "Tanh": "tanh", "Hardtanh": "tanh"}
_OTHER_NONLINEARITIES = ("LeakyReLU", "PReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish",
                         "Softplus", "Softsign", "LogSigmoid", "Tanhshrink", "Hardswish")
#: Modules that act on each channel apart and keep the shape: a filter's nonlinearity may follow
#: them and still be that filter's.
_PER_CHANNEL = (torch.nn.BatchNorm1d, torch.nn.Dropout, torch.nn.Dropout1d, torch.nn.Identity)


def _device(requested: str | None):
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu") \
        if requested in (None, "auto") else torch.device(requested)
    if device.type == "cuda":
        # TF32 convolutions round inputs to 10 mantissa bits, and how much depends on the
        # batch the rows land in: attributions would change with the batching (by up to a
        # fifth of the largest score, measured on an H100). Explanations need float32.
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    return device


class TorchNetwork(Predictor, InputGradients, DeepLiftRules, LayerAccess, AttentionAccess,
                   FirstLayerFilters, FastISM):
    """A ``torch.nn.Module`` (put in eval mode on ``device``) and what it takes: every
    capability of a PyTorch model.

    Build the model with :func:`kipoi_explain.load_model`, which infers the metadata it can.

    Attributes
    ----------
    module : torch.nn.Module
    layout : InputLayout, FeatureLayout or TokenLayout
        The main input's layout.
    name : str
        The model's name, for messages.
    input_length : int or None
    extra_inputs : tuple of ExtraInput
    input_names : tuple of str
        Every input's name, main one included, in the order the module takes them; empty for
        a module of one input.
    keyword_inputs : bool
        The module is called with its inputs by name, else positionally.
    device : torch.device
    precision : {"float32", "mixed"}
    """

    def __init__(self, module, layout, name: str, input_length: int | None = None,
                 extra_inputs=(), input_names=(), keyword_inputs: bool = False,
                 device: str | None = None, precision: str = "float32"):
        self.module, self.layout, self.name = module, layout, name
        self.input_length, self.extra_inputs = input_length, tuple(extra_inputs)
        self.input_names, self.keyword_inputs = tuple(input_names), keyword_inputs
        self.precision = precision
        self.module.eval()
        self.device = _device(device)
        self.module.to(self.device)
        self._modules = {name: mod for name, mod in self.module.named_modules() if name}
        self._order: list[str] = []
        #: What the module returns (heads, each array's task axis), set by
        #: :meth:`read_outputs` once known.
        self._outputs: Outputs | None = None

    # ---- running the module ---------------------------------------------------------------
    def to_tensor(self, x: np.ndarray, requires_grad: bool = False) -> torch.Tensor:
        """A public-layout batch as a tensor in the module's layout, on its device."""
        return torch.tensor(self.layout.to_model(x), device=self.device,
                            requires_grad=requires_grad)

    def _extra_tensors(self, context: dict | None, requires_grad: bool = False) -> dict:
        """The extra inputs as tensors in the model's layout; differentiable ones track their
        gradient when ``requires_grad``."""
        if not self.extra_inputs:
            return {}
        if context is None:
            raise missing_inputs(self.name, self.extra_inputs)
        return {spec.name: torch.tensor(
            spec.to_model(context[spec.name], self.layout.channels_first), device=self.device,
            requires_grad=requires_grad and spec.differentiable) for spec in self.extra_inputs}

    def _inputs(self, main, extras: dict):
        """The module's inputs for one batch: ``main`` and the ``extras`` by name; a list in
        the module's order, or a dict by name for a module called by keyword."""
        if not self.extra_inputs:
            return [main]
        values = {**extras,
                  next(name for name in self.input_names if name not in extras): main}
        if self.keyword_inputs:
            return {name: values[name] for name in self.input_names}
        return [values[name] for name in self.input_names]

    def run(self, main: torch.Tensor, context: dict | None = None,
            extras: dict | None = None) -> torch.Tensor:
        """The module's output for the main input tensor ``main`` and the extra inputs (tensors
        ``extras``, else made from ``context``), in float32 whatever the precision."""
        if extras is None:
            extras = self._extra_tensors(context)
        inputs = self._inputs(main, extras)
        with torch.autocast(self.device.type, dtype=torch.bfloat16,
                            enabled=self.precision == "mixed"):
            out = self._call(inputs)
        return self.library_layout(out).float()

    def _call(self, inputs):
        """The module's own output for its inputs (a list, or a dict by keyword)."""
        return self.module(**inputs) if isinstance(inputs, dict) else self.module(*inputs)

    def _probe(self, n: int) -> tuple[torch.Tensor, dict | None]:
        x, context = probe_inputs(self.layout, self.input_length, self.extra_inputs, n)
        return self.to_tensor(x), context

    def _arrays(self, out) -> list[tuple[str | None, torch.Tensor]]:
        arrays = named_arrays(out, f"model {self.name!r}")
        for name, value in arrays:
            if not isinstance(value, torch.Tensor):
                raise InputError(f"model {self.name!r} returned {type(value).__name__}"
                                 + (f" as output {name!r}" if name else "")
                                 + "; expected tensors (one, or a tuple, list or dict of them)")
        return arrays

    def library_layout(self, out) -> torch.Tensor:
        """The module's output with each task axis last; several arrays flattened per row
        and put one after the other."""
        arrays = [value for _, value in self._arrays(out)]
        if self._outputs is None:
            return arrays[0]
        axes = self._outputs.task_axes
        if len(arrays) != len(axes):
            raise InputError(f"model {self.name!r} returned {len(arrays)} arrays; it returned "
                             f"{len(axes)} when loaded")
        moved = [t if axis is None or axis == t.dim() - 2 else t.movedim(axis + 1, -1)
                 for t, axis in zip(arrays, axes)]
        if not self._outputs.heads:
            return moved[0]
        return torch.cat([t.reshape(t.shape[0], -1) for t in moved], dim=1)

    @property
    def task_axes(self) -> tuple[int | None, ...] | None:
        """Per output array, the axis of one sequence's output that holds the tasks."""
        return None if self._outputs is None else self._outputs.task_axes

    def read_outputs(self, output_names, output_layout) -> tuple:
        """Learn the module's outputs from one probe pass: ``(heads, shape, names)`` -- the
        heads of a module returning several arrays (else empty), the per-sequence shape in
        the library's layout and the task names (see :mod:`kipoi_explain.outputs`)."""
        main, context = self._probe(1)
        with torch.no_grad():
            out = self._call(self._inputs(main, self._extra_tensors(context)))
        shapes = [(name, tuple(value.shape[1:])) for name, value in self._arrays(out)]
        self._outputs = read_outputs(shapes, output_names, output_layout, False, self.name)
        return self._outputs.heads, self._outputs.shape, self._outputs.names

    def activation_bytes(self) -> tuple[int, int]:
        """Memory one input row takes in a gradient call: every module's output (kept for the
        backward pass) and its gradient, measured on a probe batch; and the largest module
        output of one row."""
        total, largest = [0], [0]
        leaves = [mod for mod in self._modules.values() if not list(mod.children())]

        def count(module, args, output):
            if isinstance(output, torch.Tensor):
                total[0] += output.numel() * output.element_size()
                largest[0] = max(largest[0], output.numel() * output.element_size() // 2)

        hooks = [mod.register_forward_hook(count) for mod in leaves]
        try:
            with torch.no_grad():
                self.run(*self._probe(2))
        finally:
            for hook in hooks:
                hook.remove()
        x, context = probe_inputs(self.layout, self.input_length, self.extra_inputs, 1)
        inputs = x.nbytes + sum(v.nbytes for v in (context or {}).values())
        # Two probe rows' outputs: one row's outputs and their gradients.
        return total[0] + 2 * inputs, max(largest[0], inputs)

    @staticmethod
    def _select(out, target: Target):
        columns = torch.as_tensor(target.columns, device=out.device)
        picked = out.reshape(out.shape[0], -1).index_select(1, columns)
        return picked.sum(1) if target.reduce == "sum" else picked.mean(1)

    # ---- predictor ------------------------------------------------------------------------
    def forward(self, x, context=None):
        with torch.no_grad():
            out = self.run(self.to_tensor(x), context)
        return out.detach().cpu().numpy()

    def parameters(self):
        return [t.detach().cpu().numpy() for t in self.module.state_dict().values()]

    # ---- input gradients and DeepLIFT ----------------------------------------------------
    def input_gradient(self, x, target, context=None):
        if isinstance(self.layout, FeatureLayout) or isinstance(self.layout, InputLayout):
            inputs = self.to_tensor(x, requires_grad=True)
        else:
            raise InputError(f"model {self.name!r} takes token ids, which have no gradient; "
                             "gradient methods attribute at the token embedding instead")
        differentiable = [spec for spec in self.extra_inputs if spec.differentiable]
        with torch.enable_grad():
            extras = self._extra_tensors(context, requires_grad=True)
            wrt = [extras[spec.name] for spec in differentiable]
            outputs = self.run(inputs, extras=extras)
            grads = torch.autograd.grad(self._select(outputs, target).sum(), [inputs, *wrt],
                                        allow_unused=True)
        grads = [torch.zeros_like(t) if g is None else g for g, t in zip(grads, [inputs, *wrt])]
        extra_grads = [spec.from_model(g.cpu().numpy(), self.layout.channels_first)
                       for spec, g in zip(differentiable, grads[1:])]
        return (self.layout.from_model(grads[0].cpu().numpy()),
                outputs.detach().cpu().numpy(), *extra_grads)

    def deeplift_multipliers(self, x, ref, target, context=None):
        # The references see the same extra inputs as the inputs: the difference from
        # reference is in the main input alone.
        extras = {name: torch.cat([t, t]) for name, t in self._extra_tensors(context).items()}
        mult, f_x, f_ref = deeplift_multipliers(
            self.module, self.to_tensor(x), self.to_tensor(ref),
            lambda out: self._select(out, target),
            call=lambda both: self.run(both, extras=extras))
        return (self.layout.from_model(mult.detach().cpu().numpy()),
                f_x.detach().cpu().numpy(), f_ref.detach().cpu().numpy())

    # ---- layers ---------------------------------------------------------------------------
    def layer_names(self):
        return list(self._modules)

    def _unit_axis(self, ndim: int) -> int:
        # Channels-first models produce (n, units, positions); callers get positions first.
        return 1 if self.layout.channels_first and ndim == 3 else ndim - 1

    def _call_order(self) -> list[str]:
        """Every module, in the order a forward pass first reaches it.

        A module the forward pass never calls itself (the ``out_proj`` that
        ``nn.MultiheadAttention`` applies functionally) takes the place of its caller.
        """
        if not self._order:
            called = []
            hooks = [mod.register_forward_pre_hook(
                lambda mod, args, name=name: called.append(name) if name not in called else None)
                for name, mod in self._modules.items()]
            try:
                with torch.no_grad():
                    self.run(*self._probe(1))
            finally:
                for hook in hooks:
                    hook.remove()
            rank = {name: i for i, name in enumerate(called)}

            def position(name):
                while name not in rank and "." in name:
                    name = name.rsplit(".", 1)[0]
                return rank.get(name, len(rank))

            self._order = sorted(self._modules, key=lambda name: (position(name), name))
        return self._order

    def weighted_layers(self):
        return [name for name in self._call_order()
                if any(p.requires_grad for p in self._modules[name].parameters(recurse=False))]

    def nonlinearities(self):
        return {name: _NONLINEARITY_KINDS.get(type(mod).__name__, "other")
                for name in self._call_order()
                if type(mod := self._modules[name]).__name__ in (*_NONLINEARITY_KINDS,
                                                                  *_OTHER_NONLINEARITIES)}

    def embedding_layer(self):
        found = [name for name in self._call_order()
                 if isinstance(self._modules[name], torch.nn.Embedding)]
        if not found:
            raise UnsupportedOperation(f"model {self.name!r} has no torch.nn.Embedding layer to "
                                       "attribute token ids at")
        return found[0]

    def activations(self, x, layer, context=None):
        captured = []
        handle = self._modules[layer].register_forward_hook(
            lambda module, args, output: captured.append(output.detach()))
        try:
            with torch.no_grad():
                self.run(self.to_tensor(x), context)
        finally:
            handle.remove()
        out = captured[0].float().cpu().numpy()
        return out.transpose(0, 2, 1) if out.ndim == 3 and self._unit_axis(3) == 1 else out

    @contextlib.contextmanager
    def bypassed(self, layer):
        handle = self._modules[layer].register_forward_hook(lambda mod, args, out: args[0])
        try:
            yield
        finally:
            handle.remove()

    def get_weights(self, layer):
        return [p.detach().cpu().numpy().copy()
                for p in self._modules[layer].parameters(recurse=False) if p.requires_grad]

    def set_weights(self, layer, arrays):
        params = [p for p in self._modules[layer].parameters(recurse=False) if p.requires_grad]
        with torch.no_grad():
            for param, array in zip(params, arrays, strict=True):
                param.copy_(torch.as_tensor(array))

    def ablated_forward(self, x, layer, keep, fill, context=None):
        def replace(module, args, output):
            axis = self._unit_axis(output.ndim)
            if output.shape[axis] != keep.shape[-1]:
                raise InputError(f"layer {layer!r} has {output.shape[axis]} units; keep has "
                                 f"{keep.shape[-1]} entries")
            kept = torch.as_tensor(_per_unit(keep, output.ndim, axis), device=output.device)
            value = torch.as_tensor(_per_unit(fill, output.ndim, axis), device=output.device)
            return output * kept + value * (1 - kept)

        handle = self._modules[layer].register_forward_hook(replace)
        try:
            with torch.no_grad():
                out = self.run(self.to_tensor(x), context)
        finally:
            handle.remove()
        return out.detach().cpu().numpy()

    def layer_gradient(self, x, layer, target, values=None, context=None):
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

        handle = self._modules[layer].register_forward_hook(capture)
        try:
            with torch.enable_grad():
                inputs = self.to_tensor(x, requires_grad=isinstance(
                    self.layout, (InputLayout, FeatureLayout)))
                value = self._select(self.run(inputs, context), target)
                (grad,) = torch.autograd.grad(value.sum(), captured, allow_unused=True)
        finally:
            handle.remove()
        if grad is None:
            grad = torch.zeros_like(captured[0])
        grad, output = grad.float().cpu().numpy(), captured[0].detach().float().cpu().numpy()
        if output.ndim == 3 and self._unit_axis(3) == 1:
            grad, output = grad.transpose(0, 2, 1), output.transpose(0, 2, 1)
        return grad, output, value.detach().cpu().numpy()

    def layer_gradient_norms(self, x, layers, target, context=None):
        captured = {}

        def keep_first(module, args, output, name):
            captured.setdefault(name, output)

        hooks = [self._modules[name].register_forward_hook(
            lambda mod, args, out, name=name: keep_first(mod, args, out, name)) for name in layers]
        try:
            with torch.enable_grad():
                inputs = self.to_tensor(x, requires_grad=isinstance(
                    self.layout, (InputLayout, FeatureLayout)))
                value = self._select(self.run(inputs, context), target)
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

    # ---- attention ------------------------------------------------------------------------
    def attention_layers(self):
        return [name for name in self._call_order()
                if torch_attention.is_attention(self._modules[name])]

    def _attention_calls(self, x, layers, context):
        return torch_attention.call_arguments(lambda: self.run(self.to_tensor(x), context),
                                              {name: self._modules[name] for name in layers})

    def queries_and_keys(self, x, layer, context=None):
        return torch_attention.queries_and_keys(
            self._modules[layer], *self._attention_calls(x, [layer], context)[layer])

    def attention_maps(self, x, layers, context=None):
        calls = self._attention_calls(x, layers, context)
        return [torch_attention.probabilities(self._modules[name], *calls[name])
                for name in layers]

    def token_inputs(self, x, layer, context=None):
        return torch_attention.token_inputs(
            self._modules[layer], *self._attention_calls(x, [layer], context)[layer])

    # ---- first-layer filters ----------------------------------------------------------------
    def conv_layers(self):
        if not isinstance(self.layout, InputLayout):
            return []
        candidates = {name: mod for name, mod in self._modules.items()
                      if isinstance(mod, torch.nn.Conv1d) and mod.in_channels == 4}
        x = probe(self.input_length)
        # A convolution reads the one-hot input when what it receives is that input, bases
        # first; a deeper convolution with 4 channels does not.
        expected = torch.tensor(InputLayout(self.layout.alphabet, alphabet_axis=0).to_model(x))
        calls = []  # (name, first argument, output) of every module call, in call order
        hooks = [mod.register_forward_hook(
            lambda mod, args, out, name=name: calls.append((name, args[0] if args else None, out)))
            for name, mod in self._modules.items()]
        try:
            with torch.no_grad():
                self.run(self.to_tensor(x), probe_inputs(
                    self.layout, self.input_length, self.extra_inputs, len(x))[1])
        finally:
            for hook in hooks:
                hook.remove()
        direct = {name: out for name, arg, out in calls if name in candidates and
                  isinstance(arg, torch.Tensor) and torch.equal(arg.detach().cpu(), expected)}
        convs = []
        for name, mod in candidates.items():
            if name in direct:
                # (F, 4, K) in the model's base order -> (F, K, 4) in ACGT order.
                weights = mod.weight.detach().cpu().numpy().transpose(0, 2, 1)
                bias = None if mod.bias is None else mod.bias.detach().cpu().numpy()
                padding = mod.padding if isinstance(mod.padding, str) else mod.padding[0]
                convs.append(ConvLayer(name, self.layout.bases_to_acgt(weights), bias,
                                       mod.stride[0], mod.dilation[0], padding,
                                       _first_nonlinearity(self._modules, calls, direct[name])))
        return convs

    # ---- fast ISM ---------------------------------------------------------------------------
    def ism_scores(self, x, target, batch_size, progress, start, end):
        return fast_ism(self, x, target, batch_size, progress, start, end)


def _first_nonlinearity(modules: dict, calls: list, output) -> str | None:
    """The module whose output is the first elementwise nonlinearity of a convolution's
    ``output``, through per-channel modules only; None when another module reads it first (a
    functional activation, called inside ``forward``, is no module and cannot be seen)."""
    for name, arg, out in calls:
        if arg is not output:
            continue
        kind = type(modules[name]).__name__
        if kind in _NONLINEARITY_KINDS or kind in _OTHER_NONLINEARITIES:
            return name
        if not isinstance(modules[name], _PER_CHANNEL):
            return None
        output = out
    return None


def _per_unit(array: np.ndarray, ndim: int, axis: int) -> np.ndarray:
    """``(units,)`` or ``(n, units)`` reshaped to broadcast along ``axis`` of an ``ndim`` output."""
    shape = [1] * ndim
    shape[axis] = array.shape[-1]
    if array.ndim == 2:
        shape[0] = array.shape[0]
    return array.reshape(shape)


def torch_model(module, input_length: int | None = None, output_names=None,
                layout: InputLayout | FeatureLayout | None = None, name: str | None = None,
                device: str | None = None, batch_size: int | str | None = None,
                source: dict | None = None, extra_inputs=(), input_names=(),
                keyword_inputs: bool = False, precision: str = "float32",
                output_layout=None) -> Model:
    """Wrap a ``torch.nn.Module``.

    ``layout`` defaults to channels first ``(N, 4, L)``, the PyTorch convention; a
    :class:`FeatureLayout` declares an input that is no DNA, a :class:`TokenLayout` token ids.
    The output shape and, if not given, the output names (``output_0``, ...) are read from one
    forward pass. A module returning a tuple, list or dict of tensors has one head per tensor
    (:mod:`kipoi_explain.outputs`): ``output_names`` then names the heads (a list) or their
    tasks (a dict by head). An output of several axes per sequence needs ``output_layout``
    (``"tasks,bins"``, ``"bins,tasks"``; a dict by head) unless its task names settle which
    axis holds the tasks: PyTorch has no convention to read it by.

    A module of several inputs takes the main one and ``extra_inputs``
    (:class:`~kipoi_explain.layouts.ExtraInput`), positionally in the order of
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
    name = name or type(module).__name__
    network = TorchNetwork(module, layout, name, input_length, extra_inputs, input_names,
                           keyword_inputs, device, precision)
    heads, output_shape, output_names = network.read_outputs(output_names, output_layout)
    if batch_size in (None, "auto"):
        # Sized to the device's free memory unless the caller sets a number: the fast block
        # size is the default, not an option a user must know.
        per_row, largest = network.activation_bytes()
        on_gpu = network.device.type == "cuda"
        batch_size = auto_batch_size(
            per_row, int(torch.cuda.mem_get_info(network.device)[0]) if on_gpu
            else available_memory(), largest_per_row=None if on_gpu else largest)
    return Model(name, "pytorch", layout, input_length, output_names, output_shape,
                 predictor=network, gradients=network, deeplift=network, layers=network,
                 attention=network, filters=network, fast_ism=network,
                 batch_size=batch_size, source=source or {"type": "torch.nn.Module"},
                 extra_inputs=extra_inputs, heads=heads)
