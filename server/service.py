"""The ``kipoi_explain.v2.ExplainService`` RPCs: any declared command, run by name.

A request names a command (:mod:`kipoi_explain.commands`), a model and the command's options.
It is admitted (or refused with RESOURCE_EXHAUSTED when ``max_queue`` are in flight), bound to
the least loaded device worker, checked against the command's declaration (every option's
kind; resources by the names this server gives them, never by path), run as the library runs
it, and its result encoded by the one codec. Errors map to status codes: an
:class:`InputError` (which names the record, field or option) to INVALID_ARGUMENT, an unknown
model or FASTA to NOT_FOUND, an operation the model lacks to FAILED_PRECONDITION, a worker
fault to INTERNAL, a worker process that died to UNAVAILABLE (retry: it restarts); every
message ends with the request ID and quotes at most a bounded prefix of what the client sent.
"""
from __future__ import annotations

import functools
import logging
import threading
from contextlib import contextmanager

import grpc
import kipoi_explain as kx
from kipoi_explain import codec
from kipoi_explain.commands import COMMANDS, command_info, get, model_info
from kipoi_explain.commands.base import Command
from kipoi_explain.cancellation import cancellable
from kipoi_explain.errors import (InputError, MissingCapability, MissingDependency,
                                  UnsupportedOperation, quoted, shortened)
from kipoi_explain.samples import input_kind
from kipoi_explain.v2 import explain_pb2 as pb
from kipoi_explain.v2 import explain_pb2_grpc as pb_grpc
from kipoi_explain.variants.alleles import VariantRecord

from .batching import DeviceWorker, RequestState
from .hosts import ModelRef, RequestAborted, WorkerCrashed, WorkerFault
from .config import ServerConfig
from .interceptors import COMMAND, REQUEST_ID

log = logging.getLogger("kipoi_explain.server")

#: Characters of an error's text sent back (gRPC sends it in metadata, of bounded size).
MAX_DETAILS = 1000


class NotFound(Exception):
    """A model or FASTA name the server is not configured with."""


class Busy(Exception):
    """The server holds ``max_queue`` requests already, or a request is too large."""


class Draining(Exception):
    """The server is shutting down and takes no new requests."""


def _status(err: BaseException) -> grpc.StatusCode:
    if isinstance(err, NotFound):
        return grpc.StatusCode.NOT_FOUND
    if isinstance(err, Busy):
        return grpc.StatusCode.RESOURCE_EXHAUSTED
    if isinstance(err, (Draining, WorkerCrashed)):
        return grpc.StatusCode.UNAVAILABLE
    if isinstance(err, MissingCapability):
        return grpc.StatusCode.FAILED_PRECONDITION
    if isinstance(err, InputError):
        return grpc.StatusCode.INVALID_ARGUMENT
    if isinstance(err, (UnsupportedOperation, MissingDependency)):
        return grpc.StatusCode.FAILED_PRECONDITION
    return grpc.StatusCode.INTERNAL


def _abort(context, err: BaseException):
    request_id = REQUEST_ID.get()
    if isinstance(err, RequestAborted):
        expired = context.time_remaining() is not None and context.time_remaining() <= 0
        context.abort(grpc.StatusCode.DEADLINE_EXCEEDED if expired else
                      grpc.StatusCode.CANCELLED, f"request {request_id} aborted")
    code = _status(err)
    if code == grpc.StatusCode.INTERNAL and not isinstance(err, WorkerFault):
        log.exception("%s: unexpected error", request_id, exc_info=err)
    context.abort(code, f"{shortened(str(err), MAX_DETAILS)} (request {request_id})")


def _rpc(method):
    """Map the library's exceptions to status codes (unary RPCs)."""
    @functools.wraps(method)
    def run(self, request, context):
        try:
            return method(self, request, context)
        except Exception as err:  # noqa: BLE001 - every error becomes a status, never a crash
            _abort(context, err)
    return run


class _Resources:
    """What a request's options may name on this server (see
    :meth:`~kipoi_explain.commands.kinds.Kind.on_server`): its FASTA files and models, by name."""

    def __init__(self, servicer, worker: DeviceWorker, state: RequestState, exclusive: bool):
        self.servicer, self.worker, self.state, self.exclusive = servicer, worker, state, \
            exclusive

    def fasta(self, name: str, option: str) -> str:
        return self.servicer.fasta(name, option)

    def model(self, name: str, option: str):
        if name not in self.servicer.config.models:
            raise NotFound(f"{option} {quoted(name)}: not served here; models are "
                           f"{', '.join(sorted(self.servicer.config.models))}")
        # An exclusive job runs on the worker's host, with the host's own copy.
        return ModelRef(name) if self.exclusive else self.worker.bind(self.state, name)


