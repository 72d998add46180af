"""The one codec between the library's values and ``kipoi_explain.v2`` messages.

Options and results travel as :class:`~kipoi_explain.v2.explain_pb2.Value`: numbers, text,
flags, packed arrays (their dtype kept), lists, ordered mappings, and *records*: instances of
the library's result types, field by field. A record type is any dataclass named in
:data:`RECORD_TYPES`; decoding builds only those, so a message can never make a client or a
server construct anything else. A record's metadata dicts (settings, target, model) travel as
the JSON the writers store; a field whose metadata says ``{"wire": False}`` (a pysam record
kept for writers) stays behind and decodes to its default.

Samples travel as :class:`~kipoi_explain.v2.explain_pb2.Samples`: DNA strings as text (the
server encodes them exactly as the library would), one-hot arrays as bytes (uint8 when hard),
intervals the server reads from its own FASTA by name, features and token ids as arrays.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from .attention_maps.positions import TokenPositions
from .commands.info import CommandInfo, ModelInfo, ParamInfo
from .errors import InputError
from .layouts import ConvLayer, ExtraInput, FeatureLayout, InputLayout, TokenLayout
from .outputs import Head
from .results import (AttentionMaps, Attribution, Diagnosis, EntityImportance, Evaluation,
                      Finding, Hits, Interval, Marginalization, ModiscoResult, Motif, MotifMatch,
                      MotifSet, Prediction, Screen, Spacing, VariantEffect, plain)
from .samples import Samples
from .sequences import SequenceSet, as_sequences, from_bed, from_strings
from .v2 import explain_pb2 as pb
from .variants.alleles import VariantRecord

#: Wire dtypes (little-endian) by the name an Array message carries; empty means float32.
DTYPES = {"float32": np.dtype("<f4"), "float64": np.dtype("<f8"), "int64": np.dtype("<i8"),
          "int32": np.dtype("<i4"), "uint8": np.dtype("u1"), "bool": np.dtype("?")}

#: The dataclasses that travel as records, by the name a Record message carries.
RECORD_TYPES = {cls.__name__: cls for cls in (
    Interval, Prediction, Attribution, AttentionMaps, TokenPositions, EntityImportance,
    MotifMatch, Motif, MotifSet, ModiscoResult, Finding, Diagnosis, Screen, Marginalization,
    Spacing, VariantEffect, VariantRecord, Hits, Evaluation,
    InputLayout, FeatureLayout, TokenLayout, ExtraInput, ConvLayer, ModelInfo, CommandInfo,
    ParamInfo, Head)}


# ---- arrays ---------------------------------------------------------------------------------
def to_array(values, dtype: str | None = None) -> pb.Array:
    """An array as a message: in ``dtype`` if given, else its own (one of :data:`DTYPES`)."""
    values = np.asarray(values)
    if dtype is None:
        dtype = next((name for name, kind in DTYPES.items()
                      if kind == values.dtype.newbyteorder("<")), None)
        if dtype is None:
            raise InputError(f"array of dtype {values.dtype} cannot be sent; expected one of "
                             f"{', '.join(DTYPES)}")
    values = np.asarray(values, dtype=DTYPES[dtype], order="C")
    return pb.Array(shape=values.shape, data=values.tobytes(),
                    dtype="" if dtype == "float32" else dtype)


def from_array(message: pb.Array, field: str = "array") -> np.ndarray:
    """The array in native byte order; an InputError naming ``field`` if it is malformed."""
    dtype = DTYPES.get(message.dtype or "float32")
    if dtype is None:
        raise InputError(f"{field}: dtype {message.dtype!r}, expected one of "
                         f"{', '.join(DTYPES)}")
    shape = tuple(message.shape)
    if any(n < 0 for n in shape):
        raise InputError(f"{field}: negative dimension in shape {shape}")
    # Python integers: a shape's product may not fit 64 bits (and must not wrap around).
    expected = math.prod(shape) * dtype.itemsize
    if len(message.data) != expected:
        raise InputError(f"{field}: {len(message.data)} bytes, expected {expected} for "
                         f"{dtype.name} shape {shape}")
    return np.frombuffer(message.data, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


# ---- values ---------------------------------------------------------------------------------
def encode(value) -> pb.Value:
    """Any option or result value as a message; tuples travel as lists, callables (in
    settings) as their name."""
    if value is None:
        return pb.Value(none=True)
    if isinstance(value, (bool, np.bool_)):
        return pb.Value(flag=bool(value))
    if isinstance(value, (int, np.integer)):
        return pb.Value(integer=int(value))
    if isinstance(value, (float, np.floating)):
        return pb.Value(number=float(value))
    if isinstance(value, str):
        return pb.Value(text=value)
    if isinstance(value, np.ndarray):
        return pb.Value(array=to_array(value))
    if isinstance(value, dict):
        return pb.Value(map=encode_entries(value))
    if isinstance(value, (list, tuple)):
        return pb.Value(list=pb.ValueList(values=[encode(v) for v in value]))
    if dataclasses.is_dataclass(value) and type(value).__name__ in RECORD_TYPES:
        return pb.Value(record=pb.Record(type=type(value).__name__,
                                         fields=encode_entries(_fields(value))))
    if callable(value):
        return pb.Value(text=getattr(value, "__name__", type(value).__name__))
    raise InputError(f"value {value!r} of type {type(value).__name__} cannot be sent; expected "
                     "None, a bool, number, string, array, list, dict or a result of the "
                     "library")


def _fields(record) -> dict:
    """A record's fields as they travel: metadata dicts as the JSON the writers store, dicts of
    arrays (``{"arrays": True}``) as they are, fields kept for local use
    (``{"wire": False}``) left behind."""
    fields = {}
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        if f.metadata.get("wire", True):
            fields[f.name] = plain(value) if isinstance(value, dict) and \
                not f.metadata.get("arrays") else value
    return fields


def decode(message: pb.Value, field: str = "value"):
    """The value a message holds; records become their library type. An InputError names
    ``field`` (and the path inside it) where the message is malformed."""
    kind = message.WhichOneof("kind")
    if kind is None or kind == "none":
        return None
    if kind == "array":
        return from_array(message.array, field)
    if kind == "list":
        return [decode(v, f"{field}[{i}]") for i, v in enumerate(message.list.values)]
    if kind == "map":
        return decode_entries(message.map, field)
    if kind == "record":
        return _record(message.record, field)
    return getattr(message, kind)


def encode_entries(values: dict) -> pb.Entries:
    """An ordered mapping; keys are strings (others are written as their ``str``, as the JSON
    the writers store)."""
    return pb.Entries(entries=[pb.Entry(key=str(key), value=encode(value))
                               for key, value in values.items()])


def decode_entries(message: pb.Entries, field: str = "options") -> dict:
    return {entry.key: decode(entry.value, f"{field}.{entry.key}") for entry in message.entries}


def _record(message: pb.Record, field: str):
    cls = RECORD_TYPES.get(message.type)
    if cls is None:
        raise InputError(f"{field}: record type {message.type!r} is not a result of this "
                         "library")
    values = decode_entries(message.fields, field)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise InputError(f"{field}: {message.type} has no field(s) {', '.join(unknown)}")
    for name, value in values.items():
        # Tuples travel as lists; frozen records (layouts) want theirs back.
        if isinstance(value, list) and str(fields[name].type).startswith("tuple"):
            values[name] = tuple(value)
    try:
        return cls(**values)
    except (TypeError, ValueError) as err:
        raise InputError(f"{field}: not a valid {message.type}: {err}") from None


# ---- samples and extra inputs ------------------------------------------------------------
def to_samples(seqs, names=None) -> pb.Samples:
    """DNA strings as text (encoded by the server with the request's ``ambiguous`` rule); a
    :class:`SequenceSet` or one-hot array as packed one-hot (uint8 when it is hard one-hot: a
    quarter of the bytes, the same values)."""
    if isinstance(seqs, SequenceSet):
        return to_samples(seqs.onehot, seqs.names)
    if isinstance(seqs, str):
        seqs = [seqs]
    if isinstance(seqs, (list, tuple)) and all(isinstance(s, str) for s in seqs):
        return pb.Samples(dna=pb.DnaStrings(sequences=seqs), names=names or [])
    array = np.asarray(seqs, dtype=np.float32)
    array = array[None] if array.ndim == 2 else array
    dtype = "uint8" if np.isin(array, (0, 1)).all() else "float32"
    return pb.Samples(onehot=to_array(array, dtype), names=names or [])


def feature_samples(x: np.ndarray, names=None) -> pb.Samples:
    """Features or token ids ``(N, *shape)``, with their sample names."""
    return pb.Samples(features=to_array(np.asarray(x, dtype=np.float32)), names=names or [])


def genome_intervals(fasta: str, intervals, use_strand: bool = False) -> pb.Samples:
    """Intervals the server reads from its configured FASTA named ``fasta``."""
    return pb.Samples(intervals=pb.GenomeIntervals(
        fasta=fasta, intervals=[pb.Interval(chrom=i.chrom, start=i.start, end=i.end,
                                            name=i.name, strand=i.strand, reverse=i.reverse)
                                for i in intervals], use_strand=use_strand))


def from_samples(message: pb.Samples, length: int | None, fastas: dict,
                 ambiguous: str = "uniform"):
    """The samples a request names: a :class:`SequenceSet` (checked as the library checks it)
    or, for features and token ids, :class:`~kipoi_explain.samples.Samples` with the names
    sent.

    ``fastas`` maps the names clients may use to the server's FASTA paths; a name outside it
    is an InputError (a client never names a server path). ``ambiguous`` encodes IUPAC codes
    of DNA strings and of the FASTA.
    """
    kind = message.WhichOneof("source")
    names = list(message.names) or None
    if kind == "features":
        x = from_array(message.features, "samples.features").astype(np.float32)
        if names is not None and len(names) != len(x):
            raise InputError(f"samples.names: {len(names)} names for {len(x)} samples")
        return Samples(x, names or [f"sample{i}" for i in range(len(x))])
    if kind == "intervals":
        where = message.intervals
        if where.fasta not in fastas:
            raise InputError(f"samples.intervals.fasta {where.fasta!r}: not a FASTA of this "
                             f"server; it has {', '.join(sorted(fastas)) or 'none'}")
        intervals = [Interval(i.chrom, i.start, i.end, i.name, i.strand or ".", i.reverse)
                     for i in where.intervals]
        return as_sequences(from_bed(intervals, fastas[where.fasta], length, where.use_strand,
                                     ambiguous), length)
    if kind == "dna":
        seqs = from_strings(list(message.dna.sequences), names, ambiguous)
    elif kind == "onehot":
        seqs = as_sequences(from_array(message.onehot, "samples.onehot").astype(np.float32))
        if names is not None:
            seqs.names = names
    else:
        raise InputError("samples: none given; expected dna, onehot, intervals or features")
    if names is not None and len(names) != len(seqs):
        raise InputError(f"samples.names: {len(names)} names for {len(seqs)} sequences")
    return as_sequences(seqs, length)


def n_samples(message: pb.Samples) -> int:
    """How many samples a message holds, before decoding it."""
    kind = message.WhichOneof("source")
    if kind == "dna":
        return len(message.dna.sequences)
    if kind in ("onehot", "features"):
        array = getattr(message, kind)
        return int(array.shape[0]) if array.shape else 0
    if kind == "intervals":
        return len(message.intervals.intervals)
    return 0


def to_inputs(inputs: dict | None) -> dict:
    """A model's extra inputs (name -> array) for a request's ``inputs`` map."""
    return {str(name): to_array(np.asarray(values, dtype=np.float32))
            for name, values in (inputs or {}).items()}


def from_inputs(inputs) -> dict | None:
    """A request's ``inputs`` map back to arrays (None when empty)."""
    return {name: from_array(values, f"inputs.{name}") for name, values in inputs.items()} \
        or None
