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

class Sequences(_message.Message):
    __slots__ = ("dna", "onehot", "intervals", "names", "ambiguous")
    DNA_FIELD_NUMBER: _ClassVar[int]
    ONEHOT_FIELD_NUMBER: _ClassVar[int]
    INTERVALS_FIELD_NUMBER: _ClassVar[int]
    NAMES_FIELD_NUMBER: _ClassVar[int]
    AMBIGUOUS_FIELD_NUMBER: _ClassVar[int]
    dna: DnaStrings
    onehot: Array
    intervals: GenomeIntervals
    names: _containers.RepeatedScalarFieldContainer[str]
    ambiguous: str
    def __init__(self, dna: _Optional[_Union[DnaStrings, _Mapping]] = ..., onehot: _Optional[_Union[Array, _Mapping]] = ..., intervals: _Optional[_Union[GenomeIntervals, _Mapping]] = ..., names: _Optional[_Iterable[str]] = ..., ambiguous: _Optional[str] = ...) -> None: ...

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
    __slots__ = ("none", "flag", "integer", "number", "text", "array", "list", "map")
    NONE_FIELD_NUMBER: _ClassVar[int]
    FLAG_FIELD_NUMBER: _ClassVar[int]
    INTEGER_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    ARRAY_FIELD_NUMBER: _ClassVar[int]
    LIST_FIELD_NUMBER: _ClassVar[int]
    MAP_FIELD_NUMBER: _ClassVar[int]
    none: bool
    flag: bool
    integer: int
    number: float
    text: str
    array: Array
    list: ValueList
    map: ValueMap
    def __init__(self, none: _Optional[bool] = ..., flag: _Optional[bool] = ..., integer: _Optional[int] = ..., number: _Optional[float] = ..., text: _Optional[str] = ..., array: _Optional[_Union[Array, _Mapping]] = ..., list: _Optional[_Union[ValueList, _Mapping]] = ..., map: _Optional[_Union[ValueMap, _Mapping]] = ...) -> None: ...

