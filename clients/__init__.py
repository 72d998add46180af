"""Python client of the kipoi-explain gRPC service: the in-process API, served remotely.

>>> from kipoi_explain.client import Client
>>> client = Client("localhost:50051", token="...")
>>> r = client.explain("cnn", "examples/data/sequences.fa", "deepshap", target="CTCF")
>>> r.scores.shape                       # the same Attribution kipoi_explain.explain returns

Every call returns the library's own result objects; a server error raises ``grpc.RpcError``
whose ``.code()`` says what went wrong (INVALID_ARGUMENT names the offending item).
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import grpc
import numpy as np

from kipoi_explain import wire
from kipoi_explain.layouts import TokenLayout
from kipoi_explain.errors import InputError
from kipoi_explain.results import (AttentionMaps, Attribution, Diagnosis, EntityImportance,
                                   Interval, MotifSet, Screen, VariantEffect)
from kipoi_explain.sequences import FASTA_SUFFIXES, SequenceSet
from kipoi_explain.sequences.features import read_features
from kipoi_explain.sequences.tokens import read_tokens
from kipoi_explain.sequences.genome import read_bed, read_fasta
from kipoi_explain.v1 import explain_pb2 as pb
from kipoi_explain.v1 import explain_pb2_grpc as pb_grpc

__all__ = ["Client", "GenomeIntervals", "Prediction"]

#: Records per ScoreVariants message.
RECORDS_PER_MESSAGE = 256


@dataclass
class GenomeIntervals:
    """Intervals the server reads from one of its own FASTA files (by name, see
    :meth:`Client.fastas`), resized to the model's input length as ``from_bed`` does.

    ``intervals`` is a BED path (read here) or a list of :class:`Interval`.
    """

    fasta: str
    intervals: list[Interval] | str | Path
    use_strand: bool = False


@dataclass
class Prediction:
    """What :meth:`Client.predict` returns: the predictions and what they are of."""

    predictions: np.ndarray
    output_names: list[str]
    names: list[str]
    intervals: list[Interval] | None
    model: dict


class Client:
    """A connection to a kipoi-explain server.

    Parameters
    ----------
    address : str
        ``HOST:PORT``.
    token : str, optional
        Bearer token, when the server requires one.
    root_certificates : bytes or path, optional
        Use TLS, trusting these PEM certificates (``True``: the system's trust store).
    timeout : float, optional
        Deadline of each call in seconds (None: no deadline).
    max_message_mb : float
        Largest message sent or received.
    """

    def __init__(self, address: str, token: str | None = None, root_certificates=None,
                 timeout: float | None = None, max_message_mb: float = 64.0):
        limit = int(max_message_mb * 2 ** 20)
        options = [("grpc.max_receive_message_length", limit),
                   ("grpc.max_send_message_length", limit)]
        if root_certificates is None:
            self._channel = grpc.insecure_channel(address, options=options)
        else:
            pem = None if root_certificates is True else (
                root_certificates if isinstance(root_certificates, bytes)
                else Path(root_certificates).read_bytes())
            self._channel = grpc.secure_channel(
                address, grpc.ssl_channel_credentials(pem), options=options)
        self._stub = pb_grpc.ExplainServiceStub(self._channel)
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self.timeout = timeout
        self._infos: dict[str, dict] | None = None

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _call(self, rpc, request):
        return rpc(request, timeout=self.timeout, metadata=self._metadata)

    # ---- the service --------------------------------------------------------------------
    def models(self) -> list[dict]:
        """The server's models: name, framework, input length, outputs, attribution methods,
        fingerprint; ``input`` (``"dna"``, ``"features"`` or ``"tokens"``) and ``input_shape``
        (of one sample of features or tokens), ``attention_layers``, ``entity_levels``,
        ``input_features`` (names of the input features, in input order), ``extra_inputs``
        (``{name, shape, kind}`` of each input besides the main one) and ``vocabulary`` (token
        names by id)."""
        reply = self._call(self._stub.ListModels, pb.ListModelsRequest())
        infos = [{"name": m.name, "framework": m.framework, "input_length": m.input_length,
                  "output_names": list(m.output_names), "output_shape": list(m.output_shape),
                  "methods": list(m.methods), "fingerprint": m.fingerprint, "input": m.input,
                  "input_shape": list(m.input_shape),
                  "attention_layers": list(m.attention_layers),
                  "entity_levels": list(m.entity_levels),
                  "input_features": list(m.input_features),
                  "extra_inputs": [{"name": e.name, "shape": list(e.shape), "kind": e.kind}
                                   for e in m.extra_inputs],
                  "vocabulary": list(m.vocabulary), "pad": m.pad}
                 for m in reply.models]
        self._infos = {info["name"]: info for info in infos}
        return infos

    def fastas(self) -> list[str]:
        """Names of the FASTA files the server reads intervals and variants from."""
        return list(self._call(self._stub.ListModels, pb.ListModelsRequest()).fastas)

    def stats(self) -> pb.StatsResponse:
        """The server's batching counters."""
        return self._call(self._stub.Stats, pb.StatsRequest())

    def predict(self, model: str, seqs, ambiguous: str = "uniform") -> Prediction:
        """Predictions ``(N, *output_shape)`` of the server's model ``model``."""
        message, local = _sequences(seqs, ambiguous)
        reply = self._call(self._stub.Predict, pb.PredictRequest(model=model, sequences=message))
        return Prediction(wire.from_array(reply.predictions), list(reply.output_names),
                          list(reply.names),
                          _intervals(local, [wire.from_interval(i) for i in reply.intervals]),
                          wire.from_json(reply.model_json))

    def explain(self, model: str, seqs, method: str = "deepshap", target=0,
                ambiguous: str = "uniform", samples: list[str] | None = None,
                inputs: dict | None = None, **options) -> Attribution:
        """:func:`kipoi_explain.explain` on the server: the same arguments (a model name instead
        of a model), the same :class:`Attribution`.

        For a model of features, ``seqs`` is an array ``(N, *shape)`` or a local ``.npy`` or
        TSV/CSV file, read here as :meth:`entities` reads it (a table's columns put in the
        model's input order), and ``samples`` names the samples (default: a table's first
        column, else ``sample0``, ...). For a model of tokens, ``seqs`` is what
        :func:`~kipoi_explain.sequences.tokens.read_tokens` reads (ids, lists of token names, a
        local file), mapped to ids here with the server's vocabulary. ``inputs`` holds the
        model's extra inputs by name (arrays, one row per sample).
        """
        request = pb.ExplainRequest(model=model, method=method,
                                    options=wire.to_values({"target": target, **options}),
                                    inputs=self._extra_inputs(model, inputs))
        local = None
        info = None if _is_sequences(seqs) else self._model_info(model)
        if info is not None and info["input"] == "tokens":
            layout = TokenLayout(info["input_shape"][0], tuple(info["vocabulary"]), info["pad"])
            ids, names = read_tokens(seqs, layout)
            request.features.CopyFrom(wire.to_array(ids))
            request.sample_names.extend(samples if samples is not None else names)
        elif info is not None and info["input"] == "features":
            self._features(request, seqs, info, samples)
        else:
            if samples is not None:
                raise InputError("samples: names feature samples; sequences carry their own "
                                 "names")
            message, local = _sequences(seqs, ambiguous)
            request.sequences.CopyFrom(message)
        result = wire.from_attribution_response(self._call(self._stub.Explain, request))
        result.intervals = _intervals(local, result.intervals)
        return result

    def _extra_inputs(self, model: str, inputs: dict | None) -> dict:
        """The extra inputs for a request: arrays as given, local files read here with the
        shapes the server declares."""
        if not inputs:
            return {}
        info = self._model_info(model) or {"extra_inputs": []}
        shapes = {e["name"]: tuple(e["shape"]) for e in info["extra_inputs"]}
        arrays = {}
        for name, values in inputs.items():
            if isinstance(values, (str, Path)):
                if name not in shapes:
                    raise InputError(f"input {name!r}: model {model!r} takes no such input; it "
                                     f"takes {', '.join(shapes) or 'none'}")
                values = read_features(values, shapes[name])[0]
            arrays[name] = values
        return wire.to_inputs(arrays)

    @staticmethod
    def _features(request, x, info: dict, samples: list[str] | None) -> None:
        """Put the feature samples ``x`` (array or local file) and their names on ``request``."""
        features, names = read_features(x, tuple(info["input_shape"]),
                                        info["input_features"] or None)
        request.features.CopyFrom(wire.to_array(features))
        request.sample_names.extend(samples if samples is not None else names)

    def screen(self, model: str, seqs, window: int = 50, stride: int | None = None,
               perturbation: str = "shuffle", target=0, genome: str | None = None,
               ambiguous: str = "uniform", inputs: dict | None = None, **options) -> Screen:
        """:func:`kipoi_explain.screen` on the server, the same :class:`Screen`.

        ``genome`` (perturbation ``delete``) names one of the server's FASTA files
        (:meth:`fastas`), never a local path: the bases after each interval are read there,
        so ``seqs`` must then be :class:`GenomeIntervals` the server reads (from the same
        FASTA, for the fill to continue the sequences). ``options``: ``start``, ``end``,
        ``n_shuffles`` (at most the server's max_samples), ``seed``, ``reduce``, ``bins``;
        ``inputs``: the model's extra inputs by name.
        """
        message, local = _sequences(seqs, ambiguous)
        request = pb.ScreenRequest(model=model, sequences=message, genome=genome or "",
                                   inputs=self._extra_inputs(model, inputs),
                                   options=wire.to_values({
                                       "window": window, "stride": stride,
                                       "perturbation": perturbation, "target": target,
                                       **options}))
        result = wire.from_screen_response(self._call(self._stub.Screen, request))
        result.intervals = _intervals(local, result.intervals)
        return result

    def insertion(self, model: str, seqs, sequence: str, positions=None, stride: int = 1,
                  mode: str = "replace", target=0, ambiguous: str = "uniform",
                  inputs: dict | None = None, **options) -> Screen:
        """:func:`kipoi_explain.insertion` on the server, the same :class:`Screen`;
        ``options``: ``reduce``, ``bins``; ``inputs``: the model's extra inputs by name."""
        message, local = _sequences(seqs, ambiguous)
        if isinstance(positions, np.ndarray):
            # Positions travel as integers, as the in-process call reads them (an array Value
            # is float32).
            positions = positions.tolist()
        request = pb.ScreenRequest(model=model, sequences=message, insert=sequence,
                                   inputs=self._extra_inputs(model, inputs),
                                   options=wire.to_values({
                                       "positions": positions, "stride": stride, "mode": mode,
                                       "target": target, **options}))
        result = wire.from_screen_response(self._call(self._stub.Screen, request))
        result.intervals = _intervals(local, result.intervals)
        return result

    def motifs(self, model: str, seqs=None, ambiguous: str = "uniform", **options) -> MotifSet:
        """:func:`kipoi_explain.motifs` on the server (JASPAR only; no local database files)."""
        request = pb.MotifsRequest(model=model, options=wire.to_values(options))
        if seqs is not None:
            request.sequences.CopyFrom(_sequences(seqs, ambiguous)[0])
        return wire.from_motifs_response(self._call(self._stub.Motifs, request))

    def diagnose(self, model: str, seqs, checks=None, target=0, free_model: str | None = None,
                 ambiguous: str = "uniform", **options) -> Diagnosis:
        """:func:`kipoi_explain.diagnose` on the server; ``free_model`` names a server model."""
        message, _ = _sequences(seqs, ambiguous)
        reply = self._call(self._stub.Diagnose, pb.DiagnoseRequest(
            model=model, sequences=message, checks=list(checks or []),
            options=wire.to_values({"target": target, **options}), free_model=free_model or ""))
        return wire.from_diagnosis_response(reply)

    def attention(self, model: str, seqs, layers=None, heads=None, reduce: str | None = None,
                  query=None, ambiguous: str = "uniform") -> AttentionMaps:
        """:func:`kipoi_explain.attention` on the server: the same arguments (a model name
        instead of a model), the same :class:`AttentionMaps`."""
        message, local = _sequences(seqs, ambiguous)
        request = pb.AttentionRequest(model=model, sequences=message, reduce=reduce or "")
        for field, value in (("layers", layers), ("heads", heads), ("query", query)):
            if value is not None:
                # Arrays of indices travel as lists of integers, as the in-process call reads
                # them (an array Value is float32).
                getattr(request, field).CopyFrom(wire.to_value(
                    value.tolist() if isinstance(value, np.ndarray) else value))
        result = wire.from_attention_response(self._call(self._stub.Attention, request))
        result.intervals = _intervals(local, result.intervals)
        return result

    def entities(self, model: str, x, level: str, method: str = "integrated_gradients",
                 target=0, samples: list[str] | None = None, ambiguous: str = "uniform",
                 **options) -> EntityImportance:
        """:func:`kipoi_explain.entities` on the server, with the model's own entity mapping.

        ``x`` is, for a model of features, an array ``(N, *shape)`` or a local ``.npy`` or
        TSV/CSV file (read here as the in-process call reads it: a table's columns are put in
        the model's input order); for a DNA model, sequences as :meth:`explain` takes them.
        ``samples`` names the samples (default: a table's first column, else ``sample0``, ...,
        or the sequences' names).
        """
        info = self._model_info(model)
        request = pb.EntitiesRequest(model=model, level=level, method=method,
                                     options=wire.to_values({"target": target, **options}))
        if info is not None and info["input"] == "features":
            self._features(request, x, info, samples)
        elif info is not None:
            request.sequences.CopyFrom(_sequences(x, ambiguous)[0])
            if samples is not None:
                del request.sequences.names[:]
                request.sequences.names.extend(samples)
        # A model the server does not list goes unsent samples: the server names the model.
        return wire.from_entities_response(self._call(self._stub.Entities, request))

    def _model_info(self, name: str) -> dict | None:
        """The server's description of model ``name`` (listed once per client)."""
        if self._infos is None or name not in self._infos:
            self.models()
        return self._infos.get(name)

    def score_variants(self, model: str, vcf, fasta: str, method: str | None = None,
                       target="all", **options) -> Iterator[VariantEffect]:
        """:func:`kipoi_explain.variants.score_variants` on the server, streamed both ways.

        ``vcf`` is a local VCF path (read here with pysam) or an iterable of pysam-like records;
        ``fasta`` names one of the server's FASTA files. Yields one :class:`VariantEffect` per
        ALT allele in VCF order, each carrying its local record; raises RuntimeError if the
        server answered a different number of records than were sent.
        """
        from kipoi_explain.variants.alleles import open_vcf

        sent: deque = deque()          # (record index, record) not yet fully answered
        count = [0]                    # records sent
        settings = pb.VariantSettings(model=model, fasta=fasta, method=method or "",
                                      options=wire.to_values({"target": target, **options}))

        def requests(records):
            yield pb.ScoreVariantsRequest(settings=settings)
            batch = []
            for index, record in enumerate(records):
                sent.append((index, record))
                count[0] = index + 1
                batch.append(wire.to_variant_record(record))
                if len(batch) == RECORDS_PER_MESSAGE:
                    yield pb.ScoreVariantsRequest(records=pb.VariantRecords(records=batch))
                    batch = []
            if batch:
                yield pb.ScoreVariantsRequest(records=pb.VariantRecords(records=batch))

        def stream(records):
            replies = self._stub.ScoreVariants(requests(records), timeout=self.timeout,
                                               metadata=self._metadata)
            answered, last = 0, -1
            for reply in replies:
                for message in reply.effects:
                    while sent and sent[0][0] < message.record_index:
                        sent.popleft()
                    if not sent or sent[0][0] != message.record_index:
                        raise RuntimeError(f"server answered VCF record {message.record_index}, "
                                           "which is not the next one sent")
                    if message.record_index != last:
                        answered, last = answered + 1, message.record_index
                    yield wire.from_variant_effect(message, sent[0][1])
            if answered != count[0]:
                raise RuntimeError(f"server answered {answered} VCF records of {count[0]} sent")

        if isinstance(vcf, (str, Path)):
            with open_vcf(vcf) as source:
                yield from stream(source)
        else:
            yield from stream(vcf)


def _is_sequences(x) -> bool:
    """Whether ``x`` can only be DNA (sequences, intervals, DNA strings, a FASTA file), not
    feature samples."""
    if isinstance(x, (SequenceSet, GenomeIntervals)):
        return True
    if isinstance(x, (list, tuple)) and x and all(isinstance(s, str) for s in x):
        return True
    return isinstance(x, (str, Path)) and str(x).endswith(FASTA_SUFFIXES)


def _sequences(seqs, ambiguous: str) -> tuple[pb.Sequences, SequenceSet | None]:
    """The request's sequences, and the local SequenceSet whose intervals the result keeps."""
    if isinstance(seqs, GenomeIntervals):
        intervals = read_bed(seqs.intervals) if isinstance(seqs.intervals, (str, Path)) \
            else list(seqs.intervals)
        message = wire.genome_intervals(seqs.fasta, intervals, seqs.use_strand)
        message.ambiguous = ambiguous
        return message, None
    if isinstance(seqs, Path) or (isinstance(seqs, str) and seqs.endswith(FASTA_SUFFIXES)):
        names, strings = read_fasta(seqs)
        return wire.to_sequences(strings, ambiguous, names), None
    return wire.to_sequences(seqs, ambiguous), seqs if isinstance(seqs, SequenceSet) else None


def _intervals(local: SequenceSet | None, remote: list[Interval] | None):
    """Intervals of a local SequenceSet go back onto its result (they were not sent)."""
    return local.intervals if local is not None and local.intervals else (remote or None)
