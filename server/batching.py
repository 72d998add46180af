"""Dynamic batching: one worker thread per device merges concurrent requests' model calls.

Each request runs the library's own code (``explain``, ``score_variants``, ...) in its gRPC
thread, on a model whose capability providers (:mod:`kipoi_explain.capabilities`) are routed:
every call of theirs that runs the model is handed to the device worker instead of running
in the request's thread. The worker takes the oldest waiting call, adds every waiting call it
can merge with (same model, same primitive, same target and layer), waits up to ``max_wait``
for more while other requests are still computing, and runs them as one device batch. Results
are therefore exactly what the request would get alone: its own target, options and seeds, only
computed in a bigger batch. Because the model only ever runs on the worker thread, hooks a
primitive sets (attention maps, layer outputs, ablations) never meet another request's call.

Fast ISM is routed but not merged: its calls are chunks of one request's sequences, each
already holding several device batches of mutants computed from that chunk's own reference
pass, so merging two requests' chunks would add waiting and save nothing; between chunks, the
request's cancellation and deadline are checked.

Commands declared exclusive run as one job on the worker, between batches, with the worker's
own model: those that change the model across many calls (diagnose's weight randomization and
bypassed output activation), and those whose results must equal in-process ones bit for bit (a
merged batch rounds a few ulps differently).

The worker decides what runs when; its host (:mod:`.hosts`) runs it, in a supervised child
process by default.
"""
from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from kipoi_explain.capabilities import (AttentionAccess, DeepLiftRules, FastISM, FirstLayerFilters,
                                        InputGradients, LayerAccess, Predictor)
from kipoi_explain.errors import UnsupportedOperation
from kipoi_explain.model import Model

from .hosts import REQUEST_ERRORS, ChildHost, ModelHost, RequestAborted, WorkerCrashed, WorkerFault

log = logging.getLogger("kipoi_explain.server")

#: Fast ISM chunks hold at least this many device batches of mutants.
ISM_CHUNK_BATCHES = 32


@dataclass
class RequestState:
    """What a worker needs to know about the request a call belongs to."""

    request_id: str
    is_active: Callable[[], bool] = lambda: True
    aborted: threading.Event = field(default_factory=threading.Event)

    def check(self) -> None:
        if self.aborted.is_set() or not self.is_active():
            self.aborted.set()
            raise RequestAborted(self.request_id)


@dataclass(eq=False)
class _Call:
    """One primitive call of a request, queued for the worker.

    ``args`` are the primitive's positional arguments; those at ``arrays`` hold one row per
    input row (None where the primitive takes none), the rest are shared. Calls with the same
    ``key`` can run as one batch (None: the call always runs alone).
    """

    request: RequestState
    model: str
    capability: str
    method: str
    args: tuple
    arrays: tuple[int, ...] = ()
    key: tuple | None = None
    rows: int = 0
    context: dict | None = None
    done: threading.Event = field(default_factory=threading.Event)
    result: object = None
    error: BaseException | None = None

    def finish(self, result=None, error: BaseException | None = None) -> None:
        self.result, self.error = result, error
        self.done.set()


@dataclass
class WorkerStats:
    batches: int = 0
    calls: int = 0
    rows: int = 0
    merged_batches: int = 0
    max_calls_per_batch: int = 0
    restarts: int = 0