class ValueList(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedCompositeFieldContainer[Value]
    def __init__(self, values: _Optional[_Iterable[_Union[Value, _Mapping]]] = ...) -> None: ...

class ValueMap(_message.Message):
    __slots__ = ("values",)
    class ValuesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Value, _Mapping]] = ...) -> None: ...
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.MessageMap[str, Value]
    def __init__(self, values: _Optional[_Mapping[str, Value]] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ModelInfo(_message.Message):
    __slots__ = ("name", "framework", "input_length", "output_names", "output_shape", "methods", "fingerprint", "input", "input_shape", "attention_layers", "entity_levels", "input_features", "extra_inputs", "vocabulary", "pad")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FRAMEWORK_FIELD_NUMBER: _ClassVar[int]
    INPUT_LENGTH_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_NAMES_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_SHAPE_FIELD_NUMBER: _ClassVar[int]
    METHODS_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    INPUT_SHAPE_FIELD_NUMBER: _ClassVar[int]
    ATTENTION_LAYERS_FIELD_NUMBER: _ClassVar[int]
    ENTITY_LEVELS_FIELD_NUMBER: _ClassVar[int]
    INPUT_FEATURES_FIELD_NUMBER: _ClassVar[int]
    EXTRA_INPUTS_FIELD_NUMBER: _ClassVar[int]
    VOCABULARY_FIELD_NUMBER: _ClassVar[int]
    PAD_FIELD_NUMBER: _ClassVar[int]
    name: str
    framework: str
    input_length: int
    output_names: _containers.RepeatedScalarFieldContainer[str]
    output_shape: _containers.RepeatedScalarFieldContainer[int]
    methods: _containers.RepeatedScalarFieldContainer[str]
    fingerprint: str
    input: str
    input_shape: _containers.RepeatedScalarFieldContainer[int]
    attention_layers: _containers.RepeatedScalarFieldContainer[str]
    entity_levels: _containers.RepeatedScalarFieldContainer[str]
    input_features: _containers.RepeatedScalarFieldContainer[str]
    extra_inputs: _containers.RepeatedCompositeFieldContainer[ExtraInputInfo]
    vocabulary: _containers.RepeatedScalarFieldContainer[str]
    pad: int
    def __init__(self, name: _Optional[str] = ..., framework: _Optional[str] = ..., input_length: _Optional[int] = ..., output_names: _Optional[_Iterable[str]] = ..., output_shape: _Optional[_Iterable[int]] = ..., methods: _Optional[_Iterable[str]] = ..., fingerprint: _Optional[str] = ..., input: _Optional[str] = ..., input_shape: _Optional[_Iterable[int]] = ..., attention_layers: _Optional[_Iterable[str]] = ..., entity_levels: _Optional[_Iterable[str]] = ..., input_features: _Optional[_Iterable[str]] = ..., extra_inputs: _Optional[_Iterable[_Union[ExtraInputInfo, _Mapping]]] = ..., vocabulary: _Optional[_Iterable[str]] = ..., pad: _Optional[int] = ...) -> None: ...

class ExtraInputInfo(_message.Message):
    __slots__ = ("name", "shape", "kind")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    name: str
    shape: _containers.RepeatedScalarFieldContainer[int]
    kind: str
    def __init__(self, name: _Optional[str] = ..., shape: _Optional[_Iterable[int]] = ..., kind: _Optional[str] = ...) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("models", "fastas", "server_version", "max_sequences")
    MODELS_FIELD_NUMBER: _ClassVar[int]
    FASTAS_FIELD_NUMBER: _ClassVar[int]
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    MAX_SEQUENCES_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[ModelInfo]
    fastas: _containers.RepeatedScalarFieldContainer[str]
    server_version: str
    max_sequences: int
    def __init__(self, models: _Optional[_Iterable[_Union[ModelInfo, _Mapping]]] = ..., fastas: _Optional[_Iterable[str]] = ..., server_version: _Optional[str] = ..., max_sequences: _Optional[int] = ...) -> None: ...

class PredictRequest(_message.Message):
    __slots__ = ("model", "sequences")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SEQUENCES_FIELD_NUMBER: _ClassVar[int]
    model: str
    sequences: Sequences
    def __init__(self, model: _Optional[str] = ..., sequences: _Optional[_Union[Sequences, _Mapping]] = ...) -> None: ...

class PredictResponse(_message.Message):
    __slots__ = ("predictions", "output_names", "names", "intervals", "model_json")
    PREDICTIONS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_NAMES_FIELD_NUMBER: _ClassVar[int]
    NAMES_FIELD_NUMBER: _ClassVar[int]
    INTERVALS_FIELD_NUMBER: _ClassVar[int]
    MODEL_JSON_FIELD_NUMBER: _ClassVar[int]
    predictions: Array
    output_names: _containers.RepeatedScalarFieldContainer[str]
    names: _containers.RepeatedScalarFieldContainer[str]
    intervals: _containers.RepeatedCompositeFieldContainer[Interval]
    model_json: str
    def __init__(self, predictions: _Optional[_Union[Array, _Mapping]] = ..., output_names: _Optional[_Iterable[str]] = ..., names: _Optional[_Iterable[str]] = ..., intervals: _Optional[_Iterable[_Union[Interval, _Mapping]]] = ..., model_json: _Optional[str] = ...) -> None: ...

class ExplainRequest(_message.Message):
    __slots__ = ("model", "sequences", "features", "method", "options", "sample_names", "inputs")
    class OptionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Value, _Mapping]] = ...) -> None: ...
    class InputsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Array
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Array, _Mapping]] = ...) -> None: ...
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SEQUENCES_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_NAMES_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    model: str
    sequences: Sequences
    features: Array
    method: str
    options: _containers.MessageMap[str, Value]
    sample_names: _containers.RepeatedScalarFieldContainer[str]
    inputs: _containers.MessageMap[str, Array]
    def __init__(self, model: _Optional[str] = ..., sequences: _Optional[_Union[Sequences, _Mapping]] = ..., features: _Optional[_Union[Array, _Mapping]] = ..., method: _Optional[str] = ..., options: _Optional[_Mapping[str, Value]] = ..., sample_names: _Optional[_Iterable[str]] = ..., inputs: _Optional[_Mapping[str, Array]] = ...) -> None: ...

