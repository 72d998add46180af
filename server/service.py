"""The ``kipoi_explain.v1.ExplainService`` RPCs, each running the library's own function.

A request is admitted (or refused with RESOURCE_EXHAUSTED when ``max_queue`` are in flight),
bound to the least loaded device worker, decoded, run, and encoded. Errors map to status
codes: an :class:`InputError` (which names the record, field or option) to INVALID_ARGUMENT,
an unknown model or FASTA to NOT_FOUND, an operation the model lacks to FAILED_PRECONDITION,
a worker fault to INTERNAL; every message ends with the request ID.
"""
from __future__ import annotations

import functools
import logging
import threading
from contextlib import contextmanager

import grpc

import kipoi_explain as kx
from kipoi_explain import wire
from kipoi_explain.errors import InputError, UnsupportedOperation
from kipoi_explain.options import keyword_defaults
from kipoi_explain.attention_maps import attention_layers
from kipoi_explain.methods import METHODS, available_methods, method_options
from kipoi_explain.transparent import METHODS as ENTITY_METHODS
from kipoi_explain.transparent import entity_map
from kipoi_explain.transparent import method_options as entity_method_options
from kipoi_explain.entity_map import INPUT
from kipoi_explain.v1 import explain_pb2 as pb
from kipoi_explain.v1 import explain_pb2_grpc as pb_grpc
from kipoi_explain.variants import score_variants

from .batching import DeviceWorker, RequestAborted, RequestState, WorkerFault
from .config import ServerConfig
from .interceptors import REQUEST_ID

log = logging.getLogger("kipoi_explain.server")

#: Keyword arguments the server sets itself; a client may not.
SERVER_OWNED = ("batch_size", "progress")


class NotFound(Exception):
    """A model or FASTA name the server is not configured with."""


class Busy(Exception):
    """The server holds ``max_queue`` requests already, or a request is too large."""


class Draining(Exception):
    """The server is shutting down and takes no new requests."""

#: Options that multiply the work per sequence, capped by ``batching.max_samples``.
SAMPLE_OPTIONS = ("n_steps", "n_samples", "n_references", "n_shuffles")


def _status(err: BaseException) -> grpc.StatusCode:
    if isinstance(err, NotFound):
        return grpc.StatusCode.NOT_FOUND
    if isinstance(err, Busy):
        return grpc.StatusCode.RESOURCE_EXHAUSTED
    if isinstance(err, Draining):
        return grpc.StatusCode.UNAVAILABLE
    if isinstance(err, InputError):
        return grpc.StatusCode.INVALID_ARGUMENT
    if isinstance(err, UnsupportedOperation):
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
    context.abort(code, f"{err} (request {request_id})")


def _rpc(method):
    """Map the library's exceptions to status codes (unary RPCs)."""
    @functools.wraps(method)
    def run(self, request, context):
        try:
            return method(self, request, context)
        except Exception as err:  # noqa: BLE001 - every error becomes a status, never a crash
            _abort(context, err)
    return run


