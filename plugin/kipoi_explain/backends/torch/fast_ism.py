"""Exact in-silico mutagenesis that recomputes only what a substitution changes.

A substitution at position ``p`` changes a convolution's output only where the kernel reads
``p``, and the next layer's only where that reaches: a window that widens layer by layer until
it covers every position (fastISM, Nair et al. 2022; Yuzu, Schreiber et al. 2022). The module is
traced with :mod:`torch.fx` and run once per sequence, keeping every layer's output (the
reference). Each mutant then carries, per layer, only the window its substitution reaches,
computed from the window of the layer before with the unchanged context read from the
reference: convolutions (stride, dilation, padding), max and average pooling, batch
normalisation in eval mode, elementwise activations and arithmetic, residual sums and products
(the union of both windows), cropping and padding along the sequence, and channel transposes.
At the first layer that needs every position (a dense layer over a flatten, global pooling) or
where the window has grown to the whole sequence, each mutant's window is pasted into the
reference and the rest of the graph runs in full. Mutants of several positions and sequences
run together in blocks of ``batch_size``.

The result equals naive ISM up to float32 rounding. :func:`fast_ism` returns None, with one
logged warning, for what it cannot run this way: a graph :mod:`torch.fx` cannot trace, extra
inputs, a layout other than ``(N, 4, L)`` or ``(N, L, 4)``, mixed precision, or an operation it
does not know reached while the window is still narrower than the sequence (attention, ...).
"""
from __future__ import annotations

import logging
import operator
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.fx
import torch.nn as nn
import torch.nn.functional as F

from ...engine import CPU_TENSOR_BYTES, run_batches
from ...layouts import InputLayout, probe

logger = logging.getLogger("kipoi_explain")


class _Unsupported(Exception):
    """The model cannot run windowed; the message says why."""


@dataclass
class _Span:
    """Where a node's output can differ from the reference, for each mutated input position.

    Attributes
    ----------
    axis : int
        Sequence axis of the node's ``(batch, ., .)`` output: 2 for ``(N, C, L)``, 1 for
        ``(N, L, C)``.
    length : int
        Size of that axis.
    width : int
        Positions in every mutant's window.
    start : numpy.ndarray
        First position of the window, indexed by the mutated input position.
    """

    axis: int
    length: int
    width: int
    start: np.ndarray


@dataclass
class _Step:
    """How one node runs for mutants: ``window`` (``compute(block)`` gives the window's values,
    its place given by ``span``) or ``full`` (the node's own call on whole tensors)."""

    kind: str
    span: _Span | None = None
    compute: Callable | None = None


