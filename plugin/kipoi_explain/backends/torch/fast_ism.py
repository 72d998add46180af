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
Inputs ``(N, 4, L)`` and ``(N, L, 4)``, and the Kipoi zoo's ``(N, 4, L, 1)`` and
``(N, 4, 1, L)`` whose 2-D layers have kernels of one position along the extra axis; a
sequence split into blocks ``(N, C, L / p, p)`` and reduced over them (Enformer's attention
pooling) stays windowed too.

At the first layer that needs every position (a dense layer over a flatten, global pooling,
attention, any operation fast ISM does not know) or where the window has grown to the whole
sequence, each mutant's window is pasted into the reference and the rest of the graph runs in
full: always exact, and the windowed layers before it still save their work. Mutants of several
positions and sequences run together in blocks of ``batch_size``.

Tracing runs the probe sequences alongside (:class:`_Tracer`), so that code branching on sizes
traces as it runs for the length explained, and a submodule that still cannot be traced
(control flow on values, ...) becomes one call, run in full, instead of failing the trace.

The result equals naive ISM up to float32 rounding. :func:`fast_ism` returns None, with one
logged warning, for what it cannot run this way: a model whose own forward cannot be traced,
extra inputs, another layout, mixed precision, or a graph where no convolution or pooling runs
on a window before the first layer that needs every position (nothing to save).
"""
from __future__ import annotations

import inspect
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
from ...errors import InputError
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
    inner : int or None
        In a 4-D output ``(batch, channels, ., .)``, the other spatial axis: the extra axis of
        size 1 of a zoo layout ``(N, 4, L, 1)`` or ``(N, 4, 1, L)``, or the positions of each
        block that a pooling reshape ``(N, C, L / p, p)`` made. None in a 3-D output.
    block : int
        Size of the ``inner`` axis (1 without one).
    """

    axis: int
    length: int
    width: int
    start: np.ndarray
    inner: int | None = None
    block: int = 1

    @property
    def ndim(self) -> int:
        return 3 if self.inner is None else 4

    def moved(self, **changes) -> "_Span":
        """This span with some fields replaced."""
        fields = dict(axis=self.axis, length=self.length, width=self.width, start=self.start,
                      inner=self.inner, block=self.block)
        fields.update(changes)
        return _Span(**fields)


def _rows(value, span: _Span):
    """``value`` (a node's output or window) as ``(batch, K, positions)``: channels first, and
    a 4-D output's ``inner`` axis folded into the channels."""
    if span.inner is None:
        return value.transpose(1, 2) if span.axis == 1 else value
    if span.axis == 2:
        value = value.transpose(2, 3)
    return value.reshape(value.shape[0], -1, value.shape[-1])


def _unrows(value, span: _Span):
    """The inverse of :func:`_rows`."""
    if span.inner is None:
        return value.transpose(1, 2) if span.axis == 1 else value
    value = value.reshape(value.shape[0], -1, span.block, value.shape[-1])
    return value.transpose(2, 3) if span.axis == 2 else value