class ExplainResponse(_message.Message):
    __slots__ = ("scores", "method", "target_json", "predictions", "inputs", "settings_json", "delta", "hypothetical", "names", "intervals", "model_json", "extra_scores")
    class ExtraScoresEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Array
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Array, _Mapping]] = ...) -> None: ...
    SCORES_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    TARGET_JSON_FIELD_NUMBER: _ClassVar[int]
    PREDICTIONS_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_JSON_FIELD_NUMBER: _ClassVar[int]
    DELTA_FIELD_NUMBER: _ClassVar[int]
    HYPOTHETICAL_FIELD_NUMBER: _ClassVar[int]
    NAMES_FIELD_NUMBER: _ClassVar[int]
    INTERVALS_FIELD_NUMBER: _ClassVar[int]
    MODEL_JSON_FIELD_NUMBER: _ClassVar[int]
    EXTRA_SCORES_FIELD_NUMBER: _ClassVar[int]
    scores: Array
    method: str
    target_json: str
    predictions: Array
    inputs: Array
    settings_json: str
    delta: Array
    hypothetical: Array
    names: _containers.RepeatedScalarFieldContainer[str]
    intervals: _containers.RepeatedCompositeFieldContainer[Interval]
    model_json: str
    extra_scores: _containers.MessageMap[str, Array]
    def __init__(self, scores: _Optional[_Union[Array, _Mapping]] = ..., method: _Optional[str] = ..., target_json: _Optional[str] = ..., predictions: _Optional[_Union[Array, _Mapping]] = ..., inputs: _Optional[_Union[Array, _Mapping]] = ..., settings_json: _Optional[str] = ..., delta: _Optional[_Union[Array, _Mapping]] = ..., hypothetical: _Optional[_Union[Array, _Mapping]] = ..., names: _Optional[_Iterable[str]] = ..., intervals: _Optional[_Iterable[_Union[Interval, _Mapping]]] = ..., model_json: _Optional[str] = ..., extra_scores: _Optional[_Mapping[str, Array]] = ...) -> None: ...

class MotifsRequest(_message.Message):
    __slots__ = ("model", "sequences", "options")
    class OptionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Value, _Mapping]] = ...) -> None: ...
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SEQUENCES_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    model: str
    sequences: Sequences
    options: _containers.MessageMap[str, Value]
    def __init__(self, model: _Optional[str] = ..., sequences: _Optional[_Union[Sequences, _Mapping]] = ..., options: _Optional[_Mapping[str, Value]] = ...) -> None: ...

class MotifMatch(_message.Message):
    __slots__ = ("id", "name", "p_value", "q_value", "offset", "strand")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    P_VALUE_FIELD_NUMBER: _ClassVar[int]
    Q_VALUE_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    STRAND_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    p_value: float
    q_value: float
    offset: int
    strand: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., p_value: _Optional[float] = ..., q_value: _Optional[float] = ..., offset: _Optional[int] = ..., strand: _Optional[str] = ...) -> None: ...

