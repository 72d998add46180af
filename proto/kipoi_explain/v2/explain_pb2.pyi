from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Array(_message.Message):
    __slots__ = ("shape", "data", "dtype")
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    shape: _containers.RepeatedScalarFieldContainer[int]
    data: bytes
    dtype: str
    def __init__(self, shape: _Optional[_Iterable[int]] = ..., data: _Optional[bytes] = ..., dtype: _Optional[str] = ...) -> None: ...

class Interval(_message.Message):
    __slots__ = ("chrom", "start", "end", "name", "strand", "reverse")
    CHROM_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STRAND_FIELD_NUMBER: _ClassVar[int]
    REVERSE_FIELD_NUMBER: _ClassVar[int]
    chrom: str
    start: int
    end: int
    name: str
    strand: str
    reverse: bool
    def __init__(self, chrom: _Optional[str] = ..., start: _Optional[int] = ..., end: _Optional[int] = ..., name: _Optional[str] = ..., strand: _Optional[str] = ..., reverse: _Optional[bool] = ...) -> None: ...

class Samples(_message.Message):
    __slots__ = ("dna", "onehot", "intervals", "features", "names")
    DNA_FIELD_NUMBER: _ClassVar[int]
    ONEHOT_FIELD_NUMBER: _ClassVar[int]
    INTERVALS_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    NAMES_FIELD_NUMBER: _ClassVar[int]
    dna: DnaStrings
    onehot: Array
    intervals: GenomeIntervals
    features: Array
    names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, dna: _Optional[_Union[DnaStrings, _Mapping]] = ..., onehot: _Optional[_Union[Array, _Mapping]] = ..., intervals: _Optional[_Union[GenomeIntervals, _Mapping]] = ..., features: _Optional[_Union[Array, _Mapping]] = ..., names: _Optional[_Iterable[str]] = ...) -> None: ...

class DnaStrings(_message.Message):
    __slots__ = ("sequences",)
    SEQUENCES_FIELD_NUMBER: _ClassVar[int]
    sequences: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, sequences: _Optional[_Iterable[str]] = ...) -> None: ...

class GenomeIntervals(_message.Message):
    __slots__ = ("fasta", "intervals", "use_strand")
    FASTA_FIELD_NUMBER: _ClassVar[int]
    INTERVALS_FIELD_NUMBER: _ClassVar[int]
    USE_STRAND_FIELD_NUMBER: _ClassVar[int]
    fasta: str
    intervals: _containers.RepeatedCompositeFieldContainer[Interval]
    use_strand: bool
    def __init__(self, fasta: _Optional[str] = ..., intervals: _Optional[_Iterable[_Union[Interval, _Mapping]]] = ..., use_strand: _Optional[bool] = ...) -> None: ...

class Value(_message.Message):
    __slots__ = ("none", "flag", "integer", "number", "text", "array", "list", "map", "record")
    NONE_FIELD_NUMBER: _ClassVar[int]
    FLAG_FIELD_NUMBER: _ClassVar[int]
    INTEGER_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    ARRAY_FIELD_NUMBER: _ClassVar[int]
    LIST_FIELD_NUMBER: _ClassVar[int]
    MAP_FIELD_NUMBER: _ClassVar[int]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    none: bool
    flag: bool
    integer: int
    number: float
    text: str
    array: Array
    list: ValueList
    map: Entries
    record: Record
    def __init__(self, none: _Optional[bool] = ..., flag: _Optional[bool] = ..., integer: _Optional[int] = ..., number: _Optional[float] = ..., text: _Optional[str] = ..., array: _Optional[_Union[Array, _Mapping]] = ..., list: _Optional[_Union[ValueList, _Mapping]] = ..., map: _Optional[_Union[Entries, _Mapping]] = ..., record: _Optional[_Union[Record, _Mapping]] = ...) -> None: ...

class ValueList(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedCompositeFieldContainer[Value]
    def __init__(self, values: _Optional[_Iterable[_Union[Value, _Mapping]]] = ...) -> None: ...

class Entries(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[Entry]
    def __init__(self, entries: _Optional[_Iterable[_Union[Entry, _Mapping]]] = ...) -> None: ...

class Entry(_message.Message):
    __slots__ = ("key", "value")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: Value
    def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Value, _Mapping]] = ...) -> None: ...