def fast_ism(network, x, target, batch_size, progress, start: int = 0,
             end: int | None = None) -> np.ndarray | None:
    """ISM scores as :func:`~kipoi_explain.methods.ism.ism` computes them, for a PyTorch
    module, or None (with the reason logged) where it cannot run windowed.

    Parameters
    ----------
    network : TorchNetwork
    x : numpy.ndarray
        ``(N, L, 4)`` one-hot input.
    target : Target
    batch_size : int
        Model rows per block: a block holds as many mutants as take the memory of that many
        rows, and on a CPU no more than keep its largest tensor within
        :data:`~kipoi_explain.engine.CPU_TENSOR_BYTES` (yet ``batch_size`` at least).
    progress : bool
    start, end : int
        Window of mutated positions, already checked by the caller.
    """
    n, length = x.shape[:2]
    end = length if end is None else end
    try:
        plan = _Plan.build(network, length)
    except _Unsupported as reason:
        logger.warning("ism: model %r runs naive ISM, not fast ISM: %s", network.name, reason)
        return None

    block_size = batch_size * max(1, plan.row_size // plan.mutant_size)
    if network.device.type != "cuda":
        # float32 elements: fast ISM runs in float32.
        block_size = max(batch_size, min(block_size, CPU_TENSOR_BYTES // (4 * plan.mutant_size)))
    seq, pos, base = np.meshgrid(np.arange(n), np.arange(start, end), np.arange(4), indexing="ij")
    seq, pos, base = seq.ravel(), pos.ravel(), base.ravel()
    keep = x[seq, pos, base] != 1.0
    seq, pos, base = seq[keep], pos[keep], base[keep]
    # The substituted column of each mutant, in the model's base order and layout.
    columns = network.layout.to_model(np.eye(4, dtype=np.float32)[:, None, :])
    f_x = np.zeros(n, dtype=np.float32)
    # Sequences whose reference is held; a block runs on the sequences of its rows.
    held = {"lo": 0, "hi": 0, "ref": None}
    per_block = -(-block_size // (3 * (end - start)))

    def block(lo, hi):
        first, last = seq[lo], seq[hi - 1]
        if first < held["lo"] or last >= held["hi"]:
            held["lo"], held["hi"] = first, min(n, max(last + 1, first + per_block))
            held["ref"], out = plan.reference(network.to_tensor(x[held["lo"]:held["hi"]]))
            f_x[held["lo"]:held["hi"]] = target.apply(out.float().cpu().numpy())
        rows = torch.as_tensor(seq[lo:hi] - held["lo"], device=network.device)
        out = plan.mutants(held["ref"], rows, pos[lo:hi],
                           torch.as_tensor(columns[base[lo:hi]], device=network.device))
        # Reduced as naive ISM reduces its outputs: the same rounding of the target's sum.
        return target.apply(out.float().cpu().numpy())

    with torch.no_grad():
        f_mut = run_batches(block, len(seq), block_size, progress, "ism")
    scores = np.zeros(x.shape, dtype=np.float32)
    scores[seq, pos, base] = f_mut - f_x[seq]
    return scores


class _Plan:
    """A traced module and, per node, how mutants run through it."""

    def __init__(self, gm, steps: dict, consts: dict, device, sizes: tuple[int, int]):
        self.gm, self.steps, self.consts, self.device = gm, steps, consts, device
        # The largest tensor's elements per model row and per mutant.
        self.row_size, self.mutant_size = sizes
        self.nodes = list(gm.graph.nodes)
        self.input = self.nodes[0]
        self.windowed = [node for node, step in steps.items() if step.kind == "window"]
        order = {node: i for i, node in enumerate(self.nodes)}
        # After its last user runs, a node's value is dropped.
        self.last_use = {node: max((order[user] for user in node.users), default=order[node])
                         for node in self.nodes}

    @classmethod
    def build(cls, network, length: int) -> "_Plan":

        if network.extra_inputs:
            raise _Unsupported("it takes extra inputs")
        if not isinstance(network.layout, InputLayout) or network.layout.dummy_axis is not None:
            raise _Unsupported("its input is not (N, 4, L) or (N, L, 4) one-hot DNA")
        if network.precision != "float32":
            raise _Unsupported(f"precision={network.precision!r} (fast ISM runs in float32)")
        try:
            gm = torch.fx.symbolic_trace(network.module)
        except Exception as error:  # noqa: BLE001 - any tracing failure means: run naive ISM
            message = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise _Unsupported(f"torch.fx cannot trace it ({type(error).__name__}: "
                               f"{message[:200]})") from None
        placeholders = [node for node in gm.graph.nodes if node.op == "placeholder"]
        if any(not node.args for node in placeholders[1:]):
            raise _Unsupported("its forward takes more than one input")
        example = network.to_tensor(probe(length, 2))
        with torch.no_grad():
            values = _evaluate(gm, example)
            expected = network.run(example)
        output = next(node for node in gm.graph.nodes if node.op == "output")
        got = values[output.args[0]] if isinstance(output.args[0], torch.fx.Node) else None
        if not isinstance(got, torch.Tensor) or got.shape != expected.shape or \
                not torch.allclose(got.float(), expected, rtol=1e-5, atol=1e-6):
            raise _Unsupported("the traced graph does not reproduce its output")
        axis = 2 if network.layout.channels_first else 1
        steps, consts = _plan_steps(gm, values, axis, length)
        return cls(gm, steps, consts, network.device, _largest_sizes(values, steps))

    # ---- reference pass ------------------------------------------------------------------
    def reference(self, inputs):
        """Run ``inputs`` (model layout) through the graph; return the outputs of the
        windowed nodes (those mutants read from), a :class:`_Reference`, and the model's
        output."""
        keep = set(self.windowed)
        values = {self.input: inputs}
        for i, node in enumerate(self.nodes[1:], 1):
            if node.op == "output":
                return _Reference(self, {n: values[n] for n in keep}), \
                    _lookup(node.args[0], values, self.consts)
            if node in self.steps:
                values[node] = _call(self.gm, node, _lookup(node.args, values, self.consts),
                                     _lookup(node.kwargs, values, self.consts))
            for arg in node.all_input_nodes:
                if self.last_use[arg] == i and arg not in keep:
                    values.pop(arg, None)
        raise AssertionError("graph without output")

    # ---- mutants ---------------------------------------------------------------------------
    def mutants(self, ref: "_Reference", rows, pos: np.ndarray, columns):
        """The model's output for mutants of the reference sequences ``rows`` (indices into
        ``ref``'s batch) with ``columns`` (``(M, 4, 1)`` or ``(M, 1, 4)``) at ``pos``."""
        block = _Block(self, ref, rows, pos)
        block.windows[self.input] = columns
        for i, node in enumerate(self.nodes[1:], 1):
            if node.op == "output":
                return block.resolve(node.args[0])
            step = self.steps.get(node)
            if step is not None and step.kind == "window":
                block.windows[node] = step.compute(block)
            elif step is not None:
                resolve = block.shape_only if _is_shape_query(node) else block.resolve
                block.values[node] = _call(self.gm, node, _lookup(node.args, {}, None, resolve),
                                           _lookup(node.kwargs, {}, None, resolve))
            for arg in node.all_input_nodes:
                if self.last_use[arg] == i:
                    block.drop(arg)
        raise AssertionError("graph without output")


class _Reference:
    """The reference outputs of the windowed nodes for a chunk of sequences, and padded
    copies of them (channels first) that mutants' reads slide over."""

    def __init__(self, plan: _Plan, values: dict):
        self.plan, self.values, self.padded_copies = plan, values, {}

    def padded(self, node, pad: int, fill: float):
        """``node``'s reference ``(n, C, L + 2 pad)``, ``fill`` beyond the sequence's ends."""

        key = (node, pad, fill)
        if key not in self.padded_copies:
            value = self.values[node]
            if self.plan.steps[node].span.axis == 1:
                value = value.transpose(1, 2)
            self.padded_copies[key] = F.pad(value, (pad, pad), value=fill)
        return self.padded_copies[key]


class _Block:
    """One block of mutants on their way through the graph."""

    def __init__(self, plan: _Plan, ref: _Reference, rows, pos: np.ndarray):
        self.plan, self.ref, self.rows, self.pos = plan, ref, rows, pos
        self.windows, self.values, self.pasted, self.positions = {}, {}, {}, {}

    def span(self, node) -> _Span:
        return self.plan.steps[node].span

    def at(self, array: np.ndarray):
        """``array`` (indexed by mutated input position) for each mutant, a tensor ``(M,)``."""

        if id(array) not in self.positions:
            self.positions[id(array)] = torch.as_tensor(array[self.pos],
                                                        device=self.rows.device)
        return self.positions[id(array)]

    def start(self, node):
        """First window position of each mutant at ``node``, a tensor ``(M,)``."""
        return self.at(self.span(node).start)

    def read(self, node, first: np.ndarray, width: int, fill: float):
        """Each mutant's values of ``node`` at positions ``first + 0 .. width - 1`` (``first``
        indexed by mutated input position): its window where that covers them, the reference
        elsewhere, ``fill`` outside the sequence."""

        span = self.span(node)
        pad = max(0, -int(first.min()), int(first.max()) + width - span.length)
        ref = self.ref.padded(node, pad, fill)
        where = self.at(first)
        # Windows of the padded reference as a view: one gather of M rows of (C, width).
        out = ref.unfold(2, width, 1)[self.rows, :, where + pad]
        win = self.windows[node]
        if span.axis == 1:
            win = win.transpose(1, 2)
        if (first <= span.start).all() and (span.start + span.width <= first + width).all():
            # Every window lies inside what is read: written over it in place.
            offset = self.start(node) - where
            index = offset[:, None] + torch.arange(span.width, device=where.device)
            out.scatter_(2, index[:, None, :].expand(-1, win.shape[1], -1), win)
        else:
            offset = where[:, None] + torch.arange(width, device=where.device) - \
                self.start(node)[:, None]
            mutant = win.gather(2, offset.clamp(0, span.width - 1)[:, None, :].expand(
                -1, win.shape[1], -1))
            out = torch.where(((offset >= 0) & (offset < span.width))[:, None, :], mutant, out)
        return out.transpose(1, 2) if span.axis == 1 else out

    def paste(self, node):
        """Each mutant's whole output of a windowed ``node``: its window in the reference."""

        if node not in self.pasted:
            span = self.span(node)
            out = self.ref.values[node].index_select(0, self.rows)
            view, win = out, self.windows[node]
            if span.axis == 1:
                view, win = out.transpose(1, 2), win.transpose(1, 2)
            index = self.start(node)[:, None] + torch.arange(span.width, device=out.device)
            view.scatter_(2, index[:, None, :].expand(-1, view.shape[1], -1), win)
            self.pasted[node] = out
        return self.pasted[node]

    def resolve(self, node):
        """A node's value as a whole tensor (per mutant, or the constant)."""
        if node in self.plan.consts:
            return self.plan.consts[node]
        if node in self.windows:
            return self.paste(node)
        return self.values[node]

    def shape_only(self, node):
        """Like :meth:`resolve`, but a windowed node becomes a stand-in of its whole shape,
        dtype and device holding no data: enough for ``x.size(0)``, ``x.shape``."""

        if node not in self.windows:
            return self.resolve(node)
        win = self.windows[node]
        shape = (win.shape[0], *self.ref.values[node].shape[1:])
        return torch.empty_strided(shape, (0,) * len(shape), dtype=win.dtype, device=win.device)

    def window_or_const(self, node):
        return self.plan.consts[node] if node in self.plan.consts else self.windows[node]

    def drop(self, node):
        for store in (self.windows, self.values, self.pasted):
            store.pop(node, None)


def _largest_sizes(values: dict, steps: dict) -> tuple[int, int]:
    """Elements of the largest tensor of a model row and of a mutant, which carries windows
    until a layer needs every position (a mutant's is about 1/50 of a row's on Basset's
    architecture, all of it where a window soon covers the sequence)."""

    row = mutant = 1
    for node, step in steps.items():
        value = values[node]
        if isinstance(value, torch.Tensor) and value.ndim > 1:
            size = value[0].numel()
            row = max(row, size)
            mutant = max(mutant, size * step.span.width // step.span.length
                         if step.kind == "window" else size)
    return row, mutant


# ---- tracing helpers ---------------------------------------------------------------------

def _lookup(arg, values: dict, consts: dict | None, resolve: Callable | None = None):
    """``arg`` (nested tuples, lists, dicts) with each node replaced by its value."""

    def value(node):
        if resolve is not None:
            return resolve(node)
        return consts[node] if node in consts else values[node]

    return torch.fx.node.map_arg(arg, value)


def _call(gm, node, args, kwargs):
    if node.op == "call_module":
        return gm.get_submodule(node.target)(*args, **kwargs)
    if node.op == "call_function":
        return node.target(*args, **kwargs)
    if node.op == "call_method":
        return getattr(args[0], node.target)(*args[1:], **kwargs)
    if node.op == "get_attr":
        value = gm
        for name in node.target.split("."):
            value = getattr(value, name)
        return value
    raise AssertionError(f"unexpected node {node.op}")


def _evaluate(gm, inputs) -> dict:
    """Every node's value for ``inputs``; later placeholders take their defaults."""
    values = {}
    placeholders = 0
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            values[node] = inputs if placeholders == 0 else node.args[0]
            placeholders += 1
        elif node.op != "output":
            values[node] = _call(gm, node, _lookup(node.args, values, {}),
                                 _lookup(node.kwargs, values, {}))
    return values


def _is_shape_query(node) -> bool:
    return (node.op == "call_method" and node.target in ("size", "dim")) or \
        (node.op == "call_function" and node.target is getattr and
         node.args[1] in ("shape", "ndim", "dtype", "device"))


def _describe(gm, node) -> str:
    if node.op == "call_module":
        return f"layer {node.target!r} ({type(gm.get_submodule(node.target)).__name__})"
    if node.op == "call_method":
        return f"node {node.name!r} (.{node.target}())"
    return f"node {node.name!r} ({getattr(node.target, '__name__', node.target)})"


# ---- planning ------------------------------------------------------------------------------

def _plan_steps(gm, values: dict, axis: int, length: int):
    """Decide for every node how mutants run through it, from the values of a probe run.

    Returns ``(steps, consts)``: a :class:`_Step` for each node that depends on the input,
    and the values of those that do not.
    """

    nodes = list(gm.graph.nodes)
    steps = {nodes[0]: _Step("window", _Span(axis, length, 1, np.arange(length)))}
    consts = {}
    windowed_work = False
    for node in nodes[1:]:
        if node.op == "output":
            if not isinstance(node.args[0], torch.fx.Node) or node.args[0] not in steps:
                raise _Unsupported("its output is not one tensor computed from the input")
            break
        inputs = [arg for arg in node.all_input_nodes if arg in steps]
        if node.op == "placeholder" or not inputs:
            consts[node] = values[node]
            continue
        if any(steps[arg].kind == "full" for arg in inputs) or _is_shape_query(node):
            steps[node] = _Step("full")
            continue
        rule = _rule(gm, node, values, steps, inputs)
        if rule is None:
            if not _needs_every_position(gm, node, values, steps, inputs):
                span = steps[inputs[0]].span
                raise _Unsupported(
                    f"{_describe(gm, node)} is not an operation fast ISM can restrict to a "
                    f"window, and a mutation reaches only {span.width} of {span.length} "
                    "positions there")
            steps[node] = _Step("full")
            continue
        span, compute, sliding = rule
        out = values[node]
        if not isinstance(out, torch.Tensor) or out.ndim != 3 or not out.is_floating_point() or \
                out.shape[span.axis] != span.length:
            raise _Unsupported(f"{_describe(gm, node)} gives an unexpected output")
        if span.width >= span.length:
            steps[node] = _Step("full")
            continue
        windowed_work |= sliding
        steps[node] = _Step("window", span, compute)
    if not windowed_work:
        raise _Unsupported("no convolution or pooling runs on a window before a layer needs "
                           "every position: nothing to save")
    return steps, consts


def _rule(gm, node, values, steps, inputs):
    """How a node with windowed inputs runs on windows: ``(span, compute, sliding)``, or None
    for an operation that is not position-local."""
    spans = [steps[arg].span for arg in inputs]
    if any(span.axis != spans[0].axis or span.length != spans[0].length for span in spans):
        return None
    span = spans[0]
    target = gm.get_submodule(node.target) if node.op == "call_module" else node.target
    sliding = _sliding(node, target, values, span, inputs)
    if sliding is not None:
        return sliding
    shifted = _shift(node, target, values, span, inputs)
    if shifted is not None:
        return shifted
    if len(inputs) == 1 and _local(node, target, values, span, inputs):
        new_axis = _swapped_axis(node, target, span.axis)
        if new_axis is not None:
            out = _Span(new_axis, span.length, span.width, span.start)
        else:
            out = span
        return out, _pointwise(node), False
    if len(inputs) > 1 and _aligned(node, target, values, span, inputs):
        first = np.min([s.start for s in spans], axis=0)
        width = int(np.max(np.max([s.start + s.width for s in spans], axis=0) - first))
        out = _Span(span.axis, span.length, width,
                    np.clip(first, 0, max(span.length - width, 0)))
        # An input whose window is the output's is taken as it is, the others read.
        direct = {arg for arg, s in zip(inputs, spans)
                  if s.width == width and np.array_equal(s.start, out.start)}
        return out, _union(node, out, direct), False
    return None


def _pointwise(node):
    def compute(block):
        return _call(block.plan.gm, node, _lookup(node.args, {}, None, block.window_or_const),
                     _lookup(node.kwargs, {}, None, block.window_or_const))
    return compute


def _union(node, span: _Span, direct: set):
    def compute(block):
        def value(arg):
            if arg in block.plan.consts:
                return block.plan.consts[arg]
            if arg in direct:
                return block.windows[arg]
            return block.read(arg, span.start, span.width, 0.0)

        return _call(block.plan.gm, node, _lookup(node.args, {}, None, value),
                     _lookup(node.kwargs, {}, None, value))
    return compute


def _bind(node, names: tuple, defaults: dict, values: dict) -> dict:
    """A function call's arguments by name (nodes replaced by their probe values, except the
    first argument, kept as its node)."""

    bound = dict(defaults)
    bound.update(zip(names, node.args))
    bound.update(node.kwargs)
    return {name: value if name == names[0] or not isinstance(value, torch.fx.Node)
            else values[value] for name, value in bound.items()}


def _single(value):
    return value[0] if isinstance(value, (tuple, list)) else value


def _sliding(node, target, values, span, inputs):
    """Convolution and pooling along the sequence: the output positions whose kernel reads the
    window, computed from the input positions they read."""

    conv_args = ("input", "weight", "bias", "stride", "padding", "dilation", "groups")
    pool_args = {F.max_pool1d: ("input", "kernel_size", "stride", "padding", "dilation",
                                "ceil_mode", "return_indices"),
                 torch.max_pool1d: ("input", "kernel_size", "stride", "padding", "dilation",
                                    "ceil_mode"),
                 F.avg_pool1d: ("input", "kernel_size", "stride", "padding", "ceil_mode",
                                "count_include_pad"),
                 torch.avg_pool1d: ("input", "kernel_size", "stride", "padding", "ceil_mode",
                                    "count_include_pad")}
    if isinstance(target, torch.nn.Conv1d):
        if target.padding_mode != "zeros":
            return None
        params = dict(weight=target.weight, bias=target.bias, stride=target.stride,
                      padding=target.padding, dilation=target.dilation, groups=target.groups)
        kind = "conv"
    elif node.op == "call_function" and target in (F.conv1d, torch.conv1d):
        params = _bind(node, conv_args, dict(bias=None, stride=1, padding=0, dilation=1,
                                             groups=1), values)
        kind = "conv"
    elif isinstance(target, torch.nn.MaxPool1d):
        params = dict(kernel_size=target.kernel_size, stride=target.stride,
                      padding=target.padding, dilation=target.dilation,
                      ceil_mode=target.ceil_mode, return_indices=target.return_indices)
        kind = "max"
    elif isinstance(target, torch.nn.AvgPool1d):
        params = dict(kernel_size=target.kernel_size, stride=target.stride,
                      padding=target.padding, ceil_mode=target.ceil_mode,
                      count_include_pad=target.count_include_pad)
        kind = "avg"
    elif node.op == "call_function" and target in pool_args:
        params = _bind(node, pool_args[target], dict(stride=None, padding=0, dilation=1,
                                                     ceil_mode=False, return_indices=False,
                                                     count_include_pad=True), values)
        kind = "max" if target in (F.max_pool1d, torch.max_pool1d) else "avg"
    else:
        return None
    source = inputs[0]
    if span.axis != 2 or len(inputs) != 1 or \
            node.op != "call_module" and node.args[0] is not source:
        return None
    # Windows run the layer's function, not the module: hooks on it would be skipped.
    if node.op == "call_module" and (target._forward_hooks or target._forward_pre_hooks):
        return None
    if kind == "conv":
        weight, bias = params["weight"], params["bias"]
        if not isinstance(weight, torch.Tensor):
            return None
        kernel = weight.shape[-1]
    else:
        kernel = _single(params["kernel_size"])
    stride = _single(params.get("stride") or kernel)
    dilation = _single(params.get("dilation", 1))
    padding = params.get("padding", 0)
    reach = dilation * (kernel - 1)
    if padding == "same":
        left = reach // 2
    elif padding == "valid":
        left = 0
    else:
        left = _single(padding)
    if kind == "max" and params.get("return_indices"):
        return None
    if kind == "avg" and (params["ceil_mode"] or left and not params["count_include_pad"]):
        return None
    if kind == "conv":
        groups = params["groups"]

        def op(window):
            return F.conv1d(window, weight, bias, stride, 0, dilation, groups)
        fill = 0.0
    elif kind == "max":
        def op(window):
            return F.max_pool1d(window, kernel, stride, 0, dilation)
        fill = float("-inf")
    else:
        def op(window):
            return F.avg_pool1d(window, kernel, stride, 0)
        fill = 0.0
    length = values[node].shape[2]
    # Output o reads inputs o * stride - left + (0 .. reach).
    width = (span.width - 1 + reach) // stride + 1
    first = -((reach - left - span.start) // stride)
    first = np.clip(first, 0, max(length - width, 0))
    needed = (width - 1) * stride + reach + 1
    reads = first * stride - left

    def compute(block):
        return op(block.read(source, reads, needed, fill))

    return _Span(2, length, width, first), compute, True


def _shift(node, target, values, span, inputs):
    """Cropping (slicing) or constant padding along the sequence: the window moves."""

    fill = 0.0
    if node.op == "call_function" and target is operator.getitem:
        index = node.args[1] if isinstance(node.args[1], tuple) else (node.args[1],)
        if sum(item is Ellipsis for item in index) > 1:
            return None
        if Ellipsis in index:
            at = index.index(Ellipsis)
            index = index[:at] + (slice(None),) * (4 - len(index)) + index[at + 1:]
        index = index + (slice(None),) * (3 - len(index))
        if len(index) != 3 or not all(isinstance(item, slice) for item in index):
            return None
        if any(item != slice(None) for i, item in enumerate(index) if i != span.axis):
            return None
        crop = index[span.axis]
        if not all(v is None or isinstance(v, int) for v in (crop.start, crop.stop, crop.step)) \
                or crop.step not in (None, 1):
            return None
        offset = crop.indices(span.length)[0]
    elif node.op == "call_function" and target is F.pad or \
            isinstance(target, (torch.nn.ConstantPad1d, torch.nn.ZeroPad1d)):
        if node.op == "call_module":
            pad, fill = target.padding, float(target.value)
        else:
            bound = _bind(node, ("input", "pad", "mode", "value"),
                          dict(mode="constant", value=None), values)
            pad, fill = bound["pad"], float(bound["value"] or 0.0)
            if bound["mode"] != "constant":
                return None
        if span.axis != 2 or len(pad) != 2 or not all(isinstance(p, int) for p in pad):
            return None
        offset = -pad[0]
    else:
        return None
    source = inputs[0]
    if len(inputs) != 1 or node.args[0] is not source:
        return None
    length = values[node].shape[span.axis]
    width = min(span.width, length)
    first = np.clip(span.start - offset, 0, max(length - width, 0))
    reads = first + offset

    def compute(block):
        return block.read(source, reads, width, fill)

    return _Span(span.axis, length, width, first), compute, False


#: Elementwise functions and methods (extra arguments are numbers or per-channel constants).
_ELEMENTWISE_NAMES = {
    "relu", "relu_", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "mish",
    "sigmoid", "tanh", "softplus", "softsign", "hardtanh", "hardsigmoid", "hardswish",
    "logsigmoid", "tanhshrink", "softshrink", "hardshrink", "threshold", "exp", "log", "log1p",
    "abs", "sqrt", "rsqrt", "square", "neg", "clamp", "clip", "float", "contiguous", "clone",
    "detach", "add", "sub", "mul", "div", "true_divide", "maximum", "minimum", "pow",
}
_OPERATORS = {operator.add, operator.sub, operator.mul, operator.truediv, operator.neg,
              operator.pow}
#: Of those, the ones that combine two tensors position by position.
_BINARY_NAMES = {"add", "sub", "mul", "div", "true_divide", "maximum", "minimum", "pow"}


def _elementwise_modules():

    return (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU,
            nn.Mish, nn.Sigmoid, nn.Tanh, nn.Softplus, nn.Softsign, nn.Softshrink,
            nn.Hardshrink, nn.Hardtanh, nn.Hardsigmoid, nn.Hardswish, nn.LogSigmoid,
            nn.Tanhshrink, nn.Threshold, nn.Identity)


def _function_name(node, target) -> str | None:
    """The name of an elementwise torch function or tensor method a node calls, if it is one."""

    if node.op == "call_method":
        return node.target if node.target in _ELEMENTWISE_NAMES else None
    if node.op != "call_function":
        return None
    if target in _OPERATORS:
        return target.__name__
    name = getattr(target, "__name__", None)
    if name in _ELEMENTWISE_NAMES and (getattr(torch, name, None) is target or
                                       getattr(F, name, None) is target):
        return name
    if target is F.dropout and node.kwargs.get("training", node.args[2] if len(node.args) > 2
                                               else True) is False:
        return "dropout"
    return None


def _position_free(value, ndim: int, axis: int) -> bool:
    """Whether a constant operand broadcasts the same way at every position (and mutant)."""

    if not isinstance(value, torch.Tensor):
        return True
    if value.ndim > ndim:
        return False
    shape = (1,) * (ndim - value.ndim) + tuple(value.shape)
    return shape[0] == 1 and shape[axis] == 1


def _constants_position_free(node, values, inputs, axis: int) -> bool:
    return all(_position_free(values[arg], 3, axis) for arg in node.all_input_nodes
               if arg not in inputs)


def _local(node, target, values, span, inputs) -> bool:
    """Whether a node of one windowed input computes each position from that position alone."""

    if isinstance(target, nn.Module):
        channel = span.axis == 2            # the channel axis is 1: per-channel parameters
        if isinstance(target, _elementwise_modules()):
            return True
        if isinstance(target, (nn.Dropout, nn.Dropout1d, nn.AlphaDropout)):
            return not target.training
        if isinstance(target, nn.PReLU):
            return channel or target.num_parameters == 1
        if isinstance(target, nn.BatchNorm1d):
            return channel and not target.training and target.running_mean is not None
        if isinstance(target, nn.Linear):
            return not channel
        if isinstance(target, nn.LayerNorm):
            return not channel and len(target.normalized_shape) == 1
        if isinstance(target, (nn.Softmax, nn.LogSoftmax)):
            return target.dim is not None and target.dim % 3 not in (0, span.axis)
        return False
    if _swapped_axis(node, target, span.axis) is not None:
        return True
    if _function_name(node, target) is None:
        return False
    return _constants_position_free(node, values, inputs, span.axis) and \
        values[node].shape == values[inputs[0]].shape


def _aligned(node, target, values, span, inputs) -> bool:
    """Whether a node combines several windowed inputs position by position."""

    if node.op == "call_function" and target is torch.cat:
        dim = node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else 0)
        return isinstance(dim, int) and dim % 3 not in (0, span.axis)
    name = _function_name(node, target)
    if name not in _BINARY_NAMES and target not in _OPERATORS:
        return False
    return _constants_position_free(node, values, inputs, span.axis)


def _swapped_axis(node, target, axis: int) -> int | None:
    """The new sequence axis after a transpose of the two non-batch axes, else None."""

    if node.op == "call_method" and node.target in ("transpose", "permute") or \
            node.op == "call_function" and target in (torch.transpose, torch.permute):
        dims = node.args[1:]
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        if not all(isinstance(d, int) for d in dims):
            return None
        dims = tuple(d % 3 for d in dims)
        is_transpose = node.target == "transpose" or target is torch.transpose
        if (is_transpose and sorted(dims) == [1, 2]) or (not is_transpose and dims == (0, 2, 1)):
            return 3 - axis
    return None


def _needs_every_position(gm, node, values, steps, inputs) -> bool:
    """Whether a node is a known operation over the whole sequence (flatten, dense layer,
    global pooling, reshape): mutants paste their windows into the reference there."""

    if node.op == "call_module":
        return isinstance(gm.get_submodule(node.target),
                          (nn.Flatten, nn.Linear, nn.LayerNorm, nn.AdaptiveAvgPool1d,
                           nn.AdaptiveMaxPool1d, nn.Unflatten))
    names = {"flatten", "view", "reshape", "mean", "sum", "max", "min", "amax", "amin",
             "logsumexp", "squeeze", "unsqueeze"}
    if node.op == "call_method":
        return node.target in names
    functions = {F.adaptive_avg_pool1d, F.adaptive_max_pool1d, F.linear, F.layer_norm}
    return node.target in functions or (getattr(node.target, "__name__", None) in names and
                                        getattr(torch, node.target.__name__, None) is node.target)
