"""Results to and from ``kipoi_explain.v1`` messages: the one codec of the server and the client.

Arrays travel as packed little-endian float32 with their shape; free-form metadata (settings,
target, model description) as the JSON text the library's writers store. Decoding a response
gives back the same result objects the in-process API returns.
"""
from __future__ import annotations

import json

import numpy as np

from .attention_maps.positions import TokenPositions
from .errors import InputError
from .results import (AttentionMaps, Attribution, Diagnosis, EntityImportance, Finding, Interval,
                      Motif, MotifMatch, MotifSet, Screen, VariantEffect, _plain)
from .sequences import SequenceSet, as_sequences, from_bed, from_strings
from .v1 import explain_pb2 as pb

#: Wire dtypes (little-endian) by the name an Array message carries; empty means float32.
DTYPES = {"float32": np.dtype("<f4"), "int64": np.dtype("<i8"), "uint8": np.dtype("u1"),
          "float64": np.dtype("<f8")}


# ---- arrays and keyword values ------------------------------------------------------------
def to_array(values, dtype: str = "float32") -> pb.Array:
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
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(message.data) != expected:
        raise InputError(f"{field}: {len(message.data)} bytes, expected {expected} for "
                         f"{dtype.name} shape {shape}")
    return np.frombuffer(message.data, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def to_value(value) -> pb.Value:
    """A keyword argument's value; tuples become lists, numpy arrays float32 arrays."""
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
        return pb.Value(map=pb.ValueMap(values=to_values(value)))
    if isinstance(value, (list, tuple)):
        return pb.Value(list=pb.ValueList(values=[to_value(v) for v in value]))
    raise InputError(f"option value {value!r} of type {type(value).__name__} cannot be sent; "
                     "expected None, a bool, number, string, array, list or dict")


def from_value(message: pb.Value, field: str = "option"):
    kind = message.WhichOneof("kind")
    if kind is None or kind == "none":
        return None
    if kind == "array":
        return from_array(message.array, field)
    if kind == "list":
        return [from_value(v, f"{field}[{i}]") for i, v in enumerate(message.list.values)]
    if kind == "map":
        return from_values(message.map.values, field)
    return getattr(message, kind)


def to_values(options: dict) -> dict:
    return {str(name): to_value(value) for name, value in options.items()}


def from_values(values, field: str = "options") -> dict:
    return {name: from_value(value, f"{field}.{name}") for name, value in values.items()}


def _json(value) -> str:
    return json.dumps(_plain(value))


def from_json(text: str):
    return json.loads(text) if text else {}


# ---- sequences ----------------------------------------------------------------------------
def to_interval(interval: Interval) -> pb.Interval:
    return pb.Interval(chrom=interval.chrom, start=interval.start, end=interval.end,
                       name=interval.name, strand=interval.strand, reverse=interval.reverse)


def from_interval(message: pb.Interval) -> Interval:
    return Interval(message.chrom, message.start, message.end, message.name,
                    message.strand or ".", message.reverse)


def to_sequences(seqs, ambiguous: str = "uniform", names=None) -> pb.Sequences:
    """DNA strings travel as text (the server encodes them exactly as ``as_sequences`` would);
    a :class:`SequenceSet` or array as packed one-hot."""
    if isinstance(seqs, SequenceSet):
        return to_sequences(seqs.onehot, ambiguous, seqs.names)
    if isinstance(seqs, str):
        seqs = [seqs]
    if isinstance(seqs, (list, tuple)) and all(isinstance(s, str) for s in seqs):
        return pb.Sequences(dna=pb.DnaStrings(sequences=seqs), names=names or [],
                            ambiguous=ambiguous)
    array = np.asarray(seqs, dtype=np.float32)
    array = array[None] if array.ndim == 2 else array
    # A hard one-hot array travels as uint8: a quarter of the bytes, the same values.
    dtype = "uint8" if np.isin(array, (0, 1)).all() else "float32"
    return pb.Sequences(onehot=to_array(array, dtype), names=names or [], ambiguous=ambiguous)


def genome_intervals(fasta: str, intervals, use_strand: bool = False) -> pb.Sequences:
    """Intervals the server reads from its configured FASTA named ``fasta``."""
    return pb.Sequences(intervals=pb.GenomeIntervals(
        fasta=fasta, intervals=[to_interval(i) for i in intervals], use_strand=use_strand))


def from_sequences(message: pb.Sequences, length: int | None, fastas: dict) -> SequenceSet:
    """The :class:`SequenceSet` a request names, checked as the in-process API checks it.

    ``fastas`` maps the names clients may use to the server's FASTA paths; a name outside it
    is an InputError (a client never names a server path).
    """
    ambiguous = message.ambiguous or "uniform"
    kind = message.WhichOneof("source")
    names = list(message.names) or None
    if kind == "intervals":
        where = message.intervals
        if where.fasta not in fastas:
            raise InputError(f"sequences.intervals.fasta {where.fasta!r}: not a FASTA of this "
                             f"server; it has {', '.join(sorted(fastas)) or 'none'}")
        intervals = [from_interval(i) for i in where.intervals]
        return as_sequences(from_bed(intervals, fastas[where.fasta], length, where.use_strand,
                                     ambiguous), length)
    if kind == "dna":
        seqs = from_strings(list(message.dna.sequences), names, ambiguous)
    elif kind == "onehot":
        seqs = as_sequences(from_array(message.onehot, "sequences.onehot").astype(np.float32))
        if names is not None:
            seqs.names = names
    else:
        raise InputError("sequences: none given; expected dna, onehot or intervals")
    if names is not None and len(names) != len(seqs):
        raise InputError(f"sequences.names: {len(names)} names for {len(seqs)} sequences")
    return as_sequences(seqs, length)


def n_sequences(message: pb.Sequences) -> int:
    kind = message.WhichOneof("source")
    if kind == "dna":
        return len(message.dna.sequences)
    if kind == "onehot":
        return int(message.onehot.shape[0]) if message.onehot.shape else 0
    if kind == "intervals":
        return len(message.intervals.intervals)
    return 0


# ---- results ------------------------------------------------------------------------------
def _optional_array(values) -> pb.Array | None:
    return None if values is None else to_array(values)


def attribution_response(result: Attribution) -> pb.ExplainResponse:
    return pb.ExplainResponse(
        scores=to_array(result.scores), method=result.method, target_json=_json(result.target),
        predictions=to_array(result.predictions), inputs=to_array(result.inputs),
        settings_json=_json(result.settings), delta=_optional_array(result.delta),
        hypothetical=_optional_array(result.hypothetical), names=result.names,
        intervals=[to_interval(i) for i in result.intervals or []],
        model_json=_json(result.model),
        extra_scores={name: to_array(v) for name, v in (result.extra_scores or {}).items()})


def to_inputs(inputs: dict | None) -> dict:
    """A model's extra inputs (name -> array) for a request's ``inputs`` map."""
    return {str(name): to_array(np.asarray(values, dtype=np.float32))
            for name, values in (inputs or {}).items()}


def from_inputs(inputs) -> dict | None:
    """A request's ``inputs`` map back to arrays (None when empty)."""
    return {name: from_array(values, f"inputs.{name}") for name, values in inputs.items()} \
        or None


def from_attribution_response(message: pb.ExplainResponse) -> Attribution:
    return Attribution(
        scores=from_array(message.scores), method=message.method,
        target=from_json(message.target_json), predictions=from_array(message.predictions),
        inputs=from_array(message.inputs), settings=from_json(message.settings_json),
        delta=from_array(message.delta) if message.HasField("delta") else None,
        hypothetical=from_array(message.hypothetical)
        if message.HasField("hypothetical") else None,
        names=list(message.names),
        intervals=[from_interval(i) for i in message.intervals] or None,
        model=from_json(message.model_json),
        extra_scores={name: from_array(v) for name, v in message.extra_scores.items()} or None)


def prediction_response(predictions: np.ndarray, output_names, sequences: SequenceSet,
                        model: dict) -> pb.PredictResponse:
    return pb.PredictResponse(predictions=to_array(predictions), output_names=output_names,
                              names=sequences.names,
                              intervals=[to_interval(i) for i in sequences.intervals or []],
                              model_json=_json(model))


def motifs_response(found: MotifSet) -> pb.MotifsResponse:
    return pb.MotifsResponse(
        motifs=[pb.Motif(name=m.name, pfm=to_array(m.pfm), pwm=to_array(m.pwm),
                         information_content=to_array(m.information_content),
                         n_sites=m.n_sites, core_start=m.core[0], core_end=m.core[1],
                         matches=[pb.MotifMatch(id=x.id, name=x.name, p_value=x.p_value,
                                                q_value=x.q_value, offset=x.offset,
                                                strand=x.strand) for x in m.matches],
                         details_json=_json(m.details)) for m in found.motifs],
        method=found.method, database_json=_json(found.database),
        settings_json=_json(found.settings), model_json=_json(found.model))


def from_motifs_response(message: pb.MotifsResponse) -> MotifSet:
    motifs = [Motif(m.name, from_array(m.pfm), from_array(m.pwm),
                    from_array(m.information_content), int(m.n_sites),
                    (int(m.core_start), int(m.core_end)),
                    [MotifMatch(x.id, x.name, x.p_value, x.q_value, int(x.offset), x.strand)
                     for x in m.matches], from_json(m.details_json))
              for m in message.motifs]
    return MotifSet(motifs, message.method, from_json(message.database_json),
                    from_json(message.settings_json), from_json(message.model_json))


def diagnosis_response(diagnosis: Diagnosis) -> pb.DiagnoseResponse:
    return pb.DiagnoseResponse(report_json=json.dumps(diagnosis.as_dict()))


def from_diagnosis_response(message: pb.DiagnoseResponse) -> Diagnosis:
    report = json.loads(message.report_json)
    return Diagnosis(report["model"], [Finding(**f) for f in report["findings"]],
                     report["measurements"], report["settings"])


def to_variant_record(record) -> pb.VariantRecord:
    """A pysam record (or anything with chrom, pos, id, ref, alts) as sent to the server."""
    return pb.VariantRecord(chrom=record.chrom, pos=record.pos, id=record.id or "",
                            ref=record.ref or "", alts=list(record.alts or ()))


def variant_effect(effect: VariantEffect) -> pb.VariantEffect:
    message = pb.VariantEffect(
        chrom=effect.chrom, pos=effect.pos, id=effect.id or "", ref=effect.ref,
        alt=effect.alt or "", record_index=effect.record_index, alt_index=effect.alt_index,
        status=effect.status, outputs=effect.outputs,
        scores={k: to_array(v) for k, v in effect.scores.items()},
        attribution={k: to_array(v) for k, v in (effect.attribution or {}).items()},
        motif_json=_json(effect.motif) if effect.motif is not None else "")
    if effect.window_start is not None:
        message.window_start = effect.window_start
    if effect.alt_to_ref is not None:
        message.alt_to_ref.CopyFrom(to_array(effect.alt_to_ref, "int64"))
    return message


def from_variant_effect(message: pb.VariantEffect, record=None) -> VariantEffect:
    return VariantEffect(
        message.chrom, int(message.pos), message.id or None, message.ref, message.alt or None,
        int(message.record_index), int(message.alt_index), message.status,
        tuple(message.outputs), {k: from_array(v) for k, v in message.scores.items()},
        int(message.window_start) if message.HasField("window_start") else None,
        from_array(message.alt_to_ref) if message.HasField("alt_to_ref") else None,
        {k: from_array(v) for k, v in message.attribution.items()} or None,
        json.loads(message.motif_json) if message.motif_json else None, record)


def _token_positions(positions: TokenPositions) -> pb.TokenPositions:
    return pb.TokenPositions(spans=to_array(positions.spans, "int64"),
                             centers=to_array(positions.centers, "float64"),
                             source=positions.source)


def _from_token_positions(message: pb.TokenPositions) -> TokenPositions:
    return TokenPositions(from_array(message.spans), from_array(message.centers), message.source)


def attention_response(maps: AttentionMaps) -> pb.AttentionResponse:
    return pb.AttentionResponse(
        maps=to_array(maps.maps), layers=maps.layers, heads=maps.heads, reduce=maps.reduce or "",
        reduced=to_array(maps.reduced),
        query=None if maps.query is None else to_array(maps.query, "int64"),
        query_positions=_token_positions(maps.query_positions),
        key_positions=_token_positions(maps.key_positions),
        predictions=to_array(maps.predictions), inputs=to_array(maps.inputs), names=maps.names,
        intervals=[to_interval(i) for i in maps.intervals or []],
        settings_json=_json(maps.settings), model_json=_json(maps.model))


def from_attention_response(message: pb.AttentionResponse) -> AttentionMaps:
    return AttentionMaps(
        maps=from_array(message.maps), layers=list(message.layers),
        heads=[int(h) for h in message.heads], reduce=message.reduce or None,
        reduced=from_array(message.reduced),
        query=from_array(message.query) if message.HasField("query") else None,
        query_positions=_from_token_positions(message.query_positions),
        key_positions=_from_token_positions(message.key_positions),
        predictions=from_array(message.predictions), inputs=from_array(message.inputs),
        names=list(message.names),
        intervals=[from_interval(i) for i in message.intervals] or None,
        settings=from_json(message.settings_json), model=from_json(message.model_json))


def entities_response(importance: EntityImportance) -> pb.EntitiesResponse:
    return pb.EntitiesResponse(
        level=importance.level, layer=importance.layer, method=importance.method,
        entities=importance.entities, scores=to_array(importance.scores),
        target_json=_json(importance.target), predictions=to_array(importance.predictions),
        samples=importance.samples, delta=_optional_array(importance.delta),
        settings_json=_json(importance.settings), model_json=_json(importance.model))


def from_entities_response(message: pb.EntitiesResponse) -> EntityImportance:
    return EntityImportance(
        level=message.level, layer=message.layer, method=message.method,
        entities=list(message.entities), scores=from_array(message.scores),
        target=from_json(message.target_json), predictions=from_array(message.predictions),
        samples=list(message.samples),
        delta=from_array(message.delta) if message.HasField("delta") else None,
        settings=from_json(message.settings_json), model=from_json(message.model_json))


def screen_response(result: Screen) -> pb.ScreenResponse:
    return pb.ScreenResponse(
        effects=to_array(result.effects), perturbed=to_array(result.perturbed),
        starts=to_array(result.starts, "int64"), ends=to_array(result.ends, "int64"),
        reference=to_array(result.reference), perturbation=result.perturbation,
        target_json=_json(result.target), predictions=to_array(result.predictions),
        names=result.names, intervals=[to_interval(i) for i in result.intervals or []],
        settings_json=_json(result.settings), model_json=_json(result.model))


def from_screen_response(message: pb.ScreenResponse) -> Screen:
    return Screen(
        effects=from_array(message.effects), perturbed=from_array(message.perturbed),
        starts=from_array(message.starts), ends=from_array(message.ends),
        reference=from_array(message.reference), perturbation=message.perturbation,
        target=from_json(message.target_json), predictions=from_array(message.predictions),
        names=list(message.names),
        intervals=[from_interval(i) for i in message.intervals] or None,
        settings=from_json(message.settings_json), model=from_json(message.model_json))