class ExplainServicer(pb_grpc.ExplainServiceServicer):
    """Serves the configured models on the given device workers."""

    def __init__(self, config: ServerConfig, workers: list[DeviceWorker]):
        self.config = config
        self.workers = workers
        self._lock = threading.Lock()
        self.in_flight = 0
        self.requests = 0
        self.rejected = 0
        self.draining = False
        # Read before serving: describing a PyTorch model runs it once, and once requests
        # arrive only the device worker may run a model.
        self.infos = {name: model_info(workers[0].model(name), name,
                                       workers[0].fingerprint(name)) for name in config.models}

    # ---- request lifecycle --------------------------------------------------------------
    @contextmanager
    def _request(self, context, model: str, n: int = 0, what: str = "sequences"):
        """Admit a request of ``n`` sequences (or samples, ``what``) for ``model``, and bind it to
        the least loaded worker: yields the worker, the request's state and the routed model."""
        if model not in self.config.models:
            raise NotFound(f"model {quoted(model)}: not served here; models are "
                           f"{', '.join(sorted(self.config.models))}")
        limit = self.config.batching.max_sequences
        if n > limit:
            raise Busy(f"request holds {n} {what}; this server takes at most {limit} "
                       "per request (batching.max_sequences): split it")
        with self._lock:
            if self.draining:
                raise Draining("server shutting down; retry on another replica")
            if self.in_flight >= self.config.batching.max_queue:
                self.rejected += 1
                raise Busy(f"server busy: {self.in_flight} requests in flight "
                           f"(batching.max_queue = {self.config.batching.max_queue}); retry")
            self.in_flight += 1
            self.requests += 1
            worker = min(self.workers, key=lambda w: w.load)
        state = RequestState(REQUEST_ID.get(), context.is_active)
        context.add_callback(state.aborted.set)
        try:
            routed = worker.bind(state, model)
            try:
                # Work done in this thread (not on the worker) stops between its blocks too.
                with cancellable(state.check):
                    yield worker, state, routed
            finally:
                worker.release(state)
        finally:
            with self._lock:
                self.in_flight -= 1

    def fasta(self, name: str, field: str = "fasta") -> str:
        """The path of this server's FASTA ``name``."""
        if name not in self.config.fastas:
            raise NotFound(f"{field} {quoted(name)}: not a FASTA of this server; it has "
                           f"{', '.join(sorted(self.config.fastas)) or 'none'}")
        return self.config.fastas[name]

    def _arguments(self, command: Command, request, resources: _Resources) -> dict:
        """The keyword arguments of the command's library function, but for the samples: the
        request's options, checked against the command's declaration and resolved on this
        server, and the extra inputs."""
        options = codec.decode_entries(request.options)
        if command.precondition is not None:
            command.precondition(self.infos[request.model], options)
        options = command.check(options)
        for param in command.params:
            value = options.get(param.name)
            limit = param.limit and getattr(self.config.batching, param.limit)
            if limit and value is not None and value > limit:
                raise InputError(f"option {param.name}={value}: this server allows at most "
                                 f"{limit} (batching.{param.limit})")
        kwargs = {name: value if value is None else
                  command.param(name).kind.on_server(value, name, resources)
                  for name, value in options.items()}
        if request.inputs:
            if not command.extra_inputs:
                raise InputError(f"inputs: {command.name} takes no extra inputs")
            kwargs["inputs"] = codec.from_inputs(request.inputs)
        return kwargs

    def _samples(self, command: Command, request, model, ambiguous: str | None):
        """The request's samples in the form the library reads (sequences, or features and
        token ids with the names sent; the library checks they fit the model); None when it
        sent none and the command may go without."""
        if not request.HasField("samples"):
            if command.samples == "required":
                raise InputError(f"{command.name}: samples: none given; send features, or "
                                 "sequences (dna, onehot or intervals)")
            return None
        kind = request.samples.WhichOneof("source")
        if input_kind(model.layout) in command.accepts:
            # Named as the caller knows the model (the library names it by its own name).
            if model.takes_dna and kind == "features":
                raise InputError(f"{command.name}: features: model {request.model!r} takes "
                                 "one-hot DNA; send sequences")
            if not model.takes_dna and kind not in (None, "features"):
                what = "token ids" if model.takes_tokens else "features"
                shape = tuple(model.layout.shape)
                raise InputError(f"{command.name}: sequences: model {request.model!r} takes "
                                 f"{what} of shape {shape}, not DNA; send "
                                 f"{'the ids as ' if model.takes_tokens else ''}features "
                                 f"(N, {', '.join(map(str, shape))})")
        if kind == "intervals":
            self.fasta(request.samples.intervals.fasta, "samples.intervals.fasta")
        return codec.from_samples(request.samples, model.input_length, self.config.fastas,
                                  ambiguous or "uniform")

    def _execute(self, command: Command, worker: DeviceWorker, state: RequestState, name: str,
                 routed, samples, kwargs: dict):
        """Run the command: on the routed model (its calls merged on the worker), or, for a
        command that changes the model across calls, alone on the worker."""
        if not command.exclusive:
            return command.function(routed, samples, **kwargs)
        return worker.exclusive(state, name, command.name, samples, kwargs)

    # ---- RPCs ---------------------------------------------------------------------------
    @_rpc
    def ListModels(self, request, context):
        return pb.ListModelsResponse(
            models=[codec.encode(info) for info in self.infos.values()],
            fastas=sorted(self.config.fastas), server_version=kx.__version__,
            max_sequences=self.config.batching.max_sequences,
            max_samples=self.config.batching.max_samples,
            commands=[codec.encode(command_info(c)) for c in COMMANDS.values()])

    @_rpc
    def Run(self, request, context):
        COMMAND.set(request.command)
        command = get(request.command)
        if command.samples == "stream":
            raise InputError(f"command {command.name!r} reads a stream of items: call "
                             "RunStream")
        what = "samples" if request.samples.WhichOneof("source") == "features" else \
            command.noun
        with self._request(context, request.model, codec.n_samples(request.samples),
                           what) as (worker, state, model):
            resources = _Resources(self, worker, state, command.exclusive)
            kwargs = self._arguments(command, request, resources)
            samples = self._samples(command, request, model, kwargs.get("ambiguous"))
            result = self._execute(command, worker, state, request.model, model, samples,
                                   kwargs)
            response = pb.RunResponse(result=codec.encode(result))
            size = response.ByteSize()
            if size > self.config.max_message_bytes:
                raise Busy(f"the {command.name} result of {len(samples or [])} samples takes "
                           f"{size / 2 ** 20:.1f} MiB, more than this server sends in one "
                           f"message ({self.config.max_message_mb:g} MiB, max_message_mb): "
                           f"{command.too_large}")
            return response

    def RunStream(self, request_iterator, context):
        try:
            yield from self._run_stream(request_iterator, context)
        except Exception as err:  # noqa: BLE001 - every error becomes a status, never a crash
            _abort(context, err)

    def _run_stream(self, request_iterator, context):
        first = next(request_iterator, None)
        if first is None or first.WhichOneof("part") != "start":
            raise InputError("RunStream: the first message must carry the request (command, "
                             "model, options)")
        request = first.start
        COMMAND.set(request.command)
        command = get(request.command)
        if command.samples != "stream":
            raise InputError(f"command {command.name!r} takes no stream: call Run")
        with self._request(context, request.model) as (worker, state, model):
            kwargs = self._arguments(command, request,
                                     _Resources(self, worker, state, command.exclusive))
            chunk_size = kwargs.get("chunk_size") or command.defaults().get("chunk_size", 256)
            results = self._execute(command, worker, state, request.model, model,
                                    _items(request_iterator), kwargs)
            batch = []
            for result in results:
                batch.append(codec.encode(result))
                if len(batch) == chunk_size:
                    yield pb.RunStreamResponse(items=pb.ValueList(values=batch))
                    batch = []
            if batch:
                yield pb.RunStreamResponse(items=pb.ValueList(values=batch))

    @_rpc
    def Stats(self, request, context):
        return pb.StatsResponse(
            workers=[pb.WorkerStats(device=w.device, **vars(w.stats)) for w in self.workers],
            requests=self.requests, in_flight=self.in_flight, rejected=self.rejected)


def _items(request_iterator):
    """The VCF records of a RunStream, in order."""
    for number, message in enumerate(request_iterator, start=2):
        if message.WhichOneof("part") != "items":
            raise InputError(f"RunStream message {number}: expected items; the request comes "
                             "only in the first message")
        for index, value in enumerate(message.items.values):
            record = codec.decode(value, f"message {number}, item {index}")
            if not isinstance(record, VariantRecord):
                raise InputError(f"RunStream message {number}, item {index}: expected a "
                                 "VariantRecord")
            yield record