@dataclass
class _Step:
    """How one node runs for mutants: ``window`` (``compute(block)`` gives the window's values,
    its place given by ``span``), ``full`` (the node's own call on whole tensors) or ``shape``
    (a size, or a number computed from sizes: the node's own call on stand-ins)."""

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
            f_x[held["lo"]:held["hi"]] = target.apply(
                network.library_layout(out).float().cpu().numpy())
        rows = torch.as_tensor(seq[lo:hi] - held["lo"], device=network.device)
        out = plan.mutants(held["ref"], rows, pos[lo:hi],
                           torch.as_tensor(columns[base[lo:hi]], device=network.device))
        # Reduced as naive ISM reduces its outputs: the same rounding of the target's sum.
        return target.apply(network.library_layout(out).float().cpu().numpy())

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
        layout = network.layout
        if not isinstance(layout, InputLayout) or \
                layout.dummy_axis is not None and (layout.dummy_axis == 0 or
                                                   not layout.channels_first):
            raise _Unsupported("its input is not (N, 4, L), (N, L, 4), (N, 4, L, 1) or "
                               "(N, 4, 1, L) one-hot DNA")
        if network.precision != "float32":
            raise _Unsupported(f"precision={network.precision!r} (fast ISM runs in float32)")
        example = network.to_tensor(probe(length, 2))
        # A copy: what the model does in place to its input stays out of the checks below.
        gm = _trace(network.module, example.clone())
        placeholders = [node for node in gm.graph.nodes if node.op == "placeholder"]
        if any(not node.args for node in placeholders[1:]):
            raise _Unsupported("its forward takes more than one input")
        with torch.no_grad():
            values = _evaluate(gm, example)
            expected = network.run(example)
        output = next(node for node in gm.graph.nodes if node.op == "output")
        try:
            # Several outputs (a tuple, a dict of heads) are laid out as the network lays out
            # its own: tasks last, flattened one after the other.
            got = network.library_layout(_lookup(output.args[0], values, {}))
        except (InputError, KeyError):
            got = None
        if not isinstance(got, torch.Tensor) or got.shape != expected.shape or \
                not torch.allclose(got.float(), expected, rtol=1e-5, atol=1e-6):
            raise _Unsupported("the traced graph does not reproduce its output")
        if layout.dummy_axis is None:
            span = _Span(2 if layout.channels_first else 1, length, 1, np.arange(length))
        else:
            # (N, 4, 1, L) or (N, 4, L, 1): the sequence on the axis that is not the dummy.
            inner = layout.dummy_axis + 1
            span = _Span(5 - inner, length, 1, np.arange(length), inner)
        steps, consts = _plan_steps(gm, values, span)
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
                return _lookup(node.args[0], {}, None, block.resolve)
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
            value = _rows(self.values[node], self.plan.steps[node].span)
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
        win = _rows(self.windows[node], span)
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
        return _unrows(out, span)

    def paste(self, node):
        """Each mutant's whole output of a windowed ``node``: its window in the reference."""

        if node not in self.pasted:
            span = self.span(node)
            # index_select copies: the reference itself is left as it is.
            view = _rows(self.ref.values[node].index_select(0, self.rows), span)
            win = _rows(self.windows[node], span)
            index = self.start(node)[:, None] + torch.arange(span.width, device=view.device)
            view.scatter_(2, index[:, None, :].expand(-1, view.shape[1], -1), win)
            self.pasted[node] = _unrows(view, span)
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
        """A windowed node's window, or a constant's or size's value."""
        if node in self.plan.consts:
            return self.plan.consts[node]
        return self.windows[node] if node in self.windows else self.values[node]

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

