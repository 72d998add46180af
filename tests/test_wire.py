"""The codec between results and kipoi_explain.v1 messages, without a server."""
import numpy as np
import pytest

import kipoi_explain as kx
from kipoi_explain import wire
from kipoi_explain.v1 import explain_pb2 as pb

from conftest import EXAMPLE_DIR, random_onehot


@pytest.mark.parametrize("dtype, values", [
    ("float32", np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 7),
    ("int64", np.array([-1, 0, 248_956_421, 2 ** 40])),
    ("uint8", np.eye(4, dtype=np.uint8)[[0, 3, 2]]),
])
def test_array_round_trip_keeps_values_and_shape(dtype, values):
    back = wire.from_array(wire.to_array(values, dtype))
    assert back.dtype == np.dtype(dtype) and back.shape == values.shape
    np.testing.assert_array_equal(back, values)


def test_scalars_stay_scalars():
    back = wire.from_array(wire.to_array(np.float32(2.5)))
    assert back.shape == () and back == 2.5


def test_genome_positions_survive_where_float32_would_round():
    position = np.array([248_956_421])
    assert np.float32(position[0]) != position[0]
    assert wire.from_array(wire.to_array(position, "int64"))[0] == position[0]


def test_array_with_wrong_byte_count_is_named():
    message = pb.Array(shape=[2, 4], data=b"\0" * 12)
    with pytest.raises(kx.InputError, match=r"sequences.onehot: 12 bytes, expected 32"):
        wire.from_array(message, "sequences.onehot")
    with pytest.raises(kx.InputError, match="dtype 'float16'"):
        wire.from_array(pb.Array(shape=[1], data=b"\0\0", dtype="float16"))


@pytest.mark.parametrize("value", [None, True, 3, -2.5, "CTCF", [0, "HNF4A"], (1, 5),
                                   {"redundancy": {"correlation": 0.8}, "seed": 1}])
def test_values_round_trip(value):
    back = wire.from_value(wire.to_value(value))
    assert back == (list(value) if isinstance(value, tuple) else value)
    assert type(back) is type(list(value) if isinstance(value, tuple) else value)


def test_array_values_and_unsendable_values():
    baseline = random_onehot(1, 10)[0]
    np.testing.assert_array_equal(wire.from_value(wire.to_value(baseline)), baseline)
    with pytest.raises(kx.InputError, match="cannot be sent"):
        wire.to_value(object())


def test_sequences_decode_as_the_library_reads_them():
    strings = ["ACGTN" * 4, "TTTTACGTAC" * 2]
    message = wire.to_sequences(strings, "zeros", ["a", "b"])
    seqs = wire.from_sequences(message, 20, {})
    expected = kx.from_strings(strings, ["a", "b"], "zeros")
    np.testing.assert_array_equal(seqs.onehot, expected.onehot)
    assert seqs.names == ["a", "b"]


def test_sequence_errors_name_the_record():
    with pytest.raises(kx.InputError, match=r"'bad'"):
        wire.from_sequences(wire.to_sequences(["ACGT", "ACXT"], names=["ok", "bad"]), 4, {})
    with pytest.raises(kx.InputError, match="length 4, expected the model's input length 5"):
        wire.from_sequences(wire.to_sequences(["ACGT"]), 5, {})
    with pytest.raises(kx.InputError, match="2 names for 1 sequences"):
        wire.from_sequences(wire.to_sequences(["ACGT"], names=["a", "b"]), 4, {})
    with pytest.raises(kx.InputError, match="none given"):
        wire.from_sequences(pb.Sequences(), 4, {})


def test_intervals_resolve_only_against_configured_fastas():
    fasta = str(EXAMPLE_DIR / "data" / "genome.fa")
    intervals = [kx.Interval("chr1", 1000, 1010, "r1")]
    message = wire.genome_intervals("genome", intervals)
    seqs = wire.from_sequences(message, 200, {"genome": fasta})
    expected = kx.from_bed(intervals, fasta, 200)
    np.testing.assert_array_equal(seqs.onehot, expected.onehot)
    assert seqs.intervals == expected.intervals
    with pytest.raises(kx.InputError, match="'genome': not a FASTA of this server"):
        wire.from_sequences(message, 200, {"hg38": fasta})


def test_attribution_round_trip(example_regions):
    model = kx.load_model(str(EXAMPLE_DIR / "models" / "pytorch_cnn"))
    result = kx.explain(model, example_regions[:3], "deepshap", target="CTCF", n_references=3)
    back = wire.from_attribution_response(wire.attribution_response(result))
    for name in ("scores", "hypothetical", "delta", "predictions", "inputs"):
        np.testing.assert_array_equal(getattr(back, name), getattr(result, name))
    assert back.target == result.target and back.names == result.names
    assert back.model["fingerprint"] == result.model["fingerprint"]
    assert back.settings["n_references"] == 3 and back.intervals is None


def test_diagnosis_round_trip():
    diagnosis = kx.Diagnosis({"name": "m"}, [kx.Finding(
        "filter_scaling", "warning", np.float32(4.5), 3.0, {"layer": "conv", "filters": [2]},
        "retrain", "one filter", {"z": np.array([0.1, np.nan])})], {"x": [1]}, {"seed": 0})
    back = wire.from_diagnosis_response(wire.diagnosis_response(diagnosis))
    assert back.as_dict() == diagnosis.as_dict()
    assert back.flagged("filter_scaling")[0].where == {"layer": "conv", "filters": [2]}