class Motif(_message.Message):
    __slots__ = ("name", "pfm", "pwm", "information_content", "n_sites", "core_start", "core_end", "matches", "details_json")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PFM_FIELD_NUMBER: _ClassVar[int]
    PWM_FIELD_NUMBER: _ClassVar[int]
    INFORMATION_CONTENT_FIELD_NUMBER: _ClassVar[int]
    N_SITES_FIELD_NUMBER: _ClassVar[int]
    CORE_START_FIELD_NUMBER: _ClassVar[int]
    CORE_END_FIELD_NUMBER: _ClassVar[int]
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    DETAILS_JSON_FIELD_NUMBER: _ClassVar[int]
    name: str
    pfm: Array
    pwm: Array
    information_content: Array
    n_sites: int
    core_start: int
    core_end: int
    matches: _containers.RepeatedCompositeFieldContainer[MotifMatch]
    details_json: str
    def __init__(self, name: _Optional[str] = ..., pfm: _Optional[_Union[Array, _Mapping]] = ..., pwm: _Optional[_Union[Array, _Mapping]] = ..., information_content: _Optional[_Union[Array, _Mapping]] = ..., n_sites: _Optional[int] = ..., core_start: _Optional[int] = ..., core_end: _Optional[int] = ..., matches: _Optional[_Iterable[_Union[MotifMatch, _Mapping]]] = ..., details_json: _Optional[str] = ...) -> None: ...

class MotifsResponse(_message.Message):
    __slots__ = ("motifs", "method", "database_json", "settings_json", "model_json")
    MOTIFS_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    DATABASE_JSON_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_JSON_FIELD_NUMBER: _ClassVar[int]
    MODEL_JSON_FIELD_NUMBER: _ClassVar[int]
    motifs: _containers.RepeatedCompositeFieldContainer[Motif]
    method: str
    database_json: str
    settings_json: str
    model_json: str
    def __init__(self, motifs: _Optional[_Iterable[_Union[Motif, _Mapping]]] = ..., method: _Optional[str] = ..., database_json: _Optional[str] = ..., settings_json: _Optional[str] = ..., model_json: _Optional[str] = ...) -> None: ...

class DiagnoseRequest(_message.Message):
    __slots__ = ("model", "sequences", "checks", "options", "free_model")
    class OptionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Value, _Mapping]] = ...) -> None: ...
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SEQUENCES_FIELD_NUMBER: _ClassVar[int]
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    FREE_MODEL_FIELD_NUMBER: _ClassVar[int]
    model: str
    sequences: Sequences
    checks: _containers.RepeatedScalarFieldContainer[str]
    options: _containers.MessageMap[str, Value]
    free_model: str
    def __init__(self, model: _Optional[str] = ..., sequences: _Optional[_Union[Sequences, _Mapping]] = ..., checks: _Optional[_Iterable[str]] = ..., options: _Optional[_Mapping[str, Value]] = ..., free_model: _Optional[str] = ...) -> None: ...

class DiagnoseResponse(_message.Message):
    __slots__ = ("report_json",)
    REPORT_JSON_FIELD_NUMBER: _ClassVar[int]
    report_json: str
    def __init__(self, report_json: _Optional[str] = ...) -> None: ...

class ScoreVariantsRequest(_message.Message):
    __slots__ = ("settings", "records")
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    settings: VariantSettings
    records: VariantRecords
    def __init__(self, settings: _Optional[_Union[VariantSettings, _Mapping]] = ..., records: _Optional[_Union[VariantRecords, _Mapping]] = ...) -> None: ...

class VariantSettings(_message.Message):
    __slots__ = ("model", "fasta", "method", "options")
    class OptionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Value, _Mapping]] = ...) -> None: ...
    MODEL_FIELD_NUMBER: _ClassVar[int]
    FASTA_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    model: str
    fasta: str
    method: str
    options: _containers.MessageMap[str, Value]
    def __init__(self, model: _Optional[str] = ..., fasta: _Optional[str] = ..., method: _Optional[str] = ..., options: _Optional[_Mapping[str, Value]] = ...) -> None: ...

