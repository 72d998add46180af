"""Python client of the kipoi-explain gRPC service: the in-process API, served remotely.

>>> from kipoi_explain.client import Client
>>> client = Client("localhost:50051", token="...")
>>> r = client.explain("cnn", "examples/data/sequences.fa", "deepshap", target="CTCF")
>>> r.scores.shape                       # the same Attribution kipoi_explain.explain returns

Every command of the library (:mod:`kipoi_explain.commands`) is a method of the same name,
taking the library function's arguments with a model name of the server instead of a model:
``client.explain``, ``client.screen``, ``client.score_variants``, ... (``client.run(command,
model, ...)`` runs any of them by name). Local files (FASTA, BED, feature tables, token files,
extra inputs, contig maps) are read here and sent; results are the library's own objects. A
server error raises ``grpc.RpcError`` whose ``.code()`` says what went wrong
(INVALID_ARGUMENT names the offending item).
"""
from __future__ import annotations

from collections import deque
from pathlib import Path

import grpc
from kipoi_explain import codec
from kipoi_explain.commands import COMMANDS, CommandInfo, ModelInfo, get
from kipoi_explain.commands.base import Command
from kipoi_explain.errors import InputError, RemoteError
from kipoi_explain.samples import DNA, read_samples
from kipoi_explain.sequences import FASTA_SUFFIXES, SequenceSet
from kipoi_explain.sequences.features import read_features
from kipoi_explain.sequences.genome import GenomeIntervals, read_bed, read_fasta
from kipoi_explain.v2 import explain_pb2 as pb
from kipoi_explain.v2 import explain_pb2_grpc as pb_grpc
from kipoi_explain.variants.alleles import VariantRecord, open_vcf

__all__ = ["Client", "GenomeIntervals"]

