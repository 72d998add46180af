"""Dynamic batching: one worker thread per device merges concurrent requests' model calls.

Each request runs the library's own code (``explain``, ``score_variants``, ...) in its gRPC
thread, on a copy of the model whose batch primitives (``_forward``, ``_gradient``,
``_deeplift``) hand their rows to the device worker instead of running them. The worker takes
the oldest waiting call, adds every waiting call it can merge with (same model, same primitive,
same target), waits up to ``max_wait`` for more while other requests are still computing, and
runs them as one device batch. Results are therefore exactly what the request would get alone:
its own target, options and seeds, only computed in a bigger batch.

Whole-model jobs that change the model while they run (diagnose's weight randomization, motif
extraction) are queued as exclusive calls and run on the worker thread between batches.
"""
from __future__ import annotations

import copy
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from kipoi_explain.adapters import Model
from kipoi_explain.errors import InputError, UnsupportedOperation

log = logging.getLogger("kipoi_explain.server")

#: The model primitives whose calls are merged, and how many arrays each returns.
PRIMITIVES = {"_forward": 1, "_gradient": 2, "_deeplift": 3}


class RequestAborted(Exception):
    """The request was cancelled by its client or ran past its deadline."""


class WorkerFault(Exception):
    """A model call failed for a reason that is not the request's input."""


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


@dataclass
class _Call:
    request: RequestState
    model: str
    primitive: str
    args: tuple
    key: tuple
    rows: int
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
    """One device, its own copy of every allowed model, and the thread that runs their calls.

    Parameters
    ----------
    device : str
        ``"cpu"`` or ``"cuda:K"``.
    loaders : dict of str to callable
        For each allowed model name, a function ``(device) -> Model``.
    max_batch_size : int
        Rows per merged model call.
    max_wait : float
        Seconds the worker waits for more calls to merge while other requests are computing.
    merge : bool
        Merge calls of different requests (False: every call runs alone).
    """

    def __init__(self, device: str, loaders: dict[str, Callable[[str], Model]],
                 max_batch_size: int, max_wait: float, merge: bool = True):
        self.device = device
        self.max_batch_size = max_batch_size
        self.max_wait = max_wait
        self.merge = merge
        self.stats = WorkerStats()
        self._loaders = loaders
        self._models, self._fingerprints = self._load()
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
        return self._models[name]

    def fingerprint(self, name: str) -> str:
        return self._fingerprints[name]

    def bind(self, request: RequestState, name: str) -> Model:
        """A copy of model ``name`` whose batch primitives run on this worker, merged with other
        requests' calls. Call :meth:`release` when the request ends."""
        with self._cond:
            self._active.add(id(request))
        routed = copy.copy(self._models[name])
        # A request's own blocks stay within the device batch too, not only merged ones.
        routed.batch_size = min(routed.batch_size, self.max_batch_size)
        fingerprint = self._fingerprints[name]
        routed.fingerprint = lambda: fingerprint
        for primitive in PRIMITIVES:
            setattr(routed, primitive, self._router(request, name, primitive))
        return routed

    def release(self, request: RequestState) -> None:
        with self._cond:
            self._active.discard(id(request))
            self._cond.notify_all()

    def exclusive(self, request: RequestState, name: str, job: Callable[[Model], object]):
        """Run ``job(model)`` on the worker thread, alone: for jobs that change the model."""
        return self._submit(_Call(request, name, "exclusive", (job, None), ("exclusive", id(job)),
                                  0))

    def _router(self, request: RequestState, name: str, primitive: str):
        def call(x, *rest, context=None):
            target = rest[-1] if primitive != "_forward" else None
            arrays = (x, *rest[:-1]) if primitive != "_forward" else (x,)
            return self._submit(_Call(request, name, primitive, arrays + (target,),
                                      (name, primitive, target), len(x), context))
        return call

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
        """Finish the calls already queued, then end the worker thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout)

    def _load(self) -> tuple[dict[str, Model], dict[str, str]]:
        """Fresh copies of the models, and their weight hashes (hashed once, not per request)."""
        models = {name: load(self.device) for name, load in self._loaders.items()}
        for model in models.values():
            # Finding a model's layers runs it once and caches the order; done here, that run
            # cannot collide with a request's calls on the worker thread later.
            model.attention_layers()
        return models, {name: model.fingerprint() for name, model in models.items()}

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
            if batch[0].primitive == "exclusive" or not self.merge:
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
        n_arrays = len(first.args) - 1
        merged = tuple(np.concatenate([c.args[i] for c in live]) for i in range(n_arrays))
        context = None if first.context is None else {
            name: np.concatenate([c.context[name] for c in live]) for name in first.context}
        try:
            out = self._call(first.model, first.primitive, merged, first.args[-1], context)
        except Exception:  # noqa: BLE001 - one request's bad rows must not fail the others
            log.warning("worker %s: merged %s call of %d requests failed; running each alone",
                        self.device, first.primitive, len(live))
            for call in live:
                self._run_alone(call)
            return
        outputs = out if isinstance(out, tuple) else (out,)
        bounds = np.cumsum([0] + [c.rows for c in live])
        for call, lo, hi in zip(live, bounds[:-1], bounds[1:]):
            parts = tuple(o[lo:hi] for o in outputs)
            call.finish(parts if isinstance(out, tuple) else parts[0])

    def _call(self, name: str, primitive: str, arrays: tuple, target, context=None):
        model = self._models[name]
        if primitive == "exclusive":
            return arrays[0](model)
        if primitive == "_forward":
            return model._forward(*arrays, context=context)
        return getattr(model, primitive)(*arrays, target, context=context)

    def _run_alone(self, call: _Call) -> None:
        """Run one request's call; its own input errors go back to it, anything else is a
        fault that restarts the worker."""
        try:
            call.finish(self._call(call.model, call.primitive, call.args[:-1], call.args[-1],
                                   call.context))
        except (InputError, UnsupportedOperation, RequestAborted) as err:
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
        """Fail ``calls`` with a fault and reload this device's models: a failed call may have
        left a model (or the device) in a state nobody should compute on."""
        log.error("worker %s: %s: %s; failing %d call(s) and reloading its models",
                  self.device, type(err).__name__, err, len(calls), exc_info=err)
        fault = WorkerFault(f"{type(err).__name__}: {err}")
        for call in calls:
            if not call.done.is_set():
                call.finish(error=fault)
        self.stats.restarts += 1
        self._models, self._fingerprints = self._load()
