"""Inputs that are no DNA (kipoi_explain.sequences.features.read_features): tables, .npy files
and arrays, and the errors that name what is wrong."""
import gzip

import numpy as np
import pytest

import kipoi_explain as kx
from kipoi_explain.sequences.features import read_features

NAMES = ["rs1", "rs2", "rs3", "rs4"]
VALUES = np.array([[0, 1, 2, 1], [2, 2, 0, 0], [1, 0, 1, 2]], dtype=np.float32)
SAMPLES = ["S1", "S2", "S3"]


def write_table(path, columns, rows, sep="\t", first="sample"):
    """A table with header ``first`` + ``columns`` and one ``[name, values...]`` row each."""
    lines = [sep.join([first, *columns])] + [sep.join(map(str, row)) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def rows(values=VALUES, samples=SAMPLES):
    return [[name, *(f"{v:g}" for v in row)] for name, row in zip(samples, values)]


def test_table_columns_are_put_in_the_models_order(tmp_path):
    order = [2, 0, 3, 1]
    path = write_table(tmp_path / "g.tsv", [NAMES[i] for i in order], rows(VALUES[:, order]))
    x, samples = read_features(path, (4,), NAMES)
    assert x.dtype == np.float32 and x.flags.c_contiguous
    np.testing.assert_array_equal(x, VALUES)
    assert samples == SAMPLES
    # Without names, the file's own order is kept.
    unordered, _ = read_features(path, (4,))
    np.testing.assert_array_equal(unordered, VALUES[:, order])


@pytest.mark.parametrize("suffix, sep", [(".csv", ","), (".txt", "\t"), (".tsv.gz", "\t")])
def test_csv_txt_and_gzipped_tables(tmp_path, suffix, sep):
    path = write_table(tmp_path / "plain", NAMES, rows(), sep=sep)
    target = tmp_path / f"g{suffix}"
    if suffix.endswith(".gz"):
        target.write_bytes(gzip.compress(path.read_bytes()))
    else:
        path.rename(target)
    x, samples = read_features(target, (4,), NAMES)
    np.testing.assert_array_equal(x, VALUES)
    assert samples == SAMPLES


def test_sample_names_stay_strings(tmp_path):
    path = write_table(tmp_path / "g.tsv", NAMES, rows(samples=["001", "002", "3"]))
    assert read_features(path, (4,), NAMES)[1] == ["001", "002", "3"]


def test_missing_and_extra_columns_are_named(tmp_path):
    path = write_table(tmp_path / "g.tsv", ["rs1", "rs2", "rs9", "rs4"], rows())
    with pytest.raises(kx.InputError, match=r"g.tsv: columns must be the model's 4 input "
                                            r"features; missing: rs3; not features of the "
                                            r"model: rs9"):
        read_features(path, (4,), NAMES)
    path = write_table(tmp_path / "short.tsv", NAMES[:3], rows(VALUES[:, :3]))
    with pytest.raises(kx.InputError, match="missing: rs4$"):
        read_features(path, (4,), NAMES)
    path = write_table(tmp_path / "wide.tsv", [*NAMES, "rs5"],
                       rows(np.c_[VALUES, np.ones(3)]))
    with pytest.raises(kx.InputError, match="features; not features of the model: rs5$"):
        read_features(path, (4,), NAMES)


@pytest.mark.parametrize("cell, shown", [("x", "'x'"), ("", "''"), ("NaN", "'NaN'"),
                                         ("1,5", "'1,5'")])
def test_non_numeric_cells_name_sample_and_column(tmp_path, cell, shown):
    table = rows()
    table[1][3] = cell  # sample S2, third feature
    path = write_table(tmp_path / "g.tsv", NAMES, table)
    with pytest.raises(kx.InputError, match=rf"sample 'S2', column 'rs3': {shown} is not a "
                                            "number"):
        read_features(path, (4,), NAMES)


def test_duplicated_sample_names_are_named(tmp_path):
    path = write_table(tmp_path / "g.tsv", NAMES, rows(samples=["S1", "S2", "S1"]))
    with pytest.raises(kx.InputError, match="sample names repeated: S1"):
        read_features(path, (4,), NAMES)


def test_arrays_and_npy_files(tmp_path):
    x, samples = read_features(VALUES.astype(np.int64), (4,))
    assert x.dtype == np.float32 and samples == ["sample0", "sample1", "sample2"]
    np.testing.assert_array_equal(x, VALUES)
    one, names = read_features(VALUES[0], (4,))  # one sample without the batch axis
    assert one.shape == (1, 4) and names == ["sample0"]
    matrices = np.arange(24, dtype=np.float64).reshape(2, 3, 4)
    np.save(tmp_path / "m.npy", matrices)
    loaded, _ = read_features(tmp_path / "m.npy", (3, 4))
    np.testing.assert_array_equal(loaded, matrices)
    assert loaded.dtype == np.float32


@pytest.mark.parametrize("source, shape, message", [
    (np.zeros((3, 5)), (4,), r"the input array: samples of shape \(5,\) \(3 samples\); the "
                             r"model takes \(4,\)"),
    (np.zeros((0, 4)), (4,), r"\(0 samples\)"),
    (np.zeros((2, 4, 3)), (3, 4), r"samples of shape \(4, 3\)"),
    (np.array([["a", "b"]]), (2,), "values are not numbers"),
])
def test_shape_mismatch_and_non_numbers_in_arrays(source, shape, message):
    with pytest.raises(kx.InputError, match=message):
        read_features(source, shape)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_nan_and_infinite_values_name_the_sample(tmp_path, value):
    bad = VALUES.copy()
    bad[2, 1] = value
    with pytest.raises(kx.InputError, match="the input array: sample 'sample2' holds NaN or "
                                            "infinite values"):
        read_features(bad, (4,))
    np.save(tmp_path / "bad.npy", bad)
    with pytest.raises(kx.InputError, match="bad.npy: sample 'sample2' holds NaN"):
        read_features(tmp_path / "bad.npy", (4,))


def test_a_table_written_with_inf_names_the_sample(tmp_path):
    table = rows()
    table[0][2] = "inf"
    path = write_table(tmp_path / "g.tsv", NAMES, table)
    with pytest.raises(kx.InputError, match="sample 'S1' holds NaN or infinite values"):
        read_features(path, (4,), NAMES)


def test_npy_with_the_wrong_shape_names_the_file(tmp_path):
    np.save(tmp_path / "m.npy", np.zeros((2, 5), np.float32))
    with pytest.raises(kx.InputError, match=r"m.npy: samples of shape \(5,\) \(2 samples\)"):
        read_features(tmp_path / "m.npy", (4,))


def test_table_rows_of_the_wrong_length(tmp_path):
    path = write_table(tmp_path / "g.tsv", NAMES, rows())
    with pytest.raises(kx.InputError, match=r"samples of shape \(4,\) \(3 samples\); the model "
                                            r"takes \(5,\)"):
        read_features(path, (5,))
    with pytest.raises(kx.InputError, match=r"a table holds one row of features per sample; "
                                            r"the model takes samples of shape \(2, 2\)"):
        read_features(path, (2, 2))


@pytest.mark.parametrize("name, message", [
    ("absent.tsv", "feature file '.*absent.tsv' does not exist"),
    ("g.xlsx", r"g.xlsx': expected .npy, .tsv, .txt or .csv"),
])
def test_missing_files_and_unknown_suffixes(tmp_path, name, message):
    if name.endswith(".xlsx"):
        (tmp_path / name).write_text("x")
    with pytest.raises(kx.InputError, match=message):
        read_features(tmp_path / name, (4,))
    with pytest.raises(kx.InputError, match=message):
        read_features(str(tmp_path / name), (4,))


def test_gzipped_npy_is_refused_by_name(tmp_path):
    path = tmp_path / "x.npy.gz"
    path.write_bytes(gzip.compress(b"not read"))
    with pytest.raises(kx.InputError, match="gzipped .npy"):
        read_features(path, (3,))


@pytest.mark.parametrize("text, message", [
    ("", "empty file"),
    ("sample\ta\tb\nS1\t1\t2\t3\n", r"line 2 \(sample 'S1'\) has 4 fields; the header has 3"),
    ("sample\ta\tb\nS1\t1\t2\n\nS2\t1\n", r"line 4 \(sample 'S2'\) has 2 fields"),
])
def test_malformed_tables_name_the_line(tmp_path, text, message):
    path = tmp_path / "x.tsv"
    path.write_text(text)
    with pytest.raises(kx.InputError, match=message):
        read_features(path, (2,), ["a", "b"])