class VariantRecord(_message.Message):
    __slots__ = ("chrom", "pos", "id", "ref", "alts")
    CHROM_FIELD_NUMBER: _ClassVar[int]
    POS_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    REF_FIELD_NUMBER: _ClassVar[int]
    ALTS_FIELD_NUMBER: _ClassVar[int]
    chrom: str
    pos: int
    id: str
    ref: str
    alts: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, chrom: _Optional[str] = ..., pos: _Optional[int] = ..., id: _Optional[str] = ..., ref: _Optional[str] = ..., alts: _Optional[_Iterable[str]] = ...) -> None: ...

class VariantRecords(_message.Message):
    __slots__ = ("records",)
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[VariantRecord]
    def __init__(self, records: _Optional[_Iterable[_Union[VariantRecord, _Mapping]]] = ...) -> None: ...

class VariantEffect(_message.Message):
    __slots__ = ("chrom", "pos", "id", "ref", "alt", "record_index", "alt_index", "status", "outputs", "scores", "window_start", "alt_to_ref", "attribution", "motif_json")
    class ScoresEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Array
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Array, _Mapping]] = ...) -> None: ...
    class AttributionEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Array
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Array, _Mapping]] = ...) -> None: ...
    CHROM_FIELD_NUMBER: _ClassVar[int]
    POS_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    REF_FIELD_NUMBER: _ClassVar[int]
    ALT_FIELD_NUMBER: _ClassVar[int]
    RECORD_INDEX_FIELD_NUMBER: _ClassVar[int]
    ALT_INDEX_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    WINDOW_START_FIELD_NUMBER: _ClassVar[int]
    ALT_TO_REF_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    MOTIF_JSON_FIELD_NUMBER: _ClassVar[int]
    chrom: str
    pos: int
    id: str
    ref: str
    alt: str
    record_index: int
    alt_index: int
    status: str
    outputs: _containers.RepeatedScalarFieldContainer[str]
    scores: _containers.MessageMap[str, Array]
    window_start: int
    alt_to_ref: Array
    attribution: _containers.MessageMap[str, Array]
    motif_json: str
    def __init__(self, chrom: _Optional[str] = ..., pos: _Optional[int] = ..., id: _Optional[str] = ..., ref: _Optional[str] = ..., alt: _Optional[str] = ..., record_index: _Optional[int] = ..., alt_index: _Optional[int] = ..., status: _Optional[str] = ..., outputs: _Optional[_Iterable[str]] = ..., scores: _Optional[_Mapping[str, Array]] = ..., window_start: _Optional[int] = ..., alt_to_ref: _Optional[_Union[Array, _Mapping]] = ..., attribution: _Optional[_Mapping[str, Array]] = ..., motif_json: _Optional[str] = ...) -> None: ...

class ScoreVariantsResponse(_message.Message):
    __slots__ = ("effects",)
    EFFECTS_FIELD_NUMBER: _ClassVar[int]
    effects: _containers.RepeatedCompositeFieldContainer[VariantEffect]
    def __init__(self, effects: _Optional[_Iterable[_Union[VariantEffect, _Mapping]]] = ...) -> None: ...

class AttentionRequest(_message.Message):
    __slots__ = ("model", "sequences", "layers", "heads", "reduce", "query")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SEQUENCES_FIELD_NUMBER: _ClassVar[int]
    LAYERS_FIELD_NUMBER: _ClassVar[int]
    HEADS_FIELD_NUMBER: _ClassVar[int]
    REDUCE_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    model: str
    sequences: Sequences
    layers: Value
    heads: Value
    reduce: str
    query: Value
    def __init__(self, model: _Optional[str] = ..., sequences: _Optional[_Union[Sequences, _Mapping]] = ..., layers: _Optional[_Union[Value, _Mapping]] = ..., heads: _Optional[_Union[Value, _Mapping]] = ..., reduce: _Optional[str] = ..., query: _Optional[_Union[Value, _Mapping]] = ...) -> None: ...