def _trace(module, example):
    """``module``'s graph, traced by :class:`_Tracer` on ``example``; _Unsupported if even
    that fails."""
    tracer = _Tracer(example)
    # The module is called with its input alone: its other parameters keep their defaults
    # (bpnet-lite's ``X_ctl=None``), as constants of the graph rather than inputs.
    parameters = list(inspect.signature(module.forward).parameters.values())[1:]
    defaults = {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty
                and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    try:
        with torch.no_grad():
            graph = tracer.trace(module, concrete_args=defaults or None)
    except Exception as error:  # noqa: BLE001 - any tracing failure means: run naive ISM
        message = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise _Unsupported(f"torch.fx cannot trace it ({type(error).__name__}: "
                           f"{message[:200]})") from None
    return torch.fx.GraphModule(module, graph)


class _Tracer(torch.fx.Tracer):
    """:mod:`torch.fx` tracing that runs ``example`` alongside and knows every value.

    Sizes other than the batch size are then numbers, not proxies, so that code branching on
    them (``if x.shape[-1] % 2``, ``b, c, n = x.shape`` and ``n % pool``) traces as it runs for
    the length fast ISM explains, which is the only one the graph will see. A submodule that
    still cannot be traced (``**kwargs``, control flow on values, ...) becomes one call of the
    module in the graph instead of failing the whole trace: fast ISM then cuts there.
    """

    def __init__(self, example):
        # einops' functions cannot be traced into: each call becomes one node.
        super().__init__(autowrap_functions=_einops_functions())
        self.example, self.values, self.batched, self.opaque = example, {}, set(), set()
        # While a node's value is computed: modules are called, not traced.
        self.evaluating = False
        self.parameter_proxies = {}

    def is_leaf_module(self, m, module_qualified_name: str) -> bool:
        return id(m) in self.opaque or super().is_leaf_module(m, module_qualified_name)

    def getattr(self, attr, attr_val, parameter_proxy_cache):
        # A parameter read while a value is computed is the parameter, not a proxy of it.
        if self.evaluating:
            return attr_val
        self.parameter_proxies = parameter_proxy_cache
        return super().getattr(attr, attr_val, parameter_proxy_cache)

    def call_module(self, m, forward, args, kwargs):
        if self.evaluating:
            return forward(*args, **kwargs)
        if self.is_leaf_module(m, self.path_of_module(m)):
            return super().call_module(m, forward, args, kwargs)
        last = next(reversed(self.graph.nodes))
        stack, calls = self.module_stack.copy(), dict(self.num_calls)
        try:
            return super().call_module(m, forward, args, kwargs)
        except Exception:  # noqa: BLE001 - not traceable inside: called as a whole instead
            erased = set()
            for node in reversed(list(self.graph.nodes)):
                if node is last:
                    break
                self.graph.erase_node(node)
                erased.add(node)
            # Parameters read in the attempt are read anew when next used.
            for name, proxy in list(self.parameter_proxies.items()):
                if proxy.node in erased:
                    del self.parameter_proxies[name]
            self.module_stack, self.num_calls = stack, calls
            self.opaque.add(id(m))
            return super().call_module(m, forward, args, kwargs)

    def create_node(self, kind, target, args, kwargs, name=None, type_expr=None):
        node = super().create_node(kind, target, args, kwargs, name, type_expr)
        if kind == "placeholder":
            first = not self.values
            self.values[node] = self.example if first else (args[0] if args else None)
            if first:
                self.batched.add(node)
        elif kind != "output" and all(arg in self.values for arg in node.all_input_nodes):
            self.evaluating = True
            try:
                self.values[node] = _call(self.root, node, _lookup(args, self.values, {}),
                                          _lookup(kwargs, self.values, {}))
            except Exception:  # noqa: BLE001 - a value not known: its sizes stay proxies
                return node
            finally:
                self.evaluating = False
            if any(arg in self.batched for arg in node.all_input_nodes):
                self.batched.add(node)
        return node

    def proxy(self, node):
        return _SizedProxy(node, self)

    def create_proxy(self, kind, target, args, kwargs, name=None, type_expr=None,
                     proxy_factory_fn=None):
        if kind == "call_method" and target in ("size", "dim") and args and \
                isinstance(args[0], _SizedProxy):
            sizes = args[0].fixed_sizes()
            if sizes is not None:
                dim = args[1] if len(args) > 1 else kwargs.get("dim")
                if target == "dim":
                    return len(sizes)
                if dim is None:
                    return args[0].known_sizes()
                if isinstance(dim, int) and sizes[dim] is not None:
                    return sizes[dim]
        return super().create_proxy(kind, target, args, kwargs, name, type_expr,
                                    proxy_factory_fn)


def _einops_functions() -> tuple:
    try:
        import einops
    except ImportError:
        return ()
    return (einops.rearrange,)


def _einops_kind(node) -> str | None:
    """For a call of ``einops.rearrange`` with a pattern fast ISM knows: ``reshape`` where
    the pattern only groups or ungroups axes in order (``b d (n p) -> b d n p``), ``swap``
    where it swaps the last two of three axes (``b n d -> b d n``); else None."""

    if node.op != "call_function" or getattr(node.target, "__module__", "").split(".")[0] \
            != "einops" or node.target.__name__ != "rearrange" or len(node.args) < 2 or \
            not isinstance(node.args[1], str):
        return None
    left, _, right = node.args[1].partition("->")
    plain = [side.replace("(", " ").replace(")", " ").split() for side in (left, right)]
    if plain[0] == plain[1]:
        return "reshape"
    if len(plain[0]) == 3 and left.split() == plain[0] and \
            right.split() == [plain[0][0], plain[0][2], plain[0][1]]:
        return "swap"
    return None


class _SizedProxy(torch.fx.Proxy):
    """A proxy whose sizes (but the batch size of what depends on the input) are numbers."""

    def fixed_sizes(self):
        """The sizes as numbers, None for the batch size of what depends on the input (it
        varies between calls); None if the value is unknown."""
        value = self.tracer.values.get(self.node)
        if not isinstance(value, torch.Tensor):
            return None
        sizes = tuple(value.shape)
        if self.node in self.tracer.batched and sizes:
            sizes = (None, *sizes[1:])
        return sizes

    def known_sizes(self):
        """The sizes, the batch size as a proxy."""
        sizes = self.fixed_sizes()
        if sizes is None or not sizes or sizes[0] is not None:
            return sizes
        return (self.tracer.create_proxy("call_method", "size", (self, 0), {}), *sizes[1:])

    def __getattr__(self, name):
        if name in ("shape", "ndim", "dtype", "device") and self.fixed_sizes() is not None:
            if name == "shape":
                return self.known_sizes()
            if name == "ndim":
                return len(self.fixed_sizes())
            return getattr(self.tracer.values[self.node], name)
        return super().__getattr__(name)


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

def _plan_steps(gm, values: dict, span: _Span):
    """Decide for every node how mutants run through it, from the values of a probe run.

    A node that cannot run on windows runs in full on the mutants' pasted windows: a known
    operation over every position (a flatten, a dense layer), but also any operation fast ISM
    does not know (attention, an einsum, a module it could not trace into), wherever it comes:
    pasting is always exact, and the windowed layers before it still save their work.

    Returns ``(steps, consts)``: a :class:`_Step` for each node that depends on the input,
    and the values of those that do not.
    """

    nodes = list(gm.graph.nodes)
    steps = {nodes[0]: _Step("window", span)}
    consts = {}
    windowed_work, first_cut = False, None
    for node in nodes[1:]:
        if node.op == "output":
            # One tensor, or several (a tuple, a dict of heads), at least one computed from
            # the input.
            outputs = []
            torch.fx.node.map_arg(node.args[0], outputs.append)
            if not any(out in steps for out in outputs):
                raise _Unsupported("its output is not computed from the input")
            break
        depends = [arg for arg in node.all_input_nodes if arg in steps]
        if node.op == "placeholder" or not depends:
            consts[node] = values[node]
            continue
        # Sizes (the batch size of a block, above all) are worked out per block as they come,
        # and are no windowed input of what reads them (``x.reshape(x.size(0), ...)``).
        inputs = [arg for arg in depends if steps[arg].kind != "shape"]
        if _is_shape_query(node) or not inputs:
            steps[node] = _Step("shape")
            continue
        if any(steps[arg].kind == "full" for arg in inputs):
            steps[node] = _Step("full")
            continue
        rule = _rule(gm, node, values, steps, inputs)
        if rule is not None:
            out_span, compute, sliding = rule
            out = values[node]
            if not isinstance(out, torch.Tensor) or out.ndim != out_span.ndim or \
                    not out.is_floating_point() or out.shape[out_span.axis] != out_span.length \
                    or out_span.inner is not None and out.shape[out_span.inner] != out_span.block:
                rule = None
        if rule is None:
            if first_cut is None and not _needs_every_position(gm, node, values, steps, inputs):
                width = steps[inputs[0]].span
                first_cut = (f"{_describe(gm, node)}, where a mutation reaches {width.width} of "
                             f"{width.length} positions, is not an operation fast ISM can "
                             "restrict to a window")
            steps[node] = _Step("full")
            continue
        if out_span.width >= out_span.length:
            steps[node] = _Step("full")
            continue
        windowed_work |= sliding
        steps[node] = _Step("window", out_span, compute)
    if not windowed_work:
        raise _Unsupported((first_cut or "a layer needs every position") +
                           " before any convolution or pooling ran on a window: nothing to save")
    if first_cut is not None:
        logger.debug("fast ISM: %s; from there on mutants run in full", first_cut)
    return steps, consts


def _rule(gm, node, values, steps, inputs):
    """How a node with windowed inputs runs on windows: ``(span, compute, sliding)``, or None
    for an operation that is not position-local."""
    spans = [steps[arg].span for arg in inputs]
    if any((s.axis, s.length, s.inner, s.block) != (spans[0].axis, spans[0].length,
                                                   spans[0].inner, spans[0].block)
           for s in spans):
        return None
    span = spans[0]
    target = gm.get_submodule(node.target) if node.op == "call_module" else node.target
    sliding = _sliding(node, target, values, span, inputs)
    if sliding is not None:
        return sliding
    for rule in (_shift, _regroup):
        found = rule(node, target, values, span, inputs)
        if found is not None:
            return found
    if len(inputs) == 1 and _local(node, target, values, span, inputs):
        new_axis = _swapped_axis(node, target, span)
        out = span if new_axis is None else span.moved(axis=new_axis)
        return out, _pointwise(node), False
    if len(inputs) > 1 and _aligned(node, target, values, span, inputs):
        first = np.min([s.start for s in spans], axis=0)
        width = int(np.max(np.max([s.start + s.width for s in spans], axis=0) - first))
        out = span.moved(width=width, start=np.clip(first, 0, max(span.length - width, 0)))
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
            if arg in block.values:
                return block.values[arg]
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


def _along(value, d: int) -> tuple:
    """A size, stride, padding or dilation argument as one entry per spatial axis."""
    if isinstance(value, (tuple, list)):
        return tuple(value)
    return (value,) * d


_CONV_ARGS = ("input", "weight", "bias", "stride", "padding", "dilation", "groups")
_MAX_ARGS = ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode",
             "return_indices")