class Record(_message.Message):
    __slots__ = ("type", "fields")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    type: str
    fields: Entries
    def __init__(self, type: _Optional[str] = ..., fields: _Optional[_Union[Entries, _Mapping]] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("models", "fastas", "server_version", "max_sequences", "commands", "max_samples")
    MODELS_FIELD_NUMBER: _ClassVar[int]
    FASTAS_FIELD_NUMBER: _ClassVar[int]
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    MAX_SEQUENCES_FIELD_NUMBER: _ClassVar[int]
    COMMANDS_FIELD_NUMBER: _ClassVar[int]
    MAX_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[Value]
    fastas: _containers.RepeatedScalarFieldContainer[str]
    server_version: str
    max_sequences: int
    commands: _containers.RepeatedCompositeFieldContainer[Value]
    max_samples: int
    def __init__(self, models: _Optional[_Iterable[_Union[Value, _Mapping]]] = ..., fastas: _Optional[_Iterable[str]] = ..., server_version: _Optional[str] = ..., max_sequences: _Optional[int] = ..., commands: _Optional[_Iterable[_Union[Value, _Mapping]]] = ..., max_samples: _Optional[int] = ...) -> None: ...

class RunRequest(_message.Message):
    __slots__ = ("command", "model", "samples", "options", "inputs")
    class InputsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Array
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Array, _Mapping]] = ...) -> None: ...
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    command: str
    model: str
    samples: Samples
    options: Entries
    inputs: _containers.MessageMap[str, Array]
    def __init__(self, command: _Optional[str] = ..., model: _Optional[str] = ..., samples: _Optional[_Union[Samples, _Mapping]] = ..., options: _Optional[_Union[Entries, _Mapping]] = ..., inputs: _Optional[_Mapping[str, Array]] = ...) -> None: ...

class RunResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: Value
    def __init__(self, result: _Optional[_Union[Value, _Mapping]] = ...) -> None: ...

class RunStreamRequest(_message.Message):
    __slots__ = ("start", "items")
    START_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    start: RunRequest
    items: ValueList
    def __init__(self, start: _Optional[_Union[RunRequest, _Mapping]] = ..., items: _Optional[_Union[ValueList, _Mapping]] = ...) -> None: ...

class RunStreamResponse(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: ValueList
    def __init__(self, items: _Optional[_Union[ValueList, _Mapping]] = ...) -> None: ...

class StatsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WorkerStats(_message.Message):
    __slots__ = ("device", "batches", "calls", "rows", "merged_batches", "max_calls_per_batch", "restarts")
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    BATCHES_FIELD_NUMBER: _ClassVar[int]
    CALLS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    MERGED_BATCHES_FIELD_NUMBER: _ClassVar[int]
    MAX_CALLS_PER_BATCH_FIELD_NUMBER: _ClassVar[int]
    RESTARTS_FIELD_NUMBER: _ClassVar[int]
    device: str
    batches: int
    calls: int
    rows: int
    merged_batches: int
    max_calls_per_batch: int
    restarts: int
    def __init__(self, device: _Optional[str] = ..., batches: _Optional[int] = ..., calls: _Optional[int] = ..., rows: _Optional[int] = ..., merged_batches: _Optional[int] = ..., max_calls_per_batch: _Optional[int] = ..., restarts: _Optional[int] = ...) -> None: ...

class StatsResponse(_message.Message):
    __slots__ = ("workers", "requests", "in_flight", "rejected")
    WORKERS_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    workers: _containers.RepeatedCompositeFieldContainer[WorkerStats]
    requests: int
    in_flight: int
    rejected: int
    def __init__(self, workers: _Optional[_Iterable[_Union[WorkerStats, _Mapping]]] = ..., requests: _Optional[int] = ..., in_flight: _Optional[int] = ..., rejected: _Optional[int] = ...) -> None: ...