class TokenPositions(_message.Message):
    __slots__ = ("spans", "centers", "source")
    SPANS_FIELD_NUMBER: _ClassVar[int]
    CENTERS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    spans: Array
    centers: Array
    source: str
    def __init__(self, spans: _Optional[_Union[Array, _Mapping]] = ..., centers: _Optional[_Union[Array, _Mapping]] = ..., source: _Optional[str] = ...) -> None: ...

class AttentionResponse(_message.Message):
    __slots__ = ("maps", "layers", "heads", "reduce", "reduced", "query", "query_positions", "key_positions", "predictions", "inputs", "names", "intervals", "settings_json", "model_json")
    MAPS_FIELD_NUMBER: _ClassVar[int]
    LAYERS_FIELD_NUMBER: _ClassVar[int]
    HEADS_FIELD_NUMBER: _ClassVar[int]
    REDUCE_FIELD_NUMBER: _ClassVar[int]
    REDUCED_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    QUERY_POSITIONS_FIELD_NUMBER: _ClassVar[int]
    KEY_POSITIONS_FIELD_NUMBER: _ClassVar[int]
    PREDICTIONS_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    NAMES_FIELD_NUMBER: _ClassVar[int]
    INTERVALS_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_JSON_FIELD_NUMBER: _ClassVar[int]
    MODEL_JSON_FIELD_NUMBER: _ClassVar[int]
    maps: Array
    layers: _containers.RepeatedScalarFieldContainer[str]
    heads: _containers.RepeatedScalarFieldContainer[int]
    reduce: str
    reduced: Array
    query: Array
    query_positions: TokenPositions
    key_positions: TokenPositions
    predictions: Array
    inputs: Array
    names: _containers.RepeatedScalarFieldContainer[str]
    intervals: _containers.RepeatedCompositeFieldContainer[Interval]
    settings_json: str
    model_json: str
    def __init__(self, maps: _Optional[_Union[Array, _Mapping]] = ..., layers: _Optional[_Iterable[str]] = ..., heads: _Optional[_Iterable[int]] = ..., reduce: _Optional[str] = ..., reduced: _Optional[_Union[Array, _Mapping]] = ..., query: _Optional[_Union[Array, _Mapping]] = ..., query_positions: _Optional[_Union[TokenPositions, _Mapping]] = ..., key_positions: _Optional[_Union[TokenPositions, _Mapping]] = ..., predictions: _Optional[_Union[Array, _Mapping]] = ..., inputs: _Optional[_Union[Array, _Mapping]] = ..., names: _Optional[_Iterable[str]] = ..., intervals: _Optional[_Iterable[_Union[Interval, _Mapping]]] = ..., settings_json: _Optional[str] = ..., model_json: _Optional[str] = ...) -> None: ...

class EntitiesRequest(_message.Message):
    __slots__ = ("model", "features", "sequences", "sample_names", "level", "method", "options")
    class OptionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Value, _Mapping]] = ...) -> None: ...
    MODEL_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    SEQUENCES_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_NAMES_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    model: str
    features: Array
    sequences: Sequences
    sample_names: _containers.RepeatedScalarFieldContainer[str]
    level: str
    method: str
    options: _containers.MessageMap[str, Value]
    def __init__(self, model: _Optional[str] = ..., features: _Optional[_Union[Array, _Mapping]] = ..., sequences: _Optional[_Union[Sequences, _Mapping]] = ..., sample_names: _Optional[_Iterable[str]] = ..., level: _Optional[str] = ..., method: _Optional[str] = ..., options: _Optional[_Mapping[str, Value]] = ...) -> None: ...

