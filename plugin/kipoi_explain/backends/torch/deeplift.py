"""DeepLIFT multipliers for PyTorch modules: the rescale rule, and exact rules for the blocks
of today's published architectures.

The input and the reference batch are concatenated and run through the module in one forward
pass, so every nonlinearity sees both halves. Each operation with a rule has its local gradient
replaced in the backward pass by the rule's multiplier; only the input half's upstream gradient
is read (as Captum's ``DeepLift`` does). The rules, each keeping summation-to-delta
(``sum((x - ref) * multipliers) == f(x) - f(ref)``) exactly:

- **Rescale** (Shrikumar et al. 2017) for every elementwise map ``y = g(a)``: ``Δy / Δa``, the
  local gradient where ``Δa`` is about 0. It applies to elementwise modules (``nn.ReLU``,
  ``nn.GELU``, ...), to elementwise functions called in ``forward`` on one input-dependent
  tensor (``torch.exp``, ``F.gelu``, ``x.clamp(0, 1)``, in place too: ``x.clip_(...)``), and
  to any module without parameters or children that is elementwise, whatever its formulation
  (enformer-pytorch's ``sigmoid(1.702 x) * x`` GELU): a module is taken as elementwise when its
  output, for a random permutation of its input's entries, is the same permutation of its
  output.
- **Products of two input-dependent tensors** (``a * b``, ``a @ b``, ``torch.einsum`` of two
  operands: attention's query·key and attention·value): the two-player Shapley split of SHAP's
  DeepExplainer (Lundberg & Lee 2017). For ``y = f(a, b)`` bilinear,
  ``Δy = f(Δa, b̄) + f(ā, Δb)`` exactly, with ``ā = (a + a_ref) / 2``: the multiplier of ``a``
  is the gradient of ``f(a, b̄)``, of ``b`` that of ``f(ā, b)``. A division by an
  input-dependent tensor is a product with its reciprocal, which takes the rescale rule.
- **Softmax** along a dimension, as SHAP's DeepExplainer decomposes it: ``e = exp(z - c)`` with
  ``c`` the largest logit of the row over the input and its reference (one constant for both,
  so ``Δc = 0``), ``y = e * (1 / sum(e))``: rescale, a linear sum, rescale, a product.
  ``log_softmax`` and ``logsumexp`` are ``z - c - log(sum(e))`` and ``c + log(sum(e))``.
- **Layer normalisation**: ``c = x - mean(x)`` (linear), ``r = 1 / sqrt(mean(c²) + eps)`` (two
  rescales around a linear mean), ``y = c * r`` (a product), then the affine weight and bias;
  ``rms_norm`` without the centring.
- **Max** (max pooling, ``torch.max``/``amax`` along a dimension): Captum's rule, the output
  difference split at the cross-maximum and routed to the input's and the reference's argmax.

Everything else the module computes must be linear or affine in the input; a
``TorchFunctionMode`` guard checks every torch operation on an input-dependent tensor, and one
:class:`UnsupportedOperation` names every operation outside these rules and the linear
whitelist (the pass runs to its end to find them all), because plain gradients through an
unhandled nonlinearity would silently break summation-to-delta.
"""

from __future__ import annotations

import weakref
from typing import Any, Callable

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from ...errors import UnsupportedOperation
from ..blockers import no_rule

__all__ = ["UnsupportedOperation", "deeplift_multipliers", "EPS"]

EPS = 1e-10
"""Below this input difference the ordinary gradient is used (as in Captum)."""

_ELEMENTWISE = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU,
    nn.GELU, nn.SiLU, nn.Mish, nn.Sigmoid, nn.Hardsigmoid, nn.Tanh,
    nn.Hardtanh, nn.Hardswish, nn.Softplus, nn.Softsign, nn.LogSigmoid,
    nn.Tanhshrink, nn.Softshrink, nn.Hardshrink, nn.Threshold,
)
_MAXPOOL = (
    nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d,
    nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d,
)
#: Elementwise functions called in ``forward`` (``torch.exp(x)``, ``x.exp()``,
#: ``F.gelu(x)``) that take the rescale rule as their module counterparts do, when the
#: tensor they transform is their only input-dependent argument: every other argument
#: (clamp bounds, an exponent, GELU's approximation) is a constant of the elementwise map.
_ELEMENTWISE_FUNCTIONS = frozenset({
    "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "rsqrt", "square",
    "pow", "abs", "sigmoid", "tanh", "erf", "erfc", "sin", "cos", "reciprocal",
    "clamp", "clip", "clamp_min", "clamp_max", "relu", "relu6", "leaky_relu", "elu", "selu",
    "celu", "gelu", "silu", "mish", "softplus", "softsign", "hardtanh", "hardsigmoid",
    "hardswish", "logsigmoid", "tanhshrink", "softshrink", "hardshrink", "threshold",
})