def _allowed_options(function, *excluded: str) -> set[str]:
    return set(keyword_defaults(function)) - set(excluded)


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
        # Read before serving: finding a PyTorch model's attention layers runs it once, and
        # once requests arrive only the device worker may run a model.
        self.infos = {name: self._model_info(name) for name in config.models}

    # ---- request lifecycle --------------------------------------------------------------
    @contextmanager
    def _request(self, context, model: str, n: int = 0, what: str = "sequences"):
        """Admit a request of ``n`` sequences (or samples, ``what``) for ``model``, and bind it to
        the least loaded worker: yields the worker, the request's state and the routed model."""
        if model not in self.config.models:
            raise NotFound(f"model {model!r}: not served here; models are "
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
                yield worker, state, routed
            finally:
                worker.release(state)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _sequences(self, message: pb.Sequences, model) -> kx.SequenceSet:
        if message.WhichOneof("source") == "intervals":
            self._fasta(message.intervals.fasta)
        return wire.from_sequences(message, model.input_length, self.config.fastas)

    def _fasta(self, name: str, field: str = "fasta") -> str:
        if name not in self.config.fastas:
            raise NotFound(f"{field} {name!r}: not a FASTA of this server; it has "
                           f"{', '.join(sorted(self.config.fastas)) or 'none'}")
        return self.config.fastas[name]

    def _options(self, values, allowed=None, what: str = "") -> dict:
        """A request's keyword options, checked against what it may set."""
        limit = self.config.batching.max_samples
        options = wire.from_values(values)
        for name in SAMPLE_OPTIONS:
            if isinstance(options.get(name), int) and options[name] > limit:
                raise Busy(f"option {name}={options[name]}: this server allows at most {limit} "
                           "(batching.max_samples)")
        owned = sorted(set(options) & set(SERVER_OWNED))
        if owned:
            raise InputError(f"option(s) {', '.join(owned)}: set by the server, not by a request")
        if allowed is not None:
            unknown = sorted(set(options) - set(allowed))
            if unknown:
                raise InputError(f"option(s) {', '.join(unknown)} do not apply to {what}; it takes "
                                 f"{', '.join(sorted(allowed))}")
        return options

    def _model_info(self, name: str) -> pb.ModelInfo:
        """What a client needs to know to call model ``name``."""
        worker = self.workers[0]
        model = worker.model(name)
        levels = _entity_levels(model)
        dna = model.takes_dna
        shape = () if dna else model.layout.shape
        inputs = [level for level in levels if level.layer == INPUT]
        return pb.ModelInfo(
            name=name, framework=model.framework, input_length=model.input_length or 0,
            output_names=model.output_names, output_shape=model.output_shape,
            methods=available_methods(model),
            fingerprint=worker.fingerprint(name), input=model.layout.describe()["input"],
            input_shape=shape, attention_layers=attention_layers(model),
            entity_levels=[level.name for level in levels],
            input_features=inputs[0].units if inputs and len(shape) == 1 else [],
            extra_inputs=[pb.ExtraInputInfo(name=spec.name, shape=spec.shape, kind=spec.kind)
                          for spec in model.extra_inputs],
            vocabulary=model.layout.vocabulary if model.takes_tokens else [],
            pad=model.layout.pad if model.takes_tokens else 0)

    # ---- RPCs ---------------------------------------------------------------------------
    @_rpc
    def ListModels(self, request, context):
        return pb.ListModelsResponse(models=list(self.infos.values()),
                                     fastas=sorted(self.config.fastas),
                                     server_version=kx.__version__,
                                     max_sequences=self.config.batching.max_sequences)

    @_rpc
    def Predict(self, request, context):
        n = wire.n_sequences(request.sequences)
        with self._request(context, request.model, n) as (_, _, model):
            seqs = self._sequences(request.sequences, model)
            predictions = model.predict(seqs.onehot)
            return wire.prediction_response(predictions, model.output_names, seqs,
                                            model.describe())

    @_rpc
    def Explain(self, request, context):
        kind = request.WhichOneof("samples")
        with self._request(context, request.model, *_n_samples(request, kind)) as (
                worker, state, model):
            if not request.method:
                raise InputError(f"method: none given; expected one of {', '.join(METHODS)}")
            samples, names = self._samples(request, kind, model, "explain")
            run = functools.partial(kx.explain, seqs=samples, method=request.method,
                                    inputs=wire.from_inputs(request.inputs),
                                    **self._options(request.options))
            result = run(model)
            if names:
                result.names = names
            return wire.attribution_response(result)

    @_rpc
    def Motifs(self, request, context):
        allowed = _allowed_options(kx.motifs, *SERVER_OWNED, "seqs", "ambiguous")
        n = wire.n_sequences(request.sequences)
        with self._request(context, request.model, n) as (worker, state, model):
            options = self._options(request.options, allowed, "motifs")
            if options.get("database", "jaspar") != "jaspar":
                raise InputError("option database: a server matches against its own JASPAR "
                                 "releases only ('jaspar', with release=, collection=, "
                                 "tax_group=)")
            seqs = self._sequences(request.sequences, model) \
                if request.HasField("sequences") else None
            # Activations are read through forward hooks on the shared layers, and weights may
            # be mid-randomization by a diagnosis: motifs too run alone on the worker.
            return wire.motifs_response(worker.exclusive(
                state, request.model, lambda original: kx.motifs(original, seqs, **options)))

    @_rpc
    def Diagnose(self, request, context):
        allowed = _allowed_options(kx.diagnose, *SERVER_OWNED, "free_model")
        n = wire.n_sequences(request.sequences)
        with self._request(context, request.model, n) as (worker, state, model):
            options = self._options(request.options, allowed, "diagnose")
            labels = options.get("labels")
            if isinstance(labels, str):
                raise InputError("option labels: send the values (an array (N, T) or a map of "
                                 "output name to array), not a path on the server")
            free = request.free_model or None
            if free is not None and free not in self.config.models:
                raise NotFound(f"free_model {free!r}: not served here; models are "
                               f"{', '.join(sorted(self.config.models))}")
            seqs = self._sequences(request.sequences, model)
            checks = list(request.checks) or None
            # Diagnose randomizes and ablates weights in place: it runs alone on the worker.
            diagnosis = worker.exclusive(state, request.model, lambda original: kx.diagnose(
                original, seqs, checks,
                free_model=worker.model(free) if free else None, **options))
            return wire.diagnosis_response(diagnosis)

    @_rpc
    def Attention(self, request, context):
        name = request.model
        n = wire.n_sequences(request.sequences)
        with self._request(context, name, n) as (worker, state, model):
            model.require_dna("attention maps")
            if not self.infos[name].attention_layers:
                raise UnsupportedOperation(f"model {name!r} has no attention layers")
            seqs = self._sequences(request.sequences, model)
            layers, heads, query = (wire.from_value(value, field) for value, field in (
                (request.layers, "layers"), (request.heads, "heads"), (request.query, "query")))
            # Maps are read through forward hooks on the shared attention layers, with torch's
            # fused attention switched off process-wide: they run alone on the worker.
            maps = worker.exclusive(state, name, lambda original: kx.attention(
                original, seqs, layers, heads, request.reduce or None, query,
                batch_size=self._batch_size(worker, original),
                ambiguous=request.sequences.ambiguous or "uniform"))
            size = sum(a.nbytes for a in (maps.maps, maps.reduced, maps.inputs))
            if size > self.config.max_message_bytes:
                raise Busy(f"attention maps of {len(maps)} sequences take "
                           f"{size / 2 ** 20:.1f} MiB, more than this server sends in one "
                           f"message ({self.config.max_message_mb:g} MiB, max_message_mb): "
                           "ask for fewer sequences, layers or heads")
            return wire.attention_response(maps)

    @_rpc
    def Entities(self, request, context):
        name = request.model
        kind = request.WhichOneof("samples")
        n = _n_samples(request, kind)[0]
        with self._request(context, name, n, "samples") as (worker, state, model):
            info = self.infos[name]
            if "mapping" in request.options:
                raise InputError("option mapping: the server uses each model's own "
                                 "entities.yaml; a request cannot send one")
            method = request.method or "integrated_gradients"
            if method not in ENTITY_METHODS:
                raise InputError(f"method {method!r}: expected one of "
                                 f"{', '.join(ENTITY_METHODS)}")
            allowed = {"target", "reduce", *entity_method_options(method)}
            options = self._options(request.options, allowed, f"entity method {method!r}")
            if not info.entity_levels:
                raise UnsupportedOperation(f"model {name!r} declares no entities (no "
                                           "entities.yaml next to its model.yaml)")
            if request.level not in info.entity_levels:
                raise InputError(f"level {request.level!r}: model {name!r} declares "
                                 f"{', '.join(info.entity_levels)}")
            samples, names = self._samples(request, kind, model, "entities")
            importance = worker.exclusive(state, name, lambda original: kx.entities(
                original, samples, request.level, method,
                batch_size=self._batch_size(worker, original), **options))
            if names:
                importance.samples = names
            return wire.entities_response(importance)

    def _samples(self, request, kind: str | None, model, rpc: str):
        """The samples of an Explain or Entities request (``rpc``) in the form the model takes,
        and the names sent with features (None: keep the library's)."""
        name = request.model
        if model.takes_dna:
            if kind != "sequences":
                raise InputError(f"{rpc}: {kind or 'samples'}: model {name!r} takes one-hot DNA; "
                                 "send sequences")
            if request.sample_names:
                raise InputError("sample_names: sequences carry their own names "
                                 "(sequences.names)")
            return self._sequences(request.sequences, model), None
        if kind != "features":
            what = "token ids" if model.takes_tokens else "features"
            raise InputError(f"{rpc}: {kind or 'samples'}: model {name!r} takes {what} of "
                             f"shape {tuple(model.layout.shape)}, not DNA; send "
                             f"{'the ids as ' if model.takes_tokens else ''}features")
        features = wire.from_array(request.features, "features")
        names = list(request.sample_names) or None
        if names is not None and len(names) != len(features):
            raise InputError(f"sample_names: {len(names)} names for {len(features)} samples")
        return features, names

    @_rpc
    def Screen(self, request, context):
        name = request.model
        with self._request(context, name, wire.n_sequences(request.sequences)) as (_, _, model):
            model.require_dna("a region screen")
            ambiguous = request.sequences.ambiguous or "uniform"
            # Perturbed rows go through the model's forward pass only (no hooks, no weight
            # changes): they are merged with other requests' calls on the worker, as Explain's.
            if request.insert:
                if request.genome:
                    raise InputError("genome: fills the end of deleted windows; an insertion "
                                     "screen takes none")
                options = self._options(
                    request.options, _allowed_options(kx.insertion, *SERVER_OWNED, "ambiguous"),
                    "an insertion screen")
                seqs = self._sequences(request.sequences, model)
                result = kx.insertion(model, seqs, request.insert, ambiguous=ambiguous,
                                      inputs=wire.from_inputs(request.inputs), **options)
            else:
                options = self._options(
                    request.options,
                    _allowed_options(kx.screen, *SERVER_OWNED, "genome", "ambiguous"),
                    "a window screen")
                # A name of this server's FASTA files, never a path: the bases that fill a
                # deleted window are read from the server's own copy.
                genome = self._fasta(request.genome, "genome") if request.genome else None
                seqs = self._sequences(request.sequences, model)
                result = kx.screen(model, seqs, genome=genome, ambiguous=ambiguous,
                                   inputs=wire.from_inputs(request.inputs), **options)
            return wire.screen_response(result)

    @staticmethod
    def _batch_size(worker: DeviceWorker, model) -> int:
        """Rows per block of a job running alone on ``worker``: the model's, within the device
        batch as for merged calls."""
        return min(model.batch_size, worker.max_batch_size)

    def ScoreVariants(self, request_iterator, context):
        try:
            yield from self._score_variants(request_iterator, context)
        except Exception as err:  # noqa: BLE001 - every error becomes a status, never a crash
            _abort(context, err)

    def _score_variants(self, request_iterator, context):
        first = next(request_iterator, None)
        if first is None or first.WhichOneof("part") != "settings":
            raise InputError("ScoreVariants: the first message must carry settings (model, "
                             "fasta, method, options)")
        settings = first.settings
        allowed = _allowed_options(score_variants, *SERVER_OWNED) | \
            (set(method_options(settings.method)) if settings.method in METHODS
             else set())
        options = self._options(settings.options, allowed, "score_variants")
        if options.get("motifs") not in (None, "jaspar"):
            raise InputError("option motifs: a server scans its own JASPAR release only "
                             "('jaspar')")
        contig_map = options.get("contig_map")
        if contig_map is not None and not isinstance(contig_map, dict) and contig_map != "auto":
            raise InputError("option contig_map: expected 'auto' or a map of VCF contig to FASTA "
                             "contig, not a path on the server")
        fasta = self._fasta(settings.fasta)
        chunk_size = int(options.get("chunk_size", 256))
        with self._request(context, settings.model) as (_, _, model):
            effects = score_variants(model, _records(request_iterator), fasta,
                                     settings.method or None, **options)
            batch = []
            for effect in effects:
                batch.append(wire.variant_effect(effect))
                if len(batch) == chunk_size:
                    yield pb.ScoreVariantsResponse(effects=batch)
                    batch = []
            if batch:
                yield pb.ScoreVariantsResponse(effects=batch)

    @_rpc
    def Stats(self, request, context):
        return pb.StatsResponse(
            workers=[pb.WorkerStats(device=w.device, **vars(w.stats)) for w in self.workers],
            requests=self.requests, in_flight=self.in_flight, rejected=self.rejected)


def _entity_levels(model) -> tuple:
    """The levels of the model's entities.yaml; none when it has none or one that does not
    read (Entities then answers that the model declares no entities; the log says why)."""
    try:
        return entity_map(model).levels
    except InputError as err:
        log.info("model %s: no entity levels: %s", model.name, err)
        return ()


def _n_samples(request, kind: str | None) -> tuple[int, str]:
    """How many samples an Explain or Entities request holds, and what they are called."""
    if kind == "features":
        return (int(request.features.shape[0]) if request.features.shape else 0), "samples"
    return wire.n_sequences(request.sequences), "sequences"


def _records(request_iterator):
    """The VCF records of a ScoreVariants stream, in order."""
    for number, message in enumerate(request_iterator, start=2):
        if message.WhichOneof("part") != "records":
            raise InputError(f"ScoreVariants message {number}: expected records; settings "
                             "come only in the first message")
        yield from message.records.records