class EntitiesResponse(_message.Message):
    __slots__ = ("level", "layer", "method", "entities", "scores", "target_json", "predictions", "samples", "delta", "settings_json", "model_json")
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    LAYER_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    ENTITIES_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    TARGET_JSON_FIELD_NUMBER: _ClassVar[int]
    PREDICTIONS_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    DELTA_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_JSON_FIELD_NUMBER: _ClassVar[int]
    MODEL_JSON_FIELD_NUMBER: _ClassVar[int]
    level: str
    layer: str
    method: str
    entities: _containers.RepeatedScalarFieldContainer[str]
    scores: Array
    target_json: str
    predictions: Array
    samples: _containers.RepeatedScalarFieldContainer[str]
    delta: Array
    settings_json: str
    model_json: str
    def __init__(self, level: _Optional[str] = ..., layer: _Optional[str] = ..., method: _Optional[str] = ..., entities: _Optional[_Iterable[str]] = ..., scores: _Optional[_Union[Array, _Mapping]] = ..., target_json: _Optional[str] = ..., predictions: _Optional[_Union[Array, _Mapping]] = ..., samples: _Optional[_Iterable[str]] = ..., delta: _Optional[_Union[Array, _Mapping]] = ..., settings_json: _Optional[str] = ..., model_json: _Optional[str] = ...) -> None: ...

class ScreenRequest(_message.Message):
    __slots__ = ("model", "sequences", "insert", "genome", "options", "inputs")
    class OptionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Value, _Mapping]] = ...) -> None: ...
    class InputsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Array
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Array, _Mapping]] = ...) -> None: ...
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SEQUENCES_FIELD_NUMBER: _ClassVar[int]
    INSERT_FIELD_NUMBER: _ClassVar[int]
    GENOME_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    model: str
    sequences: Sequences
    insert: str
    genome: str
    options: _containers.MessageMap[str, Value]
    inputs: _containers.MessageMap[str, Array]
    def __init__(self, model: _Optional[str] = ..., sequences: _Optional[_Union[Sequences, _Mapping]] = ..., insert: _Optional[str] = ..., genome: _Optional[str] = ..., options: _Optional[_Mapping[str, Value]] = ..., inputs: _Optional[_Mapping[str, Array]] = ...) -> None: ...

class ScreenResponse(_message.Message):
    __slots__ = ("effects", "perturbed", "starts", "ends", "reference", "perturbation", "target_json", "predictions", "names", "intervals", "settings_json", "model_json")
    EFFECTS_FIELD_NUMBER: _ClassVar[int]
    PERTURBED_FIELD_NUMBER: _ClassVar[int]
    STARTS_FIELD_NUMBER: _ClassVar[int]
    ENDS_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    PERTURBATION_FIELD_NUMBER: _ClassVar[int]
    TARGET_JSON_FIELD_NUMBER: _ClassVar[int]
    PREDICTIONS_FIELD_NUMBER: _ClassVar[int]
    NAMES_FIELD_NUMBER: _ClassVar[int]
    INTERVALS_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_JSON_FIELD_NUMBER: _ClassVar[int]
    MODEL_JSON_FIELD_NUMBER: _ClassVar[int]
    effects: Array
    perturbed: Array
    starts: Array
    ends: Array
    reference: Array
    perturbation: str
    target_json: str
    predictions: Array
    names: _containers.RepeatedScalarFieldContainer[str]
    intervals: _containers.RepeatedCompositeFieldContainer[Interval]
    settings_json: str
    model_json: str
    def __init__(self, effects: _Optional[_Union[Array, _Mapping]] = ..., perturbed: _Optional[_Union[Array, _Mapping]] = ..., starts: _Optional[_Union[Array, _Mapping]] = ..., ends: _Optional[_Union[Array, _Mapping]] = ..., reference: _Optional[_Union[Array, _Mapping]] = ..., perturbation: _Optional[str] = ..., target_json: _Optional[str] = ..., predictions: _Optional[_Union[Array, _Mapping]] = ..., names: _Optional[_Iterable[str]] = ..., intervals: _Optional[_Iterable[_Union[Interval, _Mapping]]] = ..., settings_json: _Optional[str] = ..., model_json: _Optional[str] = ...) -> None: ...

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