#: Items per RunStream message.
ITEMS_PER_MESSAGE = 256


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
        self.address = address
        self._stub = pb_grpc.ExplainServiceStub(self._channel)
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self.timeout = timeout
        self._listing: pb.ListModelsResponse | None = None

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _call(self, rpc, request):
        return rpc(request, timeout=self.timeout, metadata=self._metadata)

    # ---- what the server offers -----------------------------------------------------------
    def _list(self, fresh: bool = False) -> pb.ListModelsResponse:
        if self._listing is None or fresh:
            self._listing = self._call(self._stub.ListModels, pb.ListModelsRequest())
        return self._listing

    def model_infos(self) -> list[ModelInfo]:
        """The server's models, as :class:`~kipoi_explain.commands.ModelInfo`."""
        return [codec.decode(m, "models") for m in self._list(fresh=True).models]

    def models(self) -> list[dict]:
        """The server's models as plain descriptions (see
        :meth:`~kipoi_explain.commands.ModelInfo.as_dict`): name, framework, input length,
        outputs, attribution methods, fingerprint, ``input`` and ``input_shape``,
        ``attention_layers``, ``entity_levels``, ``input_features``, ``extra_inputs``,
        ``vocabulary`` and ``pad``."""
        return [info.as_dict() for info in self.model_infos()]

    def model_info(self, name: str) -> ModelInfo:
        """The server's model ``name``; a :class:`RemoteError` NOT_FOUND when it serves none
        of that name."""
        infos = {info.name: info for info in (codec.decode(m, "models")
                                              for m in self._list().models)}
        if name not in infos:
            raise RemoteError("NOT_FOUND", f"model {name!r}: not served by {self.address}; it "
                                           f"serves {', '.join(sorted(infos))}")
        return infos[name]

    def fastas(self) -> list[str]:
        """Names of the FASTA files the server reads intervals and variants from."""
        return list(self._list(fresh=True).fastas)

    def commands(self) -> list[CommandInfo]:
        """The commands the server runs, with their options."""
        return [codec.decode(c, "commands") for c in self._list(fresh=True).commands]

    def stats(self) -> pb.StatsResponse:
        """The server's batching counters."""
        return self._call(self._stub.Stats, pb.StatsRequest())

    # ---- commands ---------------------------------------------------------------------------
    def run(self, command: str, model: str, *args, samples: list[str] | None = None, **kwargs):
        """Run ``command`` of the library on the server's model ``model``.

        ``args`` and ``kwargs`` are the library function's arguments after the model (the
        samples first). For a model of features or tokens, the samples may be an array, a
        local file or (tokens) lists of token names, read here as the library reads them;
        ``samples`` then names them (default: a table's first column, else ``sample0``, ...).
        DNA may be strings, a one-hot array, a :class:`~kipoi_explain.SequenceSet`, a local
        FASTA path, or :class:`GenomeIntervals` the server reads.

        Returns
        -------
        The command's result, as the library returns it (for a streaming command, an
        iterator of results).
        """
        declared = get(command)
        source, options = declared.bind(*args, **kwargs)
        inputs = options.pop("inputs", None)
        options = declared.resolve(options, "to_wire")
        request = pb.RunRequest(command=command, model=model,
                                options=codec.encode_entries(options),
                                inputs=self._extra_inputs(model, inputs))
        if declared.samples == "stream":
            return self._stream(request, source)
        local = None
        if source is not None:
            message, local = self._samples(model, source, samples,
                                           dna=declared.accepts == (DNA,))
            request.samples.CopyFrom(message)
        elif samples is not None:
            raise InputError("samples: names samples, and none were given")
        result = codec.decode(self._call(self._stub.Run, request).result, "result")
        if local is not None and local.intervals and hasattr(result, "intervals"):
            # Intervals read here were not sent: they go back onto the result.
            result.intervals = local.intervals
        return result

    def _samples(self, model: str, source, names, dna: bool = False):
        """The request's samples, and the local SequenceSet whose intervals the result keeps
        (``dna``: the command takes DNA only)."""
        if isinstance(source, GenomeIntervals):
            intervals = read_bed(source.intervals) \
                if isinstance(source.intervals, (str, Path)) else list(source.intervals)
            return codec.genome_intervals(source.fasta, intervals, source.use_strand), None
        # Obvious DNA needs no listing; a model the server does not list gets its samples sent
        # as DNA, and the server names the model.
        info = None if dna or _is_sequences(source) else self._known(model)
        if info is not None and info.input != DNA:
            read = read_samples(info.layout, source, feature_names=info.feature_names,
                                model_name=model)
            return codec.feature_samples(read.x, read.names if names is None else names), None
        if isinstance(source, Path) or (isinstance(source, str)
                                        and source.endswith(FASTA_SUFFIXES)):
            fasta_names, strings = read_fasta(source)
            return codec.to_samples(strings, names or fasta_names), None
        message = codec.to_samples(source)
        if names is not None:
            del message.names[:]
            message.names.extend(names)
        return message, source if isinstance(source, SequenceSet) else None

    def _known(self, model: str) -> ModelInfo | None:
        try:
            return self.model_info(model)
        except RemoteError:
            return None

    def _extra_inputs(self, model: str, inputs: dict | None) -> dict:
        """The extra inputs for a request: arrays as given, local files read here with the
        shapes the server declares."""
        if not inputs:
            return {}
        info = self._known(model)
        shapes = {e.name: tuple(e.shape) for e in (info.extra_inputs if info else [])}
        arrays = {}
        for name, values in inputs.items():
            if isinstance(values, (str, Path)):
                if name not in shapes:
                    raise InputError(f"input {name!r}: model {model!r} takes no such input; it "
                                     f"takes {', '.join(shapes) or 'none'}")
                values = read_features(values, shapes[name])[0]
            arrays[name] = values
        return codec.to_inputs(arrays)

    def _stream(self, request: pb.RunRequest, source):
        """A streaming command (score_variants): the VCF's records (a local path, or records
        with chrom, pos, id, ref and alts) go up in order, results come back in order, each
        with its local record; a RuntimeError when the server answers another number of
        records than were sent."""
        sent: deque = deque()          # (record index, record) not yet fully answered
        count = [0]                    # records sent

        def requests(records):
            yield pb.RunStreamRequest(start=request)
            batch = []
            for index, record in enumerate(records):
                sent.append((index, record))
                count[0] = index + 1
                batch.append(codec.encode(VariantRecord.of(record)))
                if len(batch) == ITEMS_PER_MESSAGE:
                    yield pb.RunStreamRequest(items=pb.ValueList(values=batch))
                    batch = []
            if batch:
                yield pb.RunStreamRequest(items=pb.ValueList(values=batch))

        def stream(records):
            replies = self._stub.RunStream(requests(records), timeout=self.timeout,
                                           metadata=self._metadata)
            answered, last = 0, -1
            for reply in replies:
                for message in reply.items.values:
                    effect = codec.decode(message, "result")
                    while sent and sent[0][0] < effect.record_index:
                        sent.popleft()
                    if not sent or sent[0][0] != effect.record_index:
                        raise RuntimeError(f"server answered VCF record {effect.record_index}, "
                                           "which is not the next one sent")
                    if effect.record_index != last:
                        answered, last = answered + 1, effect.record_index
                    effect.record = sent[0][1]
                    yield effect
            if answered != count[0]:
                raise RuntimeError(f"server answered {answered} VCF records of {count[0]} sent")

        if isinstance(source, (str, Path)):
            with open_vcf(source) as records:
                yield from stream(records)
        else:
            yield from stream(source)


def _command_method(command: Command):
    """``Client.<command>``: :meth:`Client.run` of that command, with the library function's
    documentation."""
    def method(self, model: str, *args, **kwargs):
        return self.run(command.name, model, *args, **kwargs)

    method.__name__ = method.__qualname__ = command.name
    method.__doc__ = (f":func:`{command.function.__module__}.{command.function.__name__}` on "
                      "the server: the same arguments, with a model name of the server instead "
                      f"of a model; see :meth:`Client.run`.\n\n{command.function.__doc__}")
    return method


for _command in COMMANDS.values():
    setattr(Client, _command.name, _command_method(_command))


def _is_sequences(x) -> bool:
    """Whether ``x`` can only be DNA (sequences, intervals, DNA strings, a FASTA file), not
    feature samples."""
    if isinstance(x, (SequenceSet, GenomeIntervals)):
        return True
    if isinstance(x, (list, tuple)) and x and all(isinstance(s, str) for s in x):
        return True
    return isinstance(x, (str, Path)) and str(x).endswith(FASTA_SUFFIXES)