_AVG_ARGS = ("input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad")
#: Functional convolution and pooling: (dimensions, kind, argument names).
_SLIDING_FUNCTIONS = {
    F.conv1d: (1, "conv", _CONV_ARGS), torch.conv1d: (1, "conv", _CONV_ARGS),
    F.conv2d: (2, "conv", _CONV_ARGS), torch.conv2d: (2, "conv", _CONV_ARGS),
    F.max_pool1d: (1, "max", _MAX_ARGS), torch.max_pool1d: (1, "max", _MAX_ARGS[:-1]),
    F.max_pool2d: (2, "max", _MAX_ARGS), torch.max_pool2d: (2, "max", _MAX_ARGS[:-1]),
    F.avg_pool1d: (1, "avg", _AVG_ARGS), torch.avg_pool1d: (1, "avg", _AVG_ARGS),
    F.avg_pool2d: (2, "avg", _AVG_ARGS),
}
_SLIDING_MODULES = ((nn.Conv1d, 1, "conv"), (nn.Conv2d, 2, "conv"), (nn.MaxPool1d, 1, "max"),
                    (nn.MaxPool2d, 2, "max"), (nn.AvgPool1d, 1, "avg"), (nn.AvgPool2d, 2, "avg"))


def _sliding(node, target, values, span, inputs):
    """Convolution and pooling along the sequence: the output positions whose kernel reads the
    window, computed from the input positions they read.

    On a 4-D output, a 2-D convolution or pooling whose kernel is 1 along the ``inner`` axis
    (and that neither pads nor strides it) slides along the sequence alone: Basset's
    ``Conv2d(.., (19, 1))`` on ``(N, 4, L, 1)``, DeepSEA's ``(1, 8)`` on ``(N, 4, 1, L)``.
    """

    d = 1 if span.inner is None else 2
    if node.op == "call_module":
        found = [(dims, kind) for cls, dims, kind in _SLIDING_MODULES if isinstance(target, cls)]
        if not found or found[0][0] != d:
            return None
        kind = found[0][1]
        if kind == "conv":
            if target.padding_mode != "zeros":
                return None
            params = dict(weight=target.weight, bias=target.bias, stride=target.stride,
                          padding=target.padding, dilation=target.dilation,
                          groups=target.groups)
        else:
            params = {name: getattr(target, name) for name in
                      ("kernel_size", "stride", "padding", "dilation", "ceil_mode",
                       "return_indices", "count_include_pad") if hasattr(target, name)}
        # Windows run the layer's function, not the module: hooks on it would be skipped.
        if target._forward_hooks or target._forward_pre_hooks:
            return None
    elif node.op == "call_function" and target in _SLIDING_FUNCTIONS:
        dims, kind, names = _SLIDING_FUNCTIONS[target]
        if dims != d:
            return None
        params = _bind(node, names, dict(bias=None, stride=None if kind != "conv" else 1,
                                         padding=0, dilation=1, groups=1, ceil_mode=False,
                                         return_indices=False, count_include_pad=True), values)
    else:
        return None
    source = inputs[0]
    if span.axis == 1 or len(inputs) != 1 or \
            node.op != "call_module" and node.args[0] is not source:
        return None
    if kind == "conv":
        weight, bias = params["weight"], params["bias"]
        if not isinstance(weight, torch.Tensor) or weight.ndim != d + 2:
            return None
        kernels = tuple(weight.shape[2:])
    else:
        kernels = _along(params["kernel_size"], d)
    strides = _along(params.get("stride") or kernels, d)
    dilations = _along(params.get("dilation", 1), d)
    padding = params.get("padding", 0)
    paddings = _along(padding, d) if not isinstance(padding, str) else None
    # i: the sequence's entry in those tuples; j: the inner axis's.
    i = span.axis - 2
    if d == 2:
        j = span.inner - 2
        if kernels[j] != 1 or paddings is not None and paddings[j] != 0 or \
                strides[j] != 1 and span.block != 1:
            return None
    kernel, stride, dilation = kernels[i], strides[i], dilations[i]
    reach = dilation * (kernel - 1)
    if padding == "same":
        left = reach // 2
    elif padding == "valid":
        left = 0
    else:
        left = paddings[i]
    if kind == "max" and params.get("return_indices"):
        return None
    if kind == "avg" and (params.get("ceil_mode") or
                          left and not params.get("count_include_pad", True) or
                          getattr(target, "divisor_override", None) is not None or
                          node.op == "call_function" and (len(node.args) > len(names) or
                                                          "divisor_override" in node.kwargs)):
        return None
    # The layer's own call on what is read, with no padding (read pads with the fill).
    if kind == "conv":
        conv = F.conv1d if d == 1 else F.conv2d
        groups = params["groups"]

        def op(window):
            return conv(window, weight, bias, strides, 0, dilations, groups)
        fill = 0.0
    elif kind == "max":
        pool = F.max_pool1d if d == 1 else F.max_pool2d

        def op(window):
            return pool(window, kernels, strides, 0, dilations)
        fill = float("-inf")
    else:
        pool = F.avg_pool1d if d == 1 else F.avg_pool2d

        def op(window):
            return pool(window, kernels, strides, 0)
        fill = 0.0
    length = values[node].shape[span.axis]
    # Output o reads inputs o * stride - left + (0 .. reach).
    width = (span.width - 1 + reach) // stride + 1
    first = -((reach - left - span.start) // stride)
    first = np.clip(first, 0, max(length - width, 0))
    needed = (width - 1) * stride + reach + 1
    reads = first * stride - left

    def compute(block):
        return op(block.read(source, reads, needed, fill))

    return span.moved(length=length, width=width, start=first), compute, True


def _shift(node, target, values, span, inputs):
    """Cropping (slicing) or constant padding along the sequence: the window moves."""

    fill = 0.0
    if span.inner is not None:
        return None
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


#: Calls whose effect on positions the shapes alone tell.
_RESHAPES = {"squeeze", "unsqueeze", "reshape", "view", "flatten"}
#: Reductions that may run over a 4-D output's inner axis.
_INNER_REDUCTIONS = {"sum", "mean", "amax", "logsumexp"}


def _regroup(node, target, values, span, inputs):
    """Steps between 3-D and 4-D outputs that keep positions apart: a size-1 axis added or
    removed (``squeeze``, ``unsqueeze``, ``view``, ...), the sequence split into blocks of
    ``p`` (``(N, C, L) -> (N, C, L / p, p)``, Enformer's attention pooling), and a sum, mean or
    maximum over the blocks' inner axis."""

    if node.op == "call_method":
        name = node.target
    elif node.op == "call_function" and getattr(torch, getattr(target, "__name__", ""), None) \
            is target:
        name = target.__name__
    else:
        name = _einops_kind(node)
    source = inputs[0]
    if name is None or len(inputs) != 1 or not node.args or node.args[0] is not source:
        return None
    out, before = values[node], values[source]
    if not isinstance(out, torch.Tensor) or not isinstance(before, torch.Tensor):
        return None
    shape, old = tuple(out.shape), tuple(before.shape)
    if name in _RESHAPES and shape == old:
        # A reshape to the same shape (``x.view(b, c, n)``): the window as it is.
        return span, lambda block: block.windows[source], False
    if span.inner is not None and (name in _RESHAPES and span.block == 1 or
                                   name in _INNER_REDUCTIONS and
                                   not node.kwargs.get("keepdim")):
        # The inner axis goes: the sequence's moves down if it came after it.
        if shape != old[:span.inner] + old[span.inner + 1:]:
            return None
        if name in _INNER_REDUCTIONS:
            dims = node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else None)
            dims = dims if isinstance(dims, (tuple, list)) else (dims,)
            if len(dims) != 1 or not isinstance(dims[0], int) or dims[0] % 4 != span.inner:
                return None
            compute = _pointwise(node)
        else:
            inner = span.inner

            def compute(block):
                return block.windows[source].squeeze(inner)
        axis = span.axis - (span.axis > span.inner)
        return span.moved(axis=axis, inner=None, block=1), compute, False
    if span.inner is not None or span.axis != 2 or name not in _RESHAPES or len(shape) != 4:
        return None
    for inner in (2, 3):
        if shape == old[:inner] + (1,) + old[inner:]:
            def compute(block, inner=inner):
                return block.windows[source].unsqueeze(inner)
            return span.moved(axis=5 - inner, inner=inner), compute, False
    p = shape[3]
    if shape != old[:2] + (span.length // p, p) or p * shape[2] != span.length:
        return None
    # Block b holds positions b * p .. b * p + p - 1: the blocks the window touches.
    first = span.start // p
    width = int(np.max((span.start + span.width - 1) // p - first)) + 1
    first = np.clip(first, 0, shape[2] - width)
    reads = first * p

    def split(block):
        window = block.read(source, reads, width * p, 0.0)
        return window.reshape(*window.shape[:2], width, p)

    return span.moved(length=shape[2], width=width, start=first, inner=3, block=p), split, False


#: Elementwise functions and methods (extra arguments are numbers or per-channel constants).
_ELEMENTWISE_NAMES = {
    "relu", "relu_", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "mish",
    "sigmoid", "tanh", "softplus", "softsign", "hardtanh", "hardsigmoid", "hardswish",
    "logsigmoid", "tanhshrink", "softshrink", "hardshrink", "threshold", "exp", "log", "log1p",
    "abs", "sqrt", "rsqrt", "square", "neg", "clamp", "clip", "float", "contiguous", "clone",
    "detach", "add", "sub", "mul", "div", "true_divide", "maximum", "minimum", "pow", "to",
    # In place: the window changes as the tensor would.
    "clip_", "clamp_", "sigmoid_", "tanh_", "exp_", "add_", "sub_", "mul_", "div_",
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


def _constants_position_free(node, values, inputs, span) -> bool:
    return all(_position_free(values[arg], span.ndim, span.axis)
               for arg in node.all_input_nodes if arg not in inputs)


def _softmax_dim(node, target):
    """The dimension of a softmax call (method, function or module), else None."""
    names = ("softmax", "log_softmax")
    if node.op == "call_method" and node.target in names or node.op == "call_function" and \
            getattr(target, "__name__", None) in names and \
            target in (getattr(torch, target.__name__, None), getattr(F, target.__name__, None)):
        dim = node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else None)
        return dim if isinstance(dim, int) else None
    if isinstance(target, (nn.Softmax, nn.LogSoftmax)):
        return target.dim
    return None


def _local(node, target, values, span, inputs) -> bool:
    """Whether a node of one windowed input computes each position from that position alone
    (a 4-D output's block of positions along the ``inner`` axis counting as one)."""

    dim = _softmax_dim(node, target)
    if dim is not None:
        return dim % span.ndim not in (0, span.axis)
    if isinstance(target, nn.Module):
        # The channel axis is 1: per-channel parameters.
        channel = span.axis == 2 or span.inner is not None
        if isinstance(target, _elementwise_modules()):
            return True
        if isinstance(target, (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.AlphaDropout)):
            return not target.training
        if isinstance(target, nn.PReLU):
            return channel or target.num_parameters == 1
        batch_norm = nn.BatchNorm1d if span.inner is None else nn.BatchNorm2d
        if isinstance(target, batch_norm):
            return channel and not target.training and target.running_mean is not None
        if isinstance(target, nn.Linear):
            return not channel
        if isinstance(target, nn.LayerNorm):
            return not channel and len(target.normalized_shape) == 1
        return False
    if _swapped_axis(node, target, span) is not None:
        return True
    if _function_name(node, target) is None:
        return False
    return _constants_position_free(node, values, inputs, span) and \
        values[node].shape == values[inputs[0]].shape


def _aligned(node, target, values, span, inputs) -> bool:
    """Whether a node combines several windowed inputs position by position."""

    if node.op == "call_function" and target is torch.cat:
        dim = node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else 0)
        return isinstance(dim, int) and dim % span.ndim not in (0, span.axis, span.inner)
    name = _function_name(node, target)
    if name not in _BINARY_NAMES and target not in _OPERATORS:
        return False
    return _constants_position_free(node, values, inputs, span)


def _swapped_axis(node, target, span) -> int | None:
    """The new sequence axis after a transpose of the two non-batch axes of a 3-D output,
    else None."""

    if span.inner is not None:
        return None
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
            return 3 - span.axis
    if _einops_kind(node) == "swap":
        return 3 - span.axis
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
