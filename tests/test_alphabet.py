"""DNA strings <-> one-hot: encoding rules, IUPAC codes, errors, reverse complement."""
import numpy as np
import pytest

import kipoi_explain as kx
from kipoi_explain.sequences.alphabet import decode, one_hot, reverse_complement

A, C, G, T = np.eye(4, dtype=np.float32)


def test_one_hot_rows_and_dtype():
    x = one_hot(["ACGT", "TTGA"])
    assert x.shape == (2, 4, 4) and x.dtype == np.float32
    np.testing.assert_array_equal(x[0], np.stack([A, C, G, T]))
    np.testing.assert_array_equal(x[1], np.stack([T, T, G, A]))


def test_decode_round_trip():
    rng = np.random.default_rng(1)
    seqs = ["".join(rng.choice(list("ACGT"), 37)) for _ in range(6)]
    assert decode(one_hot(seqs)) == seqs


def test_decode_marks_non_single_base_rows_as_n():
    assert decode(one_hot(["ANRC"])) == ["ANNC"]
    assert decode(one_hot(["ANC"], ambiguous="zeros")) == ["ANC"]


def test_lower_case_equals_upper_case():
    np.testing.assert_array_equal(one_hot(["acgtnr"]), one_hot(["ACGTNR"]))
    assert decode(one_hot(["acgt"])) == ["ACGT"]


def test_iupac_uniform():
    x = one_hot(["NRYSWKMBDHV"], ambiguous="uniform")[0]
    np.testing.assert_array_equal(x[0], [0.25, 0.25, 0.25, 0.25])   # N
    np.testing.assert_array_equal(x[1], [0.5, 0, 0.5, 0])           # R = A/G
    np.testing.assert_array_equal(x[2], [0, 0.5, 0, 0.5])           # Y = C/T
    np.testing.assert_allclose(x[7], [0, 1 / 3, 1 / 3, 1 / 3])      # B = C/G/T
    np.testing.assert_allclose(x.sum(-1), 1.0, rtol=1e-6)


def test_uniform_is_the_default():
    np.testing.assert_array_equal(one_hot(["N"]), [[[0.25] * 4]])


def test_iupac_zeros():
    x = one_hot(["ANRT"], ambiguous="zeros")[0]
    np.testing.assert_array_equal(x, np.stack([A, np.zeros(4), np.zeros(4), T]))


def test_iupac_error_names_record_and_position():
    with pytest.raises(kx.InputError) as err:
        one_hot(["ACGT", "ACNT"], names=["first", "second"], ambiguous="error")
    message = str(err.value)
    assert "'second'" in message and "position 2" in message and "'N'" in message
    # A and C and G and T still encode under "error"
    np.testing.assert_array_equal(one_hot(["ACGT"], ambiguous="error")[0], np.eye(4))


def test_unknown_ambiguous_rule():
    with pytest.raises(kx.InputError, match="ambiguous"):
        one_hot(["ACGT"], ambiguous="drop")


@pytest.mark.parametrize("bad, position", [("ACXT", 2), ("AC-T", 2), ("ACGU", 3), ("éCGT", 0)])
def test_bad_character_names_record_and_position(bad, position):
    with pytest.raises(kx.InputError) as err:
        one_hot(["ACGT", "GGGG", bad], names=["r1", "r2", "chr7_peak"])
    message = str(err.value)
    assert "'chr7_peak'" in message
    assert f"position {position}" in message
    assert repr(bad[position]) in message


def test_bad_character_default_names():
    with pytest.raises(kx.InputError, match=r"'seq1', position 0"):
        one_hot(["ACGT", "ZCGT"])


def test_unequal_lengths():
    with pytest.raises(kx.InputError) as err:
        one_hot(["ACGT", "ACG"], names=["a", "b"])
    message = str(err.value)
    assert "'b'" in message and "length 3" in message and "4" in message


def test_from_strings_unequal_lengths():
    with pytest.raises(kx.InputError, match="length"):
        kx.from_strings(["ACGT", "ACGTA"])


def test_reverse_complement_of_one_hot_matches_string():
    def rc(s):
        return s[::-1].translate(str.maketrans("ACGTRYKMBV", "TGCAYRMKVB"))

    seqs = ["AACGTTGCAN", "RYKMBVACGT", "GGGGGCCCAT"]
    np.testing.assert_array_equal(reverse_complement(one_hot(seqs)),
                                  one_hot([rc(s) for s in seqs]))
    assert decode(reverse_complement(one_hot(["AACG"]))) == ["CGTT"]


def test_reverse_complement_is_an_involution_on_scores():
    scores = np.random.default_rng(0).normal(size=(2, 9, 4)).astype(np.float32)
    np.testing.assert_array_equal(reverse_complement(reverse_complement(scores)), scores)
    # position i, base b  <->  position L-1-i, complement of b (A<->T, C<->G)
    rc = reverse_complement(scores)
    assert rc[1, 0, 0] == scores[1, 8, 3] and rc[0, 2, 1] == scores[0, 6, 2]


def test_as_sequences_from_array_checks_shape_and_values():
    from kipoi_explain.sequences import as_sequences

    result = as_sequences(one_hot(["ACGT"])[0])            # (L, 4) gets a batch axis
    assert result.onehot.shape == (1, 4, 4) and result.names == ["seq0"]
    with pytest.raises(kx.InputError, match="shape"):
        as_sequences(np.zeros((2, 4, 5)))
    bad = np.zeros((3, 4, 4), dtype=np.float32)
    bad[2, 1, 1] = np.nan
    with pytest.raises(kx.InputError, match="'seq2'"):
        as_sequences(bad)
    with pytest.raises(kx.InputError, match="length 4, expected the model's input length 5"):
        as_sequences(["ACGT"], length=5)