_HINT = (
    "use a module nonlinearity with a rule (nn.ReLU, nn.Sigmoid, nn.MaxPool1d, "
    "...) or a method that needs none (ism, integrated_gradients)"
)


def deeplift_multipliers(
    module: nn.Module,
    x: torch.Tensor,
    ref: torch.Tensor,
    output_fn: Callable[[torch.Tensor], torch.Tensor],
    call: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """DeepLIFT rescale-rule multipliers of ``output_fn(module(x))`` w.r.t. ``x``.

    Parameters
    ----------
    module : torch.nn.Module
        Model in eval mode. Its hooks are added for the call and removed
        afterwards; its parameters' ``requires_grad`` flags are restored.
    x, ref : torch.Tensor
        Inputs and references, shape ``(n, ...)``, in the module's own input
        layout, dtype and device.
    output_fn : callable
        Maps the module output (for ``n`` samples) to an ``(n,)`` tensor, e.g.
        selecting a target. It must be linear (selection, sum, mean, scaling):
        it runs under the same guard as the module.
    call : callable, optional
        Runs the module on the stacked inputs and references (default: ``module(both)``);
        for a module taking other inputs too, which it must hold the same for both halves.

    Returns
    -------
    multipliers : torch.Tensor
        Same shape as ``x``; ``((x - ref) * multipliers)`` summed per sample
        equals ``f_x - f_ref`` (summation-to-delta).
    f_x, f_ref : torch.Tensor
        ``(n,)`` detached outputs of ``output_fn`` for the inputs and references.

    Raises
    ------
    UnsupportedOperation
        If the forward pass (or ``output_fn``) applies an operation that is
        neither linear nor covered by a DeepLIFT rule.
    """
    if x.shape != ref.shape:
        raise ValueError(f"x and ref shapes differ: {tuple(x.shape)} vs {tuple(ref.shape)}")
    n = x.shape[0]
    state = _State(n)
    x_in = x.detach().requires_grad_(True)
    # Not a leaf, so in-place operations on the model input stay legal.
    both = torch.cat([x_in, ref.detach()])
    # The guard tells input-dependent tensors apart by requires_grad, so the
    # parameters must not carry it during the pass.
    trainable = [p for p in module.parameters() if p.requires_grad]
    handles = []
    try:
        for p in trainable:
            p.requires_grad_(False)
        for name, sub in module.named_modules():
            handles.append(sub.register_forward_pre_hook(_pre_hook(state, name)))
            handles.append(sub.register_forward_hook(_post_hook(state)))
        with torch.enable_grad(), _Guard(state):
            out = module(both) if call is None else call(both)
            state.location = "output_fn"
            f_x, f_ref = output_fn(out[:n]), output_fn(out[n:])
        if state.blockers:
            raise UnsupportedOperation(no_rule(state.blockers))
        for f in (f_x, f_ref):
            if f.shape != (n,):
                raise ValueError(f"output_fn must return shape ({n},), got {tuple(f.shape)}")
        if not f_x.requires_grad:
            raise ValueError("output_fn(module(x)) does not depend on x")
        (multipliers,) = torch.autograd.grad(f_x.sum(), x_in)
    finally:
        for handle in handles:
            handle.remove()
        for p in trainable:
            p.requires_grad_(True)
    return multipliers, f_x.detach(), f_ref.detach()


class _State:
    """Bookkeeping shared by the hooks and the guard during one call."""

    def __init__(self, n: int):
        self.n = n
        self.rule_depth = 0  # > 0 while inside a module that has a rule
        self.modules: list[tuple[str, str]] = []  # (path, class) call stack
        self.rules: list[str | None] = []  # the rule of each module on that stack
        self.pending: list[tuple[torch.Tensor, torch.Tensor] | None] = []
        self.location = "forward"
        #: Each operation without a rule, where it was called -> what to do instead.
        self.blockers: dict[str, str] = {}

    def where(self) -> str:
        if self.location == "output_fn":
            return "in output_fn"
        if not self.modules:
            return "outside any module"
        path, cls = self.modules[-1]
        return f"in module '{path or '<root>'}' ({cls})"


ELEMENTWISE, MAX = "elementwise", "max"


def _rule(module: nn.Module, args, state: _State) -> str | None:
    """The rule a module call takes as a whole: ``elementwise``, ``max`` or None (its
    operations are checked one by one)."""
    # Exact types: a subclass may override forward with something else.
    if type(module) in _ELEMENTWISE:
        return ELEMENTWISE
    if type(module) in _MAXPOOL:
        return MAX
    if _behaves_elementwise(module, args, state):
        return ELEMENTWISE
    return None


def _behaves_elementwise(module: nn.Module, args, state: _State) -> bool:
    """A module without parameters, buffers or children, of one tensor, whose output is
    permuted as a random permutation of its input's entries is: an elementwise map (a
    normalisation, softmax or pooling is not, whatever it is called)."""
    if len(args) != 1 or not isinstance(args[0], torch.Tensor) or not args[0].requires_grad \
            or list(module.children()) or list(module.parameters()) or list(module.buffers()):
        return False
    if module not in _TESTED:
        state.rule_depth += 1  # the test's own operations are no part of the pass
        try:
            _TESTED[module] = _permutes_with_input(module, args[0].detach())
        finally:
            state.rule_depth -= 1
    return _TESTED[module]


#: Whether a module (without parameters, buffers or children: its behaviour cannot change)
#: tested elementwise, kept for the module's life.
_TESTED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _permutes_with_input(module: nn.Module, a: torch.Tensor) -> bool:
    """Whether ``module`` maps a random permutation of ``a``'s entries to the same
    permutation of its output."""
    order = torch.randperm(a.numel(), generator=torch.Generator().manual_seed(0)).to(a.device)
    try:
        with torch.no_grad():
            # Copies: the module may change its input in place (Basenji2's softplus).
            y = module.forward(a.clone())
            y_permuted = module.forward(a.flatten()[order].view_as(a).clone())
    except Exception:  # noqa: BLE001 - a module that cannot take its input permuted
        return False
    return isinstance(y, torch.Tensor) and y.shape == a.shape and bool(torch.allclose(
        y.flatten()[order].view_as(a), y_permuted, rtol=1e-5, atol=1e-6))


def _pre_hook(state: _State, name: str):
    def hook(module, args):
        state.modules.append((name, type(module).__name__))
        rule = None if state.rule_depth else _rule(module, args, state)
        state.rules.append(rule)
        if rule is None:
            return None
        state.rule_depth += 1
        if len(args) != 1 or not isinstance(args[0], torch.Tensor):
            raise UnsupportedOperation(
                f"DeepLIFT rule for {type(module).__name__} expects one positional "
                f"tensor input {state.where()}"
            )
        (a,) = args
        if not a.requires_grad:
            state.pending.append(None)
            return None
        if a.shape[0] != 2 * state.n:
            raise UnsupportedOperation(
                f"DeepLIFT needs the batch on dimension 0 of every nonlinearity's "
                f"input, got shape {tuple(a.shape)} for a batch of {state.n} {state.where()}"
            )
        inplace = getattr(module, "inplace", False)
        if type(module) in _ELEMENTWISE and not inplace:
            delta_in = _delta(a)
            if not (delta_in.abs() < EPS).any():
                # Every position takes the rescaled multiplier, so no local gradient is
                # needed: the module runs on the input itself, outside autograd, without the
                # copies below (they were a third of a DeepSHAP call on a dilated network).
                state.pending.append((a, None, delta_in))
                return (a.detach(),)
        # The module runs on a private copy of its input: its local graph (for
        # the fallback gradient and the max-pool routing) stays apart from the
        # network's, and later in-place changes to `a` cannot alter the deltas.
        # An in-place module needs a non-leaf to overwrite; the post-hook then
        # writes the result back into `a`, as the original module would.
        a_local = a.detach().clone().requires_grad_(True)
        state.pending.append((a, a_local, None))
        return (a_local.clone(),)

    return hook


def _post_hook(state: _State):
    def hook(module, args, out):
        rule = state.rules.pop()
        try:
            if rule is None:
                return None
            pending = state.pending.pop()
            if pending is None:
                return None
            if not isinstance(out, torch.Tensor):
                raise UnsupportedOperation(
                    f"DeepLIFT rule for {type(module).__name__} needs a single tensor "
                    f"output (return_indices is not supported) {state.where()}"
                )
            a, a_local, delta_in = pending
            if a_local is None:
                backward = _rescaled(_delta(out) / delta_in)
            else:
                backward = (_rescale if rule == ELEMENTWISE else _maxpool)(a_local, out)
            # The rule's local graph reads ``out`` in the backward pass: the network gets a
            # copy, which it may change in place.
            y = out.detach() if a_local is None else out.detach().clone()
            return _ReplaceGrad.apply(a, [y], backward, getattr(module, "inplace", False))
        finally:
            if rule is not None:
                state.rule_depth -= 1
            state.modules.pop()

    return hook


class _ReplaceGrad(torch.autograd.Function):
    """Returns ``y``, given as ``[y]`` (written into ``a`` if ``inplace``); d/da is
    ``backward(grad_y)``."""

    @staticmethod
    def forward(ctx, a, boxed, backward, inplace):
        ctx.backward = backward
        (y,) = boxed
        if inplace:
            ctx.mark_dirty(a)
            return a.copy_(y)
        # Not an input of the function (it is boxed), so it is returned as it is: no copy,
        # and no view that in-place changes would be refused on.
        return y

    @staticmethod
    def backward(ctx, grad_y):
        return ctx.backward(grad_y), None, None, None


def _delta(t: torch.Tensor) -> torch.Tensor:
    """Input half minus reference half."""
    t, t_ref = t.detach().chunk(2)
    return t - t_ref


def _input_half_vjp(y: torch.Tensor, a: torch.Tensor, g: torch.Tensor, **kwargs) -> torch.Tensor:
    """Ordinary gradient through ``y(a)`` for the input half only."""
    (grad,) = torch.autograd.grad(y, a, torch.cat([g, torch.zeros_like(g)]), **kwargs)
    return grad.chunk(2)[0]


def _to_input_half(half: torch.Tensor) -> torch.Tensor:
    # The reference half gets no gradient: every rule reads only the input
    # half's upstream gradient (Captum's equal whenever its hooks work).
    return torch.cat([half, torch.zeros_like(half)])


def _rescaled(ratio: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """Rescale rule where no input meets its reference: ``g * Δy / Δa``, ``ratio`` given."""

    def backward(grad_y):
        return _to_input_half(grad_y.chunk(2)[0] * ratio)

    return backward


def _rescale(a: torch.Tensor, y: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """Rescale rule for an elementwise ``y = f(a)``: ``g * dy / da``, the local gradient
    where input and reference meet."""

    def backward(grad_y):
        g = grad_y.chunk(2)[0]
        delta_in, delta_out = _delta(a), _delta(y)
        local = _input_half_vjp(y, a, g)
        return _to_input_half(torch.where(delta_in.abs() < EPS, local, g * delta_out / delta_in))

    return backward


def _maxpool(a: torch.Tensor, y: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """Captum's max-pool rule.

    The output difference is split at the cross-maximum ``max(y, y_ref)``:
    the part above ``y_ref`` is routed to the input's argmax, the rest to the
    reference's argmax, and the sum is divided by the input difference. The
    routing ("unpooling") is the pooling op's own vector-Jacobian product,
    which, unlike ``max_unpool``, adds up positions that win several
    overlapping windows.
    """

    def backward(grad_y):
        g = grad_y.chunk(2)[0]
        out, out_ref = y.detach().chunk(2)
        cross_max = torch.max(out, out_ref)
        routed = torch.cat([g * (cross_max - out_ref), g * (out - cross_max)])
        (unpooled,) = torch.autograd.grad(y, a, routed, retain_graph=True)
        via_input, via_ref = unpooled.chunk(2)
        delta_in = _delta(a)
        local = _input_half_vjp(y, a, g)
        return _to_input_half(
            torch.where(delta_in.abs() < EPS, local, (via_input + via_ref) / delta_in))

    return backward


# --- The guard -------------------------------------------------------------


def _dependent(obj: Any) -> int:
    """Number of input-dependent tensors in ``obj`` (nested lists/tuples)."""
    if isinstance(obj, torch.Tensor):
        return int(obj.requires_grad)
    if isinstance(obj, (list, tuple)):
        return sum(_dependent(o) for o in obj)
    return 0


def _arg(args, kwargs, position, *names):
    if position < len(args):
        return args[position]
    return next((kwargs[k] for k in names if k in kwargs), None)


def _product(*positions, names=()):
    """At most one factor of a product may depend on the input (else bilinear)."""

    def check(args, kwargs):
        factors = [args[i] for i in positions if i < len(args)] if positions else list(args)
        factors += [v for k, v in kwargs.items() if k in names]
        if _dependent(factors) > 1:
            return "a product of two input-dependent tensors"
        return None

    return check


def _divide(args, kwargs):
    if _arg(args, kwargs, 2, "rounding_mode") is not None:
        return "rounding division"
    if _dependent(_arg(args, kwargs, 1, "other")):
        return "division by an input-dependent tensor"
    return None


def _reverse_divide(args, kwargs):
    # Tensor.__rtruediv__(self, other) computes other / self.
    return "division by an input-dependent tensor" if _dependent(args[0]) else None


def _keeps_batch(args, kwargs):
    # Reducing over dimension 0 would mix the input and reference halves.
    ndim = max(_arg(args, kwargs, 0, "input").dim(), 1)
    dim = _arg(args, kwargs, 1, "dim", "axis")
    dims = dim if isinstance(dim, (tuple, list)) else [dim]
    if not dims or any(d is None or (isinstance(d, int) and d % ndim == 0) for d in dims):
        return "a reduction over the batch dimension"
    return None


def _eval_only(training_position, *names):
    def check(args, kwargs):
        if _arg(args, kwargs, training_position, *names):
            return "training-mode behaviour (call module.eval())"
        if _dependent(list(args[1:]) + list(kwargs.values())):
            return "input-dependent statistics or parameters"
        return None

    return check


def _constant_mask(*positions, names=()):
    def check(args, kwargs):
        if any(_dependent(_arg(args, kwargs, p, *names)) for p in positions):
            return "an input-dependent mask"
        return None

    return check


_TENSOR_ATTRIBUTES = frozenset({
    "shape", "dtype", "device", "ndim", "T", "mT", "mH", "H", "layout",
    "requires_grad", "is_cuda", "is_leaf", "grad_fn", "names", "is_sparse",
    "is_quantized", "is_meta", "is_nested", "is_cpu", "is_mps",
})


def _is_elementwise_call(func, args, kwargs) -> bool:
    """An elementwise function of one input-dependent tensor, its first argument (in place
    as ``x.clip_(...)``, or not)."""
    return (_op_key(func) in _ELEMENTWISE_FUNCTIONS and not kwargs.get("inplace", False)
            and bool(args) and isinstance(args[0], torch.Tensor) and args[0].requires_grad
            and _dependent(list(args[1:]) + list(kwargs.values())) == 0)


def _in_place(func) -> bool:
    name = getattr(func, "__name__", "")
    return name.startswith("__i") or (name.endswith("_") and not name.startswith("_"))


def _attribute(func):
    name = getattr(getattr(func, "__self__", None), "__name__", "?")
    return None if name in _TENSOR_ATTRIBUTES else f"reading attribute '{name}'"


# Operations that are linear/affine in every input-dependent argument, only
# move or copy entries, or only read metadata.
_LINEAR = frozenset({
    # metadata, conversion, copies
    "size", "dim", "ndimension", "numel", "nelement", "stride", "storage_offset",
    "is_contiguous", "is_floating_point", "is_complex", "element_size",
    "get_device", "data_ptr", "__len__", "__format__", "__repr__",
    "to", "float", "double", "half", "bfloat16", "type", "type_as", "cpu",
    "cuda", "clone", "contiguous",
    "new_zeros", "new_ones", "new_full", "new_empty", "new_tensor",
    "zeros_like", "ones_like", "empty_like", "full_like",
    # shape and indexing
    "view", "view_as", "reshape", "reshape_as", "flatten", "unflatten",
    "squeeze", "unsqueeze", "permute", "transpose", "t", "swapaxes",
    "swapdims", "movedim", "moveaxis", "expand", "expand_as", "repeat",
    "repeat_interleave", "tile", "narrow", "select", "index_select", "gather",
    "__getitem__", "__setitem__", "split", "split_with_sizes", "tensor_split",
    "chunk", "unbind", "cat", "concat", "concatenate", "stack", "hstack",
    "vstack", "dstack", "flip", "fliplr", "flipud", "roll", "rot90",
    "pad", "constant_pad_nd", "unfold", "fold", "pixel_shuffle",
    "pixel_unshuffle", "interpolate", "upsample",
    # affine arithmetic, linear pooling and reductions
    "add", "sub", "subtract", "rsub", "neg", "negative", "positive",
    "avg_pool1d", "avg_pool2d", "avg_pool3d",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
})

_CONDITIONAL: dict[str, Callable[[tuple, dict], str | None]] = {
    **dict.fromkeys(
        ["mul", "multiply", "matmul", "mm", "bmm", "mv", "dot", "inner", "outer", "kron"],
        _product(0, 1, names=("input", "other", "mat2", "vec", "tensor")),
    ),
    **dict.fromkeys(["einsum", "tensordot", "chain_matmul", "multi_dot"], _product()),
    **dict.fromkeys(
        ["linear", "conv1d", "conv2d", "conv3d",
         "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"],
        _product(0, 1, names=("input", "weight")),
    ),
    **dict.fromkeys(
        ["addmm", "addmv", "addbmm", "baddbmm", "addr"],
        _product(1, 2, names=("mat1", "mat2", "vec", "vec1", "vec2", "batch1", "batch2")),
    ),
    **dict.fromkeys(["div", "divide", "true_divide"], _divide),
    "rdiv": _reverse_divide,
    **dict.fromkeys(["sum", "mean", "cumsum"], _keeps_batch),
    "batch_norm": _eval_only(5, "training"),
    **dict.fromkeys(
        ["dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout",
         "feature_alpha_dropout"],
        _eval_only(2, "training", "train"),
    ),
    "where": _constant_mask(0, names=("condition",)),
    "masked_fill": _constant_mask(1, 2, names=("mask", "value")),
}

_DUNDER = {
    "__add__": "add", "__radd__": "add", "__iadd__": "add",
    "__sub__": "sub", "__isub__": "sub", "__rsub__": "rsub",
    "__mul__": "mul", "__rmul__": "mul", "__imul__": "mul",
    "__truediv__": "div", "__itruediv__": "div", "__div__": "div", "__idiv__": "div",
    "__rtruediv__": "rdiv", "__rdiv__": "rdiv",
    "__matmul__": "matmul", "__rmatmul__": "matmul",
    "__neg__": "neg", "__pos__": "positive",
}

#: Hints for operations whose fix is more specific than :data:`_HINT`.
_SPECIFIC_HINTS: dict[str, str] = {
    "softmax": "its rule needs a single dimension",
    "log_softmax": "its rule needs a single dimension",
}


def _op_key(func) -> str:
    name = getattr(func, "__name__", repr(func))
    name = _DUNDER.get(name, name)
    if name.endswith("_") and not name.startswith("_"):
        name = name[:-1]  # in-place variant, same math
    return name


def _op_name(func) -> str:
    """Readable name: torch.exp, Tensor.mul, torch.nn.functional.relu."""
    name = getattr(func, "__name__", repr(func))
    qualname = getattr(func, "__qualname__", "")
    module = getattr(func, "__module__", None) or ""
    if name == "__get__":
        return f"Tensor.{getattr(func.__self__, '__name__', '?')}"
    if qualname.startswith(("TensorBase.", "Tensor.")):
        return f"Tensor.{name}"
    if module in ("torch.nn.functional", "torch._C._nn"):
        return f"torch.nn.functional.{name}"
    return f"torch.{name}"


#: Products taking the two-player rule when two of their operands depend on the input.
_BILINEAR = frozenset({"mul", "multiply", "matmul", "mm", "bmm", "einsum"})
_DIVISIONS = frozenset({"div", "divide", "true_divide"})
_SOFTMAXES = frozenset({"softmax", "log_softmax", "logsumexp"})
_NORMS = frozenset({"layer_norm", "rms_norm"})
_MAXIMA = frozenset({"max", "amax"})


class _Guard(TorchFunctionMode):
    """Applies the rules to the operations that have one, and records every other operation
    that could make plain gradients differ from DeepLIFT.

    Inside ``__torch_function__`` the mode is off, so the rules compute with plain torch
    operations and call each other directly.
    """

    def __init__(self, state: _State):
        super().__init__()
        self.state = state

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if self.state.rule_depth == 0 and _dependent(list(args) + list(kwargs.values())):
            # output_fn sees the halves apart: no rule applies there.
            if self.state.location != "output_fn":
                ruled = self._with_rule(func, args, kwargs)
                if ruled is not NotImplemented:
                    return ruled
            self._check(func, args, kwargs)
        return func(*args, **kwargs)

    def _with_rule(self, func, args, kwargs):
        """``func(*args, **kwargs)`` through its rule, or NotImplemented where none applies."""
        key = _op_key(func)
        if _is_elementwise_call(func, args, kwargs):
            return self._rescaled_call(func, args, kwargs)
        if key in _BILINEAR:
            return self._product(func, args, kwargs)
        if key in _DIVISIONS and _arg(args, kwargs, 2, "rounding_mode") is None \
                and _dependent(_arg(args, kwargs, 1, "other")):
            return self._divide(args[0], _arg(args, kwargs, 1, "other"))
        if key == "rdiv" and _dependent(args[0]):
            # Tensor.__rtruediv__(self, other) computes other / self.
            return self._divide(args[1], args[0])
        if key in _SOFTMAXES:
            return self._softmax(key, func, args, kwargs)
        if key in _NORMS:
            return self._norm(key, func, args, kwargs)
        dim = _arg(args, kwargs, 1, "dim")
        if key in _MAXIMA and (isinstance(dim, int) or isinstance(dim, (tuple, list)) and all(
                isinstance(d, int) for d in dim)):
            # A reduction along dimensions (torch.max(a, b) of two tensors is no reduction).
            return self._max(func, args, kwargs)
        return NotImplemented

    def _halves(self, t: torch.Tensor, func) -> None:
        if t.shape[0] != 2 * self.state.n:
            raise UnsupportedOperation(
                f"DeepLIFT needs the batch on dimension 0 of {_op_name(func)}'s input, got "
                f"shape {tuple(t.shape)} for a batch of {self.state.n} {self.state.where()}")

    # ---- rescale ---------------------------------------------------------------------------
    def _rescaled_call(self, func, args, kwargs):
        """``func(a, ...)`` of one input-dependent tensor ``a`` (in place or not), its gradient
        the rescale rule's multiplier, as a module with a rule gets it (see the hooks)."""
        a, rest = args[0], args[1:]
        self._halves(a, func)
        inplace = _in_place(func)
        delta_in = _delta(a)
        if not inplace and not (delta_in.abs() < EPS).any():
            y = func(a.detach(), *rest, **kwargs)
            return _ReplaceGrad.apply(a, [y], _rescaled(_delta(y) / delta_in), False)
        a_local = a.detach().clone().requires_grad_(True)
        y = func(a_local.clone() if inplace else a_local, *rest, **kwargs)
        return _ReplaceGrad.apply(a, [y.detach().clone()], _rescale(a_local, y), inplace)

    def _elementwise(self, fn, a: torch.Tensor) -> torch.Tensor:
        """``fn(a)`` by the rescale rule, for the decompositions below."""
        return self._rescaled_call(fn, (a,), {}) if a.requires_grad else fn(a)

    # ---- products --------------------------------------------------------------------------
    def _product(self, func, args, kwargs):
        """The two-player rule: value ``f(a, b)``, gradient that of ``f(a, b̄) + f(ā, b)``."""
        einsum = _op_key(func) == "einsum"
        operands = list(args[1] if einsum and len(args) == 2 and isinstance(
            args[1], (list, tuple)) else args[1:] if einsum else args[:2])
        dependent = [i for i, t in enumerate(operands)
                     if isinstance(t, torch.Tensor) and t.requires_grad]
        if len(dependent) < 2:
            return NotImplemented  # linear in its one input-dependent operand
        if len(dependent) > 2:
            reason = "a product of more than two input-dependent tensors"
        elif _in_place(func):
            reason = "an in-place product of two input-dependent tensors"
        elif not einsum and (len(args) > 2 or kwargs):
            reason = "unexpected arguments"
        else:
            reason = None
        if reason is not None:
            self._record(func, reason)
            return func(*args, **kwargs)
        i, j = dependent
        for t in (operands[i], operands[j]):
            self._halves(t, func)

        def call(values):
            if einsum:
                return torch.einsum(args[0], *values)
            return func(*values)

        mean_i, mean_j = _mean_of_halves(operands[i]), _mean_of_halves(operands[j])
        with_mean_j, with_mean_i = list(operands), list(operands)
        with_mean_j[j], with_mean_i[i] = mean_j, mean_i
        surrogate = call(with_mean_j) + call(with_mean_i)
        value = call([t.detach() if isinstance(t, torch.Tensor) else t for t in operands])
        return surrogate + (value - surrogate).detach()

    def _divide(self, numerator, denominator):
        reciprocal = self._elementwise(torch.reciprocal, denominator)
        if isinstance(numerator, torch.Tensor) and numerator.requires_grad:
            return self._product(torch.mul, (numerator, reciprocal), {})
        return numerator * reciprocal

    # ---- softmax, log_softmax, logsumexp ------------------------------------------------------
    def _softmax(self, key, func, args, kwargs):
        x = args[0]
        dim = _arg(args, kwargs, 1, "dim")
        if dim is None or (isinstance(dim, (tuple, list)) and len(dim) != 1):
            self._record(func, "no single dimension given")
            return func(*args, **kwargs)
        dim = dim[0] if isinstance(dim, (tuple, list)) else dim
        dtype = kwargs.get("dtype") or (args[2] if len(args) > 2 and key != "logsumexp"
                                        else None)
        if isinstance(dtype, torch.dtype):
            x = x.to(dtype)
        if dim % x.dim() == 0:
            self._record(func, "a reduction over the batch dimension")
            return func(*args, **kwargs)
        self._halves(x, func)
        # One shift for the input and its reference: a constant of the map, so Δ(x - c) = Δx.
        c = _max_of_halves(x.detach().amax(dim, keepdim=True))
        shifted = x - c
        e = self._elementwise(torch.exp, shifted)
        total = e.sum(dim, keepdim=True)
        if key == "softmax":
            return self._product(torch.mul, (e, self._elementwise(torch.reciprocal, total)), {})
        log_total = self._elementwise(torch.log, total)
        if key == "log_softmax":
            return shifted - log_total
        keepdim = bool(_arg(args, kwargs, 2, "keepdim"))
        out = c + log_total
        return out if keepdim else out.squeeze(dim)

    # ---- normalisations ------------------------------------------------------------------------
    def _norm(self, key, func, args, kwargs):
        x = args[0]
        shape = _arg(args, kwargs, 1, "normalized_shape")
        weight, bias = _arg(args, kwargs, 2, "weight"), _arg(args, kwargs, 3, "bias")
        eps = _arg(args, kwargs, 4 if key == "layer_norm" else 3, "eps")
        if key == "rms_norm":
            bias = None
            eps = torch.finfo(x.dtype).eps if eps is None else eps
        elif eps is None:
            eps = 1e-5
        if _dependent([weight, bias]):
            self._record(func, "input-dependent weight or bias")
            return func(*args, **kwargs)
        self._halves(x, func)
        dims = tuple(range(-len(tuple(shape)), 0))
        centred = x - x.mean(dims, keepdim=True) if key == "layer_norm" else x
        square = self._elementwise(torch.square, centred)
        scale = self._elementwise(lambda v: torch.rsqrt(v + eps), square.mean(dims, keepdim=True))
        y = self._product(torch.mul, (centred, scale), {})
        if weight is not None:
            y = y * weight
        return y if bias is None else y + bias

    # ---- max along a dimension -------------------------------------------------------------
    def _max(self, func, args, kwargs):
        a, dim = args[0], _arg(args, kwargs, 1, "dim")
        dims = dim if isinstance(dim, (tuple, list)) else [dim]
        if any(isinstance(d, int) and d % max(a.dim(), 1) == 0 for d in dims):
            self._record(func, "a reduction over the batch dimension")
            return func(*args, **kwargs)
        self._halves(a, func)
        a_local = a.detach().clone().requires_grad_(True)
        result = func(a_local, *args[1:], **kwargs)
        # amax gives a tensor, max along a dimension (values, indices).
        values = result if isinstance(result, torch.Tensor) else result.values
        y = _ReplaceGrad.apply(a, [values.detach().clone()], _maxpool(a_local, values), False)
        return y if isinstance(result, torch.Tensor) else type(result)((y, result.indices))

    # ---- everything else -----------------------------------------------------------------------
    def _check(self, func, args, kwargs):
        key = _op_key(func)
        if key in _LINEAR:
            return
        if key == "__get__":
            reason = _attribute(func)
        elif key in _CONDITIONAL:
            reason = _CONDITIONAL[key](args, kwargs)
        else:
            reason = ""
        if reason is not None:
            self._record(func, reason)

    def _record(self, func, reason: str) -> None:
        what = _op_name(func) + (f" ({reason})" if reason else "")
        if self.state.location == "output_fn":
            hint = "output_fn may only select, sum, average or scale outputs"
        else:
            hint = _SPECIFIC_HINTS.get(_op_key(func), _HINT)
        # Recorded, and the pass goes on: every blocker of the model is named in one error.
        self.state.blockers.setdefault(f"{what} called {self.state.where()}", hint)


def _mean_of_halves(t: torch.Tensor) -> torch.Tensor:
    """``t`` with both halves set to the mean of its input and reference halves (detached):
    the ``ā`` of the product rule."""
    a, ref = t.detach().chunk(2)
    mean = (a + ref) / 2
    return torch.cat([mean, mean])


def _max_of_halves(t: torch.Tensor) -> torch.Tensor:
    """The larger of the input's and its reference's values, for both halves."""
    a, ref = t.chunk(2)
    top = torch.maximum(a, ref)
    return torch.cat([top, top])