class DeviceWorker:
    """One device, the host of its copy of every allowed model, and the thread that decides
    which of their calls run, merged, next.

    Parameters
    ----------
    host : ModelHost or ChildHost
        Where the device's models are loaded and run.
    max_batch_size : int
        Rows per merged model call.
    max_wait : float
        Seconds the worker waits for more calls to merge while other requests are computing.
    merge : bool
        Merge calls of different requests (False: every call runs alone).
    """

    def __init__(self, host: ModelHost | ChildHost, max_batch_size: int, max_wait: float,
                 merge: bool = True):
        self.device = host.device
        self.host = host
        self.max_batch_size = max_batch_size
        self.max_wait = max_wait
        self.merge = merge
        self.stats = WorkerStats()
        self._pending: deque[_Call] = deque()
        self._cond = threading.Condition()
        self._active: set[int] = set()
        self._stopping = False
        self._thread = self._start()

    # ---- request side -------------------------------------------------------------------
    @property
    def load(self) -> int:
        """Requests currently bound to this worker."""
        return len(self._active)

    def model(self, name: str) -> Model:
        """Model ``name`` as loaded in this process: read for what it is, run only by the
        host."""
        return self.host.catalog[name]

    def fingerprint(self, name: str) -> str:
        return self.host.fingerprints[name]

    def bind(self, request: RequestState, name: str) -> Model:
        """Model ``name`` with its capabilities routed to this worker: every call that runs the
        model runs on the worker thread, merged with other requests' calls where it can be.
        Call :meth:`release` when the request ends."""
        with self._cond:
            self._active.add(id(request))
        model = self.model(name)

        def routed(provider, kind):
            return None if provider is None else kind(self, request, name, provider)

        return dataclasses.replace(
            model, predictor=_RoutedPredictor(self, request, name, model.predictor,
                                              self.fingerprint(name)),
            gradients=routed(model.gradients, _RoutedGradients),
            deeplift=routed(model.deeplift, _RoutedDeepLift),
            layers=routed(model.layers, _RoutedLayers),
            attention=routed(model.attention, _RoutedAttention),
            filters=routed(model.filters, _RoutedFilters),
            fast_ism=routed(model.fast_ism, _RoutedFastISM),
            # A request's own blocks stay within the device batch too, not only merged ones.
            batch_size=min(model.batch_size, self.max_batch_size))

    def release(self, request: RequestState) -> None:
        with self._cond:
            self._active.discard(id(request))
            self._cond.notify_all()

    def exclusive(self, request: RequestState, name: str, command: str, samples,
                  options: dict):
        """Run the declared ``command`` on model ``name`` with ``samples`` and ``options``,
        alone on the host's own model: for commands that change the model across calls.
        Options naming another served model carry a :class:`~.hosts.ModelRef`."""
        return self._submit(_Call(request, name, "", "exclusive",
                                  (command, samples, options, self.max_batch_size)))

    def submit(self, request: RequestState, name: str, capability: str, method: str,
               args: tuple, context: dict | None = None, arrays: tuple[int, ...] = (),
               shared: tuple | None = None):
        """Run ``method`` of model ``name``'s ``capability`` provider with ``args`` on the
        worker thread and return its result. With ``shared`` (what must be equal for calls to
        share a batch: target, layer, ...), the call is merged with other calls of the same
        primitive and ``shared``; ``arrays`` are the positions of ``args`` holding rows."""
        key = None if shared is None or not self.merge else \
            (name, capability, method, *shared)
        rows = len(args[arrays[0]]) if arrays else 0
        return self._submit(_Call(request, name, capability, method, args, arrays, key, rows,
                                  context))

    def _submit(self, call: _Call):
        call.request.check()
        with self._cond:
            if not self._thread.is_alive():
                raise WorkerFault(f"worker {self.device} has stopped")
            self._pending.append(call)
            self._cond.notify_all()
        while not call.done.wait(0.05):
            try:
                call.request.check()
            except RequestAborted:
                with self._cond:
                    if call in self._pending:
                        self._pending.remove(call)
                        self._cond.notify_all()
                if not call.done.is_set():
                    raise
        if call.error is not None:
            raise call.error
        return call.result

    # ---- worker side --------------------------------------------------------------------
    def stop(self, timeout: float | None = None) -> None:
        """Finish the calls already queued, then end the worker thread and its host."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout)
        self.host.stop()

    def _start(self) -> threading.Thread:
        thread = threading.Thread(target=self._loop, name=f"kx-worker-{self.device}",
                                  daemon=True)
        thread.start()
        return thread

    def _loop(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            try:
                self._run(batch)
            except Exception as err:  # noqa: BLE001 - a fault must not kill the worker
                self._restart(batch, err)

    def _next_batch(self) -> list[_Call] | None:
        with self._cond:
            while not self._pending:
                if self._stopping:
                    return None
                self._cond.wait()
            batch = [self._pending.popleft()]
            if batch[0].key is None:
                return batch
            rows = batch[0].rows
            deadline = time.monotonic() + self.max_wait
            while rows < self.max_batch_size:
                for call in [c for c in self._pending if c.key == batch[0].key]:
                    if rows + call.rows > self.max_batch_size:
                        break
                    self._pending.remove(call)
                    batch.append(call)
                    rows += call.rows
                remaining = deadline - time.monotonic()
                if rows >= self.max_batch_size or remaining <= 0 or \
                        not self._more_expected(batch):
                    break
                self._cond.wait(remaining)
            return batch

    def _more_expected(self, batch: list[_Call]) -> bool:
        """Whether a request that is computing (not waiting on a call) may still add one."""
        waiting = {id(c.request) for c in batch} | {id(c.request) for c in self._pending}
        return bool(self._active - waiting)

    def _run(self, batch: list[_Call]) -> None:
        live = []
        for call in batch:
            if call.request.aborted.is_set() or not call.request.is_active():
                call.finish(error=RequestAborted(call.request.request_id))
            else:
                live.append(call)
        if not live:
            return
        self._count(live)
        if len(live) == 1:
            self._run_alone(live[0])
            return
        first = live[0]
        args = list(first.args)
        for i in first.arrays:
            if args[i] is not None:
                args[i] = np.concatenate([c.args[i] for c in live])
        context = None if first.context is None else {
            name: np.concatenate([c.context[name] for c in live]) for name in first.context}
        try:
            out = self._call(first, tuple(args), context, _all_gone(live))
        except WorkerCrashed as err:
            self._restart(live, err)
            return
        except RequestAborted as err:
            for call in live:
                call.finish(error=err)
            return
        except Exception:  # noqa: BLE001 - one request's bad rows must not fail the others
            log.warning("worker %s: merged %s.%s call of %d requests failed; running each alone",
                        self.device, first.capability, first.method, len(live))
            for call in live:
                self._run_alone(call)
            return
        outputs = out if isinstance(out, tuple) else (out,)
        bounds = np.cumsum([0] + [c.rows for c in live])
        for call, lo, hi in zip(live, bounds[:-1], bounds[1:]):
            parts = tuple(o[lo:hi] for o in outputs)
            call.finish(parts if isinstance(out, tuple) else parts[0])

    def _call(self, call: _Call, args: tuple, context, check: Callable[[], None]):
        if call.method == "exclusive":
            message = (call.method, call.model, *args)
        else:
            message = ("call", call.model, call.capability, call.method, args, context,
                       call.rows if call.arrays else 0)
        return self.host.run(message, check)

    def _run_alone(self, call: _Call) -> None:
        """Run one request's call; its own input errors go back to it, anything else is a
        fault that restarts the worker."""
        try:
            call.finish(self._call(call, call.args, call.context, call.request.check))
        except REQUEST_ERRORS as err:
            call.finish(error=err)
        except Exception as err:  # noqa: BLE001
            self._restart([call], err)

    def _count(self, calls: list[_Call]) -> None:
        stats = self.stats
        stats.batches += 1
        stats.calls += len(calls)
        stats.rows += sum(c.rows for c in calls)
        if len({id(c.request) for c in calls}) > 1:
            stats.merged_batches += 1
        stats.max_calls_per_batch = max(stats.max_calls_per_batch, len(calls))

    def _restart(self, calls: list[_Call], err: BaseException) -> None:
        """Fail ``calls`` with a fault and restart the host: a failed call may have left a
        model (or the device) in a state nobody should compute on."""
        log.error("worker %s: %s: %s; failing %d call(s) and restarting its models",
                  self.device, type(err).__name__, err, len(calls),
                  exc_info=None if isinstance(err, WorkerFault) else err)
        fault = err if isinstance(err, WorkerFault) else WorkerFault(f"{type(err).__name__}: "
                                                                     f"{err}")
        for call in calls:
            if not call.done.is_set():
                call.finish(error=fault)
        self.stats.restarts += 1
        try:
            self.host.restart()
        except Exception as failure:  # noqa: BLE001 - the next call tries again
            log.error("worker %s: restarting failed: %s", self.device, failure)


def _all_gone(calls: list[_Call]) -> Callable[[], None]:
    """A check that raises :class:`RequestAborted` once every request of a merged batch has
    gone (while one waits, the batch runs on)."""
    def check() -> None:
        if all(c.request.aborted.is_set() or not c.request.is_active() for c in calls):
            raise RequestAborted(", ".join(c.request.request_id for c in calls))
    return check


# ---- routed capability providers -----------------------------------------------------------
class _Routed:
    """A capability provider whose calls run on a device worker, for one request."""

    def __init__(self, worker: DeviceWorker, request: RequestState, name: str, inner):
        self._worker, self._request, self._name, self._inner = worker, request, name, inner

    def _alone(self, capability: str, method: str, *args):
        return self._worker.submit(self._request, self._name, capability, method, args)


class _RoutedPredictor(_Routed, Predictor):
    def __init__(self, worker, request, name, inner, fingerprint: str):
        super().__init__(worker, request, name, inner)
        self._fingerprint = fingerprint

    def forward(self, x, context=None):
        return self._worker.submit(self._request, self._name, "predictor", "forward", (x,),
                                   context, arrays=(0,), shared=())

    def parameters(self):
        return self._alone("predictor", "parameters")

    def fingerprint(self) -> str:
        # Hashed once when the worker loaded the model: its weights change only inside
        # exclusive jobs, which restore them.
        return self._fingerprint


class _RoutedGradients(_Routed, InputGradients):
    def input_gradient(self, x, target, context=None):
        return self._worker.submit(self._request, self._name, "gradients", "input_gradient",
                                   (x, target), context, arrays=(0,), shared=(target,))


class _RoutedDeepLift(_Routed, DeepLiftRules):
    def deeplift_multipliers(self, x, ref, target, context=None):
        return self._worker.submit(self._request, self._name, "deeplift",
                                   "deeplift_multipliers", (x, ref, target), context,
                                   arrays=(0, 1), shared=(target,))


class _RoutedLayers(_Routed, LayerAccess):
    """Layer outputs and gradients are merged across requests; the structure (names, kinds)
    is read directly, its order cached when the worker loaded the model. Weight changes and
    bypasses span several calls and belong to exclusive jobs only."""

    def layer_names(self):
        return self._inner.layer_names()

    def weighted_layers(self):
        return self._inner.weighted_layers()

    def nonlinearities(self):
        return self._inner.nonlinearities()

    def embedding_layer(self):
        return self._inner.embedding_layer()

    def activations(self, x, layer, context=None):
        return self._worker.submit(self._request, self._name, "layers", "activations",
                                   (x, layer), context, arrays=(0,), shared=(layer,))

    def layer_gradient(self, x, layer, target, values=None, context=None):
        return self._worker.submit(self._request, self._name, "layers", "layer_gradient",
                                   (x, layer, target, values), context, arrays=(0, 3),
                                   shared=(layer, target, values is None))

    def ablated_forward(self, x, layer, keep, fill, context=None):
        return self._worker.submit(self._request, self._name, "layers", "ablated_forward",
                                   (x, layer, keep, fill), context, arrays=(0,))

    def layer_gradient_norms(self, x, layers, target, context=None):
        return self._worker.submit(self._request, self._name, "layers",
                                   "layer_gradient_norms", (x, layers, target), context,
                                   arrays=(0,))

    def bypassed(self, layer):
        raise UnsupportedOperation("bypassing a layer changes the shared model across calls: "
                                   "on a server it runs only inside an exclusive job")

    def get_weights(self, layer):
        return self._alone("layers", "get_weights", layer)

    def set_weights(self, layer, arrays):
        raise UnsupportedOperation("changing weights changes the shared model: on a server it "
                                   "runs only inside an exclusive job")


class _RoutedAttention(_Routed, AttentionAccess):
    def attention_layers(self):
        return self._inner.attention_layers()

    def _read(self, method, x, layers, context):
        return self._worker.submit(self._request, self._name, "attention", method,
                                   (x, layers), context, arrays=(0,))

    def attention_maps(self, x, layers, context=None):
        return self._read("attention_maps", x, layers, context)

    def queries_and_keys(self, x, layer, context=None):
        return self._read("queries_and_keys", x, layer, context)

    def token_inputs(self, x, layer, context=None):
        return self._read("token_inputs", x, layer, context)


class _RoutedFilters(_Routed, FirstLayerFilters):
    def conv_layers(self):
        return self._alone("filters", "conv_layers")


class _RoutedFastISM(_Routed, FastISM):
    def ism_scores(self, x, target, batch_size, progress, start, end):
        per_sequence = 3 * (end - start)
        chunk = max(1, ISM_CHUNK_BATCHES * self._worker.max_batch_size // per_sequence)
        parts = []
        for lo in range(0, len(x), chunk):
            part = self._alone("fast_ism", "ism_scores", x[lo:lo + chunk], target, batch_size,
                               False, start, end)
            if part is None:
                return None
            parts.append(part)
        return np.concatenate(parts)
