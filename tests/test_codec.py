"""The codec between the library's values and kipoi_explain.v2 messages, without a server."""
import numpy as np
import pytest

import kipoi_explain as kx
from kipoi_explain import codec
from kipoi_explain.v2 import explain_pb2 as pb

from conftest import EXAMPLE_DIR, random_onehot


@pytest.mark.parametrize("dtype, values", [
    ("float32", np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 7),
    ("int64", np.array([-1, 0, 248_956_421, 2 ** 40])),
    ("uint8", np.eye(4, dtype=np.uint8)[[0, 3, 2]]),
])
def test_array_round_trip_keeps_values_and_shape(dtype, values):
    back = codec.from_array(codec.to_array(values, dtype))
    assert back.dtype == np.dtype(dtype) and back.shape == values.shape
    np.testing.assert_array_equal(back, values)


def test_scalars_stay_scalars():
    back = codec.from_array(codec.to_array(np.float32(2.5)))
    assert back.shape == () and back == 2.5


def test_genome_positions_survive_where_float32_would_round():
    position = np.array([248_956_421])
    assert np.float32(position[0]) != position[0]
    assert codec.from_array(codec.to_array(position, "int64"))[0] == position[0]


def test_array_with_wrong_byte_count_is_named():
    message = pb.Array(shape=[2, 4], data=b"\0" * 12)
    with pytest.raises(kx.InputError, match=r"sequences.onehot: 12 bytes, expected 32"):
        codec.from_array(message, "sequences.onehot")
    with pytest.raises(kx.InputError, match="dtype 'float16'"):
        codec.from_array(pb.Array(shape=[1], data=b"\0\0", dtype="float16"))


@pytest.mark.parametrize("value", [None, True, 3, -2.5, "CTCF", [0, "HNF4A"], (1, 5),
                                   {"redundancy": {"correlation": 0.8}, "seed": 1}])
def test_values_round_trip(value):
    back = codec.decode(codec.encode(value))
    assert back == (list(value) if isinstance(value, tuple) else value)
    assert type(back) is type(list(value) if isinstance(value, tuple) else value)


def test_array_values_and_unsendable_values():
    baseline = random_onehot(1, 10)[0]
    np.testing.assert_array_equal(codec.decode(codec.encode(baseline)), baseline)
    with pytest.raises(kx.InputError, match="cannot be sent"):
        codec.encode(object())


def test_sequences_decode_as_the_library_reads_them():
    strings = ["ACGTN" * 4, "TTTTACGTAC" * 2]
    message = codec.to_samples(strings, ["a", "b"])
    seqs = codec.from_samples(message, 20, {}, "zeros")
    expected = kx.from_strings(strings, ["a", "b"], "zeros")
    np.testing.assert_array_equal(seqs.onehot, expected.onehot)
    assert seqs.names == ["a", "b"]


def test_sequence_errors_name_the_record():
    with pytest.raises(kx.InputError, match=r"'bad'"):
        codec.from_samples(codec.to_samples(["ACGT", "ACXT"], names=["ok", "bad"]), 4, {})
    with pytest.raises(kx.InputError, match="length 4, expected the model's input length 5"):
        codec.from_samples(codec.to_samples(["ACGT"]), 5, {})
    with pytest.raises(kx.InputError, match="2 names for 1 sequences"):
        codec.from_samples(codec.to_samples(["ACGT"], names=["a", "b"]), 4, {})
    with pytest.raises(kx.InputError, match="none given"):
        codec.from_samples(pb.Samples(), 4, {})


def test_intervals_resolve_only_against_configured_fastas():
    fasta = str(EXAMPLE_DIR / "data" / "genome.fa")
    intervals = [kx.Interval("chr1", 1000, 1010, "r1")]
    message = codec.genome_intervals("genome", intervals)
    seqs = codec.from_samples(message, 200, {"genome": fasta})
    expected = kx.from_bed(intervals, fasta, 200)
    np.testing.assert_array_equal(seqs.onehot, expected.onehot)
    assert seqs.intervals == expected.intervals
    with pytest.raises(kx.InputError, match="'genome': not a FASTA of this server"):
        codec.from_samples(message, 200, {"hg38": fasta})


def test_attribution_round_trip(example_regions):
    model = kx.load_model(str(EXAMPLE_DIR / "models" / "pytorch_cnn"))
    result = kx.explain(model, example_regions[:3], "deepshap", target="CTCF", n_references=3)
    back = codec.decode(codec.encode(result))
    for name in ("scores", "hypothetical", "delta", "predictions", "inputs"):
        np.testing.assert_array_equal(getattr(back, name), getattr(result, name))
    assert back.target == result.target and back.names == result.names
    assert back.model["fingerprint"] == result.model["fingerprint"]
    assert back.settings["n_references"] == 3 and back.intervals is None


def test_diagnosis_round_trip():
    diagnosis = kx.Diagnosis({"name": "m"}, [kx.Finding(
        "filter_scaling", "warning", np.float32(4.5), 3.0, {"layer": "conv", "filters": [2]},
        "retrain", "one filter", {"z": np.array([0.1, np.nan])})], {"x": [1]}, {"seed": 0})
    back = codec.decode(codec.encode(diagnosis))
    assert back.as_dict() == diagnosis.as_dict()
    assert back.flagged("filter_scaling")[0].where == {"layer": "conv", "filters": [2]}


def test_records_carry_every_result_type_and_nothing_else():
    interval = kx.Interval("chr2", 5, 15, "x", "-", True)
    assert codec.decode(codec.encode(interval)) == interval
    layout = kx.TokenLayout(3, ("<pad>", "a", "b"), 0)
    assert codec.decode(codec.encode(layout)) == layout        # tuples come back as tuples
    forged = pb.Value(record=pb.Record(type="Popen", fields=codec.encode_entries({})))
    with pytest.raises(kx.InputError, match="record type 'Popen' is not a result"):
        codec.decode(forged, "result")
    wrong = pb.Value(record=pb.Record(type="Interval", fields=codec.encode_entries(
        {"chrom": "chr1", "start": 1, "end": 2, "color": "red"})))
    with pytest.raises(kx.InputError, match="Interval has no field.*color"):
        codec.decode(wrong, "result")


def test_metadata_travels_as_the_json_the_writers_store():
    result = kx.Prediction(np.zeros((1, 2), np.float32), ["a", "b"], ["s"],
                           settings={"baseline": np.ones(2), "bins": (1, 3)})
    back = codec.decode(codec.encode(result))
    assert back.settings == {"baseline": [1.0, 1.0], "bins": [1, 3]}
    assert back.predictions.dtype == np.float32 and back.output_names == ["a", "b"]
