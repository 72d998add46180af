"""``kipoi-explain attention`` in-process, on the untrained conv + transformer Kipoi model of
``conftest.make_tiny_transformer`` (the command's files must equal the library's result,
whatever the model learnt)."""

import h5py
import numpy as np
import pytest

import kipoi_explain as kx
from conftest import EXAMPLE_DIR, LENGTH, make_tiny_transformer
from kipoi_explain.cli.main import main
from kipoi_explain.writers import read_attention_hdf5, write_attention_hdf5

LAYERS = ["block1.self_attn", "block2.self_attn"]
GENOME = EXAMPLE_DIR / "data" / "genome.fa"
#: Two intervals of the input length and two the reader centre-resizes to it, on both contigs
#: of the example genome and both strands.
BED = ("chr1\t100\t200\ta\t0\t+\nchr1\t300\t420\tb\t0\t-\n"
       "chr2\t500\t560\tc\t0\t+\nchr2\t700\t800\td\t0\t-\n")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The tiny transformer's Kipoi model directory, a FASTA of 6 sequences, and a BED of 4
    intervals of the example genome (two on the - strand)."""
    root = tmp_path_factory.mktemp("attention")
    model_dir = make_tiny_transformer(root / "tiny_transformer", seed=0)
    rng = np.random.default_rng(7)
    sequences = root / "seqs.fa"
    sequences.write_text("".join(f">s{i}\n{''.join(rng.choice(list('ACGT'), LENGTH))}\n"
                                 for i in range(6)))
    bed = root / "regions.bed"
    bed.write_text(BED)
    return {"model": model_dir, "sequences": sequences, "genome": GENOME, "bed": bed}


@pytest.fixture(scope="module")
def model(files):
    return kx.load_model(files["model"])


def run(capsys, *args):
    status = main(["attention", *map(str, args)])
    out, err = capsys.readouterr()
    return status, out, err


def assert_same(read, expected):
    """Every array and field of two AttentionMaps is identical."""
    for name in ("maps", "reduced", "predictions", "inputs"):
        np.testing.assert_array_equal(getattr(read, name), getattr(expected, name), err_msg=name)
    assert read.maps.dtype == np.float32
    for name in ("query_positions", "key_positions"):
        np.testing.assert_array_equal(getattr(read, name).spans, getattr(expected, name).spans)
        np.testing.assert_array_equal(getattr(read, name).centers,
                                      getattr(expected, name).centers)
        assert getattr(read, name).source == getattr(expected, name).source
    assert (read.layers, read.heads, read.reduce, read.names) == \
        (expected.layers, expected.heads, expected.reduce, expected.names)
    assert read.settings == expected.settings
    assert read.model["fingerprint"] == expected.model["fingerprint"]
    if expected.query is None:
        assert read.query is None
    else:
        np.testing.assert_array_equal(read.query, expected.query)


def assert_png(path):
    from PIL import Image

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert min(image.size) > 200


def test_writes_the_library_maps_and_a_heat_map(files, model, tmp_path, capsys):
    out = tmp_path / "maps" / "attention.h5"
    status, stdout, _ = run(capsys, files["model"], "--sequences", files["sequences"],
                            "--no-progress", "-o", out)
    assert status == 0
    expected = kx.attention(model, str(files["sequences"]))
    read = read_attention_hdf5(out)
    assert_same(read, expected)
    assert read.maps.shape == (6, 2, 2, 10, 10) and read.layers == LAYERS
    assert read.intervals is None
    assert_png(out.with_suffix(".png"))
    assert stdout.splitlines()[0].startswith(
        "attention of 6 sequences of 'tiny_transformer': 2 layer(s) x 2 head(s), "
        "10 queries x 10 keys (reduce none; tokens by receptive field of block1.self_attn)")
    assert f"  wrote {out}" in stdout and f"  wrote {out.with_suffix('.png')}" in stdout


def test_query_row_of_a_rollout_over_chosen_layers_and_heads(files, model, tmp_path, capsys):
    out = tmp_path / "rollout.h5"
    status, stdout, _ = run(capsys, files["model"], "--sequences", files["sequences"],
                            "--layers", "1,block1.self_attn", "--heads", "1",
                            "--reduce", "rollout", "--query", 50, "--plot-sequences", 2,
                            "--no-progress", "-o", out)
    assert status == 0
    expected = kx.attention(model, str(files["sequences"]), layers=[1, LAYERS[0]],
                            heads=[1], reduce="rollout", query=50)
    read = read_attention_hdf5(out)
    assert_same(read, expected)
    # Layers in forward order whatever order they were named in; one row per sequence.
    assert read.layers == LAYERS and read.heads == [1]
    assert read.reduced.shape == (6, 10)
    np.testing.assert_allclose(read.reduced.sum(axis=1), 1, rtol=1e-5)
    # The query token is the one centred nearest base 50, and its span covers that base.
    centers = read.query_positions.centers
    nearest = np.argmin(np.abs(centers - 50))
    assert read.query.tolist() == [nearest] * 6
    start, end = read.query_positions.spans[nearest]
    assert start <= 50 < end
    assert "row of the query at base 50" in stdout
    assert_png(out.with_suffix(".png"))


def test_bed_input_stores_intervals_and_genome_spans_of_tokens(files, model, genome, tmp_path,
                                                               capsys):
    out = tmp_path / "bed.h5"
    status, _, _ = run(capsys, files["model"], "--bed", files["bed"], "--fasta",
                       files["genome"], "--use-strand", "--reduce", "heads", "--no-plot",
                       "--no-progress", "-o", out)
    assert status == 0
    assert not out.with_suffix(".png").exists()
    read = read_attention_hdf5(out)
    expected = kx.attention(model, kx.from_bed(files["bed"], files["genome"], LENGTH,
                                               use_strand=True), reduce="heads")
    assert_same(read, expected)
    assert [str(i) for i in read.intervals] == ["chr1:100-200", "chr1:310-410",
                                                "chr2:480-580", "chr2:700-800"]
    assert [i.reverse for i in read.intervals] == [False, True, False, True]
    # The model saw the genome's bases: as read on + intervals, reverse-complemented on -.
    onehot = {base: row for base, row in zip("ACGT", np.eye(4, dtype=np.float32))}
    for i, (contig, start, reverse) in enumerate([("chr1", 100, False), ("chr1", 310, True),
                                                  ("chr2", 480, False), ("chr2", 700, True)]):
        bases = np.stack([onehot[b] for b in genome[contig][start:start + LENGTH]])
        np.testing.assert_array_equal(read.inputs[i], bases[::-1, ::-1] if reverse else bases)
    assert read.reduced.shape == (4, 2, 10, 10)
    spans = read.key_positions.spans
    with h5py.File(out) as store:
        keys, queries = store["genome_spans/keys"][()], store["genome_spans/queries"][()]
    assert keys.shape == queries.shape == (4, 10, 2)
    # + strand: the interval start plus the span; - strand: mirrored from the interval end.
    np.testing.assert_array_equal(keys[0], 100 + spans)
    np.testing.assert_array_equal(keys[1], 410 - spans[:, ::-1])
    np.testing.assert_array_equal(keys[2], 480 + spans)
    np.testing.assert_array_equal(keys[3], 800 - spans[:, ::-1])
    for i in range(4):
        np.testing.assert_array_equal(queries[i], read.genome_spans(i, keys=False))


def test_round_trip_keeps_a_per_layer_query_row(files, model, tmp_path):
    result = kx.attention(model, str(files["sequences"]), layers=[0], reduce="layers",
                          query=np.arange(6) * 10)
    read = read_attention_hdf5(write_attention_hdf5(result, tmp_path / "r.h5"))
    assert_same(read, result)
    assert read.reduced.shape == (6, 2, 10)
    assert read.settings["query"] == [0, 10, 20, 30, 40, 50]


def test_reading_another_file_is_refused(tmp_path):
    with h5py.File(tmp_path / "other.h5", "w") as store:
        store["scores"] = np.zeros(3)
    with pytest.raises(ValueError, match="not an attention map file"):
        read_attention_hdf5(tmp_path / "other.h5")


@pytest.mark.parametrize("args, message", [
    (["--layers", "nope"], "'nope': not an attention layer; attention layers are "
                           "block1.self_attn, block2.self_attn"),
    (["--layers", "5"], "attention layer index 5: the model has 2 attention layers"),
    (["--heads", "0,x"], "--heads '0,x': expected comma-separated head indices"),
    (["--heads", "2"], "heads=[2]: expected indices 0 to 1"),
    (["--query", "100"], "query position 100 of sequence 0: outside the input (0 to 99)"),
    (["--plot-sequences", "0"], "--plot-sequences 0: expected at least 1"),
])
def test_bad_options_are_one_line_errors(files, tmp_path, capsys, args, message):
    out = tmp_path / "x.h5"
    status, _, err = run(capsys, files["model"], "--sequences", files["sequences"], *args,
                         "--no-progress", "-o", out)
    assert status == 2
    assert message in err
    assert err.startswith("kipoi-explain attention: error: ") and err.count("\n") == 1
    assert not out.exists()


def test_a_model_of_features_is_refused(tmp_path, capsys, files):
    from pathlib import Path

    gennet = Path(__file__).resolve().parents[1] / "examples" / "models" / "gennet"
    status, _, err = run(capsys, gennet, "--sequences", files["sequences"], "-o",
                         tmp_path / "x.h5")
    assert status == 2
    assert "attention maps needs a model of one-hot DNA; model 'gennet' takes features" in err


def test_unknown_reduction_is_an_argparse_error(files, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        run(capsys, files["model"], "--sequences", files["sequences"], "--reduce", "max",
            "-o", tmp_path / "x.h5")
    assert exit_.value.code == 2
    assert "invalid choice: 'max'" in capsys.readouterr().err
